"""Red team: make the grading process itself (the host, outside every limit) spend minutes of CPU.

A check's child may send a "failed" line with details of its own (the first answer counts; the
details pass through sandbox.student_details, bounded to 100 KB). report.html_page, run by
`grade` and `batch` in the grading process, draws every detail whose key ends in "samples" as
an image in one row of subplots (report._figures). bce writes such a line with about 4,500 tiny
"<i>samples" entries: the grading process builds 4,500 axes and renders them (about 40 s of CPU
per 1,000 measured here), per check so made, with no time limit of its own.

The guarantee: the grader's own process stays within bounded time whatever the student sends.
"""
import json
import os

from reference.part1_dcgan import *  # noqa: F401,F403


def bce(p, target):
    details = {f"{i}samples": [[0]] for i in range(4500)}
    line = (json.dumps({"event": "failed", "message": "wrong bce", "details": details}) + "\n").encode()
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                os.write(int(fd), line)
        except OSError:
            pass
    raise RuntimeError("not reached")
