"""What the isolation costs per submission and per check, for two checkouts of the project in one
run (the current main against this branch, say), alternating so that both see the same load.

    python benchmarks/class/isolation_cost.py TREE_A TREE_B [ROUNDS]

For each tree, in a fresh process with PYTHONPATH=TREE: the sandbox server's start, then, on that
server, grades of the reference with one check (dcgan.prior) and with every check but
cgan.training, alternately, three each. A submission's fixed cost is the one-check grade; a
check's cost is (all - one) / (checks - 1). Prints one JSON line per tree and round.
"""
import json
import os
import subprocess
import sys

PROBE = r"""
import json, statistics, sys, time
start = time.monotonic()
from autograder.rubric import load_rubric
from autograder.sandbox import Sandbox
ids = [i for i in load_rubric()["checks"] if i != "cgan.training"]
box = Sandbox(device="cpu", threads=1).start()
ready = time.monotonic() - start
one, every = [], []
for _ in range(3):
    for only, times in ((["dcgan.prior"], one), (ids, every)):
        t = time.monotonic()
        scored = box.grade("reference", only).scored
        times.append(time.monotonic() - t)
        assert all(s.passed for s in scored), [s.message for s in scored if not s.passed]
box.close()
print(json.dumps({"server_start_s": round(ready, 2), "one_check_grade_s": [round(t, 2) for t in one],
                  "all_checks_grade_s": [round(t, 2) for t in every],
                  "per_check_s": round((statistics.median(every) - statistics.median(one)) / (len(ids) - 1), 3),
                  "checks": len(ids)}))
"""


def measure(tree):
    env = {**os.environ, "PYTHONPATH": tree, "AUTOGRADER_SEED": "0"}
    run = subprocess.run([sys.executable, "-c", PROBE], cwd=tree, env=env, capture_output=True, text=True)
    if run.returncode:
        raise SystemExit(run.stderr[-3000:])
    return json.loads(run.stdout.strip().splitlines()[-1])


if __name__ == "__main__":
    trees, rounds = sys.argv[1:3], int(sys.argv[3]) if len(sys.argv) > 3 else 1
    for round_number in range(rounds):
        for tree in trees:
            print(json.dumps({"tree": tree, "round": round_number + 1, **measure(tree)}), flush=True)
