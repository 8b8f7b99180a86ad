"""This checkout against another commit of the project, alternating runs in one process tree so that
both see the same load: wall time of each run, and whether the verdicts are the same.

    python benchmarks/side_by_side.py COMMIT SUBMISSION [ROUNDS]    # python -m autograder grade
    python benchmarks/side_by_side.py COMMIT SUBMISSION --pytest [ROUNDS]  # pytest autograder
    python benchmarks/side_by_side.py COMMIT CLASS --batch [ROUNDS]  # python -m autograder batch --jobs 2

Both run with this venv's Python, every check but cgan.training, --device cpu, --isolation bwrap,
the same --seed. COMMIT is checked out into a temporary git worktree under out/ (beside this
checkout, not under /tmp: a checkout there was slower until d38b6ad), removed afterwards.
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


def run(tree, target, mode, out):
    if mode == "pytest":
        command = [sys.executable, "-m", "pytest", "autograder", "-p", "no:cacheprovider", "-q", "--submission",
                   str(target), "--grading-out", str(out), "-k", "not training", *COMMON[2:]]
    else:
        command = [sys.executable, "-m", "autograder", mode, str(target), *(["--jobs", "2"] if mode == "batch" else []),
                   *COMMON, "--out", str(out)]
    started = time.monotonic()
    done = subprocess.run(command, cwd=tree, env={**os.environ, "PYTHONPATH": str(tree)}, capture_output=True)
    return time.monotonic() - started, done.returncode, verdicts(out, mode == "batch")


def verdicts(out, batch):
    """What a run decided: each check's points (grade), each student's points per check (batch)."""
    if batch:
        with open(out / "gradebook.csv") as f:
            return sorted(tuple(row.items()) for row in csv.DictReader(f))
    return sorted((t["name"], t["score"]) for t in json.loads((out / "results.json").read_text())["tests"])


def main(commit, target, mode="grade", rounds=2):
    (ROOT / "out").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="side-by-side-", dir=ROOT / "out") as scratch:
        other = Path(scratch) / "tree"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(other), commit], cwd=ROOT, check=True)
        try:
            for n in range(rounds):
                seen = {}
                for name, tree in (("this checkout", ROOT), (commit, other)):
                    seconds, code, decided = run(tree, Path(target).resolve(), mode, Path(scratch) / f"out-{n}-{len(seen)}")
                    seen[name] = decided
                    print(f"round {n + 1}  {name:>14}  rc={code}  {seconds:6.1f} s", flush=True)
                a, b = seen.values()
                print(f"round {n + 1}  verdicts {'the same' if a == b else 'DIFFER'}", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=ROOT, check=False)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a not in ("--batch", "--pytest")]
    mode = "batch" if "--batch" in sys.argv else "pytest" if "--pytest" in sys.argv else "grade"
    main(args[0], args[1], mode, int(args[2]) if len(args) > 2 else 2)
