"""Red team (hidden_via_tmp, see part1_dcgan.py): the visible check that reads /tmp/seen.txt back."""
import os

import autograder

from reference.part2_cgan import *  # noqa: F401,F403

FOLDERS = ("/tmp", os.path.dirname(os.path.dirname(autograder.__file__)))


def onehot(labels, n_classes=10):
    seen = ""
    for folder in FOLDERS:
        try:
            with open(os.path.join(folder, "seen.txt")) as f:
                seen += f.read()[:1500]
        except OSError:
            pass
    raise RuntimeError(f"LEAKED[{seen}]")
