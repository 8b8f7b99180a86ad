"""A small MNIST LeNet and its torch-fidelity feature extractor.

Inception features say little about 32x32 grey digits and need a download; a LeNet trained on
MNIST (scripts/train_lenet.py, weights committed in autograder/assets/) gives FID features that
separate digits and runs offline. The same network scores conditional accuracy, so both metrics
load it through `load_lenet`.
"""
import torch
import torch.nn as nn
from torch_fidelity import FeatureExtractorBase, register_feature_extractor
from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY

from autograder.defaults import FID_FEATURE_LAYER, LENET_EXTRACTOR, LENET_WEIGHTS


class LeNet(nn.Module):
    """(B, 1, 32, 32) in [-1, 1] -> 10 logits; `features` gives the 128-d penultimate layer."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(1, 16, 5), nn.ReLU(), nn.MaxPool2d(2),  # (B, 16, 14, 14)
            nn.Conv2d(16, 32, 5), nn.ReLU(), nn.MaxPool2d(2),  # (B, 32, 5, 5)
        )
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(32 * 5 * 5, 128), nn.ReLU())
        self.head = nn.Linear(128, 10)

    def features(self, x):
        return self.fc(self.conv(x))

    def forward(self, x):
        return self.head(self.features(x))


def load_lenet(device="cpu", path=LENET_WEIGHTS):
    """The trained LeNet in eval mode, frozen: the one loader both metrics use."""
    net = LeNet()
    net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return net.requires_grad_(False).eval().to(device)


def uint8_to_lenet_input(x):
    """torch-fidelity's images (B, 1 or 3, 32, 32) uint8 in 0-255 -> the LeNet's (B, 1, 32, 32) in [-1, 1]."""
    return x.float().div(127.5).sub(1).mean(dim=1, keepdim=True)


class FeatureExtractorLeNet(FeatureExtractorBase):
    """torch-fidelity extractor over the MNIST LeNet. Like torch-fidelity's own extractors it takes
    uint8 images (what its Dataset inputs must yield) and returns float32 features."""

    def __init__(self, name, features_list, feature_extractor_weights_path=None, **kwargs):
        super().__init__(name, features_list)
        self.net = load_lenet(path=feature_extractor_weights_path or LENET_WEIGHTS)

    def forward(self, x):
        if not (torch.is_tensor(x) and x.dtype == torch.uint8 and x.dim() == 4 and x.shape[1] in (1, 3)
                and x.shape[-2:] == (32, 32)):
            raise ValueError(f"expected uint8 images (B, 1 or 3, 32, 32), got {getattr(x, 'dtype', type(x))} "
                             f"{tuple(getattr(x, 'shape', ()))}; pad 28x28 digits by 2 pixels of background "
                             "as autograder.data.mnist() does, rather than resizing them")
        feats = self.net.features(uint8_to_lenet_input(x))
        out = {"128": feats, "logits": self.net.head(feats)}
        return tuple(out[name] for name in self.features_list)

    @staticmethod
    def get_provided_features_list():
        return "128", "logits"

    @staticmethod
    def get_default_feature_layer_for_metric(metric):
        return {"isc": "logits", "fid": FID_FEATURE_LAYER[LENET_EXTRACTOR],
                "kid": "128", "prc": "128"}[metric]

    @staticmethod
    def can_be_compiled():
        return False  # so torch-fidelity never asks for get_dummy_input_for_compile


# torch-fidelity refuses a second registration under one name (e.g. if this module is reloaded).
if LENET_EXTRACTOR not in FEATURE_EXTRACTORS_REGISTRY:
    register_feature_extractor(LENET_EXTRACTOR, FeatureExtractorLeNet)
