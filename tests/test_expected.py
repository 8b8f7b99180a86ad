"""The committed expected values are what the reference gives today (one source of truth)."""
import json

import pytest

from autograder.rubric import EXPECTED_DIR, load_rubric
from scripts import update_expected


def test_architecture_tables_match_the_reference():
    committed = json.loads((EXPECTED_DIR / "architectures.json").read_text())
    assert committed == json.loads(json.dumps(update_expected.architectures())), (
        "autograder/expected/architectures.json is stale: run scripts/update_expected.py")


def test_every_architecture_check_has_a_table_and_every_rubric_item_a_check():
    import autograder.checks  # noqa: F401
    from autograder.checks.architecture import networks
    from autograder.checks.registry import REGISTRY

    committed = json.loads((EXPECTED_DIR / "architectures.json").read_text())
    assert set(committed) == set(networks())
    assert set(load_rubric()["checks"]) <= set(REGISTRY)
    assert set(REGISTRY) <= set(load_rubric()["checks"]), "a registered check is missing from grading.yml"


@pytest.mark.slow
def test_reference_training_figures_match_the_reference():
    """The cached CPU run of the reference is what scripts/update_expected.py computes today: the same
    figures, loss curves within rounding, and the same sample grid (to one grey level of the PNG)."""
    import matplotlib.image
    import numpy as np
    committed = json.loads((EXPECTED_DIR / "training.json").read_text())["cpu"]
    figures, grids = update_expected.training()
    fresh = json.loads(json.dumps(figures))["cpu"]
    curves = ("losses_d", "losses_g")
    assert {k: v for k, v in committed.items() if k not in curves} == {k: v for k, v in fresh.items() if k not in curves}
    for curve in curves:
        assert np.allclose(committed[curve], fresh[curve], atol=2e-3), curve
    png = matplotlib.image.imread(EXPECTED_DIR / "training_samples_cpu.png")
    assert np.abs(png - grids["cpu"]).max() <= 1 / 255
