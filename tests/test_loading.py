"""Loading: broken cells and statements cost only the names they define; experiments never run."""
import json

import nbformat

from autograder.load import MissingName, load_part, load_submission

GOOD = "import torch\n\ndef get_noise(batch_size, nz=100, device='cpu'):\n    return torch.randn(batch_size, nz, 1, 1, device=device)\n"


def _notebook(path, cells):
    nb = nbformat.v4.new_notebook()
    for source, tags in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nbformat.write(nb, str(path))


def test_a_failing_notebook_cell_costs_only_its_own_names(tmp_path):
    _notebook(tmp_path / "part1_dcgan.ipynb", [
        ("%matplotlib inline\n" + GOOD, []),
        ("def bce(p, t):\n    return oops(", []),  # syntax error
        ("def d_loss(r, f):\n    return r.mean()\nraise RuntimeError('boom')", []),
        ("raise SystemExit('experiment would run for hours')", ["experiment"]),
        ("def g_loss(f):\n    return f.mean()", []),
    ])
    part = load_part(tmp_path, "part1_dcgan")
    assert set(part.namespace) >= {"get_noise", "g_loss", "d_loss"}
    assert [e.where for e in part.errors] == ["cell defining `bce`", "cell defining `d_loss`"]
    sub = load_submission(tmp_path, ["part1_dcgan"])
    try:
        sub.get("part1_dcgan", "bce")
    except MissingName as exc:
        assert "part1_dcgan.ipynb cell defining `bce` failed" in str(exc) and "SyntaxError" in str(exc)
    else:
        raise AssertionError("bce should be missing")


def test_a_python_file_with_a_syntax_error_still_defines_the_other_functions(tmp_path):
    (tmp_path / "part3_vae.py").write_text(
        '"""Module docstring\nspanning lines."""\nimport torch\n\ndef reparameterize(mu, logvar)\n    return mu\n\n'
        "def kl_divergence(mu, logvar):\n    return -0.5 * (1 + logvar - mu ** 2 - logvar.exp()).sum(1)\n")
    part = load_part(tmp_path, "part3_vae")
    assert "kl_divergence" in part.namespace and "reparameterize" not in part.namespace
    assert part.errors[0].defines == ["reparameterize"] and "line 5" in part.errors[0].summary


def test_missing_part_is_reported_not_raised(tmp_path):
    sub = load_submission(tmp_path, ["part2_cgan"])
    try:
        sub.get("part2_cgan", "onehot")
    except MissingName as exc:
        assert "no part2_cgan.ipynb or part2_cgan.py" in str(exc)


def test_nbgrader_test_cells_are_not_run(tmp_path):
    _notebook(tmp_path / "part2_cgan.ipynb", [("x = 1", [])])
    nb = json.loads((tmp_path / "part2_cgan.ipynb").read_text())
    nb["cells"].append({"cell_type": "code", "metadata": {"nbgrader": {"grade": True, "solution": False,
                        "grade_id": "t", "points": 1}}, "source": "raise SystemExit(1)", "outputs": [],
                        "execution_count": None})
    (tmp_path / "part2_cgan.ipynb").write_text(json.dumps(nb))
    part = load_part(tmp_path, "part2_cgan")
    assert part.errors == [] and part.namespace["x"] == 1
