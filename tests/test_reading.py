"""A submission is read as Python reads it (issue 13): PEP 263 coding lines, a UTF-8 byte-order
mark, Windows and classic Mac OS line endings; two files for one part: the grader says which it
graded and why; links and special files are refused before anything is read through them."""
import os
import time

import nbformat
import pytest

from autograder import batch
from autograder.load import MissingName, choose_part_file, find_parts, load_part, load_submission, submission_notes
from autograder.rubric import ROOT

REFERENCE = (ROOT / "reference" / "part1_dcgan.py").read_text()
NAMES = ["Discriminator", "Generator", "weights_init", "get_noise", "bce", "d_loss", "g_loss", "train_step"]
FRENCH = "# -*- coding: latin-1 -*-\n# Partie 1 : le générateur, à écrire soi-même. Très bien ; déjà vu.\n"


def _names_loaded(tmp_path):
    part = load_part(tmp_path, "part1_dcgan")
    assert part.errors == [], part.errors
    return part.namespace


@pytest.mark.parametrize("encode", [
    pytest.param(lambda s: (FRENCH + s + "\nremarque = 'réussi'\n").encode("latin-1"), id="latin-1 coding line"),
    pytest.param(lambda s: b"\xef\xbb\xbf" + s.encode(), id="utf-8 byte-order mark"),
    pytest.param(lambda s: s.replace("\n", "\r\n").encode(), id="CRLF"),
    pytest.param(lambda s: s.replace("\n", "\r").encode(), id="CR"),
    pytest.param(lambda s: ("# -*- coding: cp1252 -*-\n# l’été\n" + s.replace("\n", "\r\n")).encode("cp1252"),
                 id="cp1252 and CRLF"),
])
def test_files_python_runs_load_whole(tmp_path, encode):
    (tmp_path / "part1_dcgan.py").write_bytes(encode(REFERENCE))
    namespace = _names_loaded(tmp_path)
    assert all(name in namespace for name in NAMES)
    if "remarque" in namespace:
        assert namespace["remarque"] == "réussi"


def test_line_numbers_are_pythons_in_any_line_ending_and_after_a_form_feed(tmp_path):
    for ending in ("\n", "\r\n", "\r"):
        source = ending.join(["x = 1", "# a form feed \x0c in a comment, a \u2028 separator too", "",
                              "def bad():", "    return 1", "y = 1 / 0", "z = 3", ""])
        (tmp_path / "part3_vae.py").write_bytes(source.encode())
        part = load_part(tmp_path, "part3_vae")
        assert part.namespace["z"] == 3 and "bad" in part.namespace
        assert [e.where for e in part.errors] == ["lines 6-6"], (repr(ending), part.errors)
        assert "ZeroDivisionError" in part.errors[0].summary and "line 6" in part.errors[0].summary


def test_bytes_of_another_encoding_are_refused_where_import_refuses_them(tmp_path):
    """Without a coding line, Latin-1 bytes in a comment are let be by `import` (replaced here),
    in a string they are a SyntaxError (the whole file refused, with the line and the fix)."""
    (tmp_path / "part1_dcgan.py").write_bytes(b"import torch\n# g\xe9n\xe9rateur\nx = 1\n")
    assert _names_loaded(tmp_path)["x"] == 1
    (tmp_path / "part1_dcgan.py").write_bytes(b"import torch\nx = 1\nname = 'g\xe9n\xe9rateur'\n")
    with pytest.raises(SyntaxError):
        compile((tmp_path / "part1_dcgan.py").read_bytes(), "f", "exec")  # Python refuses it too
    sub = load_submission(tmp_path, ["part1_dcgan"])
    with pytest.raises(MissingName) as error:
        sub.get("part1_dcgan", "x")
    assert "line 3 is not valid utf-8" in str(error.value) and "coding: latin-1" in str(error.value)


def test_a_notebook_with_a_byte_order_mark_and_windows_line_endings_loads(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("import torch\r\ndef get_noise(b, nz=100, device='cpu'):\r\n"
                                              "    return torch.randn(b, nz, 1, 1, device=device)\r\n"))
    (tmp_path / "part1_dcgan.ipynb").write_bytes(b"\xef\xbb\xbf" + nbformat.writes(nb).encode())
    namespace = _names_loaded(tmp_path)
    assert namespace["get_noise"](2).shape == (2, 100, 1, 1)


def test_of_two_files_for_one_part_the_newer_is_graded_and_the_student_is_told(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(nbformat.v4.new_code_cell("stale = True"))
    notebook, script = tmp_path / "part1_dcgan.ipynb", tmp_path / "part1_dcgan.py"
    nbformat.write(nb, str(notebook))
    script.write_text("fresh = True\n")
    now = time.time()
    os.utime(notebook, (now - 3600, now - 3600))
    os.utime(script, (now, now))
    chosen, note = choose_part_file(tmp_path, "part1_dcgan")
    assert chosen == script
    assert "both part1_dcgan.ipynb and part1_dcgan.py" in note and "graded part1_dcgan.py" in note
    assert "modified after" in note
    assert load_part(tmp_path, "part1_dcgan").namespace.get("fresh") is True
    os.utime(notebook, (now + 60, now + 60))
    assert choose_part_file(tmp_path, "part1_dcgan")[0] == notebook
    os.utime(notebook, (now + 1, now + 1))  # the same time (a zip or a fresh checkout): the notebook
    chosen, note = choose_part_file(tmp_path, "part1_dcgan")
    assert chosen == notebook and "same time" in note
    assert submission_notes(tmp_path, ["part1_dcgan", "part2_cgan"]) == [note]
    (tmp_path / "part2_cgan.py").write_text("x = 1\n")
    assert choose_part_file(tmp_path, "part2_cgan") == (tmp_path / "part2_cgan.py", "")


def test_links_and_special_files_are_refused_before_anything_is_read(tmp_path):
    secret = tmp_path / "reference_part.py"
    secret.write_text("answer = 42\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    os.symlink(secret, sub / "part1_dcgan.py")
    os.mkfifo(sub / "part2_cgan.py")  # reading it would block the grader forever
    os.symlink(tmp_path / "nowhere", sub / "part3_vae.ipynb")  # dangling: still named, still refused
    loaded = load_submission(sub, ["part1_dcgan", "part2_cgan", "part3_vae"])
    assert "answer" not in loaded.parts["part1_dcgan"].namespace
    for part, what in (("part1_dcgan", "is a symbolic link"), ("part2_cgan", "not a regular file"),
                       ("part3_vae", "is a symbolic link")):
        with pytest.raises(MissingName) as error:
            loaded.get(part, "answer")
        assert what in str(error.value) and "submit the file itself" in str(error.value)
    hashed = batch.submission_hash(sub, ["part1_dcgan"])
    secret.write_text("answer = 43\n")  # the hash never read through the link either
    assert batch.submission_hash(sub, ["part1_dcgan"]) == hashed


def test_the_pytest_front_end_says_which_of_two_files_it_grades(tmp_path):
    import subprocess
    import sys
    (tmp_path / "part3_vae.py").write_text((ROOT / "reference" / "part3_vae.py").read_text())
    nbformat.write(nbformat.v4.new_notebook(), str(tmp_path / "part3_vae.ipynb"))
    os.utime(tmp_path / "part3_vae.ipynb", (time.time() - 3600,) * 2)
    run = subprocess.run([sys.executable, "-m", "pytest", "autograder", "-p", "no:cacheprovider", "--co", "-q",
                          "--submission", str(tmp_path), "--grading-out", str(tmp_path / "out")],
                         cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                         timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "note: both part3_vae.ipynb and part3_vae.py are in your submission: the grader graded part3_vae.py" \
        in run.stderr


@pytest.mark.parametrize("isolation", ["in-process", "container"])
def test_parts_are_found_under_the_names_students_give_them(tmp_path, isolation):
    """One rule in every front end (load.find_parts): a renamed or nested part file is graded, here
    as by Gradescope, and a stale copy beside it is left aside."""
    from autograder.score import grade
    (tmp_path / "Part1-DCGAN.py").write_text(REFERENCE)
    (tmp_path / "hw").mkdir()
    (tmp_path / "hw" / "part3_vae (1).py").write_text((ROOT / "reference" / "part3_vae.py").read_text())
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "part1_dcgan.py").write_text("def bce(p, t):\n    return 0\n")  # exact name, but deeper
    found = find_parts(tmp_path, ["part1_dcgan", "part2_cgan", "part3_vae"])
    assert found["part1_dcgan"].chosen.name == "Part1-DCGAN.py" and found["part1_dcgan"].others
    assert found["part3_vae"].chosen.name == "part3_vae (1).py" and found["part2_cgan"].chosen is None
    graded = grade(tmp_path, ["dcgan.bce", "vae.kl", "cgan.onehot"], device="cpu", isolation=isolation)
    verdicts = {s.id: s.passed for s in graded.scored}
    assert verdicts == {"dcgan.bce": True, "vae.kl": True, "cgan.onehot": False}, graded.scored
