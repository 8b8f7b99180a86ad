"""Part 3: reparameterization, closed-form KL and the negative ELBO.

The KL is compared with torch.distributions; a wrong value is matched against the slides'
errors and the classic slips (missing 1/2, wrong sign, mean over dims, logvar used as std).
"""
import math

import torch
from torch.distributions import Normal, kl_divergence

from autograder.checks.diagnose import agrees, explain
from autograder.checks.registry import CheckFailure, check

PART = "part3_vae"
LATENT = 32


def _mu_logvar(batch=8):
    return torch.randn(batch, LATENT), torch.randn(batch, LATENT) * 0.8


def _kl_reference(mu, logvar):
    return kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(-1)


def _kl_closed(mu, logvar, sign=1.0, half=0.5):
    return -half * sign * (1 + logvar - mu ** 2 - logvar.exp()).sum(-1)


KL_MISTAKES = {
    "the KL without the factor 1/2": lambda m, lv: 2 * _kl_closed(m, lv),
    "the KL with the wrong sign": lambda m, lv: -_kl_closed(m, lv),
    "the slides' formula 1/2 sum(1 + log sigma^2 + mu^2 - sigma^2), whose signs are wrong":
        lambda m, lv: 0.5 * (1 + lv + m ** 2 - lv.exp()).sum(-1),
    "the mean over latent dimensions instead of the sum": lambda m, lv: _kl_closed(m, lv) / LATENT,
    "logvar used as the standard deviation": lambda m, lv: -0.5 * (1 + torch.log(lv ** 2) - m ** 2 - lv ** 2).sum(-1),
    "the KL summed over the batch as well (return one value per example, shape (B,))":
        lambda m, lv: _kl_closed(m, lv).sum(),
}


@check("vae.kl")
def check_kl(submission, context):
    kl = submission.get(PART, "kl_divergence")
    mu, logvar = _mu_logvar()
    found = kl(mu, logvar)
    expected = _kl_reference(mu, logvar)
    if torch.is_tensor(found) and found.shape != expected.shape and agrees(found.reshape(-1), expected):
        raise CheckFailure(f"kl_divergence returns shape {tuple(found.shape)} with the right values: expected one "
                           "value per example, shape (B,) (sum over dim=1 without keepdim)")
    if not torch.is_tensor(found) or not agrees(found, expected):
        candidates = {label: fn(mu, logvar) for label, fn in KL_MISTAKES.items()}
        shown = found if not torch.is_tensor(found) else found.detach().flatten()[:3].tolist()
        raise CheckFailure(f"kl_divergence(mu, logvar) gives {shown}..., expected {expected[:3].tolist()}... "
                           "(torch.distributions.kl_divergence summed over latent dims): "
                           + explain([found], candidates, "expected -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))"))
    zero = kl(torch.zeros(4, LATENT), torch.zeros(4, LATENT))
    if not agrees(zero, torch.zeros(4)):
        raise CheckFailure("kl_divergence is not 0 for mu = 0, logvar = 0, where q equals the prior")


@check("vae.reparameterize")
def check_reparameterize(submission, context):
    reparameterize = submission.get(PART, "reparameterize")
    n = 20_000
    mu = torch.full((n, 4), 0.5, requires_grad=True)
    logvar = torch.full((n, 4), math.log(4.0), requires_grad=True)  # sigma = 2, sigma^2 = 4, logvar = 1.39
    z = reparameterize(mu, logvar)
    if tuple(z.shape) != (n, 4):
        raise CheckFailure(f"reparameterize(mu, logvar) returned shape {tuple(z.shape)}, expected mu's shape {(n, 4)}")
    mean, std = float(z.detach().mean()), float(z.detach().std())
    if abs(mean - 0.5) > 0.05:
        raise CheckFailure(f"z has mean {mean:.2f} where mu = 0.5: z = mu + eps * sigma (is mu added?)")
    if abs(std - 2.0) > 0.05:
        causes = {4.0: "eps is scaled by sigma^2 = exp(logvar) (the slides' error): use exp(0.5 * logvar)",
                  math.log(4.0): "logvar is used as the standard deviation: sigma = exp(0.5 * logvar)",
                  1.0: "eps is not scaled by sigma",
                  0.0: "no noise is drawn: z = mu + eps * sigma with eps ~ N(0, I)"}
        nearest = min(causes, key=lambda s: abs(s - std))
        cause = causes[nearest] if abs(nearest - std) < 0.1 else "expected sigma = exp(0.5 * logvar)"
        raise CheckFailure(f"z has standard deviation {std:.2f} where sigma = 2 (logvar = log 4): {cause}")
    z.sum().backward()
    if mu.grad is None or logvar.grad is None or logvar.grad.abs().sum() == 0:
        raise CheckFailure("the gradient does not reach mu and logvar through z: draw eps separately "
                           "(torch.randn_like) and build z from mu and logvar with differentiable operations")
    if torch.equal(reparameterize(mu, logvar), reparameterize(mu, logvar)):
        raise CheckFailure("reparameterize returned the same z twice: draw fresh eps on every call")


@check("vae.loss")
def check_vae_loss(submission, context):
    vae_loss = submission.get(PART, "vae_loss")
    batch = 8
    x = torch.rand(batch, 784)
    x_hat = torch.rand(batch, 784, requires_grad=True)
    mu, logvar = _mu_logvar(batch)
    found = vae_loss(x_hat, x, mu, logvar)
    sse, kl = ((x_hat - x) ** 2).sum(), _kl_reference(mu, logvar).sum()
    if not torch.is_tensor(found) or found.numel() != 1:
        raise CheckFailure("vae_loss must return a scalar tensor")
    if not (agrees(found, sse + kl) or agrees(found, (sse + kl) / batch)):
        candidates = {
            "the mean squared error (F.mse_loss's default) instead of the sum": ((x_hat - x) ** 2).mean() + kl,
            "the reconstruction term alone, without the KL": sse,
            "the KL alone, without the reconstruction": kl,
            "reconstruction minus KL (the KL is added in the negative ELBO)": sse - kl,
        }
        raise CheckFailure(f"vae_loss gives {float(found.detach()):.3f}, expected {float(sse + kl):.3f} (sum of squared "
                           f"errors + KL, summed over the batch) or {float((sse + kl) / batch):.3f} (per-example "
                           "mean): " + explain([found.reshape(())], candidates, "check both terms and their reduction"))
