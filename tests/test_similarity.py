"""The class similarity report: two near-copies rank first among independent solutions, and the
released stub, which every submission shares, is not counted as shared code."""
import csv
import re
import shutil
from pathlib import Path

import pytest

from autograder.similarity import compare

ROOT = Path(__file__).resolve().parent.parent
STYLES = ROOT / "tests" / "submissions"
RENAMES = {"netD": "disc", "netG": "gen", "optimizerD": "opt_d", "optimizerG": "opt_g", "x_real": "real_batch",
           "x_fake": "fake_batch", "loss": "total", "mu": "mean", "logvar": "log_var"}


def near_copy(source):
    """What a copier does to hide a copy: renamed variables, no comments, no docstrings."""
    source = re.sub(r'^\s*""".*?"""\n', "", source, flags=re.S | re.M)
    source = re.sub(r"\s+#.*$", "", source, flags=re.M)
    for old, new in RENAMES.items():
        source = re.sub(rf"\b{old}\b", new, source)
    return source


@pytest.fixture(scope="module")
def ranked(tmp_path_factory):
    root = tmp_path_factory.mktemp("class")
    (root / "original").mkdir()
    (root / "copier").mkdir()
    for part in ("part1_dcgan", "part2_cgan", "part3_vae"):
        source = (ROOT / "reference" / f"{part}.py").read_text()
        (root / "original" / f"{part}.py").write_text(source)
        (root / "copier" / f"{part}.py").write_text(near_copy(source))
    folders = {"original": root / "original", "copier": root / "copier"}
    for style in ("builders", "explicit_functional", "notebook_tutorial"):
        shutil.copytree(STYLES / style, root / style)
        folders[style] = root / style
    out = root / "out"
    return compare(folders, out), out


def test_the_near_copies_rank_first_in_every_part(ranked):
    rows, out = ranked
    first = {}
    for part, a, b, *_ in rows:
        first.setdefault(part, {a, b})
    assert first == {part: {"copier", "original"} for part in ("part1_dcgan", "part2_cgan", "part3_vae")}
    copies = [r for r in rows if {r[1], r[2]} == {"copier", "original"}]
    assert all(max(r[3], r[4]) > 0.5 for r in copies), copies


def test_the_csv_and_the_html_view_are_written(ranked):
    rows, out = ranked
    with open(out / "similarity.csv") as f:
        table = list(csv.DictReader(f))
    assert len(table) == len(rows) == 3 * 10  # 5 submissions: 10 pairs, in each of 3 parts
    assert [int(r["rank"]) for r in table] == list(range(1, 31))
    page = (out / "similarity.html").read_text()
    assert "copier/part1_dcgan.py" in page and "/tmp" not in page


def test_the_released_stub_is_not_counted_as_shared(tmp_path):
    release = ROOT / "assignments" / "genmodels"
    for student in ("a", "b"):
        shutil.copytree(release, tmp_path / student)
    rows = compare({s: tmp_path / s for s in ("a", "b")}, tmp_path / "out")
    assert rows and all(r[3] == r[4] == 0 for r in rows), rows


def test_a_batch_grading_writes_the_report_with_its_class_outputs(tmp_path):
    from autograder import batch
    for student in ("ann", "ben"):
        (tmp_path / "class" / student).mkdir(parents=True)
        for part in ("part1_dcgan", "part2_cgan", "part3_vae"):
            shutil.copyfile(ROOT / "reference" / f"{part}.py", tmp_path / "class" / student / f"{part}.py")
    batch.grade_batch(tmp_path / "class", tmp_path / "out", device="cpu", only=["vae.kl"],
                      limits=str(ROOT / "tests" / "faults" / "limits.yml"))
    with open(tmp_path / "out" / "similarity.csv") as f:
        rows = list(csv.DictReader(f))
    assert {(r["student_a"], r["student_b"]) for r in rows} == {("ann", "ben")} and len(rows) == 3
    assert all(float(r["share_of_a_in_b"]) == 1.0 for r in rows)
    assert (tmp_path / "out" / "similarity.html").exists()
