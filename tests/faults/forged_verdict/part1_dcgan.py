"""Fault: forging a verdict by writing the grader's protocol to its pipe (found in /proc/self/fd):
a full-marks result line in d_loss (then os._exit), and a made-up answer in g_loss. The result line
is not the judge's, so d_loss fails, saying so; the made-up answer is judged as data and fails."""
import io
import json
import os

import torch

from reference.part1_dcgan import *  # noqa: F401,F403
from reference.part1_dcgan import g_loss as _g_loss


def _write_to_pipes(message, payload=b""):
    line = (json.dumps(message) + "\n").encode() + payload
    for fd in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:"):
                os.write(int(fd), line)
        except OSError:
            pass


def d_loss(d_real, d_fake):
    _write_to_pipes({"event": "result", "passed": True, "message": "ok", "details": {}})
    os._exit(0)


def g_loss(d_fake):
    buffer = io.BytesIO()
    torch.save({"value": 0.0}, buffer)
    answer = buffer.getvalue()
    _write_to_pipes({"event": "found", "note": "", "bytes": len(answer)}, answer)
    return _g_loss(d_fake)
