"""Stage 3: run the rubric's checks on a loaded submission and total the points."""
import autograder.checks  # noqa: F401  (registers every check)
from autograder.checks.registry import REGISTRY, run_check
from autograder.context import make_context
from autograder.load import load_submission
from autograder.report import Scored


def score_one(rubric_id, submission, context):
    if hasattr(submission, "score_isolated"):  # loaded in the sandbox (autograder/sandbox.py), not here
        return submission.score_isolated(rubric_id)
    result = run_check(rubric_id, submission, context)
    return Scored.of(context.rubric, rubric_id, result.passed, result.message, result.details)


def grade(path, device=None, only=None, isolate=False, limits=None, seed=None, context=None):
    """Load the submission at `path` and score every rubric item (or those in `only`).

    isolate=True: the submission's code runs only in child processes, under grading.yml's
    `limits:` (or `limits`, a dict or YAML file, over them); the first value returned is then a
    sandbox.Graded (fingerprint, what loading skipped) instead of the loaded Submission.
    seed: the checks' seed (grading_seed); context: a Context made already (device and seed then unused)."""
    if isolate:
        from autograder.sandbox import grade_isolated
        return grade_isolated(path, device, only, limits, seed)
    context = context or make_context(device, seed=seed)
    submission = load_submission(path, context.rubric["parts"])
    ids = [i for i in context.rubric["checks"] if only is None or i in only]
    missing = [i for i in ids if i not in REGISTRY]
    if missing:
        raise KeyError(f"grading.yml names checks that no code registers: {missing}")
    return submission, [score_one(i, submission, context) for i in ids]
