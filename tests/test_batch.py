"""Grading a class: the layouts batch reads, the gradebook and summary it writes, re-runs that skip
what is graded, a failure that does not stop the batch, and shards that merge into one run's outputs.

A few fast checks (ONLY) keep this quick: what is tested is the batch machinery, not the checks.
"""
import csv
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from autograder import batch
from autograder.load import find_parts
from autograder.rubric import ROOT, load_rubric
from autograder.sandbox import SandboxError

ONLY = ["dcgan.bce", "dcgan.d_loss", "cgan.onehot", "vae.kl"]
PARTS = ("part1_dcgan", "part2_cgan", "part3_vae")
LIMITS = str(ROOT / "tests" / "faults" / "limits.yml")
BROKEN_BCE = ("return -(targets * clamped_log(probs) + (1 - targets) * clamped_log(1 - probs)).mean()",
              "return (targets * clamped_log(probs) + (1 - targets) * clamped_log(1 - probs)).mean()")


def _reference(folder, broken=False, suffix=".py"):
    folder.mkdir(parents=True, exist_ok=True)
    for part in PARTS:
        source = (ROOT / "reference" / f"{part}.py").read_text()
        if broken and part == "part1_dcgan":
            assert source.count(BROKEN_BCE[0]) == 1
            source = source.replace(*BROKEN_BCE)
        (folder / f"{part}{suffix}").write_text(source)
    return folder


def make_class(root):
    """Every layout at once: nbgrader's submitted/ tree and a flat folder (zip, subfolder, loose files)."""
    assignment = load_rubric()["assignment"]
    nb = root / "course" / "submitted"
    _reference(nb / "alice" / assignment)
    (nb / "alice" / assignment / "timestamp.txt").write_text("2026-03-01 10:00:00.000000 UTC")
    _reference(nb / "bob" / assignment, broken=True)
    (nb / "bob" / assignment / "timestamp.txt").write_text("2026-03-02 11:30:00.000000 UTC")
    flat = root / "flat"
    flat.mkdir(parents=True)
    nested = _reference(root / "tmp" / "carol_submission")
    with zipfile.ZipFile(flat / "carol.zip", "w") as zf:
        for path in nested.iterdir():
            zf.write(path, f"carol_submission/{path.name}")
        zf.writestr("__MACOSX/carol_submission/._part1_dcgan.py", "junk")
    _reference(flat / "dave" / "deep" / "folder", broken=True)
    for part in PARTS:  # an LMS export: <student>_<id>_<part>.py side by side
        shutil.copyfile(ROOT / "reference" / f"{part}.py", flat / f"erin_12345_{part}.py")
    with zipfile.ZipFile(flat / "mallory.zip", "w") as zf:  # zip-slip: refused, not extracted
        zf.writestr("../../escaped.py", "print('out')")
    return nb.parent, flat


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    course, flat = make_class(root)
    return root, course, flat


@pytest.fixture(scope="module")
def single(klass, tmp_path_factory):
    """The flat class graded in one run, two jobs."""
    _, _, flat = klass
    out = tmp_path_factory.mktemp("single")
    roster = out.parent / "roster.csv"
    roster.write_text("student_id,first_name,last_name,email\ncarol,Carol,Cole,carol@example.edu\n")
    batch.grade_batch(flat, out, jobs=2, device="cpu", only=ONLY, limits=LIMITS, roster=roster,
                      duedate="2026-03-03 00:00:00", log=open(os.devnull, "w"))
    return out


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_discovery_reads_nbgrader_and_flat_layouts(klass, tmp_path):
    _, course, flat = klass
    found = {c.student_id: c for c in batch.discover(course, tmp_path)}
    assert sorted(found) == ["alice", "bob"]
    assert found["alice"].timestamp.startswith("2026-03-01 10:00:00") and found["alice"].source == "nbgrader:alice"
    found = {c.student_id: c for c in batch.discover(flat, tmp_path)}
    assert sorted(found) == ["carol", "dave", "erin_12345", "mallory"]
    # nested folders (carol's zip of tmp/carol_submission/, dave's deep/folder/): found by load's one rule
    parts = {name: find_parts(found[name].path, PARTS) for name in ("carol", "dave")}
    assert parts["carol"]["part1_dcgan"].chosen.parent.name == "carol_submission"
    assert all(f.chosen is not None and f.chosen.parent.name == "folder" for f in parts["dave"].values())
    assert sorted(p.name for p in found["erin_12345"].path.iterdir()) == [f"{p}.py" for p in PARTS]
    assert "outside its folder" in found["mallory"].problem
    assert not (tmp_path.parent / "escaped.py").exists()


def test_the_gradebook_has_nbgraders_columns_and_one_row_per_student(single):
    rows = _rows(single / "gradebook.csv")
    with open(single / "gradebook.csv") as f:
        assert f.readline().strip().split(",") == batch.NBGRADER_COLUMNS
    by_id = {r["student_id"]: r for r in rows}
    assert sorted(by_id) == ["carol", "dave", "erin_12345", "mallory"]
    max_score = sum(load_rubric()["checks"][i]["points"] for i in ONLY)
    assert {r["max_score"] for r in rows} == {f"{max_score:g}"}
    assert by_id["carol"]["raw_score"] == by_id["carol"]["score"] == f"{max_score:g}"
    lost = load_rubric()["checks"]["dcgan.bce"]["points"]  # a wrong bce is charged once: d_loss is judged with the grader's
    assert float(by_id["dave"]["score"]) == max_score - lost
    assert by_id["mallory"]["score"] == "0"
    assert (by_id["carol"]["first_name"], by_id["carol"]["last_name"], by_id["carol"]["email"]) == (
        "Carol", "Cole", "carol@example.edu")
    assert {r["duedate"] for r in rows} == {"2026-03-03 00:00:00"} and {r["assignment"] for r in rows} == {"genmodels"}
    assert all(r["late_submission_penalty"] == "0" for r in rows)


def test_each_student_gets_results_json_and_report_html(single):
    for student in ("carol", "dave", "erin_12345", "mallory"):
        results = json.loads((single / "students" / student / "results.json").read_text())
        assert [t["name"].split(":")[0] for t in results["tests"]] == ONLY
        extra = results["extra_data"]
        assert len(extra["submission_sha256"]) == 64 and len(extra["grader_sha256"]) == 64
        assert (single / "students" / student / "report.html").read_text().startswith("<!doctype html>")
    dave = json.loads((single / "students" / "dave" / "results.json").read_text())
    bce = next(t for t in dave["tests"] if t["name"].startswith("dcgan.bce"))
    assert bce["status"] == "failed" and "minus sign" in bce["output"]


def test_the_summary_gives_pass_rates_and_a_histogram(single):
    summary = json.loads((single / "summary.json").read_text())
    rates = {c["id"]: c["pass_rate"] for c in summary["checks"]}
    # carol and erin pass everything; dave's bce is wrong (his d_loss, judged with the grader's bce,
    # is not); mallory's zip is refused
    assert rates == {"dcgan.bce": 0.5, "dcgan.d_loss": 0.75, "cgan.onehot": 0.75, "vae.kl": 0.75}
    bce = next(c for c in summary["checks"] if c["id"] == "dcgan.bce")
    assert bce["most_common_failure_count"] == 1 and bce["most_common_failure"]
    assert summary["students"] == 4 and sum(summary["histogram"]["counts"]) == 4
    assert [r["id"] for r in _rows(single / "checks.csv")] == ONLY
    assert (single / "histogram.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_rerun_skips_what_is_graded_and_regrades_what_changed(klass, single, tmp_path):
    _, _, flat = klass
    out = tmp_path / "out"
    shutil.copytree(single, out)
    before = {p: p.stat().st_mtime_ns for p in out.glob("students/*/results.json")}
    log = tmp_path / "log.txt"
    with open(log, "w") as f:
        batch.grade_batch(flat, out, jobs=2, device="cpu", only=ONLY, limits=LIMITS, log=f)
    assert "4 already graded, 0 to grade" in log.read_text()
    assert {p: p.stat().st_mtime_ns for p in out.glob("students/*/results.json")} == before
    changed = tmp_path / "flat"
    shutil.copytree(flat, changed)
    _reference(changed / "dave" / "deep" / "folder")  # dave fixes his bce
    with open(log, "w") as f:
        batch.grade_batch(changed, out, jobs=1, device="cpu", only=ONLY, limits=LIMITS, log=f)
    assert "3 already graded, 1 to grade" in log.read_text()
    assert {r["student_id"]: r["score"] for r in _rows(out / "gradebook.csv")}["dave"] == "7"


def test_one_failure_never_stops_the_batch(klass, tmp_path, monkeypatch):
    """The sandbox server itself failing on one submission: that student is marked (and re-tried
    by the next run), every other is graded."""
    _, course, _ = klass
    real = batch.Sandbox.grade

    def flaky(self, path, only=None, on_check=None):
        if "alice" in str(path):
            raise SandboxError("the sandbox server died")
        return real(self, path, only, on_check)

    monkeypatch.setattr(batch.Sandbox, "grade", flaky)
    out = tmp_path / "out"
    records = batch.grade_batch(course, out, jobs=1, device="cpu", only=ONLY, limits=LIMITS,
                                log=open(os.devnull, "w"))
    by_id = {r["extra_data"]["student_id"]: r for r in records}
    assert by_id["alice"]["extra_data"]["grader_error"] and by_id["alice"]["score"] == 0
    assert all("grader error" in t["output"] for t in by_id["alice"]["tests"])
    checks = load_rubric()["checks"]
    bob_max = sum(checks[i]["points"] for i in ONLY) - checks["dcgan.bce"]["points"]  # his bce only is wrong
    assert by_id["bob"]["score"] == bob_max and not by_id["bob"]["extra_data"].get("grader_error")
    assert json.loads((out / "summary.json").read_text())["grader_errors"] == ["alice"]
    monkeypatch.setattr(batch.Sandbox, "grade", real)
    log = tmp_path / "log.txt"
    with open(log, "w") as f:
        batch.grade_batch(course, out, jobs=1, device="cpu", only=ONLY, limits=LIMITS, log=f)
    assert "1 already graded, 1 to grade" in log.read_text()
    assert {r["student_id"]: r["score"] for r in _rows(out / "gradebook.csv")}["alice"] == "7"


def test_shards_are_disjoint_and_cover_the_class(klass, tmp_path):
    _, _, flat = klass
    everyone = [c.student_id for c in batch.discover(flat, tmp_path)]
    slices = [[c.student_id for c in batch.shard_of(batch.discover(flat, tmp_path), (i, 3))] for i in (1, 2, 3)]
    assert sorted(sum(slices, [])) == sorted(everyone) and all(slices)
    assert slices == [[c.student_id for c in batch.shard_of(batch.discover(flat, tmp_path), (i, 3))] for i in (1, 2, 3)]
    with pytest.raises(Exception):
        batch.parse_shard("3/2")


def test_sharded_then_merged_equals_a_single_run(klass, single, tmp_path):
    """Two shards through the command line, merged: the gradebook and the summaries are the single
    run's, byte for byte."""
    _, _, flat = klass
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    shards = []
    for i in (1, 2):
        out = tmp_path / f"shard{i}"
        run = subprocess.run([sys.executable, "-m", "autograder", "batch", str(flat), "--out", str(out), "--jobs", "1",
                              "--shard", f"{i}/2", "--device", "cpu", "--only", ",".join(ONLY), "--limits", LIMITS,
                              "--roster", str(single.parent / "roster.csv"), "--duedate", "2026-03-03 00:00:00"],
                             cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
        shards.append(out)
    assert len(_rows(shards[0] / "gradebook.csv")) + len(_rows(shards[1] / "gradebook.csv")) == 4
    merged = tmp_path / "merged"
    run = subprocess.run([sys.executable, "-m", "autograder", "merge", *map(str, shards), "--out", str(merged)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    for name in ("gradebook.csv", "checks.csv", "summary.json", "histogram.png"):
        assert (merged / name).read_bytes() == (single / name).read_bytes(), name
    assert sorted(p.name for p in (merged / "students").iterdir()) == sorted(p.name for p in (single / "students").iterdir())


def test_merge_needs_no_torch(single, tmp_path):
    """The workflow's merge job runs on a plain runner: batch and merge never import torch."""
    code = ("import sys; sys.modules['torch'] = None\n"
            "from autograder.__main__ import main\n"
            f"sys.exit(main(['merge', {str(single)!r}, '--out', {str(tmp_path / 'merged')!r}]))")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert (tmp_path / "merged" / "gradebook.csv").read_bytes() == (single / "gradebook.csv").read_bytes()


def test_the_workflow_shards_on_gpu_runners_and_merges():
    import yaml
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "grade.yml").read_text())
    jobs = workflow["jobs"]
    grade = jobs["grade"]
    assert grade["runs-on"] == ["self-hosted", "gpu"]
    assert grade["strategy"]["matrix"]["shard"] == "${{ fromJSON(needs.plan.outputs.shards) }}"
    assert grade["strategy"]["fail-fast"] is False
    steps = " ".join(str(s) for s in grade["steps"])
    assert "--shard \"$SHARD/$SHARDS\"" in steps and "--per-gpu" in steps and "upload-artifact" in steps
    assert jobs["merge"]["needs"] == "grade" and jobs["merge"]["if"] == "always()"
    merge_steps = " ".join(str(s) for s in jobs["merge"]["steps"])
    assert "download-artifact" in merge_steps and "autograder merge shards/shard-*" in merge_steps
