"""The registry: one check per rubric id, in two halves that never share a process when isolated.

A check is three functions:

* ``draw(context) -> inputs``: the check's random inputs (and settings), drawn under
  ``torch.manual_seed(seed)`` with the grading seed, before any student code runs. Both halves draw
  them, so the judge never takes its inputs from the student's process.
* ``collect(submission, inputs) -> found``: calls the student's code on the inputs and returns what
  it produced, as plain data: tensors, numbers, strings, None, lists, tuples and dicts of them. The
  only half that runs student code; in the sandbox it runs in the student's child process.
* ``judge(inputs, found, context) -> details or None``: the verdict. It raises CheckFailure with a
  message for the student. In the sandbox it runs in a process of the grader's own that never ran
  student code, on ``found`` read back with ``torch.load(weights_only=True)``: a submission can send
  data, never code, a verdict or points, and the expected values never enter its process.

Either half raising CheckFailure fails the check with its message; a student's exception in
collect is reported with the student's line; an exception in judge means `found` was not what the
check expects (a forged or malformed answer) and fails the check too. Nothing propagates.
"""
import io
import re
import traceback
from dataclasses import dataclass, field

import torch

from autograder.load import MissingName
from autograder.rubric import part_of

REGISTRY = {}


class CheckFailure(Exception):
    """The submission does not do what the rubric item asks; the message says what and why."""

    def __init__(self, message, details=None):
        super().__init__(message)
        self.details = details or {}


@dataclass
class Result:
    id: str
    passed: bool
    message: str = ""
    details: dict = field(default_factory=dict)


def no_inputs(context):
    return {}


@dataclass(frozen=True)
class Check:
    id: str
    collect: object  # collect(submission, inputs) -> found
    judge: object  # judge(inputs, found, context) -> details | None; raises CheckFailure
    draw: object = no_inputs  # draw(context) -> inputs
    tries: object = None  # tries(context) -> how many seeds to try before failing (default 1)
    trains: bool = False  # trains networks for a minute or more: the fast suites leave it to its own tests
    module: str = None  # the check module that registered it (autograder/checks/__init__.py says)


def check(rubric_id, *, collect, judge, draw=no_inputs, tries=None, trains=False):
    """Register the check of rubric_id (see the module docstring for the three halves)."""
    if rubric_id in REGISTRY:
        raise ValueError(f"two checks registered for {rubric_id}")
    REGISTRY[rubric_id] = Check(rubric_id, collect, judge, draw, tries, trains)
    return REGISTRY[rubric_id]


def require_registered(ids):
    """KeyError unless a check is registered for each of `ids` (grading.yml's, or a selection of them)."""
    missing = [i for i in ids if i not in REGISTRY]
    if missing:
        raise KeyError(f"grading.yml names checks that no code registers: {missing}")


def rubric_ids(rubric, parts=None, trains=None):
    """grading.yml's ids (in its order) of the checks of `parts` (every part when None): only those that
    train (trains=True), none of them (False), or both (None). The suites select their checks so."""
    return [i for i in rubric["checks"] if (parts is None or part_of(i, rubric["parts"]) in parts)
            and (trains is None or REGISTRY[i].trains == trains)]


NOTEBOOK_CELL = re.compile(r"ipykernel_\d+|<ipython-input-")  # how IPython names the code of a cell


def _where(exc):
    """The innermost frame that belongs to the submission: its filename names a cell or lines (the
    grader's loader), or it is a cell of the running notebook (IPython's names)."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if " cell " in frame.filename or " lines " in frame.filename:
            return f" at {frame.filename}, line {frame.lineno}: `{(frame.line or '').strip()}`"
        if NOTEBOOK_CELL.search(frame.filename):
            return f" in a cell of this notebook, line {frame.lineno}: `{(frame.line or '').strip()}`"
    return ""


def raised(exc):
    """A student's exception in words: its type, its message and the student's line."""
    text = f": {exc}" if str(exc) else ""
    return f"your code raised {type(exc).__name__}{text}{_where(exc)}"


def draw_inputs(rubric_id, context, seed):
    torch.manual_seed(seed)
    return REGISTRY[rubric_id].draw(context)


def encode(found):
    """found as bytes (torch.save): what crosses from the student's process to the judge."""
    buffer = io.BytesIO()
    torch.save(_plain(found), buffer)
    return buffer.getvalue()


def decode(data):
    """Only tensors and plain Python data come back (weights_only): loading cannot run code; and only
    tensors whose values the bytes hold (checked before any judge reads them, validate_tensors)."""
    found = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    validate_tensors(found, len(data))
    return found


ANSWER_DTYPES = {torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.uint8, torch.int8,
                 torch.int16, torch.int32, torch.int64, torch.bool}


def validate_tensors(found, size):
    """Refuse (ValueError) an answer whose tensors claim more values than its `size` bytes hold: a
    forged view (a small storage with zero strides and a huge shape), an offset past its storage, a
    sparse or quantized tensor, an exotic dtype. Shapes, strides and storages are read, never the
    values, so that nothing is allocated before the check."""
    pending, seen, total = [found], 0, 0
    while pending:
        value = pending.pop()
        seen += 1
        if seen > 1_000_000:
            raise ValueError("the answer holds more than a million objects")
        if isinstance(value, dict):
            pending += list(value.keys()) + list(value.values())
        elif isinstance(value, (list, tuple, set)):
            pending += list(value)
        elif torch.is_tensor(value):
            if value.layout != torch.strided or value.is_quantized or value.dtype not in ANSWER_DTYPES:
                raise ValueError(f"a tensor of layout {value.layout} and dtype {value.dtype} is not an answer")
            nbytes = value.numel() * value.element_size()
            extent = value.storage_offset() + sum((n - 1) * s for n, s in zip(value.shape, value.stride()) if n) + 1
            total += nbytes
            if (min(value.stride(), default=0) < 0 or nbytes > size or total > 4 * size
                    or (value.numel() and extent * value.element_size() > value.untyped_storage().nbytes())):
                raise ValueError(f"a tensor of shape {tuple(value.shape)} claims more values than the answer's "
                                 f"{size:,} bytes hold")


def _plain(value):
    if torch.is_tensor(value):
        return value.detach().cpu().clone()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_plain(v) for v in value) if type(value) in (list, tuple) else [_plain(v) for v in value]
    return value


# ---- the two halves, each turning whatever happens into data ----


def _unreadable(rubric_id, exc):
    return Result(rubric_id, False, "the grader could not read what your code produced for this check "
                                    f"({type(exc).__name__}: {exc})")


def collect(rubric_id, submission, context, seed):
    """Run the student's side: (the answer as bytes, None), or (None, Result) when it failed before
    the verdict. The bytes are what crosses to the judge (encode), whatever the process boundary."""
    try:
        inputs = draw_inputs(rubric_id, context, seed)
        torch.manual_seed(seed)
        found = REGISTRY[rubric_id].collect(submission, inputs)
    except CheckFailure as exc:
        return None, Result(rubric_id, False, str(exc), exc.details)
    except MissingName as exc:
        return None, Result(rubric_id, False, str(exc))
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        return None, Result(rubric_id, False, raised(exc))
    try:
        return encode(found), None
    except Exception as exc:  # noqa: BLE001 - the student's objects are not data
        return None, _unreadable(rubric_id, exc)


def judge(rubric_id, data, context, seed):
    """The verdict on collect's answer (bytes), from inputs drawn again here."""
    try:
        found = decode(data)
        inputs = draw_inputs(rubric_id, context, seed)
        details = REGISTRY[rubric_id].judge(inputs, found, context) or {}
        return Result(rubric_id, True, details.pop("message", "ok"), details)  # a passing check may say what it saw
    except CheckFailure as exc:
        return Result(rubric_id, False, str(exc), exc.details)
    except Exception as exc:  # noqa: BLE001 - the answer is the student's data: a malformed one fails the check
        return _unreadable(rubric_id, exc)


def tries(rubric_id, context):
    fn = REGISTRY[rubric_id].tries
    return max(1, int(fn(context))) if fn else 1


def run_tries(rubric_id, context, attempt):
    """attempt(seed) -> Result, for the check's seeds in turn until one passes or fails for a reason
    other than its measured figures (a judge's `run` detail): a correct submission's unlucky seed is
    forgiven, a crash is not retried. The message of a failure lists every run."""
    results = []
    for number in range(tries(rubric_id, context)):
        results.append(attempt(context.seed + number))
        if results[-1].passed or "run" not in results[-1].details:
            break
    last = results[-1]
    if len(results) > 1 and not last.passed:
        runs = "; ".join(f"seed {context.seed + i}: {r.details.get('run', r.message[:80])}"
                         for i, r in enumerate(results))
        last.message += f" (every run failed: {runs})"
        last.details = {**last.details, "runs": runs}
    return last


def run_check(rubric_id, submission, context):
    """Both halves in this process (no isolation): the answer goes through the same bytes as
    between processes, so a check behaves the same isolated or not."""
    def attempt(seed):
        data, failed = collect(rubric_id, submission, context, seed)
        return failed or judge(rubric_id, data, context, seed)
    return run_tries(rubric_id, context, attempt)
