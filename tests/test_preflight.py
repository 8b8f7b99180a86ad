"""A fault of the machine is a grader error found before any student is graded, never a student's 0
(issue 12): CUDA asked for and unusable, an output folder that cannot be written, a full disk.
CUDA is made unusable with CUDA_VISIBLE_DEVICES="" (what a runner without a driver looks like to
torch), so these tests hold on a GPU machine as well."""
import os
import shutil
import subprocess
import sys

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
