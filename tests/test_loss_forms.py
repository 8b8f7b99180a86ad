"""Every correct form of the losses and of the VAE's math gets full marks (ASSIGNMENT.md,
"Equivalent forms that are correct"), and the grader's substitution of helpers leaves the
student's namespace as it found it.

Each form is one textual edit of the reference (as in test_mutations.py), graded on the checks it
touches; each must pass all of them. The forms are what students write: torch.distributions for
the KL, a per-example mean for the loss, an epsilon or a clamp in the hand-written BCE, torch's
BCE in the losses that are not the hand-written one, other ways of drawing eps.
"""
from pathlib import Path

import pytest
import torch

from autograder.checks.diagnose import CORRECT_HELPERS, correct_helpers, substituted
from autograder.load import load_submission
from autograder.score import grade

REFERENCE = Path(__file__).resolve().parent.parent / "reference"
LOSSES = ["dcgan.bce", "dcgan.d_loss", "dcgan.g_loss", "dcgan.g_loss_minimax", "dcgan.g_losses_gradients"]
VAE = ["vae.reparameterize", "vae.kl", "vae.loss"]
BCE_BODY = "-(targets * clamped_log(probs) + (1 - targets) * clamped_log(1 - probs)).mean()"
KL_BODY = "-0.5 * torch.sum(1 + logvar - mu ** 2 - logvar.exp(), dim=1)"
EPS = "torch.randn_like(mu) * torch.exp(0.5 * logvar)"
SEED = 20260  # the checks' inputs (and statistical tests) fixed: the same verdict on every run

FORMS = [
    # (id, part, old, new, checks that must pass)
    ("bce-with-an-epsilon", "part1_dcgan", BCE_BODY,
     "-(targets * torch.log(probs + 1e-12) + (1 - targets) * torch.log(1 - probs + 1e-12)).mean()", LOSSES),
    ("bce-probabilities-clamped-first", "part1_dcgan", BCE_BODY,
     "-torch.mean(targets * torch.log(probs.clamp(1e-7, 1 - 1e-7)) "
     "+ (1 - targets) * torch.log((1 - probs).clamp(1e-7, 1 - 1e-7)))", LOSSES),
    ("d-loss-with-torch-bce", "part1_dcgan",
     "return bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))",
     "bce_ = torch.nn.BCELoss()\n"
     "    return bce_(d_real, torch.ones_like(d_real)) + bce_(d_fake, torch.zeros_like(d_fake))",
     LOSSES),
    ("d-loss-mean-of-the-two-terms", "part1_dcgan",
     "return bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))",
     "return (bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))) / 2", LOSSES),
    ("d-loss-targets-of-shape-B", "part1_dcgan",
     "return bce(d_real, torch.ones_like(d_real)) + bce(d_fake, torch.zeros_like(d_fake))",
     "return bce(d_real.view(-1), torch.ones(d_real.size(0))) + bce(d_fake.view(-1), torch.zeros(d_fake.size(0)))",
     LOSSES),
    ("g-loss-minimax-as-log", "part1_dcgan",
     "return -bce(d_fake, torch.zeros_like(d_fake))", "return torch.log(1 - d_fake).mean()", LOSSES),
    ("kl-by-torch-distributions", "part3_vae", KL_BODY,
     "torch.distributions.kl_divergence(torch.distributions.Normal(mu, torch.exp(0.5 * logvar)), "
     "torch.distributions.Normal(0.0, 1.0)).sum(-1)", VAE),
    ("kl-by-independent-normals", "part3_vae", KL_BODY,
     "torch.distributions.kl_divergence(torch.distributions.Independent(torch.distributions.Normal("
     "mu, torch.exp(0.5 * logvar)), 1), torch.distributions.Independent(torch.distributions.Normal("
     "torch.zeros_like(mu), torch.ones_like(mu)), 1))", VAE),
    ("kl-with-sigma-squared", "part3_vae", KL_BODY,
     "0.5 * torch.sum(mu ** 2 + torch.exp(0.5 * logvar) ** 2 - logvar - 1, dim=-1)", VAE),
    ("vae-loss-per-example-mean", "part3_vae",
     "((x_hat - x.view_as(x_hat)) ** 2).sum() + kl_divergence(mu, logvar).sum()",
     "(((x_hat - x.view_as(x_hat)) ** 2).sum(1) + kl_divergence(mu, logvar)).mean()", VAE),
    ("vae-loss-mse-sum-and-inline-kl", "part3_vae",
     "((x_hat - x.view_as(x_hat)) ** 2).sum() + kl_divergence(mu, logvar).sum()",
     "torch.nn.functional.mse_loss(x_hat, x.view_as(x_hat), reduction='sum') "
     "- 0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum()", VAE),
    ("reparameterize-by-rsample", "part3_vae", "mu + " + EPS,
     "torch.distributions.Normal(mu, torch.exp(0.5 * logvar)).rsample()", VAE),
    ("reparameterize-eps-of-mu-shape", "part3_vae", EPS,
     "torch.randn(mu.shape, dtype=mu.dtype) * torch.exp(logvar / 2)", VAE),
    ("reparameterize-std-by-sqrt", "part3_vae", EPS, "torch.randn_like(logvar) * torch.sqrt(logvar.exp())", VAE),
]


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def write_form(folder, part, old, new):
    source = (REFERENCE / f"{part}.py").read_text(encoding="utf-8")
    assert source.count(old) == 1, f"the text to edit occurs {source.count(old)} times in reference/{part}.py"
    (folder / f"{part}.py").write_text(source.replace(old, new, 1), encoding="utf-8")
    return folder


@pytest.mark.parametrize("form", FORMS, ids=[f[0] for f in FORMS])
def test_a_correct_form_gets_full_marks(form, tmp_path):
    _, part, old, new, checks = form
    scored = grade(write_form(tmp_path, part, old, new), checks, seed=SEED).scored
    assert {s.id for s in scored} == set(checks)
    assert all(s.passed for s in scored), "\n".join(f"{s.id}: {s.message}" for s in scored if not s.passed)


def test_substituted_restores_the_namespace_even_when_the_block_raises(tmp_path):
    """A helper replaced while a check runs is the student's own again afterwards; a name the
    submission did not define is removed again."""
    (tmp_path / "part3_vae.py").write_text((REFERENCE / "part3_vae.py").read_text(encoding="utf-8"), encoding="utf-8")
    submission = load_submission(tmp_path, ["part3_vae"])
    namespace = submission.parts["part3_vae"].namespace
    own_kl = namespace["kl_divergence"]
    del namespace["kl_divergence"]
    grader_kl = correct_helpers("part3_vae", "kl_divergence")
    with pytest.raises(RuntimeError), substituted(submission, "part3_vae", grader_kl):
        assert namespace["kl_divergence"] is CORRECT_HELPERS["part3_vae"]["kl_divergence"]
        raise RuntimeError
    assert "kl_divergence" not in namespace
    namespace["kl_divergence"] = own_kl
    with substituted(submission, "part3_vae", grader_kl):
        mu, logvar = torch.randn(3, 4), torch.randn(3, 4)
        assert torch.allclose(namespace["vae_loss"](mu, mu, mu, logvar), own_kl(mu, logvar).sum())
    assert namespace["kl_divergence"] is own_kl


def test_the_graders_helpers_agree_with_the_reference(tmp_path):
    """What a substituted helper computes is what the reference's computes (the contract, once)."""
    torch.manual_seed(SEED)
    for part in CORRECT_HELPERS:
        (tmp_path / f"{part}.py").write_text((REFERENCE / f"{part}.py").read_text(encoding="utf-8"), encoding="utf-8")
    reference = load_submission(tmp_path, list(CORRECT_HELPERS))
    p, mu, logvar = torch.rand(8, 1, 1, 1) * 0.98 + 0.01, torch.randn(8, 32), torch.randn(8, 32)
    x, x_hat = torch.rand(8, 784), torch.rand(8, 784)
    calls = {"bce": (p, torch.rand(8, 1, 1, 1)), "d_loss": (p, p.flip(0)), "g_loss": (p,), "g_loss_minimax": (p,),
             "kl_divergence": (mu, logvar), "vae_loss": (x_hat, x, mu, logvar), "onehot": (torch.arange(10),)}
    for part, helpers in CORRECT_HELPERS.items():
        for name, helper in helpers.items():
            own = reference.get(part, name)
            if name in calls:
                assert torch.allclose(helper(*calls[name]), own(*calls[name]), rtol=1e-5, atol=1e-5), (part, name)
            else:  # random draws: the same shape, and N(0, I) / mu + N(0, sigma^2)
                args = (4000, 100) if name == "get_noise" else (mu.repeat(500, 1), logvar.repeat(500, 1))
                found, expected = helper(*args), own(*args)
                assert found.shape == expected.shape, (part, name)
                spread = (found - expected).std() / (2 ** 0.5)  # both draws independent: std of the difference
                reference_spread = 1.0 if name == "get_noise" else torch.exp(0.5 * logvar).pow(2).mean().sqrt()
                assert abs(float(spread / reference_spread) - 1) < 0.05, (part, name)
