"""A fault of the machine is a grader error found before any student is graded, never a student's 0
(issue 12): CUDA asked for and unusable, an output folder that cannot be written, a full disk.
CUDA is made unusable with CUDA_VISIBLE_DEVICES="" (what a runner without a driver looks like to
torch), so these tests hold on a GPU machine as well."""
import json
import os
import shutil
import subprocess
import sys
import time

import pytest

from autograder import batch, preflight
from autograder.rubric import ROOT, load_rubric

PARTS = load_rubric()["parts"]
NO_CUDA = {**os.environ, "PYTHONPATH": str(ROOT), "CUDA_VISIBLE_DEVICES": ""}


@pytest.fixture
def klass(tmp_path):
    for student in ("alice", "bob"):
        (tmp_path / "flat" / student).mkdir(parents=True)
        for part in PARTS:
            shutil.copyfile(ROOT / "reference" / f"{part}.py", tmp_path / "flat" / student / f"{part}.py")
    return tmp_path / "flat"


def _run(*args, env=NO_CUDA):
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def test_unusable_cuda_stops_a_batch_before_any_student_with_a_grader_error(klass, tmp_path):
    out = tmp_path / "out"
    run = _run("-m", "autograder", "batch", str(klass), "--out", str(out), "--device", "cuda", "--only", "vae.kl")
    assert run.returncode == 2, run.stderr[-2000:]
    assert "grader error (this machine, not the submissions)" in run.stderr
    assert "CUDA is not usable on this machine" in run.stderr and "--device cpu" in run.stderr
    assert not (out / "students").exists() and not (out / "gradebook.csv").exists()
    assert "your code" not in run.stdout + run.stderr


def test_unusable_cuda_stops_a_single_grading(klass, tmp_path):
    run = _run("-m", "autograder", "grade", str(klass / "alice"), "--out", str(tmp_path / "out"), "--device", "cuda")
    assert run.returncode == 2 and "CUDA is not usable" in run.stderr, run.stderr[-2000:]
    assert not (tmp_path / "out" / "results.json").exists()


def test_unusable_cuda_stops_the_pytest_front_end(klass, tmp_path):
    out = tmp_path / "out"
    run = _run("-m", "pytest", "autograder", "-p", "no:cacheprovider", "--submission", str(klass / "alice"),
               "--grading-out", str(out), "--device", "cuda", "-k", "vae.kl")
    assert run.returncode == pytest.ExitCode.USAGE_ERROR, run.stdout[-2000:] + run.stderr[-2000:]
    assert "grader error (this machine, not the submission)" in run.stderr and "CUDA is not usable" in run.stderr
    assert not (out / "results.json").exists()


def test_an_output_folder_that_cannot_be_written_stops_the_batch(klass, tmp_path):
    (tmp_path / "a_file").write_text("")
    run = _run("-m", "autograder", "batch", str(klass), "--out", str(tmp_path / "a_file" / "out"), "--device", "cpu")
    assert run.returncode == 2 and "the output folder" in run.stderr and "cannot be written" in run.stderr, run.stderr


def test_a_full_disk_stops_the_batch_before_any_student(klass, tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr(batch, "Sandbox", lambda **kwargs: started.append(kwargs))
    monkeypatch.setattr(preflight, "_free_bytes", lambda folder: 10 * 2 ** 20)
    with pytest.raises(preflight.MachineFault, match="has 10 MB free"):
        batch.grade_batch(klass, tmp_path / "out", device="cpu", only=["vae.kl"], log=open(os.devnull, "w"))
    assert started == [] and not (tmp_path / "out" / "students").exists()


@pytest.mark.skipif(not shutil.which("nvidia-smi"), reason="needs a GPU: the pre-flight passing on a working CUDA")
def test_a_working_cuda_passes_the_preflight():
    assert preflight.check_cuda().split()[0].isdigit()


# ---- memory the machine lacks: the system's OOM killer is the machine's fault, not the student's ----

HOARDER = '''
import torch

def bce(p, y):
    hoard = []
    for _ in range(64):  # 256 MB at a time, each page written: far below the grader's 4096 MB at first
        hoard.append(b"\\x01" * (256 << 20))
    return torch.zeros(())
'''
LOAD_HOARDER = '''
import torch

SCALE = len([b"\\x01" * (256 << 20) for _ in range(64)]) // 64  # runs when the file is loaded


def bce(p, y):
    return -SCALE * (y * torch.log(p) + (1 - y) * torch.log(1 - p)).mean()
'''
SELF_KILLER = '''
import os, signal

def bce(p, y):
    os.kill(os.getpid(), signal.SIGKILL)  # a student's own SIGKILL is not the machine's fault
'''


def _with_bce(folder, klass, source):
    shutil.copytree(klass / "alice", folder)
    text = (folder / "part1_dcgan.py").read_text()
    (folder / "part1_dcgan.py").write_text(text + "\n" + source)
    return folder


@pytest.fixture
def small_cgroup():
    """A memory cgroup (v1 or v2) of 2.5 GB, less than grading.yml's memory_mb: a container that gives
    the grader less memory than the rubric promises a check (Gradescope's default is 768 MB)."""
    name, limit = f"autograder-test-{os.getpid()}", 2560 << 20
    v1, v2 = f"/sys/fs/cgroup/memory/{name}", f"/sys/fs/cgroup/{name}"
    for folder, files in ((v1, ("memory.limit_in_bytes",)), (v2, ("memory.max", "memory.swap.max"))):
        try:
            os.mkdir(folder)
        except OSError:
            continue
        try:
            for file in files:
                with open(os.path.join(folder, file), "w") as f:
                    f.write(str(limit) if file != "memory.swap.max" else "0")
        except OSError:
            os.rmdir(folder)
            continue
        yield os.path.join(folder, "cgroup.procs")
        for _ in range(50):  # the grading's processes are gone once it returned; the kernel lets go
            try:
                os.rmdir(folder)
                break
            except OSError:
                time.sleep(0.2)
        return
    pytest.skip("no memory cgroup can be made here (not root, or cgroups read-only)")


def _grade_in(cgroup, submission, out, only):
    """`python -m autograder grade` started inside `cgroup` (its processes, and their children, in it)."""
    if preflight.oom_kills() is None:
        pytest.skip("/proc/vmstat has no oom_kill count on this kernel")
    script = (f"echo $$ > {cgroup}; exec {sys.executable} -m autograder grade {submission} --out {out} "
              f"--device cpu --only {only}")
    return subprocess.run(["bash", "-c", script], cwd=ROOT, env=NO_CUDA, capture_output=True, text=True, timeout=600)


def test_a_check_killed_by_the_machines_oom_killer_is_a_grader_error_not_the_students(klass, tmp_path, small_cgroup):
    out = tmp_path / "out"
    run = _grade_in(small_cgroup, _with_bce(tmp_path / "hoarder", klass, HOARDER), out, "dcgan.bce,vae.kl")
    assert "warning: this machine gives the grader 2560 MB" in run.stderr, run.stderr[-3000:]
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    assert "grader error (this machine, not the submission): dcgan.bce" in run.stderr
    results = json.loads((out / "results.json").read_text())
    tests = {t["name"].split(":")[0]: t for t in results["tests"]}
    assert tests["dcgan.bce"]["output"].startswith("grader error (this machine, not your code): the machine ran out "
                                                   "of memory"), tests["dcgan.bce"]["output"]
    assert "memory limit exceeded" not in tests["dcgan.bce"]["output"]
    assert results["extra_data"]["grader_error"].startswith("dcgan.bce:")
    assert tests["vae.kl"]["status"] == "passed", tests["vae.kl"]["output"]  # the other checks are graded as usual


def test_code_killed_for_memory_while_loading_is_a_grader_error_where_a_check_needs_it(klass, tmp_path,
                                                                                       small_cgroup):
    out = tmp_path / "out"
    run = _grade_in(small_cgroup, _with_bce(tmp_path / "load_hoarder", klass, LOAD_HOARDER), out,
                    "dcgan.bce,dcgan.generator")
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-3000:]
    tests = {t["name"].split(":")[0]: t for t in json.loads((out / "results.json").read_text())["tests"]}
    assert tests["dcgan.bce"]["output"].startswith("grader error (this machine, not your code)"), tests["dcgan.bce"]
    assert tests["dcgan.generator"]["status"] == "passed"  # it does not need the block that was killed


def test_a_students_own_sigkill_is_charged_to_the_student(klass, tmp_path):
    submission = _with_bce(tmp_path / "self_killer", klass, SELF_KILLER)
    out = tmp_path / "out"
    run = _run("-m", "autograder", "grade", str(submission), "--out", str(out), "--device", "cpu", "--only", "dcgan.bce")
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    output = results["tests"][0]["output"]
    assert "SIGKILL" in output and "your code killed its own process" in output, output
    assert "grader_error" not in results.get("extra_data", {})
