"""Fault: sys.exit(0) inside d_loss: dcgan.d_loss fails ("exited"), nothing else."""
import sys

from reference.part1_dcgan import *  # noqa: F401,F403


def d_loss(d_real, d_fake):
    sys.exit(0)
