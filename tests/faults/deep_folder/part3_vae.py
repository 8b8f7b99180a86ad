"""Fault: a folder 20,000 levels deep (and one without permissions) left in the check's working
folder, deep enough that a recursive clean-up fails (shutil.rmtree: RecursionError) and its
paths are longer than PATH_MAX. Leaving files is no mistake: every check passes, none is a
grader error, and the folder is gone after the check."""
import os

from reference.part3_vae import *  # noqa: F401,F403
from reference.part3_vae import kl_divergence as _kl_divergence


def kl_divergence(mu, logvar):
    if os.path.exists("locked"):  # called more than once in a check
        return _kl_divergence(mu, logvar)
    fd = os.open(".", os.O_RDONLY)
    for _ in range(20_000):
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    os.mkdir("locked")
    os.chmod("locked", 0)
    return _kl_divergence(mu, logvar)
