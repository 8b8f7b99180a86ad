"""Grading on a GPU through the sandbox: CUDA must start in a confined child.

On the H100 machine a child locked down on the read-only filesystem could not start CUDA ("Error
304: OS call failed"), so every check that uses the GPU failed for correct submissions. Skipped
where there is no CUDA GPU (CI): run it on a GPU runner.
"""
import os

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
    return grade("reference", device="cuda", only=["dcgan.prior", "cgan.prior"], isolate=True)


def test_checks_that_use_the_gpu_pass_for_the_reference_in_the_sandbox(graded):
    _, results = graded
    assert [(r.id, r.passed) for r in results] == [("dcgan.prior", True), ("cgan.prior", True)], \
        [r.message for r in results]


@pytest.mark.skipif(os.geteuid() != 0, reason="the read-only filesystem is made as root")
def test_the_children_keep_their_read_only_filesystem_on_the_gpu(graded):
    """The server falls back to a writable filesystem when CUDA cannot start on the read-only one;
    this says whether it had to here (the fingerprint records it for every grading)."""
    info, _ = graded
    assert info.fingerprint["isolation"]["filesystem"].startswith("read-only"), info.fingerprint["isolation"]
