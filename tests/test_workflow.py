"""The class-grading workflow (.github/workflows/grade.yml) does what its inputs say: its steps'
shell scripts, taken from the YAML, run here with the inputs GitHub would give them.

No runner: the GPU pre-flight runs on this machine's torch with the GPUs hidden, as on a runner
whose driver is missing; the steps that use actions (download-artifact) are checked for the
inputs those actions need.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
WORKFLOW = yaml.safe_load((ROOT / ".github" / "workflows" / "grade.yml").read_text())
JOBS = WORKFLOW["jobs"]


def _step(job, name):
    (step,) = [s for s in JOBS[job]["steps"] if name in (s.get("name", ""), s.get("id", ""))]
    return step


def _bash(script, tmp_path, **env):
    output = tmp_path / "github_output"
    run = subprocess.run(["bash", "-e", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "GITHUB_OUTPUT": str(output), "RUNNER_NAME": "gpu-7", **env})
    return run, output.read_text() if output.exists() else ""


@pytest.mark.parametrize("inputs, error", [
    ({"SUBMISSIONS": "/shared/subs", "PER_GPU": "4"}, None),
    ({"ARTIFACT": "subs", "RUN_ID": "9876543210", "PER_GPU": "1"}, None),
    ({"ARTIFACT": "subs", "PER_GPU": "4"}, "submissions_artifact needs submissions_run_id"),
    ({"ARTIFACT": "subs", "RUN_ID": "9876543210", "SUBMISSIONS": "/x", "PER_GPU": "4"}, "not both"),
    ({"PER_GPU": "4"}, "give submissions"),
    ({"SUBMISSIONS": "/shared/subs", "PER_GPU": "0"}, "per_gpu must be a positive integer"),
])
def test_the_plan_refuses_inputs_that_cannot_work(tmp_path, inputs, error):
    step = _step("plan", "The inputs make sense")
    assert set(step["env"]) == {"SUBMISSIONS", "ARTIFACT", "RUN_ID", "PER_GPU"}
    run, _ = _bash(step["run"], tmp_path, **{**dict.fromkeys(step["env"], ""), **inputs})
    if error is None:
        assert run.returncode == 0, run.stdout + run.stderr
    else:
        assert run.returncode != 0 and "::error::" in run.stdout and error in run.stdout, run.stdout


def test_an_artifact_of_another_run_is_downloaded_with_its_run_id():
    step = _step("grade", "Submissions from an artifact of run ${{ inputs.submissions_run_id }}")
    assert step["uses"] == "actions/download-artifact@v4"
    assert step["with"]["run-id"] == "${{ inputs.submissions_run_id }}"
    assert step["with"]["github-token"] == "${{ github.token }}"
    assert WORKFLOW["permissions"]["actions"] == "read"  # what the token needs to read another run's artifacts
    assert "submissions_run_id" in WORKFLOW[True]["workflow_dispatch"]["inputs"]


def _venv(tmp_path):
    """The step calls .venv/bin/python: this interpreter's environment, linked there."""
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))


def test_a_runner_without_a_usable_gpu_fails_before_grading(tmp_path):
    _venv(tmp_path)
    steps = JOBS["grade"]["steps"]
    names = [s.get("name", "") for s in steps]
    preflight = names.index("Pre-flight, this runner has a usable GPU")
    assert preflight < min(i for i, n in enumerate(names) if n.startswith("Grade shard"))
    run, output = _bash(steps[preflight]["run"], tmp_path, CUDA_VISIBLE_DEVICES="")
    assert run.returncode != 0
    assert "::error::runner gpu-7: no usable GPU" in run.stdout and "Nothing was graded" in run.stdout
    assert "no usable CUDA GPU (torch " in run.stderr, run.stderr
    assert "count=" not in output


def test_the_shard_grades_gpus_times_per_gpu_at_once(tmp_path):
    step = _step("grade", "Grade shard ${{ matrix.shard }} of ${{ inputs.shards }}")
    assert step["env"]["GPUS"] == "${{ steps.gpus.outputs.count }}"
    fake = tmp_path / ".venv" / "bin" / "python"
    fake.parent.mkdir(parents=True)
    fake.write_text("#!/bin/sh\necho \"ARGS $*\"\n")
    fake.chmod(0o755)
    run, _ = _bash(step["run"], tmp_path, GPUS="2", PER_GPU="4", SHARD="1", SHARDS="3", EXTRA="--skip cgan.training",
                   SUBMISSIONS="/shared/subs")
    assert run.returncode == 0, run.stderr
    assert "2 GPU(s) x 4 per GPU: 8 submissions at once" in run.stdout
    args = run.stdout.split("ARGS ", 1)[1].split()
    assert args[:4] == ["-m", "autograder", "batch", "/shared/subs"]
    assert args[args.index("--jobs") + 1] == "8" and args[args.index("--per-gpu") + 1] == "4"
    assert args[-2:] == ["--skip", "cgan.training"]
