"""The trainer on a GPU: the student's step replayed as a CUDA graph where that is sound, run
eagerly where it is not, and the two give the same training.

Every test here needs CUDA and is skipped on CPU-only machines (CI): they run on a GPU runner or
the device machine (`python -m pytest tests/test_trainer_cuda.py`).
"""
import pytest
import torch
import torch.nn.functional as F

from autograder.data import mnist
from autograder.trainer import make_capturable, train_cgan
from reference import part2_cgan as R

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(),
                                reason="needs a CUDA GPU: graph capture and the CUDA trainer cannot run on a CPU")

ITERATIONS = 40


@pytest.fixture(scope="module")
def data():
    return mnist()


def capturable_adam(netD, netG):
    """The reference's optimizers as the trainer makes them for a graph: Adam with its step count on
    the GPU, whose arithmetic differs from the default's in the last bits. An eager run with these
    is what a graphed run must reproduce; with the default Adam the two drift apart within tens of
    iterations (GAN training amplifies rounding), and only their quality can be compared
    (benchmarks/gpu_speed.py)."""
    optimizers = R.make_optimizers(netD, netG)
    make_capturable(*optimizers)
    return optimizers


def run(data, train_step=R.train_step, capture=True, seed=0, iterations=ITERATIONS):
    images, labels = data
    return train_cgan(R.cDCGANDiscriminator, R.cDCGANGenerator, train_step=train_step,
                      make_optimizers=capturable_adam, weights_init=R.weights_init, images=images,
                      labels=labels, iterations=iterations, seed=seed, device="cuda", samples_per_class=20,
                      capture=capture)


def assert_same_training(a, b):
    """Two runs of the same step from the same seed and optimizers: the same losses and samples."""
    torch.testing.assert_close(torch.tensor(a.losses_d), torch.tensor(b.losses_d), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(torch.tensor(a.losses_g), torch.tensor(b.losses_g), rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(a.samples, b.samples, rtol=1e-5, atol=1e-6)


def test_the_reference_step_is_replayed_as_a_graph_and_trains_as_called(data):
    graphed, eager = run(data), run(data, capture=False)
    assert graphed.loop == "cuda graph"
    assert eager.loop == "eager"
    assert_same_training(graphed, eager)


def test_a_graphed_run_is_reproducible_from_its_seed(data):
    first, second = run(data), run(data)
    assert first.losses_d == second.losses_d and first.losses_g == second.losses_g
    assert torch.equal(first.samples, second.samples)
    assert run(data, seed=1).losses_d != first.losses_d


def step_reading_losses(netD, netG, optimizerD, optimizerG, x, y, **kwargs):
    """The PyTorch tutorial's habit: the losses come back as Python floats (.item())."""
    loss_d, loss_g = R.train_step(netD, netG, optimizerD, optimizerG, x, y, **kwargs)
    return loss_d.item(), loss_g.item()


def g_step_noise_from_the_cpu(netD, netG, optimizerG, y, nz=R.nz):
    optimizerG.zero_grad()
    z = torch.randn(y.size(0), nz, 1, 1).to(y.device)  # drawn on the CPU: a graph would replay one draw
    d_fake = netD(netG(z, y), y)
    loss = F.binary_cross_entropy(d_fake, torch.ones_like(d_fake))
    loss.backward()
    optimizerG.step()
    return loss.detach()


def step_noise_from_the_cpu(netD, netG, optimizerD, optimizerG, x, y, nz=R.nz, **kwargs):
    return R.d_step(netD, netG, optimizerD, x, y, nz), g_step_noise_from_the_cpu(netD, netG, optimizerG, y, nz)


@pytest.mark.parametrize("step", [step_reading_losses, step_noise_from_the_cpu])
def test_a_step_that_touches_the_host_runs_eagerly_and_trains_as_called(data, step):
    graphed, eager = run(data, train_step=step), run(data, train_step=step, capture=False)
    assert graphed.loop.startswith("eager: the step could not be recorded"), graphed.loop
    assert_same_training(graphed, eager)
    assert run(data).loop == "cuda graph"  # the failed recording left the GPU and its generator usable


def test_a_step_that_changes_between_calls_is_not_replayed(data):
    """A graph replays what one call did: a step that updates G on every other call only (a Python
    counter) would be replayed as that one call forever. Comparing a replay with a call catches it."""
    calls = []

    def every_other_g_update(netD, netG, optimizerD, optimizerG, x, y, nz=R.nz, **kwargs):
        calls.append(1)
        loss_d = R.d_step(netD, netG, optimizerD, x, y, nz)
        loss_g = R.g_step(netD, netG, optimizerG, y, nz) if len(calls) % 2 else torch.zeros((), device=x.device)
        return loss_d, loss_g

    result = run(data, train_step=every_other_g_update)
    assert result.loop == "eager: replaying the recorded step did not do what calling it does"
    assert len(calls) == ITERATIONS + 2  # the recording and the comparison's call ran its Python too
    assert 0 in result.losses_g[-10:] and any(v > 0 for v in result.losses_g[-10:])
