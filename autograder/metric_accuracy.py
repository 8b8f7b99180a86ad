"""Conditional accuracy: does a conditional generator draw the digit it was asked for?

FID cannot tell a sharp 3 generated for the label 7 from a sharp 7; the MNIST LeNet that gives the
FID features (held-out accuracy in autograder/assets/lenet_mnist.json) reads the digits instead.
"""
import torch

from autograder.defaults import ACCURACY_BATCH_SIZE
from autograder.feature_extractor_lenet import load_lenet


@torch.no_grad()
def conditional_accuracy(samples, labels, device="cpu", batch_size=ACCURACY_BATCH_SIZE):
    """Share of `samples` ((N, 1, 32, 32) in [-1, 1]) that the LeNet classifies as `labels` ((N,) ints),
    the classes they were generated for."""
    if len(samples) != len(labels):
        raise ValueError(f"{len(samples)} samples but {len(labels)} labels")
    net = load_lenet(device)
    predicted = torch.cat([net(part.to(device).float()).argmax(1).cpu() for part in samples.split(batch_size)])
    return (predicted == labels.cpu()).float().mean().item()
