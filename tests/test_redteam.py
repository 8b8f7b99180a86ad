"""Red-team attacks on the grader (tests/redteam/): hostile part files written by a student who
read the grader's code. Each test grades one attack in the sandbox (bwrap, as `grade` and `batch`
do) and asserts the GUARANTEE the attack goes after. All four broke it when written (commits
f735ce5, 9793fb2, strict xfails); each now passes with its fix (tamper.forget_other_checks,
conventions.bce_nodes, Namespace.ask, report.drawn). The part files build on the reference (`from reference.partN import *`),
inlined as tests/test_faults.py does (a student's process cannot read reference/).

Second round (branch redteam2, after those fixes): nan_poison, surrogate_message, judge_quadratic and
hidden_via_tmp broke their guarantees when written (strict xfails in f7b6ee4); each now passes with its fix
(a non-finite answer fails weights_init and prior; sandbox.encodable; steps.MAX_ROWS and a judge's failure
worded as the student's; Zygote._reset_tmp). A control checks that nan_poison's wrong answers fail
without their NaN.
"""
import json
import os

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


# ---- second round (branch redteam2) ----


def without_nan(folder):
    """The nan_poison attack less its NaN lines: the plain wrong answers (the control)."""
    source = (folder / "part1_dcgan.py").read_text()
    kept = [line for line in source.splitlines() if 'float("nan")' not in line]
    (folder / "part1_dcgan.py").write_text("\n".join(kept) + "\n")
    return folder


def test_wrong_init_and_prior_fail_control(tmp_path):
    """Control of nan_poison: the same wrong weights_init (PyTorch's default init, shifts 0.5) and prior
    (torch.rand) without their one NaN fail."""
    scored = grade(without_nan(materialize("nan_poison", tmp_path / "plain")), ["dcgan.weights_init", "dcgan.prior"])
    assert not scored["dcgan.weights_init"].passed, scored["dcgan.weights_init"].message
    assert not scored["dcgan.prior"].passed, scored["dcgan.prior"].message


def test_a_nan_does_not_pass_a_wrong_init_or_prior(tmp_path):
    scored = grade(materialize("nan_poison", tmp_path / "nan_poison"), ["dcgan.weights_init", "dcgan.prior"])
    assert not scored["dcgan.weights_init"].passed and not scored["dcgan.prior"].passed, \
        {i: (s.passed, s.message[:200]) for i, s in scored.items()}


def test_a_surrogate_in_a_message_is_the_students_fail_and_the_batch_completes(tmp_path):
    from autograder.batch import grade_batch
    submissions = tmp_path / "class"
    materialize("surrogate_message", submissions / "surrogate")
    out = tmp_path / "out"
    records = grade_batch(submissions, out, jobs=1, device="cpu", only=["dcgan.bce"], limits=str(LIMITS_FILE),
                          log=open(os.devnull, "w"))
    record = records[0]
    assert record["tests"][0]["status"] == "failed"
    assert not record["extra_data"].get("grader_error"), record["extra_data"].get("grader_error")
    assert (out / "students" / "surrogate" / "report.html").exists()
    assert (out / "checks.csv").exists() and (out / "summary.json").exists()


def test_a_surrogate_in_a_message_does_not_crash_grade(tmp_path):
    import subprocess
    import sys
    folder = materialize("surrogate_message", tmp_path / "surrogate")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(folder), "--device", "cpu", "--only",
                          "dcgan.bce", "--limits", str(LIMITS_FILE), "--out", str(tmp_path / "out")],
                         env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert json.loads((tmp_path / "out" / "results.json").read_text())["tests"][0]["status"] == "failed"


@pytest.mark.slow
def test_an_answer_too_costly_to_judge_is_the_students_fail(tmp_path):
    step = grade(materialize("judge_quadratic", tmp_path / "judge_quadratic"), ["dcgan.d_step"])["dcgan.d_step"]
    assert not step.passed
    assert "grader error" not in step.message, step.message


def test_hidden_checks_do_not_reach_a_later_check_through_tmp(tmp_path):
    scored = grade(materialize("hidden_via_tmp", tmp_path / "hidden_via_tmp"),
                   ["dcgan.width_arguments_generator", "cgan.onehot"])
    onehot = scored["cgan.onehot"]
    text = onehot.message + json.dumps(onehot.details)
    assert "LEAKED[" in text, text[:500]  # the attack ran and reported
    assert "width_arguments" not in text and "nz=10" not in text, text[:1000]


def test_a_judges_figures_are_kept_and_a_childs_are_dropped():
    """The fix of report_cpu is at the child's door only: a judge's own sample grid, loss curves and band
    reach the report (sandbox._judge), the same keys sent by a child do not."""
    from autograder.sandbox import judged_details, student_details
    details = {"your_samples": [[0.5]], "your_D_losses": [1.0], "fid": 10.0, "reference_fid": 9.0, "run": "FID 10"}
    assert judged_details(details) == details
    assert student_details(details) == {"run": "FID 10"}
