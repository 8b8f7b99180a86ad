"""The registry: one check function per rubric id, and the wrapper that turns any outcome into a Result.

A check raises CheckFailure with a message for the student; returning means it passed (it may
return a dict of details for the report). Anything else a check raises comes from the student's
code (or, rarely, from a check's bug) and is reported with the student's line, never propagated.
"""
import traceback
from dataclasses import dataclass, field

import torch

from autograder.load import MissingName

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


def check(rubric_id):
    """Decorator: register fn(submission, context) under rubric_id."""
    def register(fn):
        if rubric_id in REGISTRY:
            raise ValueError(f"two checks registered for {rubric_id}")
        REGISTRY[rubric_id] = fn
        return fn
    return register


def _where(exc):
    """The innermost frame that belongs to the submission (its filename names a cell or lines)."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if " cell " in frame.filename or " lines " in frame.filename:
            return f" at {frame.filename}, line {frame.lineno}: `{(frame.line or '').strip()}`"
    return ""


def run_check(rubric_id, submission, context):
    fn = REGISTRY[rubric_id]
    torch.manual_seed(context.seed)  # a check's random inputs are the same on every run
    try:
        details = fn(submission, context) or {}
        return Result(rubric_id, True, "ok", details)
    except CheckFailure as exc:
        return Result(rubric_id, False, str(exc), exc.details)
    except MissingName as exc:
        return Result(rubric_id, False, str(exc))
    except (Exception, SystemExit, KeyboardInterrupt) as exc:
        text = f": {exc}" if str(exc) else ""
        return Result(rubric_id, False, f"your code raised {type(exc).__name__}{text}{_where(exc)}")
