"""Stage 3: run the rubric's checks on a loaded submission and total the points."""
import hashlib
import platform
from dataclasses import dataclass

import torch

import autograder.checks  # noqa: F401  (registers every check)
from autograder.checks.registry import REGISTRY, run_check
from autograder.load import load_submission
from autograder.report import Scored
from autograder.rubric import EXPECTED_DIR, RUBRIC_PATH, grading_seed, load_expected, load_rubric


@dataclass
class Context:
    """What a check may use besides the submission: the rubric, the expected values, the device."""
    rubric: dict
    expected: dict
    device: str = "cpu"
    seed: int = 0


def fingerprint(context):
    """What a disputed grade needs to be re-run identically: software, hardware, rubric, seed. The CPU's
    instruction set (the kernels torch picks) and torch's build change the last bits of a training run,
    which training amplifies: a re-run on another CPU or build agrees only within the spread measured
    in benchmarks/README.md."""
    digest = hashlib.sha256(RUBRIC_PATH.read_bytes())
    for path in sorted(EXPECTED_DIR.glob("*.json")):
        digest.update(path.read_bytes())
    device = torch.device(context.device)
    return {"torch": torch.__version__, "torch_git": torch.version.git_version, "cuda": torch.version.cuda,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "python": platform.python_version(),
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
            "rubric_sha256": digest.hexdigest(), "seed": context.seed}


def default_device():
    return "cuda" if torch.cuda.is_available() else "cpu"


def make_context(device=None, rubric=None, seed=None):
    rubric = rubric or load_rubric()
    return Context(rubric, load_expected(), device or default_device(), grading_seed(rubric, seed))


def score_one(rubric_id, submission, context):
    if hasattr(submission, "score_isolated"):  # loaded in the sandbox (autograder/sandbox.py), not here
        return submission.score_isolated(rubric_id)
    item = context.rubric["checks"][rubric_id]
    result = run_check(rubric_id, submission, context)
    return Scored(rubric_id, item.get("title", rubric_id), item["points"] if result.passed else 0, item["points"],
                  result.passed, result.message, item["visibility"], result.details)


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
