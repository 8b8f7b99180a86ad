"""FID and KID through torch-fidelity, offline.

By default the features are the MNIST LeNet's (autograder/feature_extractor_lenet.py, registered
with torch-fidelity as "lenet-mnist"); the standard Inception FID is available when an instructor
has torch-fidelity's Inception weights as a local file. Nothing is downloaded and nothing is
cached on disk: every call computes both sides' statistics afresh.
"""
import torch
import torch_fidelity
from torch.utils.data import Dataset

import autograder.feature_extractor_lenet  # noqa: F401  (registers "lenet-mnist" with torch-fidelity)
from autograder.defaults import (FID_BATCH_SIZE, FID_FEATURE_LAYER, INCEPTION_EXTRACTOR,
                                 LENET_EXTRACTOR, LENET_WEIGHTS)

KID_SUBSETS = 100  # torch-fidelity's default


def to_uint8(images):
    """Images in [-1, 1] -> uint8 0-255, as if saved to PNG (real MNIST pixels come back exactly)."""
    return images.detach().float().cpu().add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8)


class ImagesUint8(Dataset):
    """A tensor of images (N, 1 or 3, H, W) in [-1, 1] served as torch-fidelity's extractors want
    each item: a uint8 tensor 3xHxW (grey images repeated over the 3 channels)."""

    def __init__(self, images):
        if images.dim() != 4 or images.shape[1] not in (1, 3):
            raise ValueError(f"expected images (N, 1 or 3, H, W), got {tuple(images.shape)}")
        self.images = to_uint8(images)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.images[i].expand(3, -1, -1)


def fid(generated, real, *, extractor=LENET_EXTRACTOR, inception_weights=None, device="cpu",
        batch_size=FID_BATCH_SIZE):
    """Frechet distance between the features of `generated` and `real` (tensors (N, C, H, W) in [-1, 1]).

    extractor: "lenet-mnist" (MNIST digits; its weights are committed) or "inception-v3-compat"
    (the standard FID), which needs `inception_weights`, a local copy of torch-fidelity's weights
    file, since this harness never downloads.
    """
    return _metrics(generated, real, extractor, inception_weights, device, batch_size,
                    fid=True)[torch_fidelity.KEY_METRIC_FID]


def kid(generated, real, *, extractor=LENET_EXTRACTOR, inception_weights=None, device="cpu",
        batch_size=FID_BATCH_SIZE, subsets=KID_SUBSETS):
    """Kernel distance (KID, the mean over `subsets` random subsets of the unbiased MMD^2 estimate)
    between the same features as `fid`: unlike FID it has no bias that grows as the number of
    samples shrinks, so small sample sets (the CPU check's 1,000) are judged on the same scale."""
    return fid_and_kid(generated, real, extractor=extractor, inception_weights=inception_weights, device=device,
                       batch_size=batch_size, subsets=subsets, fid=False)[1]


def fid_and_kid(generated, real, *, extractor=LENET_EXTRACTOR, inception_weights=None, device="cpu",
                batch_size=FID_BATCH_SIZE, subsets=KID_SUBSETS, fid=True):
    """(FID or None, KID) from one extraction of both sets' features."""
    size = min(len(generated), len(real), 1000)
    metrics = _metrics(generated, real, extractor, inception_weights, device, batch_size, fid=fid, kid=True,
                       kid_subsets=subsets, kid_subset_size=size)
    return metrics.get(torch_fidelity.KEY_METRIC_FID), metrics[torch_fidelity.KEY_METRIC_KID_MEAN]


def _metrics(generated, real, extractor, inception_weights, device, batch_size, **which):
    """torch-fidelity's metrics in `which` between the two tensors of images, offline and uncached."""
    if extractor == INCEPTION_EXTRACTOR:
        if inception_weights is None:
            raise FileNotFoundError("Inception FID needs inception_weights=<local path to torch-fidelity's "
                                    "weights-inception-2015-12-05-6726825d.pth>; nothing is downloaded here")
        weights = inception_weights
    elif inception_weights is not None:
        raise ValueError(f"inception_weights applies to extractor={INCEPTION_EXTRACTOR!r}, not {extractor!r}")
    else:
        weights = LENET_WEIGHTS
    layer = FID_FEATURE_LAYER[extractor]
    return torch_fidelity.calculate_metrics(
        input1=ImagesUint8(generated),
        input2=ImagesUint8(real),
        feature_extractor=extractor,
        feature_layer_fid=layer,
        feature_layer_kid=layer,
        feature_extractor_weights_path=str(weights),
        cuda=torch.device(device).type == "cuda",
        batch_size=batch_size,
        cache=False,  # inputs are anonymous tensors: a disk cache could only serve stale statistics
        save_cpu_ram=True,  # no DataLoader worker processes for tensors already in memory
        verbose=False,
        **which,
    )
