"""Attack: memory that no process's RSS shows: memfd pages written, never mapped (issue 21: 5 GB
against a 4 GB memory_mb, outside the tmpfs), in bce: 3 GB here, against a memory_mb of 512 MB.
RLIMIT_FSIZE caps each memfd, so it makes many (raising its limit of open files). With a memory
cgroup per namespace (where the machine allows one) the kernel stops it at the namespace's limit:
bce fails for memory; the classmate and the machine are untouched."""
import os
import resource

from reference.part1_dcgan import *  # noqa: F401,F403
from reference.part1_dcgan import bce as _bce

_held = []


def bce(predictions, targets):
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    chunk = b"x" * 1_000_000  # under the tests' RLIMIT_FSIZE (output_bytes + 64 KB)
    for _ in range(3000):
        fd = os.memfd_create("hoard")
        os.write(fd, chunk)
        _held.append(fd)
    return _bce(predictions, targets)
