"""Calibrate the CPU training check over a family of submissions: correct variants (other styles,
other equivalent forms) and broken ones, times seeds, times CPU thread counts.

Each job trains once with the grader's own path (`autograder.checks.training.train`, the trainer
that grades students) to the largest budget and is snapshotted at the smaller ones (as
calibrate_gpu.py does): G is sampled as the trainer samples at its end and FID, KID and accuracy are
measured. Every snapshot is appended to --out as one JSON line as soon as it is known, and jobs
already in --out are skipped, so the script can be stopped and resumed. --samples DIR also keeps
each snapshot's samples (uint8, torch.save) for later analysis (copy and z-variation statistics).
Several processes given the same --out and plan share its jobs (each claims a job before it starts).

Correct variants (full marks expected; shared/ASSIGNMENT.md "Equivalent forms that are correct"):
  reference        reference/part2_cgan.py
  linear_init      weights_init that also draws Linear weights from N(0, 0.02) (the DCGAN paper)
  builders, explicit_functional, notebook_tutorial
                   the independent styles of tests/submissions/ (their own networks, init, step)
  (A D whose output is flattened to (B,), or another one-hot style, cannot change a run of the
  reference's step: the trainer builds the one-hot labels itself, and BCE against `ones_like` is the
  same sum whatever the shape; tests/test_training_check.py proves the first.)
Broken variants (must fail):
  detach_missing   D's loss reaches G: fakes not detached, and G's gradients not reset before G's step
  targets_swapped  D learns real -> 0 and fake -> 1 (G's step unchanged)
  g_ignores_y      G always gets the label 0 (in training and sampling)
  d_ignores_y      D always gets the label 0
  d_random_labels  D judges the fakes with random labels
  eval_left_on     netD.eval() in G's step, never set back to train()

    python benchmarks/calibrate_cpu.py --out benchmarks/results/calibration_cpu_family.jsonl \\
        --plan default [--samples /tmp/samples]
The machine axis (another CPU's instruction set: AVX2 kernels instead of AVX-512, in ATen and in
MKL, whose matrix products the runs' numbers come from):
    ATEN_CPU_CAPABILITY=avx2 python benchmarks/calibrate_cpu.py --out ... --plan machine
    MKL_CBWR=COMPATIBLE python benchmarks/calibrate_cpu.py --out ... --plan machine
(ATen's AVX2 kernels, and MKL_ENABLE_INSTRUCTIONS=AVX2 or SSE4_2, leave a run bit-identical here;
MKL's compatible branch changes its numbers from the first iteration.)
Smoke test: python benchmarks/calibrate_cpu.py --out /tmp/smoke.jsonl --plan smoke
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from benchmarks.calibrate_gpu import ConstLabel, step_d_random_labels  # noqa: E402
from reference import part2_cgan as R  # noqa: E402

SUBMISSIONS = ROOT / "tests" / "submissions"
STYLES = ("builders", "explicit_functional", "notebook_tutorial")
CORRECT = ("reference", "linear_init") + STYLES
BROKEN = ("d_random_labels", "eval_left_on", "detach_missing", "targets_swapped", "d_ignores_y", "g_ignores_y")


# ----------------------------------------------------------------------------- variants
def weights_init_linear_too(m):
    """The course's init, and Linear weights ~ N(0, 0.02) too (the DCGAN paper's "all weights")."""
    R.weights_init(m)
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, 0.0, 0.02)


def bce(p, target):
    return F.binary_cross_entropy(p, torch.full_like(p, target))


def step_detach_missing(netD, netG, optimizerD, optimizerG, x_real, y_real, nz=R.nz, **_):
    optimizerD.zero_grad()
    optimizerG.zero_grad()
    fake = netG(R.get_noise(x_real.size(0), nz, x_real.device), y_real)
    loss_d = bce(netD(x_real, y_real), 1.0) + bce(netD(fake, y_real), 0.0)  # no detach
    loss_d.backward(retain_graph=True)
    optimizerD.step()
    loss_g = bce(netD(fake, y_real), 1.0)  # G's gradients still hold D's loss
    loss_g.backward()
    optimizerG.step()
    return loss_d.detach(), loss_g.detach()


def step_targets_swapped(netD, netG, optimizerD, optimizerG, x_real, y_real, nz=R.nz, **_):
    optimizerD.zero_grad()
    fake = netG(R.get_noise(x_real.size(0), nz, x_real.device), y_real).detach()
    loss_d = bce(netD(x_real, y_real), 0.0) + bce(netD(fake, y_real), 1.0)
    loss_d.backward()
    optimizerD.step()
    return loss_d.detach(), R.g_step(netD, netG, optimizerG, y_real, nz)


def step_eval_left_on(netD, netG, optimizerD, optimizerG, x_real, y_real, nz=R.nz, **_):
    loss_d = R.d_step(netD, netG, optimizerD, x_real, y_real, nz)
    netD.eval()  # "D is only judging here", and never set back to train()
    return loss_d, R.g_step(netD, netG, optimizerG, y_real, nz)


class Variant:
    """What the grader reads from a submission's part 2: networks, init, optimizers and step."""

    def __init__(self, **names):
        self.__dict__.update(names)


def variant_module(name):
    """A part-2 module for the variant `name` (reference wrapped, or a style loaded as the grader does)."""
    if name in STYLES:
        from autograder.load import load_submission
        from autograder.rubric import load_rubric
        return load_submission(SUBMISSIONS / name, load_rubric()["parts"]).module("part2_cgan")
    pieces = {"cGANDiscriminator": R.cGANDiscriminator, "cGANGenerator": R.cGANGenerator,
              "cDCGANDiscriminator": R.cDCGANDiscriminator, "cDCGANGenerator": R.cDCGANGenerator,
              "weights_init": R.weights_init, "make_optimizers": R.make_optimizers, "train_step": R.train_step}
    wrap_d = wrap_g = None
    if name == "linear_init":
        pieces["weights_init"] = weights_init_linear_too
    elif name == "d_ignores_y":
        wrap_d = ConstLabel
    elif name == "g_ignores_y":
        wrap_g = ConstLabel
    elif name in ("detach_missing", "targets_swapped", "eval_left_on", "d_random_labels"):
        pieces["train_step"] = globals()["step_" + name]
    elif name != "reference":
        raise ValueError(name)
    for key, wrap in (("cGANDiscriminator", wrap_d), ("cDCGANDiscriminator", wrap_d),
                      ("cGANGenerator", wrap_g), ("cDCGANGenerator", wrap_g)):
        if wrap is not None:
            pieces[key] = (lambda inner, w: lambda: w(inner()))(pieces[key], wrap)
    return Variant(**pieces)


# ----------------------------------------------------------------------------- metrics
def measure_all(samples, sample_labels, real):
    """FID, KID (torch-fidelity, on the same LeNet features) and conditional accuracy."""
    from autograder.metric_accuracy import conditional_accuracy
    from autograder.metric_fid import fid_and_kid
    out = {"nonfinite": int((~torch.isfinite(samples)).sum())}
    if out["nonfinite"]:
        return {**out, "fid": None, "kid": None, "acc": 0.0}
    out["fid"], out["kid"] = map(float, fid_and_kid(samples, real))
    out["acc"] = float(conditional_accuracy(samples, sample_labels))
    return out


# ----------------------------------------------------------------------------- plans
def plan(name):
    """Jobs (variant, seed, threads) in priority order: what matters most runs first. Two plans can run
    side by side in two processes ("correct" and "broken"); "default" is both, interleaved."""
    if name == "smoke":
        return [("reference", 0, 1), ("g_ignores_y", 0, 1)]
    correct = [(v, s, 1) for s in range(2) for v in ("reference", "linear_init")]
    correct += [(v, 0, 1) for v in STYLES]
    correct += [("reference", 0, 2), ("linear_init", 0, 2)]
    correct += [(v, s, 1) for s in range(2, 4) for v in ("reference", "linear_init")]
    correct += [(v, 1, 1) for v in STYLES]
    correct += [(v, s, 1) for s in range(4, 10) for v in ("reference", "linear_init")]
    correct += [(v, s, 1) for s in range(2, 10) for v in STYLES]
    broken = [(v, s, 1) for s in range(3) for v in BROKEN]
    broken += [(v, s, 1) for s in range(3, 5) for v in ("d_random_labels", "g_ignores_y", "eval_left_on")]
    if name == "correct":
        return correct
    if name == "broken":
        return broken
    if name == "linear":
        return [job for job in correct if job[0] == "linear_init"]
    if name == "threads":  # the same seeds with 2 threads: how far a thread count moves a run
        return [(v, s, 2) for s in range(4) for v in ("reference", "linear_init")]
    if name == "machine":  # run under ATEN_CPU_CAPABILITY=avx2 (or default): another CPU's kernels
        return [(v, s, 1) for s in range(4) for v in ("reference", "linear_init")]
    return [job for pair in zip(correct, broken + [None] * len(correct)) for job in pair if job]


def kernels():
    """The CPU kernels a run uses: ATen's (ATEN_CPU_CAPABILITY) and MKL's (MKL_ENABLE_INSTRUCTIONS, and
    MKL_CBWR: the code branch MKL picks for a CPU, which a run's numbers depend on)."""
    mkl = [f"{name}={os.environ[name]}" for name in ("MKL_ENABLE_INSTRUCTIONS", "MKL_CBWR") if os.environ.get(name)]
    return " ".join([torch.backends.cpu.get_cpu_capability()] + mkl)


def claimed(path):
    """Jobs already started or finished in --out, with the CPU kernels they ran (several processes
    can share one plan and file: each line is one short append, written whole)."""
    if not os.path.exists(path):
        return set()
    with open(path) as f:
        recs = [json.loads(line) for line in f if line.strip()]
    return {(r["variant"], r["seed"], r["threads"], r.get("cpu_capability", "AVX512")) for r in recs
            if r.get("final") or r.get("started")}


def append(path, record):
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def run_job(variant, seed, threads, args, real, labels):
    from autograder.checks.training import train
    from autograder.trainer import sample_per_class

    module = variant_module(variant)
    budgets = sorted(args.budgets)
    state = {"n": 0, "snap": 0.0, "t0": time.perf_counter()}
    config = {"model": "fc", "iterations": budgets[-1], "batch_size": args.batch_size,
              "samples_per_class": args.spc, "threads": threads}
    common = {"variant": variant, "seed": seed, "threads": threads, "batch_size": args.batch_size,
              "spc": args.spc, "model": "fc", "torch": torch.__version__,
              "cpu_capability": kernels()}

    def record(iterations, samples, sample_labels, final):
        train_s = time.perf_counter() - state["t0"] - state["snap"]
        t = time.perf_counter()
        rec = {**common, "iterations": iterations, "final": final, "train_seconds": round(train_s, 2),
               **measure_all(samples, sample_labels, real)}
        rec["metric_seconds"] = round(time.perf_counter() - t, 2)
        if args.samples:
            Path(args.samples).mkdir(parents=True, exist_ok=True)
            torch.save(samples.add(1).mul(127.5).round().clamp(0, 255).to(torch.uint8),
                       Path(args.samples) / f"{variant}_s{seed}_t{threads}_i{iterations}.pt")
        append(args.out, rec)
        print(json.dumps(rec), flush=True)
        state["snap"] += time.perf_counter() - t

    step = module.train_step

    def snapshot_step(netD, netG, optD, optG, x, y, **kw):
        out = step(netD, netG, optD, optG, x, y, **kw)
        state["n"] += 1
        if state["n"] in budgets[:-1]:
            t = time.perf_counter()
            samples, sample_labels = sample_per_class(netG, R.nz, 10, args.spc)
            state["snap"] += time.perf_counter() - t
            record(state["n"], samples, sample_labels, False)
        return out

    pieces = ("cGANDiscriminator", "cGANGenerator", "weights_init", "make_optimizers")
    snapshotted = Variant(**{name: getattr(module, name) for name in pieces}, train_step=snapshot_step)
    result = train(snapshotted, config, "cpu", seed, real, labels)
    record(budgets[-1], result.samples, result.sample_labels, True)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--plan", default="default",
                   choices=("default", "correct", "broken", "linear", "threads", "machine", "smoke"))
    p.add_argument("--budgets", default="300,450,600", type=lambda s: [int(b) for b in s.split(",")])
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--spc", type=int, default=100, help="samples per class")
    p.add_argument("--samples", default=None, help="folder to keep each snapshot's samples in")
    p.add_argument("--only", default=None, help="comma-separated variants to run (default: the plan's)")
    args = p.parse_args()
    if args.plan == "smoke":
        args.budgets, args.spc = [3, 5], 10
    torch.set_num_threads(1)  # the metrics too: on a shared CPU more threads only wait for each other
    from autograder.data import mnist
    real, labels = mnist()
    capability = kernels()
    for variant, seed, threads in plan(args.plan):
        if (variant, seed, threads, capability) in claimed(args.out) or (
                args.only and variant not in args.only.split(",")):
            continue
        job = {"variant": variant, "seed": seed, "threads": threads, "cpu_capability": capability}
        append(args.out, {**job, "started": time.time()})
        try:
            run_job(variant, seed, threads, args, real, labels)
        except Exception as exc:  # a variant that crashes is a finding, not the end of the sweep
            append(args.out, {**job, "final": True, "error": f"{type(exc).__name__}: {exc}"[:300]})


if __name__ == "__main__":
    main()
