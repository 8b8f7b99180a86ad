"""Class outputs against a classmate who has read the grader: one hostile file (an unclosed source
of 3,000 lines, a 255-byte folder name, a timestamp.txt or a roster cell that is a spreadsheet
formula) costs at most one report, never the gradebook, a hang or another student's row."""
import csv
import io
import json
import time

import pytest

from autograder import batch, similarity
from autograder.csvsafe import NUMBER, spreadsheet_safe
from autograder.discovery import ID_BYTES, discover
from autograder.load import _lines, _salvage_blocks
from test_class_safety import ONLY, QUIET, _reference, _rows, fake  # noqa: F401 - fake is a fixture

FORMULA = ("=", "+", "-", "@", "\t", "\r")
UNCLOSED = "".join(f"print({i},\n" for i in range(3000))  # without the bound: 250 lines 21 s, cubic


def test_salvaging_3000_unclosed_lines_is_linear():
    started = time.monotonic()
    blocks = _salvage_blocks(_lines(UNCLOSED))
    assert len(blocks) == 3000  # each broken statement its own block, as before
    assert time.monotonic() - started < 20  # cubic: past 150 s


def test_an_ordinary_broken_file_is_still_merged_across_unindented_lines():
    source = 'def f(:\n  pass\ny = 1\nz = [1,\n2,\n3]\n"""\nabc\n"""\n'
    assert [b.source for b in _salvage_blocks(_lines(source))] == [
        "def f(:\n  pass\n", "y = 1\n", "z = [1,\n2,\n3]\n", '"""\nabc\n"""\n']


def test_a_hostile_unclosed_source_leaves_the_batch_bounded_and_the_gradebook_whole(tmp_path, fake):
    flat = tmp_path / "flat"
    for name in ("alice", "bob", "mallory"):
        _reference(flat / name)
    (flat / "mallory" / "part1_dcgan.py").write_text(UNCLOSED)
    started = time.monotonic()
    batch.grade_batch(flat, tmp_path / "out", device="cpu", only=ONLY, log=QUIET)
    assert time.monotonic() - started < 300
    assert sorted(_rows(tmp_path / "out")) == ["alice", "bob", "mallory"]
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["reports_lost"] == []
    assert (tmp_path / "out" / "similarity.csv").exists()


def test_a_report_over_its_time_is_a_warning_and_the_class_is_kept(tmp_path, fake, monkeypatch):
    flat = tmp_path / "flat"
    for name in ("alice", "bob"):
        _reference(flat / name)
    monkeypatch.setattr(similarity, "REPORT_SECONDS", 0.01)  # any report runs longer
    log = io.StringIO()
    batch.grade_batch(flat, tmp_path / "out", device="cpu", only=ONLY, log=log)
    assert "warning: similarity report not written: it took longer than 0.01 s" in log.getvalue()
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["reports_lost"] == ["similarity"]
    assert sorted(_rows(tmp_path / "out")) == ["alice", "bob"]
    assert not (tmp_path / "out" / "similarity.csv").exists()  # never a stale or partial report


def test_a_255_byte_folder_name_gets_a_bounded_unique_id_and_the_report_keeps_everyone(tmp_path, fake):
    flat = tmp_path / "flat"
    # names the id rule alters get a digest suffix: 255 bytes + 9 was past the file system's limit
    for name in ("a" * 254 + "?", "a" * 254 + "!", "é" * 127, "a" * 255, "bob"):
        _reference(flat / name)
    ids = [c.student_id for c in discover(flat, tmp_path / "o", log=QUIET)]
    assert len(set(ids)) == 5 and all(len(i.encode()) <= ID_BYTES for i in ids), ids
    assert ids == [c.student_id for c in discover(flat, tmp_path / "o2", log=QUIET)]  # stable
    out = tmp_path / "out"
    records = batch.grade_batch(flat, out, device="cpu", only=ONLY, log=QUIET)
    assert not any(r["extra_data"].get("grader_error") for r in records)
    with open(out / "similarity.csv") as f:
        pairs = list(csv.DictReader(f))
    named = {r["student_a"] for r in pairs} | {r["student_b"] for r in pairs}
    assert named == set(ids)


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://x\",\"t\")", "+1+cmd", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_a_cell_a_spreadsheet_would_read_as_a_formula_is_text(cell):
    assert spreadsheet_safe(cell) == "'" + cell
    assert spreadsheet_safe("-1.5") == "-1.5" and spreadsheet_safe("alice") == "alice"


def test_a_forged_timestamp_and_roster_cells_reach_no_csv_as_formulas(tmp_path, fake):
    course = tmp_path / "course" / "submitted"
    for name, stamp in (("alice", "2026-03-01 10:00:00.000000 UTC"), ("mallory", '=HYPERLINK("http://evil","x")')):
        _reference(course / name / "genmodels")
        (course / name / "genmodels" / "timestamp.txt").write_text(stamp)
    roster = tmp_path / "roster.csv"
    roster.write_text('student_id,first_name,last_name,email\nmallory,"=cmd|\' /C calc\'!A0",@x,+1@evil\n')
    out = tmp_path / "out"
    log = io.StringIO()
    batch.grade_batch(tmp_path / "course", out, device="cpu", only=ONLY, roster=roster, log=log)
    rows = _rows(out)
    assert rows["alice"]["timestamp"].startswith("2026-03-01 10:00:00")
    assert "HYPERLINK" not in rows["mallory"]["timestamp"] and "timestamp.txt is not a date" in log.getvalue()
    assert rows["mallory"]["first_name"] == "'=cmd|' /C calc'!A0"
    for name in ("gradebook.csv", "checks.csv", "similarity.csv"):
        with open(out / name, newline="") as f:
            cells = [c for row in csv.reader(f) for c in row]
        assert cells and not [c for c in cells if c.startswith(FORMULA) and not NUMBER.fullmatch(c)], name
