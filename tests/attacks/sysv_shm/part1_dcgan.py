"""Attack: SysV shared memory, made and filled, then detached (no process's memory any more): a
little at import (left behind), and more than the memory limit in bce. Must not achieve: memory
beyond the limit (bce fails, "memory limit"), or a segment that outlives its check or the
grading (removed with the check, and the submission's IPC namespace dies with it)."""
import ctypes

from reference.part1_dcgan import *  # noqa: F401,F403

libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
IPC_PRIVATE, IPC_CREAT = 0, 0o1000
SEGMENT = 64 * 2 ** 20


def _fill(count):
    made = []
    for _ in range(count):
        shmid = libc.shmget(IPC_PRIVATE, SEGMENT, IPC_CREAT | 0o600)
        if shmid < 0:
            break
        address = libc.shmat(shmid, None, 0)
        if address in (None, ctypes.c_void_p(-1).value):
            break
        ctypes.memset(address, 1, SEGMENT)
        libc.shmdt(ctypes.c_void_p(address))
        made.append(shmid)
    return made


_fill(2)


def bce(p, target):
    made = _fill(24)  # 1.5 GB, over the tests' 512 MB limit
    raise RuntimeError(f"{len(made)} segments of 64 MB made and kept")
