"""Attack: a bce that never returns but keeps telling the grader a new phase has begun
({"event": "phase", "phase": "load"} every 0.1 s, which once reset the phase clock). Must not
achieve: a check longer than its cap (check budget + a load of each part): it fails, timed out."""
import json
import os
import time

from reference.part1_dcgan import *  # noqa: F401,F403


def bce(p, target):
    pipes = [int(fd) for fd in os.listdir("/proc/self/fd") if _is_pipe(fd)]
    while True:
        for fd in pipes:
            try:
                os.write(fd, (json.dumps({"event": "phase", "phase": "load"}) + "\n").encode())
            except OSError:
                pass
        time.sleep(0.1)


def _is_pipe(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:")
    except OSError:
        return False
