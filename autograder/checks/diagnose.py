"""Name the known mistake a wrong value matches.

A check's judge evaluates a set of candidate formulas (the correct one and the classic mistakes)
on its own copy of the inputs the student's function was given; the first candidate that agrees
everywhere with what the function returned names the mistake in the message. The helpers at the
end turn a student's calls into data in collect (returned, call) and back into a verdict in judge.
"""
import torch

from autograder.checks.registry import CheckFailure, raised
from autograder.load import MissingName


def agrees(found, expected, rtol=1e-4, atol=1e-5):
    found = torch.as_tensor(found, dtype=torch.float64)
    expected = torch.as_tensor(expected, dtype=torch.float64)
    return found.shape == expected.shape and bool(torch.allclose(found, expected, rtol=rtol, atol=atol))


def which_mistake(found_values, candidates):
    """candidates: {description: values}. The description of the first one that found_values matches."""
    for description, values in candidates.items():
        values = values if isinstance(values, (list, tuple)) else [values]
        if all(agrees(f, v) for f, v in zip(found_values, values)):
            return description
    return None


def explain(found_values, candidates, default):
    mistake = which_mistake(found_values, candidates)
    return f"it matches {mistake}" if mistake else default


def cosine(a, b):
    a, b = a.flatten().double(), b.flatten().double()
    return float(a @ b / (a.norm() * b.norm() + 1e-30))


# ---- for the two halves of a check: collect records what the student's code did, judge decides ----


def returned(value):
    """What a student's function returned, as data for judge: a tensor (detached), else
    {"type": its type's name} (with the value itself when it is a plain number)."""
    if torch.is_tensor(value):
        return value.detach().as_subclass(torch.Tensor).clone()
    found = {"type": type(value).__name__}
    if type(value) in (bool, int, float):
        found["value"] = value
    return found


def grads_of(tensors):
    """The gradients backward() left on tensors (None where none reached), copied for judge."""
    return [None if t.grad is None else t.grad.detach().clone() for t in tensors]


def type_name(found):
    """The type of what returned() recorded: "Tensor", or the recorded name."""
    return "Tensor" if torch.is_tensor(found) else str(found["type"])


def call(fn, *args):
    """fn(*args) in collect: (result, None), or (None, {"raised": message}) with the message the
    registry gives a student's exception, so that judge can report it where the check reaches it
    (a check whose earlier calls already fail says that instead)."""
    try:
        return fn(*args), None
    except (CheckFailure, MissingName) as exc:
        return None, {"raised": str(exc)}
    except Exception as exc:  # noqa: BLE001 - the student's exception becomes data for judge
        return None, {"raised": raised(exc)}


def reraise(record):
    """In judge: fail with the message of an exception collect recorded at this point, if any."""
    if isinstance(record, dict) and "raised" in record:
        raise CheckFailure(str(record["raised"]))
