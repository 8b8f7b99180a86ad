"""Attack: millions of tiny lines (empty, and `{}`) written into its own pipe to the grader in bce.
Must not achieve: a grader that grows without bound or spends minutes on them: past a bounded
number of lines the check is stopped and failed ("too many messages")."""
import os

from reference.part1_dcgan import *  # noqa: F401,F403


def bce(p, target):
    pipes = [int(fd) for fd in os.listdir("/proc/self/fd") if _is_pipe(fd)]
    block = b"\n{}\n" * 100_000
    for _ in range(50):
        for fd in pipes:
            try:
                os.write(fd, block)
            except OSError:
                pass
    raise RuntimeError("lines sent")


def _is_pipe(fd):
    try:
        return os.readlink(f"/proc/self/fd/{fd}").startswith("pipe:")
    except OSError:
        return False
