"""What a student sees from `pytest autograder`, on the demo's example submission.

The example (examples/student_with_mistakes/) is the reference with the five edits its
mistakes.yml lists: it must stay exactly that (so it follows the reference), and grading it must
fail exactly the checks the edits name. The same grading shows the front end's output: each
failure's message, no traceback and no grader object, unless --grader-internals asks for them.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "student_with_mistakes"
MISTAKES = yaml.safe_load((EXAMPLE / "mistakes.yml").read_text())
PARTS = ("part1_dcgan", "part2_cgan", "part3_vae")


def pytest_autograder(out, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "pytest", "autograder", "-p", "no:cacheprovider", "--submission", str(EXAMPLE),
               "--grading-out", str(out), *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.parametrize("part", PARTS)
def test_the_example_is_the_reference_with_its_listed_mistakes(part):
    source = (ROOT / "reference" / f"{part}.py").read_text()
    for mistake in MISTAKES:
        if mistake["part"] == part:
            assert source.count(mistake["old"]) == 1, f"{mistake['what']}: its text no longer occurs once in the reference"
            source = source.replace(mistake["old"], mistake["new"])
    assert (EXAMPLE / f"{part}.py").read_text() == source, (
        f"examples/student_with_mistakes/{part}.py is not reference/{part}.py with the edits of mistakes.yml: "
        "regenerate it")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    out = tmp_path_factory.mktemp("grading")
    return pytest_autograder(out, "-k", "not training"), out


def test_the_example_fails_exactly_its_mistakes_checks(graded):
    process, out = graded
    results = json.loads((out / "results.json").read_text())
    failed = {t["name"].split(":")[0] for t in results["tests"] if t["status"] == "failed"}
    assert failed == {m["fails"] for m in MISTAKES}, process.stdout[-3000:]


def test_a_failure_is_reported_by_its_message_alone(graded):
    process, out = graded
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


def test_grader_internals_brings_the_traceback_back(tmp_path):
    process = pytest_autograder(tmp_path, "-k", "cgan.onehot", "--isolate", "no", "--grader-internals")
    assert process.returncode == 1
    assert "Scored(" in process.stdout and "assert scored.passed" in process.stdout
    assert "FAILED autograder/test_rubric.py::test_check[cgan.onehot]" in process.stdout
