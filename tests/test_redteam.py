"""Red-team attacks on the grader (tests/redteam/): hostile part files written by a student who
read the grader's code. Each test grades one attack in the sandbox (bwrap, as `grade` and `batch`
do) and asserts the GUARANTEE the attack goes after. All four broke it when written (commits
f735ce5, 9793fb2, strict xfails); each now passes with its fix (zygote._forget_other_checks,
conventions.bce_nodes, Namespace.ask, report.drawn). The part files build on the reference (`from reference.partN import *`),
inlined as tests/test_faults.py does (a student's process cannot read reference/).
"""
import json
import os
from pathlib import Path

import pytest

from autograder.rubric import ROOT
from test_faults import PARTS, inline_reference

REDTEAM_DIR = ROOT / "tests" / "redteam"
LIMITS_FILE = ROOT / "tests" / "attacks" / "limits.yml"  # small limits: attacks hit them in seconds


def materialize(attack, dest):
    """tests/redteam/<attack>/ completed with the reference's other parts, as a submission folder."""
    dest.mkdir(parents=True)
    for part in PARTS:
        own = REDTEAM_DIR / attack / f"{part}.py"
        source = inline_reference(own.read_text()) if own.exists() else (ROOT / "reference" / f"{part}.py").read_text()
        (dest / f"{part}.py").write_text(source)
    return dest


def grade(folder, ids):
    from autograder.sandbox import Sandbox
    with Sandbox(device="cpu", limits=str(LIMITS_FILE)) as box:
        return {s.id: s for s in box.grade(folder, ids).scored}


def test_hidden_checks_do_not_reach_the_students_output(tmp_path):
    scored = grade(materialize("hidden_leak", tmp_path / "hidden_leak"), ["dcgan.bce"])
    bce = scored["dcgan.bce"]
    assert not bce.passed
    text = bce.message + json.dumps(bce.details)
    assert "LEAKED[" in text, text[:500]  # the attack ran and reported
    assert "width_arguments" not in text and "('nz', 10)" not in text, text[:1000]


def test_torch_bce_in_bce_is_failed_control(tmp_path):
    """Control of bce_unrecorded: torch's BCE called plainly is seen and failed."""
    folder = materialize("bce_unrecorded", tmp_path / "plain")
    source = (folder / "part1_dcgan.py").read_text()
    (folder / "part1_dcgan.py").write_text(source.replace("with torch._C.DisableTorchFunction():", "if True:"))
    bce = grade(folder, ["dcgan.bce"])["dcgan.bce"]
    assert not bce.passed and "bce calls" in bce.message, bce.message


def test_torch_bce_hidden_from_the_mode_is_failed(tmp_path):
    bce = grade(materialize("bce_unrecorded", tmp_path / "bce_unrecorded"), ["dcgan.bce"])["dcgan.bce"]
    assert not bce.passed and "bce calls" in bce.message, bce.message


@pytest.mark.slow
def test_a_self_killed_wrong_check_is_not_excused_as_a_grader_error(tmp_path):
    from autograder import isolation
    from autograder.batch import grade_batch
    why = isolation.memory_cgroup_available()
    if why:
        pytest.skip(why)  # the attack needs the memory cgroups that make the OOM kills harmless to the machine
    submissions = tmp_path / "class"
    for name in ("oom_maker", "self_killer"):
        materialize(f"oom_excuse/{name}", submissions / name)
    records = grade_batch(submissions, tmp_path / "out", jobs=2, device="cpu", only=["dcgan.bce"],
                          limits=str(LIMITS_FILE), log=open(os.devnull, "w"))
    record = {r["extra_data"]["student_id"]: r for r in records}["self_killer"]
    test = record["tests"][0]
    assert test["status"] == "failed"
    assert not record["extra_data"].get("grader_error"), record["extra_data"].get("grader_error")
    assert "grader error" not in test["output"], test["output"]


@pytest.mark.slow
def test_a_students_details_cannot_stall_the_grading_process(tmp_path):
    import subprocess
    import sys
    import time
    folder = materialize("report_cpu", tmp_path / "report_cpu")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    started = time.monotonic()
    try:
        run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(folder), "--device", "cpu", "--only",
                              "dcgan.bce", "--limits", str(LIMITS_FILE), "--out", str(tmp_path / "out")],
                             env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail(f"`grade` of one check did not finish within 60 s ({time.monotonic() - started:.0f} s)")
    assert run.returncode == 0, run.stderr[-2000:]
