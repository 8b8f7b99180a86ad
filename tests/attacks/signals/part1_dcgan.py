"""Attack: SIGKILL to every process it can see, to its parent and grandparents, and to every
process it may signal (kill(-1)), in bce. Must not achieve: the batch, its servers or a classmate
killed; only its own namespace dies (bce fails; its other checks are graded by a fresh one)."""
import os
import signal

from reference.part1_dcgan import *  # noqa: F401,F403


def bce(p, target):
    for pid in [os.getppid(), *(int(p) for p in os.listdir("/proc") if p.isdigit())]:
        if pid != os.getpid():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass
    raise RuntimeError("still alive")
