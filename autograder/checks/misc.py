"""Initialisation, the one-hot labels, and latent interpolation."""
import torch
import torch.nn as nn
from scipy import stats

from autograder.checks.registry import CheckFailure, check


def weights_init_check(part, batch_norms):
    """weights_init on the kinds of layer the part's networks use (Part 1 has no BatchNorm1d)."""
    def run(submission, context):
        weights_init = submission.get(part, "weights_init")
        # fan-ins chosen so PyTorch's default init (std 1/sqrt(3 fan_in)) cannot pass for N(0, 0.02)
        model = nn.Sequential(nn.Conv2d(32, 64, 4), nn.ConvTranspose2d(64, 32, 4), *(bn(4096) for bn in batch_norms))
        model.apply(weights_init)
        for layer in (model[0], model[1]):
            w = layer.weight.detach().flatten().double()
            name = type(layer).__name__
            if abs(float(w.mean())) > 0.002 or abs(float(w.std()) - 0.02) > 0.001:
                raise CheckFailure(f"{name} weights have mean {float(w.mean()):.4f}, std {float(w.std()):.4f}: "
                                   "expected N(0, 0.02) (nn.init.normal_(m.weight, 0.0, 0.02)). Does weights_init "
                                   "match this layer's class name?")
            if abs(stats.kurtosis(w.numpy())) > 0.2:
                raise CheckFailure(f"{name} weights have the right std but are not normally distributed: use "
                                   "nn.init.normal_, not a uniform init")
        for layer in model[2:]:
            w, b = layer.weight.detach().double(), layer.bias.detach()
            name = type(layer).__name__
            if abs(float(w.mean()) - 1) > 0.002 or abs(float(w.std()) - 0.02) > 0.002:
                raise CheckFailure(f"{name} scales have mean {float(w.mean()):.4f}, std {float(w.std()):.4f}: "
                                   "expected N(1, 0.02)")
            if b.abs().max() > 0:
                raise CheckFailure(f"{name} shifts (bias) are not 0: nn.init.zeros_(m.bias)")
    return run


check("dcgan.weights_init")(weights_init_check("part1_dcgan", (nn.BatchNorm2d,)))
check("cgan.weights_init")(weights_init_check("part2_cgan", (nn.BatchNorm2d, nn.BatchNorm1d)))


@check("cgan.onehot")
def check_onehot(submission, context):
    onehot = submission.get("part2_cgan", "onehot")
    labels = torch.tensor([3, 0, 9, 3, 7])
    found = onehot(labels)
    if not torch.is_tensor(found) or tuple(found.shape) != (5, 10, 1, 1):
        shape = tuple(found.shape) if torch.is_tensor(found) else type(found).__name__
        raise CheckFailure(f"onehot(labels of 5 digits) gives {shape}: expected (5, 10, 1, 1)")
    if not found.is_floating_point():
        raise CheckFailure(f"onehot returns {found.dtype}: the networks need floats (.float())")
    flat = found.reshape(5, 10)
    if not torch.equal(flat, torch.eye(10)[labels]):
        raise CheckFailure(f"onehot([3, 0, 9, 3, 7]) puts its ones at {flat.argmax(1).tolist()} "
                           f"({int(flat.sum())} ones in all): expected one 1 per row, at the label")
    hint = "a batch without a 9 must still give 10 classes (F.one_hot(labels, num_classes=10))"
    try:
        small = onehot(torch.tensor([0, 1]))
    except Exception as exc:
        raise CheckFailure(f"onehot([0, 1]) raised {type(exc).__name__} ({exc}): {hint}") from exc
    if not torch.is_tensor(small) or tuple(small.shape) != (2, 10, 1, 1):
        shape = tuple(small.shape) if torch.is_tensor(small) else type(small).__name__
        raise CheckFailure(f"onehot([0, 1]) gives {shape}: {hint}")


class _RecordingG(nn.Module):
    def __init__(self):
        super().__init__()
        self.seen = []

    def forward(self, z):
        self.seen.append(z.detach().clone())
        return torch.tanh(z.reshape(z.size(0), -1)[:, :12].reshape(-1, 3, 2, 2))


@check("dcgan.interpolate")
def check_interpolate(submission, context):
    interpolate = submission.get("part1_dcgan", "interpolate")
    netG = _RecordingG()
    z1, z2 = torch.randn(1, 100, 1, 1), torch.randn(1, 100, 1, 1)
    images = interpolate(netG, z1, z2, 7)
    if not netG.seen:
        raise CheckFailure("interpolate never called netG")
    zs = torch.cat(netG.seen).reshape(-1, 100)
    if len(zs) != 7 or not torch.is_tensor(images) or len(images) != 7:
        raise CheckFailure(f"interpolate(netG, z1, z2, 7) generated {len(zs)} images and returned "
                           f"{len(images) if hasattr(images, '__len__') else images}: expected 7")
    # solve z_k = a_k z1 + (1 - a_k) z2 for each a_k, then check the fit and the alphas
    direction = (z1 - z2).reshape(100)
    alphas = ((zs - z2.reshape(1, 100)) @ direction) / (direction @ direction)
    fitted = alphas[:, None] * z1.reshape(1, 100) + (1 - alphas[:, None]) * z2.reshape(1, 100)
    if not torch.allclose(fitted, zs, atol=1e-4):
        raise CheckFailure("the z's given to netG are not of the form alpha * z1 + (1 - alpha) * z2")
    expected = torch.linspace(0, 1, 7)
    if not (torch.allclose(alphas, expected, atol=1e-4) or torch.allclose(alphas, expected.flip(0), atol=1e-4)):
        raise CheckFailure(f"interpolation weights {[round(a, 3) for a in alphas.tolist()]}: expected 7 evenly "
                           "spaced values of alpha from 0 to 1, both ends included")
