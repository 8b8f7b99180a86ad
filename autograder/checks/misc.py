"""Initialisation, the one-hot labels, and latent interpolation.

collect runs the student's function on the grader's objects (a model with no student code, fixed
labels, a generator that records its inputs) and records what came out; judge decides.
"""
import torch
import torch.nn as nn

from autograder.checks.course import NZ
from autograder.checks.diagnose import call, returned, type_name
from autograder.checks.registry import CheckFailure, check

CONVS = (nn.Conv2d, nn.ConvTranspose2d)


def weights_init_check(rubric_id, part, batch_norms):
    """weights_init on the kinds of layer the part's networks use (Part 1 has no BatchNorm1d)."""
    def collect(submission, inputs):
        weights_init = submission.get(part, "weights_init")
        # fan-ins chosen so PyTorch's default init (std 1/sqrt(3 fan_in)) cannot pass for N(0, 0.02)
        model = nn.Sequential(nn.Conv2d(32, 64, 4), nn.ConvTranspose2d(64, 32, 4), *(bn(4096) for bn in batch_norms))
        model.apply(weights_init)
        return {"convs": [layer.weight.detach().clone() for layer in model[:len(CONVS)]],
                "norms": [{"weight": layer.weight.detach().clone(), "bias": layer.bias.detach().clone()}
                          for layer in model[len(CONVS):]]}

    def judge(inputs, found, context):
        from scipy import stats  # here: judges only, the namespace need not import it
        if len(found["convs"]) != len(CONVS) or len(found["norms"]) != len(batch_norms):
            raise CheckFailure("weights_init changed the layers of the model it was applied to")
        tensors = [*found["convs"], *(t for layer in found["norms"] for t in (layer["weight"], layer["bias"]))]
        if not all(bool(torch.isfinite(t).all()) for t in tensors):  # a NaN would fail every comparison below
            raise CheckFailure("weights_init left NaN or infinite values in the weights: expected N(0, 0.02) for "
                               "the convolutions, N(1, 0.02) scales and zero shifts for the BatchNorms")
        for kind, weight in zip(CONVS, found["convs"]):
            w = weight.flatten().double()
            name = kind.__name__
            if abs(float(w.mean())) > 0.002 or abs(float(w.std()) - 0.02) > 0.001:
                raise CheckFailure(f"{name} weights have mean {float(w.mean()):.4f}, std {float(w.std()):.4f}: "
                                   "expected N(0, 0.02) (nn.init.normal_(m.weight, 0.0, 0.02)). Does weights_init "
                                   "match this layer's class name?")
            if abs(stats.kurtosis(w.numpy())) > 0.2:
                raise CheckFailure(f"{name} weights have the right std but are not normally distributed: use "
                                   "nn.init.normal_, not a uniform init")
        for kind, layer in zip(batch_norms, found["norms"]):
            w, b = layer["weight"].double(), layer["bias"]
            name = kind.__name__
            if abs(float(w.mean()) - 1) > 0.002 or abs(float(w.std()) - 0.02) > 0.002:
                raise CheckFailure(f"{name} scales have mean {float(w.mean()):.4f}, std {float(w.std()):.4f}: "
                                   "expected N(1, 0.02)")
            if b.abs().max() > 0:
                raise CheckFailure(f"{name} shifts (bias) are not 0: nn.init.zeros_(m.bias)")

    return check(rubric_id, collect=collect, judge=judge)


weights_init_check("dcgan.weights_init", "part1_dcgan", (nn.BatchNorm2d,))
weights_init_check("cgan.weights_init", "part2_cgan", (nn.BatchNorm2d, nn.BatchNorm1d))

ONEHOT_LABELS = [3, 0, 9, 3, 7]


def collect_onehot(submission, inputs):
    onehot = submission.get("part2_cgan", "onehot")
    found = {"labels": returned(onehot(torch.tensor(ONEHOT_LABELS)))}
    try:
        found["small"] = returned(onehot(torch.tensor([0, 1])))
    except Exception as exc:  # noqa: BLE001 - judge turns it into a hint
        found["small"] = {"raised": f"{type(exc).__name__} ({exc})"}
    return found


def judge_onehot(inputs, found, context):
    value = found["labels"]
    if not torch.is_tensor(value) or tuple(value.shape) != (5, 10, 1, 1):
        shape = tuple(value.shape) if torch.is_tensor(value) else type_name(value)
        raise CheckFailure(f"onehot(labels of 5 digits) gives {shape}: expected (5, 10, 1, 1)")
    if not value.is_floating_point():
        raise CheckFailure(f"onehot returns {value.dtype}: the networks need floats (.float())")
    flat = value.reshape(5, 10)
    labels = torch.tensor(ONEHOT_LABELS)
    if not torch.equal(flat, torch.eye(10)[labels]):
        raise CheckFailure(f"onehot([3, 0, 9, 3, 7]) puts its ones at {flat.argmax(1).tolist()} "
                           f"({int(flat.sum())} ones in all): expected one 1 per row, at the label")
    hint = "a batch without a 9 must still give 10 classes (F.one_hot(labels, num_classes=10))"
    small = found["small"]
    if isinstance(small, dict) and "raised" in small:
        raise CheckFailure(f"onehot([0, 1]) raised {small['raised']}: {hint}")
    if not torch.is_tensor(small) or tuple(small.shape) != (2, 10, 1, 1):
        shape = tuple(small.shape) if torch.is_tensor(small) else type_name(small)
        raise CheckFailure(f"onehot([0, 1]) gives {shape}: {hint}")


check("cgan.onehot", collect=collect_onehot, judge=judge_onehot)


class _RecordingG(nn.Module):
    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, z):
        self.seen.append(z.detach().clone())
        return torch.tanh(z.reshape(z.size(0), -1)[:, :12].reshape(-1, 3, 2, 2))


def draw_interpolate(context):
    return {"z1": torch.randn(1, NZ, 1, 1), "z2": torch.randn(1, NZ, 1, 1)}


def collect_interpolate(submission, inputs):
    interpolate = submission.get("part1_dcgan", "interpolate")
    netG = _RecordingG()
    images = interpolate(netG, inputs["z1"].clone(), inputs["z2"].clone(), 7)
    length, _ = call(len, images) if hasattr(images, "__len__") else (None, None)
    return {"seen": netG.seen, "is_tensor": torch.is_tensor(images), "type": type(images).__name__,
            "length": length if isinstance(length, int) else None}


def judge_interpolate(inputs, found, context):
    z1, z2 = inputs["z1"], inputs["z2"]
    if not found["seen"]:
        raise CheckFailure("interpolate never called netG")
    try:
        zs = torch.cat(found["seen"]).reshape(-1, NZ)
    except RuntimeError:
        shapes = sorted({tuple(z.shape) for z in found["seen"]})
        raise CheckFailure(f"interpolate gave netG z's of shape {shapes}: expected (B, {NZ}, 1, 1)") from None
    if len(zs) != 7 or not found["is_tensor"] or found["length"] != 7:
        shown = found["length"] if found["length"] is not None else (
            "None" if found["type"] == "NoneType" else f"a {found['type']}")
        raise CheckFailure(f"interpolate(netG, z1, z2, 7) generated {len(zs)} images and returned "
                           f"{shown}: expected 7")
    # solve z_k = a_k z1 + (1 - a_k) z2 for each a_k, then check the fit and the alphas
    direction = (z1 - z2).reshape(NZ)
    alphas = ((zs - z2.reshape(1, NZ)) @ direction) / (direction @ direction)
    fitted = alphas[:, None] * z1.reshape(1, NZ) + (1 - alphas[:, None]) * z2.reshape(1, NZ)
    if not torch.allclose(fitted, zs, atol=1e-4):
        raise CheckFailure("the z's given to netG are not of the form alpha * z1 + (1 - alpha) * z2")
    expected = torch.linspace(0, 1, 7)
    if not (torch.allclose(alphas, expected, atol=1e-4) or torch.allclose(alphas, expected.flip(0), atol=1e-4)):
        raise CheckFailure(f"interpolation weights {[round(a, 3) for a in alphas.tolist()]}: expected 7 evenly "
                           "spaced values of alpha from 0 to 1, both ends included")


check("dcgan.interpolate", draw=draw_interpolate, collect=collect_interpolate, judge=judge_interpolate)
