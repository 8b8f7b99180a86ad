"""Where the GPU training check's time goes, and how much of a CUDA graph the grader can use on
student code. One device call; every record is appended to --out (JSON lines) as soon as known.

1. loops: side by side in one process, the cDCGAN at grading.yml's cuda budget, seeds 0 and 1:
   `plain`   a hand-written loop (pytorch/examples' DCGAN loop, benchmarks/calibrate_gpu.plain_loop),
   `eager`   the grader's trainer with capture off,
   `graphed` the grader's trainer with capture on (what the grader runs),
   each with ms/iteration, FID and accuracy.
2. styles: the reference and every correct submission under tests/submissions/ trained exactly as the
   training check trains them (autograder.checks.training.train with grading.yml's cuda config):
   which loop each gets, its speed, FID, accuracy and verdict.
3. seeds: the reference, graphed, over seeds 0..N-1 until --deadline: the pass bands (calibrated on the
   eager loop, benchmarks/README.md) re-checked under capture.

    python benchmarks/gpu_speed.py --out $OUT/speed.jsonl [--seeds 10] [--deadline 400]
CPU smoke test: --device cpu --iterations 5 --spc 10 --seeds 1 (capture is CUDA-only, so all eager).
"""
import argparse
import json
import sys
import time
from pathlib import Path

T_START = time.time()
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from autograder.checks.training import measure, passes, train, training_config  # noqa: E402
from autograder.data import mnist  # noqa: E402
from autograder.load import load_submission  # noqa: E402
from autograder.rubric import load_rubric  # noqa: E402
from autograder.trainer import TrainResult  # noqa: E402
from benchmarks.calibrate_gpu import append, plain_loop  # noqa: E402

SUBMISSIONS = ROOT / "tests" / "submissions"


def record(out, **fields):
    append(out, fields)
    print(json.dumps(fields), flush=True)


def scored(result, images, config, device):
    fid, accuracy = measure(result.samples, result.sample_labels, device, images)
    return {"ms_per_iter": round(1000 * result.seconds / max(1, result.iterations), 2), "fid": round(fid, 1),
            "accuracy": round(accuracy, 3), "passes": passes(fid, accuracy, config),
            "loop": result.loop}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--device", default="cuda")
    p.add_argument("--iterations", type=int, default=None, help="default: grading.yml's budget for the device")
    p.add_argument("--spc", type=int, default=None, help="samples per class (default: grading.yml's)")
    p.add_argument("--seeds", type=int, default=10)
    p.add_argument("--deadline", type=float, default=400, help="seconds after start: no seed run starts later")
    p.add_argument("--only", default="loops,styles,seeds", help="which of the three parts to run")
    args = p.parse_args()
    rubric = load_rubric()
    config = dict(training_config(rubric, args.device))
    config.update({k: v for k, v in {"iterations": args.iterations, "samples_per_class": args.spc}.items() if v})
    device, iterations = args.device, config["iterations"]
    images, labels = mnist()
    record(args.out, type="start", torch=torch.__version__, config=config, seconds_to_ready=time.time() - T_START,
           gpu=torch.cuda.get_device_name() if device.startswith("cuda") else "cpu")

    reference = load_submission(ROOT / "reference", rubric["parts"]).module("part2_cgan")
    train(reference, {**config, "iterations": 10, "capture": True}, device, 0)  # warm-up: kernels, allocator
    plain_loop(config["model"], 0, 10, images, labels, device, spc=10)
    for seed in (0, 1) if "loops" in args.only else ():
        seconds, samples, sample_labels = plain_loop(config["model"], seed, iterations, images, labels, device,
                                                     batch_size=config["batch_size"],
                                                     spc=config["samples_per_class"], deterministic=True)
        plain = TrainResult(samples=samples, sample_labels=sample_labels, seconds=seconds, iterations=iterations,
                            loop="plain")
        record(args.out, type="loop", name="plain", seed=seed, **scored(plain, images, config, device))
        for name, capture in (("eager", False), ("graphed", True)):
            result = train(reference, {**config, "capture": capture}, device, seed)
            record(args.out, type="loop", name=name, seed=seed, **scored(result, images, config, device))

    styles = {"reference": ROOT / "reference"}
    styles.update({p.name: p for p in sorted(SUBMISSIONS.iterdir()) if p.is_dir()})
    for name, path in styles.items() if "styles" in args.only else ():
        module = load_submission(path, rubric["parts"]).module("part2_cgan")
        result = train(module, config, device, 0)
        record(args.out, type="style", name=name, seed=0, **scored(result, images, config, device))

    for seed in range(2, args.seeds) if "seeds" in args.only else ():
        if time.time() - T_START > args.deadline:
            break
        result = train(reference, config, device, seed)
        record(args.out, type="seed", name="reference", seed=seed, **scored(result, images, config, device))


if __name__ == "__main__":
    main()
