"""Fault: sys.exit(0) at import: that statement fails alone (SystemExit is caught while loading);
nothing the checks need is lost."""
import sys

from reference.part2_cgan import *  # noqa: F401,F403

sys.exit(0)
