"""Part 3: reparameterization, closed-form KL and the negative ELBO.

The KL is compared with torch.distributions; a wrong value is matched against the slides'
errors and the classic slips (missing 1/2, wrong sign, mean over dims, logvar used as std).
collect records what the student's functions return (and the gradients reparameterize lets
through); judge compares with values it computes on its own draw of the inputs.
"""
import math

import torch
from torch.distributions import Normal, kl_divergence

from autograder.checks.diagnose import agrees, call, explain, grads_of, reraise, returned, type_name
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


def draw_kl(context):
    mu, logvar = _mu_logvar()
    return {"mu": mu, "logvar": logvar}


def collect_kl(submission, inputs):
    kl = submission.get(PART, "kl_divergence")
    found, error = call(kl, inputs["mu"].clone(), inputs["logvar"].clone())
    zero, zero_error = call(kl, torch.zeros(4, LATENT), torch.zeros(4, LATENT))
    return {"kl": error or returned(found), "zero": zero_error or returned(zero)}


def judge_kl(inputs, found, context):
    mu, logvar = inputs["mu"], inputs["logvar"]
    reraise(found["kl"])
    value = found["kl"] if torch.is_tensor(found["kl"]) else found["kl"].get("value")
    if value is None:
        raise CheckFailure(f"kl_divergence(mu, logvar) returned {type_name(found['kl'])}: expected a tensor, one "
                           "value per example, shape (B,)")
    expected = _kl_reference(mu, logvar)
    if torch.is_tensor(value) and value.shape != expected.shape and agrees(value.reshape(-1), expected):
        raise CheckFailure(f"kl_divergence returns shape {tuple(value.shape)} with the right values: expected one "
                           "value per example, shape (B,) (sum over dim=1 without keepdim)")
    if not torch.is_tensor(value) or not agrees(value, expected):
        candidates = {label: fn(mu, logvar) for label, fn in KL_MISTAKES.items()}
        shown = value if not torch.is_tensor(value) else value.flatten()[:3].tolist()
        raise CheckFailure(f"kl_divergence(mu, logvar) gives {shown}..., expected {expected[:3].tolist()}... "
                           "(torch.distributions.kl_divergence summed over latent dims): "
                           + explain([value], candidates, "expected -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j))"))
    reraise(found["zero"])
    if not (torch.is_tensor(found["zero"]) and agrees(found["zero"], torch.zeros(4))):
        raise CheckFailure("kl_divergence is not 0 for mu = 0, logvar = 0, where q equals the prior")


check("vae.kl", draw=draw_kl, collect=collect_kl, judge=judge_kl)

REPARAM_N = 20_000
REPARAM_MU, REPARAM_LOGVAR = 0.5, math.log(4.0)  # sigma = 2, sigma^2 = 4, logvar = 1.39


def collect_reparameterize(submission, inputs):
    reparameterize = submission.get(PART, "reparameterize")
    mu = torch.full((REPARAM_N, 4), REPARAM_MU, requires_grad=True)
    logvar = torch.full((REPARAM_N, 4), REPARAM_LOGVAR, requires_grad=True)
    z = reparameterize(mu, logvar)
    found = {"z": returned(z)}
    if not torch.is_tensor(z):
        return found
    _, found["backward"] = call(lambda: z.sum().backward())
    found["mu_grad"], found["logvar_grad"] = grads_of((mu, logvar))
    repeat, error = call(lambda: torch.equal(reparameterize(mu, logvar), reparameterize(mu, logvar)))
    found["repeat"] = error or bool(repeat)
    return found


def judge_reparameterize(inputs, found, context):
    n, z = REPARAM_N, found["z"]
    if not torch.is_tensor(z):
        raise CheckFailure(f"reparameterize(mu, logvar) returned {type_name(z)}: expected a tensor of mu's shape")
    if tuple(z.shape) != (n, 4):
        raise CheckFailure(f"reparameterize(mu, logvar) returned shape {tuple(z.shape)}, expected mu's shape {(n, 4)}")
    mean, std = float(z.double().mean()), float(z.double().std())
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
    reraise(found["backward"])
    mu_grad, logvar_grad = found["mu_grad"], found["logvar_grad"]
    if mu_grad is None or logvar_grad is None or logvar_grad.abs().sum() == 0:
        raise CheckFailure("the gradient does not reach mu and logvar through z: draw eps separately "
                           "(torch.randn_like) and build z from mu and logvar with differentiable operations")
    reraise(found["repeat"])
    if found["repeat"]:
        raise CheckFailure("reparameterize returned the same z twice: draw fresh eps on every call")


check("vae.reparameterize", collect=collect_reparameterize, judge=judge_reparameterize)


def draw_vae_loss(context):
    batch = 8
    x = torch.rand(batch, 784)
    x_hat = torch.rand(batch, 784)
    mu, logvar = _mu_logvar(batch)
    return {"x": x, "x_hat": x_hat, "mu": mu, "logvar": logvar}


def collect_vae_loss(submission, inputs):
    vae_loss = submission.get(PART, "vae_loss")
    found = vae_loss(inputs["x_hat"].clone().requires_grad_(), inputs["x"].clone(), inputs["mu"].clone(),
                     inputs["logvar"].clone())
    return {"loss": returned(found)}


def judge_vae_loss(inputs, found, context):
    x, x_hat, mu, logvar = inputs["x"], inputs["x_hat"], inputs["mu"], inputs["logvar"]
    batch = x.shape[0]
    value = found["loss"]
    sse, kl = ((x_hat - x) ** 2).sum(), _kl_reference(mu, logvar).sum()
    if not torch.is_tensor(value) or value.numel() != 1:
        raise CheckFailure("vae_loss must return a scalar tensor")
    if not (agrees(value, sse + kl) or agrees(value, (sse + kl) / batch)):
        candidates = {
            "the mean squared error (F.mse_loss's default) instead of the sum": ((x_hat - x) ** 2).mean() + kl,
            "the reconstruction term alone, without the KL": sse,
            "the KL alone, without the reconstruction": kl,
            "reconstruction minus KL (the KL is added in the negative ELBO)": sse - kl,
        }
        raise CheckFailure(f"vae_loss gives {float(value):.3f}, expected {float(sse + kl):.3f} (sum of squared "
                           f"errors + KL, summed over the batch) or {float((sse + kl) / batch):.3f} (per-example "
                           "mean): " + explain([value.reshape(())], candidates, "check both terms and their reduction"))


check("vae.loss", draw=draw_vae_loss, collect=collect_vae_loss, judge=judge_vae_loss)
