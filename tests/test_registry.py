"""The registry's two halves: what crosses from the student's side to the judge, and what the judge
makes of anything else; the grading seed; retries."""
import io
import os

import pytest
import torch

from autograder.checks import registry
from autograder.checks.registry import REGISTRY, Result, decode, encode, judge, run_tries
from autograder.rubric import grading_seed
from autograder.context import make_context


@pytest.fixture(scope="module")
def context():
    return make_context("cpu", seed=0)


class NotData:
    """What a forged answer might carry to run code where it is loaded."""

    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_found_data_round_trips_and_code_does_not(tmp_path):
    found = {"x": torch.arange(3.0, requires_grad=True), "shape": (2, 3), "names": ["a", None], "ok": True}
    back = decode(encode(found))
    assert torch.equal(back["x"], torch.arange(3.0)) and not back["x"].requires_grad
    assert back["shape"] == (2, 3) and back["names"] == ["a", None] and back["ok"] is True
    buffer = io.BytesIO()
    torch.save({"payload": NotData()}, buffer)
    with pytest.raises(Exception, match="(?i)weights.only|unsupported|global"):
        decode(buffer.getvalue())


@pytest.mark.parametrize("rubric_id", sorted(REGISTRY))
@pytest.mark.parametrize("forged", [None, {}, {"anything": torch.zeros(2)}, "ok", [1, 2, 3]])
def test_a_malformed_answer_fails_the_check_without_crashing_the_judge(rubric_id, forged, context):
    """Whatever the student's process sends, the judge returns a failed Result with a message."""
    result = judge(rubric_id, encode(forged), context, seed=0)
    assert isinstance(result, Result) and not result.passed and result.message


def test_a_students_exception_or_missing_name_fails_with_its_reason(tmp_path, context):
    """A missing name fails in collect; an exception collect recorded as data fails in the judge,
    with the student's own line either way."""
    from autograder.load import load_submission
    (tmp_path / "part1_dcgan.py").write_text("def bce(p, t):\n    raise ValueError('nope')\n")
    submission = load_submission(tmp_path, context.rubric["parts"])
    found, failed = registry.collect("dcgan.d_loss", submission, context, seed=0)
    assert found is None and not failed.passed and "`d_loss` is not defined" in failed.message
    result = registry.run_check("dcgan.bce", submission, context)
    assert not result.passed and "ValueError: nope" in result.message and "line 2" in result.message


def test_the_grading_seed_is_drawn_unless_given(monkeypatch):
    monkeypatch.delenv("AUTOGRADER_SEED", raising=False)
    drawn = {grading_seed({"seed": "random"}) for _ in range(5)}
    assert len(drawn) > 1, "a random seed should differ between gradings"
    assert grading_seed({"seed": 7}) == 7 and grading_seed({"seed": "random"}, seed=3) == 3
    monkeypatch.setenv("AUTOGRADER_SEED", "11")
    assert grading_seed({"seed": "random"}) == 11 and grading_seed({"seed": 7}, seed=2) == 2


def test_only_failures_on_measured_figures_are_retried(context, monkeypatch):
    monkeypatch.setitem(REGISTRY, "x.retried", registry.Check("x.retried", None, None, tries=lambda c: 3))
    calls = []

    def measured(seed):
        calls.append(seed)
        return Result("x.retried", seed == context.seed + 2, "figures", {"run": f"FID {seed}"})

    result = run_tries("x.retried", context, measured)
    assert result.passed and calls == [context.seed, context.seed + 1, context.seed + 2]

    calls.clear()
    result = run_tries("x.retried", context, lambda seed: calls.append(seed) or Result("x.retried", False, "crash"))
    assert not result.passed and calls == [context.seed] and result.message == "crash"

    result = run_tries("x.retried", context, lambda seed: Result("x.retried", False, "bad", {"run": f"FID {seed}"}))
    assert "every run failed" in result.message and f"seed {context.seed + 2}: FID" in result.message


def test_a_students_line_is_found_in_a_notebook_kernel_too():
    """IPython compiles a cell as /tmp/ipykernel_<pid>/<hash>.py: the message still points at it."""
    import linecache
    filename = "/tmp/ipykernel_4242/123456789.py"
    source = "def bce(p, t):\n    return undefined_name\n"
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace = {}
    exec(compile(source, filename, "exec"), namespace)
    try:
        namespace["bce"](0, 0)
    except NameError as exc:
        message = registry.raised(exc)
    assert "in a cell of this notebook, line 2: `return undefined_name`" in message, message


def test_training_samples_that_are_the_dataset_fail(context):
    """The student's process holds MNIST: real digits passed off as samples (here with a little noise)
    would ace FID and accuracy; the judge sees they are copies."""
    from autograder.data import mnist
    images, labels = mnist()
    per_class = context.rubric["training"]["cpu"]["samples_per_class"]
    order = torch.cat([torch.nonzero(labels == k).flatten()[:per_class] for k in range(10)])
    forged = {"samples": images[order] + 0.005 * torch.randn(len(order), 1, 32, 32),
              "sample_labels": torch.arange(10).repeat_interleave(per_class), "losses_d": [0.0], "losses_g": [0.0],
              "seconds": 1.0, "nondeterministic": []}
    result = judge("cgan.training", encode(forged), context, seed=0)
    assert not result.passed and "copies of MNIST training images" in result.message, result.message


def test_each_check_names_its_module_whose_source_holds_its_id():
    """Check.module (autograder/checks/__init__.py) is the module whose code registered the check, and
    the id is written there as a literal: the student copy leaves a module out by it, and a reader
    finds a check by grepping its id."""
    import importlib
    from pathlib import Path
    from autograder.rubric import load_rubric
    assert set(load_rubric()["checks"]) <= set(REGISTRY)
    for rubric_id, check in REGISTRY.items():
        assert check.module and check.module.startswith("autograder.checks."), rubric_id
        source = Path(importlib.import_module(check.module).__file__).read_text()
        assert f'"{rubric_id}"' in source, (rubric_id, check.module)
