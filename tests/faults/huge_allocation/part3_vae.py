"""Fault: huge allocations (4 TB), at import (that statement fails alone) and in kl_divergence
(vae.kl fails: memory limit)."""
import torch

from reference.part3_vae import *  # noqa: F401,F403

_cache = torch.empty(10 ** 12)


def kl_divergence(mu, logvar):
    scratch = torch.empty(10 ** 12)
    return -0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1) + 0 * scratch[0]
