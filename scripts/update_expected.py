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
from autograder.checks.architecture import NETWORKS, trace_network  # noqa: E402
from autograder.load import load_submission  # noqa: E402
from autograder.rubric import EXPECTED_DIR, load_rubric  # noqa: E402


def architectures():
    reference = load_submission(ROOT / "reference", load_rubric()["parts"])
    torch.manual_seed(0)
    return {rubric_id: trace_network(reference, network)[2] for rubric_id, network in NETWORKS.items()}


def training():
    """The reference's FID and accuracy under grading.yml's training budget, per device kind.

    The CPU figure is computed here; a GPU figure is computed when a GPU is present, and otherwise
    the committed one is kept (it comes from the calibration in benchmarks/, median over seeds)."""
    from autograder.checks.training import run_training, training_config

    rubric = load_rubric()
    reference = load_submission(ROOT / "reference", rubric["parts"]).module("part2_cgan")
    committed = EXPECTED_DIR / "training.json"
    figures = json.loads(committed.read_text()) if committed.exists() else {}
    for kind in ("cpu", "cuda") if torch.cuda.is_available() else ("cpu",):
        _, fid, accuracy = run_training(reference, training_config(rubric, kind), kind, rubric["seed"])
        figures[kind] = {"fid": round(fid, 1), "accuracy": round(accuracy, 3), "config": training_config(rubric, kind)}
    return figures


def expected_files():
    return {"architectures.json": architectures(), "training.json": training()}


def main():
    for name, value in expected_files().items():
        (EXPECTED_DIR / name).write_text(json.dumps(value, indent=1) + "\n")
        print(f"wrote {EXPECTED_DIR / name}")


if __name__ == "__main__":
    main()
