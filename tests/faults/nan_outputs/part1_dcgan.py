"""Fault: NaN outputs (bce and g_loss return NaN): those checks fail; the report stays valid JSON
(no NaN token in results.json)."""
from reference.part1_dcgan import *  # noqa: F401,F403


def bce(probs, targets):
    return (probs * float("nan")).mean()


def g_loss(d_fake):
    return (d_fake * float("nan")).mean()
