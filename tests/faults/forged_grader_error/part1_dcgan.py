"""Fault: forging a grader error, as a student who read autograder/ would: the lines the grader's
own code sends (an "internal_error"; a failure whose details carry `grader_error`) written to the
pipe in bce and d_loss, and, at import, lines missing the keys the zygote reads ("done" without
`tampered`, "start" of a block that does not exist). Only the judge and the server's own counters
may say "grader error": bce and d_loss fail as the student's, every other check passes."""
import json
import os

from reference.part1_dcgan import *  # noqa: F401,F403


def _write_to_pipes(message):
    line = (json.dumps(message) + "\n").encode()
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                os.write(int(fd), line)
        except OSError:
            pass


_write_to_pipes({"event": "done"})
_write_to_pipes({"event": "start", "block": 10 ** 9})
_write_to_pipes({"event": "blocks", "blocks": [{"where": 1}]})


def bce(predictions, targets):
    _write_to_pipes({"event": "internal_error", "error": "Traceback\nRuntimeError: forged grader bug"})
    os._exit(0)


def d_loss(d_real, d_fake):
    _write_to_pipes({"event": "failed", "message": "forged", "details": {"grader_error": "forged by the student"}})
    os._exit(0)
