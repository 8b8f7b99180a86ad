"""Every function a student writes is called by some check (issue 19): a mistake in one that no check
calls is a mistake that costs nothing. The table (docs/coverage.md) is derived from the registry's
checks graded on the reference by scripts/coverage_table.py, and kept current here."""
import pytest

from scripts import coverage_table

# Defined by the notebook but graded by hand: "Not autograded" in part3_vae's conditional VAE cell.
NOT_AUTOGRADED = {"CVAE.__init__", "CVAE.forward"}


@pytest.fixture(scope="module")
def recorded():
    return coverage_table.record_calls()


def test_every_function_the_reference_defines_is_called_by_a_check(recorded):
    calls, defined = recorded
    assert NOT_AUTOGRADED <= defined, "a name the notebook does not autograde is no longer defined: update the list"
    uncovered = sorted(defined - set(calls) - NOT_AUTOGRADED)
    assert not uncovered, f"no check calls {uncovered}: a mistake there would cost nothing"
    assert not NOT_AUTOGRADED & set(calls), "a check now calls a function listed as not autograded"


def test_functions_that_return_tensors_have_their_shapes_checked(recorded):
    """Each function returning tensors was called with tensors by some check, and its output recorded."""
    calls, _ = recorded
    for name, by_check in calls.items():
        results = set().union(*(r for _, r in by_check.values()))
        arguments = set().union(*(a for a, _ in by_check.values()))
        if arguments and not name.endswith("__init__"):
            assert results or name in {"weights_init", "make_optimizers"}, f"{name}: called, its output never seen"


def test_the_coverage_table_is_current(recorded):
    assert coverage_table.TABLE.read_text() == coverage_table.table(*recorded), (
        "docs/coverage.md is out of date: python -m scripts.coverage_table")
