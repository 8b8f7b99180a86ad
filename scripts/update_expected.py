"""Regenerate autograder/expected/ from the reference (instructor repo only).

The student copy has no reference code, so the autograder there reads these committed values;
tests/test_expected.py proves they are what this script would write today.
"""
import json
import sys
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import autograder.checks  # noqa: E402,F401  (registers every network, hidden ones too)
from autograder.checks.architecture import networks, trace_network  # noqa: E402
from autograder.load import load_submission  # noqa: E402
from autograder.rubric import EXPECTED_DIR, load_rubric  # noqa: E402


def architectures():
    reference = load_submission(ROOT / "reference", load_rubric()["parts"])
    torch.manual_seed(0)
    return {rubric_id: trace_network(reference, network)[2] for rubric_id, network in networks().items()}


REFERENCE_SEED = 0  # one run per device kind; the spread over seeds is in benchmarks/
# What makes the run (the bands do not): a change of band leaves the committed run valid.
RUN_SETTINGS = ("model", "iterations", "batch_size", "samples_per_class", "threads", "capture")


def training():
    """The reference's FID, accuracy and loss curves under grading.yml's training budget, per device
    kind, and its sample grid (written by main(), shown in reports next to the student's).

    The CPU run is computed here; the GPU run when a GPU is present, and otherwise its committed
    figures are kept (written on an H100 with torch 2.11, the grading budget, CUDA graph replay)."""
    from autograder.checks.training import run_training, sample_grid, training_config

    rubric = load_rubric()
    reference = load_submission(ROOT / "reference", rubric["parts"]).module("part2_cgan")
    committed = EXPECTED_DIR / "training.json"
    figures = json.loads(committed.read_text()) if committed.exists() else {}
    grids = {}
    for kind in ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",):
        config = training_config(rubric, kind)
        result, fid, accuracy = run_training(reference, config, kind, REFERENCE_SEED)
        figures[kind] = {"fid": round(fid, 1), "accuracy": round(accuracy, 3), "config": config,
                         "seed": REFERENCE_SEED, "losses_d": [round(v, 3) for v in result.losses_d],
                         "losses_g": [round(v, 3) for v in result.losses_g]}
        grids[kind] = sample_grid(result.samples, config["samples_per_class"])
    for kept in figures.values():  # the committed GPU run too
        kept["config"] = {k: v for k, v in kept["config"].items() if k in RUN_SETTINGS}
    return figures, grids


def main():
    from PIL import Image
    figures, grids = training()
    for name, value in {"architectures.json": architectures(), "training.json": figures}.items():
        (EXPECTED_DIR / name).write_text(json.dumps(value, indent=1) + "\n")
        print(f"wrote {EXPECTED_DIR / name}")
    for kind, grid in grids.items():
        path = EXPECTED_DIR / f"training_samples_{kind}.png"
        Image.fromarray((grid * 255).round().astype("uint8"), "L").save(path)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
