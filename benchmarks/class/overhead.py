"""In-process against sandboxed grading of the reference, every check but cgan.training, twice each.

    python benchmarks/class/overhead.py inprocess|sandbox [THREADS]
"""
import sys
import time

start = time.monotonic()
from autograder.rubric import load_rubric  # noqa: E402

mode, threads = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1
ids = [i for i in load_rubric()["checks"] if i != "cgan.training"]
if mode == "inprocess":
    import torch

    from autograder.score import grade
    torch.set_num_threads(threads)
    ready = time.monotonic()
    times = []
    for _ in range(2):
        t = time.monotonic()
        scored = grade("reference", ids, device="cpu").scored
        times.append(time.monotonic() - t)
else:
    from autograder.sandbox import Sandbox
    box = Sandbox(device="cpu", threads=threads).start()
    ready = time.monotonic()
    times = []
    for _ in range(2):
        t = time.monotonic()
        scored = box.grade("reference", ids).scored
        times.append(time.monotonic() - t)
    box.close()
print(f"{mode} threads={threads}: start {ready - start:.1f}s, grades {times[0]:.1f}s and {times[1]:.1f}s, "
      f"score {sum(s.points for s in scored)}/{sum(s.max_points for s in scored)}")
