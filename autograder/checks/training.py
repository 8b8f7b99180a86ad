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
from types import SimpleNamespace

import torch
import torch.nn.functional as F

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


# Samples must be made, not copied: each checked sample against the training images of its class, the
# sample shifted by up to COPY_SHIFT pixels either way and/or mirrored, both blurred (3x3 mean: pixel
# noise averages out, strokes stay), compared by correlation. Measured with the committed MNIST
# (benchmarks/README.md, "Copies"): the median of the best correlations is 0.94 for real digits the set
# does not hold (what a perfect generator would draw), 0.88-0.89 for the reference's CPU samples and a
# correct Linear-init style, 0.988 or more for real digits shifted by a pixel under Gaussian noise of up
# to 0.3 per pixel (which pass FID: 38-53), 1.0 for exact copies.
# A few copies mixed with made samples: over COPIES_MAX of the samples above 0.99 (real digits not in the
# set: 1 in 100; the reference's samples: none).
COPY_SHIFT, COPY_BLUR, COPY_CORRELATION, COPY_CHECKED = 2, 3, 0.97, 100
COPY_EXACT, COPIES_MAX = 0.99, 0.1
# Samples must depend on z: within each class, the per-pixel spread of the samples over z, relative to
# the spread of real digits of that class (0.23 averaged over classes; the reference's CPU samples 0.22);
# and no sample may repeat another of its class (a bank of fixed images).
SPREAD_MIN, REPEAT_RMS, REPEATS_MAX = 0.25, 0.02, 0.05


def _standardised(images):
    """Blurred (COPY_BLUR mean), flattened, centred and scaled to norm 1: a dot product is a correlation."""
    flat = F.avg_pool2d(images.float(), COPY_BLUR, 1, COPY_BLUR // 2).flatten(1)
    flat = flat - flat.mean(1, keepdim=True)
    return flat / flat.norm(dim=1, keepdim=True).clamp(min=1e-6)


def copy_correlations(samples, sample_labels, images, labels, shift=COPY_SHIFT, checked=COPY_CHECKED):
    """For `checked` samples (evenly over the class-major set), the best correlation with a training image
    of their class, allowing shifts of up to `shift` pixels and a mirror image (what a copy may do to hide)."""
    step = max(1, len(samples) // checked)
    picked, picked_labels = samples[::step].float(), sample_labels[::step]
    best = torch.empty(len(picked))
    for c in picked_labels.unique():
        bank = _standardised(images[labels == c])
        mine = (picked_labels == c).nonzero().flatten()
        views = torch.stack([_standardised(torch.roll(picked[mine].flip(-1) if mirror else picked[mine], (dy, dx),
                                                      (-2, -1)))
                             for mirror in (False, True) for dx in range(-shift, shift + 1)
                             for dy in range(-shift, shift + 1)], 1)  # (n, views, pixels)
        best[mine] = (views @ bank.T).amax((1, 2))
    return best


def spread_over_z(samples, per_class):
    """The per-pixel standard deviation of the samples of each class (over z), averaged."""
    return float(samples.float().view(10, per_class, -1).std(1).mean())


def repeated_fraction(samples, per_class):
    """The share of samples with a near-identical twin (RMS under REPEAT_RMS) among those of their class."""
    flat = samples.float().view(10, per_class, -1)
    distances = torch.cdist(flat, flat).div(flat.shape[-1] ** 0.5)
    distances.diagonal(dim1=1, dim2=2).fill_(float("inf"))
    return float((distances.amin(-1) < REPEAT_RMS).float().mean())


def not_copied(samples, sample_labels, images, labels):
    """Fail (CheckFailure, no second run) when the samples are real digits barely moved."""
    correlations = copy_correlations(samples, sample_labels, images, labels)
    copies = float((correlations > COPY_EXACT).float().mean())
    if correlations.median() > COPY_CORRELATION or copies > COPIES_MAX:
        raise CheckFailure(
            f"the samples are copies of MNIST training images: shifted by up to {COPY_SHIFT} pixels or mirrored, "
            f"and blurred to even out pixel noise, half of the samples checked match a training image of their "
            f"class with a correlation above {correlations.median():.3f} and {copies:.0%} above {COPY_EXACT} (real "
            f"digits not in the set: 0.94 and 1%; copies: over {COPY_CORRELATION} or {COPIES_MAX:.0%}). The samples must be what your generator makes from z and y, not "
            "images of the dataset")


def ignores_z(samples, images, labels, per_class):
    """Words when the samples of a class barely vary with z (G ignores z, or its training collapsed
    onto a few images: a failed run, tried again with another seed like any other); else None."""
    real_spread = spread_over_z(torch.cat([images[labels == c][:per_class] for c in range(10)]), per_class)
    spread, repeats = spread_over_z(samples, per_class), repeated_fraction(samples, per_class)
    if spread < SPREAD_MIN * real_spread or repeats > REPEATS_MAX:
        return (f"the samples barely depend on z: for a fixed label they vary by {spread:.3f} per pixel (real digits "
                f"of one class: {real_spread:.3f}) and {repeats:.0%} repeat another sample of their class; either "
                "G(z, y) ignores z (different noise must give different digits) or training collapsed onto a few "
                "images (mode collapse: look at D's steps, e.g. D left in eval mode or a wrong target)")
    return None


def passes(score, accuracy, config):
    """grading.yml's bands: FID at most fid_max and accuracy at least accuracy_min."""
    return score <= config["fid_max"] and accuracy >= config["accuracy_min"]


def draw_training(context):
    """The settings of this try; the last of several tries (a submission whose first run failed) also
    measures which piece makes the run fail (collect_training)."""
    seed, retries = torch.initial_seed(), context.rubric["training"].get("retries", 0)
    return {"config": training_config(context.rubric, context.device), "device": context.device, "seed": seed,
            "diagnose": retries > 0 and seed == context.seed + retries}


def substitutes():
    """The pieces a failed run is re-run with, one at a time: {name: (what replaces it, in words)}. The
    course's weights_init and train_step where the reference is importable (an instructor's grading; never
    in the sandbox's student process or the student copy), else PyTorch's default initialisation (for
    the FC cGAN's Linear layers, what the course asks) and no substitute step."""
    try:
        from reference import part2_cgan as course
    except Exception:  # noqa: BLE001 - absent (student copy) or refused by the sandbox (an OSError or its audit hook)
        return {"weights_init": (None, "PyTorch's default initialisation")}
    return {"weights_init": (course.weights_init, "the course's weights_init"),
            "train_step": (course.train_step, "the course's train_step")}


def trained(result):
    return {"samples": result.samples.float(), "sample_labels": result.sample_labels, "losses_d": result.losses_d,
            "losses_g": result.losses_g, "seconds": result.seconds, "nondeterministic": result.nondeterministic,
            "loop": result.loop}


def collect_training(submission, inputs):
    d_name, g_name = MODELS[inputs["config"]["model"]]
    names = (d_name, g_name, "train_step", "make_optimizers", "weights_init")
    for name in names:
        submission.get(PART, name)  # a missing piece fails here, with the reason it is missing
    module = submission.module(PART)
    found = trained(train(module, inputs["config"], inputs["device"], inputs["seed"]))
    if inputs.get("diagnose"):
        found["substituted"] = {}
        for name, (piece, words) in substitutes().items():
            pieces = {n: getattr(module, n) for n in names}
            pieces[name] = piece
            try:
                run = train(SimpleNamespace(**pieces), inputs["config"], inputs["device"], inputs["seed"])
            except Exception as exc:  # noqa: BLE001 - the student's other pieces may not fit the course's
                found["substituted"][name] = {"words": words, "error": f"{type(exc).__name__}: {exc}"[:200]}
                continue
            found["substituted"][name] = {"words": words, "samples": run.samples.float()}
    return found


LOSS_TAIL = 0.1  # the last tenth of the iterations: what the losses ended at


def observations(found, accuracy, samples, per_class):
    """What a failed run looked like, in words: D winning outright, G collapsing, labels ignored, NaN."""
    seen = []
    tail = max(1, int(len(found["losses_d"]) * LOSS_TAIL))
    loss_d, loss_g = (sum(v[-tail:]) / tail for v in (found["losses_d"], found["losses_g"]))
    if not (torch.isfinite(torch.tensor([loss_d, loss_g])).all() and torch.isfinite(samples).all()):
        return ["the losses or samples became NaN or infinite (training diverged)"]
    if loss_d < 0.05:
        seen.append(f"D's loss fell to {loss_d:.3f} (D wins outright, G gets no useful gradient)")
    if loss_g < 0.05:
        seen.append(f"G's loss fell to {loss_g:.3f} (D no longer tells fakes apart: does D learn?)")
    if spread_over_z(samples, per_class) < 0.05:
        seen.append("G's samples are nearly constant (collapse)")
    if accuracy < 0.2:
        seen.append(f"the samples do not follow their labels (accuracy {accuracy:.2f}, chance 0.10: is y used by G "
                    "and by D?)")
    return seen


def diagnosis(found, config, device, images, image_labels, labels):
    """Which substituted piece makes the run pass, measured on the samples of each re-run."""
    verdicts = []
    for name, run in found.get("substituted", {}).items():
        if "error" in run:
            verdicts.append(f"with {run['words']} instead of yours it raised {run['error']}")
            continue
        fid_score, accuracy = measure(run["samples"], labels, device, images)
        varies = ignores_z(run["samples"], images, image_labels, config["samples_per_class"]) is None
        verdict = "passes" if varies and passes(fid_score, accuracy, config) else "still fails"
        verdicts.append(f"with {run['words']} instead of your {name} it {verdict} (FID {fid_score:.0f}, accuracy "
                        f"{accuracy:.2f})" + (f": look at your {name}" if verdict == "passes" else ""))
    if verdicts and not any(v.endswith(f"your {n}") for v, n in zip(verdicts, found["substituted"])):
        verdicts.append("so look at your networks and make_optimizers first")
    return verdicts


def judge_training(inputs, found, context):
    """FID and accuracy are measured here, from the samples alone, against grading.yml's bands."""
    config, kind = inputs["config"], torch.device(inputs["device"]).type
    per_class = config["samples_per_class"]
    samples, labels = found["samples"].float(), found["sample_labels"].long()
    if tuple(samples.shape) != (10 * per_class, 1, 32, 32) or not torch.equal(
            labels, torch.arange(10).repeat_interleave(per_class)):
        raise CheckFailure(f"the trainer's samples have shape {tuple(samples.shape)}: expected {10 * per_class} "
                           "images (1, 32, 32), class-major")
    images, image_labels = mnist()
    not_copied(samples, labels, images, image_labels)
    score, accuracy = measure(samples, labels, inputs["device"], images)
    collapsed = ignores_z(samples, images, image_labels, per_class)
    reference = context.expected.get("training", {}).get(kind, {})
    band = f"pass: FID at most {config['fid_max']} and accuracy at least {config['accuracy_min']}"
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
    versus = (f" The reference reaches FID {reference['fid']:.0f}, accuracy {reference['accuracy']:.2f} under "
              "the same budget.") if reference else ""
    if collapsed or not passes(score, accuracy, config):
        seen = ([collapsed] if collapsed else []) + [
            line for line in observations(found, accuracy, samples, per_class) if not (collapsed and "collapse" in line)]
        measured = diagnosis(found, config, inputs["device"], images, image_labels, labels)
        raise CheckFailure(
            f"your {config['model']} networks trained by your train_step for {config['iterations']} iterations on "
            f"{kind} do not learn: FID {score:.0f}, accuracy {accuracy:.2f} with seed {inputs['seed']} ({band}"
            + ("; and the samples must vary with z" if collapsed else "") + f").{versus}"
            + (f" Seen: {'; '.join(seen)}." if seen else "")
            + (f" Measured: {'; '.join(measured)}." if measured else
               " The other checks of part 2 say which piece is wrong; if they all pass, look at the loss curves and "
               "samples in report.html"), details)
    details["message"] = (f"your {config['model']} networks learn: FID {score:.0f}, accuracy {accuracy:.2f} after "
                          f"{config['iterations']} iterations on {kind} ({band}).{versus}")
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
      tries=lambda context: 1 + context.rubric["training"].get("retries", 0), trains=True)
