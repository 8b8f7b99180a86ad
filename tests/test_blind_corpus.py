"""The blind corpus (tests/blind_corpus/): code and mistakes written from the notebooks alone, by
someone who had not read the checks. Every correct style gets full marks; every mistake loses the
points of its own rubric item(s), and only those. Graded with the same functions as
tests/blind_corpus/measure.py (which also measures the messages, by the sandboxed command line), in this
process: the same checks, seconds instead of a sandbox's start per grading.

Each submission is graded once: the mistakes are bundled as measure.py does (one per part file of a
style; the parts are graded independently), and a bundle's grading is shared by its mistakes' tests.
"""
import importlib.util
import os
from pathlib import Path

import pytest
import torch

_spec = importlib.util.spec_from_file_location("blind_measure", Path(__file__).parent / "blind_corpus" / "measure.py")
measure = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(measure)

SEED = int(os.environ.get("AUTOGRADER_SEED", "0"))
MISTAKES = measure.load_mistakes()
BUNDLE_OF = {m["id"]: tuple(x["id"] for x in bundle) for bundle in measure.bundles(MISTAKES) for m in bundle}
_graded = {}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Many small tensor ops: one intra-op thread is faster on a small shared CPU (as test_styles)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _result(mistake_id):
    """The judged grading of the bundle holding this mistake, graded on first use."""
    key = BUNDLE_OF[mistake_id]
    if key not in _graded:
        bundle = [m for m in MISTAKES if m["id"] in key]
        _graded[key] = {r["id"]: r for r in measure.measure_bundle(bundle, SEED, in_process=True)}
    return _graded[key][mistake_id]


@pytest.mark.parametrize("style", measure.styles())
def test_correct_style_gets_full_marks(style):
    result = measure.measure_style(style, SEED, in_process=True)
    assert not result["false_fails"], f"{style} is correct but lost points: {result['false_fails']}"


@pytest.mark.parametrize("mistake_id", list(BUNDLE_OF))
def test_mistake_charged_to_its_own_items(mistake_id):
    r = _result(mistake_id)
    if r.get("accepted"):
        assert not r["charged"], f"{mistake_id} is an accepted form but cost {r['charged']}: {r['messages']}"
        return
    assert r["caught"], f"{mistake_id} not caught: expected {r['expect']} to lose points; charged {r['charged']}"
    assert r["charged_right"], (f"{mistake_id} should cost exactly {r['expect']}, cost {r['charged']}: "
                                f"{r['messages']}")
