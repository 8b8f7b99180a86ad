"""Training steps, judged behaviourally with instrumented networks and optimizers.

The student's d_step / g_step / train_step are called with the grader's probe networks: small
models that record every call (inputs, outputs, and the gradient that reaches each output) and
an optimizer that records its steps. From those records the grader tells, whatever the code
looks like: which images D judged with which labels, whether the fakes were detached, whether
stale gradients were cleared, and which loss produced the gradients (correct BCE targets, swapped
labels, saturating loss...).

Each check is split in two (see registry.py): draw makes the real batch, the labels and the probes'
starting weights; collect rebuilds the probes from those weights, calls the student's function and
returns the probes' records (calls, gradients, parameters after the call) as plain data; judge
reads the verdict off those records and never calls student code.
"""
import contextlib
import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy import stats

from autograder.checks.diagnose import cosine, grads_of
from autograder.checks.registry import CheckFailure, check

NZ, N_CLASSES, BATCH = 100, 10, 16
STALE = 1e4  # gradient left in .grad before a step: only zero_grad removes it
PARTS = {"part1_dcgan": {"image": (3, 32, 32), "conditional": False},
         "part2_cgan": {"image": (1, 32, 32), "conditional": True}}


class ProbeD(nn.Module):
    """A linear discriminator whose outputs spread over (0, 1); records every call."""

    def __init__(self, image, conditional):
        super().__init__()
        n_in = math.prod(image) + (N_CLASSES if conditional else 0)
        self.linear = nn.Linear(n_in, 1)
        nn.init.normal_(self.linear.weight, 0, 3 / math.sqrt(n_in))
        self.conditional = conditional
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
        out = torch.sigmoid(self.linear(h)).view(-1, 1, 1, 1)
        call = {"x": x.detach().clone(), "y": None if y is None else y.detach().reshape(y.size(0), -1).clone(),
                "d": out.detach().flatten().clone(), "grad": None}
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
                           "y": None if y is None else y.detach().clone(), "x": out.detach().clone()})
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


@contextlib.contextmanager
def fair_prior(submission, part):
    """While a step is judged, the part's get_noise draws from N(0, I): a wrong prior is the prior
    check's business, so the step checks judge only noise that the step draws by other means."""
    namespace = submission.parts[part].namespace
    saved = namespace.get("get_noise")

    def get_noise(batch_size, nz=NZ, device="cpu", *args, **kwargs):
        return torch.empty(batch_size, nz, 1, 1, device=device).normal_(0.0, 1.0)

    namespace["get_noise"] = get_noise
    try:
        yield
    finally:
        if saved is None:
            del namespace["get_noise"]
        else:
            namespace["get_noise"] = saved


def _probes(part):
    spec = PARTS[part]
    return ProbeD(spec["image"], spec["conditional"]), ProbeG(spec["image"], spec["conditional"])


def _onehot(labels):
    return F.one_hot(labels, N_CLASSES).float().view(-1, N_CLASSES, 1, 1)


def _real_batch(part):
    x = torch.rand(BATCH, *PARTS[part]["image"]) * 2 - 1
    y = _onehot(torch.randint(N_CLASSES, (BATCH,)))
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


def _one_step(grads_at_step, who):
    if len(grads_at_step) != 1:
        raise CheckFailure(f"the {who} step must call its optimizer's step() exactly once; it was called "
                           f"{len(grads_at_step)} times")
    grads = [g for g in grads_at_step[0] if g is not None]
    if not grads or all(g.abs().sum() == 0 for g in grads):
        raise CheckFailure(f"the {who}'s parameters had no gradient when the optimizer stepped: call backward() "
                           f"on the loss before optimizer.step()" + (
                               ", and do not detach the fakes in the G step" if who == "G" else ""))
    if min(float(g.abs().min()) for g in grads) > STALE / 10:
        raise CheckFailure(f"stale gradients: the {who} optimizer stepped on gradients left from before the step. "
                           f"Call optimizer{who}.zero_grad() (or net{who}.zero_grad()) before backward()")


def _match_rows(rows, pool):
    """For each row, the index of an identical row in pool (or -1)."""
    if pool is None or len(pool) == 0:
        return torch.full((len(rows),), -1)
    diff = (rows.reshape(len(rows), 1, -1) - pool.reshape(1, len(pool), -1)).abs().amax(-1)
    best = diff.min(dim=1)
    return torch.where(best.values <= 1e-6, best.indices, torch.full_like(best.indices, -1))


def _judgements(d_calls, g_calls, x_real):
    """Sort every image D judged into real and fake rows, with its label, D's output and gradient."""
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


def _gradient_verdict(rows, expected, mistakes, who):
    """Compare dLoss/dD(.) on each judged image with the correct loss's, naming the mistake matched."""
    used = [r for kind in ("real", "fake") for r in rows[kind]]
    if any(r["grad"] is None for r in used):
        raise CheckFailure(f"some of D's outputs in the {who} step do not reach the loss (D judged images that the "
                           "loss then ignores)")
    found = torch.tensor([r["grad"] for r in used], dtype=torch.float64)

    def vector(rule):
        return torch.tensor([rule[kind](r["d"]) for kind in ("real", "fake") for r in rows[kind]], dtype=torch.float64)

    if cosine(found, vector(expected)) > 0.999:
        return
    for label, rule in mistakes.items():
        if cosine(found, vector(rule)) > 0.999:
            raise CheckFailure(f"the {who} step's loss gives D's outputs the gradients of {label}")
    raise CheckFailure(f"the {who} step's gradients on D's outputs match no BCE loss with the right targets: "
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


def _probes_from(part, inputs):
    netD, netG = _probes(part)
    _load(netD, inputs["D"])
    _load(netG, inputs["G"])
    return netD, netG


def _records(netD, netG):
    """What the probes saw and how they were left, as plain data for the judge."""
    return {"d_calls": netD.calls, "g_calls": netG.calls, "D_after": _state(netD), "G_after": _state(netG),
            "G_grads": grads_of(netG.parameters())}


def d_step_check(part):
    conditional = PARTS[part]["conditional"]

    def draw(context):
        nets = _draw_nets(part)
        x_real, y_real = _real_batch(part)
        return {**nets, "x_real": x_real, "y_real": y_real}

    def collect(submission, inputs):
        d_step = submission.get(part, "d_step")
        netD, netG = _probes_from(part, inputs)
        optimizerD = RecordingSGD(netD.parameters())
        _fill_stale(netD)
        x_real, y_real = inputs["x_real"], inputs["y_real"]
        with fair_prior(submission, part):
            d_step(netD, netG, optimizerD, x_real, *([y_real] if conditional else []), NZ)
        return {**_records(netD, netG), "grads_at_step": optimizerD.grads_at_step}

    def judge(inputs, found, context):
        _one_step(found["grads_at_step"], "D")
        if not _unchanged(found["G_after"], inputs["G"]) or _has_grad(found["G_grads"]):
            raise CheckFailure("the D step reached G: D's loss back-propagated into G's parameters. Detach the fakes "
                               "(netG(z).detach(), or generate them under torch.no_grad())")
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
        netD, netG = _probes_from(part, inputs)
        optimizerG = RecordingSGD(netG.parameters())
        _fill_stale(netG)
        with fair_prior(submission, part):
            if conditional:
                g_step(netD, netG, optimizerG, inputs["y"], NZ)
            else:
                g_step(netD, netG, optimizerG, BATCH, NZ, "cpu")
        return {**_records(netD, netG), "grads_at_step": optimizerG.grads_at_step}

    def judge(inputs, found, context):
        _one_step(found["grads_at_step"], "G")
        if not _unchanged(found["D_after"], inputs["D"]):
            raise CheckFailure("the G step changed D's parameters: only optimizerG may step in g_step")
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
        runs = []
        for (nb_update_D, nb_update_G), run in zip(UPDATES, inputs["runs"]):
            netD, netG = _probes_from(part, run)
            optimizerD, optimizerG = RecordingSGD(netD.parameters()), RecordingSGD(netG.parameters())
            out = train_step(netD, netG, optimizerD, optimizerG, run["x_real"],
                             *([run["y_real"]] if conditional else []), NZ,
                             nb_update_D=nb_update_D, nb_update_G=nb_update_G)
            runs.append({"steps": (len(optimizerD.grads_at_step), len(optimizerG.grads_at_step)),
                         "returned": type(out).__name__,
                         "length": len(out) if isinstance(out, (tuple, list)) else None})
        return {"runs": runs}

    def judge(inputs, found, context):
        if len(found["runs"]) != len(UPDATES):
            raise ValueError(f"{len(found['runs'])} runs of train_step recorded, expected {len(UPDATES)}")
        for (nb_update_D, nb_update_G), run in zip(UPDATES, found["runs"]):
            steps = tuple(int(n) for n in run["steps"])
            if steps != (nb_update_D, nb_update_G):
                raise CheckFailure(f"with nb_update_D={nb_update_D}, nb_update_G={nb_update_G}, train_step made "
                                   f"{steps[0]} D updates and {steps[1]} G updates")
            if run["length"] != 2:
                raise CheckFailure("train_step must return the pair (loss of D, loss of G)")
    return draw, collect, judge


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
            if not math.isclose(entry["lr"], 2e-4):
                raise CheckFailure(f"optimizer{who} has lr {entry['lr']}: the course uses 2e-4")
            betas = tuple(entry["betas"])
            if betas != (0.5, 0.999):
                hint = " (Adam's default; the course uses beta1 = 0.5)" if betas == (0.9, 0.999) else ""
                raise CheckFailure(f"optimizer{who} has betas {betas}{hint}: expected (0.5, 0.999)")
    return draw, collect, judge


for _part, _prefix in (("part1_dcgan", "dcgan"), ("part2_cgan", "cgan")):
    for _name, _factory in (("d_step", d_step_check), ("g_step", g_step_check),
                            ("train_step", train_step_check), ("optimizers", optimizers_check)):
        _draw, _collect, _judge = _factory(_part)
        check(f"{_prefix}.{_name}", draw=_draw, collect=_collect, judge=_judge)
