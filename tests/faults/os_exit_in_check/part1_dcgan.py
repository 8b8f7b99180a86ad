"""Fault: os._exit(0) inside d_loss (no exception, no cleanup): the child ends without a result;
dcgan.d_loss fails ("exited"), nothing else."""
import os

from reference.part1_dcgan import *  # noqa: F401,F403


def d_loss(d_real, d_fake):
    os._exit(0)
