"""Attack: processes that leave the check's process tree and outlive it: a double-forked daemon
in a new session, and a detached `python -c sleep` (marked autograder-attack-sleeper), at import
and in bce, which still returns the right value. Must not achieve: any process alive after its
check or the grading (the check's processes are killed with it; the namespace dies at the end)."""
import os
import subprocess
import sys
import time

from reference.part1_dcgan import *  # noqa: F401,F403
from reference.part1_dcgan import bce as _bce

SLEEPER = "import time; time.sleep(1000)  # autograder-attack-sleeper"


def _escape():
    subprocess.Popen([sys.executable, "-c", SLEEPER], start_new_session=True, stdin=subprocess.DEVNULL,
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            os.execv(sys.executable, [sys.executable, "-c", SLEEPER])
        os._exit(0)
    time.sleep(0.2)


_escape()


def bce(p, target):
    _escape()
    return _bce(p, target)
