"""Red team: use torch's BCE in `bce`, which the notebook forbids, without the check seeing it.

dcgan.bce fails a `bce` that calls torch's BCE functions; it finds them with a TorchFunctionMode
(autograder/checks/conventions.py: BCECalls, "however they are reached ... torch._C's kernels").
`torch._C.DisableTorchFunction()` turns every torch-function mode off for the call, so the mode
records nothing and the check passes on torch's own F.binary_cross_entropy.

The guarantee: dcgan.bce fails with "bce calls ...".
"""
import torch
import torch.nn.functional as F

from reference.part1_dcgan import *  # noqa: F401,F403


def bce(p, target):
    with torch._C.DisableTorchFunction():
        return F.binary_cross_entropy(p, target)
