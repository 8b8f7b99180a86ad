"""Fault: an infinite loop at import. The load probe finds the statement that never returns; every
later child skips it, so only the name it would define (bce) is missing: dcgan.bce fails with
"timed out ... while loading", every other check is graded."""
from reference.part1_dcgan import *  # noqa: F401,F403

del bce  # noqa: F821 - this file's own bce, below, is the one graded


def _spin():
    n = 0
    while True:
        n += 1


bce = _spin()
