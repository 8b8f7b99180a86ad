"""Stage 3: run the rubric's checks on a loaded submission and total the points.

`grade` is the one entry point of every front end: `python -m autograder grade` (and Gradescope's
run_autograder, through it), a class's batch, `pytest autograder` and a notebook's `check`.
Torch and the checks are imported only where they run: a sandboxed grading's own process never
needs them, and importing them (2.5 s) would delay the sandbox's start (benchmarks/PROFILE.md)."""
import time
from pathlib import Path

from autograder.modes import ISOLATIONS
from autograder.report import Graded, Scored
from autograder.rubric import load_rubric


def score_one(rubric_id, submission, context):
    """One rubric item on a submission loaded in this process."""
    from autograder.checks.registry import run_check
    result = run_check(rubric_id, submission, context)
    return Scored.of(context.rubric, rubric_id, result.passed, result.message, result.details)


def grade(submission, ids=None, device=None, isolation="in-process", limits=None, seed=None, threads=None,
          on_progress=None, sandbox=None):
    """Grade `submission` on grading.yml's items (or those in `ids`): a Graded.

    submission: a folder or file; or, in-process, an autograder.load.Submission already loaded (a
    notebook's live namespace). isolation: "bwrap" or "container", the submission's code runs only
    in the sandbox's children (autograder/sandbox.py), under grading.yml's `limits:` (or `limits`, a
    dict or YAML file, over them); "in-process", in this process (the suites, a machine without
    fork). sandbox: a started autograder.sandbox.Sandbox to grade in, for a front end that keeps one
    server for many gradings (a class's worker) or started it early (pytest); its device, limits,
    seed and isolation apply. device: None for autograder.preflight.default_device. seed: the
    checks' seed (grading_seed). on_progress: a function (done, total, elapsed s) told a training
    run's progress."""
    if isolation not in ISOLATIONS:
        raise ValueError(f"isolation must be one of {ISOLATIONS}, not {isolation!r}")
    rubric = load_rubric()
    unknown = [i for i in ids or () if i not in rubric["checks"]]
    if unknown:  # before any front end's path: a sandbox would grade the others and drop these silently
        raise KeyError(f"{', '.join(map(repr, unknown))} not an item of grading.yml (items: "
                       f"{', '.join(rubric['checks'])})")
    loaded = not isinstance(submission, (str, Path))
    if loaded and (sandbox is not None or isolation != "in-process"):
        raise ValueError("a loaded Submission is graded in-process: a sandbox grades files")
    if sandbox is not None:
        sandbox.on_progress = on_progress
        return sandbox.grade(submission, ids)
    if isolation != "in-process":
        from autograder.sandbox import Sandbox
        with Sandbox(device=device, limits=limits, threads=threads, seed=seed, isolation=isolation,
                     submissions=1) as box:
            return grade(submission, ids, on_progress=on_progress, sandbox=box)
    from autograder.checks.registry import require_registered
    from autograder.context import fingerprint, make_context
    from autograder.load import load_submission
    from autograder.trainer import progress
    started = time.monotonic()
    context = make_context(device, rubric, seed)
    ids = [i for i in context.rubric["checks"] if ids is None or i in ids]
    require_registered(ids)
    path = str(submission.root if loaded else submission)
    heard = progress.set(on_progress)
    try:
        if not loaded:
            submission = load_submission(submission, context.rubric["parts"])
        scored = [score_one(i, submission, context) for i in ids]
    finally:
        progress.reset(heard)
    parts = {name: {"file": str(part.path) if part.path else None, "blocks": part.blocks, "failed": None,
                    "skipped": {e.where: e.summary for e in part.errors}, "tampered": []}
             for name, part in submission.parts.items()}
    return Graded(path, scored, fingerprint(context), parts, round(time.monotonic() - started, 2))
