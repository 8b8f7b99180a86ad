"""Architecture checks: each network's layers, in dataflow order, against the reference's.

The expected layers are the reference traced by autograder.tracing (autograder/expected/
architectures.json, kept in sync by a test). The first divergence is reported with a hint that
names the likely cause.

collect builds the student's network and traces it on the drawn inputs: the sections, the output,
and for a conditional network its eval-mode outputs with y and with y rolled. judge compares them
with the reference's tables; it never sees the network itself. A check's Network is reachable only
through its registered check (`networks()`), so a hidden check unregistered in the student's
process leaves no trace there.
"""
import math
import numbers
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from autograder.checks.course import LATENT, N_CLASSES, NZ
from autograder.checks.diagnose import returned, type_name
from autograder.checks.registry import REGISTRY, CheckFailure, check, raised
from autograder.tracing import FailedTrace, describe, same_shape, shape_text, trace

BATCH = 4
EPS_SLACK = 100  # a BatchNorm's eps up to 100 times the reference's computes the same layer (1e-3 is common)


@dataclass(frozen=True)
class Network:
    part: str
    name: str  # the class a student defines
    inputs: tuple  # (argument name, kind, shape without batch)
    method: str = None  # call this method instead of forward (VAE encode / decode)
    kwargs: tuple = ()  # constructor arguments as (name, value) pairs; none: the course's defaults
    channels_only: bool = False  # judge only the layers' channel counts (what width arguments control)
    output: object = None  # "probability" for a D, the image shape (C, H, W) for a G, names of a pair of (B, d)


IMAGE, NOISE, ONEHOT, FLAT = "image", "noise", "onehot", "flat"
NETWORKS = {
    "dcgan.discriminator": Network("part1_dcgan", "Discriminator", (("x", IMAGE, (3, 32, 32)),), output="probability"),
    "dcgan.generator": Network("part1_dcgan", "Generator", (("z", NOISE, (NZ, 1, 1)),), output=(3, 32, 32)),
    "dcgan.discriminator64": Network("part1_dcgan", "Discriminator64", (("x", IMAGE, (3, 64, 64)),),
                                     output="probability"),
    "dcgan.generator64": Network("part1_dcgan", "Generator64", (("z", NOISE, (NZ, 1, 1)),), output=(3, 64, 64)),
    "cgan.cdcgan_discriminator": Network("part2_cgan", "cDCGANDiscriminator",
                                         (("x", IMAGE, (1, 32, 32)), ("y", ONEHOT, (N_CLASSES, 1, 1))), output="probability"),
    "cgan.cdcgan_generator": Network("part2_cgan", "cDCGANGenerator",
                                     (("z", NOISE, (NZ, 1, 1)), ("y", ONEHOT, (N_CLASSES, 1, 1))), output=(1, 32, 32)),
    "cgan.fc_discriminator": Network("part2_cgan", "cGANDiscriminator",
                                     (("x", IMAGE, (1, 32, 32)), ("y", ONEHOT, (N_CLASSES, 1, 1))), output="probability"),
    "cgan.fc_generator": Network("part2_cgan", "cGANGenerator",
                                 (("z", NOISE, (NZ, 1, 1)), ("y", ONEHOT, (N_CLASSES, 1, 1))), output=(1, 32, 32)),
    "vae.encoder": Network("part3_vae", "VAE", (("x", FLAT, (784,)),), method="encode", output=("mu", "logvar")),
    "vae.decoder": Network("part3_vae", "VAE", (("z", NOISE, (LATENT,)),), method="decode"),
}


def make_inputs(network, batch=BATCH):
    inputs = {}
    for arg, kind, shape in network.inputs:
        if kind == IMAGE:
            inputs[arg] = torch.rand(batch, *shape) * 2 - 1
        elif kind == FLAT:
            inputs[arg] = torch.rand(batch, *shape)
        elif kind == NOISE:
            inputs[arg] = torch.randn(batch, *shape)
        else:
            inputs[arg] = F.one_hot(torch.arange(batch) % shape[0], shape[0]).float().view(batch, *shape)
    return inputs


def build(submission, network):
    cls = submission.get(network.part, network.name)
    try:
        model = cls(**dict(network.kwargs))
    except TypeError as exc:
        call = ", ".join(f"{k}={v}" for k, v in network.kwargs)
        raise CheckFailure(f"`{network.name}({call})` could not be built ({exc}): give the constructor the "
                           f"arguments of the stub, each with the course's default value") from exc
    model.train()
    if network.method is None:
        return model, model
    if not callable(getattr(model, network.method, None)):
        raise CheckFailure(f"`{network.name}` has no `{network.method}` method: the VAE must expose "
                           f"`encode(x) -> (mu, logvar)` and `decode(z) -> reconstruction`")
    return model, getattr(model, network.method)


def trace_network(submission, network, inputs=None):
    """The network's sections as the tracer reads them, and its output on the probe inputs
    (drawn here, after the network is built, when none are given)."""
    model, fn = build(submission, network)
    if inputs is None:
        inputs = make_inputs(network)
    sections, output = trace(fn, inputs)
    return model, inputs, sections, output


def label(network):
    """How messages name the network: `Discriminator(ndf=16)`, `VAE.encode`..."""
    call = ", ".join(f"{k}={v}" for k, v in network.kwargs)
    return network.name + (f"({call})" if call else "") + (f".{network.method}" if network.method else "")


def _hint(expected, found):
    """Why a layer differs, in the student's terms."""
    if expected["op"] != found["op"]:
        if expected["op"] == "batch_norm":
            return "missing BatchNorm here? (conv/linear, then BatchNorm, then the activation)"
        if found["op"] == "batch_norm":
            return "BatchNorm where the spec has none (check where BatchNorm goes, and that this layer should have one)"
        return f"expected {describe(expected)}, found {describe(found)}"
    if expected["op"] == "cat" and expected.get("dim") is not None and expected["dim"] != found.get("dim"):
        return f"concatenate along the channels, dim={expected['dim']} (dim={found.get('dim')} is " + (
            "the batch axis)" if found.get("dim") == 0 else "another axis)")
    hints = []
    for key in ("in", "out", "kernel", "stride", "padding", "features", "slope"):
        if expected.get(key) is not None and expected[key] != found.get(key):
            extra = " (nn.LeakyReLU's default is 0.01: pass 0.2)" if key == "slope" and found[key] == 0.01 else ""
            hints.append(f"{key} should be {expected[key]}, not {found.get(key)}{extra}")
    if expected.get("eps") is not None and not found.get("eps", 0) <= EPS_SLACK * expected["eps"]:
        hints.append(f"eps should be {expected['eps']:g}, not {found['eps']:g}: BatchNorm's second argument is eps, "
                     f"not momentum (BatchNorm1d(features, 0.8) sets eps=0.8); pass the number of features alone")
    if expected.get("bias") is not None and expected["bias"] != found.get("bias"):
        hints.append("the spec says no bias here: pass bias=False" if not expected["bias"]
                     else "this layer keeps its bias (the spec does not say 'no bias'): remove bias=False")
    return "; ".join(hints)


def _expected_input(exp_sec, i, expected):
    """The shapes (without the batch) that layer i (from 1) of a section should receive, from the spec."""
    layer = exp_sec["layers"][i - 1]
    if i > 1:
        return [exp_sec["layers"][i - 2]["shape"]]
    if layer["op"] == "cat":
        return [s["layers"][-1]["shape"] for s in expected if s is not exp_sec]
    if layer["op"] == "linear":
        return [[layer["in"]]]
    if layer["op"] in ("conv2d", "conv_transpose2d"):
        return [[layer["in"], "H", "W"]]
    return None


def _input_cause(layer, expected_in, got_in):
    """Why a layer got an input of the wrong shape, read off the two shapes."""
    numel = lambda shape: math.prod(shape) if all(isinstance(n, int) for n in shape) else None  # noqa: E731
    if len(expected_in) == 1 and len(got_in) == 1:
        exp, got = expected_in[0], got_in[0]
        if layer["op"] == "linear" and len(got) > 1 and numel(got) == numel(exp):
            return "flatten it first (x.view(x.size(0), -1)): a Linear layer takes (B, features)"
        if exp and got and exp[0] != got[0]:
            return f"the layer before gives {got[0]} channels where this layer takes {exp[0]}"
    return "the layer before it does not give the spec's shape"


def _failed_layer(where, i, layer, expected_layer, expected_in, error):
    got_in = layer.get("input") or []
    text = " and ".join(shape_text(s) for s in got_in)
    hint = _hint(expected_layer, layer) if expected_layer else ""
    message = f"{where}, layer {i} {describe(layer)}"
    if got_in and expected_in and [list(s) for s in expected_in] != [list(s) for s in got_in]:
        shown = " and ".join(shape_text(s) for s in expected_in)
        message += f": expected input of shape {shown}, got {text}: " + (hint or _input_cause(layer, expected_in,
                                                                                                   got_in))
    elif hint:
        message += f": expected {describe(expected_layer)}: {hint}"
    return CheckFailure(f"{message}. It raised: {error}")


def compare_sections(name, expected, found, error=None):
    """Raise CheckFailure at the first layer where `found` departs from `expected`. With `error` (the
    forward pass raised, the message of the student's exception), `found` stops at the failing layer: the
    first departure before it is the likely cause, else the failing layer is compared with the spec."""
    exp_names = [s["name"] for s in expected]
    got_names = [s["name"] for s in found]
    if error is not None:
        _compare_failed(name, expected, found, error)
    if exp_names != got_names:
        raise CheckFailure(
            f"{name}: expected the parts {', '.join(exp_names)}; found {', '.join(got_names) or 'no layers'}. "
            "Each input goes through its own branch before the concatenation: are all inputs used in forward()?")
    for exp_sec, got_sec in zip(expected, found):
        where = name if exp_sec["name"] == "main" else f"{name} {exp_sec['name']}"
        for i, (e, g) in enumerate(zip(exp_sec["layers"], got_sec["layers"]), start=1):
            hint = _hint(e, g)
            shape_ok = same_shape(e["op"], e["shape"], g["shape"])
            if hint or not shape_ok:
                shapes = "" if shape_ok else f"; output expected {shape_text(e['shape'])}, got {shape_text(g['shape'])}"
                raise CheckFailure(f"{where}, layer {i} {describe(g)}: expected {describe(e)}{shapes}"
                                   + (f": {hint}" if hint else ""))
        n_exp, n_got = len(exp_sec["layers"]), len(got_sec["layers"])
        if n_got < n_exp:
            missing = ", ".join(describe(layer) for layer in exp_sec["layers"][n_got:])
            raise CheckFailure(f"{where}: after layer {n_got} the spec continues with {missing}; your network stops")
        if n_got > n_exp:
            extra = ", ".join(describe(layer) for layer in got_sec["layers"][n_exp:])
            raise CheckFailure(f"{where}: after layer {n_exp} the spec ends; your network adds {extra}")


def _compare_failed(name, expected, found, error):
    """compare_sections for a forward pass that raised: each section found is compared with the spec's
    section of that name, up to the layer that raised."""
    by_name = {s["name"]: s for s in expected}
    failing = None
    for got_sec in found:
        exp_sec = by_name.get(got_sec["name"])
        if exp_sec is None:
            continue
        where = name if exp_sec["name"] == "main" else f"{name} {exp_sec['name']}"
        for i, g in enumerate(got_sec["layers"], start=1):
            e = exp_sec["layers"][i - 1] if i <= len(exp_sec["layers"]) else None
            if g.get("failed"):
                failing = (where, i, g, e, _expected_input(exp_sec, i, expected) if e else None)
                break
            if e is None:
                break
            hint = _hint(e, g)
            if hint or not same_shape(e["op"], e["shape"], g["shape"]):
                shapes = "" if same_shape(e["op"], e["shape"], g["shape"]) else (
                    f"; output expected {shape_text(e['shape'])}, got {shape_text(g['shape'])}")
                raise CheckFailure(f"{where}, layer {i} {describe(g)}: expected {describe(e)}{shapes}"
                                   + (f": {hint}" if hint else "") + f". The forward pass then failed: {error}")
    if failing:
        raise _failed_layer(*failing, error)
    raise CheckFailure(f"{name}'s forward pass failed: {error}")


def _check_pair(name, network, shapes):
    """encode returns (mu, logvar), each (B, latent_dim): the course's code feeds them to reparameterize and
    the KL, which work per example. A split along the batch (h[:B//2], h[B//2:]) has the wrong shapes."""
    expected = (BATCH, LATENT)
    if not isinstance(shapes, list) or len(shapes) != len(network.output):
        raise CheckFailure(f"{name} returns {shapes if isinstance(shapes, str) else 'something else'}: expected the "
                           f"pair ({', '.join(network.output)}), each of shape (B, {LATENT})")
    for what, shape in zip(network.output, shapes):
        if tuple(shape) != expected:
            cause = (f": the batch was split in two (h[:B // 2], h[B // 2:]?); split the {2 * LATENT} features of "
                     f"the last layer along dim=1 (h[:, :{LATENT}], h[:, {LATENT}:] or h.chunk(2, dim=1))"
                     if len(shape) == 2 and shape[0] * 2 == BATCH and shape[1] == 2 * LATENT else "")
            raise CheckFailure(f"{name} returns {what} of shape {tuple(shape)} for a batch of {BATCH}: expected "
                               f"{expected} (B, latent_dim){cause}")


def _halves(model, network, inputs):
    """Which half of the last layer's 2d features encode returns as mu: with that Linear(., 2d) set to output
    +1 on its first d features and -1 on its last d (zero weights), mu is +1 where the notebook's order (the
    first d are mu, the last d are log sigma^2) is kept. None where there is no single such layer (two
    heads, as PyTorch's example VAE writes it) or the probe fails."""
    encode, called = getattr(model, network.method), []
    hooks = [m.register_forward_hook(lambda m, i, o: called.append(m)) for m in model.modules()
             if isinstance(m, torch.nn.Linear)]
    try:
        with torch.no_grad():
            encode(*inputs.values())
    except Exception:  # noqa: BLE001 - encode's own failures are the layers' verdict, judged above
        return None
    finally:
        for hook in hooks:
            hook.remove()
    layers = called[-1:]  # the last layer encode runs: one Linear(64, 2d), unless mu and logvar have heads of their own
    if not layers or layers[0].out_features != 2 * LATENT or layers[0].bias is None:
        return None
    saved = [t.detach().clone() for t in (layers[0].weight, layers[0].bias)]
    try:
        with torch.no_grad():
            layers[0].weight.zero_()
            layers[0].bias.copy_(torch.cat([torch.ones(LATENT), -torch.ones(LATENT)]))
            mu, _ = encode(*inputs.values())
        return float(mu.mean()) if torch.is_tensor(mu) else None
    except Exception:  # noqa: BLE001 - encode's own failures are the layers' verdict, judged above
        return None
    finally:
        with torch.no_grad():
            layers[0].weight.copy_(saved[0])
            layers[0].bias.copy_(saved[1])


def _check_halves(name, halves):
    if halves is not None and math.isclose(halves, -1.0, abs_tol=1e-4):
        raise CheckFailure(f"{name} returns the last {LATENT} features of its last layer as mu and the first "
                           f"{LATENT} as logvar: the notebook fixes the order, the first {LATENT} are mu and the "
                           f"last {LATENT} are log sigma^2 (mu, logvar = h[:, :{LATENT}], h[:, {LATENT}:])")


def _check_output(name, network, inputs, output):
    if network.output == "probability":
        if output.numel() != BATCH:
            raise CheckFailure(f"{name} returns {tuple(output.shape)}: expected one probability per image, "
                               f"(B, 1, 1, 1), (B, 1) or (B,)")
        if output.min() < 0 or output.max() > 1:
            raise CheckFailure(f"{name} returns values outside [0, 1]: the final Sigmoid is missing")
    if isinstance(network.output, tuple):
        if tuple(output.shape) != (BATCH, *network.output):
            raise CheckFailure(f"{name} returns {tuple(output.shape)}: expected images {shape_text(network.output)}"
                               " (reshape the last layer's output with .view(-1, C, H, W))")
        if output.min() < -1 or output.max() > 1:
            raise CheckFailure(f"{name} returns values outside [-1, 1]: the final Tanh is missing")


def _conditional_outputs(model, inputs):
    """collect's half of the conditioning check: the outputs in eval mode (BatchNorm on running
    statistics, so each example is computed alone) with the labels y and with y rolled by one."""
    other = dict(inputs, y=inputs["y"].roll(1, dims=0))
    try:
        model.eval()
        with torch.no_grad():
            outputs = {"same_y": model(*inputs.values()), "rolled_y": model(*other.values())}
        model.train()
    except Exception as exc:  # noqa: BLE001 - reported after the layers are judged, as before the split
        return {"error": raised(exc)}
    return {key: returned(value) for key, value in outputs.items()}


def _check_conditioning(name, inputs, found):
    """A conditional network whose output ignores y is no conditional network."""
    if "y" not in inputs:
        return
    conditioning = found["conditioning"]
    if "error" in conditioning:
        raise CheckFailure(str(conditioning["error"]))
    same, rolled = conditioning["same_y"], conditioning["rolled_y"]
    if not torch.is_tensor(same) or not torch.is_tensor(rolled):
        raise CheckFailure(f"{name} returns {type_name(rolled if torch.is_tensor(same) else same)}: expected a tensor")
    if torch.allclose(same, rolled):
        raise CheckFailure(f"{name}'s output does not change when the label y changes: y must enter the network")


WEIGHTED_OPS = ("conv2d", "conv_transpose2d", "linear")


def channels(sections):
    """Only the weighted layers, judged on their channel counts alone: a stride, bias or BatchNorm mistake
    (the visible check's business) leaves these alone."""
    return [{"name": s["name"], "layers": [dict(layer, shape=[], kernel=None, stride=None, padding=None, bias=None,
                                                 input=None)
                                            for layer in s["layers"] if layer["op"] in WEIGHTED_OPS]}
            for s in sections]


def _data(value):
    """The tracer's sections as plain data: a hyperparameter the student passed as a numpy (or other)
    scalar becomes a Python number, anything stranger its text; tuples become lists, as in the JSON."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_data(v) for v in value]
    return str(value)


def collect_architecture(network):
    def collect(submission, inputs):
        try:
            model, inputs, sections, output = trace_network(submission, network, inputs)
        except FailedTrace as exc:  # judge names the layer, from the layers traced up to it
            return {"sections": _data(exc.sections), "error": raised(exc.__cause__)}
        found = {"sections": _data(sections), "output": returned(output)}
        if isinstance(output, (tuple, list)):
            found["output_shapes"] = [list(t.shape) if torch.is_tensor(t) else type(t).__name__ for t in output]
        if "y" in inputs:
            found["conditioning"] = _conditional_outputs(model, inputs)
        if isinstance(network.output, tuple) and isinstance(network.output[0], str):
            found["halves"] = _halves(model, network, inputs)
        return found
    collect.network = network  # networks() finds it here: the check is the only place it lives
    collect.__doc__ = f"{network.name}: every layer's type, hyperparameters and output shape."
    return collect


def judge_architecture(rubric_id, network):
    def judge(inputs, found, context):
        name = label(network)
        expected, sections = context.expected["architectures"][rubric_id], found["sections"]
        if network.channels_only:
            expected, sections = channels(expected), channels(sections)
        compare_sections(name, expected, sections, found.get("error"))
        output = found.get("output")
        if isinstance(network.output, tuple) and isinstance(network.output[0], str):
            _check_pair(name, network, found.get("output_shapes", type_name(output)))
            _check_halves(name, found.get("halves"))
        elif torch.is_tensor(output) and not network.channels_only:
            _check_output(name, network, inputs, output)
        _check_conditioning(name, inputs, found)
    return judge


def architecture_check(rubric_id, network):
    """Register the architecture check of `network` under rubric_id."""
    return check(rubric_id, draw=lambda context: make_inputs(network),
                 collect=collect_architecture(network), judge=judge_architecture(rubric_id, network))


def networks():
    """{rubric id: Network} of every registered architecture check, hidden ones included where they
    are registered, in the order of registration."""
    return {rubric_id: registered.collect.network for rubric_id, registered in REGISTRY.items()
            if isinstance(getattr(registered.collect, "network", None), Network)}


for _rubric_id, _network in NETWORKS.items():  # NETWORKS: the visible checks only
    architecture_check(_rubric_id, _network)
