"""Fault: a syntax error (a `def` without its colon). Only the broken statement is lost:
dcgan.bce fails naming the SyntaxError and its line; the rest of the part is graded."""
from reference.part1_dcgan import *  # noqa: F401,F403 - the rest of the part is the reference's

del bce  # noqa: F821 - this file's own bce, below, is the one graded


def bce(probs, targets)
    return -(targets * torch.log(probs) + (1 - targets) * torch.log(1 - probs)).mean()
