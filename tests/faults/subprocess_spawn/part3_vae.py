"""Fault: starting processes in vae_loss: a detached sleeper (marked autograder-fault-sleeper) and a
forked child spinning forever, then the right value. Inside the submission's namespace that is
allowed; what must hold: vae.loss is graded on its value (passed), and no process it started
outlives its check (tests/test_faults.py looks for the sleeper after the batch)."""
import os
import subprocess
import sys

from reference.part3_vae import *  # noqa: F401,F403
from reference.part3_vae import vae_loss as _vae_loss


def vae_loss(x_hat, x, mu, logvar):
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(1000)  # autograder-fault-sleeper"],
                     start_new_session=True)
    if os.fork() == 0:
        while True:
            pass
    return _vae_loss(x_hat, x, mu, logvar)
