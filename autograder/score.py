"""Stage 3: run the rubric's checks on a loaded submission and total the points.

Torch and the checks are imported only where they run: a sandboxed grading's own process never
needs them, and importing them (2.5 s) would delay the sandbox's start (benchmarks/PROFILE.md)."""
import time

from autograder.modes import ISOLATIONS
from autograder.report import Graded, Scored


def score_one(rubric_id, submission, context):
    if hasattr(submission, "score_isolated"):  # loaded in the sandbox (autograder/sandbox.py), not here
        return submission.score_isolated(rubric_id)
    from autograder.checks.registry import run_check
    result = run_check(rubric_id, submission, context)
    return Scored.of(context.rubric, rubric_id, result.passed, result.message, result.details)


def grade(path, ids=None, device=None, isolation="in-process", limits=None, seed=None, threads=None,
          on_progress=None):
    """Grade the submission at `path` on grading.yml's items (or those in `ids`): a Graded.

    isolation: "bwrap" or "container", the submission's code runs only in the sandbox's children
    (autograder/sandbox.py), under grading.yml's `limits:` (or `limits`, a dict or YAML file, over
    them); "in-process", in this process (the suites, a machine without fork). device: None for
    autograder.preflight.default_device. seed: the checks' seed (grading_seed). on_progress: a
    function (done, total, elapsed s) told a training run's progress."""
    if isolation not in ISOLATIONS:
        raise ValueError(f"isolation must be one of {ISOLATIONS}, not {isolation!r}")
    if isolation != "in-process":
        from autograder.sandbox import Sandbox
        with Sandbox(device=device, limits=limits, threads=threads, seed=seed, isolation=isolation,
                     submissions=1) as box:
            box.on_progress = on_progress
            return box.grade(path, ids)
    from autograder.checks.registry import REGISTRY
    from autograder.context import fingerprint, make_context
    from autograder.load import load_submission
    from autograder.trainer import progress
    started = time.monotonic()
    context = make_context(device, seed=seed)
    ids = [i for i in context.rubric["checks"] if ids is None or i in ids]
    missing = [i for i in ids if i not in REGISTRY]
    if missing:
        raise KeyError(f"grading.yml names checks that no code registers: {missing}")
    heard = progress.set(on_progress)
    try:
        submission = load_submission(path, context.rubric["parts"])
        scored = [score_one(i, submission, context) for i in ids]
    finally:
        progress.reset(heard)
    parts = {name: {"file": str(part.path) if part.path else None, "blocks": part.blocks, "failed": None,
                    "skipped": {e.where: e.summary for e in part.errors}, "tampered": []}
             for name, part in submission.parts.items()}
    return Graded(str(path), scored, fingerprint(context), parts, round(time.monotonic() - started, 2))
