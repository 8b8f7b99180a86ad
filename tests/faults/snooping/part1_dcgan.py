"""Fault: looking for the answers and the hidden checks from inside the grader's process: the
expected values, the other checks, the hidden checks' module, the rubric, the reference's files.
bce fails with a message listing what it found, which must be nothing."""
import gc
import sys

from reference.part1_dcgan import *  # noqa: F401,F403


def _snoop():
    found = []
    registry = sys.modules.get("autograder.checks.registry")
    if registry is not None and len(registry.REGISTRY) > 1:
        found.append(f"{len(registry.REGISTRY)} checks in REGISTRY")
    if "autograder.checks.hidden" in sys.modules:
        found.append("the hidden checks' module")
    for obj in gc.get_objects():
        if isinstance(obj, dict) and ("architectures" in obj or "dcgan.width_arguments_generator" in obj):
            found.append("expected values or hidden rubric entries in memory")
            break
    for path in ("grading.yml", "reference/part1_dcgan.py", "autograder/expected/architectures.json",
                 "autograder/checks/hidden.py"):
        for root in sys.path:
            try:
                with open(f"{root}/{path}") as f:
                    f.read(1)
                found.append(f"read {path}")
                break
            except OSError:
                pass
    return ", ".join(found) or "nothing"


def bce(p, target):
    raise RuntimeError(f"snooped: {_snoop()}")
