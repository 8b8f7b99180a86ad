"""Hostile submissions (tests/attacks/) graded in ONE batch beside an honest classmate.

Each attack folder holds a part file written as a hostile classmate would (tests/attacks/README.md);
the test completes it with the reference's other parts, adds the honest classmate (the reference,
marked with a random string) and a submission of symbolic links, sets a fake secret in the
grader's environment, and grades them all with `autograder.batch` at two jobs. Only the few checks
the attacks need are graded (cgan.onehot and vae.kl show that the other parts are untouched).
"""
import json
import os
import secrets
import shutil
from pathlib import Path

import pytest

from autograder.batch import grade_batch
from autograder.rubric import ROOT
from test_faults import PARTS, inline_reference

ATTACKS_DIR = ROOT / "tests" / "attacks"
LIMITS_FILE = ATTACKS_DIR / "limits.yml"
IDS = ["dcgan.bce", "dcgan.d_loss", "cgan.onehot", "vae.kl"]
HONEST = "honest"
LINKS = "symlinks"
# attack -> {rubric id that must fail: words its message must contain}; every other graded check passes.
ATTACKS = {
    "pipes_of_others": {"dcgan.bce": "verdict"},  # it forged its own pipe's lines: its own check fails
    "proc_mem": {"dcgan.bce": "memory read"},
    "signals": {"dcgan.bce": "still alive"},
    "secrets": {"dcgan.bce": "found"},
    "sysv_shm": {"dcgan.bce": "memory limit"},
    "orphans": {},
    "huge_messages": {"dcgan.bce": "RuntimeError", "dcgan.d_loss": "answer too large"},
    "tiny_lines": {"dcgan.bce": "too many messages"},
    "not_object": {},
    "clock_reset": {"dcgan.bce": "timed out"},
    "memfd": {"dcgan.bce": "memory limit"},
    LINKS: {"dcgan.bce": "symbolic link", "dcgan.d_loss": "symbolic link", "vae.kl": "symbolic link"},
}


def _sysv_ids():
    return {kind: {line.split()[1] for line in Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]}
            for kind in ("shm", "msg", "sem")}


def _marked_processes():
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if b"autograder-attack-sleeper" in (entry / "cmdline").read_bytes():
                    found.append(entry.name)
            except OSError:
                continue
    return found


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("attacks")
    submissions = base / "class"
    marker = f"honest-classmate-{secrets.token_hex(8)}"
    honest = submissions / HONEST
    honest.mkdir(parents=True)
    for part in PARTS:
        source = (ROOT / "reference" / f"{part}.py").read_text()
        (honest / f"{part}.py").write_text(f"{source}\nMARKER = {marker!r}\n")
    for name in sorted(set(ATTACKS) - {LINKS}):
        folder = submissions / name
        folder.mkdir()
        for part in PARTS:
            own = ATTACKS_DIR / name / f"{part}.py"
            reference = ROOT / "reference" / f"{part}.py"
            source = inline_reference(own.read_text()) if own.exists() else reference.read_text()
            (folder / f"{part}.py").write_text(source)
    links = submissions / LINKS
    links.mkdir()
    (links / "part1_dcgan.py").symlink_to(ROOT / "reference" / "part1_dcgan.py")
    (links / "part2_cgan.py").write_text((ROOT / "reference" / "part2_cgan.py").read_text())
    (links / "part3_vae.py").symlink_to(Path("..") / HONEST / "part3_vae.py")
    secret = f"grader-secret-{secrets.token_hex(8)}"
    before = _sysv_ids()
    saved = os.environ.get("GRADER_SECRET")
    os.environ["GRADER_SECRET"] = secret
    try:
        out = base / "out"
        records = grade_batch(submissions, out, jobs=2, device="cpu", only=IDS, limits=str(LIMITS_FILE),
                              log=open(os.devnull, "w"))
    finally:
        if saved is None:
            os.environ.pop("GRADER_SECRET")
        else:
            os.environ["GRADER_SECRET"] = saved
    outputs = {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    yield {"records": {r["extra_data"]["student_id"]: r for r in records}, "outputs": outputs, "marker": marker,
           "secret": secret, "before": before, "out": out}
    shutil.rmtree(base, ignore_errors=True)


def _by_id(record):
    return {t["name"].split(":", 1)[0]: t for t in record["tests"]}


@pytest.mark.slow
def test_the_honest_classmate_keeps_full_marks(graded):
    record = graded["records"][HONEST]
    assert record["score"] == record["extra_data"]["max_score"] > 0, [
        t["output"] for t in record["tests"] if t["status"] != "passed"]
    assert not record["extra_data"].get("grader_error")


@pytest.mark.slow
def test_every_submission_is_graded(graded):
    assert set(graded["records"]) == {HONEST, *ATTACKS}
    assert not [s for s, r in graded["records"].items() if r["extra_data"].get("grader_error")]


@pytest.mark.slow
@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_attack_gets_a_bounded_valid_report_failing_only_what_it_earned(graded, attack):
    text = graded["outputs"][f"students/{attack}/results.json"]
    assert len(text) < 300_000, len(text)
    record = json.loads(text)
    tests = _by_id(record)
    assert list(tests) == IDS
    for rubric_id, words in ATTACKS[attack].items():
        assert tests[rubric_id]["status"] == "failed", (attack, rubric_id)
        output = tests[rubric_id]["output"]
        assert words.lower() in output.lower(), (attack, rubric_id, output[:500])
    wrongly = {i: t["output"][:300] for i, t in tests.items() if i not in ATTACKS[attack] and t["status"] != "passed"}
    assert not wrongly, f"{attack} must leave its other checks alone: {wrongly}"


@pytest.mark.slow
def test_no_secret_and_no_classmate_byte_in_any_output(graded):
    for name, data in graded["outputs"].items():
        assert graded["secret"].encode() not in data, name
        # The classmate's code is in their own folder and in the instructor's similarity report (which
        # shows code side by side, by design), nowhere a student sees.
        if not name.startswith((f"students/{HONEST}/", "similarity.")):
            assert graded["marker"].encode() not in data, name
        assert b"width_arguments" not in data or name.endswith(("summary.json", "checks.csv")) or \
            b"nz=10" not in data, name  # the hidden checks' code (their titles are only in the class outputs)


@pytest.mark.slow
def test_nothing_outlives_the_grading(graded):
    assert not _marked_processes()
    after = _sysv_ids()
    assert all(after[k] <= graded["before"][k] for k in after), (graded["before"], after)


@pytest.mark.slow
def test_the_clocks_hold_whatever_the_child_says(graded):
    """A check stops at its cap (check budget + a load of each part: 40 s here) however many phase
    messages it sends; huge messages and millions of lines cost seconds, not minutes. The bound is
    the submission's whole grading: that cap, and three probes and three checks on a loaded machine."""
    for attack in ("clock_reset", "huge_messages", "tiny_lines"):
        seconds = graded["records"][attack]["extra_data"]["seconds"]
        assert seconds < 40 + 110, (attack, seconds)


@pytest.mark.slow
def test_the_secrets_attack_finds_them_without_the_namespace(tmp_path, monkeypatch):
    """The control of `secrets`: graded with `--isolation container` (no namespace: what a machine
    that grades one submission and is thrown away gives), the same code does find the grader's
    secret (in its processes' /proc/<pid>/environ) and grading.yml."""
    from autograder.sandbox import Sandbox
    secret = f"grader-secret-{secrets.token_hex(8)}"
    monkeypatch.setenv("GRADER_SECRET", secret)
    folder = tmp_path / "secrets"
    folder.mkdir()
    for part in PARTS:
        own = ATTACKS_DIR / "secrets" / f"{part}.py"
        reference = ROOT / "reference" / f"{part}.py"
        (folder / f"{part}.py").write_text(inline_reference(own.read_text()) if own.exists() else reference.read_text())
    with Sandbox(device="cpu", limits=str(LIMITS_FILE), isolation="container") as box:
        graded = box.grade(folder, ["dcgan.bce"])
    message = graded.scored[0].message
    assert graded.fingerprint["isolation"]["mode"] == "container"
    assert secret in message, message[:2000]


def test_memory_no_process_shows_is_capped_by_the_kernel(tmp_path):
    """The memfd attack alone (fast): stopped by the namespace's memory cgroup and charged to its
    check as the student's memory limit, never a grader error; the submission's other check passes.
    Where no cgroup can be made the pre-flight says so (isolation.memory_cgroup_available)."""
    from autograder import isolation
    from autograder.sandbox import Sandbox
    why = isolation.memory_cgroup_available()
    if why:
        pytest.skip(why)
    folder = tmp_path / "memfd"
    folder.mkdir()
    for part in PARTS:
        own = ATTACKS_DIR / "memfd" / f"{part}.py"
        reference = ROOT / "reference" / f"{part}.py"
        (folder / f"{part}.py").write_text(inline_reference(own.read_text()) if own.exists() else reference.read_text())
    with Sandbox(device="cpu", limits=str(LIMITS_FILE)) as box:
        graded = box.grade(folder, ["dcgan.bce", "vae.kl"])
    bce, kl = graded.scored
    assert not bce.passed and "memory limit" in bce.message and "grader_error" not in bce.details, bce.message
    assert kl.passed, kl.message
