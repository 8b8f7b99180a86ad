"""Fault: starting processes (a shell command and a fork) in vae_loss: refused, vae.loss fails
("starting processes is disabled")."""
import os
import subprocess

from reference.part3_vae import *  # noqa: F401,F403


def vae_loss(x_hat, x, mu, logvar):
    subprocess.run(["sleep", "1000"])
    if os.fork() == 0:
        while True:
            pass
    return ((x_hat - x.view_as(x_hat)) ** 2).sum()
