"""The short-run trainer: trains given models with given step functions, deterministically.

It belongs to the harness, not to the answers: the grader trains a student's networks with the
student's own `train_step`, and the reference is trained by the very same loop, so the two
results differ only by what the student wrote. Data stays resident on the device and batches
are drawn by index from a seeded generator.
"""
import contextlib
import os
import time
import warnings
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F


@dataclass
class TrainResult:
    losses_d: list = field(default_factory=list)
    losses_g: list = field(default_factory=list)
    samples: torch.Tensor = None  # (n_classes * per_class, C, H, W) on the CPU, class-major
    sample_labels: torch.Tensor = None
    seconds: float = 0.0
    iterations: int = 0
    nondeterministic: list = field(default_factory=list)  # ops PyTorch has no deterministic kernel for


def seed_everything(seed, deterministic=True):
    """Seed torch's CPU and CUDA generators; ask for deterministic kernels where PyTorch has them."""
    torch.manual_seed(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


@contextlib.contextmanager
def deterministic_algorithms(found):
    """torch.use_deterministic_algorithms while training, in warn-only mode: an op without a
    deterministic kernel (a student may use one) still runs, and its name is appended to `found`
    (recorded with the result) instead of being printed. cuBLAS needs its workspace setting before
    its first use for deterministic matrix products on CUDA."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        found += sorted({str(w.message).split(" does not have a deterministic")[0] for w in caught
                         if "deterministic" in str(w.message)})


def _to_scalar_tensor(loss):
    return loss.detach().reshape(()) if torch.is_tensor(loss) else torch.tensor(float(loss))


def train_cgan(make_netD, make_netG, *, train_step, make_optimizers, weights_init=None, images, labels,
               iterations, batch_size=128, seed=0, device="cpu", nz=100, nb_update_D=1,
               nb_update_G=1, n_classes=10, samples_per_class=100):
    """Train a conditional GAN for `iterations` calls of `train_step` and sample every class.

    make_netD / make_netG are the network classes (or any factories): they are built after
    seeding, so that the layers weights_init leaves alone (Linear layers, biases) start the same
    for a given seed too, and a run is reproducible from its seed.

    `train_step(netD, netG, optimizerD, optimizerG, x, y_onehot, nz=, nb_update_D=, nb_update_G=)`
    is the course's API (reference/part2_cgan.py). Losses are kept on the device and copied once
    at the end, so the loop adds no host synchronisation of its own.
    """
    nondeterministic = []
    with deterministic_algorithms(nondeterministic):
        seed_everything(seed)
        netD, netG = make_netD().to(device), make_netG().to(device)
        if weights_init is not None:
            netD.apply(weights_init)
            netG.apply(weights_init)
        optimizerD, optimizerG = make_optimizers(netD, netG)
        images, labels = images.to(device), labels.to(device)
        batches = torch.Generator().manual_seed(seed)
        losses_d, losses_g = [], []
        netD.train()
        netG.train()
        start = time.perf_counter()
        for _ in range(iterations):
            idx = torch.randint(len(images), (batch_size,), generator=batches).to(device)
            y = F.one_hot(labels[idx], n_classes).float().view(-1, n_classes, 1, 1)
            loss_d, loss_g = train_step(netD, netG, optimizerD, optimizerG, images[idx], y, nz=nz,
                                        nb_update_D=nb_update_D, nb_update_G=nb_update_G)
            losses_d.append(_to_scalar_tensor(loss_d))
            losses_g.append(_to_scalar_tensor(loss_g))
        samples, sample_labels = sample_per_class(netG, nz, n_classes, samples_per_class, device)
        if device != "cpu" and torch.cuda.is_available():
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    return TrainResult(
        losses_d=torch.stack(losses_d).cpu().tolist() if losses_d else [],
        losses_g=torch.stack(losses_g).cpu().tolist() if losses_g else [],
        samples=samples, sample_labels=sample_labels, seconds=seconds, iterations=iterations,
        nondeterministic=nondeterministic,
    )


@torch.no_grad()
def sample_per_class(netG, nz, n_classes=10, per_class=100, device="cpu", chunk=500):
    """Generate `per_class` images of every class with G in eval mode (BatchNorm running stats)."""
    netG.eval()
    sample_labels = torch.arange(n_classes, device=device).repeat_interleave(per_class)
    out = []
    for part in sample_labels.split(chunk):
        z = torch.randn(len(part), nz, 1, 1, device=device)
        y = F.one_hot(part, n_classes).float().view(-1, n_classes, 1, 1)
        out.append(netG(z, y).reshape(len(part), 1, 32, 32).float().cpu())
    netG.train()
    return torch.cat(out), sample_labels.cpu()
