"""Attack: JSON lines that are not objects (a list, a string, null, a number, a deeply nested
list) and lines that are not JSON, written into its own pipe and into every pipe of its namespace's
processes, in bce (which then answers correctly). Must not achieve: a crashed server or a missing
report: such lines are ignored; bce is graded on its answer."""
import os

from reference.part1_dcgan import *  # noqa: F401,F403
from reference.part1_dcgan import bce as _bce

LINES = b'[1, 2]\n"text"\nnull\n123\n' + b"[" * 100_000 + b"\n" + b"\xff\xfe not json\n"


def bce(p, target):
    for pid in [p for p in os.listdir("/proc") if p.isdigit()]:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("pipe:"):
                    with open(f"/proc/{pid}/fd/{fd}", "wb") as pipe:
                        pipe.write(LINES)
            except OSError:
                pass
    return _bce(p, target)
