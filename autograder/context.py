"""What a check may use besides the submission (the rubric, the expected values, the device, the
seed), and the fingerprint that lets a disputed grade be re-run identically."""
import platform
from dataclasses import dataclass

import torch

from autograder.preflight import default_device
from autograder.rubric import grading_seed, load_expected, load_rubric, rubric_digest


@dataclass
class Context:
    rubric: dict
    expected: dict
    device: str = "cpu"
    seed: int = 0


def fingerprint(context):
    """What a disputed grade needs to be re-run identically: software, hardware, rubric, seed. The CPU's
    instruction set (the kernels torch picks) and torch's build change the last bits of a training run,
    which training amplifies: a re-run on another CPU or build agrees only within the spread measured
    in benchmarks/README.md."""
    device = torch.device(context.device)
    return {"torch": torch.__version__, "torch_git": torch.version.git_version, "cuda": torch.version.cuda,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "python": platform.python_version(),
            "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
            "rubric_sha256": rubric_digest(), "seed": context.seed}


def make_context(device=None, rubric=None, seed=None):
    rubric = rubric or load_rubric()
    return Context(rubric, load_expected(), device or default_device(), grading_seed(rubric, seed))
