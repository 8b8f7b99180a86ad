"""Grading on a GPU through the sandbox: CUDA must start in a submission's bwrap namespace.

On the H100 machine a child locked down on a read-only filesystem could not start CUDA ("Error
304: OS call failed"), so every check that uses the GPU failed for correct submissions. Skipped
where there is no CUDA GPU (CI): run it on a GPU runner.
"""
import pytest
import torch

from autograder.sandbox import isolation_available
from autograder.score import grade

pytestmark = [
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU: CUDA in a confined child"),
    pytest.mark.skipif(not isolation_available(), reason="the sandbox needs Linux"),
]


@pytest.fixture(scope="module")
def graded():
    return grade("reference", ["dcgan.prior", "cgan.prior"], device="cuda", isolation="bwrap")


def test_checks_that_use_the_gpu_pass_for_the_reference_in_the_sandbox(graded):
    results = graded.scored
    assert [(r.id, r.passed) for r in results] == [("dcgan.prior", True), ("cgan.prior", True)], \
        [r.message for r in results]


def test_the_gpu_checks_ran_inside_the_submissions_namespace(graded):
    """The GPU device files and driver libraries are bound into the bwrap namespace
    (autograder/isolation.py, _gpu_binds): the checks above passed there, not outside it."""
    info, _ = graded
    assert info.fingerprint["isolation"]["mode"] == "bwrap", info.fingerprint["isolation"]
