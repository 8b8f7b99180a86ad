"""The project's main job (`./run demo`): grade a submission, then show what the training check measures.

1. Writes an example submission, the reference with the five realistic mistakes that
   examples/mistakes.yml lists, and grades it on every check but the training run, as `pytest
   autograder` grades a student: the table, and report.html.
2. Trains the reference cGAN exactly as the training check trains a student's (grading.yml
   `training`, this device's kind), with progress, and sets its FID and conditional accuracy
   against the pass band and against an untrained generator.
3. Writes demo.png beside the report: the untrained and the trained samples, the loss curves, and
   the figures against the band.

Its cost on 2 CPU cores: README.md (about 70 s, and the first time 1.5 minutes more to build .venv/).

    python -m reference.demo [--device cpu|cuda] [--seed S] [--out DIR] [--iterations N] [--threads T]
"""
import argparse
import sys
import time
from pathlib import Path

import torch
import yaml

from autograder.preflight import default_device
from autograder.report import printed_to
from autograder.trainer import progress

ROOT = Path(__file__).resolve().parent.parent
MISTAKES = ROOT / "examples" / "mistakes.yml"

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
parser.add_argument("--seed", type=int, default=0, help="the checks' and the training run's seed")
parser.add_argument("--out", default="grading-output/demo", help="where results.json, report.html, demo.png go")
parser.add_argument("--iterations", type=int, default=None,
                    help="training iterations (default: the training check's own budget; fewer make a quick look "
                         "that the band was not set for)")
parser.add_argument("--threads", type=int, default=1,
                    help="torch threads for grading and measuring (the training run uses grading.yml's "
                         "training.<device>.threads, as the check does)")


def write_example(folder):
    """The example submission in `folder`: each reference part with its mistakes of
    examples/mistakes.yml applied (each `old` must occur once in it). Returns the mistakes."""
    mistakes = yaml.safe_load(MISTAKES.read_text())
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for source in sorted((ROOT / "reference").glob("part*.py")):
        text = source.read_text()
        for mistake in (m for m in mistakes if m["part"] == source.stem):
            if text.count(mistake["old"]) != 1:
                raise ValueError(f"examples/mistakes.yml, {mistake['what']!r}: its `old` text occurs "
                                 f"{text.count(mistake['old'])} times in {source.relative_to(ROOT)}, not once")
            text = text.replace(mistake["old"], mistake["new"])
        (folder / source.name).write_text(text)
    return mistakes


def grade_example(out, device, seed):
    """Step 1: `python -m autograder grade` on the example, without its training run."""
    from autograder.__main__ import main as autograder
    from autograder.sandbox import isolation_available
    example = Path(out) / "student_with_mistakes"
    mistakes = write_example(example)
    print(f"== 1. Grading an example submission, {example}/: the reference with the mistakes of "
          f"{MISTAKES.relative_to(ROOT)} (every check but cgan.training) ==\n"
          "(under a minute: the submission's code runs in confined child processes, then its answers are judged)",
          flush=True)
    started = time.perf_counter()
    autograder(["grade", str(example), "--out", str(out), "--skip", "cgan.training", "--seed", str(seed),
                *(["--device", device] if device else []), *([] if isolation_available() else ["--isolation", "in-process"])])
    print(f"graded in {time.perf_counter() - started:.0f} s. Open report.html in a browser: it is what a student gets.")
    print("The mistakes put in this submission, each to be charged to one check:")
    for mistake in mistakes:
        print(f"  {mistake['fails']:<20} {mistake['what']}")


def train_reference(device, seed, iterations=None):
    """Step 2: the reference and an untrained generator, measured as the training check measures."""
    from autograder.checks.training import measure, passes, train, training_config
    from autograder.data import mnist
    from autograder.rubric import load_rubric
    from reference import part2_cgan

    config = training_config(load_rubric(), device)
    config = {**config, "iterations": iterations or config["iterations"]}
    images, labels = mnist()
    print(f"\n== 2. The training check on the reference: grading.yml `training.{device.split(':')[0]}` ==\n"
          f"{config['model']} cGAN, {config['iterations']} iterations at batch {config['batch_size']} on {device}, "
          f"then FID and accuracy of {10 * config['samples_per_class']} samples", flush=True)
    runs = {}
    shown = progress.set(printed_to(sys.stdout))
    try:
        for name, iterations in (("untrained G", 0), ("reference", config["iterations"])):
            result = train(part2_cgan, {**config, "iterations": iterations}, device, seed, images, labels)
            runs[name] = (result, *measure(result.samples, result.sample_labels, device, images))
    finally:
        progress.reset(shown)
    print(f"\n{'':<14}{'FID':>8}{'accuracy':>10}{'train s':>9}  verdict")
    for name, (result, fid, accuracy) in runs.items():
        verdict = "pass" if passes(fid, accuracy, config) else "fail"
        print(f"{name:<14}{fid:>8.1f}{accuracy:>10.2f}{result.seconds:>9.1f}  {verdict}")
    print(f"{'pass band':<14}{'<= ' + str(config['fid_max']):>8}{'>= ' + str(config['accuracy_min']):>10}")
    print("FID: LeNet features of the samples vs the 5,000 embedded MNIST images (lower is better); accuracy: "
          "the share of samples\nthat LeNet reads as the digit asked for. A short run, far from converged: "
          "it has to clear the untrained generator by far, not reach a converged model's FID.")
    return config, runs


def picture(path, config, runs):
    """Step 3: samples, loss curves and the figures against the band, in one PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from autograder.checks.training import sample_grid
    from autograder.report import draw_band

    per_class = config["samples_per_class"]
    fig, axes = plt.subplots(1, 4, figsize=(20, 4.6), gridspec_kw={"width_ratios": [1, 1, 1.4, 1.2]})
    for ax, (name, (result, fid, accuracy)) in zip(axes, runs.items()):
        ax.imshow(sample_grid(result.samples, per_class), cmap="gray", vmin=0, vmax=1)
        ax.set_title(f"{name}: FID {fid:.0f}, accuracy {accuracy:.2f}\n(one row per digit, 0 to 9)")
        ax.axis("off")
    reference = runs["reference"][0]
    axes[2].plot(reference.losses_d, label="D loss")
    axes[2].plot(reference.losses_g, label="G loss")
    axes[2].set(title="reference: training losses", xlabel="iteration")
    axes[2].legend()
    axes[3].axis("off")
    band = axes[3].inset_axes([0, 0.55, 1, 0.4]), axes[3].inset_axes([0, 0.0, 1, 0.4])
    draw_band(*band, {name: (fid, accuracy) for name, (_, fid, accuracy) in runs.items()},
              config["fid_max"], config["accuracy_min"])
    fig.savefig(path, dpi=80, bbox_inches="tight")
    plt.close(fig)


def main(argv=None):
    opt = parser.parse_args(argv)
    started = time.perf_counter()
    out = Path(opt.out)
    out.mkdir(parents=True, exist_ok=True)
    grade_example(out, opt.device, opt.seed)
    torch.set_num_threads(opt.threads)
    config, runs = train_reference(opt.device or default_device(), opt.seed, opt.iterations)
    picture(out / "demo.png", config, runs)
    print(f"\n== 3. Picture: {out / 'demo.png'} (samples, loss curves, the band) ==")
    print(f"demo done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
