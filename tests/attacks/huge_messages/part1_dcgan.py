"""Attack: huge failure messages and details: a 2 MB exception message in bce (recorded as data,
judged, and reported), and a CheckFailure of its own with a 20 MB message and 100 MB of details in
d_loss (over the answer limit). Must not achieve: a report of more than a few hundred KB, or
minutes of formatting (messages and details are clipped before any formatting)."""
from autograder.checks.registry import CheckFailure

from reference.part1_dcgan import *  # noqa: F401,F403


def bce(p, target):
    raise RuntimeError("x" * 2_000_000)


def d_loss(d_real, d_fake):
    raise CheckFailure("(" * 20_000_000, details={"blob": ["y" * 1_000_000] * 100})
