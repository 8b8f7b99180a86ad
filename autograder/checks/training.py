"""The short training run: the student's cGAN, trained with the student's own steps, must learn.

The student's networks, weights_init, make_optimizers and train_step are trained by the harness's
trainer (autograder/trainer.py, the same loop that trains the reference) on the embedded MNIST,
for the budget and seed of grading.yml's `training` section for this device kind. The samples'
FID (MNIST LeNet features, through torch-fidelity) and conditional accuracy must fall inside the
bands there; the reference's figures under the same budget (autograder/expected/training.json)
are shown beside them.
"""
import torch

from autograder.checks.registry import CheckFailure, check
from autograder.data import mnist
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


def run_training(submission_module, config, device, seed):
    """Train the part's networks under `config`; return (TrainResult, fid, accuracy)."""
    d_name, g_name = MODELS[config["model"]]
    images, labels = mnist()
    result = train_cgan(
        getattr(submission_module, d_name), getattr(submission_module, g_name),
        train_step=submission_module.train_step, make_optimizers=submission_module.make_optimizers,
        weights_init=submission_module.weights_init, images=images, labels=labels,
        iterations=config["iterations"], batch_size=config["batch_size"], seed=seed, device=device,
        samples_per_class=config["samples_per_class"])
    if not torch.isfinite(result.samples).all():
        return result, float("inf"), 0.0
    from autograder.metric_accuracy import conditional_accuracy  # torch-fidelity takes seconds to import:
    from autograder.metric_fid import fid  # only the runs that train pay for it
    score = fid(result.samples, images, device=device)
    accuracy = conditional_accuracy(result.samples, result.sample_labels, device=device)
    return result, score, accuracy


def _verdict(score, accuracy, config):
    return score <= config["fid_max"] and accuracy >= config["accuracy_min"]


@check("cgan.training")
def check_training(submission, context):
    """Train under grading.yml's budget; a failed run is re-run with the next seeds (`retries`), and
    the check fails only if every run fails, so a correct submission's unlucky seed is forgiven."""
    config = training_config(context.rubric, context.device)
    d_name, g_name = MODELS[config["model"]]
    for name in (d_name, g_name, "train_step", "make_optimizers", "weights_init"):
        submission.get(PART, name)  # a missing piece fails here, with the reason it is missing
    runs = []
    for attempt in range(1 + context.rubric["training"].get("retries", 0)):
        seed = context.seed + attempt
        result, score, accuracy = run_training(submission.module(PART), config, context.device, seed)
        runs.append(f"seed {seed}: FID {score:.0f}, accuracy {accuracy:.2f}")
        if _verdict(score, accuracy, config):
            break
    reference = context.expected.get("training", {}).get(torch.device(context.device).type, {})
    details = {"model": config["model"], "iterations": config["iterations"], "fid": round(score, 1),
               "accuracy": round(accuracy, 3), "fid_max": config["fid_max"], "accuracy_min": config["accuracy_min"],
               "reference_fid": reference.get("fid"), "reference_accuracy": reference.get("accuracy"),
               "runs": "; ".join(runs), "seconds": round(result.seconds, 1),
               "your_samples": sample_grid(result.samples, config["samples_per_class"]),
               "your_D_losses": result.losses_d, "your_G_losses": result.losses_g}
    if not _verdict(score, accuracy, config):
        versus = (f" The reference reaches FID {reference['fid']:.0f}, accuracy {reference['accuracy']:.2f} under "
                  "the same budget.") if reference else ""
        raise CheckFailure(
            f"your {config['model']} networks trained by your train_step for {config['iterations']} iterations do "
            f"not learn: {'; '.join(runs)} (pass: FID at most {config['fid_max']} and accuracy at least "
            f"{config['accuracy_min']}).{versus} The other checks of part 2 say which piece is wrong; if they all "
            "pass, look at the loss curves and samples in report.html", details)
    return details
