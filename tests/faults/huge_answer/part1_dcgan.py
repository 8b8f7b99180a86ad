"""Fault: an answer far too big for the judge: bce returns 4 million values (16 MB) instead of one,
at each of the check's 6 calls. What the student's process sends is capped (limits.answer_bytes):
bce fails, saying so, and the grader's memory is untouched."""
import torch

from reference.part1_dcgan import *  # noqa: F401,F403


def bce(probs, targets):
    return torch.zeros(4_000_000)
