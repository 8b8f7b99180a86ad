"""Fault: a list that grows forever in vae_loss, after trying to lift the memory limit (a hard
limit cannot be raised by the child): vae.loss fails, memory limit."""
import resource

from reference.part3_vae import *  # noqa: F401,F403


def vae_loss(x_hat, x, mu, logvar):
    try:
        resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    except (ValueError, OSError):
        pass
    hoard = []
    while True:
        hoard.append(bytearray(32 * 2 ** 20))
