"""Fault: writing a fake, full-marks results.json: to the working directory, to the grading
output folders it can guess (the test grades into /tmp/autograder-fault-out), to /tmp, to
Gradescope's /autograder/results, at import and inside onehot. Every write outside the child's
own working directory is refused; the reports are the grader's; every check is graded."""
import json
import os

from reference.part2_cgan import *  # noqa: F401,F403
from reference.part2_cgan import onehot as _onehot

FAKE = json.dumps({"score": 1000, "tests": [{"name": "hacked", "score": 1000, "max_score": 1}]})
TARGETS = ["results.json", "/tmp/autograder-fault-out/results.json", "/tmp/results.json",
           "/autograder/results/results.json", "/work/main/grading-output/results.json"]


def _fake():
    for path in TARGETS:
        try:
            os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
            with open(path, "w") as f:
                f.write(FAKE)
        except OSError:
            pass


_fake()


def onehot(labels, n_classes=10):
    _fake()
    return _onehot(labels, n_classes)
