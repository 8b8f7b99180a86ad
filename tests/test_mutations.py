"""The mutation suite: realistic mistakes must be caught, by the right checks, with the right words.

Each mutation is one small textual edit of the reference (reference/*.py copied into a temporary
folder, then `str.replace(old, new, 1)` on a string that must occur exactly once). It declares the
rubric ids that must fail, each with a regular expression its message must match (the message
has to name the mistake, not just say "wrong"); every other check of the mutated part must still
pass, so a mistake is charged to the checks that cover it and to no other.

Each mutation gives two tests over one cached grading: `fails_exactly_its_checks` (the set of
failing checks, and the points) and `message_names_the_mistake` (the regexes). To keep the file
fast, a mutation is graded on the checks of the part it touches only, with one torch thread;
`test_a_mutation_leaves_the_other_parts_untouched` grades one on the full rubric. The stub test
grades the released-stub equivalent (every body replaced by `raise NotImplementedError()`):
zero points, every message a statement about the student's code, never a crash of the grader.

Where a check misbehaves (a mistake let through, the wrong check charged, a message that names
the wrong mistake or a grader crash reported as the student's), the affected test is marked
xfail(strict=True) with the reason (`set_bug` / `message_bug`): the suite stays green, documents
the bug, and turns red (XPASS) once the check is fixed, so that the mark is removed.
"""
import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

from autograder import rubric
from autograder.checks import registry
from autograder.rubric import load_rubric
from autograder.score import grade

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "reference"
PARTS = tuple(load_rubric()["parts"])


def part_of(rubric_id):
    return rubric.part_of(rubric_id, PARTS)


def rubric_ids(parts=PARTS):
    """The checks of these parts but those that train networks: too slow for a mutation suite (they
    have their own tests)."""
    return registry.rubric_ids(load_rubric(), parts, trains=False)


@dataclass(frozen=True)
class Mutation:
    id: str
    part: str
    old: str
    new: str
    fails: tuple  # ((rubric id, regex its message must match), ...)
    set_bug: str = None  # the wrong checks fail (or none): "fails exactly its checks" is a strict xfail
    message_bug: str = None  # a message misnames the mistake: "message names the mistake" is a strict xfail

    def apply(self, source):
        count = source.count(self.old)
        assert count == 1, f"{self.id}: the text to mutate occurs {count} times in reference/{self.part}.py"
        return source.replace(self.old, self.new, 1)


def M(id, part, old, new, fails, set_bug=None, message_bug=None):
    return Mutation(id, part, old, new, tuple(fails.items()), set_bug, message_bug)




P1, P2, P3 = PARTS
WIDTH_D, WIDTH_G = "dcgan.width_arguments_discriminator", "dcgan.width_arguments_generator"

# train_step written inline, as the course's 2019 notebook does (judged by what its updates did, issue 19):
# the reference's calls of d_step and g_step, and the same iteration written out, for the mutations below.
TRAIN_STEP_BY_CALLS = ("    for _ in range(nb_update_D):\n        loss_d = d_step(netD, netG, optimizerD, x_real, nz)\n"
                       "    for _ in range(nb_update_G):\n"
                       "        loss_g = g_step(netD, netG, optimizerG, x_real.size(0), nz, x_real.device)\n")
TRAIN_STEP_INLINE = (
    "    b, bce_loss = x_real.size(0), nn.BCELoss()\n"
    "    for _ in range(nb_update_D):\n        optimizerD.zero_grad()\n"
    "        fake = netG(get_noise(b, nz, x_real.device)).detach()\n"
    "        d_real, d_fake = netD(x_real), netD(fake)\n"
    "        loss_d = bce_loss(d_real, torch.ones_like(d_real)) + bce_loss(d_fake, torch.zeros_like(d_fake))\n"
    "        loss_d.backward()\n        optimizerD.step()\n"
    "    for _ in range(nb_update_G):\n        optimizerG.zero_grad()\n"
    "        d_fake = netD(netG(get_noise(b, nz, x_real.device)))\n"
    "        loss_g = bce_loss(d_fake, torch.ones_like(d_fake))\n"
    "        loss_g.backward()\n        optimizerG.step()\n")


def inline(old, new):
    """TRAIN_STEP_INLINE with one edit: a mistake in a train_step written inline."""
    assert TRAIN_STEP_INLINE.count(old) == 1, old
    return TRAIN_STEP_INLINE.replace(old, new)


MUTATIONS = [
    # ------------------------------------------------------------------ Part 1: architectures
    M("dcgan-D-conv2-stride-1", P1,
      "nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False)", "nn.Conv2d(ndf, ndf * 2, 4, 1, 1, bias=False)",
      {"dcgan.discriminator": r"layer 4 .*stride should be 2, not 1"}),
    M("dcgan-G-last-convT-with-bias", P1,
      "nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),\n            nn.Tanh()",
      "nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=True),\n            nn.Tanh()",
      {"dcgan.generator": r"no bias here: pass bias=False"}),
    M("dcgan-D-leaky-slope-0.02", P1,
      "nn.BatchNorm2d(ndf * 2),\n            nn.LeakyReLU(0.2),", "nn.BatchNorm2d(ndf * 2),\n            nn.LeakyReLU(0.02),",
      {"dcgan.discriminator": r"slope should be 0\.2, not 0\.02"}),
    M("dcgan-D64-leaky-default-slope", P1,
      "nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]", "nn.BatchNorm2d(c_out), nn.LeakyReLU()]",
      {"dcgan.discriminator64": r"slope should be 0\.2, not 0\.01 \(nn\.LeakyReLU's default is 0\.01"}),
    M("dcgan-G-missing-batchnorm", P1,
      "nn.BatchNorm2d(ngf * 2),\n            ", "",
      {"dcgan.generator": r"layer 5 .*missing BatchNorm"}),
    M("dcgan-D-batchnorm-after-activation", P1,
      "nn.BatchNorm2d(ndf),\n            nn.LeakyReLU(0.2),", "nn.LeakyReLU(0.2),\n            nn.BatchNorm2d(ndf),",
      {"dcgan.discriminator": r"layer 2 LeakyReLU.*BatchNorm, then the activation"}),
    M("dcgan-D64-missing-sigmoid", P1,
      "layers += [nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False), nn.Sigmoid()]",
      "layers += [nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False)]",
      {"dcgan.discriminator64": r"continues with Sigmoid"}),
    M("dcgan-G64-missing-tanh", P1,
      "layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh()]",
      "layers += [nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False)]",
      {"dcgan.generator64": r"continues with Tanh"}),
    M("dcgan-D-hardcodes-ndf", P1,
      "super().__init__()\n        self.main = nn.Sequential(\n            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),",
      "super().__init__()\n        ndf = 32\n        self.main = nn.Sequential(\n            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),",
      {WIDTH_D: r"Discriminator\(ndf=16\), layer 1 .*out should be 16, not 32"}),
    M("dcgan-G-hardcodes-nz", P1,
      "nn.ConvTranspose2d(nz, ngf * 4, 4, 1, 0, bias=False)", "nn.ConvTranspose2d(100, ngf * 4, 4, 1, 0, bias=False)",
      {WIDTH_G: r"RuntimeError: .*channels.* at part1_dcgan\.py lines \d+-\d+, line \d+"}),
    M("dcgan-weights-init-std-0.2", P1,
      "nn.init.normal_(m.weight, 0.0, 0.02)", "nn.init.normal_(m.weight, 0.0, 0.2)",
      {"dcgan.weights_init": r"std 0\.(19|2)\d*: expected N\(0, 0\.02\)"}),  # a draw of std 0.2 may read 0.1995
    # ------------------------------------------------------------------ Part 1: prior
    M("dcgan-prior-uniform", P1,
      "return torch.randn(batch_size, nz, 1, 1, device=device)", "return torch.rand(batch_size, nz, 1, 1, device=device)",
      {"dcgan.prior": r"uniform \(torch\.rand\?\)"}),
    M("dcgan-prior-std-2", P1,
      "return torch.randn(batch_size, nz, 1, 1, device=device)",
      "return torch.randn(batch_size, nz, 1, 1, device=device) * 2",
      {"dcgan.prior": r"standard deviation is 2\.00, not 1"}),
    M("dcgan-prior-reseeded-every-call", P1,
      "    return torch.randn(batch_size, nz, 1, 1, device=device)",
      "    torch.manual_seed(0)\n    return torch.randn(batch_size, nz, 1, 1, device=device)",
      {"dcgan.prior": r"same tensor: draw fresh noise"}),
    M("dcgan-prior-ignores-nz-argument", P1,
      "return torch.randn(batch_size, nz, 1, 1, device=device)", "return torch.randn(batch_size, 100, 1, 1, device=device)",
      {"dcgan.prior": r"use the nz argument"}),
    # ------------------------------------------------------------------ Part 1: losses
    M("dcgan-bce-unclamped-log", P1,
      "-(targets * clamped_log(probs) + (1 - targets) * clamped_log(1 - probs)).mean()",
      "-(targets * torch.log(probs) + (1 - targets) * torch.log(1 - probs)).mean()",
      {"dcgan.bce": r"bce\(p=0\.0, target=1\.0\) is inf: log\(0\) must be clamped"}),
    M("dcgan-bce-clamped-after-log", P1,
      "-(targets * clamped_log(probs) + (1 - targets) * clamped_log(1 - probs)).mean()",
      "-(targets * torch.log(probs).clamp(min=-100) + (1 - targets) * torch.log(1 - probs).clamp(min=-100)).mean()",
      {"dcgan.bce": r"gradient at p=0\.0, target=1\.0 is not finite"}),
    M("dcgan-bce-sum-reduction", P1,
      "clamped_log(1 - probs)).mean()", "clamped_log(1 - probs)).sum()",
      # the losses that call bce are judged with the grader's bce too: the mistake is charged once
      {"dcgan.bce": r"the sum instead of the mean"}),
    M("dcgan-bce-sign-error", P1,
      "    return -(targets * clamped_log(probs)", "    return (targets * clamped_log(probs)",
      # the losses and steps built on bce pass (judged with the grader's bce): charged once
      {"dcgan.bce": r"it matches a missing minus sign"}),
    M("dcgan-bce-via-F-binary-cross-entropy", P1,
      "-(targets * clamped_log(probs) + (1 - targets) * clamped_log(1 - probs)).mean()",
      "torch.nn.functional.binary_cross_entropy(probs, targets)",
      {"dcgan.bce": r"bce calls torch\.nn\.functional\.binary_cross_entropy: the notebook asks you to write the "
                    r"binary cross-entropy without torch's BCE functions"}),
    M("dcgan-bce-is-nn-BCELoss", P1,
      "def bce(probs, targets):", "bce = nn.BCELoss()\n\n\ndef _unused_bce(probs, targets):",
      {"dcgan.bce": r"bce calls torch\.nn\.functional\.binary_cross_entropy: .*without torch's BCE functions"}),
    M("dcgan-bce-via-bce-with-logits", P1,
      "-(targets * clamped_log(probs) + (1 - targets) * clamped_log(1 - probs)).mean()",
      "torch.nn.functional.binary_cross_entropy_with_logits(torch.logit(probs), targets)",
      {"dcgan.bce": r"bce calls torch\.nn\.functional\.binary_cross_entropy_with_logits"}),
    M("dcgan-d-loss-swapped-labels", P1,
      "return bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))",
      "return bce(d_real, torch.zeros_like(d_real)) + bce(d_fake, torch.ones_like(d_fake))",
      {"dcgan.d_loss": r"swapped labels"}),  # d_step runs with a correct d_loss: charged once
    M("dcgan-d-loss-real-target-flipped", P1,
      "return bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))",
      "return bce(d_real, torch.zeros_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))",
      {"dcgan.d_loss": r"it matches the real term's target flipped"}),
    M("dcgan-d-loss-fake-target-flipped", P1,
      "return bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))",
      "return bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.ones_like(d_fake))",
      {"dcgan.d_loss": r"it matches the fake term's target flipped"}),
    M("dcgan-d-loss-two-sided-label-smoothing", P1,
      "return bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))",
      "return bce(d_real, torch.full_like(d_real, 0.9)) + bce(d_fake, torch.full_like(d_fake, 0.1))",
      {"dcgan.d_loss": r"targets 0\.9 for D\(x\), 0\.1 for D\(G\(z\)\) \(label smoothing\)"}),
    M("dcgan-d-loss-one-sided-label-smoothing", P1,
      "return bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))",
      "return bce(d_real, torch.full_like(d_real, 0.9)) + bce(d_fake, torch.zeros_like(d_fake))",
      {"dcgan.d_loss": r"targets 0\.9 for D\(x\), 0 for D\(G\(z\)\) \(label smoothing, one-sided\)"}),
    M("dcgan-g-loss-summed-over-the-batch", P1,
      "    return bce(d_fake, torch.ones_like(d_fake))",
      "    return torch.nn.functional.binary_cross_entropy(d_fake, torch.ones_like(d_fake), reduction=\"sum\")",
      {"dcgan.g_loss": r"it matches the sum over the batch instead of the mean"}),
    M("dcgan-g-loss-saturating", P1,
      "    return bce(d_fake, torch.ones_like(d_fake))", "    return -bce(d_fake, torch.zeros_like(d_fake))",
      {"dcgan.g_loss": r"the saturating minimax loss"}),
    M("dcgan-g-loss-clamps-D-output", P1,  # right on D outputs in [0.01, 0.99], flat below: caught at saturation
      "    return bce(d_fake, torch.ones_like(d_fake))", "    return bce(d_fake.clamp(min=0.01), torch.ones_like(d_fake))",
      {"dcgan.g_losses_gradients": r"does g_loss saturate"}),
    M("dcgan-lsgan-g-loss-as-the-slide", P1,
      "return 0.5 * ((d_fake - 1) ** 2).mean()", "return 0.5 * (d_fake ** 2).mean()",
      {"dcgan.lsgan_g_loss": r"the slide's 1/2 mean D\(G\(z\)\)\^2"}),
    M("dcgan-lsgan-d-loss-without-half", P1,
      "return 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * (d_fake ** 2).mean()",
      "return ((d_real - 1) ** 2).mean() + (d_fake ** 2).mean()",
      {"dcgan.lsgan_d_loss": r"without the factor 1/2"}),
    M("dcgan-lsgan-d-loss-fakes-towards-minus-one", P1,  # the LSGAN paper's a = -1, b = 1 coding
      "return 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * (d_fake ** 2).mean()",
      "return 0.5 * ((d_real - 1) ** 2).mean() + 0.5 * ((d_fake + 1) ** 2).mean()",
      {"dcgan.lsgan_d_loss": r"fakes pushed towards -1, the -1/1 coding of the LSGAN paper"}),
    M("dcgan-statement-raising-at-load", P1,
      "def g_loss_minimax(d_fake):", "def g_loss_minimax(d_fake, eps=EPS):",
      {"dcgan.g_loss_minimax": r"`g_loss_minimax` is not defined because part1_dcgan\.py lines \d+-\d+ failed: "
                               r"NameError: name 'EPS'"}),  # g_losses_gradients: charged once, here
    # ------------------------------------------------------------------ Part 1: steps
    M("dcgan-optimizers-default-betas", P1,
      "betas = (0.5, 0.999)", "betas = (0.9, 0.999)",
      {"dcgan.optimizers": r"Adam's default; the course uses beta1 = 0\.5"}),
    M("dcgan-d-step-no-detach", P1,
      "x_fake = netG(z).detach()", "x_fake = netG(z)",
      {"dcgan.d_step": r"D step reached G.*Detach the fakes"}),
    M("dcgan-d-step-no-zero-grad", P1,
      "    optimizerD.zero_grad()\n", "",
      {"dcgan.d_step": r"stale gradients.*optimizerD\.zero_grad\(\)"}),
    M("dcgan-d-step-zero-grad-between-backward-and-step", P1,
      "    loss.backward()\n    optimizerD.step()", "    loss.backward()\n    optimizerD.zero_grad()\n    optimizerD.step()",
      {"dcgan.d_step": r"gradients were cleared between backward\(\) and optimizerD\.step\(\)"}),
    M("vae-step-zero-grad-between-backward-and-step", P3,
      "    loss.backward()\n    optimizer.step()", "    loss.backward()\n    optimizer.zero_grad()\n    optimizer.step()",
      {"vae.step": r"gradients were cleared between backward\(\) and optimizer\.step\(\)"}),
    M("dcgan-g-step-zero-grads-D-not-G", P1,
      "    optimizerG.zero_grad()\n", "    netD.zero_grad()\n",
      {"dcgan.g_step": r"stale gradients.*optimizerG\.zero_grad\(\)"}),
    M("dcgan-g-step-uses-saturating-loss", P1,
      "loss = g_loss(netD(netG(z)))", "loss = g_loss_minimax(netD(netG(z)))",
      {"dcgan.g_step": r"the saturating minimax loss"}),
    M("dcgan-g-step-detaches-fakes", P1,
      "loss = g_loss(netD(netG(z)))", "loss = g_loss(netD(netG(z).detach()))",
      {"dcgan.g_step": r"no gradient.*do not detach the fakes"}),
    M("dcgan-d-step-one-D-call-on-a-mixed-batch", P1,
      "loss = d_loss(netD(x_real), netD(x_fake))",
      "d_out = netD(torch.cat([x_real, x_fake]))\n    loss = d_loss(d_out[: x_real.size(0)], d_out[x_real.size(0) :])",
      {"dcgan.d_step": r"BatchNorm|separate|same (batch|call)"}),
    M("dcgan-d-step-uniform-noise-inline", P1,
      "z = get_noise(x_real.size(0), nz, x_real.device)", "z = torch.rand(x_real.size(0), nz, 1, 1, device=x_real.device)",
      {"dcgan.d_step": r"N\(0, I\)|uniform|prior"}),
    M("dcgan-d-step-fixed-fake-batch-size", P1,
      "z = get_noise(x_real.size(0), nz, x_real.device)", "z = get_noise(64, nz, x_real.device)",
      {"dcgan.d_step": r"64 fakes|batch size|as many fakes"}),
    M("dcgan-train-step-ignores-nb-update-D", P1,
      "for _ in range(nb_update_D):", "for _ in range(1):",
      {"dcgan.train_step": r"nb_update_D=2, nb_update_G=1, train_step made 1 D updates"}),
    M("dcgan-g-step-leaves-D-in-eval-mode", P1,
      "    optimizerG.zero_grad()\n    z = get_noise(batch_size, nz, device)",
      "    optimizerG.zero_grad()\n    netD.eval()\n    z = get_noise(batch_size, nz, device)",
      {"dcgan.g_step": r"netD was in eval mode when the G step called it \(netD\.eval\(\) left on"}),
    M("dcgan-d-step-D-in-eval-mode", P1,
      "    optimizerD.zero_grad()\n    z = get_noise(x_real.size(0), nz, x_real.device)",
      "    optimizerD.zero_grad()\n    netD.eval()\n    z = get_noise(x_real.size(0), nz, x_real.device)",
      {"dcgan.d_step": r"netD was in eval mode when the D step called it"}),
    M("dcgan-train-step-steps-the-optimizers-only", P1,
      "        loss_d = d_step(netD, netG, optimizerD, x_real, nz)",
      "        optimizerD.step()\n        loss_d = torch.zeros(())",
      {"dcgan.train_step": r"optimizerD\.step\(\).*came with no D loss: D judged no image"}),
    M("dcgan-train-step-inline-no-zero-grad-of-G", P1, TRAIN_STEP_BY_CALLS,
      inline("        optimizerG.zero_grad()\n", ""),
      {"dcgan.train_step": r"inline\).*stale gradients.*optimizerG\.zero_grad\(\)"}),
    M("dcgan-train-step-inline-saturating-G-loss", P1, TRAIN_STEP_BY_CALLS,
      inline("loss_g = bce_loss(d_fake, torch.ones_like(d_fake))", "loss_g = torch.log(1 - d_fake).mean()"),
      {"dcgan.train_step": r"inline G update's loss gives D's outputs the gradients of the saturating minimax"}),
    M("dcgan-train-step-inline-swapped-D-targets", P1, TRAIN_STEP_BY_CALLS,
      inline("bce_loss(d_real, torch.ones_like(d_real)) + bce_loss(d_fake, torch.zeros_like(d_fake))",
             "bce_loss(d_real, torch.zeros_like(d_real)) + bce_loss(d_fake, torch.ones_like(d_fake))"),
      {"dcgan.train_step": r"inline D update's loss gives D's outputs the gradients of swapped labels"}),
    M("dcgan-train-step-inline-one-D-update", P1, TRAIN_STEP_BY_CALLS,
      inline("    for _ in range(nb_update_D):\n", "    for _ in range(1):\n"),
      {"dcgan.train_step": r"nb_update_D=2, nb_update_G=1, train_step made 1 D updates .*written inline"}),
    M("dcgan-interpolate-misses-an-endpoint", P1,
      "torch.linspace(0, 1, n_steps, device=z1.device)", "(torch.arange(n_steps, device=z1.device) / n_steps)",
      {"dcgan.interpolate": r"both ends included"}),
    # ------------------------------------------------------------------ Part 2: one-hot, prior, init, optimizers
    M("cgan-fc-generator-batchnorm-eps-as-momentum", P2,  # PyTorch-GAN's BatchNorm1d(out_feat, 0.8)
      "            nn.Linear(512, 1024, bias=False),\n            nn.BatchNorm1d(1024),",
      "            nn.Linear(512, 1024, bias=False),\n            nn.BatchNorm1d(1024, 0.8),",
      {"cgan.fc_generator": r"trunk, layer 6 BatchNorm\(1024, eps 0\.8\).*eps should be 1e-05, not 0\.8: BatchNorm's second argument is eps"}),
    M("cgan-onehot-shape-B-10", P2,
      "F.one_hot(labels.long(), n_classes).float().view(-1, n_classes, 1, 1)",
      "F.one_hot(labels.long(), n_classes).float()",
      {"cgan.onehot": r"gives \(5, 10\): expected \(5, 10, 1, 1\)"}),
    M("cgan-onehot-without-num-classes", P2,
      "F.one_hot(labels.long(), n_classes)", "F.one_hot(labels.long())",
      {"cgan.onehot": r"n_classes|num_classes|labels? 9"}),
    M("cgan-prior-variance-2", P2,
      "return torch.randn(batch_size, nz, 1, 1, device=device)",
      "return torch.randn(batch_size, nz, 1, 1, device=device) * 2 ** 0.5",
      {"cgan.prior": r"standard deviation is 1\.41, not 1"}),
    M("cgan-prior-without-spatial-dims", P2,
      "return torch.randn(batch_size, nz, 1, 1, device=device)", "return torch.randn(batch_size, nz, device=device)",
      {"cgan.prior": r"add the two spatial dims"}),
    M("cgan-prior-one-z-for-the-whole-batch", P2,
      "return torch.randn(batch_size, nz, 1, 1, device=device)",
      "return torch.randn(1, nz, 1, 1, device=device).repeat(batch_size, 1, 1, 1)",
      {"cgan.prior": r"rows of one get_noise batch repeat"}),
    M("cgan-prior-one-scalar-per-example", P2,
      "return torch.randn(batch_size, nz, 1, 1, device=device)",
      "return torch.randn(batch_size, 1, 1, 1, device=device).expand(batch_size, nz, 1, 1)",
      {"cgan.prior": r"coordinates of z are correlated"}),
    M("cgan-batchnorm-scale-init-N0", P2,
      "nn.init.normal_(m.weight, 1.0, 0.02)", "nn.init.normal_(m.weight, 0.0, 0.02)",
      {"cgan.weights_init": r"scales have mean -?0\.0\d*.*expected N\(1, 0\.02\)"}),
    M("cgan-optimizers-lr-2e-3", P2,
      "lr = 2e-4", "lr = 2e-3",
      {"cgan.optimizers": r"lr 0\.002: the course uses 2e-0?4"}),
    M("cgan-optimizerG-holds-D-parameters", P2,
      "optimizerG = torch.optim.Adam(netG.parameters()", "optimizerG = torch.optim.Adam(netD.parameters()",
      {"cgan.optimizers": r"optimizerG does not hold exactly netG's parameters"}),
    # ------------------------------------------------------------------ Part 2: architectures
    M("cgan-cDCGAN-G-ignores-y", P2,
      "self.z_branch(z), self.y_branch(y)], dim=1))\n", "self.z_branch(z), self.y_branch(torch.zeros_like(y))], dim=1))\n",
      {"cgan.cdcgan_generator": r"expected the parts z branch, y branch, trunk.*are all inputs used"}),
    M("cgan-cDCGAN-D-batchnorm-in-x-branch", P2,
      "self.x_branch = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.LeakyReLU(0.2))",
      "self.x_branch = nn.Sequential(nn.Conv2d(1, 64, 4, 2, 1), nn.BatchNorm2d(64), nn.LeakyReLU(0.2))",
      {"cgan.cdcgan_discriminator": r"x branch, layer 2 BatchNorm.*BatchNorm where the spec has none"}),
    M("cgan-cDCGAN-D-y-branch-without-bias", P2,
      "nn.Conv2d(n_classes, 64, 4, 2, 1)", "nn.Conv2d(n_classes, 64, 4, 2, 1, bias=False)",
      {"cgan.cdcgan_discriminator": r"y branch, layer 1 .*keeps its bias"}),
    M("cgan-FC-D-hidden-width-256", P2,
      "nn.Linear(1024, 512, bias=False),\n            nn.BatchNorm1d(512),\n            nn.LeakyReLU(0.2),\n"
      "            nn.Linear(512, 1),",
      "nn.Linear(1024, 256, bias=False),\n            nn.BatchNorm1d(256),\n            nn.LeakyReLU(0.2),\n"
      "            nn.Linear(256, 1),",
      {"cgan.fc_discriminator": r"out should be 512, not 256"}),
    M("cgan-FC-G-returns-flat-images", P2,
      ".view(-1, 1, 32, 32)", "",
      {"cgan.fc_generator": r"returns \(4, 1024\): expected images \(B, 1, 32, 32\)"}),
    M("cgan-cDCGAN-D-x-branch-stride-1", P2,  # torch.cat of (B, 64, 31, 31) and (B, 64, 16, 16) raises
      "nn.Conv2d(1, 64, 4, 2, 1)", "nn.Conv2d(1, 64, 4, 1, 1)",
      {"cgan.cdcgan_discriminator": r"x branch, layer 1 Conv2d\(1, 64, .*stride should be 2, not 1.*"
                                    r"then failed: your code raised RuntimeError"}),
    M("cgan-cDCGAN-D-x-branch-padding-0", P2,
      "nn.Conv2d(1, 64, 4, 2, 1)", "nn.Conv2d(1, 64, 4, 2, 0)",
      {"cgan.cdcgan_discriminator": r"x branch, layer 1 .*padding should be 1, not 0"}),
    M("cgan-cDCGAN-D-concatenates-on-the-batch-axis", P2,
      "self.x_branch(x), self.y_branch(y_map)], dim=1)", "self.x_branch(x), self.y_branch(y_map)], dim=0)",
      {"cgan.cdcgan_discriminator": r"trunk, layer 1 concatenation.*concatenate along the channels, dim=1 "
                                    r"\(dim=0 is the batch axis\)"}),
    M("cgan-cDCGAN-G-trunk-padding-0", P2,
      "nn.ConvTranspose2d(512, 256, 4, 2, 1, bias=False)", "nn.ConvTranspose2d(512, 256, 4, 2, 0, bias=False)",
      {"cgan.cdcgan_generator": r"trunk, layer 2 .*padding should be 1, not 0"}),
    M("cgan-FC-D-x-not-flattened", P2,  # Linear(1024, 1024) on (B, 1, 32, 32) raises
      "        x = x.view(x.size(0), -1)\n", "",
      {"cgan.fc_discriminator": r"x branch, layer 1 Linear\(1024, 1024\): expected input of shape \(B, 1024\), "
                                r"got \(B, 1, 32, 32\): flatten it first"}),
    # ------------------------------------------------------------------ Part 2: steps
    M("cgan-d-step-swapped-targets", P2,
      "loss = F.binary_cross_entropy(d_real, torch.ones_like(d_real)) + F.binary_cross_entropy(\n"
      "        d_fake, torch.zeros_like(d_fake)\n    )",
      "loss = F.binary_cross_entropy(d_real, torch.zeros_like(d_real)) + F.binary_cross_entropy(\n"
      "        d_fake, torch.ones_like(d_fake)\n    )",
      {"cgan.d_step": r"swapped labels"}),
    M("cgan-d-step-label-smoothing", P2,
      "F.binary_cross_entropy(d_real, torch.ones_like(d_real))", "F.binary_cross_entropy(d_real, torch.full_like(d_real, 0.9))",
      {"cgan.d_step": r"match no BCE loss with the right targets"}),
    M("cgan-d-step-fakes-judged-with-rolled-labels", P2,
      "d_fake = netD(x_fake, y_real)", "d_fake = netD(x_fake, y_real.roll(1, 0))",
      {"cgan.d_step": r"labels other than those they were generated from"}),
    M("cgan-d-step-fakes-made-for-random-labels", P2,
      "x_fake = netG(z, y_real).detach()",
      "x_fake = netG(z, onehot(torch.randint(0, n_classes, (x_real.size(0),)))).detach()",
      {"cgan.d_step": r"labels other than those they were generated from"}),
    M("cgan-d-step-reals-judged-with-shuffled-labels", P2,
      "d_real = netD(x_real, y_real)", "d_real = netD(x_real, y_real[torch.randperm(y_real.size(0))])",
      {"cgan.d_step": r"real images were judged with labels other than their own"}),
    M("cgan-g-step-judges-with-other-labels", P2,
      "d_fake = netD(netG(z, y), y)", "d_fake = netD(netG(z, y), y.flip(0))",
      {"cgan.g_step": r"labels other than those they were generated from"}),
    M("cgan-g-step-generates-for-random-labels", P2,
      "d_fake = netD(netG(z, y), y)",
      "d_fake = netD(netG(z, onehot(torch.randint(0, n_classes, (y.size(0),)))), y)",
      {"cgan.g_step": r"must generate its fakes for the labels y"}),
    M("cgan-g-step-no-zero-grad", P2,
      "    optimizerG.zero_grad()\n", "",
      {"cgan.g_step": r"stale gradients"}),
    M("cgan-train-step-G-loop-copy-pasted", P2,
      "for _ in range(nb_update_G):", "for _ in range(nb_update_D):",
      {"cgan.train_step": r"nb_update_D=2, nb_update_G=1, train_step made 2 D updates and 2 G updates"}),
    M("cgan-g-step-targets-shaped-B", P2,  # F.binary_cross_entropy refuses (B,) targets for D's (B, 1) outputs
      "loss = F.binary_cross_entropy(d_fake, torch.ones_like(d_fake))",
      "loss = F.binary_cross_entropy(d_fake, torch.ones(y.size(0)))",
      {"cgan.g_step": r"ValueError: .*the step was given a netD that returns \(B, 1\), as your cGANDiscriminator "
                      r"does"}),
    M("cgan-g-step-integer-targets", P2,  # torch's BCE refuses them: named from the call, with the fix
      "loss = F.binary_cross_entropy(d_fake, torch.ones_like(d_fake))",
      "loss = F.binary_cross_entropy(d_fake, torch.ones_like(d_fake, dtype=torch.long))",
      {"cgan.g_step": r"targets given to torch's BCE have dtype torch\.int64.*float targets"}),
    M("cgan-d-step-no-detach", P2,
      "x_fake = netG(z, y_real).detach()", "x_fake = netG(z, y_real)",
      {"cgan.d_step": r"D step reached G.*Detach the fakes"}),
    M("cgan-train-step-extra-optimizerD-step", P2,
      "        loss_g = g_step(netD, netG, optimizerG, y_real, nz)\n    return loss_d, loss_g",
      "        loss_g = g_step(netD, netG, optimizerG, y_real, nz)\n    optimizerD.step()\n    return loss_d, loss_g",
      {"cgan.train_step": r"optimizerD\.step\(\).*came with no D loss.*one too many"}),
    M("cgan-g-step-judges-in-eval-mode-then-restores", P2,
      "    d_fake = netD(netG(z, y), y)",
      "    netD.eval()\n    d_fake = netD(netG(z, y), y)\n    netD.train()",
      {"cgan.g_step": r"netD was in eval mode when the G step called it"}),
    # ------------------------------------------------------------------ Part 3: VAE
    M("vae-encoder-missing-relu", P3,
      "nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 2 * latent_dim)", "nn.Linear(128, 64), nn.Linear(64, 2 * latent_dim)",
      {"vae.encoder": r"layer 4 Linear\(64, 64\): expected ReLU"}),
    M("vae-encode-splits-the-batch", P3,  # every other check passed it (issue 19): encode's shapes are judged
      "return h[:, : self.latent_dim], h[:, self.latent_dim :]", "return h[: h.size(0) // 2], h[h.size(0) // 2 :]",
      {"vae.encoder": r"VAE\.encode returns mu of shape \(2, 64\).*the batch was split in two.*along dim=1"}),
    M("vae-encode-swaps-the-halves", P3,  # the notebook fixes the order in bold (blind corpus)
      "return h[:, : self.latent_dim], h[:, self.latent_dim :]", "return h[:, self.latent_dim :], h[:, : self.latent_dim]",
      {"vae.encoder": r"returns the last 32 features of its last layer as mu.*the first 32 are mu"}),
    M("vae-decoder-widths-reversed", P3,
      "nn.Linear(latent_dim + cond_dim, 64), nn.ReLU(), nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 784)",
      "nn.Linear(latent_dim + cond_dim, 128), nn.ReLU(), nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 784)",
      {"vae.decoder": r"layer 1 .*out should be 64, not 128"}),
    M("vae-reparameterize-logvar-as-std", P3,
      "torch.randn_like(mu) * torch.exp(0.5 * logvar)", "torch.randn_like(mu) * logvar",
      {"vae.reparameterize": r"logvar is used as the standard deviation"}),
    M("vae-reparameterize-eps-times-sigma-squared", P3,
      "torch.randn_like(mu) * torch.exp(0.5 * logvar)", "torch.randn_like(mu) * torch.exp(logvar)",
      {"vae.reparameterize": r"eps is scaled by sigma\^2 = exp\(logvar\)"}),
    M("vae-reparameterize-by-sample-not-rsample", P3,
      "return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)",
      "return torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).sample()",
      {"vae.reparameterize": r"carries no gradient back to mu and logvar.*\.sample\(\).*\.rsample\(\)"}),
    M("vae-forward-decodes-mu", P3,  # no check called forward before (issue 19's blind corpus)
      "return self.decode(reparameterize(mu, logvar)), mu, logvar", "return self.decode(mu), mu, logvar",
      {"vae.reparameterize": r"VAE\.forward\(x\) returned the same x_hat twice.*decodes mu"}),
    M("vae-forward-samples-without-gradient", P3,
      "return self.decode(reparameterize(mu, logvar)), mu, logvar",
      "return self.decode(torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).sample()), mu, logvar",
      {"vae.reparameterize": r"x_hat carries no gradient back to the encoder.*\.sample\(\)"}),
    M("vae-reparameterize-uniform-eps", P3,  # torch.rand for torch.randn (blind corpus): a mean was all it said
      "torch.randn_like(mu) * torch.exp(0.5 * logvar)", "torch.rand_like(mu) * torch.exp(0.5 * logvar)",
      {"vae.reparameterize": r"not Gaussian.*torch\.rand draws U\(0, 1\).*torch\.randn_like"}),
    M("vae-reparameterize-no-noise", P3,
      "return mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)", "return mu",
      {"vae.reparameterize": r"no noise is drawn"}),
    M("vae-reparameterize-one-eps-per-example", P3,
      "torch.randn_like(mu) * torch.exp(0.5 * logvar)", "torch.randn(mu.size(0), 1) * torch.exp(0.5 * logvar)",
      {"vae.reparameterize": r"noise must be independent per latent dimension.*shape \(B, 1\)"}),
    M("vae-reparameterize-eps-shared-across-the-batch", P3,
      "torch.randn_like(mu) * torch.exp(0.5 * logvar)", "torch.randn(mu.size(1)) * torch.exp(0.5 * logvar)",
      {"vae.reparameterize": r"the same eps is used for several examples"}),
    M("vae-kl-without-half", P3,
      "return -0.5 * torch.sum(", "return -torch.sum(",
      {"vae.kl": r"the KL without the factor 1/2"}),  # vae_loss is judged with the grader's KL too
    M("vae-kl-wrong-sign", P3,
      "return -0.5 * torch.sum(", "return 0.5 * torch.sum(",
      {"vae.kl": r"the KL with the wrong sign"}),
    M("vae-kl-slides-formula", P3,
      "-0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1)",
      "0.5 * torch.sum(1 + logvar + mu ** 2 - logvar.exp(), dim=1)",
      {"vae.kl": r"the slides' formula"}),
    M("vae-kl-mean-over-latent-dims", P3,
      "torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1)", "torch.mean(1 + logvar - mu ** 2 - logvar.exp(), dim=1)",
      {"vae.kl": r"the mean over latent dimensions instead of the sum"}),
    M("vae-kl-not-summed-over-latent-dims", P3,  # vae_loss sums it anyway: still right
      "-0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1)", "-0.5 * (1 + logvar - mu ** 2 - logvar.exp())",
      {"vae.kl": r"one value per latent dimension, shape \(8, 32\): sum them"}),
    M("vae-kl-logvar-as-log-sigma", P3,
      "-0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1)",
      "-0.5 * torch.sum(1 + 2 * logvar - mu ** 2 - (2 * logvar).exp(), dim=1)",
      {"vae.kl": r"it matches logvar used as log sigma"}),
    M("vae-kl-summed-over-the-batch-too", P3,
      "logvar.exp(), dim=1)", "logvar.exp())",
      {"vae.kl": r"summed over the batch as well"}),  # vae_loss sums it anyway: still right
    M("vae-kl-keepdim-shape-B-1", P3,
      "logvar.exp(), dim=1)", "logvar.exp(), dim=1, keepdim=True)",
      {"vae.kl": r"shape"}),
    M("vae-kl-syntax-error", P3,
      "logvar.exp(), dim=1)\n", "logvar.exp(), dim=1\n",
      {"vae.kl": r"`kl_divergence` is not defined because part3_vae\.py lines \d+-\d+ failed: SyntaxError"}),
    M("vae-loss-mean-squared-error", P3,
      "((x_hat - x.view_as(x_hat)) ** 2).sum()", "((x_hat - x.view_as(x_hat)) ** 2).mean()",
      {"vae.loss": r"the mean squared error \(F\.mse_loss's default\) instead of the sum"}),
    M("vae-loss-minus-kl", P3,
      "+ kl_divergence(mu, logvar).sum()", "- kl_divergence(mu, logvar).sum()",
      {"vae.loss": r"reconstruction minus KL"}),
    M("vae-step-no-zero-grad", P3,
      "    optimizer.zero_grad()\n", "",
      {"vae.step": r"stale gradients.*optimizer\.zero_grad\(\) \(or model\.zero_grad\(\)\)"}),
    M("vae-step-backward-on-the-reconstruction-only", P3,
      "loss = vae_loss(x_hat, x, mu, logvar)", "loss = ((x_hat - x) ** 2).sum()",
      {"vae.step": r"the reconstruction term alone, without the KL"}),
    M("vae-step-returns-nothing", P3,
      "    return loss.detach()", "",
      {"vae.step": r"vae_step returned NoneType: expected the batch's loss"}),
    M("vae-loss-kl-averaged-over-the-batch", P3,
      "+ kl_divergence(mu, logvar).sum()", "+ kl_divergence(mu, logvar).mean()",
      {"vae.loss": r"the squared error summed over the batch but the KL averaged over it"}),
]


def _params(bug_field):
    """One param per mutation; a strict xfail where the bug field says the check is wrong (a mistake let
    through, set_bug, leaves no message to judge either)."""
    out = []
    for m in MUTATIONS:
        reason = getattr(m, bug_field) or (m.set_bug if bug_field == "message_bug" else None)
        out.append(pytest.param(m, id=m.id, marks=[pytest.mark.xfail(strict=True, reason=reason)] if reason else []))
    return out


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The checks run many small tensor ops: on a small shared CPU, intra-op threads cost more than
    they bring (the file takes about 3x longer with 2 threads here)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def reference_sources():
    return {part: (REFERENCE / f"{part}.py").read_text(encoding="utf-8") for part in PARTS}


def write_submission(folder, sources):
    folder.mkdir(parents=True, exist_ok=True)
    for part, source in sources.items():
        (folder / f"{part}.py").write_text(source, encoding="utf-8")
    return folder


def mutated(mutation, sources):
    return dict(sources, **{mutation.part: mutation.apply(sources[mutation.part])})


@pytest.fixture(scope="module")
def graded(reference_sources, tmp_path_factory):
    """grade() of a mutation on the checks of its part: computed once, shared by the tests below."""
    cache = {}

    def run(mutation):
        if mutation.id not in cache:
            folder = write_submission(tmp_path_factory.mktemp("mutant"), mutated(mutation, reference_sources))
            cache[mutation.id] = grade(folder, rubric_ids([mutation.part])).scored
        return cache[mutation.id]
    return run


def verdict(scored, mutation):
    """For assertion messages: every check's outcome, the failing ones with their message."""
    return f"{mutation.id}:\n" + "\n".join(
        f"  {'pass' if s.passed else 'FAIL'} {s.id}" + ("" if s.passed else f": {s.message}") for s in scored)


def assert_fails_exactly(scored, mutation):
    expected = {i for i, _ in mutation.fails}
    failing = {s.id for s in scored if not s.passed}
    assert failing == expected, (
        f"expected exactly {sorted(expected)} to fail; unexpected failures {sorted(failing - expected)}, "
        f"missed {sorted(expected - failing)}\n" + verdict(scored, mutation))
    for s in scored:
        assert s.points == (0 if s.id in expected else s.max_points), s.id


def assert_messages_name_the_mistake(scored, mutation):
    by_id = {s.id: s for s in scored}
    for rubric_id, pattern in mutation.fails:
        assert rubric_id in by_id and not by_id[rubric_id].passed, verdict(scored, mutation)
        assert re.search(pattern, by_id[rubric_id].message, re.S), (
            f"{rubric_id}'s message does not match {pattern!r}\n" + verdict(scored, mutation))


def test_the_mutation_table_is_well_formed(reference_sources):
    """At least 30 mutations, unique ids; each text to mutate occurs exactly once in the reference;
    every declared check is in the rubric and belongs to the mutated part."""
    ids = [m.id for m in MUTATIONS]
    assert len(ids) == len(set(ids)) and len(ids) >= 30
    rubric = set(load_rubric()["checks"])
    for m in MUTATIONS:
        assert m.old != m.new
        m.apply(reference_sources[m.part])
        assert m.fails and {i for i, _ in m.fails} <= rubric, m.id
        assert {part_of(i) for i, _ in m.fails} == {m.part}, m.id
        for _, pattern in m.fails:
            re.compile(pattern)


def test_every_rubric_id_belongs_to_a_part():
    for rubric_id in load_rubric()["checks"]:
        assert part_of(rubric_id) in PARTS, rubric_id  # part_of raises for an id of no part


def test_the_unmutated_reference_passes_every_check(tmp_path, reference_sources):
    """The baseline: a copy of the reference scores full marks, so every failure below is the mutation's."""
    scored = grade(write_submission(tmp_path, reference_sources), rubric_ids()).scored
    assert all(s.passed for s in scored), "\n".join(f"{s.id}: {s.message}" for s in scored if not s.passed)


@pytest.mark.parametrize("mutation", _params("set_bug"))
def test_mutation_fails_exactly_its_checks(mutation, graded):
    """The checks that cover the mistake fail; every other check of the part still passes."""
    assert_fails_exactly(graded(mutation), mutation)


@pytest.mark.parametrize("mutation", _params("message_bug"))
def test_mutation_message_names_the_mistake(mutation, graded):
    assert_messages_name_the_mistake(graded(mutation), mutation)


def test_a_mutation_leaves_the_other_parts_untouched(tmp_path, reference_sources):
    """The full rubric on one mutation: the checks of the other parts all pass."""
    mutation = next(m for m in MUTATIONS if m.id == "cgan-d-step-fakes-judged-with-rolled-labels")
    folder = write_submission(tmp_path, mutated(mutation, reference_sources))
    scored = grade(folder, rubric_ids()).scored
    assert {s.id for s in scored} == set(rubric_ids())
    assert_fails_exactly(scored, mutation)
    assert_messages_name_the_mistake(scored, mutation)


def test_hidden_width_checks_do_not_charge_a_layer_mistake_twice(graded):
    for mutation in MUTATIONS:
        if mutation.id in ("dcgan-D-conv2-stride-1", "dcgan-G-missing-batchnorm"):
            failing = {s.id for s in graded(mutation) if not s.passed}
            assert not failing & {WIDTH_D, WIDTH_G}, (mutation.id, failing)


# --------------------------------------------------------------------------------------------
# The released stubs: zero, without crashing
# --------------------------------------------------------------------------------------------


class _Stub(ast.NodeTransformer):
    """Every function and method body becomes `raise NotImplementedError()` (docstrings kept)."""

    def visit_FunctionDef(self, node):
        doc = ast.get_docstring(node, clean=False)
        body = [ast.Expr(ast.Constant(doc))] if doc is not None else []
        node.body = body + [ast.Raise(ast.Call(ast.Name("NotImplementedError", ast.Load()), [], []), None)]
        return node  # nested functions disappear with the body

    visit_AsyncFunctionDef = visit_FunctionDef


def stub_source(source):
    return ast.unparse(ast.fix_missing_locations(_Stub().visit(ast.parse(source))))


def test_stub_sources_keep_the_names_and_signatures(reference_sources):
    for part, source in reference_sources.items():
        stub = stub_source(source)
        compile(stub, part, "exec")
        names = lambda tree: {(type(n).__name__, n.name, ast.dump(n.args) if hasattr(n, "args") else "")
                              for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
        assert names(ast.parse(stub)) == names(ast.parse(source))
        assert stub.count("raise NotImplementedError()") == sum(
            isinstance(n, ast.FunctionDef) for n in ast.walk(ast.parse(source)))


def test_the_released_stubs_score_zero_with_clear_messages(tmp_path, reference_sources):
    folder = write_submission(tmp_path, {p: stub_source(s) for p, s in reference_sources.items()})
    # The whole rubric, training run included (the stubs' networks cannot even be built: it is quick).
    graded = grade(folder)  # returns normally: nothing propagates
    scored = graded.scored
    assert not any(part["skipped"] for part in graded.parts.values()), "the stubs themselves load cleanly"
    assert {s.id for s in scored} == set(load_rubric()["checks"])
    assert sum(s.points for s in scored) == 0, [s.id for s in scored if s.points]
    for s in scored:
        assert not s.passed and s.message and s.message != "ok", s.id
        # Either a statement of the check (CheckFailure / MissingName), or the stub's own exception
        # located in the student's file; any other exception would be the grader tripping on a stub.
        if s.message.startswith("your code raised"):
            assert re.match(r"your code raised NotImplementedError at part\d_\w+\.py lines \d+-\d+, line \d+: "
                            r"`raise NotImplementedError\(\)`$", s.message), f"{s.id}: {s.message}"
        else:
            assert "Traceback" not in s.message and "Error" not in s.message.split(":")[0], f"{s.id}: {s.message}"
