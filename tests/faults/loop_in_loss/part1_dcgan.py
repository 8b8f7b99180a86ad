"""Fault: an infinite loop in d_loss: dcgan.d_loss times out, naming the line."""
from reference.part1_dcgan import *  # noqa: F401,F403


def d_loss(d_real, d_fake):
    total = 0.0
    while total >= 0:
        total += 1.0
    return total
