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
    from autograder.checks.architecture import NETWORKS
    from autograder.checks.registry import REGISTRY

    committed = json.loads((EXPECTED_DIR / "architectures.json").read_text())
    assert set(committed) == set(NETWORKS)
    assert set(load_rubric()["checks"]) <= set(REGISTRY)
    assert set(REGISTRY) <= set(load_rubric()["checks"]), "a registered check is missing from grading.yml"


@pytest.mark.slow
def test_reference_training_figures_match_the_reference():
    committed = json.loads((EXPECTED_DIR / "training.json").read_text())
    assert committed["cpu"] == json.loads(json.dumps(update_expected.training()))["cpu"]
