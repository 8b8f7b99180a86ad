"""Fault: importing a module that does not exist, at import (that statement alone fails) and
inside kl_divergence (vae.kl fails with ModuleNotFoundError)."""
import gan_course_helpers  # noqa: F401 - no such module

from reference.part3_vae import *  # noqa: F401,F403


def kl_divergence(mu, logvar):
    import gan_course_helpers
    return gan_course_helpers.kl(mu, logvar)
