"""The sandbox's server posts the next checks' collects to the namespace while it judges the last
(autograder/sandbox.py, Server._post_ahead, AHEAD of them): the student's half of one check and the
judge of the one before run side by side. Each half is a process of its own, with its own seed, so the overlap
may change the time and nothing else."""
import json
import subprocess
import sys
from pathlib import Path

from autograder import score
from autograder.checks.registry import REGISTRY
from autograder.rubric import load_rubric
from autograder.sandbox import AHEAD
from reference.demo import write_example

ROOT = Path(__file__).resolve().parent.parent

# In a fresh process: a server forks its judges, and a fork of this pytest process, whose torch may
# have started OpenMP's threads in an earlier test, can hang in them.
SERVE_AND_WATCH = r"""
import json, sys
from autograder.sandbox import Server
folder, ids = sys.argv[1], json.loads(sys.argv[2])
server = Server("cpu", seed=0, warm_next=False)
in_flight, judge = {}, server._judge

def recording_judge(rubric_id, *args):
    in_flight[rubric_id] = [request["id"] for request, _ in server.ahead]
    return judge(rubric_id, *args)

server._judge = recording_judge
events = []
try:
    server.grade(folder, ids, lambda **event: events.append(event))
finally:
    server.close()
print(json.dumps({"passed": {e["check"]["id"]: e["check"]["passed"] for e in events if e["event"] == "check"},
                  "in_flight": in_flight}))
"""


def test_collecting_ahead_changes_no_verdict_and_happens_during_every_judge(tmp_path):
    """The demo's example (the reference with the five mistakes of examples/mistakes.yml), graded
    by a sandbox server and in-process with one seed: the same verdicts, and while each judge ran
    but the last, the namespace already had the next checks' collects (AHEAD of them, in order)."""
    folder = tmp_path / "example"
    mistakes = write_example(folder)
    ids = [i for i in load_rubric()["checks"] if not REGISTRY[i].trains]
    after = {i: ids[index + 1:index + 1 + AHEAD] for index, i in enumerate(ids)}
    run = subprocess.run([sys.executable, "-c", SERVE_AND_WATCH, str(folder), json.dumps(ids)], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    seen = json.loads(run.stdout.splitlines()[-1])
    in_process = {s.id: s.passed for s in score.grade(folder, ids, device="cpu", isolation="in-process",
                                                      seed=0).scored}
    assert seen["passed"] == in_process
    assert {i for i, passed in seen["passed"].items() if not passed} == {m["fails"] for m in mistakes}
    assert len(seen["in_flight"]) >= len(ids) - len(mistakes)  # a failed collect has no judge
    assert seen["in_flight"] == {i: after[i] for i in seen["in_flight"]}


def test_big_part_files_do_not_stall_the_checks_posted_ahead(tmp_path):
    """Each collect request carries the parts' sources: with 300 KB of code, AHEAD requests fill the
    namespace's stdin while it writes an 8 MB reply (the prior's draws) that the server has not read
    yet. The server reads while it writes (Namespace._send), so neither waits for the other."""
    folder = tmp_path / "big"
    folder.mkdir()
    for source in (ROOT / "reference").glob("part*.py"):
        (folder / source.name).write_text(source.read_text())
    with (folder / "part1_dcgan.py").open("a") as f:
        f.write("\n".join(f"# padding {n:06d} " + "x" * 90 for n in range(3000)) + "\n")
    ids = ["dcgan.discriminator", "dcgan.prior", "dcgan.bce", "dcgan.d_loss", "dcgan.g_loss", "dcgan.g_step",
           "dcgan.train_step", "dcgan.interpolate"]
    run = subprocess.run([sys.executable, "-c", SERVE_AND_WATCH, str(folder), json.dumps(ids)], cwd=ROOT,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert json.loads(run.stdout.splitlines()[-1])["passed"] == {i: True for i in ids}
