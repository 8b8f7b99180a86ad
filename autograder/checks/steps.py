"""Training steps, judged behaviourally with instrumented networks and optimizers.

The student's d_step / g_step / train_step / vae_step are called with the grader's probe networks:
small models that record every call (inputs, outputs, train or eval mode, and the gradient that
reaches each output) and an optimizer that records its steps. From those records the grader tells,
whatever the code looks like: which images D judged with which labels, whether the fakes were
detached, whether stale gradients were cleared, and which loss produced the gradients (correct BCE
targets, swapped labels, saturating loss...).

Each mistake is charged where it lives: while a step runs, the part's helpers that other checks
judge (get_noise, onehot, bce, d_loss, g_loss, the VAE's loss...) are replaced by correct ones, and
train_step runs with correct d_step / g_step in place of the student's, so that a wrong helper costs
its own item and not every step that calls it. The probe D returns its probabilities shaped as the
student's own discriminator does ((B, 1, 1, 1), (B, 1) or (B,); conventions.py), so that losses
written for that shape work.

Each check is split in two (see registry.py): draw makes the real batch, the labels and the probes'
starting weights; collect rebuilds the probes from those weights, calls the student's function and
returns the probes' records (calls, gradients, parameters after the call) as plain data; judge
reads the verdict off those records and never calls student code.
"""
import inspect
import math

import torch
import torch.nn as nn

from autograder.checks.diagnose import (correct_d_loss, correct_g_loss, correct_helpers, correct_kl, correct_noise,
                                         correct_onehot, cosine, grads_of, returned, substituted)
from autograder.checks.conventions import in_d_shapes
from autograder.checks.course import BETAS, LATENT, LR, N_CLASSES, NZ
from autograder.checks.registry import CheckFailure, check

BATCH = 16
STALE = 1e4  # gradient left in .grad before a step: only zero_grad removes it
MAX_ROWS = 256 * BATCH  # images one step may show D (and G make) for the judge to match them
PARTS = {"part1_dcgan": {"image": (3, 32, 32), "conditional": False},
         "part2_cgan": {"image": (1, 32, 32), "conditional": True}}


class ProbeD(nn.Module):
    """A linear discriminator whose outputs spread over (0, 1), shaped (B, *shape); records every call."""

    def __init__(self, image, conditional, shape=(1, 1, 1)):
        super().__init__()
        n_in = math.prod(image) + (N_CLASSES if conditional else 0)
        self.linear = nn.Linear(n_in, 1)
        nn.init.normal_(self.linear.weight, 0, 3 / math.sqrt(n_in))
        self.conditional, self.shape = conditional, tuple(shape)
        self.calls = []

    def forward(self, x, *rest):
        if self.conditional and len(rest) != 1:
            raise CheckFailure("netD must be called as netD(x, y): the conditional D judges an image with a label")
        if not self.conditional and rest:
            raise CheckFailure("netD takes one argument, the images")
        y = rest[0] if rest else None
        h = x.reshape(x.size(0), -1)
        if y is not None:
            h = torch.cat([h, y.reshape(y.size(0), -1)], dim=1)
        out = torch.sigmoid(self.linear(h)).view(-1, *self.shape)
        call = {"x": x.detach().clone(), "y": None if y is None else y.detach().reshape(y.size(0), -1).clone(),
                "d": out.detach().flatten().clone(), "grad": None, "training": self.training}
        if out.requires_grad:
            out.register_hook(lambda g, call=call: call.__setitem__("grad", g.detach().flatten().clone()))
        self.calls.append(call)
        return out


class ProbeG(nn.Module):
    """A linear generator; records every call."""

    def __init__(self, image, conditional):
        super().__init__()
        self.image, self.conditional = image, conditional
        self.linear = nn.Linear(NZ + (N_CLASSES if conditional else 0), math.prod(image))
        self.calls = []

    def forward(self, z, *rest):
        if self.conditional and len(rest) != 1:
            raise CheckFailure("netG must be called as netG(z, y): the conditional G generates an image of class y")
        h = z.reshape(z.size(0), -1)
        y = rest[0].reshape(z.size(0), -1) if rest else None
        if y is not None:
            h = torch.cat([h, y], dim=1)
        out = torch.tanh(self.linear(h)).view(-1, *self.image)
        self.calls.append({"z": z.detach().reshape(z.size(0), -1).clone(),
                           "y": None if y is None else y.detach().clone(), "x": out.detach().clone(),
                           "training": self.training})
        return out


class RecordingSGD(torch.optim.SGD):
    """Plain SGD that remembers, at each step, the gradients it was given."""

    def __init__(self, params):
        super().__init__(params, lr=1e-3)
        self.grads_at_step = []

    def step(self, closure=None):
        params = [p for group in self.param_groups for p in group["params"]]
        self.grads_at_step.append(grads_of(params))
        return super().step(closure)


class SequencedSGD(RecordingSGD):
    """A RecordingSGD of train_step's: each step is an update of `who` ("D" or "G"), logged in the shared
    `updates` with how many calls the probes had seen then, the gradients and net's parameters before and
    after, so that an update written inline (zero_grad, loss, backward, step) is judged by what it did."""

    def __init__(self, net, who, probes, updates):
        super().__init__(net.parameters())
        self.net, self.who, self.probes, self.updates = net, who, probes, updates

    def step(self, closure=None):
        before = _state(self.net)
        super().step(closure)
        self.updates.append({"step": self.who.lower(), "via": "optimizer", "before": before, "after": _state(self.net),
                             "grads": self.grads_at_step[-1],
                             "seen": {net: len(probe.calls) for net, probe in self.probes.items()}})


# ---- correct helpers, put in the student's namespace while a step runs ----


def fair_helpers(submission, part, **steps):
    """The part's helpers (and, for train_step, its steps) replaced by correct ones: each helper's own
    check judges it (prior, onehot, bce, d_loss, g_loss, vae.*), so a wrong helper is charged once, there."""
    return substituted(submission, part, {**correct_helpers(part), **steps})


def _probes(part, shape=(1, 1, 1)):
    spec = PARTS[part]
    return ProbeD(spec["image"], spec["conditional"], shape), ProbeG(spec["image"], spec["conditional"])


def _real_batch(part):
    x = torch.rand(BATCH, *PARTS[part]["image"]) * 2 - 1
    y = correct_onehot(torch.randint(N_CLASSES, (BATCH,)))
    return x, y


def _state(module):
    """A module's parameters as plain data (name -> tensor)."""
    return {name: p.detach().clone() for name, p in module.named_parameters()}


def _load(module, state):
    with torch.no_grad():
        for name, p in module.named_parameters():
            p.copy_(state[name])


def _unchanged(after, before):
    return set(after) == set(before) and all(torch.equal(after[name], before[name]) for name in before)


def _has_grad(grads):
    return any(g is not None and g.abs().sum() > 0 for g in grads)


def _fill_stale(module):
    for p in module.parameters():
        p.grad = torch.full_like(p, STALE)


def _one_step(grads_at_step, who, optimizer=None, net=None, backward_seen=False):
    """The step called its optimizer once, on fresh gradients. backward_seen: the loss's backward() reached
    the network's outputs, so gradients that are gone at the step were cleared between backward and step."""
    optimizer, net = optimizer or f"optimizer{who}", net or f"net{who}"
    if len(grads_at_step) != 1:
        raise CheckFailure(f"the {who} step must call its optimizer's step() exactly once; it was called "
                           f"{len(grads_at_step)} times")
    grads = [g for g in grads_at_step[0] if g is not None]
    if (not grads or all(g.abs().sum() == 0 for g in grads)) and backward_seen:
        raise CheckFailure(f"the {who}'s gradients were cleared between backward() and {optimizer}.step(): "
                           f"{optimizer}.zero_grad() (or {net}.zero_grad()) placed after backward() erases what "
                           "backward() computed, so the step updates nothing. Call zero_grad() before the forward "
                           "pass (or before backward()), never between backward() and step()")
    if not grads or all(g.abs().sum() == 0 for g in grads):
        raise CheckFailure(f"the {who}'s parameters had no gradient when the optimizer stepped: call backward() "
                           f"on the loss before {optimizer}.step()" + (
                               ", and do not detach the fakes in the G step" if who == "G" else ""))
    if min(float(g.abs().min()) for g in grads) > STALE / 10:
        raise CheckFailure(f"stale gradients: the {who} optimizer stepped on gradients left from before the step. "
                           f"Call {optimizer}.zero_grad() (or {net}.zero_grad()) before backward()")


def _check_modes(found, who, judged):
    """Both networks train in train mode: BatchNorm learns and normalises with the batch's statistics. A
    network in eval mode while it judges or generates in `judged` (names of the nets whose calls must be
    in train mode), or left in eval mode after the step, is named."""
    for net in judged:
        if any(not call["training"] for call in found[f"{net.lower()}_calls"]):
            raise CheckFailure(
                f"net{net} was in eval mode when the {who} step called it (net{net}.eval() left on, or train mode "
                f"not restored): its BatchNorm then uses running statistics instead of the batch's, so "
                + ("G learns against another D than the one the D step trains" if net == "D" and who == "G"
                   else "it does not train as the course's networks do") + f". Keep net{net} in train mode "
                "during training (net.train()); eval mode is for evaluation only")
    for net in ("D", "G"):
        if not found[f"{net}_training_after"]:
            raise CheckFailure(f"the {who} step left net{net} in eval mode (net{net}.eval() without net{net}.train() "
                               "afterwards): the next steps would train it with BatchNorm's running statistics")


def _match_rows(rows, pool):
    """For each row, the index of an identical row in pool (or -1)."""
    if pool is None or len(pool) == 0:
        return torch.full((len(rows),), -1)
    diff = (rows.reshape(len(rows), 1, -1) - pool.reshape(1, len(pool), -1)).abs().amax(-1)
    best = diff.min(dim=1)
    return torch.where(best.values <= 1e-6, best.indices, torch.full_like(best.indices, -1))


def _judgements(d_calls, g_calls, x_real):
    """Sort every image D judged into real and fake rows, with its label, D's output and gradient."""
    judged, made = sum(len(c["x"]) for c in d_calls), sum(len(c["x"]) for c in g_calls)
    if max(judged, made) > MAX_ROWS:  # matching costs judged x made x pixels: no step of the course comes close
        raise CheckFailure(f"the step showed D {judged:,} images and G made {made:,}, where a step on a batch shows "
                           f"each network a few batches: the grader judges at most {MAX_ROWS:,} of each")
    fakes = torch.cat([c["x"] for c in g_calls]) if g_calls else None
    fake_labels = torch.cat([c["y"] for c in g_calls]) if g_calls and g_calls[0]["y"] is not None else None
    rows = {"real": [], "fake": []}
    for call in d_calls:
        as_real, as_fake = _match_rows(call["x"], x_real), _match_rows(call["x"], fakes)
        if (as_real >= 0).any() and (as_fake >= 0).any():
            raise CheckFailure("D judged real and fake images in one call (torch.cat([x_real, fake])): D's BatchNorm "
                               "then normalises them together and its batch statistics give the fakes away. Call "
                               "netD once on the real batch and once on the fakes")
        for i in range(len(call["x"])):
            grad = None if call["grad"] is None else float(call["grad"][i])
            label = None if call["y"] is None else call["y"][i]
            if as_real[i] >= 0:
                rows["real"].append({"source": int(as_real[i]), "y": label, "d": float(call["d"][i]), "grad": grad})
            elif as_fake[i] >= 0:
                made_for = None if fake_labels is None else fake_labels[as_fake[i]]
                rows["fake"].append({"y": label, "made_for": made_for, "d": float(call["d"][i]), "grad": grad})
    return rows


def _check_noise(g_calls):
    """The z given to G must come from the prior: N(0, I) with nz coordinates (get_noise)."""
    from scipy import stats  # here: judges only, the namespace need not import it
    z = torch.cat([c["z"] for c in g_calls])
    if z.shape[1] != NZ:
        raise CheckFailure(f"netG received z with {z.shape[1]} values per example, expected nz = {NZ}: use get_noise")
    p_value = stats.kstest(z.flatten().double().numpy(), "norm").pvalue
    if p_value < 1e-4:
        raise CheckFailure(f"the noise given to netG does not follow N(0, I) (KS test p = {p_value:.1e}; mean "
                           f"{float(z.mean()):.2f}, std {float(z.std()):.2f}): draw it with get_noise")


def _check_labels(rows, y_real):
    for row in rows["real"]:
        if row["y"] is not None and not torch.equal(row["y"], y_real.reshape(BATCH, -1)[row["source"]]):
            raise CheckFailure("real images were judged with labels other than their own: call netD(x_real, y_real)"
                               " with the labels of that batch")
    for row in rows["fake"]:
        if row["y"] is not None and not torch.equal(row["y"], row["made_for"]):
            raise CheckFailure("D judged fakes with labels other than those they were generated from: pass the same "
                               "y to netG(z, y) and to netD(fake, y)")


def _gradient_verdict(rows, expected, mistakes, who, where=None):
    """Compare dLoss/dD(.) on each judged image with the correct loss's, naming the mistake matched."""
    where = where or f"the {who} step"
    used = [r for kind in ("real", "fake") for r in rows[kind]]
    if any(r["grad"] is None for r in used):
        raise CheckFailure(f"some of D's outputs in {where} do not reach the loss (D judged images that the "
                           "loss then ignores)")
    found = torch.tensor([r["grad"] for r in used], dtype=torch.float64)

    def vector(rule):
        return torch.tensor([rule[kind](r["d"]) for kind in ("real", "fake") for r in rows[kind]], dtype=torch.float64)

    if cosine(found, vector(expected)) > 0.999:
        return
    for label, rule in mistakes.items():
        if cosine(found, vector(rule)) > 0.999:
            raise CheckFailure(f"{where}'s loss gives D's outputs the gradients of {label}")
    raise CheckFailure(f"{where}'s gradients on D's outputs match no BCE loss with the right targets: "
                       + expected["doc"])


D_EXPECTED = {"real": lambda d: -1 / d, "fake": lambda d: 1 / (1 - d),
              "doc": "D minimises BCE(D(x), 1) + BCE(D(G(z)), 0)"}
D_MISTAKES = {
    "swapped labels (real judged against target 0, fakes against 1)": {"real": lambda d: 1 / (1 - d),
                                                                       "fake": lambda d: -1 / d},
    "the objective maximised instead of the loss minimised (a sign error)": {"real": lambda d: 1 / d,
                                                                             "fake": lambda d: -1 / (1 - d)},
    "a least-squares loss, not the binary cross-entropy": {"real": lambda d: d - 1, "fake": lambda d: d},
}
G_EXPECTED = {"real": None, "fake": lambda d: -1 / d,
              "doc": "G minimises the non-saturating BCE(D(G(z)), 1)"}
G_MISTAKES = {
    "the saturating minimax loss mean log(1 - D(G(z))): use the non-saturating BCE(D(G(z)), 1)":
        {"fake": lambda d: -1 / (1 - d)},
    "BCE(D(G(z)), 0): the target for G's fakes must be 1 ('real')": {"fake": lambda d: 1 / (1 - d)},
    "-BCE(D(G(z)), 1): a sign error": {"fake": lambda d: 1 / d},
}


def _draw_nets(part):
    """The probe networks' starting weights, drawn (with the real batch) before any student code runs."""
    netD, netG = _probes(part)
    return {"D": _state(netD), "G": _state(netG)}


def _probes_from(part, inputs, shape=(1, 1, 1)):
    netD, netG = _probes(part, shape)
    _load(netD, inputs["D"])
    _load(netG, inputs["G"])
    return netD, netG


def _records(netD, netG):
    """What the probes saw and how they were left, as plain data for the judge."""
    return {"d_calls": netD.calls, "g_calls": netG.calls, "D_after": _state(netD), "G_after": _state(netG),
            "G_grads": grads_of(netG.parameters()), "D_training_after": netD.training,
            "G_training_after": netG.training}


def d_step_check(part):
    conditional = PARTS[part]["conditional"]

    def draw(context):
        nets = _draw_nets(part)
        x_real, y_real = _real_batch(part)
        return {**nets, "x_real": x_real, "y_real": y_real}

    def collect(submission, inputs):
        d_step = submission.get(part, "d_step")

        def attempt(shape):
            netD, netG = _probes_from(part, inputs, shape)
            optimizerD = RecordingSGD(netD.parameters())
            _fill_stale(netD)
            x_real, y_real = inputs["x_real"].clone(), inputs["y_real"].clone()
            with fair_helpers(submission, part):
                d_step(netD, netG, optimizerD, x_real, *([y_real] if conditional else []), NZ)
            return {**_records(netD, netG), "grads_at_step": optimizerD.grads_at_step}
        return in_d_shapes(submission, part, attempt)

    def judge(inputs, found, context):
        _one_step(found["grads_at_step"], "D", backward_seen=any(c["grad"] is not None for c in found["d_calls"]))
        if not _unchanged(found["G_after"], inputs["G"]) or _has_grad(found["G_grads"]):
            raise CheckFailure("the D step reached G: D's loss back-propagated into G's parameters. Detach the fakes "
                               "(netG(z).detach(), or generate them under torch.no_grad())")
        _check_modes(found, "D", judged=("D",))
        rows = _judgements(found["d_calls"], found["g_calls"], inputs["x_real"])
        if not rows["real"]:
            raise CheckFailure("D never judged the real batch x_real in the D step")
        if not rows["fake"]:
            raise CheckFailure("D never judged fakes made by netG in the D step")
        if len(rows["fake"]) != BATCH:
            raise CheckFailure(f"the D step judged {len(rows['fake'])} fakes for a real batch of {BATCH}: generate as "
                               "many fakes as real images (x_real.size(0)), not a fixed batch size")
        _check_noise(found["g_calls"])
        _check_labels(rows, inputs["y_real"])
        _gradient_verdict(rows, D_EXPECTED, D_MISTAKES, "D")
    return draw, collect, judge


def g_step_check(part):
    conditional = PARTS[part]["conditional"]

    def draw(context):
        nets = _draw_nets(part)
        return {**nets, "y": _real_batch(part)[1] if conditional else None}

    def collect(submission, inputs):
        g_step = submission.get(part, "g_step")

        def attempt(shape):
            netD, netG = _probes_from(part, inputs, shape)
            optimizerG = RecordingSGD(netG.parameters())
            _fill_stale(netG)
            with fair_helpers(submission, part):
                if conditional:
                    g_step(netD, netG, optimizerG, inputs["y"].clone(), NZ)
                else:
                    g_step(netD, netG, optimizerG, BATCH, NZ, "cpu")
            return {**_records(netD, netG), "grads_at_step": optimizerG.grads_at_step}
        return in_d_shapes(submission, part, attempt)

    def judge(inputs, found, context):
        _one_step(found["grads_at_step"], "G")  # D's outputs get gradients from detached fakes too
        if not _unchanged(found["D_after"], inputs["D"]):
            raise CheckFailure("the G step changed D's parameters: only optimizerG may step in g_step")
        _check_modes(found, "G", judged=("D", "G"))
        rows = _judgements(found["d_calls"], found["g_calls"], torch.empty(0, *PARTS[part]["image"]))
        if not rows["fake"]:
            raise CheckFailure("D never judged G's fakes in the G step (or the fakes were changed before D saw them)")
        _check_noise(found["g_calls"])
        if conditional:
            y = inputs["y"]
            if any(not torch.equal(c["y"], y.reshape(BATCH, -1)) for c in found["g_calls"]):
                raise CheckFailure("g_step(netD, netG, optimizerG, y, nz) must generate its fakes for the labels y "
                                   "it is given")
            _check_labels(rows, None)
        _gradient_verdict(rows, G_EXPECTED, G_MISTAKES, "G")
    return draw, collect, judge


UPDATES = ((1, 1), (2, 1), (1, 3))  # (nb_update_D, nb_update_G) tried in turn

# The contract's step signatures: train_step's calls of d_step and g_step are bound to them.
STEP_SIGNATURES = {
    "part1_dcgan": {"d": inspect.Signature.from_callable(lambda netD, netG, optimizerD, x_real, nz=NZ: None),
                    "g": inspect.Signature.from_callable(
                        lambda netD, netG, optimizerG, batch_size, nz=NZ, device="cpu": None)},
    "part2_cgan": {"d": inspect.Signature.from_callable(lambda netD, netG, optimizerD, x_real, y_real, nz=NZ: None),
                   "g": inspect.Signature.from_callable(lambda netD, netG, optimizerG, y, nz=NZ: None)},
}


def fair_steps(part, log):
    """Correct d_step and g_step for train_step to call: each logs the arguments it was given and the
    parameters of the network it updates, before and after its update."""
    conditional = PARTS[part]["conditional"]

    def bind(kind, args, kwargs):
        try:
            return STEP_SIGNATURES[part][kind].bind(*args, **kwargs).arguments
        except TypeError as exc:
            shown = ", ".join(STEP_SIGNATURES[part][kind].parameters)
            raise CheckFailure(f"train_step called {kind}_step with arguments that do not fit {kind}_step({shown}) "
                               f"({exc})") from None

    def update(kind, bound, net, optimizer, loss_of):
        entry = {"step": kind, "via": "call", "netD": bound["netD"], "netG": bound["netG"], "optimizer": optimizer,
                 "before": _state(net) if isinstance(net, nn.Module) else None}
        optimizer.zero_grad()
        loss = loss_of()
        loss.backward()
        steps_before = len(log)
        optimizer.step()
        own = log[steps_before:]  # the step a correct d_step / g_step makes is this call's, not an update of its own
        del log[steps_before:]
        entry["seen"] = own[-1]["seen"] if own else None
        entry["after"] = _state(net) if isinstance(net, nn.Module) else None
        log.append(entry)
        return loss.detach()

    def d_step(*args, **kwargs):
        bound = bind("d", args, kwargs)
        netD, netG, x_real = bound["netD"], bound["netG"], bound["x_real"]
        labels = [bound["y_real"]] if conditional else []

        def loss():
            fake = netG(correct_noise(x_real.size(0), bound.get("nz", NZ)), *labels).detach()
            return correct_d_loss(netD(x_real, *labels), netD(fake, *labels))
        log_batch = {"x_real": x_real, "y": labels[0] if labels else None}
        result = update("d", bound, netD, bound["optimizerD"], loss)
        log[-1].update(log_batch)
        return result

    def g_step(*args, **kwargs):
        bound = bind("g", args, kwargs)
        netD, netG = bound["netD"], bound["netG"]
        labels = [bound["y"]] if conditional else []
        batch = bound["y"].size(0) if conditional else bound["batch_size"]

        def loss():
            return correct_g_loss(netD(netG(correct_noise(batch, bound.get("nz", NZ)), *labels), *labels))
        result = update("g", bound, netG, bound["optimizerG"], loss)
        log[-1].update({"batch": batch, "y": labels[0] if labels else None})
        return result

    return {"d_step": d_step, "g_step": g_step}


def train_step_check(part):
    conditional = PARTS[part]["conditional"]

    def draw(context):
        runs = []
        for _ in UPDATES:
            nets = _draw_nets(part)
            x_real, y_real = _real_batch(part)
            runs.append({**nets, "x_real": x_real, "y_real": y_real})
        return {"runs": runs}

    def collect(submission, inputs):
        train_step = submission.get(part, "train_step")

        def attempt(shape):
            return [one_run(nb_update_D, nb_update_G, run, shape)
                    for (nb_update_D, nb_update_G), run in zip(UPDATES, inputs["runs"])]

        def one_run(nb_update_D, nb_update_G, run, shape):
            netD, netG = _probes_from(part, run, shape)
            log = []  # the updates in order: calls of d_step / g_step, and optimizer steps made outside them
            probes = {"D": netD, "G": netG}
            optimizerD, optimizerG = SequencedSGD(netD, "D", probes, log), SequencedSGD(netG, "G", probes, log)
            _fill_stale(netD)
            _fill_stale(netG)
            with fair_helpers(submission, part, **fair_steps(part, log)):
                out = train_step(netD, netG, optimizerD, optimizerG, run["x_real"].clone(),
                                 *([run["y_real"].clone()] if conditional else []), NZ,
                                 nb_update_D=nb_update_D, nb_update_G=nb_update_G)
            mine = {"netD": netD, "netG": netG, "optimizerD": optimizerD, "optimizerG": optimizerG}
            updates = []
            for e in log:
                if e["via"] == "call":
                    updates.append({"step": e["step"], "via": "call", "before": e["before"], "after": e["after"],
                                    "wrong": [name for name in ("netD", "netG") if e[name] is not mine[name]]
                                    + ([] if e["optimizer"] is mine["optimizer" + e["step"].upper()]
                                       else ["optimizer" + e["step"].upper()]),
                                    **{key: e[key] for key in ("x_real", "y", "batch", "seen") if key in e}})
                else:
                    updates.append({key: e[key] for key in ("step", "via", "before", "after", "grads", "seen")})
            return {"calls": updates, "d_calls": netD.calls, "g_calls": netG.calls,
                    "D_after": _state(netD), "G_after": _state(netG), "returned": type(out).__name__,
                    "length": len(out) if isinstance(out, (tuple, list)) else None}
        return {"runs": in_d_shapes(submission, part, attempt)}

    def judge(inputs, found, context):
        if len(found["runs"]) != len(UPDATES):
            raise ValueError(f"{len(found['runs'])} runs of train_step recorded, expected {len(UPDATES)}")
        for (nb_update_D, nb_update_G), run, given in zip(UPDATES, found["runs"], inputs["runs"]):
            _judge_train_step_run(nb_update_D, nb_update_G, run, given, conditional)
    return draw, collect, judge


def _judge_train_step_run(nb_update_D, nb_update_G, run, given, conditional):
    """One run of train_step: what its calls of d_step and g_step did to the parameters."""
    setting = f"with nb_update_D={nb_update_D}, nb_update_G={nb_update_G}"
    calls = run["calls"]
    seen = {"D": 0, "G": 0}
    for c in calls:
        if c["via"] == "optimizer":
            _judge_inline_update(c, run, given, seen, setting, conditional)
        seen = c.get("seen") or seen
    made = (sum(c["step"] == "d" for c in calls), sum(c["step"] == "g" for c in calls))
    if made != (nb_update_D, nb_update_G):
        raise CheckFailure(f"{setting}, train_step made {made[0]} D updates and {made[1]} G updates (calls of your "
                           "d_step and g_step, or updates written inline): call d_step nb_update_D times, then "
                           "g_step nb_update_G times")
    for c in (c for c in calls if c["via"] == "call"):
        if c["wrong"]:
            raise CheckFailure(f"train_step called {c['step']}_step with the wrong {', '.join(c['wrong'])}: pass "
                               f"it the networks and optimizer{c['step'].upper()} that train_step was given")
        if c["step"] == "d" and not torch.equal(c["x_real"], given["x_real"]):
            raise CheckFailure("train_step's d_step did not get the real batch x_real that train_step was given")
        if c["step"] == "g" and not conditional and c["batch"] != BATCH:
            raise CheckFailure(f"train_step's g_step made {c['batch']} fakes for a batch of {BATCH} real images: "
                               "pass x_real.size(0)")
        if conditional and not torch.equal(c["y"].reshape(BATCH, -1), given["y_real"].reshape(BATCH, -1)):
            raise CheckFailure(f"train_step's {c['step']}_step did not get the batch's labels y_real")
    for net, kind in (("D", "d"), ("G", "g")):
        state = given[net]
        for c in [c for c in calls if c["step"] == kind]:
            if not _unchanged(c["before"], state):
                raise CheckFailure(f"{setting}, train_step changed net{net}'s parameters outside its updates (its "
                                   f"own changes of the weights, or another optimizer): only {kind}_step, or "
                                   f"optimizer{net}.step() after a {net} loss's backward(), may update net{net}")
            state = c["after"]
        if not _unchanged(run[f"{net}_after"], state):
            raise CheckFailure(f"{setting}, train_step changed net{net}'s parameters outside its updates (its own "
                               f"changes of the weights, or another optimizer): only {kind}_step, or "
                               f"optimizer{net}.step() after a {net} loss's backward(), may update net{net}")
    if run["length"] != 2:
        raise CheckFailure("train_step must return the pair (loss of D, loss of G)")


def _judge_inline_update(update, run, given, seen, setting, conditional):
    """An optimizer step train_step made itself (the course's 2019 notebook writes the iteration inline):
    judged as d_step's and g_step's own checks judge theirs, from what D judged since the previous update
    and the gradients the optimizer stepped on."""
    who = update["step"].upper()
    what = f"{setting}, train_step's own optimizer{who}.step() (a {who} update written inline)"
    d_calls = run["d_calls"][seen["D"]:update["seen"]["D"]]
    if not d_calls:
        raise CheckFailure(f"{what} came with no {who} loss: D judged no image since the previous update (an "
                           f"optimizer{who}.step() alone, or one too many?). A {who} update is {who.lower()}_step(...) "
                           f"or, inline, zero_grad(), the {who} loss on D's outputs, backward(), step()")
    grads = [g for g in update["grads"] if g is not None]
    if not grads or all(g.abs().sum() == 0 for g in grads):
        raise CheckFailure(f"{what} stepped with no gradient on net{who}'s parameters: call backward() on the "
                           f"{who} loss before optimizer{who}.step()")
    if min(float(g.abs().min()) for g in grads) > STALE / 10:
        raise CheckFailure(f"{what} stepped on stale gradients left from before: call net{who}.zero_grad() (or "
                           f"optimizer{who}.zero_grad()) before the {who} loss's backward()")
    g_calls = run["g_calls"][:update["seen"]["G"]]
    real = given["x_real"] if who == "D" else torch.empty(0, *given["x_real"].shape[1:])
    rows = _judgements(d_calls, g_calls, real)
    if who == "D":
        if not rows["real"] or not rows["fake"]:
            raise CheckFailure(f"{what}: D judged {'no real image' if not rows['real'] else 'no fake'} before it; "
                               "the D loss is BCE(D(x_real), 1) + BCE(D(G(z)), 0)")
        _check_labels(rows, given["y_real"] if conditional else None)
        _gradient_verdict(rows, D_EXPECTED, D_MISTAKES, who, where=f"train_step's inline {who} update")
    else:
        if not rows["fake"]:
            raise CheckFailure(f"{what}: D judged none of G's fakes before it; G's loss is BCE(D(G(z)), 1)")
        if conditional:
            _check_labels(rows, None)
        _gradient_verdict(rows, G_EXPECTED, G_MISTAKES, who, where=f"train_step's inline {who} update")


def _plain_number(value):
    return value if isinstance(value, (int, float)) or torch.is_tensor(value) else str(value)


def optimizers_check(part):
    def draw(context):
        return _draw_nets(part)

    def collect(submission, inputs):
        make_optimizers = submission.get(part, "make_optimizers")
        netD, netG = _probes_from(part, inputs)
        optimizers = make_optimizers(netD, netG)
        found = {"returned": type(optimizers).__name__,
                 "length": len(optimizers) if isinstance(optimizers, (tuple, list)) else None, "optimizers": []}
        if found["length"] != 2:
            return found
        names = {id(p): f"{who}.{name}" for who, net in (("D", netD), ("G", netG))
                 for name, p in net.named_parameters()}
        for optimizer in optimizers:
            entry = {"class": type(optimizer).__name__, "adam": isinstance(optimizer, torch.optim.Adam)}
            if entry["adam"]:
                group = optimizer.param_groups[0]
                entry.update(params=[names.get(id(p), "other") for g in optimizer.param_groups for p in g["params"]],
                             lr=_plain_number(group["lr"]),
                             betas=tuple(_plain_number(b) for b in group["betas"]))
            found["optimizers"].append(entry)
        return found

    def judge(inputs, found, context):
        if found["length"] != 2:
            raise CheckFailure("make_optimizers(netD, netG) must return (optimizerD, optimizerG)")
        if len(found["optimizers"]) != 2:
            raise ValueError(f"{len(found['optimizers'])} optimizers recorded, expected 2")
        for who, entry in zip(("D", "G"), found["optimizers"]):
            if not entry["adam"]:
                raise CheckFailure(f"optimizer{who} is {entry['class']}: the course uses Adam")
            if set(entry["params"]) != {f"{who}.{name}" for name in inputs[who]}:
                raise CheckFailure(f"optimizer{who} does not hold exactly net{who}'s parameters (swapped networks?)")
            if not math.isclose(entry["lr"], LR):
                raise CheckFailure(f"optimizer{who} has lr {entry['lr']}: the course uses {LR:.0e}")
            betas = tuple(entry["betas"])
            if betas != BETAS:
                hint = f" (Adam's default; the course uses beta1 = {BETAS[0]})" if betas == (0.9, 0.999) else ""
                raise CheckFailure(f"optimizer{who} has betas {betas}{hint}: expected {BETAS}")
    return draw, collect, judge


def _register(rubric_id, factory, part):
    draw, collect, judge = factory(part)
    check(rubric_id, draw=draw, collect=collect, judge=judge)


# Each id written out, so that a reader finds its check by searching for it.
_register("dcgan.d_step", d_step_check, "part1_dcgan")
_register("dcgan.g_step", g_step_check, "part1_dcgan")
_register("dcgan.train_step", train_step_check, "part1_dcgan")
_register("dcgan.optimizers", optimizers_check, "part1_dcgan")
_register("cgan.d_step", d_step_check, "part2_cgan")
_register("cgan.g_step", g_step_check, "part2_cgan")
_register("cgan.train_step", train_step_check, "part2_cgan")
_register("cgan.optimizers", optimizers_check, "part2_cgan")


# ---- Part 3: the VAE step ----

VAE_PART = "part3_vae"


class ProbeVAE(nn.Module):
    """A linear VAE (784 -> 2 x 32 -> 784) that draws its own noise; records, for every call of model(x),
    x and the outputs (x_hat, mu, logvar) with the gradient the loss gives each of them."""

    def __init__(self):
        super().__init__()
        self.encoder, self.decoder = nn.Linear(784, 2 * LATENT), nn.Linear(LATENT, 784)
        self.calls = []

    def forward(self, x):
        h = self.encoder(x.reshape(x.size(0), -1))
        mu, logvar = h[:, :LATENT], h[:, LATENT:]
        x_hat = self.decoder(mu + torch.randn_like(mu) * torch.exp(0.5 * logvar))
        outputs = {"x_hat": x_hat, "mu": mu.clone(), "logvar": logvar.clone()}  # clones: the loss's own gradient
        call = {"x": x.detach().reshape(x.size(0), -1).clone(), "grads": {}}
        for key, value in outputs.items():
            call[key] = value.detach().clone()
            value.register_hook(lambda g, key=key, call=call: call["grads"].__setitem__(key, g.detach().clone()))
        self.calls.append(call)
        return outputs["x_hat"], outputs["mu"], outputs["logvar"]


def _term_weights(call):
    """The weight each term of the negative ELBO has in the loss that produced the gradients on model(x)'s
    outputs: d/dx_hat is the reconstruction's alone (2 (x_hat - x) for the sum), d/d(mu, logvar) the KL's
    alone (mu, (exp(logvar) - 1) / 2). Each weight is a least-squares fit; None where the gradient is not of
    that form at all."""
    grads = {key: call["grads"].get(key, torch.zeros_like(call[key])).flatten().double()  # unused output: no grad
             for key in ("x_hat", "mu", "logvar")}
    terms = {"reconstruction": (grads["x_hat"], (2 * (call["x_hat"] - call["x"])).flatten().double()),
             "kl": (torch.cat([grads["mu"], grads["logvar"]]),
                    torch.cat([call["mu"].flatten(), 0.5 * (call["logvar"].exp() - 1).flatten()]).double())}
    weights = {}
    for term, (found, rule) in terms.items():
        if found.abs().max() == 0:
            weights[term] = 0.0
        elif cosine(found, rule) > 0.999:
            weights[term] = float(found @ rule / (rule @ rule))
        else:
            weights[term] = None
    return weights


def _weights_match(found, reconstruction=1.0, kl=1.0):
    """found == c * (reconstruction, kl) for some c > 0, within 0.1%."""
    scale = found["reconstruction"] / reconstruction if reconstruction else found["kl"] / kl
    return scale > 0 and all(math.isclose(found[term], scale * weight, rel_tol=1e-3, abs_tol=1e-12)
                             for term, weight in (("reconstruction", reconstruction), ("kl", kl)))


MSE = "the mean squared error over pixels (F.mse_loss's default) instead of the sum"
VAE_MISTAKES = (  # (label, weights of the two terms): the gradients of each mistake, up to a positive factor
    ("the reconstruction term alone, without the KL", {"kl": 0.0}),
    ("the KL alone, without the reconstruction term", {"reconstruction": 0.0}),
    ("reconstruction minus KL (the KL is added in the negative ELBO)", {"kl": -1.0}),
    ("the ELBO maximised instead of the negative ELBO minimised (a sign error)", {"reconstruction": -1.0, "kl": -1.0}),
    (MSE, {"reconstruction": 1 / (BATCH * 784)}),  # with the KL summed over the batch
    (MSE, {"reconstruction": 1 / 784}),  # with the KL averaged over the batch
)


def draw_vae_step(context):
    return {"model": _state(ProbeVAE()), "x": torch.rand(BATCH, 784)}


def collect_vae_step(submission, inputs):
    vae_step = submission.get(VAE_PART, "vae_step")
    model = ProbeVAE()
    _load(model, inputs["model"])
    optimizer = RecordingSGD(model.parameters())
    _fill_stale(model)
    with fair_helpers(submission, VAE_PART):
        out = vae_step(model, optimizer, inputs["x"].clone())
    return {"calls": model.calls, "grads_at_step": optimizer.grads_at_step, "returned": returned(out)}


def judge_vae_step(inputs, found, context):
    if not found["calls"]:
        raise CheckFailure("vae_step never called model(x)")
    _one_step(found["grads_at_step"], "VAE", optimizer="optimizer", net="model",
              backward_seen=any(call["grads"] for call in found["calls"]))
    used = [call for call in found["calls"] if call["grads"]]
    if not used:
        raise CheckFailure("the loss that vae_step back-propagates does not use model(x)'s outputs (x_hat, mu, "
                           "logvar): the negative ELBO is the reconstruction error of x_hat plus the KL of (mu, "
                           "logvar)")
    call = used[-1]
    if not torch.equal(call["x"], inputs["x"].reshape(BATCH, -1)):
        raise CheckFailure("vae_step called model on something other than its batch x")
    weights = _term_weights(call)
    if None in weights.values():
        which = "x_hat" if weights["reconstruction"] is None else "mu and logvar"
        raise CheckFailure(f"the loss vae_step back-propagates gives {which} gradients that no term of the negative "
                           "ELBO gives: call vae_loss(x_hat, x, mu, logvar) on model(x)'s outputs and backward() on it")
    if not _weights_match(weights):
        mistake = next((label for label, w in VAE_MISTAKES if _weights_match(weights, **w)), None)
        raise CheckFailure(f"the loss vae_step back-propagates is {mistake}: call vae_loss(x_hat, x, mu, logvar)"
                           if mistake else "the loss vae_step back-propagates weighs the squared error and the KL "
                           f"{weights['reconstruction']:.3g} : {weights['kl']:.3g}, not 1 : 1 as the negative ELBO "
                           "does: call vae_loss(x_hat, x, mu, logvar)")
    value = found["returned"]
    loss = float(((call["x_hat"] - call["x"]) ** 2).sum() + correct_kl(call["mu"], call["logvar"]).sum())
    number = float(value.reshape(())) if torch.is_tensor(value) and value.numel() == 1 else value.get("value") \
        if isinstance(value, dict) else None
    if not isinstance(number, (int, float)) or not any(math.isclose(number, loss / n, rel_tol=1e-4, abs_tol=1e-4)
                                                       for n in (1, BATCH)):
        shown = f"{number:.4g}" if isinstance(number, (int, float)) else (
            f"shape {tuple(value.shape)}" if torch.is_tensor(value) else value.get("type"))
        raise CheckFailure(f"vae_step returned {shown}: expected the batch's loss, {loss:.4g} (or per example, "
                           f"{loss / BATCH:.4g}), as a number or a detached scalar tensor")


check("vae.step", draw=draw_vae_step, collect=collect_vae_step, judge=judge_vae_step)
