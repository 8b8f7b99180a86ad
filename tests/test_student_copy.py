"""The student copy (scripts/build_student_copy.py): only the allow-list ships, no reference code
and no hidden rubric item leaks into it, and its autograder grades on its own (PYTHONPATH = the
copy, no reference/ anywhere on the path) from the committed expected values.

CPU only. The two grading runs go in parallel; the whole file takes well under a minute on an
idle machine.
"""
import ast
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder.checks.registry import rubric_ids
from autograder.rubric import load_rubric

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "build_student_copy.py"
FORBIDDEN = {"reference", "solutions", "tests", "scripts", "benchmarks", ".ci"}
# Rubric items that train networks: too slow for this file's budget, deselected in its grading
# runs (their check module still ships, and results.json then lists the other items only).
SLOW_ITEMS = set(rubric_ids(load_rubric(), trains=True))
# The deliberate bug of the broken submission, and the check that must catch it.
BUG = ("part1_dcgan.py", "nn.Conv2d(nc, ndf, 4, 2, 1, bias=False)", "nn.Conv2d(nc, ndf, 4, 1, 1, bias=False)")
BUG_CHECK = "dcgan.discriminator"


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_student_copy", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


bsc = _load_builder()


def _rubric(path):
    return yaml.safe_load(Path(path).read_text())


def _hidden(rubric):
    return [i for i, item in rubric["checks"].items() if (item or {}).get("visibility") == "hidden"]


def _mentions(text, rubric_id):
    return re.search(rf"(?<![\w.]){re.escape(rubric_id)}(?![\w.])", text) is not None


def _copy_env(copy):
    """The environment of a student: the copy on PYTHONPATH and nothing of the instructor repo."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update(PYTHONPATH=str(copy), PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    return env


def _source_tree(dest):
    """A throwaway copy of the instructor project (what the builder reads), to modify freely."""
    for name in ("autograder", "reference", "assignments"):
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("grading.yml", "requirements.txt", "constraints.txt", "pyproject.toml", "run"):
        shutil.copy2(ROOT / name, dest / name)
    return dest


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The student copy of this project. Its autograder's imports are verified by the grading runs
    below, so the builder's own import probe is skipped here (it runs in the hidden-items test)."""
    return bsc.build(tmp_path_factory.mktemp("student") / "copy", verify=False)


@pytest.fixture(scope="module")
def copy(built):
    return built.dest


def _grade(copy, submission, out):
    slow = [i for i in _rubric(copy / "grading.yml")["checks"] if i in SLOW_ITEMS]
    command = [sys.executable, "-m", "pytest", "autograder", "--submission", str(submission),
               "--grading-out", str(out), "-p", "no:cacheprovider", "-q", "--device", "cpu"]
    command += [f"--deselect=autograder/test_rubric.py::test_check[{i}]" for i in slow]
    return subprocess.Popen(command, cwd=copy, env=_copy_env(copy), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.fixture(scope="module")
def graded(copy, tmp_path_factory):
    """The copy's autograder run on the reference (placed outside the copy) and on a broken copy
    of it, in parallel: {"good"/"broken": (exit code, output, results.json)}."""
    base = tmp_path_factory.mktemp("submissions")
    good = shutil.copytree(ROOT / "reference", base / "sub", ignore=shutil.ignore_patterns("__pycache__"))
    broken = shutil.copytree(good, base / "broken")
    name, right, wrong = BUG
    source = (broken / name).read_text()
    assert source.count(right) == 1, f"the bug to plant, {right!r}, is no longer in reference/{name}"
    (broken / name).write_text(source.replace(right, wrong))
    runs = {kind: _grade(copy, sub, base / f"out-{kind}") for kind, sub in (("good", good), ("broken", broken))}
    results = {}
    for kind, proc in runs.items():
        output, _ = proc.communicate(timeout=600)
        path = base / f"out-{kind}" / "results.json"
        results[kind] = (proc.returncode, output, json.loads(path.read_text()) if path.exists() else None)
    return results


# --------------------------------------------------------------------------------------------
# a. what ships
# --------------------------------------------------------------------------------------------


def test_only_the_allow_list_ships(copy, built):
    top = {p.name for p in copy.iterdir()}
    assert top <= {"assignments", "autograder", "grading.yml", "requirements.txt", "constraints.txt",
                   "pyproject.toml", "run", "README.md", ".gitignore", bsc.MANIFEST}
    assert {"autograder", "grading.yml", "run", "README.md", "requirements.txt"} <= top
    assert ("assignments" in top) == (ROOT / "assignments").is_dir()
    for path in copy.rglob("*"):
        parts = set(path.relative_to(copy).parts)
        assert not parts & FORBIDDEN, f"{path} must not ship"
        assert "__pycache__" not in parts and path.suffix != ".pyc", path
    assert not (copy / "autograder/checks/hidden.py").exists()
    files = sorted(p.relative_to(copy).as_posix() for p in copy.rglob("*") if p.is_file())
    assert files == sorted(built.files)
    assert sorted(json.loads((copy / bsc.MANIFEST).read_text())["files"]) == sorted(set(files) - {bsc.MANIFEST})


def test_student_run_and_readme(copy):
    run = (copy / "run").read_text()
    assert os.access(copy / "run", os.X_OK)
    assert not re.search(r"\b(tests|reference|scripts|solutions|benchmarks|demo)\b", run)
    assert re.search(r"grade\) exec python -m pytest autograder\b", run)
    assert subprocess.run(["bash", "-n", str(copy / "run")]).returncode == 0
    readme = (copy / "README.md").read_text()
    assert "pytest autograder" in readme and "grading-output/" in readme and "--submission" in readme
    assert "TORCH_INDEX=pypi ./run setup" in readme and "py -m venv .venv" in readme
    assert "https://download.pytorch.org/whl/cpu" in readme
    for path in (copy / "README.md", copy / "run", copy / "requirements.txt", copy / "constraints.txt"):
        assert not re.search(r"this machine|sprint|/work/|session", path.read_text()), path


def _dry_run(folder, **env):
    run = subprocess.run(["./run", "setup"], cwd=folder, capture_output=True, text=True, timeout=60,
                         env={**{k: v for k, v in os.environ.items() if k != "TORCH_INDEX"}, **env,
                              "GAN_COURSE_DRY_RUN": "1"})
    return run.returncode, run.stdout.splitlines(), run.stderr


def test_the_copy_s_run_installs_the_cpu_torch_by_default(copy, tmp_path):
    """torch's CPU-only index on the install of torch and torchvision, before the rest, unless
    TORCH_INDEX=pypi asks for one install from PyPI. Nothing is installed in a dry run, and the
    choice made when .venv was built is kept for its rebuilds."""
    pip = ".venv/bin/python -m pip install -q --disable-pip-version-check"
    code, steps, err = _dry_run(copy, TORCH_INDEX="cpu")
    assert code == 0, err
    assert steps == ["python3 -m venv .venv",
                     f"{pip} torch torchvision -c constraints.txt --index-url https://download.pytorch.org/whl/cpu",
                     f"{pip} -r requirements.txt -c constraints.txt"]
    assert not (copy / ".venv").exists()
    assert _dry_run(copy)[1] == steps
    assert _dry_run(copy, TORCH_INDEX="pypi")[1] == ["python3 -m venv .venv", f"{pip} -r requirements.txt -c constraints.txt"]
    code, _, err = _dry_run(copy, TORCH_INDEX="cuda please")
    assert code == 2 and "TORCH_INDEX=cuda please: expected cpu" in err
    folder = shutil.copytree(copy, tmp_path / "copy")
    (folder / ".venv").mkdir()
    (folder / ".venv/.torch-index").write_text("\n")  # built from PyPI: rebuilt from PyPI
    assert len(_dry_run(folder)[1]) == 2


def test_no_solution_code_in_the_copy(copy):
    bodies = bsc.reference_bodies(ROOT / "reference")
    assert len(bodies) >= 20, "the detector has (almost) nothing to look for"
    findings = bsc.find_solution_code(copy, ROOT / "reference")
    assert not findings, "reference code in the student copy:\n" + "\n".join(str(f) for f in findings)


def _function(path, qualname):
    """The source of a function or method of a reference file, and its node."""
    source = path.read_text()
    tree = ast.parse(source)
    for name, node in bsc._functions(tree):
        if name == qualname:
            return ast.get_source_segment(source, node, padded=True), node
    raise LookupError(qualname)


def test_the_detector_finds_planted_reference_code(copy, tmp_path):
    planted = shutil.copytree(copy, tmp_path / "planted")
    reference = ROOT / "reference"
    assert not [f for f in bsc.find_solution_code(planted, reference) if f.path.startswith("autograder/score")]
    # A function, renamed and with another docstring, appended to a module of the copy.
    source, node = _function(reference / "part1_dcgan.py", "d_step")
    source = re.sub(rf"\bdef {node.name}\b", "def _helper", source)
    source = source.replace(ast.get_docstring(node), "Nothing to see here.")
    with open(planted / "autograder/score.py", "a") as f:
        f.write("\n\n" + source)
    # In a notebook: a cell that does not parse (skipped), a markdown cell, then a cell that starts
    # with a magic and holds a method's body in a method of another class, and a function's body
    # pasted at the top level of a loop.
    _, method = _function(reference / "part3_vae.py", "VAE.encode")
    _, function = _function(reference / "part1_dcgan.py", "weights_init")
    encode = "\n".join("        " + ast.unparse(s) for s in method.body if not isinstance(s, ast.Expr))
    init = "\n".join(ast.unparse(s) for s in function.body if not isinstance(s, ast.Expr))
    cells = [("code", "def broken(:\n    pass\n"), ("markdown", "notes"),
             ("code", f"%matplotlib inline\nclass Mine:\n    def enc(self, x):\n{encode}\n"),
             ("code", "for m in []:\n" + "\n".join("    " + line for line in init.splitlines()))]
    notebook = {"cells": [{"cell_type": kind, "metadata": {}, "source": text} for kind, text in cells],
                "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    (planted / "assignments").mkdir(exist_ok=True)
    (planted / "assignments/nb.ipynb").write_text(json.dumps(notebook))
    found = {(f.path, f.where.rsplit("line", 1)[0].strip(), f.reference)
             for f in bsc.find_solution_code(planted, reference)}
    assert ("autograder/score.py", "", "reference/part1_dcgan.py:d_step") in found
    assert ("assignments/nb.ipynb", "cell 3", "reference/part3_vae.py:VAE.encode") in found
    assert ("assignments/nb.ipynb", "cell 4", "reference/part1_dcgan.py:weights_init") in found
    # and a changed statement is no longer the reference's body
    (planted / "assignments/nb.ipynb").write_text(json.dumps(notebook).replace("0.02", "0.03"))
    found = {(f.path, f.reference) for f in bsc.find_solution_code(planted, reference)}
    assert ("assignments/nb.ipynb", "reference/part1_dcgan.py:weights_init") not in found


def test_the_build_refuses_solution_notebooks(tmp_path):
    source = _source_tree(tmp_path / "project")
    text, _ = _function(ROOT / "reference/part3_vae.py", "kl_divergence")
    folder = source / "assignments/genmodels"
    folder.mkdir(parents=True, exist_ok=True)
    cell = {"cell_type": "code", "metadata": {}, "source": [text]}
    (folder / "part3_vae.ipynb").write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4,
                                                        "nbformat_minor": 5}))
    with pytest.raises(bsc.BuildError, match=r"part3_vae.ipynb cell 1 .*kl_divergence"):
        bsc.build(tmp_path / "out", source, verify=False)
    cell["source"] = ["### BEGIN SOLUTION\n", "x = 1\n", "### END SOLUTION\n"]
    (folder / "part3_vae.ipynb").write_text(json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4,
                                                        "nbformat_minor": 5}))
    with pytest.raises(bsc.BuildError, match="BEGIN SOLUTION"):
        bsc.build(tmp_path / "out", source, verify=False)
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["project"], "the staging folder was left behind"


# --------------------------------------------------------------------------------------------
# b. hidden rubric items
# --------------------------------------------------------------------------------------------


def _assert_no_hidden(copy, hidden, visible):
    text = (copy / "grading.yml").read_text()
    assert list(yaml.safe_load(text)["checks"]) == visible
    assert not [i for i in hidden if _mentions(text, i)]
    for path in (copy / "autograder/expected").glob("*.json"):
        text = path.read_text()
        assert not set(json.loads(text)) & set(hidden), path
        assert not [i for i in hidden if _mentions(text, i)], path


def test_hidden_items_of_this_rubric_do_not_ship(copy, built):
    rubric = _rubric(ROOT / "grading.yml")
    hidden = _hidden(rubric)
    assert built.hidden == hidden
    _assert_no_hidden(copy, hidden, [i for i in rubric["checks"] if i not in hidden])
    # everything but the hidden items is kept as it was
    shipped = _rubric(copy / "grading.yml")
    assert shipped == dict(rubric, checks={k: v for k, v in rubric["checks"].items() if k not in hidden})


def _imported_elsewhere(autograder, module):
    stem = Path(module).stem
    pattern = re.compile(rf"checks\.{stem}\b|from autograder\.checks import [^\n]*\b{stem}\b")
    return any(pattern.search(p.read_text()) for p in autograder.rglob("*.py") if p != autograder.parent / module)


def test_hidden_items_are_cut_everywhere(tmp_path):
    """A variant of the rubric where one whole check module's items and one item of another module
    (one with expected values) are hidden as well: the first module, hidden.py, their rubric
    entries and expected values are gone, and the copy's autograder still imports and has a check
    for every item it ships (the builder's import probe)."""
    source = _source_tree(tmp_path / "project")
    if not (source / bsc.HIDDEN_CHECKS).exists():  # the instructor's module of hidden checks
        (source / bsc.HIDDEN_CHECKS).write_text(
            "from autograder.checks.registry import check\n\n\n"
            "check('extra.planted_hidden', collect=lambda submission, inputs: {},\n"
            "      judge=lambda inputs, found, context: None)\n")
        with open(source / "grading.yml", "a") as f:
            f.write("  extra.planted_hidden: {points: 1, visibility: hidden, title: planted}\n")
    rubric = _rubric(source / "grading.yml")
    by_file = bsc.registrations(source)
    in_rubric = {i for i in rubric["checks"] if i not in _hidden(rubric)}
    whole = sorted((len(ids), module) for module, ids in by_file.items()
                   if module and module != bsc.HIDDEN_CHECKS.as_posix() and set(ids) <= in_rubric
                   and not _imported_elsewhere(source / "autograder", module))
    assert whole, "no check module whose items could all be hidden"
    whole_module = whole[0][1]
    keys = {k for p in (source / "autograder/expected").glob("*.json") for k in json.loads(p.read_text())}
    partial = [(module, i) for module, ids in sorted(by_file.items()) if module and module != whole_module
               and len(set(ids) & in_rubric) >= 2 for i in ids if i in in_rubric and i in keys]
    assert partial, "no check item with expected values in a module of several items"
    mixed_module, one = partial[0]
    newly = by_file[whole_module] + [one]
    for rubric_id in newly:
        rubric["checks"][rubric_id]["visibility"] = "hidden"
    hidden = _hidden(rubric)
    (source / "grading.yml").write_text(f"# {newly[0]} is hidden in this variant\n"
                                        + yaml.safe_dump(rubric, sort_keys=False))

    report = bsc.build(tmp_path / "copy", source, verify=True)
    copy = report.dest
    assert set(newly) <= set(report.hidden) and sorted(report.hidden) == sorted(hidden)
    assert not (copy / whole_module).exists() and whole_module in report.dropped_modules
    assert not (copy / bsc.HIDDEN_CHECKS).exists()
    assert (copy / mixed_module).exists() and one in report.mixed_modules[mixed_module]
    _assert_no_hidden(copy, hidden, [i for i in rubric["checks"] if i not in hidden])
    assert (copy / "autograder/checks/registry.py").exists()


# --------------------------------------------------------------------------------------------
# c, d. the copy's autograder, on its own
# --------------------------------------------------------------------------------------------


def test_reference_is_not_importable_next_to_the_copy(copy):
    """The environment of the grading runs below: `reference` cannot be imported, the autograder
    comes from the copy, and no folder of this project is on the path but its venv's packages."""
    proc = subprocess.run([sys.executable, "-c", "import reference"], cwd=copy, env=_copy_env(copy),
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr, proc.stderr
    probe = "import autograder, json, sys; print(json.dumps([autograder.__file__, sys.prefix, sys.path]))"
    proc = subprocess.run([sys.executable, "-c", probe], cwd=copy, env=_copy_env(copy), capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stderr
    where, prefix, path = json.loads(proc.stdout)
    assert Path(where) == copy / "autograder" / "__init__.py"
    inside = [p for p in path if p and Path(p).resolve().is_relative_to(ROOT)
              and not Path(p).resolve().is_relative_to(Path(prefix).resolve())]
    assert not inside, f"the project itself is on the path: {inside}"


def test_the_reference_gets_full_marks_in_the_copy(graded, copy):
    code, output, results = graded["good"]
    assert code == 0, output[-4000:]
    assert results is not None, output[-4000:]
    max_score = sum(t["max_score"] for t in results["tests"])
    assert results["score"] == max_score > 0
    shipped = [i for i in _rubric(copy / "grading.yml")["checks"] if i not in SLOW_ITEMS]
    assert [t["name"].split(":")[0] for t in results["tests"]] == shipped
    assert all(t["status"] == "passed" for t in results["tests"])


def test_a_broken_submission_loses_points_in_the_copy(graded):
    code, output, results = graded["broken"]
    assert code != 0, output[-4000:]
    assert results is not None, output[-4000:]
    max_score = sum(t["max_score"] for t in results["tests"])
    assert results["score"] < max_score
    failed = {t["name"].split(":")[0]: t for t in results["tests"] if t["status"] == "failed"}
    assert BUG_CHECK in failed, output[-4000:]
    assert failed[BUG_CHECK]["score"] == 0
    assert results["score"] == max_score - sum(t["max_score"] for t in failed.values())


# --------------------------------------------------------------------------------------------
# re-builds, safety, --git
# --------------------------------------------------------------------------------------------


def _snapshot(folder):
    return {p.relative_to(folder).as_posix(): (p.read_bytes(), p.stat().st_mode & 0o777)
            for p in folder.rglob("*") if p.is_file() and ".git" not in p.relative_to(folder).parts}


def test_a_rebuild_replaces_the_copy_with_identical_files(copy, tmp_path):
    dest = tmp_path / "again"
    bsc.build(dest, verify=False)
    first = _snapshot(dest)
    (dest / "stray.txt").write_text("left over")
    (dest / "autograder/stray.py").write_text("x = 1\n")
    bsc.build(dest, verify=False)
    assert _snapshot(dest) == first == _snapshot(copy)


def test_unsafe_destinations_are_refused(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("precious")
    with pytest.raises(bsc.BuildError, match="not a student copy"):
        bsc.build(tmp_path / "mine", verify=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "precious"
    for dest in (ROOT, ROOT.parent, ROOT / "autograder" / "x", ROOT / "reference"):
        with pytest.raises(bsc.BuildError):  # the guard alone: a build there would replace the folder
            bsc._check_dest(dest, ROOT, force=True)


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_git_flag_commits_each_changed_build(tmp_path):
    dest = tmp_path / "repo"
    assert bsc.build(dest, git=True, verify=False).committed
    assert not bsc.build(dest, git=True, verify=False).committed  # nothing changed: no new commit
    log = subprocess.run(["git", "-C", str(dest), "log", "--oneline"], capture_output=True, text=True, check=True)
    assert len(log.stdout.splitlines()) == 1
    status = subprocess.run(["git", "-C", str(dest), "status", "--porcelain"], capture_output=True, text=True)
    assert status.stdout == ""
    tracked = subprocess.run(["git", "-C", str(dest), "ls-files"], capture_output=True, text=True).stdout.split()
    assert not {t.split("/")[0] for t in tracked} & FORBIDDEN
