"""A class run never loses a student (issue 12): every discovered submission ends in the gradebook
with a score or a grader error, under ids that are unique and stable; deep, huge or odd archives
and entries are refused with a reason; a crash while grading or reporting one student is that
student's grader error; the exit status says when any student has one; reports stay bounded.

Most tests grade with a stand-in for the sandbox (what is attacked is the batch machinery); the
symlink attacks run the real sandbox on a few fast checks.
"""
import csv
import json
import os
import shutil
import threading
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder import batch, isolation, preflight, report
from autograder.__main__ import main
from autograder.load import submission_limits
from autograder.report import Scored
from autograder.rubric import ROOT, load_rubric
from autograder.report import Graded

PARTS = load_rubric()["parts"]
ONLY = ["dcgan.bce", "dcgan.d_loss", "cgan.onehot", "vae.kl"]
LIMITS = str(ROOT / "tests" / "faults" / "limits.yml")
QUIET = open(os.devnull, "w")


def _reference(folder):
    folder.mkdir(parents=True, exist_ok=True)
    for part in PARTS:
        shutil.copyfile(ROOT / "reference" / f"{part}.py", folder / f"{part}.py")
    return folder


def _rows(out):
    with open(out / "gradebook.csv", newline="") as f:
        return {r["student_id"]: r for r in csv.DictReader(f)}


class FakeSandbox:
    """Grades without running anything: full marks, except what a student's folder name asks for
    ("crash": the sandbox server fails; "odd": a check returns details no report can draw;
    "loud": a 20 MB message; "oom": its first check killed for memory the machine lacked). With a
    `barrier`, each grading waits until that many run at once."""
    started, barrier = [], None

    def __init__(self, **kwargs):
        self.env = kwargs.get("env") or {}

    def start(self):
        FakeSandbox.started.append(self.env.get("CUDA_VISIBLE_DEVICES"))
        return self

    def close(self):
        pass

    def grade(self, path, only=None):
        name = Path(path).name
        if FakeSandbox.barrier is not None:
            FakeSandbox.barrier.wait()
        if "crash" in name:
            raise RuntimeError("the sandbox server died")
        rubric = load_rubric()
        scored = []
        for i in only:
            item = rubric["checks"][i]
            message = "x" * 20_000_000 if "loud" in name else "ok"
            details = {"odd_samples": "not an image", 7: object()} if "odd" in name else {}
            scored.append(Scored(i, item["title"], item["points"], item["points"], "loud" not in name, message,
                                 item["visibility"], details))
        if "loud" in name:
            scored = [Scored(s.id, s.title, 0, s.max_points, False, s.message, s.visibility) for s in scored]
        if "oom" in name:  # as sandbox.Server._killed_for_memory scores it
            first = scored[0]
            scored[0] = Scored(first.id, first.title, 0, first.max_points, False, "grader error (this machine, not "
                               "your code): the machine ran out of memory", first.visibility,
                               {"grader_error": "the machine ran out of memory"})
        return Graded(str(path), scored, {"seed": 0}, {}, 0.0)


@pytest.fixture
def fake(monkeypatch):
    FakeSandbox.started, FakeSandbox.barrier = [], None
    monkeypatch.setattr(batch, "Sandbox", FakeSandbox)
    return FakeSandbox


def _deep_zip(path, depth):
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("/".join(["d"] * depth) + "/part1_dcgan.py", "x = 1\n")


def _deep_folder(folder, depth):
    """A folder `depth` levels deep, made without a recursion (os.makedirs recurses)."""
    folder.mkdir(parents=True)
    path = folder
    for _ in range(depth):
        path = path / "d"
        os.mkdir(path)
    return path


def _remove_deep(folder):
    """shutil.rmtree recurses: remove a very deep tree from the bottom, iteratively."""
    paths = [folder]
    while True:
        below = [p for p in paths[-1].iterdir() if p.is_dir() and not p.is_symlink()] if paths[-1].is_dir() else []
        if not below:
            break
        paths.append(below[0])
    for path in reversed(paths):
        for child in path.iterdir():
            child.unlink()
        path.rmdir()


def test_deep_huge_and_odd_archives_are_refused_with_a_reason_and_the_class_is_still_found(tmp_path, monkeypatch):
    flat = tmp_path / "flat"
    _reference(flat / "alice")
    _deep_zip(flat / "deepzip.zip", 1100)
    deep = _deep_folder(flat / "deepfolder", 1100)
    _reference(flat / "deepfolder")  # the part files at the top, 1,100 empty folders below them
    with zipfile.ZipFile(flat / "many.zip", "w") as zf:
        for n in range(60):
            zf.writestr(f"f{n}.txt", "")
    with zipfile.ZipFile(flat / "bomb.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("part1_dcgan.py", b"\0" * 5_000_000)
    (flat / "notazip.zip").write_bytes(b"PK\x03\x04 truncated")
    with zipfile.ZipFile(flat / "zlink.zip", "w") as zf:  # a link member pointing at the reference
        link = zipfile.ZipInfo("part1_dcgan.py")
        link.external_attr = (0o120777 << 16)
        zf.writestr(link, str(ROOT / "reference" / "part1_dcgan.py"))
        zf.writestr("part2_cgan.py", "x = 1\n")
    os.mkfifo(flat / "fifo.zip")  # opening it would block discovery forever
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", flat / "linked")
    limits = {**submission_limits(), "unpacked_bytes": 1_000_000, "archive_members": 50}
    monkeypatch.setattr("autograder.discovery.submission_limits", lambda: limits)
    try:
        found = {c.student_id: c for c in batch.discover(flat, tmp_path / "out", log=QUIET)}
        assert sorted(found) == ["alice", "bomb", "deepfolder", "deepzip", "fifo", "linked", "many", "notazip",
                                 "zlink"]
        assert sorted(os.listdir(found["zlink"].path)) == ["part2_cgan.py"]  # the link was never created
        assert not found["alice"].problem and not found["deepfolder"].problem
        assert found["deepfolder"].path == flat / "deepfolder"
        assert "nests folders 1100 deep (at most 32)" in found["deepzip"].problem
        assert "60 files and folders in the zip (at most 50)" in found["many"].problem
        assert "unpacks to more than 1 MB" in found["bomb"].problem
        assert "notazip.zip was not unpacked" in found["notazip"].problem
        assert "not a regular file" in found["fifo"].problem
        assert "symbolic link" in found["linked"].problem
        assert sum(f.stat().st_size for f in (tmp_path / "out").rglob("*") if f.is_file()) <= 1_000_000
    finally:
        _remove_deep(deep.parents[1098])


def test_ids_are_unique_and_stable_and_nobody_is_dropped(tmp_path):
    flat = tmp_path / "flat"
    for name in ("José", "Jos?", "Jos", "alice"):  # all three normalise to "Jos"
        _reference(flat / name)
    with zipfile.ZipFile(flat / "alice.zip", "w") as zf:
        zf.write(ROOT / "reference" / "part1_dcgan.py", "part1_dcgan.py")
    for part in PARTS:
        shutil.copyfile(ROOT / "reference" / f"{part}.py", flat / f"José_{part}.py")  # an LMS export too
    _reference(flat / "+1+cmd")  # a spreadsheet would read the id as a formula
    first = batch.discover(flat, tmp_path / "out", log=QUIET)
    ids = [c.student_id for c in first]
    assert len(ids) == len(set(ids)) == 7, ids
    assert not any(i.startswith(("+", "-", "@", "=")) for i in ids)
    assert "Jos" in ids and "alice" in ids  # names the grader need not alter keep their id
    assert all(i.startswith(("Jos-", "alice-", "1+cmd-")) for i in set(ids) - {"Jos", "alice"})
    by_source = {c.source: c.student_id for c in first}
    (flat / "Jos").rename(tmp_path / "gone")  # a classmate leaves: nobody else's id moves
    again = {c.source: c.student_id for c in batch.discover(flat, tmp_path / "out2", log=QUIET)}
    assert again == {k: v for k, v in by_source.items() if k != "folder:Jos"}


def test_a_crash_while_grading_or_reporting_one_student_is_that_students_grader_error(tmp_path, fake, monkeypatch):
    flat = tmp_path / "flat"
    for name in ("alice", "bob_crash", "carol_odd", "dave", "erin_loud"):
        _reference(flat / name)
    real_write = batch._write

    def disk_full_for_dave(path, text):
        if Path(path).parent.name == "dave" and Path(path).name == "results.json":
            raise OSError(28, "No space left on device")
        return real_write(path, text)

    monkeypatch.setattr(batch, "_write", disk_full_for_dave)
    out = tmp_path / "out"
    code = main(["batch", str(flat), "--out", str(out), "--jobs", "2", "--device", "cpu", "--only", ",".join(ONLY)])
    assert code == 1  # some students have a grader error
    rows = _rows(out)
    assert sorted(rows) == ["alice", "bob_crash", "carol_odd", "dave", "erin_loud"]
    full = f"{sum(load_rubric()['checks'][i]['points'] for i in ONLY):g}"
    assert rows["alice"]["score"] == full and rows["carol_odd"]["score"] == full
    summary = json.loads((out / "summary.json").read_text())
    assert summary["grader_errors"] == ["bob_crash", "dave"]
    bob = json.loads((out / "students" / "bob_crash" / "results.json").read_text())
    assert "the sandbox server died" in bob["extra_data"]["grader_error"]
    assert all(t["output"].startswith("grader error, not your code's fault") for t in bob["tests"])
    carol = (out / "students" / "carol_odd" / "report.html").read_text()
    assert "figures not drawn" in carol
    erin = out / "students" / "erin_loud"
    assert (erin / "results.json").stat().st_size < 200_000 and (erin / "report.html").stat().st_size < 200_000
    assert "characters cut" in json.loads((erin / "results.json").read_text())["tests"][0]["output"]


def test_a_check_the_machine_could_not_run_makes_the_student_a_grader_error_graded_again(tmp_path, fake):
    flat = tmp_path / "flat"
    for name in ("alice", "bob_oom"):
        _reference(flat / name)
    out = tmp_path / "out"
    args = ["batch", str(flat), "--out", str(out), "--device", "cpu", "--only", ",".join(ONLY)]
    assert main(args) == 1
    assert json.loads((out / "summary.json").read_text())["grader_errors"] == ["bob_oom"]
    bob = json.loads((out / "students" / "bob_oom" / "results.json").read_text())
    assert bob["extra_data"]["grader_error"].startswith(f"{ONLY[0]}: the machine ran out of memory")
    stamps = {n: (out / "students" / n / "results.json").stat().st_mtime_ns for n in ("alice", "bob_oom")}
    assert main(args) == 1  # a re-run grades bob again, and only bob
    assert {n: (out / "students" / n / "results.json").stat().st_mtime_ns == t for n, t in stamps.items()} == {
        "alice": True, "bob_oom": False}


def test_a_report_that_cannot_be_drawn_keeps_the_scores_and_is_a_grader_error(tmp_path, fake, monkeypatch):
    flat = tmp_path / "flat"
    for name in ("alice", "bob"):
        _reference(flat / name)
    real, failed = report.html_page, []

    def broken_for_bob(scored, title=""):
        if title.endswith("bob") and not failed:  # once: the plain page drawn instead must succeed
            failed.append(title)
            raise ValueError("odd CheckFailure details")
        return real(scored, title=title)

    monkeypatch.setattr(report, "html_page", broken_for_bob)
    records = batch.grade_batch(flat, tmp_path / "out", device="cpu", only=ONLY, log=QUIET)
    by_id = {r["extra_data"]["student_id"]: r for r in records}
    assert "odd CheckFailure details" in by_id["bob"]["extra_data"]["grader_error"]
    assert by_id["bob"]["score"] == by_id["alice"]["score"] > 0
    assert (tmp_path / "out" / "students" / "bob" / "report.html").exists()


def test_previous_results_that_are_not_records_are_graded_again(tmp_path, fake):
    flat = tmp_path / "flat"
    _reference(flat / "alice")
    out = tmp_path / "out"
    (out / "students" / "alice").mkdir(parents=True)
    (out / "students" / "alice" / "results.json").write_text("[1, 2]")
    records = batch.grade_batch(flat, out, device="cpu", only=ONLY, log=QUIET)
    assert [r["extra_data"]["student_id"] for r in records] == ["alice"] and records[0]["score"] > 0


def test_reports_are_bounded_in_size(tmp_path):
    huge = "Traceback line\n" * 1_500_000  # 22 MB, as a student's exception message can be
    item = Scored("vae.kl", "KL", 0, 2, False, huge, "visible", {"note": huge, "numbers_samples": [[0.5]]})
    limit = submission_limits()["message_chars"]
    assert len(report.bounded(huge)) < limit + 200 and "characters cut" in report.bounded(huge)
    results, page = report.write_all([item], tmp_path)
    assert results.stat().st_size < 3 * limit and page.stat().st_size < 3 * limit + 50_000
    assert len(report.table([item]).splitlines()) < limit / 50
    assert report.bounded("short") == "short"


def test_details_over_the_bound_lose_their_largest_values_and_keep_the_runs_figures():
    """A failed training run's details hold its sample grid (about 1 MB as JSON): over a bound, that
    goes and the figures stay; the retry of a failed run depends on its `run` detail."""
    from autograder.sandbox import DETAILS_BYTES, JUDGED_BYTES, bounded_details
    details = {"run": "FID 300, accuracy 0.60", "fid": 300.0, "your_D_losses": [0.5] * 600,
               "your_samples": [[0.123456] * 320] * 320}
    kept = bounded_details(details, DETAILS_BYTES)
    assert kept["run"] == details["run"] and kept["your_D_losses"] == details["your_D_losses"]
    assert "your_samples" not in kept and "your_samples" in kept["note"]
    assert len(json.dumps(kept)) <= DETAILS_BYTES
    assert bounded_details(details, JUDGED_BYTES)["your_samples"] == details["your_samples"]


def test_per_gpu_alone_packs_k_jobs_on_each_gpu(tmp_path, fake, monkeypatch):
    """--per-gpu K alone: GPUs x K submissions at once, K on each GPU (GPUs simulated by
    CUDA_VISIBLE_DEVICES; the stand-in sandbox records the GPU each worker was given)."""
    assert batch.plan_jobs(None, 3, ["0", "1"]) == 6
    assert batch.plan_jobs(None, None, ["0", "1"]) == 2
    assert batch.plan_jobs(8, 2, ["0", "1"]) == 4
    assert batch.plan_jobs(5, None, ["0", "1"]) == 5
    assert batch.plan_jobs(None, 4, []) == 1
    flat = tmp_path / "flat"
    for n in range(8):
        _reference(flat / f"s{n}")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0,1")
    monkeypatch.setattr(preflight, "check_cuda", lambda: "2 simulated GPUs")
    monkeypatch.setattr(isolation, "check_bwrap", lambda device: None)  # the stand-in sandbox needs no CUDA
    fake.barrier = threading.Barrier(4, timeout=60)  # four gradings at once, or none passes
    log = tmp_path / "log.txt"
    with open(log, "w") as f:
        records = batch.grade_batch(flat, tmp_path / "out", device="cuda", per_gpu=2, only=ONLY, log=f)
    assert "to grade with 4 job(s) on 2 GPU(s)" in log.read_text()
    assert sorted(fake.started) == ["0", "0", "1", "1"]  # one server per worker, two workers per GPU
    assert not any(r["extra_data"].get("grader_error") for r in records)


def test_the_batch_says_which_of_two_files_it_graded(tmp_path, fake):
    folder = tmp_path / "flat" / "alice"
    folder.mkdir(parents=True)
    shutil.copyfile(ROOT / "reference" / "part1_dcgan.py", folder / "part1_dcgan.py")
    nbformat.write(nbformat.v4.new_notebook(), str(folder / "part1_dcgan.ipynb"))
    records = batch.grade_batch(tmp_path / "flat", tmp_path / "out", device="cpu", only=["dcgan.bce"],
                                log=open(os.devnull, "w"))
    assert "graded part1_dcgan.ipynb" in records[0]["output"]
    saved = json.loads((tmp_path / "out" / "students" / "alice" / "results.json").read_text())
    assert saved["output"] == records[0]["output"] and saved["extra_data"]["notes"] == [records[0]["output"]]


@pytest.fixture(scope="module")
def odd_class(tmp_path_factory):
    """An honest student; one whose three part files are links into reference/; one whose files
    are links into the honest classmate's folder; one whose whole folder is a link to reference/;
    and three correct students whose files Python reads but a UTF-8 reader would not (a Latin-1
    coding line with French comments, a byte-order mark, Windows line endings)."""
    root = tmp_path_factory.mktemp("links")
    flat = root / "flat"
    _reference(flat / "alice")
    for name, encode in (("latin1", lambda s: ("# -*- coding: latin-1 -*-\n# générateur, déjà écrit\n" + s)
                          .encode("latin-1")),
                         ("bom", lambda s: b"\xef\xbb\xbf" + s.encode()),
                         ("crlf", lambda s: s.replace("\n", "\r\n").encode())):
        (flat / name).mkdir()
        for part in PARTS:
            (flat / name / f"{part}.py").write_bytes(encode((ROOT / "reference" / f"{part}.py").read_text()))
    for name, target in (("mallory", ROOT / "reference"), ("trudy", Path("..") / "alice")):
        (flat / name).mkdir()
        for part in PARTS:
            os.symlink(target / f"{part}.py", flat / name / f"{part}.py")
    os.symlink(ROOT / "reference", flat / "oscar")
    course = root / "course" / "submitted"
    _reference(course / "alice" / load_rubric()["assignment"])
    (course / "peggy").mkdir()
    os.symlink(course / "alice" / load_rubric()["assignment"], course / "peggy" / load_rubric()["assignment"])
    found = {c.student_id: c.problem for c in batch.discover(course.parent, root / "nbout", log=QUIET)}
    assert found["alice"] == "" and f"peggy/{load_rubric()['assignment']} is a symbolic link" in found["peggy"]
    out = root / "out"
    code = main(["batch", str(flat), "--out", str(out), "--device", "cpu", "--only", ",".join(ONLY),
                 "--limits", LIMITS])
    return out, code


def test_links_get_nothing_and_files_python_reads_get_full_marks_in_the_sandbox(odd_class):
    out, code = odd_class
    rows = _rows(out)
    full = f"{sum(load_rubric()['checks'][i]['points'] for i in ONLY):g}"
    assert rows["alice"]["score"] == rows["latin1"]["score"] == rows["bom"]["score"] == rows["crlf"]["score"] == full
    assert rows["mallory"]["score"] == rows["trudy"]["score"] == rows["oscar"]["score"] == "0"
    for student in ("mallory", "trudy"):
        results = json.loads((out / "students" / student / "results.json").read_text())
        assert all("is a symbolic link" in t["output"] for t in results["tests"]), results["tests"][0]["output"]
        assert not results["extra_data"].get("grader_error")
    oscar = json.loads((out / "students" / "oscar" / "results.json").read_text())
    assert "oscar is a symbolic link" in oscar["tests"][0]["output"]
    assert code == 0  # refusing a student's link is not a grader error
