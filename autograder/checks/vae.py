"""Part 3: reparameterization, closed-form KL and the negative ELBO.

The KL is compared with torch.distributions; a wrong value is matched against the slides'
errors and the classic slips (missing 1/2, wrong sign, mean over dims, logvar used as std or as
log sigma). collect records what the student's functions return (and the gradients
reparameterize lets through); judge compares with values it computes on its own draw of the
inputs. vae_loss is recorded as written and with the grader's KL (diagnose.both_ways): either
being right passes, so a wrong kl_divergence costs the KL item alone.
"""
import math

import numpy as np
import torch

from autograder.checks.diagnose import (agrees, both_ways, call, correct_helpers, correct_kl, either_way, explain,
                                        grads_of, reraise, returned, substituted, type_name)
from autograder.checks.course import LATENT
from autograder.checks.registry import CheckFailure, check

PART = "part3_vae"


def _mu_logvar(batch=8):
    return torch.randn(batch, LATENT), torch.randn(batch, LATENT) * 0.8


def _kl_closed(mu, logvar, sign=1.0, half=0.5):
    return -half * sign * (1 + logvar - mu ** 2 - logvar.exp()).sum(-1)


KL_MISTAKES = {
    "the KL without the factor 1/2": lambda m, lv: 2 * _kl_closed(m, lv),
    "the KL with the wrong sign": lambda m, lv: -_kl_closed(m, lv),
    "the slides' formula 1/2 sum(1 + log sigma^2 + mu^2 - sigma^2), whose signs are wrong":
        lambda m, lv: 0.5 * (1 + lv + m ** 2 - lv.exp()).sum(-1),
    "the mean over latent dimensions instead of the sum": lambda m, lv: _kl_closed(m, lv) / LATENT,
    "logvar used as the standard deviation": lambda m, lv: -0.5 * (1 + torch.log(lv ** 2) - m ** 2 - lv ** 2).sum(-1),
    "logvar used as log sigma (sigma = exp(logvar) instead of exp(logvar / 2)): logvar is log sigma^2":
        lambda m, lv: -0.5 * (1 + 2 * lv - m ** 2 - (2 * lv).exp()).sum(-1),
    "the KL with the wrong sign and without the factor 1/2": lambda m, lv: -2 * _kl_closed(m, lv),
    "the KL averaged over the batch (return one value per example, shape (B,))":
        lambda m, lv: _kl_closed(m, lv).mean(),
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
    expected = correct_kl(mu, logvar)
    if torch.is_tensor(value) and value.shape != expected.shape and agrees(value.reshape(-1), expected):
        raise CheckFailure(f"kl_divergence returns shape {tuple(value.shape)} with the right values: expected one "
                           "value per example, shape (B,) (sum over dim=1 without keepdim)")
    if torch.is_tensor(value) and value.shape == mu.shape and agrees(value.sum(-1), expected):
        raise CheckFailure(f"kl_divergence returns one value per latent dimension, shape {tuple(value.shape)}: sum "
                           "them, one value per example, shape (B,) (torch.distributions gives per-dimension values: "
                           "add .sum(-1))")
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

REPARAM_N, REPARAM_D = 20_000, 8  # examples x latent dims of the constant-input call
ALPHA = 1e-4  # level of the test that the latent dims' noises are uncorrelated


def draw_reparameterize(context):
    """One mu and one sigma in [2, 3] for the constant-input call (there z's spread is eps's, whatever
    the scale: its structure is read off it), and per-element mu and logvar for the second call."""
    sigma = float(torch.empty(()).uniform_(2.0, 3.0))
    mu = float(torch.empty(()).uniform_(0.5, 1.5)) * (1 if torch.rand(()) < 0.5 else -1)  # |mu| >> tolerance
    return {"mu": mu, "logvar": 2 * math.log(sigma),
            "mu_each": torch.randn(2_000, LATENT), "logvar_each": torch.empty(2_000, LATENT).uniform_(-2.0, 2.0),
            "x": torch.rand(16, 784)}


def collect_reparameterize(submission, inputs):
    reparameterize = submission.get(PART, "reparameterize")
    mu = torch.full((REPARAM_N, REPARAM_D), inputs["mu"], requires_grad=True)
    logvar = torch.full((REPARAM_N, REPARAM_D), inputs["logvar"], requires_grad=True)
    z = reparameterize(mu, logvar)
    found = {"z": returned(z)}
    if not torch.is_tensor(z):
        return found
    found["requires_grad"] = z.requires_grad
    _, found["backward"] = call(lambda: z.sum().backward())
    found["mu_grad"], found["logvar_grad"] = grads_of((mu, logvar))
    repeat, error = call(lambda: torch.equal(reparameterize(mu, logvar), reparameterize(mu, logvar)))
    found["repeat"] = error or bool(repeat)
    each, error = call(reparameterize, inputs["mu_each"].clone(), inputs["logvar_each"].clone())
    found["z_each"] = error or returned(each)
    found["forward"] = _forward_record(submission, inputs["x"])
    return found


def _forward_record(submission, x):
    """How VAE.forward uses the trick, with the grader's reparameterize in the part (its own mistakes are
    this check's other half): forward run twice on the same x, and which parameters x_hat's gradient
    reaches beyond those decode's own output reaches. None when the VAE cannot be built or encoded and
    decoded: the architecture checks charge that."""
    try:
        model = submission.get(PART, "VAE")()
        model.train()
        params = [p for p in model.parameters() if p.requires_grad]
        with torch.no_grad():
            mu, _ = model.encode(x)
        decoded = model.decode(torch.zeros_like(mu))
        decoder_params = {id(p) for p, g in zip(params, torch.autograd.grad(decoded.sum(), params, allow_unused=True))
                          if g is not None}
    except Exception:  # noqa: BLE001 - a VAE that does not build is vae.encoder's and vae.decoder's to judge
        return None

    def run():
        with torch.no_grad():
            first, second = model(x), model(x)
        model.zero_grad(set_to_none=True)
        x_hat = model(x)[0]
        x_hat.sum().backward()
        return {"outputs": [[returned(v) for v in out] if isinstance(out, (tuple, list)) else returned(out)
                            for out in (first, second)],
                "encoder_grad": any(p.grad is not None and bool(p.grad.abs().sum() > 0)
                                    for p in params if id(p) not in decoder_params)}
    with substituted(submission, PART, correct_helpers(PART, "reparameterize")):
        record, error = call(run)
    return error or record


def _judge_noise_structure(noise):
    """noise = z - mu under constant inputs, (N, D): one draw per example and per latent dim."""
    from scipy import stats  # here: judges only, the namespace need not import it
    if noise.abs().max() < 1e-6:
        raise CheckFailure("z equals mu: no noise is drawn: z = mu + eps * sigma with eps ~ N(0, I)")
    if torch.unique(noise, dim=0).shape[0] < 0.99 * len(noise):
        raise CheckFailure("the rows of z - mu repeat: the same eps is used for several examples of the batch. "
                           "Each example needs its own noise: draw eps with mu's shape (torch.randn_like(mu))")
    corr = np.nan_to_num(np.corrcoef(noise.numpy(), rowvar=False), nan=1.0)
    off_diagonal = corr[np.triu_indices(noise.shape[1], 1)]
    statistic = len(noise) * float((off_diagonal ** 2).sum())  # ~ chi2, one dof per pair, if independent
    if stats.chi2.sf(statistic, off_diagonal.size) < ALPHA:
        shape = " (eps has one value per example, shape (B, 1)?)" if np.abs(off_diagonal).min() > 0.99 else ""
        raise CheckFailure(f"the noise must be independent per latent dimension: across the {noise.shape[1]} latent "
                           f"dims, z - mu is correlated (largest |correlation| {np.abs(off_diagonal).max():.2f})"
                           f"{shape}. Draw eps with mu's shape: torch.randn_like(mu)")


def _judge_noise_distribution(eps):
    """eps = (z - mu) / sigma must be Gaussian: its shape (standardised, so that a wrong mean or scale is
    left to the moments' messages) is tested against N(0, 1)."""
    from scipy import stats  # here: judges only, the namespace need not import it
    sample = eps.flatten()[:20_000]
    p_value = stats.kstest(((sample - sample.mean()) / sample.std()).numpy(), "norm").pvalue
    if p_value >= 1e-6:
        return
    uniform = float(sample.min()) >= -1e-6 and float(sample.max()) <= 1 + 1e-6
    raise CheckFailure("the noise eps = (z - mu) / sigma is not Gaussian (Kolmogorov-Smirnov test against N(0, 1): "
                       f"p = {p_value:.1e}; mean {float(sample.mean()):.2f}, std {float(sample.std()):.2f}"
                       + (", every value in [0, 1): torch.rand draws U(0, 1)" if uniform else "")
                       + "): draw eps ~ N(0, I) with torch.randn_like(mu)")


def judge_reparameterize(inputs, found, context):
    n, z = REPARAM_N, found["z"]
    mu0, logvar0 = inputs["mu"], inputs["logvar"]
    sigma = math.exp(0.5 * logvar0)
    if not torch.is_tensor(z):
        raise CheckFailure(f"reparameterize(mu, logvar) returned {type_name(z)}: expected a tensor of mu's shape")
    if tuple(z.shape) != (n, REPARAM_D):
        raise CheckFailure(f"reparameterize(mu, logvar) returned shape {tuple(z.shape)}, expected mu's shape "
                           f"{(n, REPARAM_D)}")
    noise = z.double() - mu0
    _judge_noise_structure(noise)
    _judge_noise_distribution(noise / sigma)
    mean, std = float(z.double().mean()), float(z.double().std())
    if abs(mean - mu0) > 0.05 * sigma:
        raise CheckFailure(f"z has mean {mean:.2f} where mu = {mu0:.2f}: z = mu + eps * sigma (is mu added?)")
    if abs(std / sigma - 1) > 0.05:
        causes = {sigma ** 2: "eps is scaled by sigma^2 = exp(logvar) (the slides' error, or logvar used as log "
                              "sigma): use sigma = exp(0.5 * logvar)",
                  logvar0: "logvar is used as the standard deviation: sigma = exp(0.5 * logvar)",
                  1.0: "eps is not scaled by sigma"}
        nearest = min(causes, key=lambda s: abs(s - std))
        cause = causes[nearest] if abs(std / nearest - 1) < 0.05 else "expected sigma = exp(0.5 * logvar)"
        raise CheckFailure(f"z has standard deviation {std:.2f} where sigma = {sigma:.2f} (logvar = {logvar0:.2f}): "
                           + cause)
    if found.get("requires_grad") is False:
        raise CheckFailure("reparameterize's z carries no gradient back to mu and logvar (backward() through it "
                           "fails): z was drawn outside the graph, e.g. Normal(mu, sigma).sample() or a .detach(). "
                           "Use the reparameterization trick: mu + torch.randn_like(mu) * torch.exp(0.5 * logvar), "
                           "or Normal(mu, sigma).rsample()")
    reraise(found["backward"])
    mu_grad, logvar_grad = found["mu_grad"], found["logvar_grad"]
    if mu_grad is None or logvar_grad is None or logvar_grad.abs().sum() == 0:
        raise CheckFailure("the gradient does not reach mu and logvar through z: draw eps separately "
                           "(torch.randn_like) and build z from mu and logvar with differentiable operations")
    reraise(found["repeat"])
    if found["repeat"]:
        raise CheckFailure("reparameterize returned the same z twice: draw fresh eps on every call")
    reraise(found["z_each"])
    each, mu, logvar = found["z_each"], inputs["mu_each"], inputs["logvar_each"]
    if not torch.is_tensor(each) or each.shape != mu.shape:
        raise CheckFailure(f"reparameterize(mu, logvar) with mu of shape {tuple(mu.shape)} returned "
                           f"{tuple(each.shape) if torch.is_tensor(each) else type_name(each)}: expected mu's shape")
    eps = (each.double() - mu) / torch.exp(0.5 * logvar.double())
    if abs(float(eps.mean())) > 0.05 or abs(float(eps.std()) - 1) > 0.05:
        raise CheckFailure("with a different mu and logvar for each element, (z - mu) / exp(0.5 * logvar) has mean "
                           f"{float(eps.mean()):.2f} and std {float(eps.std()):.2f}, expected 0 and 1: each z_ij must "
                           "use its own mu_ij and logvar_ij (elementwise operations, no mean or sum over elements)")
    _judge_forward(found.get("forward"))


def _judge_forward(record):
    """VAE.forward(x) must return (decode(reparameterize(mu, logvar)), mu, logvar): a fresh z on every call,
    with the gradient of x_hat reaching the encoder through it."""
    if record is None:
        return
    if "raised" in record:
        raise CheckFailure(f"VAE.forward(x) failed: {record['raised']}")
    first, second = record["outputs"]
    if not isinstance(first, list) or len(first) != 3 or not all(torch.is_tensor(v) for v in first):
        raise CheckFailure(f"VAE.forward(x) returned {type_name(first) if not isinstance(first, list) else len(first)}"
                           f"{'' if not isinstance(first, list) else ' values'}: expected the triple (x_hat, mu, logvar)")
    (x_hat, mu, logvar), (x_hat2, mu2, logvar2) = first, second
    if torch.equal(mu, mu2) and torch.equal(logvar, logvar2) and torch.equal(x_hat, x_hat2):
        raise CheckFailure("VAE.forward(x) returned the same x_hat twice for the same x: it decodes mu (or a fixed z), "
                           "not a sample. Return decode(reparameterize(mu, logvar)), mu, logvar: the reconstruction "
                           "term then trains the encoder's sigma too")
    if not record["encoder_grad"]:
        raise CheckFailure("VAE.forward's x_hat carries no gradient back to the encoder: its z was drawn outside the "
                           "graph (Normal(...).sample(), .detach(), torch.no_grad). Decode z = reparameterize(mu, "
                           "logvar), which is differentiable in mu and logvar")


check("vae.reparameterize", draw=draw_reparameterize, collect=collect_reparameterize, judge=judge_reparameterize)


def draw_vae_loss(context):
    batch = 8
    x = torch.rand(batch, 784)
    x_hat = torch.rand(batch, 784)
    mu, logvar = _mu_logvar(batch)
    return {"x": x, "x_hat": x_hat, "mu": mu, "logvar": logvar}


def collect_vae_loss(submission, inputs):
    def run():
        vae_loss = submission.get(PART, "vae_loss")
        found, error = call(vae_loss, inputs["x_hat"].clone().requires_grad_(), inputs["x"].clone(),
                            inputs["mu"].clone(), inputs["logvar"].clone())
        return error or returned(found)
    return both_ways(submission, PART, ("kl_divergence",), run)


def judge_vae_loss(inputs, found, context):
    """Right as written, or right with the grader's KL (a wrong kl_divergence is the KL item's)."""
    x, x_hat, mu, logvar = inputs["x"], inputs["x_hat"], inputs["mu"], inputs["logvar"]
    batch = x.shape[0]
    sse, kl = ((x_hat - x) ** 2).sum(), correct_kl(mu, logvar).sum()

    def verdict(value):
        reraise(value)
        if not torch.is_tensor(value) or value.numel() != 1:
            shown = f"shape {tuple(value.shape)}" if torch.is_tensor(value) else type_name(value)
            raise CheckFailure(f"vae_loss returned {shown}: expected a scalar tensor")
        if agrees(value, sse + kl) or agrees(value, (sse + kl) / batch):
            return
        candidates = {
            "the mean squared error (F.mse_loss's default) instead of the sum": ((x_hat - x) ** 2).mean() + kl,
            "the reconstruction term alone, without the KL": sse,
            "the KL alone, without the reconstruction": kl,
            "reconstruction minus KL (the KL is added in the negative ELBO)": sse - kl,
            "the squared error summed over the batch but the KL averaged over it: use one reduction for both":
                sse + kl / batch,
            "the squared error averaged over the batch but the KL summed over it: use one reduction for both":
                sse / batch + kl,
            "the mean squared error (F.mse_loss's default) and the KL averaged over the batch":
                ((x_hat - x) ** 2).mean() + kl / batch,
        }
        raise CheckFailure(f"vae_loss gives {float(value):.3f}, expected {float(sse + kl):.3f} (sum of squared "
                           f"errors + KL, summed over the batch) or {float((sse + kl) / batch):.3f} (per-example "
                           "mean): " + explain([value.reshape(())], candidates, "check both terms and their reduction"))
    return either_way(found, verdict)


check("vae.loss", draw=draw_vae_loss, collect=collect_vae_loss, judge=judge_vae_loss)
