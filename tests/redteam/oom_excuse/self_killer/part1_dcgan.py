"""Red team (with oom_excuse/oom_maker, graded beside it in one batch at --jobs 2): turn a wrong
answer into a "grader error (this machine, not your code)", i.e. an excused, re-gradable item.

bce is wrong; instead of returning, it waits a few seconds and SIGKILLs its own process. The
zygote reports "killed" (a SIGKILL it did not send), and the server (Server.run_check) calls it
the machine's fault when the machine-wide OOM-kill count (/proc/vmstat) grew during the ask while
this namespace's own cgroup saw no kill. The classmate's OOM kills in ITS OWN cgroup make that
count grow: the wrong bce is recorded as a grader_error.

The guarantee (docs/batch.md, "Who may say what"): a grader error only from what the grader
observes itself; a check the student's code fails is a fail, never a grader_error.
"""
import os
import signal
import time

from reference.part1_dcgan import *  # noqa: F401,F403


def bce(p, target):
    time.sleep(7)
    os.kill(os.getpid(), signal.SIGKILL)
