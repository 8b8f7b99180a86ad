"""Fault: monkeypatching the autograder: replacing the registry's check, run_check and the
comparison helpers at import, so that a wrong kl_divergence would pass: vae.kl still fails. Inside
reparameterize (graded by vae.reparameterize), replacing the check of vae.loss: vae.loss, whose
vae_loss is wrong, still fails, since every check runs in a process of its own."""
import torch

import autograder.checks.diagnose as diagnose
import autograder.checks.registry as registry
import autograder.checks.vae as vae_checks
from autograder.checks.registry import Result
from reference.part3_vae import *  # noqa: F401,F403
from reference.part3_vae import reparameterize as _reparameterize

registry.REGISTRY["vae.kl"] = lambda submission, context: {}
registry.run_check = lambda rubric_id, submission, context: Result(rubric_id, True, "ok")
diagnose.agrees = lambda *args, **kwargs: True
vae_checks.agrees = lambda *args, **kwargs: True


def kl_divergence(mu, logvar):
    return -torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1)  # wrong: the 1/2 is missing


def vae_loss(x_hat, x, mu, logvar):
    return ((x_hat - x.view_as(x_hat)) ** 2).sum()  # wrong: no KL term


def reparameterize(mu, logvar):
    registry.REGISTRY["vae.loss"] = lambda submission, context: {}
    return _reparameterize(mu, logvar)
