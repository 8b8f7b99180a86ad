"""Name the known mistake a wrong value matches.

A check evaluates the student's function and a set of candidate formulas (the correct one and
the classic mistakes) on the same inputs; the first candidate that agrees everywhere names the
mistake in the message.
"""
import torch


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
