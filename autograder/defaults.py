"""The metrics' defaults (the LeNet feature extractor, FID and accuracy batch sizes) in one place, so
that the grader, the demo, the scripts and the tests cannot drift apart. The rubric's own figures
(points, budgets, pass bands, limits) live in grading.yml."""
from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"

# The MNIST LeNet: its committed weights and training record, and how scripts/train_lenet.py made them.
LENET_WEIGHTS = ASSETS / "lenet_mnist.pt"
LENET_INFO = ASSETS / "lenet_mnist.json"
LENET_TRAIN_SIZE = 4000  # the first 4,000 of autograder.data.mnist(); the other 1,000 are held out
LENET_EPOCHS = 15
LENET_SEED = 0
LENET_BATCH_SIZE = 64
LENET_LR = 1e-3

# FID through torch-fidelity: extractor names as registered there, and the layer each one uses.
LENET_EXTRACTOR = "lenet-mnist"
INCEPTION_EXTRACTOR = "inception-v3-compat"
FID_FEATURE_LAYER = {LENET_EXTRACTOR: "128", INCEPTION_EXTRACTOR: "2048"}
FID_BATCH_SIZE = 500
ACCURACY_BATCH_SIZE = 500
