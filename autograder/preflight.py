"""Pre-flight: faults of the machine, found before any student is graded (issue 12).

A fault of the machine is never scored as a student's mistake. What can be known before grading
is checked once, before the first submission, by every front end (`python -m autograder grade`
and `batch`, `pytest autograder`): CUDA asked for and unusable (no driver, no device), an output
folder that cannot be created or written, a disk (the output's or the temporary folder the
sandbox's children work in) without room. Any of them stops the run with a MachineFault that
names the cause; no student gets a score from a run that failed its pre-flight.
"""
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Room a grading needs on each disk it writes: a student's reports (0.1-1 MB), the unpacked zips of
# a class in the output's _work/, the children's work folders (limits.output_bytes each).
MIN_FREE_BYTES = 256 * 2 ** 20
CUDA_PROBE = ("import torch\n"
              "x = torch.ones(8, device='cuda')\n"
              "assert float((x @ x).item()) == 8.0\n"
              "print(torch.cuda.device_count(), torch.cuda.get_device_name(0))\n")


def default_device():
    """The device when none is asked for: cuda where an NVIDIA GPU is visible and the installed torch
    is built for CUDA, else cpu. Decided from files, without importing torch or initialising CUDA (the
    sandbox forks after this), once per run before anything else: the pre-flight, the sandbox server
    and the checks all get the device it names."""
    if os.environ.get("CUDA_VISIBLE_DEVICES", None) == "":
        return "cpu"
    if not (shutil.which("nvidia-smi") and Path("/dev/nvidia0").exists()):
        return "cpu"
    return "cuda" if _torch_cuda_build() else "cpu"


def _torch_cuda_build():
    """torch/version.py's `cuda` (None in a CPU-only build), read as text: importing it imports torch."""
    import ast
    import importlib.util
    spec = importlib.util.find_spec("torch")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        try:
            tree = ast.parse((Path(folder) / "version.py").read_text())
        except (OSError, SyntaxError):
            continue
        for node in tree.body:
            target = getattr(node, "target", None) or (node.targets[0] if isinstance(node, ast.Assign) else None)
            if getattr(target, "id", None) == "cuda" and isinstance(node.value, ast.Constant):
                return node.value.value
    return None


class MachineFault(Exception):
    """The machine cannot grade (not any submission's fault): nobody is graded, the message says why."""


def check_cuda(timeout=300):
    """CUDA works: a child process (the grading process never initialises CUDA) puts a tensor on
    the device and computes with it. Returns what it saw ("1 NVIDIA H100 ...")."""
    try:
        run = subprocess.run([sys.executable, "-c", CUDA_PROBE], capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise MachineFault(f"--device cuda: a first CUDA operation did not finish within {timeout} s") from None
    if run.returncode != 0:
        lines = [line for line in run.stderr.strip().splitlines() if line.strip()]
        why = lines[-1] if lines else f"the probe exited with status {run.returncode}"
        raise MachineFault(f"--device cuda, but CUDA is not usable on this machine ({why[:500]}). Fix the driver "
                           "or the runner, or grade with --device cpu; no submission was graded.")
    return run.stdout.strip()


def _free_bytes(folder):
    return shutil.disk_usage(folder).free


def check_folder(folder, what):
    """`folder` exists (created if need be), takes a file, and its disk has MIN_FREE_BYTES free."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=folder, prefix=".preflight-", delete=True)
        with probe:
            probe.write(b"\0" * 2 ** 20)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        raise MachineFault(f"{what} {folder} cannot be written: {exc.strerror or exc}; no submission was "
                           "graded") from None
    free = _free_bytes(folder)
    if free < MIN_FREE_BYTES:
        raise MachineFault(f"the disk of {what} {folder} has {free / 2 ** 20:.0f} MB free, the grader needs "
                           f"{MIN_FREE_BYTES / 2 ** 20:.0f} MB; no submission was graded")


def oom_kills():
    """How many processes the kernel's out-of-memory killer has ended since boot (/proc/vmstat,
    Linux 4.13+; in a container too), or None where it cannot be read. A check's process killed
    while this count grew was killed for the machine's memory, not by the grader's limit."""
    try:
        with open("/proc/vmstat") as f:
            return next((int(line.split()[1]) for line in f if line.startswith("oom_kill ")), None)
    except (OSError, ValueError, IndexError):
        return None


def oom_killed_since(count):
    """Whether the OOM killer has ended a process since oom_kills() returned `count` (False when
    the count cannot be read: nothing then shows the machine at fault)."""
    return count is not None and (oom_kills() or 0) > count


def _cgroup_limits():
    """The memory limits (bytes) of this process's cgroup, v1 and v2, where they can be read."""
    found = []
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        _, controllers, path = (line.split(":", 2) + ["", ""])[:3]
        if controllers == "":
            base, name = Path("/sys/fs/cgroup"), "memory.max"
        elif "memory" in controllers.split(","):
            base, name = Path("/sys/fs/cgroup/memory"), "memory.limit_in_bytes"
        else:
            continue
        for folder in (base / path.lstrip("/"), base):  # the path as mounted, else the mount's own root
            try:
                text = (folder / name).read_text().strip()
            except OSError:
                continue
            if text.isdigit():
                found.append(int(text))
            break
    return found


def memory_mb():
    """Memory this machine (or its container's cgroup) can give the grader, in MB."""
    available = []
    try:
        with open("/proc/meminfo") as f:
            available += [int(line.split()[1]) * 1024 for line in f if line.startswith("MemTotal:")]
    except (OSError, ValueError, IndexError):
        pass
    available += _cgroup_limits()
    return min(available) // 2 ** 20 if available else None


def memory_warning(limits, jobs=1):
    """A line for the log when the machine has less memory than `jobs` submissions may use at once:
    each has a check collecting while the check before is judged (autograder/sandbox.py), grading.yml's
    memory_mb each. A check killed for memory there is the machine's fault, and is reported as a
    grader error, never as the student's memory limit."""
    from autograder.isolation import memory_cgroup_available
    have, need = memory_mb(), 2 * int(limits["memory_mb"]) * jobs
    warnings = []
    if have is not None and have < need:
        warnings.append(f"warning: this machine gives the grader {have} MB of memory, less than the {need} MB that "
                        f"{jobs} submission(s) at once may use (a check and the previous check's judge each, "
                        f"grading.yml memory_mb {limits['memory_mb']}); a check that the system kills for memory "
                        "is reported as a grader error, not charged to the student")
    no_cgroup = memory_cgroup_available()  # which kernel limits hold here: docs/batch.md, "Limits"
    if no_cgroup:
        warnings.append(f"warning: {no_cgroup}")
    return "\n".join(warnings) or None


def check_machine(device, out):
    """Every pre-flight check for a run on `device` writing to `out`; MachineFault on the first fault."""
    check_folder(out, "the output folder")
    check_folder(tempfile.gettempdir(), "the temporary folder")
    if device == "cuda":
        check_cuda()


def pytest_preflight(config):
    """The pytest front end's pre-flight (autograder/conftest.py): a fault stops the session with
    the message, before any check runs; what the student must know of how their files are read
    (which of two files for a part is graded) is said before the checks run."""
    import pytest

    from autograder.load import submission_notes
    from autograder.rubric import ROOT, load_rubric
    try:
        check_machine(config.getoption("--device"), config.getoption("--grading-out"))
    except MachineFault as exc:
        raise pytest.UsageError(f"grader error (this machine, not the submission): {exc}") from None
    rubric = load_rubric()
    path = config.getoption("--submission") or ROOT / "assignments" / rubric["assignment"]
    for note in submission_notes(path, rubric["parts"]):
        print(f"note: {note}", file=sys.stderr)
