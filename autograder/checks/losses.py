"""Part 1 losses against independent computations (torch's own BCE and the course's formulas).

Inputs are drawn at grading time: random probabilities, soft targets, and the extremes 0 and 1,
where a hand-written log must be clamped (as torch clamps at -100) or offset, never inf/NaN.
"""
import torch
import torch.nn.functional as F

from autograder.checks.diagnose import agrees, explain
from autograder.checks.registry import CheckFailure, check

PART = "part1_dcgan"


def _probabilities(batch=64):
    return (torch.rand(batch, 1, 1, 1) * 0.98 + 0.01).requires_grad_()


def _value(fn, *args, name):
    out = fn(*args)
    if not torch.is_tensor(out):
        raise CheckFailure(f"{name} returned {type(out).__name__}: expected a tensor (keep the graph for backward)")
    if out.numel() != 1:
        raise CheckFailure(f"{name} returned shape {tuple(out.shape)}: expected a scalar (the mean over the batch)")
    return out.reshape(())


def _bce(p, t):
    return F.binary_cross_entropy(p, t)


@check("dcgan.bce")
def check_bce(submission, context):
    bce = submission.get(PART, "bce")
    p = torch.rand(256) * 0.998 + 0.001
    cases = {"hard targets": (p, (torch.rand(256) > 0.5).float()), "soft targets": (p, torch.rand(256))}
    for label, (probs, targets) in cases.items():
        found = _value(bce, probs, targets, name="bce")
        expected = _bce(probs, targets)
        if not agrees(found, expected):
            candidates = {
                "the sum instead of the mean over the batch": expected * probs.numel(),
                "a missing minus sign": -expected,
            }
            raise CheckFailure(f"bce on random probabilities with {label} gives {float(found.detach()):.5f}, expected "
                               f"{float(expected):.5f} (torch.nn.functional.binary_cross_entropy): "
                               + explain([found], candidates, "check the formula -[t log p + (1 - t) log(1 - p)]"))
    for p_value, t_value in ((0.0, 1.0), (1.0, 0.0), (0.0, 0.0), (1.0, 1.0)):
        probs = torch.full((4,), p_value, requires_grad=True)
        found = _value(bce, probs, torch.full((4,), t_value), name="bce")
        if not torch.isfinite(found):
            raise CheckFailure(f"bce(p={p_value}, target={t_value}) is {float(found.detach())}: log(0) must be clamped "
                               "(torch clamps the log at -100) or offset by a small epsilon")
        if t_value != p_value and found < 10:
            raise CheckFailure(f"bce(p={p_value}, target={t_value}) is {float(found.detach()):.3f}: a completely wrong "
                               "prediction must cost a large loss (torch gives 100)")
        found.backward()
        if probs.grad is None or not torch.isfinite(probs.grad).all():
            raise CheckFailure(f"bce's gradient at p={p_value}, target={t_value} is not finite: clamping log(p) "
                               "after taking it still back-propagates 1/0. Keep p away from 0 and 1 before the log "
                               "(e.g. torch.log(p.clamp(min=1e-12))) so a saturated D cannot produce NaN")


def _loss_check(name, formula, mistakes, accepted_scales=(1.0,)):
    """Check loss `name`(*probabilities) against `formula`, naming the mistake it matches if not."""
    def run(submission, context):
        fn = submission.get(PART, name)
        n_args = formula.__code__.co_argcount
        args = [_probabilities() for _ in range(n_args)]
        found = _value(fn, *args, name=name)
        expected = formula(*args)
        if not any(agrees(found, scale * expected) for scale in accepted_scales):
            candidates = {label: wrong(*args) for label, wrong in mistakes.items()}
            raise CheckFailure(f"{name} on random D outputs gives {float(found.detach()):.5f}, expected "
                               f"{float(expected):.5f}: " + explain([found], candidates, formula.__doc__))
        found.backward()
        if any(a.grad is None or not torch.isfinite(a.grad).all() for a in args):
            raise CheckFailure(f"{name} does not give finite gradients to D's outputs: keep it differentiable "
                               "(no .item(), no .detach() of the inputs)")
    return run


def _d_correct(d_real, d_fake):
    """the loss is BCE(D(x), 1) + BCE(D(G(z)), 0) (equation 7 as a loss to minimise)"""
    return _bce(d_real, torch.ones_like(d_real)) + _bce(d_fake, torch.zeros_like(d_fake))


def _g_nonsaturating(d_fake):
    """the non-saturating loss is BCE(D(G(z)), 1) = -mean log D(G(z)) (equation 6)"""
    return _bce(d_fake, torch.ones_like(d_fake))


def _g_minimax(d_fake):
    """the "true" minimax loss is mean log(1 - D(G(z))), to be minimised (equation 5)"""
    return torch.log(1 - d_fake).mean()


def _lsgan_d(d_real, d_fake):
    """the LSGAN D loss is 1/2 mean (D(x) - 1)^2 + 1/2 mean D(G(z))^2"""
    return 0.5 * F.mse_loss(d_real, torch.ones_like(d_real)) + 0.5 * F.mse_loss(d_fake, torch.zeros_like(d_fake))


def _lsgan_g(d_fake):
    """the LSGAN G loss is 1/2 mean (D(G(z)) - 1)^2 (fakes pushed towards the 'real' target 1)"""
    return 0.5 * F.mse_loss(d_fake, torch.ones_like(d_fake))


check("dcgan.d_loss")(_loss_check("d_loss", _d_correct, {
    "swapped labels (real judged against 0, fake against 1)":
        lambda r, f: _bce(r, torch.zeros_like(r)) + _bce(f, torch.ones_like(f)),
    "a missing fake term (only BCE(D(x), 1))": lambda r, f: _bce(r, torch.ones_like(r)),
    "a missing real term (only BCE(D(G(z)), 0))": lambda r, f: _bce(f, torch.zeros_like(f)),
    "the objective of equation 7 without the minus sign (it must be minimised)": lambda r, f: -_d_correct(r, f),
}, accepted_scales=(1.0, 0.5)))

check("dcgan.g_loss")(_loss_check("g_loss", _g_nonsaturating, {
    "the saturating minimax loss mean log(1 - D(G(z))): g_loss is the non-saturating one": _g_minimax,
    "the wrong target: BCE(D(G(z)), 0) trains G to look fake": lambda f: _bce(f, torch.zeros_like(f)),
    "mean log D(G(z)) without the minus sign (it must be minimised)": lambda f: -_g_nonsaturating(f),
}))

check("dcgan.g_loss_minimax")(_loss_check("g_loss_minimax", _g_minimax, {
    "the non-saturating loss -mean log D(G(z)): g_loss_minimax is the 'true' loss of question 3":
        _g_nonsaturating,
    "BCE(D(G(z)), 0) = -mean log(1 - D(G(z))): a sign error, G would minimise the wrong way":
        lambda f: _bce(f, torch.zeros_like(f)),
}))

check("dcgan.lsgan_d_loss")(_loss_check("lsgan_d_loss", _lsgan_d, {
    "the loss without the factor 1/2": lambda r, f: 2 * _lsgan_d(r, f),
    "swapped targets (real towards 0, fake towards 1)": lambda r, f: 0.5 * (r ** 2).mean() + 0.5 * ((f - 1) ** 2).mean(),
}))

check("dcgan.lsgan_g_loss")(_loss_check("lsgan_g_loss", _lsgan_g, {
    "the slide's 1/2 mean D(G(z))^2, which pushes fakes towards the 'fake' target 0 (ASSIGNMENT.md)":
        lambda f: 0.5 * (f ** 2).mean(),
    "the loss without the factor 1/2": lambda f: ((f - 1) ** 2).mean(),
}))


@check("dcgan.g_losses_gradients")
def check_saturation(submission, context):
    """Question 3: the two G losses differ where it matters, when D confidently rejects the fakes."""
    g_loss, g_loss_minimax = submission.get(PART, "g_loss"), submission.get(PART, "g_loss_minimax")
    grads = {}
    for name, fn in (("g_loss", g_loss), ("g_loss_minimax", g_loss_minimax)):
        logits = torch.full((16, 1, 1, 1), -7.0, requires_grad=True)  # D(G(z)) = sigmoid(-7) ~ 0.001
        _value(fn, torch.sigmoid(logits), name=name).backward()
        grads[name] = float(logits.grad.abs().mean()) * 16
    if not grads["g_loss"] > 0.5:
        raise CheckFailure(f"with D(G(z)) near 0, g_loss gives G a gradient of {grads['g_loss']:.2e} per example "
                           "on D's logit: the non-saturating loss should keep it near 1 (does g_loss saturate?)")
    if not grads["g_loss_minimax"] < 0.01:
        raise CheckFailure(f"with D(G(z)) near 0, g_loss_minimax gives a gradient of {grads['g_loss_minimax']:.2e}"
                           " on D's logit: the 'true' minimax loss saturates there (about 1e-3 expected)")
