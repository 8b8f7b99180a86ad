"""The short training run: the student's cGAN, trained with the student's own steps, must learn.

The student's networks, weights_init, make_optimizers and train_step are trained by the harness's
trainer (autograder/trainer.py, the same loop that trains the reference) on the embedded MNIST,
for the budget and seed of grading.yml's `training` section for this device kind. The samples'
FID (MNIST LeNet features, through torch-fidelity) and conditional accuracy must fall inside the
bands there. The reference's figures, samples and loss curves under the same budget are shown
beside them, cached in autograder/expected/ rather than re-trained in each job: the reference
does not change between submissions, its spread over seeds was measured once (benchmarks/) and
the bands allow for it, and re-training it would double each job's GPU time and add the
reference's own seed noise to every verdict. The student's process trains and samples; FID and
accuracy are measured in the judge's process, from the samples.
"""
import torch

from autograder.checks.registry import CheckFailure, check
from autograder.data import mnist
from autograder.rubric import EXPECTED_DIR
from autograder.trainer import train_cgan

PART = "part2_cgan"
MODELS = {"fc": ("cGANDiscriminator", "cGANGenerator"), "cdcgan": ("cDCGANDiscriminator", "cDCGANGenerator")}


def training_config(rubric, device):
    """grading.yml's training settings for this device kind ('cpu' or 'cuda')."""
    return rubric["training"][torch.device(device).type]


def sample_grid(samples, per_class):
    """The first 10 samples of each class as a 10x10 grid in [0, 1], one row per class."""
    rows = samples.view(10, per_class, 32, 32)[:, :10].add(1).div(2).clamp(0, 1)
    return rows.permute(0, 2, 1, 3).reshape(320, 320).numpy()


def train(submission_module, config, device, seed, images=None, labels=None):
    """Train the part's networks under `config` with the harness's trainer: a TrainResult."""
    d_name, g_name = MODELS[config["model"]]
    if images is None:
        images, labels = mnist()
    return train_cgan(
        getattr(submission_module, d_name), getattr(submission_module, g_name),
        train_step=submission_module.train_step, make_optimizers=submission_module.make_optimizers,
        weights_init=submission_module.weights_init, images=images, labels=labels,
        iterations=config["iterations"], batch_size=config["batch_size"], seed=seed, device=device,
        samples_per_class=config["samples_per_class"], capture=config.get("capture", False),
        threads=config.get("threads"))


def measure(samples, sample_labels, device, images):
    """(FID against the real `images`, conditional accuracy) of class-major samples."""
    if not torch.isfinite(samples).all():
        return float("inf"), 0.0
    from autograder.metric_accuracy import conditional_accuracy  # torch-fidelity takes seconds to import:
    from autograder.metric_fid import fid  # only the runs that train pay for it
    return fid(samples, images, device=device), conditional_accuracy(samples, sample_labels, device=device)


def run_training(submission_module, config, device, seed):
    """Train and measure in one process (the reference's figures, benchmarks): (TrainResult, fid, accuracy)."""
    images, labels = mnist()
    result = train(submission_module, config, device, seed, images, labels)
    return (result, *measure(result.samples, result.sample_labels, device, images))


COPY_RMS = 0.02  # per pixel, images in [-1, 1]: under a 8-bit grey level of noise on a real digit
# The reference's FC samples (CPU budget) lie 0.22 (closest of 1,000) to 0.39 (median) from their nearest
# training image, 10x above COPY_RMS: a generator's samples are not taken for copies.
COPIES_MAX = 0.05


def copied_fraction(samples, images, chunk=1000):
    """The fraction of samples that lie within COPY_RMS of a training image: what a generator makes
    is judged, not the dataset passed off as samples (the student's process holds the data)."""
    flat = images.reshape(len(images), -1).float()
    norms = (flat ** 2).sum(1)
    near = 0
    for part in samples.reshape(len(samples), -1).float().split(chunk):
        distances = (part ** 2).sum(1, keepdim=True) + norms - 2 * part @ flat.T
        near += int((distances.min(1).values.clamp(min=0) / flat.shape[1] < COPY_RMS ** 2).sum())
    return near / max(1, len(samples))


def passes(score, accuracy, config):
    """grading.yml's bands: FID at most fid_max and accuracy at least accuracy_min."""
    return score <= config["fid_max"] and accuracy >= config["accuracy_min"]


def draw_training(context):
    return {"config": training_config(context.rubric, context.device), "device": context.device,
            "seed": torch.initial_seed()}


def collect_training(submission, inputs):
    d_name, g_name = MODELS[inputs["config"]["model"]]
    for name in (d_name, g_name, "train_step", "make_optimizers", "weights_init"):
        submission.get(PART, name)  # a missing piece fails here, with the reason it is missing
    result = train(submission.module(PART), inputs["config"], inputs["device"], inputs["seed"])
    return {"samples": result.samples.float(), "sample_labels": result.sample_labels, "losses_d": result.losses_d,
            "losses_g": result.losses_g, "seconds": result.seconds, "nondeterministic": result.nondeterministic,
            "loop": result.loop}


def judge_training(inputs, found, context):
    """FID and accuracy are measured here, from the samples alone, against grading.yml's bands."""
    config, kind = inputs["config"], torch.device(inputs["device"]).type
    per_class = config["samples_per_class"]
    samples, labels = found["samples"].float(), found["sample_labels"].long()
    if tuple(samples.shape) != (10 * per_class, 1, 32, 32) or not torch.equal(
            labels, torch.arange(10).repeat_interleave(per_class)):
        raise CheckFailure(f"the trainer's samples have shape {tuple(samples.shape)}: expected {10 * per_class} "
                           "images (1, 32, 32), class-major")
    images, _ = mnist()
    copies = copied_fraction(samples, images)
    if copies > COPIES_MAX:
        raise CheckFailure(f"{copies:.0%} of the samples are copies of MNIST training images (per-pixel RMS distance "
                           f"under {COPY_RMS}): the samples must be what your generator makes")
    score, accuracy = measure(samples, labels, inputs["device"], images)
    reference = context.expected.get("training", {}).get(kind, {})
    details = {"model": config["model"], "iterations": config["iterations"], "seed": inputs["seed"],
               "fid": round(score, 1), "accuracy": round(accuracy, 3),
               "fid_max": config["fid_max"], "accuracy_min": config["accuracy_min"],
               "reference_fid": reference.get("fid"), "reference_accuracy": reference.get("accuracy"),
               "run": f"FID {score:.0f}, accuracy {accuracy:.2f}", "seconds": round(float(found["seconds"]), 1),
               "loop": str(found.get("loop", "eager"))[:300],
               "your_samples": sample_grid(samples, per_class),
               "your_D_losses": [float(v) for v in found["losses_d"]],
               "your_G_losses": [float(v) for v in found["losses_g"]]}
    details.update(reference_figures(reference, kind))
    if found["nondeterministic"]:
        details["nondeterministic_ops"] = "; ".join(found["nondeterministic"])[:500]
    if not passes(score, accuracy, config):
        versus = (f" The reference reaches FID {reference['fid']:.0f}, accuracy {reference['accuracy']:.2f} under "
                  "the same budget.") if reference else ""
        raise CheckFailure(
            f"your {config['model']} networks trained by your train_step for {config['iterations']} iterations do "
            f"not learn: FID {score:.0f}, accuracy {accuracy:.2f} with seed {inputs['seed']} (pass: FID at most "
            f"{config['fid_max']} and accuracy at least {config['accuracy_min']}).{versus} The other checks of part 2 "
            "say which piece is wrong; if they all pass, look at the loss curves and samples in report.html", details)
    return details


def reference_figures(reference, kind):
    """The reference's samples and loss curves under the same budget, cached by
    scripts/update_expected.py (only the judge reads them: the student's process never sees them);
    `reference` is its entry for this device kind in the expected values."""
    figures = {}
    if "losses_d" in reference:
        figures.update(reference_D_losses=reference["losses_d"], reference_G_losses=reference["losses_g"])
    grid = EXPECTED_DIR / f"training_samples_{kind}.png"
    if grid.exists():
        import matplotlib.image
        figures["reference_samples"] = matplotlib.image.imread(grid)  # 8-bit grey, in [0, 1]
    return figures


check("cgan.training", draw=draw_training, collect=collect_training, judge=judge_training,
      tries=lambda context: 1 + context.rubric["training"].get("retries", 0))
