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

from autograder.checks.architecture import NETWORKS, trace_network  # noqa: E402
from autograder.load import load_submission  # noqa: E402
from autograder.rubric import EXPECTED_DIR, load_rubric  # noqa: E402


def architectures():
    reference = load_submission(ROOT / "reference", load_rubric()["parts"])
    torch.manual_seed(0)
    return {rubric_id: trace_network(reference, network)[2] for rubric_id, network in NETWORKS.items()}


def expected_files():
    return {"architectures.json": architectures()}


def main():
    for name, value in expected_files().items():
        (EXPECTED_DIR / name).write_text(json.dumps(value, indent=1) + "\n")
        print(f"wrote {EXPECTED_DIR / name}")


if __name__ == "__main__":
    main()
