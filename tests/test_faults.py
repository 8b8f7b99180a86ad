"""Hostile and broken submissions (tests/faults/) graded in the sandbox, as a class, in one batch.

Each fault folder holds the part file(s) that differ from the reference (tests/faults/README.md);
the other parts are the reference's. Every fault must give a complete, valid report (strict JSON,
every rubric item) within the configured limits, the affected checks failed with a message that
says what happened, and every other check graded as usual (passed: the rest is the reference).
cgan.training is left out (it trains for minutes; its isolation is that of every other check).
"""
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from autograder.batch import grade_batch
from autograder.checks.registry import rubric_ids
from autograder.rubric import ROOT, load_limits, load_rubric

FAULTS_DIR = ROOT / "tests" / "faults"
LIMITS_FILE = FAULTS_DIR / "limits.yml"
PARTS = tuple(load_rubric()["parts"])
SKIP = rubric_ids(load_rubric(), trains=True)
CONTROL = "control_reference"  # the reference itself, graded alongside: full marks

# fault -> {rubric id that must fail: words its message must contain}; every other check passes.
FAULTS = {
    "syntax_error": {"dcgan.bce": "SyntaxError"},
    "missing_module": {"vae.kl": "ModuleNotFoundError"},
    "loop_at_import": {"dcgan.bce": "timed out"},
    "loop_in_forward": {"dcgan.discriminator": "timed out", "dcgan.width_arguments_discriminator": "timed out"},
    "loop_in_loss": {"dcgan.d_loss": "timed out"},
    "huge_allocation": {"vae.kl": "memory limit"},
    "memory_growth": {"vae.loss": "memory limit"},
    "nan_outputs": {"dcgan.bce": "nan", "dcgan.g_loss": "nan"},  # g_losses_gradients: g_loss is charged once
    "sys_exit_import": {},
    "sys_exit_in_check": {"dcgan.d_loss": "exited"},
    "os_exit_import": {"cgan.onehot": "exited"},
    "os_exit_in_check": {"dcgan.d_loss": "exited"},
    "keyboard_interrupt": {"dcgan.g_loss": "exited", "dcgan.g_losses_gradients": "exited"},
    "huge_print": {"dcgan.bce": "output too large", "dcgan.g_loss_minimax": "output too large",
                   "dcgan.g_losses_gradients": "output too large"},
    "endless_threads": {},
    "monkeypatch_torch": {"dcgan.d_loss": "replaced torch.allclose", "dcgan.g_loss": "while this check ran",
                          "dcgan.g_losses_gradients": "while this check ran"},
    "monkeypatch_autograder": {"vae.kl": "without the factor 1/2", "vae.loss": "without the KL",
                               "vae.reparameterize": "while this check ran"},
    "fake_results": {},
    "network": {"vae.kl": "network refused"},
    "segfault": {"dcgan.g_loss_minimax": "SIGSEGV", "dcgan.g_losses_gradients": "SIGSEGV"},
    "subprocess_spawn": {},
    "snooping": {"dcgan.bce": "snooped: nothing"},
    "huge_answer": {"dcgan.bce": "answer too large"},
    "forged_grader_error": {"dcgan.bce": "if your code did not cause this", "dcgan.d_loss": "forged"},
    "deep_folder": {},
    "forged_verdict": {"dcgan.d_loss": "sent the grader a verdict", "dcgan.g_loss": "could not read",
                       "dcgan.g_losses_gradients": "could not read"},
}
# What the load probe must have skipped: fault -> [(part, words in the reason)].
SKIPPED_AT_LOAD = {
    "loop_at_import": [("part1_dcgan", "timed out")],
    "os_exit_import": [("part2_cgan", "exited"), ("part2_cgan", "exit status 3")],
}


REFERENCE_IMPORT = re.compile(r"^from reference\.(\w+) import (\*|(\w+) as (\w+)).*$", re.M)
REFERENCE_MODULE = """_reference_{part} = globals().get("_reference_{part}")
if _reference_{part} is None:
    import types as _types
    _reference_{part} = _types.ModuleType("{part}")
    exec(compile({source!r}, "reference/{part}.py", "exec"), vars(_reference_{part}))
"""


def inline_reference(source):
    """A fault file builds on the reference's part (`from reference.partN import *`, `... import x as
    _x`); a student's process cannot read reference/, so each import becomes the reference's code,
    run in a module of its own as an import would (its functions keep calling the reference's)."""
    def replace(match):
        part, star, name, alias = match.groups()
        module = REFERENCE_MODULE.format(part=part, source=(ROOT / "reference" / f"{part}.py").read_text())
        if star == "*":
            return module + f"globals().update({{k: v for k, v in vars(_reference_{part}).items() if k[0] != '_'}})"
        return module + f"{alias} = _reference_{part}.{name}"
    return REFERENCE_IMPORT.sub(replace, source)


def materialize(dest, names=None, control=True):
    """The corpus as a class: one folder per fault, completed with the reference's other parts."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in names or sorted(FAULTS):
        folder = dest / name
        folder.mkdir()
        for part in PARTS:
            own = FAULTS_DIR / name / f"{part}.py"
            source = inline_reference(own.read_text()) if own.exists() else (ROOT / "reference" / f"{part}.py").read_text()
            (folder / f"{part}.py").write_text(source)
    if control:
        shutil.copytree(ROOT / "reference", dest / CONTROL, ignore=shutil.ignore_patterns("__pycache__", "demo.py"))
    return dest


def worst_case_seconds(limits, n_checks):
    """The bound a submission's grading must stay under: every probe restarting as often as allowed,
    every check using its whole budget plus a load of each part, and some slack per child."""
    load = limits["load_seconds"] + 2
    probes = len(PARTS) * (limits["probe_restarts"] + 1) * load
    return probes + n_checks * (limits["check_seconds"] + 2) + 60


def test_the_corpus_is_the_one_tested():
    on_disk = {p.name for p in FAULTS_DIR.iterdir() if p.is_dir() and not p.name.startswith(("_", "."))}
    assert on_disk == set(FAULTS), "tests/faults/ and FAULTS disagree"


def test_isolation_smoke(tmp_path):
    """A quick pass over three faults (the whole corpus below is marked slow): a hang, an exit and
    a huge allocation each cost their own check only."""
    from autograder.sandbox import Sandbox
    names = ["loop_in_loss", "os_exit_in_check", "huge_allocation"]
    folders = materialize(tmp_path / "class", names, control=False)
    with Sandbox(device="cpu", limits=str(LIMITS_FILE), threads=1) as box:
        results = {n: {s.id: s for s in box.grade(folders / n, ["dcgan.d_loss", "dcgan.bce", "vae.kl"]).scored}
                   for n in names}
    assert "timed out" in results["loop_in_loss"]["dcgan.d_loss"].message
    assert "exited" in results["os_exit_in_check"]["dcgan.d_loss"].message
    assert "memory limit" in results["huge_allocation"]["vae.kl"].message
    assert results["loop_in_loss"]["vae.kl"].passed and results["huge_allocation"]["dcgan.d_loss"].passed
    assert all(results[n]["dcgan.bce"].passed for n in names)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The whole corpus graded by one batch at --jobs 2: {student: results.json}, and timings."""
    base = tmp_path_factory.mktemp("faults")
    submissions = materialize(base / "class")
    out = base / "out"
    started = time.monotonic()
    records = grade_batch(submissions, out, jobs=2, device="cpu", skip=SKIP, limits=str(LIMITS_FILE),
                          log=open(os.devnull, "w"))
    wall = time.monotonic() - started
    texts = {p.parent.name: p.read_text() for p in (out / "students").glob("*/results.json")}
    return {"records": {r["extra_data"]["student_id"]: r for r in records}, "texts": texts, "wall": wall,
            "out": out}


def _strict(text):
    def refuse(constant):
        raise ValueError(f"{constant} is not JSON")
    return json.loads(text, parse_constant=refuse)


def _by_id(record):
    return {t["name"].split(":", 1)[0]: t for t in record["tests"]}


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_gives_a_complete_valid_report(graded, fault):
    results = _strict(graded["texts"][fault])
    expected_ids = [i for i in load_rubric()["checks"] if i not in SKIP]
    assert [t["name"].split(":", 1)[0] for t in results["tests"]] == expected_ids
    for test in results["tests"]:
        assert test["status"] in ("passed", "failed") and isinstance(test["output"], str)
        assert test["score"] == (test["max_score"] if test["status"] == "passed" else 0)
    assert results["score"] == sum(t["score"] for t in results["tests"])
    assert not results["extra_data"].get("grader_error"), results["extra_data"].get("grader_error")


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_fault_fails_only_the_checks_it_touches_saying_what_happened(graded, fault):
    tests = _by_id(graded["records"][fault])
    for rubric_id, words in FAULTS[fault].items():
        assert tests[rubric_id]["status"] == "failed", f"{fault}: {rubric_id} should fail"
        assert words.lower() in tests[rubric_id]["output"].lower(), (fault, rubric_id, tests[rubric_id]["output"])
    wrongly_failed = {i: t["output"] for i, t in tests.items() if i not in FAULTS[fault] and t["status"] != "passed"}
    assert not wrongly_failed, f"{fault} must leave the other checks alone: {wrongly_failed}"


@pytest.mark.slow
def test_the_reference_beside_the_faults_gets_full_marks(graded):
    record = graded["records"][CONTROL]
    assert record["score"] == record["extra_data"]["max_score"], [
        t["output"] for t in record["tests"] if t["status"] != "passed"]


@pytest.mark.slow
@pytest.mark.parametrize("fault", sorted(SKIPPED_AT_LOAD))
def test_the_load_probe_skips_what_hangs_or_ends_the_process(graded, fault):
    parts = graded["records"][fault]["extra_data"]["parts"]
    for part, words in SKIPPED_AT_LOAD[fault]:
        assert any(words in reason for reason in parts[part]["skipped"].values()), parts[part]


@pytest.mark.slow
def test_grading_stays_within_the_limits(graded):
    limits = load_limits(load_rubric(), str(LIMITS_FILE))
    n_checks = len(load_rubric()["checks"]) - len(SKIP)
    bound = worst_case_seconds(limits, n_checks)
    # Each student's report says how long its grading took (Graded.seconds): within the bound.
    per_student = {s: r["extra_data"].get("seconds", 0) for s, r in graded["records"].items()}
    assert all(v <= bound for v in per_student.values()), (per_student, bound)
    # The whole batch: the students split between 2 workers, plus the servers' start.
    assert graded["wall"] <= bound * len(graded["records"]) / 2 + 120
    # What the timeouts cost: one check's budget each, not more.
    slow = {s: v for s, v in per_student.items() if s not in ("loop_at_import", "loop_in_forward", "loop_in_loss")}
    assert max(slow.values()) < limits["check_seconds"] * 3 + 60, slow


@pytest.mark.slow
def test_monkeypatching_at_import_is_undone_and_named(graded):
    parts = graded["records"]["monkeypatch_autograder"]["extra_data"]["parts"]["part3_vae"]
    assert {"autograder.checks.registry.run_check", "autograder.checks.diagnose.agrees"} <= set(parts["tampered"])
    # The load probe holds no check; the child of vae.kl holds that one, and names its replacement.
    kl = next(t for t in graded["records"]["monkeypatch_autograder"]["tests"] if t["name"].startswith("vae.kl:"))
    assert "REGISTRY['vae.kl']" in kl["output"]
    assert "torch.allclose" in graded["records"]["monkeypatch_torch"]["extra_data"]["parts"]["part1_dcgan"]["tampered"]


@pytest.mark.slow
def test_no_process_outlives_the_batch(graded):
    """Threads that never end, a forked child, a detached sleeper: all gone with their check, and
    the sandbox servers and the namespaces with the batch."""
    def descendants(pid):
        found = []
        for task in Path(f"/proc/{pid}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            for child in children:
                found += [child] + descendants(child)
        return found

    assert not descendants(os.getpid())
    sleepers = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"autograder-fault-sleeper" in (entry / "cmdline").read_bytes():
                    sleepers.append(entry.name)
            except OSError:
                continue
    assert not sleepers


def test_only_the_grader_says_grader_error(tmp_path):
    """Verdict provenance (docs/batch.md, "Who may say what"): lines that only the grader's own code
    should send, forged by student code, and a work folder too deep to remove recursively, cost the
    student the check they were written in (or nothing), never a grader error; the other checks of
    the submission are graded as usual."""
    from autograder.sandbox import Sandbox
    names = ["forged_grader_error", "deep_folder"]
    folders = materialize(tmp_path / "class", names, control=False)
    ids = ["dcgan.bce", "dcgan.d_loss", "dcgan.g_loss", "vae.kl", "vae.reparameterize"]
    with Sandbox(device="cpu", limits=str(LIMITS_FILE), threads=1) as box:
        graded = {n: box.grade(folders / n, ids) for n in names}
    for name in names:
        for scored in graded[name].scored:
            assert "grader_error" not in scored.details, (name, scored.id, scored.details)
            assert "grader error" not in scored.message.lower(), (name, scored.id, scored.message)
            expected = FAULTS[name].get(scored.id)
            assert scored.passed == (expected is None), (name, scored.id, scored.message)
            assert expected is None or expected in scored.message, (name, scored.id, scored.message)
        assert not any(p["failed"] for p in graded[name].parts.values()), graded[name].parts


def test_fake_results_never_replace_the_graders(tmp_path):
    """The fault writes a full-marks results.json everywhere it can guess, the grading output
    folder included (/tmp/autograder-fault-out): the reports there are the grader's, and nothing
    landed outside the child's own working directory."""
    out = Path("/tmp/autograder-fault-out")
    shutil.rmtree(out, ignore_errors=True)
    for stale in (Path("/tmp/results.json"),):
        stale.unlink(missing_ok=True)
    submission = materialize(tmp_path / "class", ["fake_results"], control=False) / "fake_results"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    run = subprocess.run([sys.executable, "-m", "autograder", "grade", str(submission), "--out", str(out),
                          "--only", "cgan.onehot,cgan.prior,vae.kl", "--limits", str(LIMITS_FILE)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    results = _strict((out / "results.json").read_text())
    assert [t["status"] for t in results["tests"]] == ["passed"] * 3 and results["score"] == 4
    assert "hacked" not in (out / "results.json").read_text()
    assert not Path("/tmp/results.json").exists()
    assert not Path("/autograder/results/results.json").exists()
    assert "hacked" not in (ROOT / "grading-output" / "results.json").read_text() \
        if (ROOT / "grading-output" / "results.json").exists() else True


def test_the_memory_watch_stops_what_rlimit_as_would_not(tmp_path):
    """On CUDA there is no RLIMIT_AS (CUDA needs the address space): the server's watch of the
    child's resident memory must stop a growing list. Simulated on the CPU."""
    from autograder.sandbox import Sandbox
    submission = materialize(tmp_path / "class", ["memory_growth"], control=False) / "memory_growth"
    env = {**os.environ, "AUTOGRADER_SANDBOX_RSS_ONLY": "1"}
    with Sandbox(device="cpu", limits=str(LIMITS_FILE), threads=1, env=env) as box:
        graded = box.grade(submission, ["vae.loss", "vae.kl"])
    loss, kl = (next(s for s in graded.scored if s.id == i) for i in ("vae.loss", "vae.kl"))
    assert not loss.passed and "memory limit exceeded" in loss.message and "MB" in loss.message, loss.message
    assert kl.passed
    assert graded.fingerprint["isolation"]["memory"].startswith("RSS watch")


def test_limits_come_from_grading_yml_and_can_be_overridden():
    rubric = load_rubric()
    limits = load_limits(rubric)
    assert limits["check_seconds"] == rubric["limits"]["check_seconds"]
    assert limits["checks"]["cgan.training"] >= 600
    small = load_limits(rubric, str(LIMITS_FILE))
    assert small["check_seconds"] == yaml.safe_load(LIMITS_FILE.read_text())["limits"]["check_seconds"]
    assert small["checks"] == limits["checks"]  # overrides merge, they do not drop the per-check ones
    with pytest.raises(ValueError):
        load_limits(rubric, {"wall_clock": 3})


@pytest.mark.slow
@pytest.mark.parametrize("style", ["explicit_functional", "notebook_tutorial"])
def test_the_sandbox_gives_the_in_process_verdicts(style):
    """Isolation changes where the code runs, not what is judged: a style variant of the
    reference (tests/submissions/) gets the same verdicts and messages both ways."""
    from autograder.score import grade
    ids = [i for i in load_rubric()["checks"] if i not in SKIP]
    folder = ROOT / "tests" / "submissions" / style
    in_process = grade(folder, ids, device="cpu").scored
    graded = grade(folder, ids, device="cpu", isolation="bwrap")
    isolated = graded.scored
    assert [(s.id, s.passed, s.message) for s in isolated] == [(s.id, s.passed, s.message) for s in in_process]
    assert not any(p["skipped"] or p["failed"] or p["tampered"] for p in graded.parts.values())


def test_the_snooping_fault_finds_the_answers_without_the_sandbox(tmp_path):
    """The control for `snooping` ("snooped: nothing" in the sandbox): graded in this process, the
    same code does find the checks, the hidden module and the expected values."""
    from autograder.score import grade
    folder = materialize(tmp_path, ["snooping"], control=False) / "snooping"
    (scored,) = grade(folder, ["dcgan.bce"]).scored
    assert "snooped:" in scored.message and "snooped: nothing" not in scored.message, scored.message
    assert "hidden checks' module" in scored.message and "expected values" in scored.message
