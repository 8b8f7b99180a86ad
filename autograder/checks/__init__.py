"""Stage 2: the checks. Each module registers its checks under their rubric ids (grading.yml)."""
from autograder.checks import architecture, losses, misc, prior, steps, vae  # noqa: F401
