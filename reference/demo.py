"""The project's main job (`./run demo`): train the reference conditional GANs briefly and score them.

Trains the course's cDCGAN and fully connected cGAN on the embedded MNIST sample with the harness's
own trainer, then prints, per model: iterations, wall time, FID (MNIST LeNet features, generated
images vs the 5,000 real ones), conditional accuracy, and the real-vs-real FID floor at the same
sample size. The CPU budgets are a smoke run (about 3 minutes on 2 cores), far from converged:
judge the FID against the untrained generator's thousands, not against the floor.

    python -m reference.demo [--model {cdcgan,fc,both}] [--iterations N] [--device cuda] [--seed S]
"""
import argparse

import torch

from autograder.data import mnist
from autograder.metric_accuracy import conditional_accuracy
from autograder.metric_fid import fid
from autograder.trainer import train_cgan
from reference import part2_cgan

MODELS = {  # name: (discriminator, generator, default iterations, batch size)
    "cdcgan": (part2_cgan.cDCGANDiscriminator, part2_cgan.cDCGANGenerator, 60, 64),
    "fc": (part2_cgan.cGANDiscriminator, part2_cgan.cGANGenerator, 1000, 128),
}

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--model", choices=[*MODELS, "both"], default="both")
parser.add_argument("--iterations", type=int, default=None,
                    help="training iterations (default: %s)" % ", ".join(f"{k} {v[2]}" for k, v in MODELS.items()))
parser.add_argument("--samples-per-class", type=int, default=100, help="generated images per digit for the metrics")
parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
parser.add_argument("--seed", type=int, default=0)


def main(argv=None):
    opt = parser.parse_args(argv)
    print(opt)
    images, labels = mnist()

    # The floor: n real images vs the other 5,000 - n, as n generated images are compared with all 5,000.
    n = 10 * opt.samples_per_class
    if not 0 < n < len(images):
        parser.error(f"--samples-per-class must give between 1 and {len(images) - 1} images in all")
    floor = fid(images[:n], images[n:], device=opt.device)

    rows = []
    for name in MODELS if opt.model == "both" else [opt.model]:
        netD_cls, netG_cls, default_iterations, batch_size = MODELS[name]
        iterations = default_iterations if opt.iterations is None else opt.iterations
        print(f"training {name}: {iterations} iterations at batch {batch_size} on {opt.device}...", flush=True)
        result = train_cgan(
            netD_cls, netG_cls,
            train_step=part2_cgan.train_step, make_optimizers=part2_cgan.make_optimizers,
            weights_init=part2_cgan.weights_init, images=images, labels=labels,
            iterations=iterations, batch_size=batch_size, seed=opt.seed, device=opt.device,
            samples_per_class=opt.samples_per_class, capture=True,  # a CUDA graph on GPUs; ignored on CPUs
        )
        rows.append((name, iterations, batch_size, result.seconds,
                     fid(result.samples, images, device=opt.device),
                     conditional_accuracy(result.samples, result.sample_labels, device=opt.device)))

    print(f"\nFID: {n} generated vs {len(images)} real MNIST images, LeNet features; "
          f"real-vs-real floor ({n} vs the other {len(images) - n}): {floor:.2f}")
    print(f"{'model':<8} {'iterations':>10} {'batch':>6} {'train s':>8} {'FID':>9} {'cond. acc':>9} {'floor':>7}")
    for name, iterations, batch_size, seconds, fid_value, accuracy in rows:
        print(f"{name:<8} {iterations:>10} {batch_size:>6} {seconds:>8.1f} {fid_value:>9.2f} {accuracy:>9.3f} {floor:>7.2f}")


if __name__ == "__main__":
    main()
