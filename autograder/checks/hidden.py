"""Hidden checks (visibility: hidden in grading.yml): not shipped in the student copy.

They test that the code is general rather than tuned to the visible checks: the networks must
follow their width arguments, as the nz = 10 / 1000 experiment of Part 1 needs. Only channel counts
are judged, so a layer mistake already charged by the visible check is not charged again.

Their Networks live only in their registered checks (architecture.networks() finds them there), so
the student's process, which unregisters the hidden checks, keeps nothing of them.
"""
from autograder.checks.architecture import NOISE, IMAGE, Network, architecture_check

architecture_check("dcgan.width_arguments_generator", Network(
    "part1_dcgan", "Generator", (("z", NOISE, (10, 1, 1)),), output=(3, 32, 32),
    kwargs=(("nz", 10), ("ngf", 16)), channels_only=True))
architecture_check("dcgan.width_arguments_discriminator", Network(
    "part1_dcgan", "Discriminator", (("x", IMAGE, (3, 32, 32)),), output="probability",
    kwargs=(("ndf", 16),), channels_only=True))
