"""Fault: KeyboardInterrupt at import (that statement alone fails) and inside g_loss (the checks
calling g_loss fail, "exited")."""
from reference.part1_dcgan import *  # noqa: F401,F403

raise KeyboardInterrupt


def g_loss(d_fake):
    raise KeyboardInterrupt
