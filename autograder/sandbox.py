"""Isolation: a student's code runs only in child processes, under wall-time, memory and output limits.

Three kinds of process (docs/batch.md has the why):

* the grading process (pytest's front end, `python -m autograder grade|batch`): never runs a line
  of student code and never forks; it talks to a sandbox server over two pipes (`Sandbox`);
* the sandbox server (`python -m autograder.sandbox`, started by `Sandbox`): imports torch and the
  checks once, then never runs a tensor operation and never initialises CUDA, because a process
  that has started OpenMP's thread pool or a CUDA context cannot fork usable children; it forks
  every child below, one at a time, watches it (wall time, resident memory) and kills its
  process group when it is done or over a limit;
* children, forked by the server:
    - a load probe per part: it parses the part (notebook cells or top-level statements) and runs
      the blocks one by one, telling the server which block it starts and ends; a block that
      hangs, ends the process or exhausts the memory is then skipped by every later child, with
      the reason as its error (the checks that need its names say why they are missing);
    - a collect child per rubric item (per seed it tries): it runs the part's blocks again (only
      the parts the check asks for, on first use), then the check's collect half, and sends what
      the student's code produced as data (torch.save bytes), or why it failed, before os._exit;
    - a judge child per collect child that produced data: forked from the server, it never runs
      student code; it draws the check's inputs itself, reads the data with
      torch.load(weights_only=True) and decides. Only a judge child can award points.

Before any student code runs, a student's child forgets what that code could use to learn the
answers or the hidden checks: the expected values, every other check, the hidden checks' module
and rubric entries (objects dropped), and cannot open the grader's files (autograder/, reference/,
solutions/, grading.yml). What the child sends is only evidence: forging it means producing, for
inputs drawn at grading time, what a correct submission would.

Each child: a new session (its process group is killed at the end, so no thread or subprocess
outlives its check), a fresh temporary working directory, stdin from /dev/null, stdout and stderr
to a size-capped file, a new network namespace (root; an unprivileged user namespace otherwise),
RLIMIT_AS on CPU runs (CUDA needs a huge address space: the server watches the resident memory
instead, on every device), RLIMIT_FSIZE, RLIMIT_NPROC and the uid `nobody` when the grader runs as
root, an environment without the grader's variables, and an audit hook that refuses sockets,
new processes, signals to other processes and writes outside the working directory. Names the
student's top-level code replaces in torch, numpy, builtins or the autograder are restored after
loading (and named in the check's message); a replacement made while a check runs fails that check.

Limits come from grading.yml's `limits:` section (`load_limits`).
"""
import base64
import ctypes
import errno
import faulthandler
import io
import json
import os
import re
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import types
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder.report import Scored

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LIMITS = {
    "check_seconds": 120,  # one check's wall time, its own loading of the submission excluded
    "load_seconds": 60,  # loading one part (running its cells), in a probe or in a check's child
    "memory_mb": 4096,  # memory a child may use on top of the grader's own (about 600 MB with torch)
    "output_bytes": 1_000_000,  # what a child may print (stdout + stderr) or write to a file
    "answer_bytes": 256_000_000,  # what a collect child may send to the judge (its found data, encoded)
    "probe_restarts": 4,  # blocks of one part that may hang or kill a probe before the part is given up
    "checks": {},  # per-check wall-time overrides: {rubric id: seconds}
}
PROTECTED_ROOTS = ("torch", "autograder", "numpy")
PROTECTED_MODULES = ("builtins", "math", "copy", "functools", "operator")
HIDDEN_MODULE = "autograder.checks.hidden"  # the instructor's hidden checks (absent from the student copy)
# What a student's child may not open: the grader's code and expected values (hidden checks among
# them), the rubric with its hidden items, the answers. Everything the child needs is imported.
GRADER_FILES = tuple(str(ROOT / name) for name in ("autograder", "reference", "solutions", "grading.yml"))
NOBODY = "nobody"


# ----------------------------------------------------------------------------------------------
# limits and small shared pieces (no torch here: the grading process imports this module too)
# ----------------------------------------------------------------------------------------------


def load_limits(rubric=None, overrides=None):
    """grading.yml's `limits:` over the defaults, then `overrides` (a dict, or a YAML file whose
    `limits:` section, or whole content, is read) over both."""
    if rubric is None:
        from autograder.rubric import load_rubric
        rubric = load_rubric()
    limits = {**DEFAULT_LIMITS, **(rubric.get("limits") or {})}
    for key, value in read_overrides(overrides).items():
        limits[key] = {**limits.get(key, {}), **value} if key == "checks" else value
    limits["checks"] = dict(limits.get("checks") or {})
    unknown = set(limits) - set(DEFAULT_LIMITS)
    if unknown:
        raise ValueError(f"grading.yml limits: unknown keys {sorted(unknown)}")
    return limits


def read_overrides(overrides):
    """A dict of limits to override, from a dict or a YAML file (its `limits:` or whole content)."""
    if overrides is None or isinstance(overrides, dict):
        return dict(overrides or {})
    import yaml
    text = yaml.safe_load(Path(overrides).read_text()) or {}
    return dict(text.get("limits", text))


def check_seconds(limits, rubric_id):
    return float(limits["checks"].get(rubric_id, limits["check_seconds"]))


@dataclass
class Graded:
    """What grading one submission in the sandbox gives: the scored items and how it went."""
    path: str
    scored: list
    fingerprint: dict
    parts: dict  # part -> {"file", "blocks", "skipped": {where: reason}, "failed"}
    seconds: float


class SandboxError(Exception):
    """The sandbox server itself failed (not the student's code): the grading of this submission
    cannot be trusted and should be re-run."""


class OutputLimitExceeded(Exception):
    """Raised by print() once a child has printed more than limits.output_bytes."""


class _CappedStream(io.TextIOBase):
    """sys.stdout / sys.stderr of a child: written through to the capped log file until the
    budget (shared by both streams) runs out, then every write raises OutputLimitExceeded."""

    def __init__(self, fd, budget):
        self._fd, self._budget = fd, budget

    def writable(self):
        return True

    def write(self, text):
        data = str(text).encode("utf-8", "replace")
        self._budget[0] -= len(data)
        if self._budget[0] < 0:
            raise OutputLimitExceeded(f"output too large: your code printed more than {self._budget[1]:,} bytes "
                                      "(the grader's limit)")
        try:
            os.write(self._fd, data)
        except OSError:
            pass
        return len(text)

    def flush(self):
        pass


# ----------------------------------------------------------------------------------------------
# messages: what happened, in words a student understands
# ----------------------------------------------------------------------------------------------

MEMORY_WORDS = ("MemoryError", "can't allocate memory", "Cannot allocate memory", "out of memory")
NETWORK_WORDS = ("Network is unreachable", "network access is disabled", "Cannot assign requested address")


def explain(message, limits):
    """Prefix an exception's message with the limit or rule it ran into, if any."""
    if any(w in message for w in MEMORY_WORDS) and not message.startswith("memory limit"):
        return f"memory limit exceeded ({limits['memory_mb']} MB): {message}"
    if any(w in message for w in NETWORK_WORDS) and not message.startswith("network refused"):
        return f"network refused (the grader runs your code without network access): {message}"
    if "SystemExit" in message or "KeyboardInterrupt" in message:
        return f"exited: your code tried to stop the program (sys.exit, exit() or KeyboardInterrupt): {message}"
    return message


def _signal_name(number):
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


STUDENT_FRAME = re.compile(r'File "([^"]*(?: cell | lines )[^"]*)", line (\d+)')


def _student_line(trace_text, sources):
    """The innermost line of the student's code in a faulthandler dump ("" if none)."""
    for filename, line in STUDENT_FRAME.findall(trace_text or ""):
        text = ""
        source = sources.get(filename)
        if source:
            lines = source.splitlines()
            if 0 < int(line) <= len(lines):
                text = f": `{lines[int(line) - 1].strip()}`"
        return f" (it was running {filename}, line {line}{text})"
    return ""


# ----------------------------------------------------------------------------------------------
# the child: set-up, audit hook, snapshot of what student code must not replace
# ----------------------------------------------------------------------------------------------

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1, 2, 4, 8, 32, 4096, 16384, 1 << 18)
_libc = None


def _libc_call(name, *args):
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
        _libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    result = getattr(_libc, name)(*args)
    return result, (ctypes.get_errno() if result != 0 else 0)


@dataclass
class _Setup:
    """What a child needs to confine itself: decided by the server, applied after the fork."""
    workdir: str
    limits: dict
    device: str
    threads: int
    close_fds: tuple
    private_dirs: tuple
    drop_to: tuple  # (uid, gid) of `nobody`, or () to stay root without capabilities (or non-root)
    base_vsize: int  # the server's address space, bytes
    address_space_limit: bool = True  # RLIMIT_AS (CPU runs); without it only the RSS watch holds memory
    read_only: bool = True  # as root: every mount read-only but the working directory (Server.read_only)
    namespaces: list = field(default_factory=list)  # what _confine obtained, for the fingerprint


def _unshare():
    """New network and mount namespaces (as root), or a user namespace holding a network namespace
    (unprivileged): no interface but a loopback that is down. Needs a single-threaded process."""
    if os.geteuid() == 0:
        result, _ = _libc_call("unshare", CLONE_NEWNET | CLONE_NEWNS)
        return ["net", "mount"] if result == 0 else []
    uid, gid = os.getuid(), os.getgid()
    result, _ = _libc_call("unshare", CLONE_NEWUSER | CLONE_NEWNET)
    if result != 0:
        return []
    try:  # keep our own uid inside the namespace, so files we create are ours
        Path("/proc/self/setgroups").write_text("deny")
        Path("/proc/self/uid_map").write_text(f"{uid} {uid} 1")
        Path("/proc/self/gid_map").write_text(f"{gid} {gid} 1")
    except OSError:
        pass
    return ["user", "net"]


def _confine(setup):
    """Applied in the child right after the fork, before it reads anything of the student's."""
    os.setsid()  # own process group: the server kills it whole
    _libc_call("prctl", PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # dies with the server
    for number in (signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C semantics: KeyboardInterrupt
    for fd in setup.close_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    setup.namespaces = _unshare()  # before any thread exists (a user namespace needs that)
    os.chdir(setup.workdir)
    keep = {k: os.environ[k] for k in ("PATH", "LANG", "LC_ALL", "CUDA_VISIBLE_DEVICES", "PYTHONPATH",
                                        "PYTORCH_NVML_BASED_CUDA_CHECK") if k in os.environ}
    os.environ.clear()
    os.environ.update(keep, HOME=setup.workdir, TMPDIR=setup.workdir, MPLCONFIGDIR=setup.workdir,
                      OMP_NUM_THREADS=str(setup.threads))
    tempfile.tempdir = setup.workdir
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    log = os.open(os.path.join(setup.workdir, "output.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    for fd in {null, log} - {0, 1, 2}:
        os.close(fd)
    budget = [setup.limits["output_bytes"], setup.limits["output_bytes"]]
    sys.stdout = sys.__stdout__ = _CappedStream(1, budget)
    sys.stderr = sys.__stderr__ = _CappedStream(2, budget)
    trace = open(os.path.join(setup.workdir, "trace.txt"), "w")
    faulthandler.register(signal.SIGUSR1, file=trace, all_threads=True, chain=False)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    fsize = setup.limits["output_bytes"] + 65536  # C-level writes: past this, SIGXFSZ ends the child
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    if setup.address_space_limit:  # CUDA reserves terabytes of address space: the server watches RSS instead
        address_space = setup.base_vsize + setup.limits["memory_mb"] * 2 ** 20
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    import torch
    torch.set_num_threads(setup.threads)


# On the H100 machine CUDA did not start under the read-only remount ("Error 304: OS call failed"
# from cudaGetDeviceCount) while a writable /, /dev or /dev/shm did not help, which leaves the
# kernel's file systems: on CUDA runs they stay as they are (the child's uid and missing
# capabilities decide what it may change there). Not yet confirmed on a GPU: the server checks
# that CUDA starts in a locked-down child (Server._cuda_starts_read_only) and falls back if not.
KERNEL_FILESYSTEMS = ("proc", "sysfs", "cgroup", "cgroup2")


def _read_only_filesystem(setup):
    """In the child's own mount namespace: every mount read-only but the working directory (and,
    on CUDA, the kernel's), and the private folders (other submissions, the grader's output)
    covered by an empty tmpfs."""
    work = os.path.realpath(setup.workdir).encode()
    _libc_call("mount", None, b"/", None, MS_REC | MS_PRIVATE, None)
    _libc_call("mount", work, work, None, MS_BIND, None)
    for private in setup.private_dirs:
        path = os.path.realpath(private).encode()
        if os.path.isdir(path) and not os.path.realpath(setup.workdir).startswith(os.path.realpath(private)):
            _libc_call("mount", b"tmpfs", path, b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, b"size=4k")
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        if setup.device != "cpu" and fields[fields.index("-") + 1] in KERNEL_FILESYSTEMS:
            continue
        point = fields[4].encode().decode("unicode_escape").encode("latin-1")
        mounts.append((point, fields[5].split(",")))
    failed = 0
    for point, options in mounts:
        if point == work:
            continue
        flags = MS_BIND | MS_REMOUNT | MS_RDONLY
        for option, bit in (("nosuid", MS_NOSUID), ("nodev", MS_NODEV), ("noexec", MS_NOEXEC)):
            if option in options:
                flags |= bit
        result, _ = _libc_call("mount", None, point, None, flags, None)
        failed += result != 0
    return failed == 0


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _lock_down(setup):
    """Once the child has read what it needs: as root, a read-only filesystem, then the uid
    `nobody` or (when nobody cannot read the interpreter) root without any capability; for
    everyone, the audit hook. After this, limits cannot be raised and namespaces not left."""
    if os.geteuid() == 0:
        if "mount" in setup.namespaces and setup.read_only:
            setup.namespaces.append("read-only" if _read_only_filesystem(setup) else "read-only (partial)")
        resource.setrlimit(resource.RLIMIT_NPROC, (512, 512))  # per user (not enforced for uid 0)
        if setup.drop_to:
            uid, gid = setup.drop_to
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
        else:
            for cap in range(64):
                _libc_call("prctl", PR_CAPBSET_DROP, cap, 0, 0, 0)
            _libc_call("capset", ctypes.byref(_CapHeader(0x20080522, 0)), (_CapData * 2)())
    _libc_call("prctl", PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    _install_audit_hook(setup)


def _path_of(value):
    if isinstance(value, int):
        return None
    try:
        return os.path.normpath(os.path.join(os.getcwd(), os.fsdecode(value)))
    except (TypeError, ValueError):
        return None


def _install_audit_hook(setup):
    """Refuse, at the Python level, what a check never needs. It cannot be removed from Python;
    native code (ctypes) goes around it, the kernel-level measures above do not depend on it."""
    workdir = os.path.realpath(setup.workdir) + os.sep
    private = tuple(os.path.realpath(p) + os.sep for p in setup.private_dirs)
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
    me = os.getpid()

    def writable(path):
        return path is None or (path + os.sep).startswith(workdir) or path == os.devnull

    def refuse_path(path, what):
        raise PermissionError(errno.EACCES, f"{what} is not allowed while grading (only the current "
                                            f"directory is writable)", path)

    def hook(event, args):
        if event == "open":
            path = _path_of(args[0])
            if path is not None and (path + os.sep).startswith(private):
                refuse_path(path, "reading other submissions, the grader's files or its output")
            mode, flags = args[1], args[2]
            writing = (isinstance(mode, str) and any(c in mode for c in "wax+")) or (
                mode is None and isinstance(flags, int) and flags & write_flags)
            if writing and not writable(path):
                refuse_path(path, "writing a file outside the current directory")
        elif event in ("os.remove", "os.rmdir", "os.mkdir", "os.truncate", "os.chmod", "os.chown", "os.utime",
                       "shutil.rmtree", "shutil.copyfile", "shutil.copytree", "shutil.move"):
            path = _path_of(args[1] if event.startswith("shutil.copy") else args[0])
            if not writable(path):
                refuse_path(path, f"{event} outside the current directory")
        elif event in ("os.rename", "os.link", "os.symlink"):
            for value in args[:2]:
                if not writable(_path_of(value)):
                    refuse_path(_path_of(value), f"{event} outside the current directory")
        elif event.startswith("socket.") and event not in ("socket.gethostname",):
            raise PermissionError(errno.EACCES, "network access is disabled while grading")
        elif event in ("subprocess.Popen", "os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork",
                       "os.forkpty", "pty.spawn"):
            raise PermissionError(errno.EACCES, "starting processes is disabled while grading")
        elif event in ("os.kill", "os.killpg") and args[0] not in (me, 0):
            raise PermissionError(errno.EPERM, "signalling other processes is disabled while grading")

    sys.addaudithook(hook)


def _protected(name):
    """The modules whose functions a check relies on: what a student might replace to pass."""
    if name in PROTECTED_MODULES or name in ("scipy.stats", "numpy.linalg", "numpy.random"):
        return True
    parts = name.split(".")
    if parts[0] == "autograder":
        return True
    if parts[0] not in ("torch", "numpy") or any(p.startswith("_") for p in parts):
        return False  # private modules (torch._dynamo...) are not what a check calls
    return len(parts) == 1 or parts[1] in ("nn", "optim", "autograd", "linalg", "special", "random", "functional",
                                           "testing", "overrides", "distributions")


def take_snapshot():
    """(where, name, value) of every function, class and module that torch, numpy, scipy.stats,
    the autograder and a few builtin modules expose, and of the attributes of the classes they
    define (and torch.Tensor's); taken by the server before it forks, so its values are the
    originals whatever a child later does. Kept small: a child reads every entry, which touches
    its reference count, so every entry costs the child a copied page."""
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecated torch names warn when they are read
        return _take_snapshot()


def _take_snapshot():
    import torch
    entries, seen = [], set()
    modules = [m for name, m in list(sys.modules.items()) if isinstance(m, types.ModuleType) and _protected(name)]
    classes = [torch.Tensor, torch._C.TensorBase]
    for module in modules:
        for name, value in list(vars(module).items()):
            if callable(value) or isinstance(value, types.ModuleType):
                entries.append((module, name, value))
            if isinstance(value, type) and value.__module__ == module.__name__ and not (
                    name.endswith("Tensor") and name != "Tensor"):  # torch.FloatTensor and its kind: legacy
                classes.append(value)
    for cls in classes:
        if id(cls) not in seen:
            seen.add(id(cls))
            entries += [(cls, key, attr) for key, attr in list(vars(cls).items()) if callable(attr)
                        or isinstance(attr, (staticmethod, classmethod, property))]
    from autograder.checks.registry import REGISTRY
    entries += [(REGISTRY, key, fn) for key, fn in REGISTRY.items()]
    return entries


def _warm_up():
    """What torch does lazily, once per process, that would otherwise look like tampering (and cost
    each child the time): an optimizer class wraps its own `step` the first time one is built."""
    import importlib

    import torch
    # Building an optimizer imports torch._dynamo (which wraps torch.manual_seed, among others): 2-3 s
    # that every child would pay again. The training check's metrics import torch-fidelity.
    for name in ("torch._dynamo", "torch_fidelity", "autograder.metric_fid", "autograder.metric_accuracy"):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - an optional speed-up
            pass
    pending, seen = list(torch.optim.Optimizer.__subclasses__()), set()
    while pending:
        cls = pending.pop()
        if cls not in seen:
            seen.add(cls)
            pending += cls.__subclasses__()
            cls.__new__(cls)._patch_step_function()


_MISSING = object()


def _current(owner, name):
    if isinstance(owner, dict):
        return owner.get(name, _MISSING)
    return vars(owner).get(name, _MISSING)


def _owner_name(owner):
    if isinstance(owner, dict):
        return "autograder.checks.registry.REGISTRY"
    if isinstance(owner, types.ModuleType):
        return owner.__name__
    return f"{owner.__module__}.{owner.__qualname__}"


def restore_snapshot(entries):
    """Put back whatever was replaced or deleted; return the names that were."""
    changed = []
    for owner, name, value in entries:
        if _current(owner, name) is not value:
            changed.append(f"{_owner_name(owner)}[{name!r}]" if isinstance(owner, dict)
                           else f"{_owner_name(owner)}.{name}")
            try:
                if isinstance(owner, dict):
                    owner[name] = value
                elif isinstance(owner, types.ModuleType):
                    vars(owner)[name] = value
                else:
                    setattr(owner, name, value)
            except (TypeError, AttributeError):
                pass
    registries = {}
    for owner, name, _ in entries:
        if isinstance(owner, dict):
            registries.setdefault(id(owner), (owner, set()))[1].add(name)
    for owner, names in registries.values():  # entries added to the registry
        for name in set(owner) - names:
            changed.append(f"{_owner_name(owner)}[{name!r}]")
            del owner[name]
    for module_name, original in _MODULE_OBJECTS.items():  # `sys.modules["torch"] = fake`
        if sys.modules.get(module_name) is not original:
            changed.append(f"sys.modules[{module_name!r}]")
            sys.modules[module_name] = original
    return changed


_MODULE_OBJECTS = {}


class _Channel:
    """JSON lines to the server over the child's end of a pipe."""

    def __init__(self, fd):
        self.fd = fd

    def send(self, **message):
        data = (json.dumps(message, default=str) + "\n").encode()
        while data:
            written = os.write(self.fd, data)
            data = data[written:]


def _forget_other_checks(rubric_id, context, snapshot):
    """In a student's child, before any of its code runs: drop what that code has no business
    reading, so that no Python object leads to it: the expected values (only judges use them), the
    other checks (all of them for a load probe, rubric_id None), the hidden checks' module and
    rubric entries. The files they come from are refused to the child (GRADER_FILES). Returns the
    snapshot of protected names the child restores from then on."""
    from autograder import rubric as rubric_module
    from autograder.checks import registry
    hidden = {i for i, item in context.rubric["checks"].items() if item.get("visibility") == "hidden"}
    dropped = {i for i in registry.REGISTRY if i != rubric_id}
    hidden_module = None
    if rubric_id not in hidden:
        hidden_module = sys.modules.pop(HIDDEN_MODULE, None)
        package_name, _, name = HIDDEN_MODULE.rpartition(".")
        vars(sys.modules[package_name]).pop(name, None)
    for i in dropped:
        del registry.REGISTRY[i]
    context.expected = {}
    context.rubric = {**context.rubric, "checks": {i: item for i, item in context.rubric["checks"].items()
                                                   if i not in hidden or i == rubric_id}}
    rubric_module.load_expected.cache_clear()
    rubric_module.load_rubric.cache_clear()
    return [(owner, name, value) for owner, name, value in snapshot
            if not (owner is registry.REGISTRY and name in dropped)
            and (hidden_module is None or (owner is not hidden_module and value is not hidden_module))]


class _AllNames:
    def __contains__(self, name):
        return True


def _defines(source):
    from autograder.load import DEFINES
    return [a or b for a, b in DEFINES.findall(source)]


def _run_blocks(part, blocks, skip, limits, channel=None):
    """autograder.load.run_blocks, one block at a time, printing into the capped streams, with
    the blocks a probe found harmful skipped (their reason becomes their error) and, for a probe,
    each block's start and end reported to the server."""
    import linecache

    from autograder.load import CodeError, _summary
    namespace = part.namespace
    namespace.setdefault("__name__", part.name)
    for index, block in enumerate(blocks):
        defines = _defines(block.source)
        if str(index) in skip:
            part.errors.append(CodeError(where=block.where, summary=skip[str(index)], defines=defines))
            continue
        filename = f"{part.path.name} {block.where}"
        padded = "\n" * (block.first_line - 1) + block.source
        linecache.cache[filename] = (len(padded), None, padded.splitlines(keepends=True), filename)
        if channel:
            channel.send(event="start", block=index)
        try:
            exec(compile(padded, filename, "exec"), namespace)
            error = None
        except (Exception, SystemExit, KeyboardInterrupt) as exc:  # a student's cell must not stop the grader
            error = explain(_summary(exc, filename), limits)
            part.errors.append(CodeError(where=block.where, summary=error, defines=defines))
        if channel:
            channel.send(event="end", block=index, error=error)


def _jsonable(value, depth=0):
    """Details a check returned, made JSON-able: small arrays and tensors become lists (rounded),
    big ones are dropped with a note."""
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if depth > 4:
        return str(value)[:200]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and len(value) <= 100_000:
        return [_jsonable(v, depth + 1) for v in value]
    if hasattr(value, "detach"):  # a tensor
        value = value.detach().cpu().numpy()
    if hasattr(value, "tolist") and hasattr(value, "size"):
        if value.size <= 200_000:
            import numpy as np
            return np.round(value.astype(float), 4).tolist() if value.dtype.kind == "f" else value.tolist()
        return f"(array of shape {tuple(value.shape)} left out)"
    return str(value)[:200]


# ----------------------------------------------------------------------------------------------
# the server: forks the children one at a time and supervises them
# ----------------------------------------------------------------------------------------------


@dataclass
class _Outcome:
    messages: list
    status: str  # "ok", "timeout", "memory", "died"
    reason: str = ""  # for status != ok: what happened, in words
    trace: str = ""
    output_tail: str = ""
    phase: dict = field(default_factory=dict)


class Server:
    def __init__(self, device=None, limits=None, threads=None, private_dirs=(), seed=None):
        from autograder.score import make_context
        self.context = make_context(device, seed=seed)  # NVML-based CUDA check: does not initialise CUDA
        self.device = self.context.device
        self.limits = load_limits(self.context.rubric, limits)
        # One torch thread per child unless asked: the checks' tensors are small, and OpenMP threads
        # that spin-wait on busy cores made grading 2-3x slower here (docs/batch.md, "What it costs").
        self.threads = threads or 1
        self.private_dirs = tuple(str(p) for p in private_dirs)
        _warm_up()
        self.snapshot = take_snapshot()
        _MODULE_OBJECTS.update({n: m for n, m in sys.modules.items()
                                if n.split(".")[0] in PROTECTED_ROOTS and n.count(".") <= 1 and m is not None})
        self.drop_to = self._nobody() if os.geteuid() == 0 else ()
        # AUTOGRADER_SANDBOX_RSS_ONLY=1: hold memory as on CUDA (RSS watch only), to test that path on a CPU.
        self.address_space_limit = self.device == "cpu" and os.environ.get("AUTOGRADER_SANDBOX_RSS_ONLY") != "1"
        self.protocol_fds = ()
        self.probed = {}
        self._fingerprint = None
        _libc_call("prctl", PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)  # orphans of a child come back to us
        self.read_only = os.geteuid() == 0  # as root, children see every mount read-only (_lock_down)
        if self.read_only and self.device != "cpu":
            self.read_only = self._cuda_starts_read_only()

    def _cuda_starts_read_only(self):
        """Whether CUDA starts in a child locked down on a read-only filesystem (KERNEL_FILESYSTEMS).
        Where it does not, children keep a writable filesystem (their uid, missing capabilities and
        audit hook still hold) rather than fail every check that uses the GPU, and the fingerprint
        says so."""
        def body(channel, setup):
            _lock_down(setup)
            import torch
            torch.zeros(1, device=setup.device)
            channel.send(event="result", cuda_started=True)

        return any(m.get("cuda_started") for m in self._fork(body, 60, 60).messages)

    def _nobody(self):
        """(uid, gid) of `nobody` if it can read the interpreter, torch and the autograder (a
        Python under /root cannot be read by it: the children then stay root, without capabilities)."""
        import pwd
        try:
            entry = pwd.getpwnam(NOBODY)
        except KeyError:
            return ()
        import torch
        needed = [os.__file__, torch.__file__, str(ROOT / "autograder" / "__init__.py")]
        pid = os.fork()
        if pid == 0:
            try:
                os.setgroups([])
                os.setgid(entry.pw_gid)
                os.setuid(entry.pw_uid)
                os._exit(0 if all(os.access(p, os.R_OK) for p in needed) else 1)
            finally:
                os._exit(2)
        _, status = os.waitpid(pid, 0)
        return (entry.pw_uid, entry.pw_gid) if os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 else ()

    def isolation(self):
        """How children are confined here, for the fingerprint."""
        user = ("nobody" if self.drop_to else "root without capabilities") if os.geteuid() == 0 else "the grader's user"
        filesystem = "writes outside the working directory refused by the audit hook"
        if self.read_only:
            filesystem = "read-only but the working directory" + (", /proc and /sys" if self.device != "cpu" else "")
        return {"user": user, "memory": "RLIMIT_AS + RSS watch" if self.address_space_limit else "RSS watch",
                "filesystem": filesystem}

    # ---- one child ----

    def _status(self):
        text = Path("/proc/self/status").read_text()
        get = lambda key: int(re.search(rf"^{key}:\s+(\d+)", text, re.M).group(1)) * 1024  # noqa: E731
        return get("VmSize"), get("VmRSS")

    def _fork(self, body, budget_load, budget_check, private=True):
        """Run body(channel, setup) in a confined child; supervise it; return an _Outcome.

        budget_load: seconds for each loading phase; budget_check: seconds for everything else.
        A child announces its phases with {"event": "phase", "phase": "load"|"check"}."""
        vsize, rss = self._status()
        workdir = tempfile.mkdtemp(prefix="autograder-child-")
        if self.drop_to:
            os.chown(workdir, *self.drop_to)
        setup = _Setup(workdir, self.limits, self.device, self.threads, self.protocol_fds,
                       (*self.private_dirs, *GRADER_FILES) if private else (), self.drop_to, vsize,
                       self.address_space_limit, self.read_only)
        read_fd, write_fd = os.pipe()
        pid = os.fork()
        if pid == 0:  # ---- the child ----
            status = 0
            try:
                os.close(read_fd)
                channel = _Channel(write_fd)
                _confine(setup)
                body(channel, setup)
            except BaseException:  # noqa: BLE001 - whatever happens, the child must not return
                try:
                    _Channel(write_fd).send(event="internal_error", error=traceback.format_exc()[-3000:])
                except BaseException:  # noqa: BLE001
                    status = 70
            finally:
                os._exit(status)
        # ---- the server ----
        os.close(write_fd)
        try:
            return self._supervise(pid, read_fd, workdir, rss, budget_load, budget_check)
        finally:
            os.close(read_fd)
            shutil.rmtree(workdir, ignore_errors=True)

    @staticmethod
    def _children(pid):
        """pid's direct children, from /proc/<pid>/task/*/children (no scan of /proc)."""
        found = []
        try:
            for task in os.scandir(f"/proc/{pid}/task"):
                try:
                    found += [int(c) for c in Path(task.path, "children").read_text().split()]
                except (OSError, ValueError):
                    pass
        except OSError:
            pass
        return found

    def _tree(self, pid):
        tree, pending = [], [pid]
        while pending and len(tree) < 10000:
            current = pending.pop()
            tree.append(current)
            pending += self._children(current)
        return tree

    def _tree_rss(self, pid):
        total = 0
        for member in self._tree(pid):
            try:
                total += int(Path(f"/proc/{member}/statm").read_text().split()[1]) * resource.getpagesize()
            except (OSError, ValueError, IndexError):
                pass
        return total

    def _supervise(self, pid, read_fd, workdir, base_rss, budget_load, budget_check):
        messages, buffer = [], b""
        phase, phase_start, check_used = "check", time.monotonic(), 0.0
        rss_limit = base_rss + self.limits["memory_mb"] * 2 ** 20
        last_poll, status, reason, finished = time.monotonic(), "ok", "", False
        while True:
            now = time.monotonic()
            if phase == "load":
                left = budget_load - (now - phase_start)
            else:
                left = budget_check - check_used - (now - phase_start)
            if left <= 0:
                status = "timeout"
                break
            if now - last_poll > 0.25:
                last_poll = now
                if self._tree_rss(pid) > rss_limit:
                    status, reason = "memory", (f"memory limit exceeded: your code used more than "
                                                f"{self.limits['memory_mb']} MB (the grader's limit), so it was stopped")
                    break
            ready, _, _ = select.select([read_fd], [], [], min(left, 0.25))
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            buffer += chunk
            if len(buffer) > self.limits["answer_bytes"]:  # one message that big: the student's answer
                status, reason = "too_large", (f"answer too large: what your code produced for this check is over "
                                               f"{self.limits['answer_bytes']:,} bytes (the grader's limit)")
                break
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                messages.append(message)
                if message.get("event") == "phase":
                    now = time.monotonic()
                    if phase == "check":
                        check_used += now - phase_start
                    phase, phase_start = message["phase"], now
                elif message.get("event") in ("result", "found", "failed", "done", "internal_error", "unreadable"):
                    finished = True
            if finished:
                break
        trace = ""
        if status == "timeout":
            seconds = budget_load if phase == "load" else budget_check
            reason = (f"timed out: did not finish within {seconds:g} s (the grader's limit)"
                      + (" while loading your code" if phase == "load" else ""))
            try:
                os.kill(pid, signal.SIGUSR1)  # faulthandler writes where every thread is
                deadline = time.monotonic() + 1.0
                trace_path = Path(workdir, "trace.txt")
                while time.monotonic() < deadline:
                    time.sleep(0.05)
                    if trace_path.exists() and trace_path.stat().st_size and "File" in trace_path.read_text():
                        time.sleep(0.05)
                        break
                trace = trace_path.read_text() if trace_path.exists() else ""
            except (ProcessLookupError, OSError):
                pass
        self._kill(pid)
        code = self._reap(pid, wait=not finished)
        if status == "ok" and not finished:
            status = "died"
            if code is None:
                reason = "the process ended without a result"
            elif os.WIFSIGNALED(code):
                number = os.WTERMSIG(code)
                if number == signal.SIGXFSZ:
                    reason = (f"output too large: your code wrote more than {self.limits['output_bytes']:,} bytes "
                              "(to stdout, stderr or a file), so it was stopped")
                elif number == signal.SIGKILL:
                    reason = "killed by the system (signal SIGKILL: most likely out of memory)"
                else:
                    reason = f"crashed: your code ended the process with {_signal_name(number)}"
            else:
                reason = (f"exited: your code ended the grading process (exit status {os.WEXITSTATUS(code)}, "
                          "e.g. os._exit or a crash in native code) before the check could finish")
        try:
            with open(os.path.join(workdir, "output.log"), "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - 2000))
                tail = f.read().decode("utf-8", "replace")
        except OSError:
            tail = ""
        return _Outcome(messages, status, reason, trace, tail, {"phase": phase})

    def _kill(self, pid):
        """The child's process group, its descendants that left the group, and orphans of theirs
        re-parented to this server (a subreaper): SIGKILL to all."""
        victims = set(self._tree(pid)) | set(self._children(os.getpid()))
        for target in (lambda: os.killpg(pid, signal.SIGKILL), *[
                (lambda v=v: os.kill(v, signal.SIGKILL)) for v in victims]):
            try:
                target()
            except (ProcessLookupError, PermissionError):
                pass

    def _reap(self, pid, wait):
        """The child's exit status (waiting for it when `wait`: its status tells how it ended);
        otherwise it is reaped later, while the next child already runs."""
        code = None
        if wait:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    got, status = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    break
                if got == pid:
                    code = status
                    break
                time.sleep(0.002)
        while True:  # finished children, and orphans re-parented to us
            try:
                got, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if got == 0:
                break
        return code

    # ---- the load probe ----

    def probe(self, root, part_name):
        """Find the blocks of one part that hang, kill the process or exhaust memory at load."""
        from autograder.load import find_part_file
        path = find_part_file(root, part_name)
        info = {"file": str(path) if path else None, "blocks": [], "skip": {}, "failed": None, "sources": {}}
        if path is None:
            return info
        load_seconds = float(self.limits["load_seconds"])
        for attempt in range(int(self.limits["probe_restarts"]) + 1):
            skip = dict(info["skip"])

            def body(channel, setup, skip=skip):
                from autograder.load import Part, _notebook_blocks, _python_blocks
                try:
                    size = path.stat().st_size
                    if size > 50 * 2 ** 20:
                        raise ValueError(f"it is {size / 2 ** 20:.0f} MB; the grader reads files up to 50 MB")
                    blocks = _notebook_blocks(path) if path.suffix == ".ipynb" else _python_blocks(path)
                except Exception as exc:  # noqa: BLE001 - a malformed notebook is the submission's problem
                    channel.send(event="unreadable", reason=f"{path.name} could not be read: {type(exc).__name__}: "
                                                            f"{str(exc)[:300]}")
                    return
                channel.send(event="blocks", blocks=[asdict(b) for b in blocks])
                channel.send(event="phase", phase="load")
                snapshot = _forget_other_checks(None, self.context, self.snapshot)
                _lock_down(setup)
                _run_blocks(Part(name=part_name, path=path), blocks, skip, setup.limits, channel)
                channel.send(event="done", tampered=restore_snapshot(snapshot))

            outcome = self._fork(body, load_seconds, load_seconds)
            blocks = next((m["blocks"] for m in outcome.messages if m.get("event") == "blocks"), None)
            unreadable = [m["reason"] for m in outcome.messages if m.get("event") == "unreadable"]
            if unreadable:
                info["failed"] = unreadable[0]
                return info
            if blocks is None:
                info["failed"] = self._internal(outcome) or f"{path.name} could not be read: {outcome.reason}"
                return info
            info["blocks"] = blocks
            info["sources"] = {f"{path.name} {b['where']}": "\n" * (b["first_line"] - 1) + b["source"]
                               for b in blocks}
            if outcome.status == "ok" and any(m.get("event") == "done" for m in outcome.messages):
                info["tampered"] = next(m["tampered"] for m in outcome.messages if m.get("event") == "done")
                return info
            internal = self._internal(outcome)
            if internal:
                info["failed"] = internal
                return info
            started = [m["block"] for m in outcome.messages if m.get("event") == "start"]
            ended = {m["block"] for m in outcome.messages if m.get("event") == "end"}
            running = [b for b in started if b not in ended]
            if not running:
                info["failed"] = f"{path.name} could not be loaded: {outcome.reason}"
                return info
            where = f"{path.name} {blocks[running[-1]]['where']}"
            info["skip"][str(running[-1])] = (f"{outcome.reason}{_student_line(outcome.trace, info['sources'])}; "
                                              "the grader skipped this code")
        info["failed"] = (f"{path.name} could not be loaded: {int(self.limits['probe_restarts']) + 1} of its blocks "
                          f"hung or ended the process (the last one: {where})")
        return info

    @staticmethod
    def _internal(outcome):
        errors = [m["error"] for m in outcome.messages if m.get("event") == "internal_error"]
        return f"grader error while loading: {errors[0].splitlines()[-1]}" if errors else None

    def probed_submission(self, root):
        root = str(root)
        if root not in self.probed:
            self.probed[root] = {p: self.probe(root, p) for p in self.context.rubric["parts"]}
        return self.probed[root]

    # ---- one check ----

    def run_check(self, root, rubric_id):
        """One rubric item: each try collects in a confined child (the student's code) and is judged
        in another child that never ran student code, on the found data alone."""
        from autograder.checks.registry import REGISTRY, Result, run_tries
        item = self.context.rubric["checks"][rubric_id]
        if rubric_id not in REGISTRY:
            raise KeyError(f"grading.yml names checks that no code registers: [{rubric_id!r}]")
        started = time.monotonic()
        budget = check_seconds(self.limits, rubric_id)

        def attempt(seed):
            found, failed = self._collect(root, rubric_id, seed, budget)
            if failed is not None:
                return Result(rubric_id, False, *failed)
            data, note = found
            result = self._judge(rubric_id, data, seed, budget)
            result.message += note
            return result

        result = run_tries(rubric_id, self.context, attempt)
        message = result.message if result.passed else explain(result.message, self.limits)
        return Scored(rubric_id, item.get("title", rubric_id), item["points"] if result.passed else 0, item["points"],
                      bool(result.passed), message, item["visibility"], _jsonable(result.details or {}),
                      round(time.monotonic() - started, 2))

    def _collect(self, root, rubric_id, seed, budget):
        """The student's half in a confined child: (found bytes, None), or (None, (message, details))."""
        from autograder.checks.registry import Result, collect
        from autograder.load import Block, CodeError, Part, Submission
        probed = self.probed_submission(root)
        limits = self.limits

        def body(channel, setup):
            context = self.context
            snapshot = _forget_other_checks(rubric_id, context, self.snapshot)
            tampered = {}

            def load(part_name):
                info = probed[part_name]
                part = Part(name=part_name, path=Path(info["file"]) if info["file"] else None)
                if info["failed"]:
                    part.errors.append(CodeError(where="(the whole file)", summary=info["failed"], defines=_AllNames()))
                elif part.path is not None:
                    channel.send(event="phase", phase="load", part=part_name)
                    _run_blocks(part, [Block(**b) for b in info["blocks"]], info["skip"], limits)
                    channel.send(event="phase", phase="check")
                for name in restore_snapshot(snapshot):
                    tampered[name] = part_name
                return part

            class LazyParts(dict):
                def __missing__(self, part_name):
                    self[part_name] = part = load(part_name)
                    return part

            _lock_down(setup)
            data, failed = collect(rubric_id, Submission(root=Path(root), parts=LazyParts()), context, seed)
            during = restore_snapshot(snapshot)
            if during:
                data, failed = None, Result(rubric_id, False, f"your code replaced {', '.join(sorted(during)[:5])} "
                                                              "while this check ran: the check cannot trust what it "
                                                              "recorded and is failed")
            note = (f" (note: your code replaced {', '.join(sorted(tampered)[:5])} when it was loaded; the grader "
                    "restored the original before checking)") if tampered else ""
            if failed is None:
                channel.send(event="found", data=base64.b64encode(data).decode(), note=note)
            else:
                channel.send(event="failed", message=failed.message + note,
                             details=_jsonable(failed.details or {}))

        outcome = self._fork(body, float(limits["load_seconds"]), budget)
        for message in outcome.messages:  # the first answer counts; none of them can be a pass
            if message.get("event") == "found":
                try:
                    return (base64.b64decode(message["data"], validate=True), str(message.get("note", ""))), None
                except (ValueError, TypeError):
                    return None, ("the grader could not read what your code produced for this check", {})
            if message.get("event") == "failed":
                return None, (str(message.get("message", "")), message.get("details") or {})
        internal = [m["error"] for m in outcome.messages if m.get("event") == "internal_error"]
        if internal:
            return None, (f"grader error (please report it): {internal[0].splitlines()[-1]}", {})
        if outcome.status == "ok" and not outcome.reason:  # it wrote a line that only a judge sends
            return None, ("your code's process sent the grader a verdict (a forged result line?): only the grader's "
                          "judge gives verdicts, so the check is failed", {})
        sources = {k: v for info in probed.values() for k, v in info.get("sources", {}).items()}
        details = {}
        if outcome.output_tail.strip() and outcome.status == "died":
            details = {"output_tail": outcome.output_tail[-1000:]}
        return None, (outcome.reason + _student_line(outcome.trace, sources), details)

    def _judge(self, rubric_id, data, seed, budget):
        """The verdict, in a child forked from this server (which never runs student code): it reads
        the answer with torch.load(weights_only=True) and draws the inputs again itself."""
        from autograder.checks.registry import Result, judge
        context = self.context

        def body(channel, setup):
            result = judge(rubric_id, data, context, seed)
            channel.send(event="result", passed=bool(result.passed), message=result.message,
                         details=_jsonable(result.details or {}))

        outcome = self._fork(body, budget, budget, private=False)
        result = next((m for m in outcome.messages if m.get("event") == "result"), None)
        if result is None:
            internal = [m["error"] for m in outcome.messages if m.get("event") == "internal_error"]
            why = internal[0].splitlines()[-1] if internal else outcome.reason
            return Result(rubric_id, False, f"grader error while judging (please report it): {why}")
        return Result(rubric_id, result["passed"], result["message"], result["details"])

    def fingerprint(self):
        """autograder.score.fingerprint, computed in a child (on CUDA it initialises the device)."""
        if self._fingerprint is None:
            context = self.context

            def body(channel, setup):
                from autograder.score import fingerprint
                channel.send(event="result", fingerprint=fingerprint(context), namespaces=setup.namespaces)

            outcome = self._fork(body, 60, 60, private=False)
            found = [m for m in outcome.messages if "fingerprint" in m]
            self._fingerprint = found[0]["fingerprint"] if found else {"error": outcome.reason}
            self._fingerprint["limits"] = self.limits
            self._fingerprint["isolation"] = {**self.isolation(),
                                              "namespaces": found[0]["namespaces"] if found else []}
        return self._fingerprint

    def grade(self, root, ids, emit):
        started = time.monotonic()
        probed = self.probed_submission(root)
        for rubric_id in ids:
            emit(event="check", check=asdict(self.run_check(root, rubric_id)))
        parts = {p: {"file": i["file"], "blocks": len(i["blocks"]), "failed": i["failed"],
                     "skipped": {i["blocks"][int(k)]["where"]: v for k, v in i["skip"].items()},
                     "tampered": i.get("tampered", [])} for p, i in probed.items()}
        self.probed.pop(str(root), None)
        emit(event="done", fingerprint=self.fingerprint(), parts=parts, seconds=round(time.monotonic() - started, 2))


def serve():
    """The server's main loop: one JSON request per line on stdin, JSON events on the protocol fd."""
    _libc_call("prctl", PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # a killed batch takes its servers along
    if os.getppid() == 1:
        sys.exit(1)
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # stray prints (warnings of an import) must not corrupt the protocol
    request = json.loads(sys.stdin.readline())
    server = Server(request.get("device"), request.get("limits"), request.get("threads"),
                    request.get("private_dirs", ()), request.get("seed"))
    server.protocol_fds = (protocol.fileno(),)

    def emit(**message):
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    emit(event="ready", device=server.device, limits=server.limits, pid=os.getpid())
    for line in sys.stdin:
        request = json.loads(line)
        try:
            if request["op"] == "grade":
                ids = request.get("ids") or list(server.context.rubric["checks"])
                server.grade(request["path"], ids, emit)
            elif request["op"] == "check":
                emit(event="check", check=asdict(server.run_check(request["path"], request["id"])))
            elif request["op"] == "fingerprint":
                emit(event="done", fingerprint=server.fingerprint())
            elif request["op"] == "forget":
                server.probed.pop(request["path"], None)
                emit(event="done")
        except Exception as exc:  # noqa: BLE001 - a grader bug: report it, keep serving
            emit(event="error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()[-3000:])


# ----------------------------------------------------------------------------------------------
# the grading process's side
# ----------------------------------------------------------------------------------------------


class Sandbox:
    """A sandbox server and the pipes to it. Not thread-safe: one per worker thread, and the server
    dies with the thread that started it (PR_SET_PDEATHSIG), so start it in the thread that uses it.

        with Sandbox(device="cpu") as box:
            graded = box.grade("path/to/submission")
    """

    def __init__(self, device=None, limits=None, threads=None, private_dirs=(), env=None, stderr=None, seed=None):
        from autograder.rubric import load_rubric
        self.rubric = load_rubric()
        self.limits = load_limits(self.rubric, limits)
        self.request = {"device": device, "limits": read_overrides(limits), "threads": threads,
                        "private_dirs": [str(p) for p in private_dirs], "seed": seed}
        self.env, self.stderr = env, stderr
        self.process = None
        self.device = None

    def launch(self):
        """Start the server without waiting for it: it imports torch and the checks meanwhile (the
        pytest front end launches it before importing them itself)."""
        env = dict(os.environ if self.env is None else self.env)
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
        env["PYTORCH_NVML_BASED_CUDA_CHECK"] = "1"  # torch.cuda.is_available() must not initialise CUDA
        env.setdefault("OMP_NUM_THREADS", str(self.request["threads"] or 1))
        self._buffer = b""
        self.process = subprocess.Popen([sys.executable, "-m", "autograder.sandbox"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.stderr, env=env, cwd=str(ROOT),
                                        bufsize=0, start_new_session=True)
        self._send(self.request)
        self.device = None
        return self

    def start(self):
        """Launch the server if need be, and wait until it is ready."""
        if self.process is None:
            self.launch()
        if self.device is None:
            ready = self._receive(300)
            self.device, self.limits = ready["device"], ready["limits"]
        return self

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def close(self):
        if self.process is not None:
            try:
                self.process.stdin.close()
            except OSError:
                pass
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            self.process = None

    def _send(self, message):
        if self.process is None:
            self.start()
        try:
            self.process.stdin.write((json.dumps(message) + "\n").encode())
        except (BrokenPipeError, OSError) as exc:
            self._broken(f"the sandbox server is gone ({exc})")

    def _receive(self, timeout):
        """The next JSON line from the server (its own buffer: select() cannot see a file's)."""
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([fd], [], [], max(0.0, left))
            if not ready:
                self._broken(f"the sandbox server did not answer within {timeout:.0f} s")
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                self._broken("the sandbox server died")
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        message = json.loads(line)
        if message.get("event") == "error":
            raise SandboxError(f"sandbox server: {message['error']}\n{message.get('traceback', '')}")
        return message

    def _broken(self, why):
        process, self.process = self.process, None
        if process is not None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            process.wait()
        raise SandboxError(why)

    def _worst_case(self, ids):
        """Seconds a request may take before the server itself is deemed stuck."""
        limits = self.limits
        load = float(limits["load_seconds"]) + 5
        probes = len(self.rubric["parts"]) * (int(limits["probe_restarts"]) + 1) * load
        checks = sum(check_seconds(limits, i) + load * len(self.rubric["parts"]) + 5 for i in ids)
        return probes + checks + 120

    def grade(self, path, only=None, on_check=None):
        """Grade the submission at `path` (every rubric item, or those in `only`): a Graded."""
        ids = [i for i in self.rubric["checks"] if only is None or i in only]
        self._send({"op": "grade", "path": str(Path(path).resolve()), "ids": ids})
        deadline = time.monotonic() + self._worst_case(ids)
        scored = []
        while True:
            message = self._receive(max(1.0, deadline - time.monotonic()))
            if message["event"] == "check":
                scored.append(Scored(**message["check"]))
                if on_check:
                    on_check(scored[-1])
            elif message["event"] == "done":
                return Graded(str(path), scored, message["fingerprint"], message["parts"], message["seconds"])

    def check(self, path, rubric_id):
        """One rubric item (the submission's probe is kept between calls: `forget` drops it)."""
        self._send({"op": "check", "path": str(Path(path).resolve()), "id": rubric_id})
        message = self._receive(self._worst_case([rubric_id]))
        return Scored(**message["check"])

    def forget(self, path):
        self._send({"op": "forget", "path": str(Path(path).resolve())})
        self._receive(60)

    def fingerprint(self):
        self._send({"op": "fingerprint"})
        return self._receive(120)["fingerprint"]


class IsolatedSubmission:
    """What the pytest front end's `submission` fixture gives when grading is isolated:
    autograder.score.score_one sends each rubric item to the sandbox."""

    def __init__(self, sandbox, path):
        self.sandbox, self.path = sandbox, Path(path)

    def score_isolated(self, rubric_id):
        return self.sandbox.check(self.path, rubric_id)


def grade_isolated(path, device=None, only=None, limits=None, seed=None):
    """autograder.score.grade(..., isolate=True): (Graded, scored items)."""
    with Sandbox(device=device, limits=limits, seed=seed) as box:
        graded = box.grade(path, only)
    return graded, graded.scored


def isolation_available():
    """Isolation needs fork, /proc and prctl: Linux."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and Path("/proc/self/stat").exists()


if __name__ == "__main__":
    serve()
