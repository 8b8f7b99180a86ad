"""Which isolation a grading gets, and why: who is protected from whom decides, not the machine.

* The instructor's tools (`python -m autograder batch`, CI, Gradescope's container) grade other
  people's code: `--isolation bwrap` (batch's default) refuses without a working sandbox, since a
  student's code must not reach another's (docs/batch.md).
* A student's own run (`pytest autograder`, `./run grade`, a notebook's `check(...)`) grades their
  one submission on their own machine, where there is no classmate to protect: `--isolation auto`
  (their default) takes the strongest mode the platform allows, says which in one line, and gives
  the same verdicts: "bwrap"; else "container" (Linux without user namespaces: the judge still
  runs apart from the student's code, under the limits); else "in-process" (macOS, Windows: no
  fork, no /proc, which the sandbox's children need).
"""
import os
import sys
from pathlib import Path

ISOLATIONS = ("bwrap", "container", "in-process")  # the one name of each mode, in every front end
OWN_RUN = "auto"
# Comma-separated "no-fork", "no-proc", "no-bwrap": make this Linux machine look like Windows or
# macOS (no fork, no /proc) or like one whose user namespaces are restricted, to test those paths.
PRETEND = "GAN_COURSE_PRETEND"


def _pretending(what):
    return what in os.environ.get(PRETEND, "").split(",")


def fork_and_proc():
    """What the sandbox's processes need (zygote.py forks and reads /proc): Linux, in practice."""
    return (sys.platform.startswith("linux") and hasattr(os, "fork") and not _pretending("no-fork")
            and Path("/proc/self/stat").exists() and not _pretending("no-proc"))


def bwrap_problem(device):
    """None when bwrap runs here, else why not (isolation.check_bwrap's words)."""
    if _pretending("no-bwrap"):
        return f"pretending, as {PRETEND} asks, that user namespaces are not allowed"
    from autograder.isolation import check_bwrap
    return check_bwrap(device or "cpu")


def own_run(device=None):
    """(mode, why) for a student grading their own submission: "bwrap", "container" or "in-process"."""
    if not fork_and_proc():
        return "in-process", (f"{sys.platform if not _pretending('no-fork') else 'forced'}: no fork or /proc for "
                              "the sandbox's processes, so the checks run in this process (same verdicts)")
    why = bwrap_problem(device)
    if why is None:
        return "bwrap", "your code runs in a sandbox of its own, the judge apart from it"
    return "container", (f"no sandbox ({why}); grading your own submission needs none: your code runs in "
                         "child processes under the limits, the judge apart from it (same verdicts)")


def mode_line(mode, why):
    """The one line a run prints."""
    return f"isolation: {mode}: {why}"
