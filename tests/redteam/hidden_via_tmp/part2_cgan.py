"""Red team (hidden_via_tmp, see part1_dcgan.py): the visible check that reads /tmp/seen.txt back."""
from reference.part2_cgan import *  # noqa: F401,F403


def onehot(labels, n_classes=10):
    try:
        with open("/tmp/seen.txt") as f:
            seen = f.read()[:1500]
    except OSError:
        seen = "nothing"
    raise RuntimeError(f"LEAKED[{seen}]")
