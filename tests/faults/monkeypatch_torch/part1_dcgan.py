"""Fault: monkeypatching torch so that wrong losses compare equal. At import: the grader restores
torch.allclose before checking (dcgan.d_loss still fails, and its message says what was replaced).
Inside g_loss: that check (and the other one calling g_loss) fails, "replaced ... while this check
ran". No other check is affected: each runs in its own process."""
import torch

from reference.part1_dcgan import *  # noqa: F401,F403

torch.allclose = lambda *args, **kwargs: True
torch.Tensor.allclose = lambda *args, **kwargs: True


def d_loss(d_real, d_fake):
    return -(torch.log(d_real).mean() + torch.log(1 - d_fake).mean()) * 2  # wrong: twice the loss


def g_loss(d_fake):
    torch.allclose = lambda *args, **kwargs: True
    return torch.log(1 - d_fake).mean()  # wrong: the saturating loss
