"""Fault: 100 MB printed, at import (print raises once the output limit is reached: that statement
fails alone), in bce (print) and in g_loss_minimax (os.write to fd 1, past RLIMIT_FSIZE): those
checks fail, "output too large"."""
import os

from reference.part1_dcgan import *  # noqa: F401,F403

for _ in range(10 ** 6):
    print("x" * 100)


def bce(probs, targets):
    for _ in range(10 ** 6):
        print("y" * 100)


def g_loss_minimax(d_fake):
    block = b"z" * 2 ** 20
    for _ in range(100):
        os.write(1, block)
