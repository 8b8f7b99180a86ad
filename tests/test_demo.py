"""`./run demo` end to end at a smoke budget: it grades the example submission, trains the reference with
progress, sets it against the band and an untrained generator, and draws the picture."""
import re

import pytest
import yaml

from autograder.checks.registry import rubric_ids
from autograder.rubric import load_rubric
from reference import demo


@pytest.mark.slow
def test_the_demo_grades_then_shows_the_training_against_the_band(tmp_path, capsys):
    demo.main(["--out", str(tmp_path), "--iterations", "4", "--device", "cpu"])
    out = capsys.readouterr().out
    rubric = load_rubric()
    points = {i: c["points"] for i, c in rubric["checks"].items() if i not in rubric_ids(rubric, trains=True)}
    lost = sum(points[m["fails"]] for m in yaml.safe_load(demo.MISTAKES.read_text()))
    assert re.search(rf"^total\s+{sum(points.values()) - lost:g}/{sum(points.values()):g}\s*$", out, re.M)
    assert (tmp_path / "report.html").read_text().startswith("<!doctype html>")
    assert "iteration 4/4" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line.startswith(("untrained G", "reference", "pass band"))}
    assert rows["untrained"][-1] == "fail" and float(rows["untrained"][2]) > 500  # the baseline: far out of the band
    band = rubric["training"]["cpu"]
    assert rows["pass"][2:] == ["<=", f"{band['fid_max']}", ">=", f"{band['accuracy_min']}"]
    assert (tmp_path / "demo.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Namespace(" not in out
