"""Red team: an answer that costs the JUDGE (the grader's own process) more than its time, so that
the student's made-up answer is reported as "grader error while judging (please report it)".

The step checks' judge (autograder/checks/steps.py `_judgements` -> `_match_rows`) compares every
row D judged with every fake G made: `(rows - pool).abs().amax(-1)` costs rows x pool x width,
while the answer holds only (rows + pool) x width values. `d_step` below does the right update,
then replaces the probes' records (netD.calls, netG.calls: lists the collect returns as they are)
with 4,000 "D calls" of 50 one-byte rows and a pool of 1,000,000 one-byte "fakes": about 3 MB of
answer, 2e11 element operations for the judge. The judge's child runs past the check's budget
(autograder/sandbox.py `_in_child`: "no answer within N s") and `_judge` words it as a grader
error. Its CPU is the grader's own (the server's child, outside the namespace and its limits);
on CUDA the judge has no RLIMIT_AS either, and larger calls reach the host's memory.

The guarantee (docs/batch.md "Who may say what": a grader error is "only what the grader observes
itself, never bytes the namespace writes"; a forged or malformed answer is the student's fail):
dcgan.d_step fails without the words "grader error".
"""
import torch

from reference.part1_dcgan import *  # noqa: F401,F403
from reference.part1_dcgan import d_step as _d_step


def d_step(netD, netG, optimizerD, x_real, nz=100):
    loss = _d_step(netD, netG, optimizerD, x_real, nz)
    pool = torch.zeros(1_000_000, 1, dtype=torch.uint8)
    netG.calls[:] = [{"z": torch.zeros(1, 100), "y": None, "x": pool, "training": True}]
    rows = torch.ones(50, 1, dtype=torch.uint8)
    netD.calls[:] = [{"x": rows.clone(), "y": None, "d": torch.zeros(50), "grad": None, "training": True}
                     for _ in range(4000)]
    return loss
