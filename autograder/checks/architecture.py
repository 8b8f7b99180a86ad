"""Architecture checks: each network's layers, in dataflow order, against the reference's.

The expected layers are the reference traced by autograder.tracing (autograder/expected/
architectures.json, kept in sync by a test). The first divergence is reported with a hint that
names the likely cause.
"""
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from autograder.checks.registry import CheckFailure, check
from autograder.tracing import describe, same_shape, shape_text, trace

BATCH = 4


@dataclass(frozen=True)
class Network:
    part: str
    name: str  # the class a student defines
    inputs: tuple  # (argument name, kind, shape without batch)
    method: str = None  # call this method instead of forward (VAE encode / decode)
    kwargs: tuple = ()  # constructor arguments as (name, value) pairs; none: the course's defaults
    channels_only: bool = False  # judge only the layers' channel counts (what width arguments control)
    output: object = None  # "probability" for a D, the image shape (C, H, W) for a G, None otherwise


IMAGE, NOISE, ONEHOT, FLAT = "image", "noise", "onehot", "flat"
NETWORKS = {
    "dcgan.discriminator": Network("part1_dcgan", "Discriminator", (("x", IMAGE, (3, 32, 32)),), output="probability"),
    "dcgan.generator": Network("part1_dcgan", "Generator", (("z", NOISE, (100, 1, 1)),), output=(3, 32, 32)),
    "dcgan.discriminator64": Network("part1_dcgan", "Discriminator64", (("x", IMAGE, (3, 64, 64)),),
                                     output="probability"),
    "dcgan.generator64": Network("part1_dcgan", "Generator64", (("z", NOISE, (100, 1, 1)),), output=(3, 64, 64)),
    "cgan.cdcgan_discriminator": Network("part2_cgan", "cDCGANDiscriminator",
                                         (("x", IMAGE, (1, 32, 32)), ("y", ONEHOT, (10, 1, 1))), output="probability"),
    "cgan.cdcgan_generator": Network("part2_cgan", "cDCGANGenerator",
                                     (("z", NOISE, (100, 1, 1)), ("y", ONEHOT, (10, 1, 1))), output=(1, 32, 32)),
    "cgan.fc_discriminator": Network("part2_cgan", "cGANDiscriminator",
                                     (("x", IMAGE, (1, 32, 32)), ("y", ONEHOT, (10, 1, 1))), output="probability"),
    "cgan.fc_generator": Network("part2_cgan", "cGANGenerator",
                                 (("z", NOISE, (100, 1, 1)), ("y", ONEHOT, (10, 1, 1))), output=(1, 32, 32)),
    "vae.encoder": Network("part3_vae", "VAE", (("x", FLAT, (784,)),), method="encode"),
    "vae.decoder": Network("part3_vae", "VAE", (("z", NOISE, (32,)),), method="decode"),
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


def trace_network(submission, network):
    """The network's sections as the tracer reads them, and its output on the probe inputs."""
    model, fn = build(submission, network)
    inputs = make_inputs(network)
    sections, output = trace(fn, inputs)
    return model, inputs, sections, output


def _hint(expected, found):
    """Why a layer differs, in the student's terms."""
    if expected["op"] != found["op"]:
        if expected["op"] == "batch_norm":
            return "missing BatchNorm here? (conv/linear, then BatchNorm, then the activation)"
        if found["op"] == "batch_norm":
            return "BatchNorm where the spec has none (check where BatchNorm goes, and that this layer should have one)"
        return f"expected {describe(expected)}, found {describe(found)}"
    hints = []
    for key in ("in", "out", "kernel", "stride", "padding", "features", "slope"):
        if expected.get(key) is not None and expected[key] != found.get(key):
            extra = " (nn.LeakyReLU's default is 0.01: pass 0.2)" if key == "slope" and found[key] == 0.01 else ""
            hints.append(f"{key} should be {expected[key]}, not {found.get(key)}{extra}")
    if expected.get("bias") is not None and expected["bias"] != found.get("bias"):
        hints.append("the spec says no bias here: pass bias=False" if not expected["bias"]
                     else "this layer keeps its bias (the spec does not say 'no bias'): remove bias=False")
    return "; ".join(hints)


def compare_sections(name, expected, found):
    """Raise CheckFailure at the first layer where `found` departs from `expected`."""
    exp_names = [s["name"] for s in expected]
    got_names = [s["name"] for s in found]
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


def _check_output(name, network, inputs, output):
    if network.output == "probability":
        if output.numel() != BATCH:
            raise CheckFailure(f"{name} returns {tuple(output.shape)}: expected one probability per image, "
                               f"(B, 1, 1, 1) or (B, 1)")
        if output.min() < 0 or output.max() > 1:
            raise CheckFailure(f"{name} returns values outside [0, 1]: the final Sigmoid is missing")
    if isinstance(network.output, tuple):
        if tuple(output.shape) != (BATCH, *network.output):
            raise CheckFailure(f"{name} returns {tuple(output.shape)}: expected images {shape_text(network.output)}"
                               " (reshape the last layer's output with .view(-1, C, H, W))")
        if output.min() < -1 or output.max() > 1:
            raise CheckFailure(f"{name} returns values outside [-1, 1]: the final Tanh is missing")


def _check_conditioning(name, fn, inputs):
    """A conditional network whose output ignores y is no conditional network."""
    if "y" not in inputs:
        return
    other = dict(inputs, y=inputs["y"].roll(1, dims=0))
    fn.eval()  # BatchNorm on running statistics, so each example is judged alone
    with torch.no_grad():
        same = torch.allclose(fn(*inputs.values()), fn(*other.values()))
    fn.train()
    if same:
        raise CheckFailure(f"{name}'s output does not change when the label y changes: y must enter the network")


WEIGHTED_OPS = ("conv2d", "conv_transpose2d", "linear")


def channels(sections):
    """Only the weighted layers, judged on their channel counts alone: a stride, bias or BatchNorm mistake
    (the visible check's business) leaves these alone."""
    return [{"name": s["name"], "layers": [dict(layer, shape=[], kernel=None, stride=None, padding=None, bias=None)
                                            for layer in s["layers"] if layer["op"] in WEIGHTED_OPS]}
            for s in sections]


def architecture_check(rubric_id, network):
    """Register the architecture check of `network` under rubric_id."""
    NETWORKS[rubric_id] = network

    def run(submission, context):
        model, inputs, sections, output = trace_network(submission, network)
        call = ", ".join(f"{k}={v}" for k, v in network.kwargs)
        label = network.name + (f"({call})" if call else "") + (f".{network.method}" if network.method else "")
        expected = context.expected["architectures"][rubric_id]
        if network.channels_only:
            expected, sections = channels(expected), channels(sections)
        compare_sections(label, expected, sections)
        if torch.is_tensor(output) and not network.channels_only:
            _check_output(label, network, inputs, output)
        _check_conditioning(label, model, inputs)

    run.__doc__ = f"{network.name}: every layer's type, hyperparameters and output shape."
    return check(rubric_id)(run)


for _rubric_id, _network in list(NETWORKS.items()):
    architecture_check(_rubric_id, _network)
