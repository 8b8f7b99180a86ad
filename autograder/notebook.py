"""The notebook front end: `check(rubric_id)` grades the notebook that calls it.

Every autograded cell of the assignment's notebooks is

    from autograder.notebook import check
    check("dcgan.discriminator")

`check` builds an autograder.load.Submission whose part (the one the rubric id belongs to:
dcgan -> part1_dcgan, cgan -> part2_cgan, vae -> part3_vae) is the calling notebook's own
namespace, and grades it with autograder.score.grade: the very code that
`pytest autograder --submission ...` runs, with the same rubric (grading.yml), the same
expected values, one seed (drawn per kernel, or $AUTOGRADER_SEED) before each check. It prints
one line on stdout, returns None, and raises CheckFailed (an AssertionError) with the check's
message when the check fails.

nbgrader's rules for a test cell, and how this module keeps them:
  * an error output scores 0, anything else full marks: a failed check raises;
  * anything written to stderr also scores 0: warnings (PyTorch's included) and whatever the
    student's code writes to stderr during the check are swallowed, at the Python level and
    at the file-descriptor level (ipykernel forwards fd 2 to the cell's stderr);
  * a cell whose last value is a number would be read as partial credit: check returns None;
  * the traceback is the check's message alone (IPython's `_render_traceback_`), so that the
    feedback of a hidden test shows why it failed but no test code.
"""
import contextlib
import io
import os
import sys
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path

from autograder.rubric import load_rubric, part_of

__all__ = ["check", "CheckFailed", "part_of"]


class CheckFailed(AssertionError):
    """A rubric check failed; the message is the grader's explanation."""

    def __init__(self, rubric_id, message, points=0, max_points=0):
        super().__init__(message)
        self.rubric_id = rubric_id
        self.message = message
        self.points, self.max_points = points, max_points

    def _render_traceback_(self):  # IPython shows these lines instead of a traceback
        return [f"\x1b[0;31mCheckFailed\x1b[0m: {self.rubric_id}: {self.message}"]


@lru_cache(maxsize=None)
def _context(device):
    from autograder.context import make_context
    return make_context(device)


def _caller_namespace(depth):
    """The IPython user namespace, or (outside IPython) the globals of check's caller."""
    try:
        from IPython import get_ipython
        shell = get_ipython()
    except ImportError:
        shell = None
    if shell is not None:
        return shell.user_ns
    return sys._getframe(depth + 1).f_globals


@contextlib.contextmanager
def _quiet():
    """Swallow warnings and stderr (Python-level and fd 2) and the student's stdout while a check runs."""
    sink = io.StringIO()
    saved_fd = None
    try:
        sys.stderr.flush()
        saved_fd = os.dup(2)
    except (OSError, ValueError, AttributeError):
        saved_fd = None
    with tempfile.TemporaryFile() as fd_sink:
        if saved_fd is not None:
            os.dup2(fd_sink.fileno(), 2)
        try:
            with warnings.catch_warnings(), contextlib.redirect_stderr(sink), contextlib.redirect_stdout(sink):
                warnings.simplefilter("ignore")
                yield sink
        finally:
            if saved_fd is not None:
                os.dup2(saved_fd, 2)
                os.close(saved_fd)


def grade(rubric_id, namespace, device=None, part=None, filename=None):
    """Score one rubric item on a namespace; returns autograder.score.Scored (no printing, no raising)."""
    from autograder.load import Part, Submission
    from autograder.report import printed_to
    from autograder.score import grade as grade_submission

    parts = load_rubric()["parts"]
    part = part or part_of(rubric_id, parts)
    path = Path(filename or f"{part}.ipynb")
    submission = Submission(root=Path.cwd(), parts={name: Part(name=name) for name in parts})
    submission.parts[part] = Part(name=part, path=path, namespace=namespace)  # the live namespace, not a copy
    kernel = _context(device)  # one seed per kernel, said when a check fails
    shown = printed_to(sys.stdout)  # the cell's output: the run's progress, not the student's prints
    with _quiet():
        return grade_submission(submission, [rubric_id], device=kernel.device, seed=kernel.seed,
                                on_progress=shown).scored[0]


_MODE_SAID = []  # the isolation line is printed once per kernel


def check(rubric_id, namespace=None, *, device=None, part=None):
    """Grade rubric item `rubric_id` on the calling notebook; print the result, raise CheckFailed if it fails."""
    namespace = _caller_namespace(1) if namespace is None else namespace
    scored = grade(rubric_id, namespace, device=device, part=part)
    said = ""
    if not _MODE_SAID:  # on stdout after the verdict's line: nbgrader scores a cell with stderr 0
        from autograder.modes import mode_line
        said = "\n" + mode_line("in-process", "a notebook's check grades the objects your kernel holds, your own "
                                 "work on your own machine (`./run grade` grades the files, same verdicts)")
        _MODE_SAID.append(said)
    if scored.passed:
        from autograder.report import shown
        print(f"{rubric_id}: {scored.points:g}/{scored.max_points:g} points. ok: {shown(scored, scored.title)}{said}")
        return None
    print(f"{rubric_id}: {scored.points:g}/{scored.max_points:g} points (checks' seed {_context(device).seed}: "
          f"AUTOGRADER_SEED replays it).{said}")
    raise CheckFailed(rubric_id, scored.message, scored.points, scored.max_points)
