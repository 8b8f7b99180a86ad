"""The assignment's notebooks: built from their sources, released without answers, graded by
nbgrader exactly as by `pytest autograder`, and runnable top to bottom.

  a. solutions/ and assignments/ are what scripts/build_notebooks.py makes of reference/,
     notebooks_src/ and grading.yml (the builder's checks are exercised on variants);
  b. the release has no solution code, no nbgrader markers, no hidden test;
  c. in a temporary nbgrader course, `nbgrader autograde` gives the solutions full marks, the
     release zero, and a partly correct submission (some stubs filled from the solutions, some
     wrong, one cell that does not parse, one function that writes to stderr and warns) the same
     points, item by item, as `pytest autograder --submission` on the same notebooks; experiment
     cells are skipped; the feedback shows no hidden test; `nbgrader export` writes the grades;
  d. every solution notebook runs top to bottom with its experiment cells at their default
     budgets (the autograded cells left out: c runs them) and draws its figures.

CPU only. c and d are slow (minutes): their processes all start together, in the background,
when the first of their tests needs them; the kernels run with OMP_NUM_THREADS=1 unless the
environment sets it (PyTorch's default thread pool is many times slower on a busy machine), and
with GAN_COURSE_QUICK=1, so that a GPU runner also runs the experiments at their small budgets.
"""
import html
import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from scripts import build_notebooks as bn  # noqa: E402
from autograder.rubric import hidden_ids  # noqa: E402

RUBRIC = bn.load_rubric()
ASSIGNMENT = RUBRIC["assignment"]
PARTS = RUBRIC["parts"]
SOLUTIONS = ROOT / bn.SOURCE_DIRECTORY / ASSIGNMENT
RELEASE = ROOT / bn.RELEASE_DIRECTORY / ASSIGNMENT
HIDDEN = hidden_ids(RUBRIC)
# A solution notebook, experiments included, on a CPU: about a minute alone on 2 cores (docs/ci.md);
# the limit leaves room for the other jobs of this file, which run at the same time.
NOTEBOOK_LIMIT_S = 300
STUDENTS = ("solution", "release", "partial")


def _read(path):
    return nbformat.read(path, as_version=4)


def _env(**extra):
    env = bn.nbgrader_env()
    env["PYTHONPATH"] = str(ROOT)
    env.setdefault("OMP_NUM_THREADS", "1")
    env["MPLBACKEND"] = "Agg"
    env["GAN_COURSE_QUICK"] = "1"  # the experiments' CPU budgets, on a GPU runner too
    env.update(extra)
    return env


def _test_cells(notebook):
    """{grade id: (rubric id, points)} of a notebook's autograded cells."""
    found = {}
    for cell in notebook.cells:
        if bn.is_test_cell(cell):
            (rubric_id,) = bn.rubric_ids_of_cell(cell.source)
            found[cell.metadata["nbgrader"]["grade_id"]] = (rubric_id, cell.metadata["nbgrader"]["points"])
    return found


GRADE_IDS = {gid: rid for part in PARTS for gid, (rid, _) in _test_cells(_read(SOLUTIONS / f"{part}.ipynb")).items()}


# --------------------------------------------------------------------------------------------
# a. in sync with the sources
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("part", PARTS)
def test_solutions_are_built_from_the_sources(part):
    fresh = bn.notebook_text(bn.build_notebook(part, RUBRIC))
    committed = (SOLUTIONS / f"{part}.ipynb").read_text(encoding="utf-8")
    assert fresh == committed, f"solutions/{ASSIGNMENT}/{part}.ipynb is stale: run scripts/build_notebooks.py --release"


def test_release_is_what_nbgrader_makes_of_the_solutions(tmp_path):
    """nbgrader's output is byte-stable (same checksums, same JSON), so the comparison is exact."""
    released = bn.generate_release(SOLUTIONS, tmp_path / "release", ASSIGNMENT)
    assert sorted(p.name for p in released) == sorted(p.name for p in RELEASE.glob("*.ipynb")) \
        == [f"{part}.ipynb" for part in sorted(PARTS)]
    for path in released:
        assert path.read_bytes() == (RELEASE / path.name).read_bytes(), \
            f"assignments/{ASSIGNMENT}/{path.name} is stale: run scripts/build_notebooks.py --release"


def test_every_reference_definition_and_rubric_item_is_placed_once():
    seen = {}
    for part in PARTS:
        notebook = _read(SOLUTIONS / f"{part}.ipynb")
        reference = bn.load_reference(ROOT / "reference" / f"{part}.py")
        code = "\n".join(c.source for c in notebook.cells if c.cell_type == "code")
        for name, source in reference.definitions.items():
            assert code.count(source) == 1, f"{part}: {name}"
        for gid, (rubric_id, points) in _test_cells(notebook).items():
            assert rubric_id not in seen and rubric_id.startswith(bn.part_prefix(part) + ".")
            seen[rubric_id] = points
            item = RUBRIC["checks"][rubric_id]
            assert points == item["points"]
            if rubric_id in HIDDEN:  # an opaque grade id, that the release shows
                assert re.fullmatch(rf"{bn.part_prefix(part)}-hidden-\d+", gid), gid
            else:
                assert gid == bn.grade_id(rubric_id)
    assert seen == {i: item["points"] for i, item in RUBRIC["checks"].items()}


def test_question_numbering_follows_the_course():
    ids = [gid for part in PARTS for gid in bn.questions(_read(SOLUTIONS / f"{part}.ipynb"))]
    assert [i for i in ids if re.fullmatch(r"q\d+", i)] == [f"q{n}" for n in range(1, 14)]
    assert {"td-I-1", "td-I-2", "td-I-3", "td-I-4", "td-II-1", "td-II-2", "td-III", "td-IV"} <= set(ids)
    for part in PARTS:
        for cell in _read(SOLUTIONS / f"{part}.ipynb").cells:
            meta = cell.metadata.get("nbgrader", {})
            if meta.get("solution") and meta.get("grade"):
                assert cell.cell_type == "markdown" and meta["points"] > 0
                assert cell.source.startswith(bn.BEGIN_SOLUTION) and cell.source.endswith(bn.END_SOLUTION)


def _mini_sources(tmp_path, prose, reference="import torch\n\nnz = 3\n\n\ndef f(x):\n    \"\"\"Doc.\"\"\"\n    return x\n"):
    (tmp_path / "src").mkdir(exist_ok=True)
    (tmp_path / "ref").mkdir(exist_ok=True)
    (tmp_path / "src" / "part1_toy.md").write_text(prose)
    (tmp_path / "ref" / "part1_toy.py").write_text(reference)
    return dict(prose_dir=tmp_path / "src", reference_dir=tmp_path / "ref")


TOY_RUBRIC = {"assignment": "toy", "parts": ["part1_toy"],
              "checks": {"toy.f": {"points": 2, "title": "f", "visibility": "visible"},
                         "toy.g": {"points": 1, "title": "secret", "visibility": "hidden"}}}


def test_the_builder_places_cells_and_refuses_inconsistent_sources(tmp_path):
    prose = ("# Toy\n\n{{setup}}\n\n{{constants}}\n\n{{code: f}}\n\n{{test: toy.f}}\n{{test: toy.g}}\n"
             "{{optional-test: toy.absent}}\n\n{{question: q1 points=2}}\nWhy ({{points}})?\n{{answer}}\nBecause.\n{{end}}\n\n"
             "```{experiment: run}\nprint(f(1))\n```\n")
    notebook = bn.build_notebook("part1_toy", TOY_RUBRIC, **_mini_sources(tmp_path, prose))
    kinds = [(c.cell_type, c.id) for c in notebook.cells]
    assert kinds == [("markdown", "md"), ("code", "setup"), ("code", "constants"), ("code", "sol-f"),
                     ("code", "test-toy-f"), ("code", "test-toy-hidden-1"), ("markdown", "question-q1"),
                     ("markdown", "answer-q1"), ("code", "experiment-run")]
    cells = {c.id: c for c in notebook.cells}
    assert cells["setup"].source.endswith("import torch") and cells["constants"].source == "nz = 3"
    assert cells["sol-f"].source == 'def f(x):\n    """Doc."""\n    ### BEGIN SOLUTION\n    return x\n    ### END SOLUTION'
    assert cells["test-toy-f"].metadata["nbgrader"] == {"grade": True, "grade_id": "toy-f", "locked": True,
                                                       "points": 2, "schema_version": 3, "solution": False}
    hidden = cells["test-toy-hidden-1"].source
    assert "secret" not in hidden.split(bn.BEGIN_HIDDEN)[0] and 'check("toy.g")' in hidden.split(bn.BEGIN_HIDDEN)[1]
    assert cells["answer-q1"].metadata["nbgrader"]["points"] == 2 and "Because." in cells["answer-q1"].source
    assert cells["question-q1"].source == "Why (2 points)?"
    assert cells["experiment-run"].metadata["tags"] == ["experiment"]
    for broken, message in (
            (prose.replace("{{code: f}}", ""), "never placed: f"),
            (prose.replace("{{test: toy.g}}", ""), "without a {{test: ...}}: toy.g"),
            (prose.replace("{{optional-test: toy.absent}}", "{{test: toy.absent}}"), "not an item of grading.yml"),
            (prose.replace("{{end}}", ""), "a code cell inside a question"),
            (prose.split("```")[0].replace("{{end}}", ""), "unterminated"),
            (prose.replace("{{setup}}", "{{setup}}\n{{code: f}}"), "more than once: f"),
            (prose + "\nText with ### BEGIN SOLUTION in it.\n", "marker"),
            (prose.replace("{{constants}}", "{{constant}}"), "unknown directive"),
            (prose.replace(" ({{points}})", ""), "must show its points once")):
        with pytest.raises(bn.BuildError, match=re.escape(message)):
            bn.build_notebook("part1_toy", TOY_RUBRIC, **_mini_sources(tmp_path, broken))


# --------------------------------------------------------------------------------------------
# b. the release gives nothing away
# --------------------------------------------------------------------------------------------


def _load_student_copy_builder():
    import importlib.util
    spec = importlib.util.spec_from_file_location("build_student_copy", ROOT / "scripts" / "build_student_copy.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_release_has_no_solution_code_and_no_hidden_test():
    bsc = _load_student_copy_builder()
    assert bsc.find_solution_code(RELEASE.parent, ROOT / "reference") == []
    assert len(bsc.find_solution_code(SOLUTIONS.parent, ROOT / "reference")) >= 20, "the detector sees nothing"
    for part in PARTS:
        text = (RELEASE / f"{part}.ipynb").read_text()
        for marker in bn.MARKERS:
            assert marker not in text, f"{part}: {marker}"
        for rubric_id in HIDDEN:  # neither the id nor its grade-id form
            assert rubric_id not in text and bn.grade_id(rubric_id) not in text, f"{part}: {rubric_id}"
        release, solution = _read(RELEASE / f"{part}.ipynb"), _read(SOLUTIONS / f"{part}.ipynb")
        assert [c.id for c in release.cells] == [c.id for c in solution.cells]
        for r, s in zip(release.cells, solution.cells):
            if s.metadata.get("nbgrader", {}).get("solution"):
                stub = "YOUR ANSWER HERE" if s.cell_type == "markdown" else "raise NotImplementedError()"
                assert stub in r.source and "BEGIN SOLUTION" not in r.source
            elif not bn.is_test_cell(s) or bn.BEGIN_HIDDEN not in s.source:
                assert r.source == s.source
            assert r.metadata.get("tags", []) == s.metadata.get("tags", [])


def test_experiment_cells_are_tagged_and_nbgrader_skips_them():
    config = (ROOT / "nbgrader_config.py").read_text()
    assert re.search(r'^c\.Execute\.skip_cells_with_tag = "experiment"$', config, re.M)
    from autograder.load import SKIP_TAGS
    assert bn.EXPERIMENT_TAG in SKIP_TAGS
    for part in PARTS:
        experiments = [c for c in _read(RELEASE / f"{part}.ipynb").cells if bn.EXPERIMENT_TAG in c.metadata.get("tags", [])]
        assert experiments, part
        for cell in experiments:
            assert cell.source.startswith("# Experiment"), cell.id


# --------------------------------------------------------------------------------------------
# c, d. the slow part: everything starts together, in the background
# --------------------------------------------------------------------------------------------

# The partly correct submission: the release, with these solution cells replaced.
WRONG_D_LOSS = "def d_loss(d_real, d_fake):\n    return bce(d_real, torch.zeros_like(d_real)) + bce(d_fake, torch.ones_like(d_fake))\n"
NOISY = ("\n\nimport sys\nimport warnings\n_quiet_bce = bce\n\n\ndef bce(probs, targets):\n"
         "    warnings.warn('a warning from the student\\'s bce')\n"
         "    print('the student\\'s bce writes to stderr', file=sys.stderr)\n"
         "    return _quiet_bce(probs, targets)\n")
SLIDES_REPARAMETERIZE = "def reparameterize(mu, logvar):\n    return mu + torch.randn_like(mu) * torch.exp(logvar)\n"
PARTIAL = {  # grade id of a solution cell: None (the solution's code) or (replace the code by / add to it)
    "part1_dcgan": {"sol-Discriminator": None, "sol-Generator": None, "sol-weights_init": None,
                    "sol-get_noise": None, "sol-clamped_log-bce": ("append", NOISY),
                    "sol-d_loss": ("replace", WRONG_D_LOSS), "sol-g_loss": None,
                    "sol-lsgan_d_loss": ("replace", "def lsgan_d_loss(d_real, d_fake):\n    return (\n")},
    "part2_cgan": {"sol-onehot": None, "sol-get_noise": None, "sol-weights_init": None,
                   "sol-cDCGANDiscriminator": None, "sol-make_optimizers": None},
    "part3_vae": {"sol-VAE": None, "sol-kl_divergence": None,
                  "sol-reparameterize": ("replace", SLIDES_REPARAMETERIZE)},
}


def _without_markers(source):
    return "\n".join(line for line in source.split("\n") if "BEGIN SOLUTION" not in line and "END SOLUTION" not in line)


def make_partial(dest):
    dest.mkdir(parents=True)
    for part in PARTS:
        release, solution = _read(RELEASE / f"{part}.ipynb"), _read(SOLUTIONS / f"{part}.ipynb")
        solved = {c.metadata["nbgrader"]["grade_id"]: c.source for c in solution.cells if "nbgrader" in c.metadata}
        todo = dict(PARTIAL[part])
        for cell in release.cells:
            gid = cell.metadata.get("nbgrader", {}).get("grade_id")
            if gid in todo:
                change = todo.pop(gid)
                code = _without_markers(solved[gid])
                cell.source = code if change is None else (code + change[1] if change[0] == "append" else change[1])
        assert not todo, f"{part}: no cells {list(todo)}"
        nbformat.write(release, dest / f"{part}.ipynb")


COURSE_SCRIPT = """set -e
nbgrader generate_assignment {a} --force
nbgrader autograde {a}
nbgrader generate_feedback {a}
nbgrader export
"""


class Background:
    """The slow processes, started together: the nbgrader course, pytest autograder on the partial
    submission, and one execution of each solution notebook."""

    def __init__(self, root):
        self.root = root
        self.course = root / "course"
        self.course.mkdir()
        shutil.copy2(ROOT / "nbgrader_config.py", self.course / "nbgrader_config.py")
        shutil.copytree(SOLUTIONS, self.course / bn.SOURCE_DIRECTORY / ASSIGNMENT)
        submitted = self.course / "submitted"
        shutil.copytree(SOLUTIONS, submitted / "solution" / ASSIGNMENT)
        shutil.copytree(RELEASE, submitted / "release" / ASSIGNMENT)
        make_partial(submitted / "partial" / ASSIGNMENT)
        self.partial = root / "partial"
        shutil.copytree(submitted / "partial" / ASSIGNMENT, self.partial)
        self.jobs, self.seconds = {}, {}
        self._start("course", ["bash", "-c", COURSE_SCRIPT.format(a=ASSIGNMENT)], cwd=self.course)
        self._start("pytest", [sys.executable, "-m", "pytest", "autograder", "-p", "no:cacheprovider", "-q",
                               "--submission", str(self.partial), "--grading-out", str(root / "pytest-out")],
                    cwd=ROOT)
        self._start("execute", [sys.executable, str(ROOT / "scripts" / "build_notebooks.py"), "--execute",
                                str(root / "executed"), "--skip-tests"], cwd=ROOT)  # one part after the other

    def _start(self, name, command, cwd):
        log = open(self.root / f"{name}.log", "w")
        process = subprocess.Popen(command, cwd=cwd, env=_env(), stdout=log, stderr=subprocess.STDOUT)
        start = time.perf_counter()
        self.jobs[name] = (process, start, log)

        def clock():  # the job's own wall time, whenever its test asks for it
            process.wait()
            self.seconds[name] = round(time.perf_counter() - start, 1)
        threading.Thread(target=clock, daemon=True).start()

    def wait(self, name, timeout=1500):
        process, start, log = self.jobs[name]
        process.wait(timeout=timeout)
        log.close()
        output = (self.root / f"{name}.log").read_text()
        return process.returncode, output, self.seconds.get(name, round(time.perf_counter() - start, 1))

    def stop(self):
        for process, _, log in self.jobs.values():
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()


@pytest.fixture(scope="module")
def background(tmp_path_factory):
    jobs = Background(tmp_path_factory.mktemp("notebooks"))
    yield jobs
    jobs.stop()
    print(f"\nbackground jobs, wall seconds (run together): {jobs.seconds}")


@pytest.fixture(scope="module")
def course(background):
    code, output, seconds = background.wait("course")
    assert code == 0, output[-6000:]
    from nbgrader.api import Gradebook
    scores = {}
    with Gradebook(f"sqlite:///{background.course / 'gradebook.db'}") as gradebook:
        for student in STUDENTS:
            for part in PARTS:
                notebook = gradebook.find_submission_notebook(part, ASSIGNMENT, student)
                for grade in notebook.grades:
                    if grade.cell_type == "code":
                        scores.setdefault(student, {})[GRADE_IDS[grade.name]] = (grade.auto_score, grade.max_score)
    return scores


def _autograded(background, student, part):
    return _read(background.course / "autograded" / student / ASSIGNMENT / f"{part}.ipynb")


@pytest.mark.slow
def test_nbgrader_gives_the_solutions_full_marks_and_the_release_zero(course, background):
    assert set(course["solution"]) == set(RUBRIC["checks"])
    failed = {i: s for i, s in course["solution"].items() if s[0] != s[1]}
    if failed:
        outputs = {cell.metadata["nbgrader"]["grade_id"]: cell.outputs for part in PARTS
                   for cell in _autograded(background, "solution", part).cells if bn.is_test_cell(cell)}
        pytest.fail(f"the solutions lose points: {failed}\n{json.dumps(outputs, default=str)[:4000]}")
    assert {i: s[1] for i, s in course["solution"].items()} == {i: item["points"] for i, item in RUBRIC["checks"].items()}
    assert {i: s[0] for i, s in course["release"].items()} == {i: 0 for i in RUBRIC["checks"]}
    for student in STUDENTS:  # the experiments were not run
        for part in PARTS:
            for cell in _autograded(background, student, part).cells:
                if bn.EXPERIMENT_TAG in cell.metadata.get("tags", []):
                    assert not cell.outputs and cell.execution_count is None, (student, part, cell.id)


@pytest.mark.slow
def test_nbgrader_and_pytest_autograder_agree_on_a_partial_submission(course, background):
    code, output, seconds = background.wait("pytest")
    results = json.loads((background.root / "pytest-out" / "results.json").read_text())
    by_pytest = {t["name"].split(":")[0]: t["score"] for t in results["tests"]}
    by_nbgrader = {i: s[0] for i, s in course["partial"].items()}
    assert by_nbgrader == by_pytest, output[-4000:]
    assert sum(by_nbgrader.values()) == results["score"]
    passed = {i for i, s in by_nbgrader.items() if s > 0}
    assert {"dcgan.discriminator", "dcgan.generator", "dcgan.bce", "dcgan.g_loss", "cgan.onehot",
            "cgan.cdcgan_discriminator", "vae.kl", "vae.encoder"} <= passed
    assert not {"dcgan.d_loss", "dcgan.lsgan_d_loss", "dcgan.d_step", "vae.reparameterize",
                "cgan.training"} & passed
    # the student's bce warned and wrote to stderr during its check: the cell kept its points
    cells = {c.metadata["nbgrader"]["grade_id"]: c for c in _autograded(background, "partial", "part1_dcgan").cells
             if bn.is_test_cell(c)}
    assert not [o for o in cells["dcgan-bce"].outputs if o.output_type in ("error",) or o.get("name") == "stderr"]
    assert "ok" in cells["dcgan-bce"].outputs[0]["text"]
    message = [o for o in cells["dcgan-d_loss"].outputs if o.output_type == "error"][0]
    assert message["ename"] == "CheckFailed" and "swapped labels" in message["evalue"]


@pytest.mark.slow
def test_feedback_shows_no_hidden_test_and_export_writes_the_grades(course, background):
    for student in STUDENTS:
        for part in PARTS:
            page = (background.course / "feedback" / student / ASSIGNMENT / f"{part}.html").read_text()
            text = html.unescape(re.sub(r"<[^>]+>", "", page))  # what the student reads
            assert "HIDDEN TESTS" not in text
            for rubric_id in HIDDEN:
                assert f'check("{rubric_id}")' not in text, (student, part, rubric_id)
            visible = [rid for gid, rid in GRADE_IDS.items() if rid.startswith(bn.part_prefix(part) + ".")
                       and rid not in HIDDEN]
            assert f'check("{visible[0]}")' in text, "the visible tests' code should be shown"
    # the hidden checks did run: their results are in the release student's feedback
    page = (background.course / "feedback" / "release" / ASSIGNMENT / "part1_dcgan.html").read_text()
    assert all(f"{rubric_id}: 0/1 points" in page for rubric_id in HIDDEN if rubric_id.startswith("dcgan."))
    grades = (background.course / "grades.csv").read_text().splitlines()
    header, rows = grades[0].split(","), [dict(zip(grades[0].split(","), r.split(","))) for r in grades[1:]]
    assert {"student_id", "score", "max_score"} <= set(header)
    scores = {r["student_id"]: float(r["score"]) for r in rows}
    assert scores["solution"] == sum(item["points"] for item in RUBRIC["checks"].values())
    assert scores["release"] == 0
    assert scores["partial"] == sum(s[0] for s in course["partial"].values())


@pytest.mark.slow
@pytest.mark.parametrize("part", PARTS)
def test_solution_notebooks_run_top_to_bottom_with_their_experiments(background, part):
    code, output, seconds = background.wait("execute")
    summary = json.loads((background.root / "executed" / f"{part}.json").read_text())
    assert code == 0, output[-4000:]
    assert not [c for c in summary["cells"] if c["errors"]], output[-4000:]
    assert not [c["id"] for c in summary["cells"] if c["stderr"].strip()], summary
    experiments = [c for c in summary["cells"] if bn.EXPERIMENT_TAG in c["tags"]]
    assert experiments and all(c["figures"] >= 1 for c in experiments), experiments
    assert summary["seconds"] < NOTEBOOK_LIMIT_S, summary
    print(f"{part}: {summary['seconds']} s; experiments "
          + ", ".join(f"{c['id'][len('experiment-'):]} {c['seconds']} s" for c in experiments))
