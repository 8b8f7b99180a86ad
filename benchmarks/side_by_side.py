"""This checkout against another commit of the project, alternating runs in one process tree so that
both see the same load: wall time of each run, and whether the verdicts are the same.

    python benchmarks/side_by_side.py COMMIT SUBMISSION [ROUNDS]   # python -m autograder grade
    python benchmarks/side_by_side.py COMMIT CLASS --batch [ROUNDS] # python -m autograder batch --jobs 2

Both run with this venv's Python, every check but cgan.training, --device cpu, --isolation bwrap,
the same --seed. COMMIT is checked out into a temporary git worktree, removed afterwards.
benchmarks/PROFILE.md has the figures.
"""
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMMON = ["--skip", "cgan.training", "--device", "cpu", "--isolation", "bwrap", "--seed", "0"]


def run(tree, target, batch, out):
    command = ([sys.executable, "-m", "autograder", "batch", str(target), "--jobs", "2"] if batch else
               [sys.executable, "-m", "autograder", "grade", str(target)]) + COMMON + ["--out", str(out)]
    started = time.monotonic()
    done = subprocess.run(command, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True)
    return time.monotonic() - started, done.returncode, verdicts(out, batch)


def verdicts(out, batch):
    """What a run decided: each check's points (grade), each student's points per check (batch)."""
    if batch:
        with open(out / "gradebook.csv") as f:
            return sorted(tuple(row.items()) for row in csv.DictReader(f))
    return sorted((t["name"], t["score"]) for t in json.loads((out / "results.json").read_text())["tests"])


def main(commit, target, batch=False, rounds=2):
    with tempfile.TemporaryDirectory(prefix="side-by-side-") as scratch:
        other = Path(scratch) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(other), commit], cwd=ROOT, check=True)
        try:
            for n in range(rounds):
                seen = {}
                for name, tree in (("this checkout", ROOT), (commit, other)):
                    seconds, code, decided = run(tree, Path(target).resolve(), batch, Path(scratch) / f"out-{n}-{len(seen)}")
                    seen[name] = decided
                    print(f"round {n + 1}  {name:>14}  rc={code}  {seconds:6.1f} s", flush=True)
                a, b = seen.values()
                print(f"round {n + 1}  verdicts {'the same' if a == b else 'DIFFER'}", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT, check=False)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--batch"]
    main(args[0], args[1], "--batch" in sys.argv, int(args[2]) if len(args) > 2 else 2)
