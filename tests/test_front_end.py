"""What a student sees from `pytest autograder`, on the demo's example submission.

The example is the reference with the five edits examples/mistakes.yml lists, written by the
demo's write_example (so it follows the reference); grading it must fail exactly the checks the
edits name. The same grading shows the front end's output: each failure's message, no traceback
and no grader object, unless --grader-internals asks for them.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from reference.demo import write_example

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("part1_dcgan", "part2_cgan", "part3_vae")


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    folder = tmp_path_factory.mktemp("example")
    return folder, write_example(folder)


def pytest_autograder(out, submission, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "pytest", "autograder", "-p", "no:cacheprovider", "--submission", str(submission),
               "--grading-out", str(out), *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


def test_each_mistake_is_one_edit_of_its_part(example):
    folder, mistakes = example
    for part in PARTS:
        reference = (ROOT / "reference" / f"{part}.py").read_text()
        edits = [m for m in mistakes if m["part"] == part]
        assert ((folder / f"{part}.py").read_text() != reference) == bool(edits), part
        for mistake in edits:
            assert mistake["new"] in (folder / f"{part}.py").read_text(), mistake["what"]


def test_a_mistake_whose_text_left_the_reference_is_refused(tmp_path, monkeypatch):
    from reference import demo
    stale = tmp_path / "mistakes.yml"
    stale.write_text(yaml.safe_dump([{"part": "part1_dcgan", "what": "gone", "old": "no such text", "new": "x",
                                      "fails": "dcgan.bce"}]))
    monkeypatch.setattr(demo, "MISTAKES", stale)
    with pytest.raises(ValueError, match="occurs 0 times in reference/part1_dcgan.py"):
        write_example(tmp_path / "out")


@pytest.fixture(scope="module")
def graded(tmp_path_factory, example):
    out = tmp_path_factory.mktemp("grading")
    return pytest_autograder(out, example[0], "-k", "not training"), out, example[1]


def test_the_example_fails_exactly_its_mistakes_checks(graded):
    process, out, mistakes = graded
    results = json.loads((out / "results.json").read_text())
    failed = {t["name"].split(":")[0] for t in results["tests"] if t["status"] == "failed"}
    assert failed == {m["fails"] for m in mistakes}, process.stdout[-3000:]


def test_a_failure_is_reported_by_its_message_alone(graded):
    process, out, _ = graded
    text = process.stdout
    results = json.loads((out / "results.json").read_text())
    messages = {t["name"].split(":")[0]: t["output"] for t in results["tests"] if t["status"] == "failed"}
    for rubric_id, message in messages.items():
        assert f" {rubric_id} _" in text  # the failure's heading is the rubric id, not the test's node id
        assert message in text  # the whole message, unwrapped, in the failures section
    for internal in ("Traceback", "Scored(", "IsolatedSubmission", "AssertionError", "def test_check", "FAILED "):
        assert internal not in text, internal
    assert "grade" in text and "total" in text and "report.html" in text
    assert len(text.splitlines()) < 100


def test_grader_internals_brings_the_traceback_back(tmp_path, example):
    process = pytest_autograder(tmp_path, example[0], "-k", "cgan.onehot", "--isolation", "in-process", "--grader-internals")
    assert process.returncode == 1
    assert "Scored(" in process.stdout and "assert scored.passed" in process.stdout
    assert "FAILED autograder/test_rubric.py::test_check[cgan.onehot]" in process.stdout


@pytest.mark.slow
def test_the_sandboxed_training_check_shows_its_progress_and_figures(tmp_path):
    """The training check runs for a minute or more in the sandbox's namespace: its progress comes
    through the sandbox's pipes to the student's terminal, one line each tenth of the run, and a
    passing run states its FID and accuracy against the band."""
    process = pytest_autograder(tmp_path, ROOT / "reference", "-k", "cgan.training")
    assert process.returncode == 0, process.stdout[-3000:] + process.stderr[-3000:]
    iterations = yaml.safe_load((ROOT / "grading.yml").read_text())["training"]["cpu"]["iterations"]
    shown = [line for line in process.stdout.splitlines() if line.startswith("training: iteration ")]
    assert shown and shown[-1].startswith(f"training: iteration {iterations}/{iterations}, "), process.stdout[-3000:]
    assert shown[0].split(",")[0] == f"training: iteration {iterations // 10}/{iterations}"
    results = json.loads((tmp_path / "results.json").read_text())
    assert "FID" in results["tests"][0]["output"] and "accuracy" in results["tests"][0]["output"]


def test_a_notebook_check_grades_its_namespace_as_grade_grades_the_file():
    """notebook.check goes through autograder.score.grade with the kernel's live namespace: the
    verdicts are those of grading the part's file, and a mistake made in the namespace after it
    was loaded is what is graded."""
    import runpy
    from autograder import notebook
    from autograder.load import Submission
    from autograder.score import grade
    ids = ["dcgan.bce", "dcgan.d_loss", "dcgan.prior"]
    by_file = {s.id: s.passed for s in grade(ROOT / "reference" / "part1_dcgan.py", ids, device="cpu", seed=3).scored}
    namespace = runpy.run_path(str(ROOT / "reference" / "part1_dcgan.py"))
    assert by_file == {i: notebook.grade(i, namespace, device="cpu").passed for i in ids} == dict.fromkeys(ids, True)
    namespace["bce"] = lambda p, t: (t * p.log() + (1 - t) * (1 - p).log()).mean()  # the sign dropped
    scored = notebook.grade("dcgan.bce", namespace, device="cpu")
    assert not scored.passed and scored.points == 0 and "minus sign" in scored.message
    with pytest.raises(ValueError, match="graded in-process"):
        grade(Submission(ROOT, {}), isolation="bwrap")


@pytest.mark.parametrize("isolation", ["in-process", "bwrap"])
def test_an_id_grading_yml_lacks_is_refused_whatever_the_isolation(isolation):
    """score.grade refuses an id that is not grading.yml's before anything starts: through a sandbox
    too, which would otherwise grade the other ids and leave this one out without a word."""
    from autograder.score import grade
    with pytest.raises(KeyError, match=r"'dcgan\.no_such_check' not an item of grading.yml"):
        grade(ROOT / "reference", ["dcgan.bce", "dcgan.no_such_check"], device="cpu", isolation=isolation)
