"""Locations as a student sees them: a notebook cell is cited by what Jupyter shows of it (what it
defines, or its first line) and the line in it, never by an index or an nbgrader id."""
from pathlib import Path

import pytest

from autograder.locate import cell_name, cell_names
from autograder.score import grade

RELEASE = Path(__file__).resolve().parent.parent / "assignments" / "genmodels"


@pytest.mark.parametrize("source, name", [
    ("def kl_divergence(mu, logvar):\n    # YOUR CODE HERE\n    raise NotImplementedError()", "cell defining `kl_divergence`"),
    ("class A:\n    pass\n\nclass B(A):\n    pass\n\ndef c():\n    pass\n", "cell defining `A`, `B` and 1 more"),
    ("def bce(p, t):\n    return oops(", "cell defining `bce`"),  # does not parse: still named
    ("# Set-up\n\npass\nnetD = Discriminator().to(device)", "cell starting `netD = Discriminator().to(device)`"),
    ('print("a rather long first line that goes on and on and on")', "cell starting `print('a rather long first line that...`"),
    ("# only a comment", "cell starting `# only a comment`"),
])
def test_a_cell_is_named_by_what_it_defines_or_its_first_line(source, name):
    assert cell_name(source) == name


def test_cells_of_one_notebook_never_share_a_name():
    assert cell_names(["x = 1", "y = 2", "x = 1", "x = 1"]) == [
        "cell starting `x = 1`", "cell starting `y = 2`", "cell starting `x = 1` (2nd such)",
        "cell starting `x = 1` (3rd such)"]


@pytest.mark.parametrize("isolation", ["in-process", "bwrap"])
def test_an_unfinished_function_is_cited_by_its_cell_and_line(isolation):
    """The released notebook, as a student who has written nothing yet hands it in."""
    scored = grade(RELEASE / "part3_vae.ipynb", ["vae.kl"], device="cpu", isolation=isolation, seed=0).scored
    message = scored[0].message
    assert "part3_vae.ipynb cell defining `kl_divergence`, line " in message, message
    assert "sol-" not in message and "cell 1" not in message, message
