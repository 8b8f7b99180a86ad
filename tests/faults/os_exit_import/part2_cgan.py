"""Fault: os._exit(0) at import, twice: the load probe dies, finds the statement, skips it and
loads the rest. The second one defines onehot, so cgan.onehot fails ("exited"); every other
check is graded."""
import os

from reference.part2_cgan import *  # noqa: F401,F403

del onehot  # noqa: F821 - this file's own onehot, below, is the one graded

os._exit(0)


def _leave():
    os._exit(3)


onehot = _leave()
