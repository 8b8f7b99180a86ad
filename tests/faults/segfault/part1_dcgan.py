"""Fault: a crash in native code (reading address 0 through ctypes) inside g_loss_minimax: the
checks calling it fail, "crashed ... SIGSEGV"; nothing else."""
import ctypes

from reference.part1_dcgan import *  # noqa: F401,F403


def g_loss_minimax(d_fake):
    return ctypes.string_at(0)
