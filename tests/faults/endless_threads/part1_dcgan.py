"""Fault: threads that never end, started at import and inside interpolate (non-daemon, so a
normal interpreter exit would wait for them forever). The child sends its result and os._exit()s;
every check is graded, none fails."""
import threading
import time

from reference.part1_dcgan import *  # noqa: F401,F403
from reference.part1_dcgan import interpolate as _interpolate


def _forever():
    while True:
        time.sleep(0.5)


threading.Thread(target=_forever).start()


def interpolate(netG, z1, z2, n_steps=10):
    for _ in range(4):
        threading.Thread(target=_forever).start()
    return _interpolate(netG, z1, z2, n_steps)
