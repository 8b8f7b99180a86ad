"""Part 1 losses against independent computations (torch's own BCE and the course's formulas).

Inputs are drawn at grading time: random probabilities, soft targets, and the extremes 0 and 1,
where a hand-written log must be clamped (as torch clamps at -100) or offset, never inf/NaN.
collect calls the student's loss (and back-propagates through it) and records the values and
gradients; judge computes the expected values on its own draw of the inputs.

The losses built on `bce` are recorded twice, as written and with the grader's BCE in place of
the student's (diagnose.both_ways): either being right passes, so a wrong bce costs the bce item
alone. The bce check records calls into torch's BCE functions: the notebook asks for it by hand.
"""
import torch
import torch.nn.functional as F

from autograder.checks.diagnose import (agrees, both_ways, call, correct_bce, correct_d_loss, correct_g_loss,
                                        correct_g_loss_minimax, either_way, explain, grads_of, reraise, returned,
                                        type_name)
from autograder.checks.conventions import BCECalls, bce_call_mistake, bce_nodes, in_d_shapes, own_d_shapes, shaped
from autograder.checks.registry import CheckFailure, check
from autograder.tracing import shape_text

PART = "part1_dcgan"
EXTREMES = ((0.0, 1.0), (1.0, 0.0), (0.0, 0.0), (1.0, 1.0))


def _probabilities(batch=64):
    return torch.rand(batch, 1, 1, 1) * 0.98 + 0.01


def _is_scalar(value):
    return torch.is_tensor(value) and value.numel() == 1


def _value(found, name):
    """The scalar a loss returned (as recorded by collect), or the failure that says why it is not one."""
    reraise(found)
    if not torch.is_tensor(found):
        raise CheckFailure(f"{name} returned {type_name(found)}: expected a tensor (keep the graph for backward)")
    if found.numel() != 1:
        raise CheckFailure(f"{name} returned shape {tuple(found.shape)}: expected a scalar (the mean over the batch)")
    return found.reshape(())


def _run_loss(fn, *args, leaves=None, note=""):
    """collect's record of one loss call on args: the value, then the gradients that backward() gave
    the leaves (by default the args themselves), or {"raised": ...} where the student's code raised
    (followed by `note`, and by the mistake in its calls of torch's BCE if one explains it)."""
    leaves = args if leaves is None else leaves
    with BCECalls() as torch_bce:
        out, error = call(fn, *args)
    if error:
        mistake = bce_call_mistake(torch_bce.calls)
        unwritten = "raised NotImplementedError" in error["raised"]  # a stub: the shape it was given is no cause
        return {"value": {"raised": error["raised"] + ("" if unwritten else note) + (f": {mistake}" if mistake else "")}}
    record = {"value": returned(out)}
    if _is_scalar(out):
        _, error = call(lambda: out.reshape(()).backward())
        record["grads"] = error or grads_of(leaves)
    return record


def draw_bce(context):
    p = torch.rand(256) * 0.998 + 0.001
    return {"p": p, "hard": (torch.rand(256) > 0.5).float(), "soft": torch.rand(256)}


def collect_bce(submission, inputs):
    bce = submission.get(PART, "bce")
    found = {}
    with BCECalls() as torch_bce:
        for label in ("hard", "soft"):
            out, error = call(bce, inputs["p"].clone(), inputs[label].clone())
            found[label] = error or returned(out)
        found["extremes"] = []
        for p_value, t_value in EXTREMES:
            probs = torch.full((4,), p_value, requires_grad=True)
            found["extremes"].append(_run_loss(lambda p: bce(p, torch.full((4,), t_value)), probs))
            if "grads" not in found["extremes"][-1]:
                break  # it raised or returned no scalar: judge stops there
        probs = inputs["p"].clone().requires_grad_()
        out, _ = call(bce, probs, inputs["hard"].clone())
    hidden = [f"torch's binary_cross_entropy ({name} in the autograd graph of its result)" for name in bce_nodes(out)]
    found["torch_bce"] = torch_bce.names or hidden
    return found


BCE_MISTAKES = {
    "the sum instead of the mean over the batch": lambda p, t: correct_bce(p, t) * p.numel(),
    "a missing minus sign": lambda p, t: -correct_bce(p, t),
    "the term (1 - t) log(1 - p) left out": lambda p, t: -(t * torch.log(p)).mean(),
    "the term t log p left out": lambda p, t: -((1 - t) * torch.log(1 - p)).mean(),
    "the arguments in the other order, bce(targets, probs)": lambda p, t: correct_bce(t, p),
}


def judge_bce(inputs, found, context):
    if found["torch_bce"]:
        raise CheckFailure(f"bce calls {', '.join(found['torch_bce'])}: the notebook asks you to write the binary "
                           "cross-entropy without torch's BCE functions (nn.BCELoss and F.binary_cross_entropy "
                           "included), to build the loss from its formula -[t log p + (1 - t) log(1 - p)] and keep "
                           "its log finite at p = 0 and 1 yourself (clamped_log)")
    for label, key in (("hard targets", "hard"), ("soft targets", "soft")):
        probs, targets = inputs["p"], inputs[key]
        value = _value(found[key], name="bce")
        expected = correct_bce(probs, targets)
        if not agrees(value, expected):
            candidates = {name: wrong(probs, targets) for name, wrong in BCE_MISTAKES.items()}
            raise CheckFailure(f"bce on random probabilities with {label} gives {float(value):.5f}, expected "
                               f"{float(expected):.5f} (torch.nn.functional.binary_cross_entropy): "
                               + explain([value], candidates, "check the formula -[t log p + (1 - t) log(1 - p)]"))
    for (p_value, t_value), record in zip(EXTREMES, found["extremes"], strict=False):
        value = _value(record["value"], name="bce")
        if not torch.isfinite(value):
            raise CheckFailure(f"bce(p={p_value}, target={t_value}) is {float(value)}: log(0) must be clamped "
                               "(torch clamps the log at -100) or offset by a small epsilon")
        if t_value != p_value and value < 10:
            raise CheckFailure(f"bce(p={p_value}, target={t_value}) is {float(value):.3f}: a completely wrong "
                               "prediction must cost a large loss (torch gives 100)")
        reraise(record["grads"])
        grad = record["grads"][0]
        if grad is None or not torch.isfinite(grad).all():
            raise CheckFailure(f"bce's gradient at p={p_value}, target={t_value} is not finite: clamping log(p) "
                               "after taking it still back-propagates 1/0. Keep p away from 0 and 1 before the log "
                               "(e.g. torch.log(p.clamp(min=1e-12))) so a saturated D cannot produce NaN")
    if len(found["extremes"]) != len(EXTREMES):
        raise CheckFailure("bce was not evaluated at p = 0 and p = 1")


check("dcgan.bce", draw=draw_bce, collect=collect_bce, judge=judge_bce)


def _smoothed_targets(args, grads, value):
    """The mistake when a BCE loss trains D's outputs towards constant targets other than 0 and 1 (label
    smoothing, one- or two-sided): BCE(p, t) gives each output p the gradient (p - t) / (p (1 - p)) / N,
    so the targets the loss used are read off its gradients. None when that does not explain the value."""
    if not isinstance(grads, list) or len(grads) != len(args) or any(not torch.is_tensor(g) for g in grads):
        return None
    targets = []
    for p, g in zip(args, grads):
        p, g = p.double().flatten(), g.double().flatten()
        t = p - g * p.numel() * p * (1 - p)
        if not bool(torch.isfinite(t).all()) or float(t.std()) > 1e-3 or not 0.0 <= float(t.mean()) <= 1.0:
            return None  # NaN or diverging gradients, or no constant target BCE could take
        targets.append(round(float(t.mean()), 3))
    if not agrees(value, sum(correct_bce(p, torch.full_like(p, t)) for p, t in zip(args, targets))):
        return None
    if all(t in (0.0, 1.0) for t in targets):
        return None
    names = ("D(x)", "D(G(z))") if len(args) == 2 else ("D(G(z))",)
    course = ("1", "0") if len(args) == 2 else ("1",)
    shown = ", ".join(f"{t:g} for {n}" for t, n in zip(targets, names))
    return (f"it is the BCE with targets {shown} (label smoothing{', one-sided' if 0.0 in targets or 1.0 in targets else ''}"
            f"): the course's loss uses the targets {' and '.join(course)}; build them with torch.ones_like / "
            "torch.zeros_like (or torch.full(..., 1.0) and 0.0)")


def _raised(records):
    """Whether the student's code raised somewhere in collect's records."""
    if isinstance(records, dict):
        return "raised" in records or any(_raised(v) for v in records.values())
    return isinstance(records, (list, tuple)) and any(_raised(v) for v in records)


def in_own_shapes(submission, name, attempt):
    """attempt(shape, note) -> records, with D's outputs shaped as the student's own D returns them
    (conventions.py): a loss must accept the shape of the student's discriminator's output. `note` says
    so in the message of a loss that raised."""
    own = own_d_shapes(submission, PART)

    def note(shape):
        names = own.get(shape)
        return (f" ({name} was given D's outputs shaped {shape_text(shape)}"
                + (f", as your {' and '.join(names)} returns them: it must accept the shape of your discriminator's "
                   "output)" if names else ")"))
    return in_d_shapes(submission, PART, lambda shape: attempt(shape, note(shape)), failed=_raised)


def _loss_check(rubric_id, name, formula, mistakes, accepted_scales=(1.0,), helpers=("bce",)):
    """Check loss `name`(*probabilities) against `formula`, naming the mistake it matches if not."""
    n_args = formula.__code__.co_argcount

    def draw(context):
        return {"args": [_probabilities() for _ in range(n_args)]}

    def collect(submission, inputs):
        def attempt(shape, note):
            def run():
                fn = submission.get(PART, name)
                return _run_loss(fn, *(shaped(a, shape).clone().requires_grad_() for a in inputs["args"]), note=note)
            return both_ways(submission, PART, helpers, run)
        return in_own_shapes(submission, name, attempt)

    def judge(inputs, found, context):
        args = inputs["args"]
        expected = formula(*args)

        def verdict(record):
            value = _value(record["value"], name=name)
            if not any(agrees(value, scale * expected) for scale in accepted_scales):
                candidates = {label: wrong(*args) for label, wrong in mistakes.items()}
                smoothed = helpers and _smoothed_targets(args, record.get("grads"), value)
                raise CheckFailure(f"{name} on random D outputs gives {float(value):.5f}, expected "
                                   f"{float(expected):.5f}: " + (smoothed or explain([value], candidates,
                                                                                     formula.__doc__)))
            reraise(record["grads"])
            if len(record["grads"]) != n_args or any(g is None or not torch.isfinite(g).all() for g in record["grads"]):
                raise CheckFailure(f"{name} does not give finite gradients to D's outputs: keep it differentiable "
                                   "(no .item(), no .detach() of the inputs)")
        return either_way(found, verdict)

    return check(rubric_id, draw=draw, collect=collect, judge=judge)


def _lsgan_d(d_real, d_fake):
    """the LSGAN D loss is 1/2 mean (D(x) - 1)^2 + 1/2 mean D(G(z))^2"""
    return 0.5 * F.mse_loss(d_real, torch.ones_like(d_real)) + 0.5 * F.mse_loss(d_fake, torch.zeros_like(d_fake))


def _lsgan_g(d_fake):
    """the LSGAN G loss is 1/2 mean (D(G(z)) - 1)^2 (fakes pushed towards the 'real' target 1)"""
    return 0.5 * F.mse_loss(d_fake, torch.ones_like(d_fake))


def _target(d, value):
    return torch.full_like(d, value)


BATCH_SUM = "the sum over the batch instead of the mean (reduction='sum')"

_loss_check("dcgan.d_loss", "d_loss", correct_d_loss, {
    "swapped labels (real judged against 0, fake against 1)":
        lambda r, f: correct_bce(r, _target(r, 0)) + correct_bce(f, _target(f, 1)),
    "the real term's target flipped: BCE(D(x), 0) + BCE(D(G(z)), 0); real images need target 1":
        lambda r, f: correct_bce(r, _target(r, 0)) + correct_bce(f, _target(f, 0)),
    "the fake term's target flipped: BCE(D(x), 1) + BCE(D(G(z)), 1); fakes need target 0":
        lambda r, f: correct_bce(r, _target(r, 1)) + correct_bce(f, _target(f, 1)),
    "a missing fake term (only BCE(D(x), 1))": lambda r, f: correct_bce(r, _target(r, 1)),
    "a missing real term (only BCE(D(G(z)), 0))": lambda r, f: correct_bce(f, _target(f, 0)),
    "the fake term subtracted: BCE(D(x), 1) - BCE(D(G(z)), 0); both terms are added":
        lambda r, f: correct_bce(r, _target(r, 1)) - correct_bce(f, _target(f, 0)),
    "the objective of equation 7 without the minus sign (it must be minimised)": lambda r, f: -correct_d_loss(r, f),
    BATCH_SUM: lambda r, f: correct_d_loss(r, f) * r.numel(),
}, accepted_scales=(1.0, 0.5))

_loss_check("dcgan.g_loss", "g_loss", correct_g_loss, {
    "the saturating minimax loss mean log(1 - D(G(z))): g_loss is the non-saturating one": correct_g_loss_minimax,
    "the wrong target: BCE(D(G(z)), 0) trains G to look fake": lambda f: correct_bce(f, _target(f, 0)),
    "mean log D(G(z)) without the minus sign (it must be minimised)": lambda f: -correct_g_loss(f),
    BATCH_SUM: lambda f: correct_g_loss(f) * f.numel(),
})

_loss_check("dcgan.g_loss_minimax", "g_loss_minimax", correct_g_loss_minimax, {
    "the non-saturating loss -mean log D(G(z)): g_loss_minimax is the 'true' loss of question 3": correct_g_loss,
    "BCE(D(G(z)), 0) = -mean log(1 - D(G(z))): a sign error, G would minimise the wrong way":
        lambda f: correct_bce(f, _target(f, 0)),
    "mean log D(G(z)): the log of D(G(z)) instead of log(1 - D(G(z)))": lambda f: torch.log(f).mean(),
    BATCH_SUM: lambda f: correct_g_loss_minimax(f) * f.numel(),
})

_loss_check("dcgan.lsgan_d_loss", "lsgan_d_loss", _lsgan_d, {
    "the loss without the factor 1/2": lambda r, f: 2 * _lsgan_d(r, f),
    "swapped targets (real towards 0, fake towards 1)": lambda r, f: 0.5 * (r ** 2).mean() + 0.5 * ((f - 1) ** 2).mean(),
    "fakes pushed towards -1, the -1/1 coding of the LSGAN paper: the notebook's targets are 1 (real) and 0 (fake)":
        lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * ((f + 1) ** 2).mean(),
    BATCH_SUM: lambda r, f: _lsgan_d(r, f) * r.numel(),
}, helpers=())

_loss_check("dcgan.lsgan_g_loss", "lsgan_g_loss", _lsgan_g, {
    "the slide's 1/2 mean D(G(z))^2, which pushes fakes towards the 'fake' target 0 (ASSIGNMENT.md)":
        lambda f: 0.5 * (f ** 2).mean(),
    "the loss without the factor 1/2": lambda f: ((f - 1) ** 2).mean(),
    BATCH_SUM: lambda f: _lsgan_g(f) * f.numel(),
}, helpers=())


SATURATED_LOGIT = -7.0  # D(G(z)) = sigmoid(-7) ~ 0.001
G_LOSSES = ("g_loss", "g_loss_minimax")


def draw_saturation(context):
    return {"probabilities": _probabilities()}


def collect_saturation(submission, inputs):
    def attempt(shape, note):
        def run():
            found = {}
            for name in G_LOSSES:
                fn, error = call(submission.get, PART, name)
                if error:  # not defined: charged by its own item
                    found[name] = {"random": error}
                    continue
                value, error = call(fn, shaped(inputs["probabilities"], shape).clone())
                logits = torch.full((16, *shape), SATURATED_LOGIT, requires_grad=True)
                found[name] = {"random": error or returned(value),
                               **_run_loss(fn, torch.sigmoid(logits), leaves=[logits], note=note)}
            return found
        return both_ways(submission, PART, ("bce",), run)
    return in_own_shapes(submission, "each G loss", attempt)


def _saturated_gradient(loss):
    """The gradient per example on D's logit that the correct `loss` gives at the saturated point."""
    logits = torch.full((16, 1, 1, 1), SATURATED_LOGIT, requires_grad=True)
    loss(torch.sigmoid(logits)).backward()
    return float(logits.grad.double().abs().mean()) * 16


CORRECT_G_LOSSES = {"g_loss": correct_g_loss, "g_loss_minimax": correct_g_loss_minimax}


def judge_saturation(inputs, found, context):
    """Question 3: the two G losses differ where it matters, when D confidently rejects the fakes.

    A loss that is missing, raises or is wrong on random D outputs fails its own item (dcgan.g_loss or
    dcgan.g_loss_minimax): its gradient is taken as correct here, so that the mistake costs once.
    The student's gradients are judged for the losses whose values are right; at least one must be."""
    def right(record, name):
        value = record["random"]
        return torch.is_tensor(value) and agrees(value, CORRECT_G_LOSSES[name](inputs["probabilities"]))

    def verdict(found):
        grads = {}
        charged = [name for name in G_LOSSES if not right(found[name], name)]
        if len(charged) == len(G_LOSSES):
            reraise(found["g_loss"]["random"])
            reraise(found["g_loss_minimax"]["random"])
            raise CheckFailure("neither g_loss nor g_loss_minimax gives the right values (their own items say why): "
                               "this item compares their gradients with D(G(z)) near 0")
        for name in G_LOSSES:
            if name in charged:
                grads[name] = _saturated_gradient(CORRECT_G_LOSSES[name])
                continue
            _value(found[name]["value"], name=name)
            reraise(found[name]["grads"])
            grad = found[name]["grads"][0]
            if grad is None:
                raise CheckFailure(f"{name} gives no gradient to D's logit: keep it differentiable "
                                   "(no .item(), no .detach() of the inputs)")
            grads[name] = float(grad.double().abs().mean()) * 16
        if not grads["g_loss"] > 0.5:
            raise CheckFailure(f"with D(G(z)) near 0, g_loss gives G a gradient of {grads['g_loss']:.2e} per example "
                               "on D's logit: the non-saturating loss should keep it near 1 (does g_loss saturate?)")
        if not grads["g_loss_minimax"] < 0.01:
            raise CheckFailure(f"with D(G(z)) near 0, g_loss_minimax gives a gradient of "
                               f"{grads['g_loss_minimax']:.2e} on D's logit: the 'true' minimax loss saturates there "
                               "(about 1e-3 expected)")
    return either_way(found, verdict)


check("dcgan.g_losses_gradients", draw=draw_saturation, collect=collect_saturation, judge=judge_saturation)
