"""Fault: an infinite loop in Discriminator.forward: the checks that run it time out, naming the line."""
from reference.part1_dcgan import *  # noqa: F401,F403
from reference.part1_dcgan import Discriminator as _Reference


class Discriminator(_Reference):
    def forward(self, x):
        while True:
            pass
