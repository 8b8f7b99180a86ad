"""Train the MNIST LeNet whose features the FID and conditional accuracy use, deterministically.

Run once (about 30 s on a CPU) and commit the outputs: autograder/assets/lenet_mnist.pt (weights)
and lenet_mnist.json (held-out accuracy and how it was made). The metrics never train anything.

    PYTHONPATH=. python scripts/train_lenet.py
"""
import json
import time

import torch
import torch.nn.functional as F

from autograder import defaults
from autograder.data import mnist, split
from autograder.feature_extractor_lenet import LeNet

MAX_SHIFT = 2


@torch.no_grad()
def accuracy(net, images, labels):
    net.eval()
    return (net(images).argmax(1) == labels).float().mean().item()


def main():
    torch.manual_seed(defaults.LENET_SEED)
    torch.use_deterministic_algorithms(True)
    images, labels = mnist()
    (x_train, y_train), (x_test, y_test) = split(images, labels, defaults.LENET_TRAIN_SIZE)

    net = LeNet()
    optimizer = torch.optim.Adam(net.parameters(), lr=defaults.LENET_LR)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, defaults.LENET_EPOCHS)
    order = torch.Generator().manual_seed(defaults.LENET_SEED)
    start = time.perf_counter()
    for epoch in range(defaults.LENET_EPOCHS):
        net.train()
        for idx in torch.randperm(len(x_train), generator=order).split(defaults.LENET_BATCH_SIZE):
            # Shift each batch by up to 2 pixels: 4,000 digits are few, and generated digits are
            # rarely centred exactly as MNIST's are.
            dy, dx = torch.randint(-MAX_SHIFT, MAX_SHIFT + 1, (2,), generator=order).tolist()
            optimizer.zero_grad()
            F.cross_entropy(net(torch.roll(x_train[idx], (dy, dx), (2, 3))), y_train[idx]).backward()
            optimizer.step()
        schedule.step()
        print(f"epoch {epoch + 1:2d}  held-out accuracy {accuracy(net, x_test, y_test):.4f}")

    info = {
        "held_out_accuracy": round(accuracy(net, x_test, y_test), 4),
        "train_images": len(x_train),
        "held_out_images": len(x_test),
        "epochs": defaults.LENET_EPOCHS,
        "batch_size": defaults.LENET_BATCH_SIZE,
        "lr": defaults.LENET_LR,
        "schedule": "cosine",
        "augmentation": f"each batch rolled by up to {MAX_SHIFT} pixels",
        "seed": defaults.LENET_SEED,
        "torch_version": torch.__version__,
        "train_seconds": round(time.perf_counter() - start, 1),
    }
    defaults.ASSETS.mkdir(exist_ok=True)
    torch.save(net.state_dict(), defaults.LENET_WEIGHTS)
    defaults.LENET_INFO.write_text(json.dumps(info, indent=2) + "\n")
    print(json.dumps(info, indent=2))


if __name__ == "__main__":
    main()
