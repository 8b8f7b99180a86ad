"""The reference implementation against ASSIGNMENT.md, read a second time, independently.

The architecture tables of ASSIGNMENT.md are transcribed below as the oracle: every leaf module
(convolutions, linear layers, batch norms, activations) is hooked, its output shape recorded in
call order and compared with the table, together with kernel / stride / padding, bias presence
(**Decision**: layers the seed does not mark "no bias" keep their bias) and LeakyReLU slopes.
Losses are checked against formulas written here with numpy / scipy / torch.distributions, and
the training steps behaviourally (who gets updated, who is judged with which label).
CPU only; the whole file runs in a few seconds.
"""
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from scipy.special import expit

from reference import part1_dcgan as p1
from reference import part2_cgan as p2
from reference import part3_vae as p3

B = 4  # batch size used throughout (> 1 so that BatchNorm can run in train mode)


# --------------------------------------------------------------------------------------------
# The spec's tables, transcribed
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """One leaf module of a table: its class, output shape (no batch dim) and configuration."""

    kind: type
    out: tuple
    config: dict = field(default_factory=dict)
    inp: Optional[tuple] = None  # input shape (no batch dim), checked where the spec gives it


def conv(cin, cout, stride, pad, out, bias, inp=None):
    return Layer(nn.Conv2d, out, dict(in_channels=cin, out_channels=cout, kernel_size=(4, 4),
                                      stride=(stride, stride), padding=(pad, pad), bias=bias), inp)


def convT(cin, cout, stride, pad, out, bias, inp=None):
    return Layer(nn.ConvTranspose2d, out, dict(in_channels=cin, out_channels=cout, kernel_size=(4, 4),
                                               stride=(stride, stride), padding=(pad, pad), bias=bias), inp)


def linear(fin, fout, bias, inp=None):
    return Layer(nn.Linear, (fout,), dict(in_features=fin, out_features=fout, bias=bias), inp)


def bn2d(c, out):
    return Layer(nn.BatchNorm2d, out, dict(num_features=c))


def bn1d(c):
    return Layer(nn.BatchNorm1d, (c,), dict(num_features=c))


def lrelu(out):
    return Layer(nn.LeakyReLU, out, dict(negative_slope=0.2))


def relu(out):
    return Layer(nn.ReLU, out)


def sigmoid(out):
    return Layer(nn.Sigmoid, out)


def tanh(out):
    return Layer(nn.Tanh, out)


def conv_bn_lrelu(cin, cout, stride, pad, out, inp=None):
    """A table row 'Conv2d(no bias) + BatchNorm2d + LeakyReLU(0.2)'."""
    return [conv(cin, cout, stride, pad, out, bias=False, inp=inp), bn2d(cout, out), lrelu(out)]


def convT_bn_relu(cin, cout, stride, pad, out, inp=None):
    """A table row 'ConvTranspose2d(no bias) + BatchNorm2d + ReLU'."""
    return [convT(cin, cout, stride, pad, out, bias=False, inp=inp), bn2d(cout, out), relu(out)]


def linear_bn(fin, fout, act, inp=None):
    """A row 'Linear(no bias) + BatchNorm1d + activation'."""
    return [linear(fin, fout, bias=False, inp=inp), bn1d(fout), act((fout,))]


# Part 1, 32x32: "every conv: kernel 4, no bias".
DCGAN_D32 = [
    *conv_bn_lrelu(3, 32, 2, 1, out=(32, 16, 16), inp=(3, 32, 32)),
    *conv_bn_lrelu(32, 64, 2, 1, out=(64, 8, 8)),
    *conv_bn_lrelu(64, 128, 2, 1, out=(128, 4, 4)),
    conv(128, 1, 1, 0, out=(1, 1, 1), bias=False), sigmoid((1, 1, 1)),
]
DCGAN_G32 = [
    *convT_bn_relu(100, 128, 1, 0, out=(128, 4, 4), inp=(100, 1, 1)),
    *convT_bn_relu(128, 64, 2, 1, out=(64, 8, 8)),
    *convT_bn_relu(64, 32, 2, 1, out=(32, 16, 16)),
    convT(32, 3, 2, 1, out=(3, 32, 32), bias=False), tanh((3, 32, 32)),
]
# Part 1, 64x64 variant: one more block at 8*ndf / 8*ngf channels.
DCGAN_D64 = [
    *conv_bn_lrelu(3, 32, 2, 1, out=(32, 32, 32), inp=(3, 64, 64)),
    *conv_bn_lrelu(32, 64, 2, 1, out=(64, 16, 16)),
    *conv_bn_lrelu(64, 128, 2, 1, out=(128, 8, 8)),
    *conv_bn_lrelu(128, 256, 2, 1, out=(256, 4, 4)),
    conv(256, 1, 1, 0, out=(1, 1, 1), bias=False), sigmoid((1, 1, 1)),
]
DCGAN_G64 = [
    *convT_bn_relu(100, 256, 1, 0, out=(256, 4, 4), inp=(100, 1, 1)),
    *convT_bn_relu(256, 128, 2, 1, out=(128, 8, 8)),
    *convT_bn_relu(128, 64, 2, 1, out=(64, 16, 16)),
    *convT_bn_relu(64, 32, 2, 1, out=(32, 32, 32)),
    convT(32, 3, 2, 1, out=(3, 64, 64), bias=False), tanh((3, 64, 64)),
]
# Part 2.2, conditional DCGAN. Branch layers are not marked "no bias": they keep it.
CDCGAN_D = [
    conv(1, 64, 2, 1, out=(64, 16, 16), bias=True, inp=(1, 32, 32)), lrelu((64, 16, 16)),  # x branch
    conv(10, 64, 2, 1, out=(64, 16, 16), bias=True, inp=(10, 32, 32)), lrelu((64, 16, 16)),  # y expanded
    *conv_bn_lrelu(128, 256, 2, 1, out=(256, 8, 8), inp=(128, 16, 16)),  # input = the concat
    *conv_bn_lrelu(256, 512, 2, 1, out=(512, 4, 4)),
    conv(512, 1, 1, 0, out=(1, 1, 1), bias=True), sigmoid((1, 1, 1)),
]
CDCGAN_G = [
    *convT_bn_relu(100, 256, 1, 0, out=(256, 4, 4), inp=(100, 1, 1)),  # z branch
    *convT_bn_relu(10, 256, 1, 0, out=(256, 4, 4), inp=(10, 1, 1)),  # y branch
    *convT_bn_relu(512, 256, 2, 1, out=(256, 8, 8), inp=(512, 4, 4)),  # input = the concat
    *convT_bn_relu(256, 128, 2, 1, out=(128, 16, 16)),
    convT(128, 1, 2, 1, out=(1, 32, 32), bias=True), tanh((1, 32, 32)),
]
# Part 2.3, fully connected cGAN.
FC_D = [
    linear(1024, 1024, bias=True, inp=(1024,)), lrelu((1024,)),  # x branch
    linear(10, 1024, bias=True, inp=(10,)), lrelu((1024,)),  # y branch
    *linear_bn(2048, 1024, lrelu, inp=(2048,)),  # input = the concat
    *linear_bn(1024, 512, lrelu),
    linear(512, 1, bias=True), sigmoid((1,)),
]
FC_G = [
    *linear_bn(100, 256, relu, inp=(100,)),  # z branch
    *linear_bn(10, 256, relu, inp=(10,)),  # y branch
    *linear_bn(512, 512, relu, inp=(512,)),  # input = the concat
    *linear_bn(512, 1024, relu),
    linear(1024, 1024, bias=True), tanh((1024,)),
]
# VAE (d = 32) and conditional VAE (label concatenated to the encoder input and to z).
VAE_T = [
    linear(784, 128, bias=True, inp=(784,)), relu((128,)),
    linear(128, 64, bias=True), relu((64,)),
    linear(64, 64, bias=True),  # 2d: mu then logvar
    linear(32, 64, bias=True, inp=(32,)), relu((64,)),
    linear(64, 128, bias=True), relu((128,)),
    linear(128, 784, bias=True),
]
CVAE_T = [
    linear(794, 128, bias=True, inp=(794,)), relu((128,)),
    linear(128, 64, bias=True), relu((64,)),
    linear(64, 64, bias=True),
    linear(42, 64, bias=True, inp=(42,)), relu((64,)),
    linear(64, 128, bias=True), relu((128,)),
    linear(128, 784, bias=True),
]


def rand_images(n, c=1, size=32):
    return torch.rand(n, c, size, size) * 2 - 1


def rand_onehot(n):
    return F.one_hot(torch.randint(0, 10, (n,)), 10).float().view(n, 10, 1, 1)


@dataclass
class Case:
    build: Callable
    inputs: Callable  # batch size -> tuple of inputs
    table: list
    output: Optional[tuple]  # final output shape without batch, None for the VAEs (tuple output)
    role: str  # "D", "G" or "VAE"
    concat: Optional[tuple] = None  # (branch-1 end, branch-2 end, trunk start) indices in the table


CASES = {
    "dcgan_D32": Case(p1.Discriminator, lambda n: (rand_images(n, 3),), DCGAN_D32, (1, 1, 1), "D"),
    "dcgan_G32": Case(p1.Generator, lambda n: (torch.randn(n, 100, 1, 1),), DCGAN_G32, (3, 32, 32), "G"),
    "dcgan_D64": Case(p1.Discriminator64, lambda n: (rand_images(n, 3, 64),), DCGAN_D64, (1, 1, 1), "D"),
    "dcgan_G64": Case(p1.Generator64, lambda n: (torch.randn(n, 100, 1, 1),), DCGAN_G64, (3, 64, 64), "G"),
    "cdcgan_D": Case(p2.cDCGANDiscriminator, lambda n: (rand_images(n), rand_onehot(n)), CDCGAN_D,
                     (1, 1, 1), "D", concat=(1, 3, 4)),
    "cdcgan_G": Case(p2.cDCGANGenerator, lambda n: (torch.randn(n, 100, 1, 1), rand_onehot(n)), CDCGAN_G,
                     (1, 32, 32), "G", concat=(2, 5, 6)),
    "fc_cgan_D": Case(p2.cGANDiscriminator, lambda n: (rand_images(n), rand_onehot(n)), FC_D, (1,), "D",
                      concat=(1, 3, 4)),
    "fc_cgan_G": Case(p2.cGANGenerator, lambda n: (torch.randn(n, 100, 1, 1), rand_onehot(n)), FC_G,
                      (1, 32, 32), "G", concat=(2, 5, 6)),
    "vae": Case(p3.VAE, lambda n: (torch.rand(n, 784),), VAE_T, None, "VAE"),
    "cvae": Case(p3.CVAE, lambda n: (torch.rand(n, 784), F.one_hot(torch.randint(0, 10, (n,)), 10).float()),
                 CVAE_T, None, "VAE"),
}


@dataclass
class Call:
    module: nn.Module
    inp: torch.Tensor
    out: torch.Tensor


def leaf_modules(model):
    return [m for m in model.modules() if not list(m.children())]


def run_hooked(model, inputs):
    """Run model(*inputs) with every leaf module hooked; return (calls in order, model output)."""
    calls = []

    def hook(module, inp, out):
        calls.append(Call(module, inp[0].detach().clone(), out.detach().clone()))

    handles = [m.register_forward_hook(hook) for m in leaf_modules(model)]
    try:
        with torch.no_grad():
            out = model(*inputs)
    finally:
        for h in handles:
            h.remove()
    return calls, out


def hooked_case(name, seed=0):
    torch.manual_seed(seed)
    case = CASES[name]
    model = case.build()
    inputs = case.inputs(B)
    calls, out = run_hooked(model, inputs)
    return case, model, inputs, calls, out


# --------------------------------------------------------------------------------------------
# 1. Architectures
# --------------------------------------------------------------------------------------------


def test_module_constants_match_spec():
    """nz = 100, ndf = ngf = 32, Adam lr 2e-4 betas (0.5, 0.999), latent d = 32."""
    assert (p1.nz, p1.ndf, p1.ngf, p1.nc) == (100, 32, 32, 3)
    assert p1.lr == pytest.approx(2e-4) and tuple(p1.betas) == (0.5, 0.999)
    assert (p2.nz, p2.n_classes) == (100, 10)
    assert p2.lr == pytest.approx(2e-4) and tuple(p2.betas) == (0.5, 0.999)
    assert p3.latent_dim == 32


@pytest.mark.parametrize("name", CASES)
def test_every_layer_matches_the_spec_table(name):
    """Leaf modules, called in order, have the table's type, config, bias and output shape."""
    case, model, _, calls, _ = hooked_case(name)
    kinds = [type(c.module).__name__ for c in calls]
    expected_kinds = [layer.kind.__name__ for layer in case.table]
    assert kinds == expected_kinds
    # every leaf is used, exactly once
    assert len(leaf_modules(model)) == len(case.table)
    assert len({id(c.module) for c in calls}) == len(calls)
    for i, (call, layer) in enumerate(zip(calls, case.table)):
        where = f"{name} layer {i} ({type(call.module).__name__})"
        assert tuple(call.out.shape) == (B, *layer.out), where
        if layer.inp is not None:
            assert tuple(call.inp.shape) == (B, *layer.inp), where
        for attr, want in layer.config.items():
            got = (call.module.bias is not None) if attr == "bias" else getattr(call.module, attr)
            if isinstance(got, tuple):
                got = tuple(got)
            assert got == want, f"{where}: {attr} = {got}, spec says {want}"
        if isinstance(call.module, nn.ConvTranspose2d):
            assert tuple(call.module.output_padding) == (0, 0), where


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.role in ("D", "G")])
def test_final_output_shape_and_range(name):
    """D: a probability, (B,1,1,1) for conv Ds; G: an image in [-1, 1]; the last op is the activation.

    The spec's open intervals are closed here: float32 sigmoid/tanh round to exactly 0/1/-1 when saturated.
    """
    case, _, _, calls, out = hooked_case(name)
    assert tuple(out.shape) == (B, *case.output)
    assert torch.equal(out.reshape(B, -1), calls[-1].out.reshape(B, -1)), "final activation is not the last op"
    assert torch.isfinite(out).all()
    if case.role == "D":
        assert isinstance(calls[-1].module, nn.Sigmoid)
        assert ((out >= 0) & (out <= 1)).all()
    else:
        assert isinstance(calls[-1].module, nn.Tanh)
        assert ((out >= -1) & (out <= 1)).all()


@pytest.mark.parametrize("name", [n for n, c in CASES.items() if c.concat])
def test_conditional_branches_are_concatenated_along_features(name):
    """The trunk's input is the channel/feature concat of the two branch outputs (first branch first)."""
    case, _, _, calls, _ = hooked_case(name)
    end_a, end_b, trunk = case.concat
    expected = torch.cat([calls[end_a].out, calls[end_b].out], dim=1)
    assert torch.equal(calls[trunk].inp, expected)


def test_cdcgan_D_y_branch_sees_label_expanded_to_image_size():
    """The y branch input is y (B,10,1,1) broadcast to (B,10,32,32)."""
    _, _, (x, y), calls, _ = hooked_case("cdcgan_D")
    assert torch.equal(calls[0].inp, x)
    assert torch.equal(calls[2].inp, y.expand(-1, -1, 32, 32))


def test_vae_forward_returns_reconstruction_mu_logvar_split_from_encoder_output():
    """VAE forward: (x_hat (B,784), mu (B,d), logvar (B,d)); mu = first d of the encoder output, logvar the last d."""
    _, _, _, calls, (x_hat, mu, logvar) = hooked_case("vae")
    assert tuple(x_hat.shape) == (B, 784)
    assert tuple(mu.shape) == tuple(logvar.shape) == (B, 32)
    enc_out = calls[4].out
    assert torch.equal(mu, enc_out[:, :32]) and torch.equal(logvar, enc_out[:, 32:])
    assert torch.equal(x_hat, calls[-1].out)  # no output activation in the spec


def _contains_concat(t, a, b):
    """t is cat([a, b]) or cat([b, a]) along dim 1."""
    return torch.equal(t, torch.cat([a, b], 1)) or torch.equal(t, torch.cat([b, a], 1))


def test_cvae_label_is_concatenated_to_encoder_input_and_to_z():
    """CVAE: encoder input = [x, y] (794), decoder input = [z, y] (42)."""
    _, _, (x, y), calls, (x_hat, mu, logvar) = hooked_case("cvae")
    assert tuple(x_hat.shape) == (B, 784) and tuple(mu.shape) == tuple(logvar.shape) == (B, 32)
    assert _contains_concat(calls[0].inp, x, y)
    dec_in = calls[5].inp
    assert torch.equal(dec_in[:, 32:], y) or torch.equal(dec_in[:, :10], y)


def test_cvae_accepts_label_shaped_like_onehot_output():
    """The CVAE takes y as produced by onehot, (B,10,1,1), as well as (B,10)."""
    torch.manual_seed(0)
    model = p3.CVAE()
    x = torch.rand(B, 784)
    y = p2.onehot(torch.arange(B))
    x_hat, mu, logvar = model(x, y)
    assert tuple(x_hat.shape) == (B, 784) and tuple(mu.shape) == (B, 32)


# --------------------------------------------------------------------------------------------
# 2. weights_init
# --------------------------------------------------------------------------------------------

INIT_NETS = {
    "dcgan_D32": (p1.Discriminator, p1.weights_init),
    "dcgan_G32": (p1.Generator, p1.weights_init),
    "dcgan_D64": (p1.Discriminator64, p1.weights_init),
    "dcgan_G64": (p1.Generator64, p1.weights_init),
    "cdcgan_D": (p2.cDCGANDiscriminator, p2.weights_init),
    "cdcgan_G": (p2.cDCGANGenerator, p2.weights_init),
}


@pytest.mark.parametrize("name", INIT_NETS)
def test_weights_init_conv_normal_0_002_and_batchnorm_normal_1_002_bias_0(name):
    """After net.apply(weights_init): every conv weight ~ N(0, 0.02); BN scale ~ N(1, 0.02), shift = 0."""
    build, weights_init = INIT_NETS[name]
    torch.manual_seed(0)
    net = build()
    convs = [m for m in net.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    assert convs and bns
    with torch.no_grad():  # poison first, so that an untouched layer shows
        for m in convs:
            m.weight.fill_(1.0)
        for m in bns:
            m.weight.fill_(5.0)
            m.bias.fill_(3.0)
    net.apply(weights_init)
    for m in convs:
        w = m.weight.detach()
        assert abs(w.mean().item()) < 0.003, m
        assert abs(w.std().item() - 0.02) < 0.002, m
    scale = torch.cat([m.weight.detach() for m in bns])
    assert abs(scale.mean().item() - 1.0) < 0.006
    assert abs(scale.std().item() - 0.02) < 0.006
    for m in bns:
        assert torch.equal(m.bias.detach(), torch.zeros_like(m.bias))


# --------------------------------------------------------------------------------------------
# 3. GAN losses
# --------------------------------------------------------------------------------------------


def test_bce_matches_torch_on_random_probabilities_and_targets():
    """bce(p, t) = torch's binary_cross_entropy (mean) for hard and soft targets."""
    torch.manual_seed(0)
    p = torch.rand(8, 1, 1, 1) * 0.98 + 0.01
    hard = torch.randint(0, 2, (8, 1, 1, 1)).float()
    soft = torch.rand(8, 1, 1, 1)
    for t in (hard, soft, torch.ones_like(p), torch.zeros_like(p)):
        assert torch.allclose(p1.bce(p, t), F.binary_cross_entropy(p, t), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("p,t,want", [(0.0, 0.0, 0.0), (0.0, 1.0, 100.0), (1.0, 0.0, 100.0), (1.0, 1.0, 0.0)])
def test_bce_at_probabilities_exactly_0_and_1_is_finite_and_clamped_like_torch(p, t, want):
    """At p in {0, 1} the loss is finite, log clamped at -100, as torch's binary_cross_entropy."""
    pt, tt = torch.tensor([p]), torch.tensor([t])
    got = p1.bce(pt, tt)
    assert torch.isfinite(got)
    assert got.item() == pytest.approx(want)
    assert got.item() == pytest.approx(F.binary_cross_entropy(pt, tt).item())


@pytest.mark.parametrize("p,t", [(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0)])
def test_bce_gradient_is_finite_at_probabilities_exactly_0_and_1(p, t):
    """The docstring promises p = 0 or 1 'stays finite'; the gradient must too (a saturated D happens)."""
    pt = torch.tensor([p], requires_grad=True)
    p1.bce(pt, torch.tensor([t])).backward()
    assert torch.isfinite(pt.grad).all()


def _probs(seed, n=6):
    g = np.random.default_rng(seed)
    return g.uniform(0.02, 0.98, size=(n, 1, 1, 1))


def test_d_loss_is_minus_log_D_real_minus_log_1_minus_D_fake():
    """d_loss = -(E[log D(x)] + E[log(1 - D(G(z)))]), the negated value function of equation 7."""
    dr, df = _probs(1), _probs(2, n=5)
    want = -(np.mean(np.log(dr)) + np.mean(np.log1p(-df)))
    got = p1.d_loss(torch.tensor(dr, dtype=torch.float32), torch.tensor(df, dtype=torch.float32))
    assert got.item() == pytest.approx(want, rel=1e-5)


def test_g_loss_non_saturating_is_minus_E_log_D_of_fake():
    """g_loss = -E[log D(G(z))], i.e. BCE(D(G(z)), 1)."""
    df = _probs(3)
    got = p1.g_loss(torch.tensor(df, dtype=torch.float32))
    assert got.item() == pytest.approx(-np.mean(np.log(df)), rel=1e-5)


def test_g_loss_minimax_is_E_log_1_minus_D_of_fake():
    """The 'true' minimax G loss: minimise E[log(1 - D(G(z)))] (negative, falls as D is fooled)."""
    df = _probs(4)
    got = p1.g_loss_minimax(torch.tensor(df, dtype=torch.float32))
    assert got.item() == pytest.approx(np.mean(np.log1p(-df)), rel=1e-5)
    assert got.item() < 0
    values = [p1.g_loss_minimax(torch.full((3,), q)).item() for q in (0.1, 0.5, 0.9)]
    assert values[0] > values[1] > values[2]
    values = [p1.g_loss(torch.full((3,), q)).item() for q in (0.1, 0.5, 0.9)]
    assert values[0] > values[1] > values[2]


LOGITS_NEAR_ZERO = [-12.0, -9.0, -6.0]  # D(G(z)) = sigmoid(l) from 6e-6 to 2.5e-3


def _grad_wrt_logits(loss_fn, logits):
    l = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
    loss_fn(torch.sigmoid(l)).backward()
    return l.grad.numpy() * len(logits)  # undo the mean over elements


def test_minimax_gradient_vanishes_when_D_of_fake_is_near_0_non_saturating_does_not():
    """W.r.t. D's logit l: minimax gives -sigmoid(l) -> 0; non-saturating gives -(1 - sigmoid(l)) -> -1."""
    grad_mm = _grad_wrt_logits(p1.g_loss_minimax, LOGITS_NEAR_ZERO)
    grad_ns = _grad_wrt_logits(p1.g_loss, LOGITS_NEAR_ZERO)
    s = expit(np.array(LOGITS_NEAR_ZERO))
    np.testing.assert_allclose(grad_mm, -s, rtol=1e-6)
    np.testing.assert_allclose(grad_ns, -(1 - s), rtol=1e-6)
    assert np.all(np.abs(grad_mm) < 3e-3)
    assert np.all(np.abs(grad_ns) > 0.99)


def test_gradients_wrt_D_output_minimax_about_minus_1_non_saturating_minus_1_over_p():
    """W.r.t. p = D(G(z)) near 0: d/dp log(1-p) = -1/(1-p) ~ -1, d/dp -log p = -1/p (large)."""
    p_np = np.array([1e-4, 1e-3, 1e-2])
    grads = {}
    for name, fn in (("mm", p1.g_loss_minimax), ("ns", p1.g_loss)):
        p = torch.tensor(p_np, dtype=torch.float64, requires_grad=True)
        fn(p).backward()
        grads[name] = p.grad.numpy() * len(p_np)
    np.testing.assert_allclose(grads["mm"], -1 / (1 - p_np), rtol=1e-6)
    np.testing.assert_allclose(grads["ns"], -1 / p_np, rtol=1e-6)


def test_lsgan_losses_match_the_0_1_1_coding():
    """D: 1/2 E[(D(x) - 1)^2] + 1/2 E[D(G(z))^2]; G: 1/2 E[(D(G(z)) - 1)^2] on raw scores."""
    g = np.random.default_rng(5)
    dr, df = g.normal(size=(6, 1, 1, 1)) * 2, g.normal(size=(7, 1, 1, 1)) * 2
    tr, tf = torch.tensor(dr, dtype=torch.float32), torch.tensor(df, dtype=torch.float32)
    assert p1.lsgan_d_loss(tr, tf).item() == pytest.approx(0.5 * np.mean((dr - 1) ** 2) + 0.5 * np.mean(df ** 2),
                                                            rel=1e-5)
    assert p1.lsgan_g_loss(tf).item() == pytest.approx(0.5 * np.mean((df - 1) ** 2), rel=1e-5)


def test_lsgan_g_loss_is_minimised_at_D_of_fake_equal_1_not_0():
    """The Decision: G pushes D(G(z)) to the 'real' target 1 (the slide's D(G(z))^2 would push to 0)."""
    grid = torch.linspace(-2, 3, 501)
    losses = torch.stack([p1.lsgan_g_loss(torch.full((4, 1, 1, 1), v.item())) for v in grid])
    assert grid[losses.argmin()].item() == pytest.approx(1.0, abs=1e-6)
    assert p1.lsgan_g_loss(torch.ones(4)).item() == pytest.approx(0.0)
    assert p1.lsgan_g_loss(torch.zeros(4)).item() == pytest.approx(0.5)
    assert p1.lsgan_d_loss(torch.ones(4), torch.zeros(4)).item() == pytest.approx(0.0)


# --------------------------------------------------------------------------------------------
# 4. VAE
# --------------------------------------------------------------------------------------------


def test_kl_divergence_matches_torch_distributions():
    """kl_divergence(mu, logvar) = KL(N(mu, exp(logvar/2)) || N(0, 1)) summed over dims, shape (B,)."""
    torch.manual_seed(0)
    mu, logvar = torch.randn(6, 32) * 1.5, torch.randn(6, 32)
    want = torch.distributions.kl_divergence(
        torch.distributions.Normal(mu, torch.exp(0.5 * logvar)), torch.distributions.Normal(0.0, 1.0)
    ).sum(-1)
    got = p3.kl_divergence(mu, logvar)
    assert tuple(got.shape) == (6,)
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-5)
    assert (got >= 0).all()


def test_kl_divergence_is_zero_at_the_prior():
    assert torch.equal(p3.kl_divergence(torch.zeros(3, 32), torch.zeros(3, 32)), torch.zeros(3))


def test_reparameterize_scales_eps_by_sigma_not_sigma_squared():
    """z = mu + eps * exp(logvar/2): empirical mean mu and std sigma, with sigma != sigma^2."""
    torch.manual_seed(0)
    n = 200_000
    mu_cols = torch.tensor([1.5, -2.0, 0.0])
    sigma = torch.tensor([2.0, 0.5, 1.0])  # sigma^2 = 4, 0.25, 1
    mu, logvar = mu_cols.expand(n, 3), torch.log(sigma ** 2).expand(n, 3)
    z = p3.reparameterize(mu, logvar)
    assert tuple(z.shape) == (n, 3)
    assert torch.allclose(z.mean(0), mu_cols, atol=0.02)
    assert torch.allclose(z.std(0), sigma, rtol=0.01)


def test_reparameterize_is_differentiable_in_mu_and_logvar():
    """dz/dmu = 1 and dz/dlogvar = eps * sigma / 2 = (z - mu) / 2."""
    torch.manual_seed(0)
    mu = torch.randn(5, 32, requires_grad=True)
    logvar = torch.randn(5, 32, requires_grad=True)
    z = p3.reparameterize(mu, logvar)
    z.sum().backward()
    assert torch.allclose(mu.grad, torch.ones_like(mu))
    assert torch.allclose(logvar.grad, 0.5 * (z - mu).detach(), atol=1e-6)


@pytest.mark.parametrize("x_shape", [(5, 784), (5, 1, 28, 28)])
def test_vae_loss_is_sum_of_squared_error_plus_summed_kl(x_shape):
    """vae_loss = sum over batch and pixels of (x_hat - x)^2 + sum over batch of KL."""
    g = np.random.default_rng(6)
    x_hat, x = g.random((5, 784)), g.random(x_shape)
    mu, logvar = g.normal(size=(5, 32)), g.normal(size=(5, 32))
    kl = -0.5 * np.sum(1 + logvar - mu ** 2 - np.exp(logvar))
    want = np.sum((x_hat - x.reshape(5, 784)) ** 2) + kl
    t = lambda a: torch.tensor(a, dtype=torch.float64)
    assert p3.vae_loss(t(x_hat), t(x), t(mu), t(logvar)).item() == pytest.approx(want, rel=1e-10)


# --------------------------------------------------------------------------------------------
# 5. get_noise, onehot
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", [p1, p2], ids=["part1", "part2"])
def test_get_noise_shape_dtype_and_freshness(module):
    """get_noise(B, nz) is float32 (B, nz, 1, 1) ~ N(0, I), a new draw each call."""
    assert tuple(module.get_noise(5).shape) == (5, 100, 1, 1)
    a, b = module.get_noise(5, 10), module.get_noise(5, 10)
    assert tuple(a.shape) == (5, 10, 1, 1)
    assert a.dtype == torch.float32
    assert not torch.equal(a, b)
    torch.manual_seed(0)
    big = module.get_noise(2000, 100)
    assert abs(big.mean().item()) < 0.01 and abs(big.std().item() - 1) < 0.01


@pytest.mark.parametrize("module", [p1, p2], ids=["part1", "part2"])
@pytest.mark.parametrize("device", ["cpu", torch.device("cpu"), "meta"])
def test_get_noise_is_on_the_requested_device(module, device):
    """The device argument is honoured (the meta device stands in for an accelerator on CPU-only runners)."""
    z = module.get_noise(3, 100, device=device)
    assert z.device.type == torch.device(device).type
    assert tuple(z.shape) == (3, 100, 1, 1)


def test_onehot_has_one_1_per_row_at_the_label():
    """onehot(labels) is float (B, 10, 1, 1), exactly one 1 per row, at the label."""
    labels = torch.cat([torch.arange(10), torch.randint(0, 10, (7,))])
    y = p2.onehot(labels)
    assert tuple(y.shape) == (17, 10, 1, 1) and y.dtype == torch.float32
    flat = y.view(17, 10)
    assert set(flat.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(flat.sum(1), torch.ones(17))
    assert torch.equal(flat.argmax(1), labels)


# --------------------------------------------------------------------------------------------
# 6. Training steps
# --------------------------------------------------------------------------------------------


class Recorder(nn.Module):
    """Wraps a network and records the inputs and output of every call (parameters are the net's)."""

    def __init__(self, net):
        super().__init__()
        self.net = net
        self.calls = []

    def forward(self, *args):
        out = self.net(*args)
        self.calls.append((args, out))
        return out


def snapshot(net):
    return [p.detach().clone() for p in net.parameters()]


def unchanged(net, before):
    return all(torch.equal(p, q) for p, q in zip(net.parameters(), before))


def grads_none_or_zero(net):
    return all(p.grad is None or not p.grad.any() for p in net.parameters())


def count_steps(optimizer, log, tag):
    """Wrap optimizer.step so that each call appends tag to log."""
    original = optimizer.step

    def step(*args, **kwargs):
        log.append(tag)
        return original(*args, **kwargs)

    optimizer.step = step


def bce_np(p, target):
    p = p.detach().double().numpy()
    return -np.mean(np.log(p)) if target == 1 else -np.mean(np.log1p(-p))


@pytest.mark.parametrize("module", [p1, p2], ids=["part1", "part2"])
def test_make_optimizers_is_adam_lr_2e4_betas_05_0999_on_each_net(module):
    torch.manual_seed(0)
    if module is p1:
        netD, netG = p1.Discriminator(), p1.Generator()
    else:
        netD, netG = p2.cDCGANDiscriminator(), p2.cDCGANGenerator()
    optD, optG = module.make_optimizers(netD, netG)
    for opt, net in ((optD, netD), (optG, netG)):
        assert isinstance(opt, torch.optim.Adam)
        for group in opt.param_groups:
            assert group["lr"] == pytest.approx(2e-4)
            assert tuple(group["betas"]) == (0.5, 0.999)
        in_opt = {id(p) for g in opt.param_groups for p in g["params"]}
        assert in_opt == {id(p) for p in net.parameters()}


def part1_setup(seed=0):
    torch.manual_seed(seed)
    netD, netG = Recorder(p1.Discriminator()), Recorder(p1.Generator())
    netD.apply(p1.weights_init)
    netG.apply(p1.weights_init)
    optD, optG = p1.make_optimizers(netD, netG)
    return netD, netG, optD, optG, rand_images(B, 3)


def test_part1_d_step_updates_D_on_real_and_detached_fakes_and_leaves_G_untouched():
    """D judges the real batch and G's fakes; G's parameters unchanged and no gradient reaches G."""
    netD, netG, optD, _, x_real = part1_setup()
    D0, G0 = snapshot(netD), snapshot(netG)
    loss = p1.d_step(netD, netG, optD, x_real)
    assert unchanged(netG, G0)
    assert grads_none_or_zero(netG)
    assert not unchanged(netD, D0)
    (fake,) = [out for _, out in netG.calls]
    assert tuple(fake.shape) == (B, 3, 32, 32)
    real_calls = [out for (x,), out in netD.calls if torch.equal(x, x_real)]
    fake_calls = [(x, out) for (x,), out in netD.calls if torch.equal(x, fake)]
    assert len(real_calls) == 1 and len(fake_calls) == 1
    assert not fake_calls[0][0].requires_grad  # detached
    want = bce_np(real_calls[0], 1) + bce_np(fake_calls[0][1], 0)
    assert float(loss) == pytest.approx(want, rel=1e-5)


def test_part1_g_step_updates_G_through_D_and_leaves_D_untouched():
    """G's fakes go through D un-detached; G's parameters change, D's do not; loss is -E[log D(G(z))]."""
    netD, netG, _, optG, _ = part1_setup()
    D0, G0 = snapshot(netD), snapshot(netG)
    loss = p1.g_step(netD, netG, optG, B)
    assert unchanged(netD, D0)
    assert not unchanged(netG, G0)
    ((z,), fake) = netG.calls[0]
    assert tuple(z.shape) == (B, 100, 1, 1)
    ((x,), d_out) = netD.calls[0]
    assert x is fake or (torch.equal(x, fake) and x.requires_grad)
    assert float(loss) == pytest.approx(bce_np(d_out, 1), rel=1e-5)


class TinyD(nn.Module):
    """Stand-in D with the course's interface, D(x) or D(x, y) -> (B, 1, 1, 1): keeps step-count tests fast."""

    def __init__(self, n_in):
        super().__init__()
        self.lin = nn.Linear(n_in, 1)

    def forward(self, x, y=None):
        h = x.flatten(1) if y is None else torch.cat([x.flatten(1), y.flatten(1)], 1)
        return torch.sigmoid(self.lin(h)).view(-1, 1, 1, 1)


class TinyG(nn.Module):
    """Stand-in G, G(z) or G(z, y) -> image of shape `shape`."""

    def __init__(self, n_in, shape):
        super().__init__()
        self.shape = shape
        self.lin = nn.Linear(n_in, int(np.prod(shape)))

    def forward(self, z, y=None):
        h = z.flatten(1) if y is None else torch.cat([z.flatten(1), y.flatten(1)], 1)
        return torch.tanh(self.lin(h)).view(-1, *self.shape)


@pytest.mark.parametrize("nb_update_D,nb_update_G", [(1, 1), (2, 1), (1, 3)])
def test_part1_train_step_runs_nb_update_D_and_nb_update_G_optimizer_steps(nb_update_D, nb_update_G):
    torch.manual_seed(0)
    netD, netG = TinyD(3 * 8 * 8), TinyG(100, (3, 8, 8))
    optD, optG = p1.make_optimizers(netD, netG)
    x_real = rand_images(B, 3, 8)
    log = []
    count_steps(optD, log, "D")
    count_steps(optG, log, "G")
    p1.train_step(netD, netG, optD, optG, x_real, nb_update_D=nb_update_D, nb_update_G=nb_update_G)
    assert log.count("D") == nb_update_D and log.count("G") == nb_update_G


CGAN_ARCHS = {
    "cdcgan": (p2.cDCGANDiscriminator, p2.cDCGANGenerator),
    "fc": (p2.cGANDiscriminator, p2.cGANGenerator),
}


def part2_setup(arch, seed=0):
    torch.manual_seed(seed)
    D_cls, G_cls = CGAN_ARCHS[arch]
    netD, netG = Recorder(D_cls()), Recorder(G_cls())
    netD.apply(p2.weights_init)
    netG.apply(p2.weights_init)
    optD, optG = p2.make_optimizers(netD, netG)
    y_real = p2.onehot(torch.tensor([0, 3, 7, 9]))
    return netD, netG, optD, optG, rand_images(B), y_real


@pytest.mark.parametrize("arch", CGAN_ARCHS)
def test_part2_d_step_judges_reals_with_their_labels_and_fakes_with_their_generation_labels(arch):
    """Real images with their own labels; each fake with the label G made it from; G untouched."""
    netD, netG, optD, _, x_real, y_real = part2_setup(arch)
    D0, G0 = snapshot(netD), snapshot(netG)
    loss = p2.d_step(netD, netG, optD, x_real, y_real)
    assert unchanged(netG, G0) and grads_none_or_zero(netG)
    assert not unchanged(netD, D0)
    ((z, y_gen), fake) = netG.calls[0]
    assert z.shape[0] == B and fake.shape == (B, 1, 32, 32)
    real_calls = [(y, out) for (x, y), out in netD.calls if torch.equal(x, x_real)]
    fake_calls = [(x, y, out) for (x, y), out in netD.calls if torch.equal(x, fake)]
    assert len(real_calls) == 1 and len(fake_calls) == 1
    assert torch.equal(real_calls[0][0].reshape(B, 10), y_real.reshape(B, 10))
    x_f, y_f, d_fake = fake_calls[0]
    assert torch.equal(y_f.reshape(B, 10), y_gen.reshape(B, 10))
    assert not x_f.requires_grad
    want = bce_np(real_calls[0][1], 1) + bce_np(d_fake, 0)
    assert float(loss) == pytest.approx(want, rel=1e-5)


@pytest.mark.parametrize("arch", CGAN_ARCHS)
def test_part2_g_step_generates_for_y_and_D_judges_each_fake_with_that_y(arch):
    """G(z, y) for the given y; D(G(z, y), y) un-detached; G changes, D does not."""
    netD, netG, _, optG, _, y = part2_setup(arch)
    D0, G0 = snapshot(netD), snapshot(netG)
    loss = p2.g_step(netD, netG, optG, y)
    assert unchanged(netD, D0)
    assert not unchanged(netG, G0)
    ((z, y_gen), fake) = netG.calls[0]
    assert torch.equal(y_gen.reshape(B, 10), y.reshape(B, 10))
    ((x, y_d), d_out) = netD.calls[0]
    assert x is fake or (torch.equal(x, fake) and x.requires_grad)
    assert torch.equal(y_d.reshape(B, 10), y_gen.reshape(B, 10))
    assert float(loss) == pytest.approx(bce_np(d_out, 1), rel=1e-5)


@pytest.mark.parametrize("nb_update_D,nb_update_G", [(1, 1), (2, 1), (1, 3)])
def test_part2_train_step_runs_nb_update_D_and_nb_update_G_optimizer_steps(nb_update_D, nb_update_G):
    torch.manual_seed(0)
    netD, netG = TinyD(32 * 32 + 10), TinyG(100 + 10, (1, 32, 32))
    optD, optG = p2.make_optimizers(netD, netG)
    x_real, y_real = rand_images(B), rand_onehot(B)
    log = []
    count_steps(optD, log, "D")
    count_steps(optG, log, "G")
    p2.train_step(netD, netG, optD, optG, x_real, y_real, nb_update_D=nb_update_D, nb_update_G=nb_update_G)
    assert log.count("D") == nb_update_D and log.count("G") == nb_update_G


@pytest.mark.parametrize("arch", CGAN_ARCHS)
def test_part2_D_and_G_outputs_depend_on_y(arch):
    """Same x (resp. z), other labels: D's (resp. G's) output changes."""
    torch.manual_seed(0)
    D_cls, G_cls = CGAN_ARCHS[arch]
    netD, netG = D_cls().eval(), G_cls().eval()
    labels = torch.tensor([0, 3, 7, 9])
    y_a, y_b = p2.onehot(labels), p2.onehot((labels + 5) % 10)
    x, z = rand_images(B), p2.get_noise(B)
    with torch.no_grad():
        d_gap = (netD(x, y_a) - netD(x, y_b)).abs()
        g_gap = (netG(z, y_a) - netG(z, y_b)).abs().flatten(1).amax(1)
    assert (d_gap.flatten() > 1e-6).all()
    assert (g_gap > 1e-6).all()


# --------------------------------------------------------------------------------------------
# 7. Interpolation
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("n_steps", [2, 5, 10])
def test_interpolate_gives_G_of_alpha_z1_plus_1_minus_alpha_z2(n_steps):
    """n_steps images G(alpha z1 + (1 - alpha) z2), alpha evenly spaced over [0, 1], either direction."""
    torch.manual_seed(0)
    netG = p1.Generator()
    netG.apply(p1.weights_init)
    netG.eval()
    z1, z2 = p1.get_noise(1), p1.get_noise(1)
    imgs = p1.interpolate(netG, z1, z2, n_steps=n_steps)
    assert tuple(imgs.shape) == (n_steps, 3, 32, 32)
    with torch.no_grad():
        g1, g2 = netG(z1)[0], netG(z2)[0]
        assert not torch.allclose(g1, g2, atol=1e-3)
        alphas = torch.linspace(0, 1, n_steps)
        forward = torch.stack([netG(a * z1 + (1 - a) * z2)[0] for a in alphas])
    close = lambda a, b: torch.allclose(a, b, atol=1e-5)
    assert close(imgs, forward) or close(imgs, forward.flip(0))
    assert (close(imgs[0], g2) and close(imgs[-1], g1)) or (close(imgs[0], g1) and close(imgs[-1], g2))
