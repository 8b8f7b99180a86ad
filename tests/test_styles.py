"""Correct submissions written in other styles than the reference get full marks.

tests/submissions/ holds complete submissions, each correct, each in a style of its own:

- explicit_functional/: layers as attributes, functional activations (F.leaky_relu(x, 0.2),
  torch.sigmoid), flattened D outputs (B, 1) and (B,), y branches computed first and concatenated
  first, one-hot by scatter_, nn.BCELoss in the steps, fakes made under torch.no_grad(),
  net.zero_grad(), interpolation in a loop from alpha = 1 down to 0;
- builders/: layers made by helper functions in loops (nn.ModuleList, nn.ModuleDict, the 64x64
  networks as subclasses), hand-written BCE with an epsilon, d_loss as one BCE over real and fake
  (half the sum), one D call on torch.cat([x_real, fake]) with concatenated targets, fresh random
  labels for the cGAN's fakes, torch.normal / torch.lerp, sigma**2 in the KL, a per-example-mean
  VAE loss;
- pytorch_examples/: pytorch/examples' style: the DCGAN D flattens its output to (B,) and the steps
  build their targets with that shape (torch.full((b,), real_label)) and never reshape; both cGAN Ds
  return (B, 1) with (B, 1) targets; one-hot by indexing an identity matrix; the VAE encoder with two
  Linear(64, d) heads (fc21, fc22) instead of one Linear(64, 2d) split;
- notebook_tutorial/: .ipynb notebooks in the PyTorch DCGAN tutorial's style (nn.Sequential with
  OrderedDict, in-place activations, separate backward() for real and fake, label.fill_), with
  IPython magics, nbgrader cells, a Colab / download cell that fails here, and `experiment` cells
  that would overwrite graded names, run forever or raise if the grader ran them.

Each is graded on the full rubric and must score every point; a failing check is reported with
its message. The checks that train networks (cgan.training) are graded in a `slow` test of their
own. VARIANTS are one-line edits of a style that
keep it correct; where a check wrongly fails one, the case is a strict xfail naming the bug.
"""
import re
import shutil
from pathlib import Path

import pytest
import torch

from autograder.checks import registry
from autograder.load import load_submission
from autograder.rubric import load_rubric
from autograder.score import grade

SUBMISSIONS = Path(__file__).resolve().parent / "submissions"
STYLES = sorted(p.name for p in SUBMISSIONS.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))
PARTS = tuple(load_rubric()["parts"])

# Cells of the notebook style that fail when graded here (no Colab, no network), by design: a
# failing cell costs only the names it defines, none of which are graded. {where: regex of the error}
EXPECTED_LOAD_ERRORS = {
    "notebook_tutorial": {
        "part1_dcgan": {"cell starting `from google.colab import drive`": r"ModuleNotFoundError: No module named 'google'"},
        "part2_cgan": {"cell starting `import torchvision`": r"Dataset not found|No module named 'torchvision'"},
    },
}
# Names that only an `experiment` cell defines: they must not exist after loading.
EXPERIMENT_ONLY_NAMES = {"notebook_tutorial": {"part1_dcgan": {"G_losses", "D_losses"}, "part3_vae": {"model"}}}


def rubric_ids(parts=PARTS):
    """The checks of these parts but the training run, graded apart in the slow test below."""
    return registry.rubric_ids(load_rubric(), parts, trains=False)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """The checks run many small tensor ops: on a small shared CPU, intra-op threads cost more than
    they bring (about 3x slower with 2 threads here). Yields the previous setting."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield before
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def graded_styles():
    cache = {}

    def run(style):
        if style not in cache:
            cache[style] = grade(SUBMISSIONS / style, rubric_ids())
        return cache[style]
    return run


def failures(scored):
    return "\n".join(f"  {s.id} ({s.points}/{s.max_points}): {s.message}" for s in scored if not s.passed)


def test_there_are_at_least_three_styles():
    assert len(STYLES) >= 3, STYLES
    for style in STYLES:
        for part in PARTS:
            assert any((SUBMISSIONS / style / f"{part}{suffix}").exists() for suffix in (".py", ".ipynb")), (style, part)


@pytest.mark.parametrize("style", STYLES)
def test_style_scores_full_marks(style, graded_styles):
    scored = graded_styles(style).scored
    assert {s.id for s in scored} == set(rubric_ids())
    assert all(s.passed for s in scored), f"{style} loses points:\n{failures(scored)}"
    assert sum(s.points for s in scored) == sum(s.max_points for s in scored)


@pytest.mark.parametrize("style", STYLES)
def test_style_loads_as_intended(style, graded_styles):
    """Every part is found; the only cells that fail are the expected ones; experiments never ran."""
    read = graded_styles(style).parts
    submission = load_submission(SUBMISSIONS / style, PARTS)  # the namespaces, which a Graded does not keep
    for part in PARTS:
        assert read[part]["file"] is not None, (style, part)
        expected = EXPECTED_LOAD_ERRORS.get(style, {}).get(part, {})
        assert set(read[part]["skipped"]) == set(expected), (style, part, read[part]["skipped"])
        for where, summary in read[part]["skipped"].items():
            assert re.search(expected[where], summary), (where, summary)
        names = set(submission.parts[part].namespace)
        assert not EXPERIMENT_ONLY_NAMES.get(style, {}).get(part, set()) & names, (style, part)


@pytest.mark.slow
@pytest.mark.parametrize("style", STYLES)
def test_style_passes_the_training_checks(style, one_torch_thread):
    """The rubric's training run (cgan.training: the style's own networks, weights_init,
    make_optimizers and train_step, trained on MNIST under the CPU budget) must pass too."""
    slow_ids = registry.rubric_ids(load_rubric(), trains=True)
    if not slow_ids:
        pytest.skip("the rubric has no training check")
    torch.set_num_threads(one_torch_thread)  # training runs larger matrix products: all threads
    try:
        scored = grade(SUBMISSIONS / style, slow_ids).scored
    finally:
        torch.set_num_threads(1)
    assert all(s.passed for s in scored), f"{style} loses points:\n{failures(scored)}"


def test_the_notebook_style_is_a_notebook_with_magics_and_experiment_cells():
    """Guards the notebook style's point: it must stay a notebook that exercises the loader."""
    import nbformat
    for part in PARTS:
        nb = nbformat.read(str(SUBMISSIONS / "notebook_tutorial" / f"{part}.ipynb"), as_version=4)
        nbformat.validate(nb)
        sources = [c.source for c in nb.cells if c.cell_type == "code"]
        assert any(re.search(r"^[%!]", s, re.M) for s in sources) or part == "part3_vae"
        tagged = [c for c in nb.cells if "experiment" in c.metadata.get("tags", [])]
        assert tagged, part
    part1 = nbformat.read(str(SUBMISSIONS / "notebook_tutorial" / "part1_dcgan.ipynb"), as_version=4)
    experiment = next(c.source for c in part1.cells if "experiment" in c.metadata.get("tags", []))
    assert "while True" in experiment and "get_noise =" in experiment  # would hang and break the prior


# --------------------------------------------------------------------------------------------
# Variants: one edit of a style, still correct
# --------------------------------------------------------------------------------------------

VARIANTS = [
    # (id, style, part, old, new, bug)
    ("g-step-freezes-D-with-requires-grad", "explicit_functional", "part1_dcgan",
     "    netG.zero_grad()\n    fake = netG(get_noise(batch_size, nz, device))\n    output = netD(fake).view(-1)\n",
     "    netG.zero_grad()\n    netD.requires_grad_(False)\n    fake = netG(get_noise(batch_size, nz, device))\n"
     "    output = netD(fake).view(-1)\n    netD.requires_grad_(True)\n", None),
    ("cgan-fakes-for-shuffled-real-labels", "explicit_functional", "part2_cgan",
     "        x_fake = netG(get_noise(b, nz, x_real.device), y_real)\n    netD.zero_grad()\n"
     "    out_real = netD(x_real, y_real).view(-1)\n    out_fake = netD(x_fake, y_real).view(-1)\n",
     "        y_fake = y_real[torch.randperm(b)]\n        x_fake = netG(get_noise(b, nz, x_real.device), y_fake)\n"
     "    netD.zero_grad()\n    out_real = netD(x_real, y_real).view(-1)\n    out_fake = netD(x_fake, y_fake).view(-1)\n",
     None),
    ("vae-loss-mean-over-the-batch-of-both-terms", "explicit_functional", "part3_vae",
     "    recon = F.mse_loss(x_hat, x.view(-1, 784), reduction=\"sum\")\n    return recon + kl_divergence(mu, logvar).sum()\n",
     "    recon = F.mse_loss(x_hat, x.view(-1, 784), reduction=\"sum\") / x.size(0)\n"
     "    return recon + kl_divergence(mu, logvar).mean()\n", None),
    ("weights-init-part1-BatchNorm2d-only", "explicit_functional", "part1_dcgan",
     "    elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):\n", "    elif isinstance(m, nn.BatchNorm2d):\n", None),
    ("train-step-calls-the-steps-with-keywords", "explicit_functional", "part1_dcgan",
     "errD = d_step(netD, netG, optimizerD, x_real, nz)",
     "errD = d_step(netD=netD, netG=netG, optimizerD=optimizerD, x_real=x_real, nz=nz)", None),
    ("vae-step-returns-the-loss-per-example", "builders", "part3_vae",
     "    return float(loss)", "    return float(loss) / x.size(0)", None),
    ("vae-step-zeroes-the-model-s-gradients", "builders", "part3_vae",
     "    optimizer.zero_grad()\n    x_hat, mu, logvar = model(x)", "    model.zero_grad()\n    x_hat, mu, logvar = model(x)",
     None),
    ("losses-by-nn-BCELoss-with-targets-of-shape-B", "pytorch_examples", "part1_dcgan",  # pytorch/examples' dcgan
     "def d_loss(d_real, d_fake):\n    errD_real = bce(d_real, torch.full(d_real.shape, real_label, device=d_real.device))\n"
     "    errD_fake = bce(d_fake, torch.full(d_fake.shape, fake_label, device=d_fake.device))\n"
     "    return errD_real + errD_fake\n\n\ndef g_loss(d_fake):\n"
     "    return bce(d_fake, torch.full(d_fake.shape, real_label, device=d_fake.device))\n\n\n"
     "def g_loss_minimax(d_fake):\n    return torch.log((1 - d_fake).clamp(min=1e-12)).mean()\n",
     "criterion = nn.BCELoss()\n\n\ndef d_loss(d_real, d_fake):\n    b_size = d_real.size(0)\n"
     "    errD_real = criterion(d_real, torch.full((b_size,), real_label, device=d_real.device))\n"
     "    errD_fake = criterion(d_fake, torch.full((b_size,), fake_label, device=d_fake.device))\n"
     "    return errD_real + errD_fake\n\n\ndef g_loss(d_fake):\n"
     "    return criterion(d_fake, torch.full((d_fake.size(0),), real_label, device=d_fake.device))\n\n\n"
     "def g_loss_minimax(d_fake):\n"
     "    return -F.binary_cross_entropy(d_fake, torch.full((d_fake.size(0),), fake_label, device=d_fake.device))\n"
     "\n\nimport torch.nn.functional as F\n", None),
    ("train-step-inline-as-the-course-s-2019-notebook", "pytorch_examples", "part1_dcgan",  # issue 19
     "    for _ in range(nb_update_D):\n        errD = d_step(netD, netG, optimizerD, x_real, nz)\n"
     "    for _ in range(nb_update_G):\n        errG = g_step(netD, netG, optimizerG, x_real.size(0), nz, x_real.device)\n",
     "    criterion, b = nn.BCELoss(), x_real.size(0)\n"
     "    for _ in range(nb_update_D):\n        netD.zero_grad()\n        output = netD(x_real).view(-1)\n"
     "        errD_real = criterion(output, torch.full((b,), real_label, device=x_real.device))\n"
     "        errD_real.backward()\n        fake = netG(torch.randn(b, nz, 1, 1, device=x_real.device))\n"
     "        output = netD(fake.detach()).view(-1)\n"
     "        errD_fake = criterion(output, torch.full((b,), 0.0, device=x_real.device))\n"
     "        errD_fake.backward()\n        optimizerD.step()\n        errD = (errD_real + errD_fake).item()\n"
     "    for _ in range(nb_update_G):\n        netG.zero_grad()\n"
     "        output = netD(netG(torch.randn(b, nz, 1, 1, device=x_real.device))).view(-1)\n"
     "        loss = criterion(output, torch.full((b,), real_label, device=x_real.device))\n"
     "        loss.backward()\n        optimizerG.step()\n        errG = loss.item()\n", None),
    ("cgan-train-step-inline-with-F-binary-cross-entropy", "explicit_functional", "part2_cgan",
     "    for _ in range(nb_update_D):\n        errD = d_step(netD, netG, optimizerD, x_real, y_real, nz)\n"
     "    for _ in range(nb_update_G):\n        errG = g_step(netD, netG, optimizerG, y_real, nz)\n",
     "    for _ in range(nb_update_D):\n        optimizerD.zero_grad()\n"
     "        with torch.no_grad():\n            x_fake = netG(get_noise(x_real.size(0), nz, x_real.device), y_real)\n"
     "        d_real, d_fake = netD(x_real, y_real), netD(x_fake, y_real)\n"
     "        errD = F.binary_cross_entropy(d_real, torch.ones_like(d_real)) + F.binary_cross_entropy(\n"
     "            d_fake, torch.zeros_like(d_fake))\n        errD.backward()\n"
     "        optimizerD.step()\n"
     "    for _ in range(nb_update_G):\n        optimizerG.zero_grad()\n"
     "        d_fake = netD(netG(get_noise(y_real.size(0), nz, y_real.device), y_real), y_real)\n"
     "        errG = F.binary_cross_entropy(d_fake, torch.ones_like(d_fake))\n"
     "        errG.backward()\n        optimizerG.step()\n", None),
    ("vae-logvar-head-computed-first", "pytorch_examples", "part3_vae",
     "        return self.fc21(h1), self.fc22(h1)", "        logvar = self.fc22(h1)\n        return self.fc21(h1), logvar",
     None),
]


@pytest.mark.parametrize("variant", [
    pytest.param(v, id=v[0], marks=[pytest.mark.xfail(strict=True, reason=v[5])] if v[5] else []) for v in VARIANTS])
def test_variant_of_a_style_scores_full_marks(variant, tmp_path):
    _, style, part, old, new, _ = variant
    folder = tmp_path / style
    shutil.copytree(SUBMISSIONS / style, folder)
    path = next(folder.glob(f"{part}.*"))
    source = path.read_text(encoding="utf-8")
    assert source.count(old) == 1, f"{variant[0]}: the text to edit occurs {source.count(old)} times in {path.name}"
    path.write_text(source.replace(old, new, 1), encoding="utf-8")
    scored = grade(folder, rubric_ids([part])).scored
    assert all(s.passed for s in scored), f"{variant[0]} loses points:\n{failures(scored)}"
