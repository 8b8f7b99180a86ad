"""How much one mistake costs, and whether its message names it: the single-mistake corpus.

The corpus is tests/test_mutations.py's MUTATIONS (one realistic edit of the reference each).
Each is graded on the checks of the part it touches (the training run excluded, as in the
suite), and the table gives, per mutation: the items and points it loses, and whether every
failing item's message matches the mutation's declared pattern (the pattern names the mistake;
an item that fails without being declared has no pattern and counts as not named). Then the
distribution of items lost, the largest, and the share of mutations whose messages all name it.

    PYTHONPATH=. .venv/bin/python benchmarks/single_mistakes.py > benchmarks/results/single_mistakes.txt
"""
import collections
import importlib.util
import re
import sys
import tempfile
from pathlib import Path

import torch

from autograder.score import grade

ROOT = Path(__file__).resolve().parent.parent


def mutation_suite():
    spec = importlib.util.spec_from_file_location("test_mutations", ROOT / "tests" / "test_mutations.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def measure(suite, mutation, sources, folder):
    scored = grade(suite.write_submission(folder, suite.mutated(mutation, sources)),
                   only=suite.rubric_ids([mutation.part]))[1]
    patterns = dict(mutation.fails)
    failing = [s for s in scored if not s.passed]
    named = bool(failing) and all(s.id in patterns and re.search(patterns[s.id], s.message, re.S) for s in failing)
    return {"items": len(failing), "points": sum(s.max_points - s.points for s in failing),
            "failing": [s.id for s in failing], "named": named,
            "message": failing[0].message if failing else "(nothing fails)"}


def main():
    torch.set_num_threads(1)
    suite = mutation_suite()
    sources = {part: (suite.REFERENCE / f"{part}.py").read_text(encoding="utf-8") for part in suite.PARTS}
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for number, mutation in enumerate(suite.MUTATIONS):
            rows.append((mutation, measure(suite, mutation, sources, Path(tmp) / str(number))))
    print(f"{'mutation':52} items points named  failing items")
    for mutation, row in rows:
        print(f"{mutation.id:52} {row['items']:5} {row['points']:6} {'yes' if row['named'] else 'NO':5}  "
              f"{', '.join(row['failing'])}")
    items = collections.Counter(row["items"] for _, row in rows)
    named = sum(row["named"] for _, row in rows)
    print(f"\n{len(rows)} single-mistake submissions")
    print("items lost per mistake: " + ", ".join(f"{k}: {items[k]}" for k in sorted(items)) +
          f" (max {max(items)}; points lost max {max(row['points'] for _, row in rows)})")
    print(f"messages that name the mistake: {named}/{len(rows)} ({100 * named / len(rows):.0f}%)")
    for mutation, row in rows:
        if not row["named"]:
            print(f"  not named: {mutation.id}: {row['message'][:200]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
