"""Name the known mistake a wrong value matches.

A check's judge evaluates a set of candidate formulas (the correct one and the classic mistakes)
on its own copy of the inputs the student's function was given; the first candidate that agrees
everywhere with what the function returned names the mistake in the message. The helpers at the
end turn a student's calls into data in collect (returned, call) and back into a verdict in judge.
`substituted` and CORRECT_HELPERS let a check judge one function alone, with the grader's correct
version of each helper it calls (both_ways in collect, either_way in judge), so that a helper's
mistake is charged once, to the helper's check.
"""
import contextlib

import torch
import torch.nn.functional as F
from torch.distributions import Normal, kl_divergence

from autograder.checks.course import NZ
from autograder.checks.registry import CheckFailure, raised
from autograder.load import MissingName


def agrees(found, expected, rtol=1e-4, atol=1e-5):
    found = torch.as_tensor(found, dtype=torch.float64)
    expected = torch.as_tensor(expected, dtype=torch.float64)
    return found.shape == expected.shape and bool(torch.allclose(found, expected, rtol=rtol, atol=atol))


def which_mistake(found_values, candidates):
    """candidates: {description: values}. The description of the first one that found_values matches."""
    for description, values in candidates.items():
        values = values if isinstance(values, (list, tuple)) else [values]
        if all(agrees(f, v) for f, v in zip(found_values, values)):
            return description
    return None


def explain(found_values, candidates, default):
    mistake = which_mistake(found_values, candidates)
    return f"it matches {mistake}" if mistake else default


def cosine(a, b):
    a, b = a.flatten().double(), b.flatten().double()
    return float(a @ b / (a.norm() * b.norm() + 1e-30))


# ---- for the two halves of a check: collect records what the student's code did, judge decides ----


def returned(value):
    """What a student's function returned, as data for judge: a tensor (detached), else
    {"type": its type's name} (with the value itself when it is a plain number)."""
    if torch.is_tensor(value):
        return value.detach().as_subclass(torch.Tensor).clone()
    found = {"type": type(value).__name__}
    if type(value) in (bool, int, float):
        found["value"] = value
    return found


def grads_of(tensors):
    """The gradients backward() left on tensors (None where none reached), copied for judge."""
    return [None if t.grad is None else t.grad.detach().clone() for t in tensors]


def type_name(found):
    """The type of what returned() recorded: "Tensor", or the recorded name."""
    return "Tensor" if torch.is_tensor(found) else str(found["type"])


def call(fn, *args):
    """fn(*args) in collect: (result, None), or (None, {"raised": message}) with the message the
    registry gives a student's exception, so that judge can report it where the check reaches it
    (a check whose earlier calls already fail says that instead)."""
    try:
        return fn(*args), None
    except (CheckFailure, MissingName) as exc:
        return None, {"raised": str(exc)}
    except Exception as exc:  # noqa: BLE001 - the student's exception becomes data for judge
        return None, {"raised": raised(exc)}


def reraise(record):
    """In judge: fail with the message of an exception collect recorded at this point, if any."""
    if isinstance(record, dict) and "raised" in record:
        raise CheckFailure(str(record["raised"]))


# ---- each mistake charged once: judge a function with the grader's correct helpers ----
# The contract's functions that other contract functions call, as the grader computes them. They
# accept (and ignore) extra arguments, as a student's call may pass some.


def correct_noise(batch_size, nz=NZ, device="cpu", *args, **kwargs):
    """the prior N(0, I), shaped (B, nz, 1, 1); the grader's own writing (the student copy ships this
    module, and scripts/build_student_copy.py refuses the reference's bodies in it)"""
    return torch.empty(batch_size, nz, 1, 1, device=device).normal_()


def correct_onehot(labels, n_classes=10, *args, **kwargs):
    """one-hot labels shaped (B, n_classes, 1, 1)"""
    return F.one_hot(torch.as_tensor(labels).long(), n_classes).float().view(-1, n_classes, 1, 1)


def correct_bce(probs, targets, *args, **kwargs):
    """BCE as the notebook defines it and torch computes it (mean over elements, log floored at -100),
    broadcasting its arguments as a hand-written formula does (a D output (B, 1, 1, 1) with targets (B,))."""
    probs, targets = torch.broadcast_tensors(probs, torch.as_tensor(targets, dtype=probs.dtype, device=probs.device))
    return F.binary_cross_entropy(probs, targets)


def correct_d_loss(d_real, d_fake, *args, **kwargs):
    """the loss is BCE(D(x), 1) + BCE(D(G(z)), 0) (equation 7 as a loss to minimise)"""
    return correct_bce(d_real, torch.ones_like(d_real)) + correct_bce(d_fake, torch.zeros_like(d_fake))


def correct_g_loss(d_fake, *args, **kwargs):
    """the non-saturating loss is BCE(D(G(z)), 1) = -mean log D(G(z)) (equation 6)"""
    return correct_bce(d_fake, torch.ones_like(d_fake))


def correct_g_loss_minimax(d_fake, *args, **kwargs):
    """the "true" minimax loss is mean log(1 - D(G(z))), to be minimised (equation 5)"""
    return -correct_bce(d_fake, torch.zeros_like(d_fake))


def correct_reparameterize(mu, logvar, *args, **kwargs):
    """z = mu + eps * exp(logvar / 2), eps ~ N(0, I) of mu's shape (the grader's own writing, as above)"""
    return torch.addcmul(mu, torch.randn_like(mu), logvar.mul(0.5).exp())


def correct_kl(mu, logvar, *args, **kwargs):
    """KL(N(mu, exp(logvar)) || N(0, I)), one value per example (summed over the latent dims), by
    torch.distributions: independent of the closed form a student writes."""
    return kl_divergence(Normal(mu, torch.exp(0.5 * logvar)), Normal(0.0, 1.0)).sum(-1)


def correct_vae_loss(x_hat, x, mu, logvar, *args, **kwargs):
    """sum of squared errors + KL, summed over the batch"""
    return ((x_hat - x.reshape(x_hat.shape)) ** 2).sum() + correct_kl(mu, logvar).sum()


# Per part: the name a student's function looks up -> the grader's version.
CORRECT_HELPERS = {
    "part1_dcgan": {"get_noise": correct_noise, "bce": correct_bce, "d_loss": correct_d_loss,
                    "g_loss": correct_g_loss, "g_loss_minimax": correct_g_loss_minimax},
    "part2_cgan": {"get_noise": correct_noise, "onehot": correct_onehot},
    "part3_vae": {"reparameterize": correct_reparameterize, "kl_divergence": correct_kl,
                  "vae_loss": correct_vae_loss},
}


def correct_helpers(part, *names):
    """{name: the grader's version} for the given names of the part (all of them when none given)."""
    return {name: CORRECT_HELPERS[part][name] for name in names or CORRECT_HELPERS[part]}


@contextlib.contextmanager
def substituted(submission, part, replacements):
    """In collect: while the block runs, the part's functions that look up a name of `replacements`
    (a global of the student's namespace) find the given object instead of the student's, e.g.
    substituted(submission, "part1_dcgan", correct_helpers("part1_dcgan", "bce")). A check that records
    its function both ways, as written and with correct helpers, and passes it when either is right,
    charges a helper's mistake once, to the helper's own item. The namespace is restored afterwards
    (a name the student had not defined is removed again)."""
    namespace = submission.parts[part].namespace
    # Where the student's functions look names up: the part's namespace, and the module of each function
    # it holds that was defined elsewhere (`from my_helpers import *`), which resolves names there.
    scopes = {id(namespace): namespace}
    for value in list(namespace.values()):
        scope = getattr(value, "__globals__", None)
        if isinstance(scope, dict) and not scope.get("__name__", "").startswith(("torch", "autograder", "numpy")):
            scopes.setdefault(id(scope), scope)
    missing = object()
    saved = [(scope, {name: scope.get(name, missing) for name in replacements}) for scope in scopes.values()]
    for scope, _ in saved:
        scope.update(replacements)
    try:
        yield
    finally:
        for scope, names in saved:
            for name, value in names.items():
                if value is missing:
                    scope.pop(name, None)
                else:
                    scope[name] = value


def both_ways(submission, part, names, run):
    """In collect: run() as the student wrote the part ("own") and, if `names` is not empty, again
    with the grader's versions of those helpers substituted ("alone"), for either_way in judge."""
    records = {"own": run()}
    if names:
        with substituted(submission, part, correct_helpers(part, *names)):
            records["alone"] = run()
    return records


def either_way(found, verdict):
    """In judge: verdict(record) for both_ways' records; passes when either passes (a helper's mistake is
    its own item's), otherwise raises the failure of "alone": what is wrong in the function itself."""
    failures = []
    for way in ("own", "alone"):
        if way in found:
            try:
                return verdict(found[way])
            except CheckFailure as exc:
                failures.append(exc)
    raise failures[-1]
