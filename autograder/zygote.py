"""The student side of one submission, run inside its namespace (autograder/isolation.py).

`python -m autograder.zygote` imports torch and the checks once, then, for each request of the
grader's server (autograder/sandbox.py) on stdin, forks one child at a time and supervises it:

* a load probe per part: it parses the part (notebook cells or top-level statements) and runs the
  blocks one by one, saying which block it starts and ends; a block that hangs, ends the process or
  exhausts the memory is then skipped by every later child, with the reason as its error;
* a collect child per try of a rubric item: it runs the parts' blocks (the parts the check asks
  for, on first use), then the check's collect half, and sends what the student's code produced as
  data (torch.save bytes), or why it failed. It never judges: the server's judge does.

What the kernel boundary (bwrap) does is not repeated here: other processes, files, network,
signals, IPC and the grader's environment are out of reach. What is left to this module: per-child
limits (wall time that no message resets, RLIMIT_AS on CPU, RLIMIT_FSIZE, a capped stdout/stderr,
a watch of resident memory that counts SysV shared memory and of the number of processes), killing
every process a check started when it ends, removing the IPC objects it left. Inside the Python
process, what student code must not replace or read is autograder/tamper.py's job, and the words
a student reads about what happened are autograder/messages.py's.

Everything read from a child is hostile: lines are bounded in size and number, a line that is not
a JSON object is ignored, and the server bounds what this process replies in turn.
"""
import base64
import ctypes
import faulthandler
import gc
import io
import json
import os
import re
import resource
import select
import itertools
import signal
import stat
import sys
import tempfile
import time
import traceback
import types
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder.protocol import (FINAL_EVENTS, MESSAGE_CHARS, Reader, child_message, emitter, jsonable,
                                 progress_numbers, read_hostile, send, valid_blocks)
from autograder.messages import explain, signal_name, student_line
from autograder.rubric import HIDDEN_CHECKS
from autograder.tamper import (HIDDEN_MODULE, forget_other_checks, import_quietly, remember_modules,
                               restore_snapshot, take_snapshot, warm_up, warm_up_metrics, warm_up_mnist)

MAX_LINES = 10_000  # lines one child may send (a probe sends two per block)
TRACE_BYTES = 20_000  # of the faulthandler dump of a child that timed out
MAX_PROCESSES = 256  # processes one check may run at once
PROGRESS_SECONDS = 1.0  # a training run's progress reaches the student at most this often (and at its end)
SUBMISSION = "/tmp/submission"  # where the server's copy of the part files is written

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


def warm_up_part_imports(files):
    """What the course's notebooks import and read (pyplot, torchvision: 0.5 s; MNIST: 0.1 s), which
    every check's child re-runs when it loads a part: imported and read once here, before the children
    fork, when a part file names them (a notebook, or a .py exported from one), so that they cost the
    children nothing (benchmarks/PROFILE.md). files: {name: bytes}."""
    if any(word in data for data in files.values() for word in (b"matplotlib", b"torchvision")):
        import_quietly("matplotlib.pyplot", "torchvision.utils")
    if any(b"mnist" in data for data in files.values()):
        warm_up_mnist()


class _AllNames:
    def __contains__(self, name):
        return True


def _run_blocks(part, blocks, skip, limits, channel=None):
    """autograder.load.run_blocks as a child runs them: printing into the capped streams, the
    blocks a probe found harmful skipped and, for a probe, each block's start and end reported."""
    from autograder.load import run_blocks

    def on_block(event, index, error):
        channel.send(event=event, block=index, **({"error": error} if event == "end" else {}))
    run_blocks(part, blocks, skip, lambda message: explain(message, limits), on_block if channel else None,
               capture=False)


# ----------------------------------------------------------------------------------------------
# one child: set-up and supervision
# ----------------------------------------------------------------------------------------------

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
IPC_RMID = 0
_libc = ctypes.CDLL(None, use_errno=True)


@dataclass
class _Setup:
    """What a child needs to confine itself: decided by the zygote, applied after the fork."""
    workdir: str
    limits: dict
    threads: int
    close_fds: tuple
    base_vsize: int  # the zygote's address space, bytes
    address_space_limit: bool  # RLIMIT_AS (CPU runs); CUDA needs a huge address space: the RSS watch holds it


def _confine(setup):
    """Applied in the child right after the fork, before it reads anything of the student's: what the
    namespace does not give (it holds the whole submission, this holds one check)."""
    os.setsid()  # own process group
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # dies with the zygote
    for number in (signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ, signal.SIGCHLD):
        signal.signal(number, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C semantics: KeyboardInterrupt
    for fd in setup.close_fds:
        try:
            os.close(fd)
        except OSError:
            pass
    os.chdir(setup.workdir)
    os.environ.update(HOME=setup.workdir, TMPDIR=setup.workdir, MPLCONFIGDIR=setup.workdir)
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
    try:  # the kernel's choice when the namespace's memory cgroup is full: this child, not the zygote
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    fsize = setup.limits["output_bytes"] + 65536  # C-level writes: past this, SIGXFSZ ends the child
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    # Per uid in the namespace; the kernel does not apply it to a grader running as root (the
    # process-count watch holds there).
    resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))
    if setup.address_space_limit:
        address_space = setup.base_vsize + setup.limits["memory_mb"] * 2 ** 20
        resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))
    import torch
    torch.set_num_threads(setup.threads)


def remove_tree(path, seconds=10.0):
    """Remove a folder student code wrote (a check's work folder, /dev/shm), whatever it holds,
    within `seconds`: no recursion and at most two open folders, however deep the tree (each
    sub-folder found is moved up to the top before it is emptied), links never followed, folders
    without permissions made writable first. What is left at the deadline goes with the
    namespace's tmpfs. Returns True when the folder is gone."""
    deadline = time.monotonic() + seconds
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            os.unlink(path)
            return True
        os.chmod(path, 0o700)
        top = os.open(path, flags)
    except OSError:
        return not os.path.lexists(path)
    moved = itertools.count()
    try:
        while time.monotonic() < deadline:
            names = os.listdir(top)
            if not names:
                break
            for name in names:
                if time.monotonic() >= deadline:
                    break
                _empty_one(top, name, flags, deadline, lambda: f".moved-{next(moved)}")
    finally:
        os.close(top)
    try:
        os.rmdir(path)
    except OSError:
        return False
    return True


def _empty_one(top, name, flags, deadline, fresh_name):
    """Remove the entry `name` of the folder `top` if it is not a folder or an empty one; otherwise
    delete its files and move its folders up into `top` (to be handled by the caller's next pass)."""
    try:
        os.unlink(name, dir_fd=top)
        return
    except IsADirectoryError:
        pass
    except OSError:
        return
    try:
        os.chmod(name, 0o700, dir_fd=top)
        folder = os.open(name, flags, dir_fd=top)
    except OSError:
        return
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                if time.monotonic() >= deadline:
                    return
                try:
                    if entry.is_dir(follow_symlinks=False):
                        os.rename(entry.name, fresh_name() + entry.name[:100], src_dir_fd=folder, dst_dir_fd=top)
                    else:
                        os.unlink(entry.name, dir_fd=folder)
                except OSError:
                    pass
    finally:
        os.close(folder)
    try:
        os.rmdir(name, dir_fd=top)
    except OSError:
        pass


def _progress_to(channel):
    """trainer.progress for a check's child: each tenth of a training run, one line to the zygote."""
    def send(done, total, elapsed):
        try:
            channel.send(event="progress", done=done, total=total, elapsed=elapsed)
        except OSError:  # the student's code closed the pipe: the run goes on, unseen
            pass
    return send


class _Channel:
    """JSON lines to the zygote (and from it to the server) over the child's end of a pipe."""

    def __init__(self, fd):
        self.fd = fd

    def send(self, payload=None, **message):
        send(self.fd, message, payload)


@dataclass
class _Outcome:
    messages: list
    status: str  # "ok", "timeout", "memory", "died", "killed" (SIGKILL not the grader's), "too_large", "too_many"
    reason: str = ""  # for status != ok: what happened, in words
    trace: str = ""
    output_tail: str = ""


def _sysv(kind):
    """(id, rss bytes) of the SysV IPC objects of kind shm, msg or sem visible here."""
    try:
        rows = Path(f"/proc/sysvipc/{kind}").read_text().splitlines()[1:]
    except OSError:
        return []
    found = []
    for row in rows:
        fields = row.split()
        found.append((int(fields[1]), int(fields[14]) if kind == "shm" and len(fields) > 14 else 0))
    return found


def bound_under(folder, mountinfo="/proc/self/mountinfo"):
    """The paths under `folder` that bwrap bound from the host (the checkout, its venv, when they
    live under /tmp), and the folders it made to hold them: what clearing `folder` must keep.
    Trying to remove a read-only bind costs the clean-up its whole deadline, a second a child."""
    mounts, holders = set(), set()
    prefix = folder.rstrip("/") + "/"
    for line in Path(mountinfo).read_text().splitlines():
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
        if point.startswith(prefix):
            mounts.add(point)
            parent = os.path.dirname(point)
            while parent.startswith(prefix):
                holders.add(parent)
                parent = os.path.dirname(parent)
    return mounts, holders - mounts


def clear_folder(folder, keep, mounts, holders, seconds):
    """Remove what `folder` holds but `keep`, the bound `mounts` and, inside the `holders` of
    mounts, whatever else was written there."""
    deadline = time.monotonic() + seconds
    pending = [folder]
    while pending:
        current = pending.pop()
        try:
            names = os.listdir(current)
        except OSError:
            continue
        for name in names:
            path = os.path.join(current, name)
            if path in keep or path in mounts:
                continue
            if path in holders and not os.path.islink(path):
                pending.append(path)
            else:
                remove_tree(path, max(0.05, deadline - time.monotonic()))


def _remove_ipc():
    """The SysV objects and POSIX shared memory a check left in the namespace (its IPC namespace is
    the submission's: nothing here is anyone else's)."""
    for shmid, _ in _sysv("shm"):
        _libc.shmctl(shmid, IPC_RMID, None)
    for msqid, _ in _sysv("msg"):
        _libc.msgctl(msqid, IPC_RMID, None)
    for semid, _ in _sysv("sem"):
        _libc.semctl(semid, 0, IPC_RMID)
    for name in os.listdir("/dev/shm"):
        remove_tree(os.path.join("/dev/shm", name))


class Zygote:
    """Forks the children of one submission, one at a time, and supervises them."""

    def __init__(self, init):
        from autograder.context import Context
        self.limits, self.threads = init["limits"], int(init["threads"] or 1)
        self.device = init["device"]
        self.namespace = init["isolation"] == "bwrap"  # alone in a namespace: every other process is ours
        self.address_space_limit = self.device == "cpu" and not init.get("rss_only")
        if init.get("hidden_source"):  # the file is covered inside the namespace; its code comes from the server
            module = sys.modules[HIDDEN_MODULE]
            exec(compile(init["hidden_source"], str(HIDDEN_CHECKS), "exec"), vars(module))
        self.context = Context(init["rubric"], {}, self.device, init["seed"])
        self.files = {os.path.basename(name): base64.b64decode(data) for name, data in init["files"].items()}
        warm_up_part_imports(self.files)  # before the snapshot: what it imports is the grader's, not a child's
        if init.get("trains"):
            warm_up_metrics()
        self.snapshot = take_snapshot()
        remember_modules()
        self.bound = bound_under("/tmp") if self.namespace else (set(), set())
        self.root = SUBMISSION if self.namespace else tempfile.mkdtemp(prefix="autograder-submission-")
        os.makedirs(self.root, exist_ok=True)
        self._reset_tmp()
        self.probed = {}  # the parts as the probes left them: the server's "parts" request
        self.protocol_fds = ()
        self.on_progress = None  # the server hears a training run's progress through this (main())
        if not self.namespace:  # orphans of a child come back to us, to be killed
            _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        # Everything made so far, the hidden checks included, out of the collector's generations: a
        # child's gc.get_objects() cannot list what forget_other_checks unlinked (a collection there
        # took 0.2 s a check), and the children's collections leave these pages shared.
        gc.freeze()

    # ---- one child ----

    def _status(self):
        text = Path("/proc/self/status").read_text()
        get = lambda key: int(re.search(rf"^{key}:\s+(\d+)", text, re.M).group(1)) * 1024  # noqa: E731
        return get("VmSize"), get("VmRSS")

    def _fork(self, body, budget_load, budget_check, loads=0):
        """Run body(channel, setup) in a confined child; supervise it; return an _Outcome.

        budget_load: seconds for each loading phase, `loads` of them at most; budget_check: seconds
        for everything else. A child announces its phases ({"event": "phase", "phase": "load"|"check"});
        whatever it announces, it is stopped after budget_check + loads * budget_load seconds."""
        vsize, rss = self._status()
        workdir = tempfile.mkdtemp(prefix="check-", dir="/tmp" if self.namespace else None)
        setup = _Setup(workdir, self.limits, self.threads, self.protocol_fds, vsize, self.address_space_limit)
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
        # ---- the zygote ----
        os.close(write_fd)
        try:
            return self._supervise(pid, read_fd, workdir, rss, budget_load, budget_check,
                                   budget_check + loads * budget_load)
        finally:
            os.close(read_fd)
            remove_tree(workdir)
            if self.namespace:
                _remove_ipc()
                self._reset_tmp()

    def _reset_tmp(self):
        """/tmp as the next child must find it: the submission's files as the server handed them over,
        and nothing else. A file a check's code left there (or wrote into the submission's folder)
        would carry what it saw, a hidden check's id and arguments, to a later check's message."""
        # One second at most: a tree the work folder's own clean-up could not finish (10 s, remove_tree)
        # is taken down a second a child, not ten.
        deadline = time.monotonic() + 1.0
        left = lambda: max(0.05, deadline - time.monotonic())  # noqa: E731
        if self.namespace:
            clear_folder("/tmp", {self.root}, *self.bound, left())
        for name in os.listdir(self.root):
            if name not in self.files:
                remove_tree(os.path.join(self.root, name), left())
        for name, data in self.files.items():
            path = os.path.join(self.root, name)
            try:  # no link followed, no FIFO waited on
                with os.fdopen(os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as f:
                    if stat.S_ISREG(os.fstat(f.fileno()).st_mode) and f.read(len(data) + 1) == data:
                        continue
            except OSError:
                pass
            remove_tree(path)
            Path(path).write_bytes(data)

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

    def _processes(self, pid):
        """The processes of the check: in a namespace, every one but its init and us (a daemon that
        left the child's tree included); otherwise the child's tree."""
        if self.namespace:
            return [int(p) for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]
        tree, pending = [], [pid]
        while pending and len(tree) < 10000:
            current = pending.pop()
            tree.append(current)
            pending += self._children(current)
        return tree

    def _memory(self, processes):
        """Resident memory of the check's processes, and of the SysV shared memory they made (which
        outlives a process and is no one's RSS once detached)."""
        total = sum(rss for _, rss in _sysv("shm")) if self.namespace else 0
        for member in processes:
            try:
                total += int(Path(f"/proc/{member}/statm").read_text().split()[1]) * resource.getpagesize()
            except (OSError, ValueError, IndexError):
                pass
        return total

    def _supervise(self, pid, read_fd, workdir, base_rss, budget_load, budget_check, hard):
        """Read the child's messages (bounded: one line and its answer at most answer_bytes and 64 KB, at
        most MAX_LINES of them, a line that is not a JSON object ignored) and watch it: time (the
        phase's budget, and `hard` seconds in all, which no message resets), memory, processes."""
        messages, reader, lines, received = [], Reader(payload_events=("found",)), 0, 0
        max_line = self.limits["answer_bytes"] + 65536  # the answer and the line before it
        started = phase_start = time.monotonic()
        phase, check_used = "check", 0.0
        rss_limit = base_rss + self.limits["memory_mb"] * 2 ** 20
        last_poll, status, reason, finished = started, "ok", "", False
        last_progress = 0.0
        while not finished:
            now = time.monotonic()
            if phase == "load":
                left = budget_load - (now - phase_start)
            else:
                left = budget_check - check_used - (now - phase_start)
            left = min(left, hard - (now - started))
            if left <= 0:
                status = "timeout"
                break
            if now - last_poll > 0.25:
                last_poll = now
                processes = self._processes(pid)
                if len(processes) > MAX_PROCESSES:
                    status, reason = "too_many", (f"too many processes: your code started more than {MAX_PROCESSES} "
                                                  "(the grader's limit), so it was stopped")
                    break
                if self._memory(processes) > rss_limit:
                    status, reason = "memory", (f"memory limit exceeded: your code used more than "
                                                f"{self.limits['memory_mb']} MB (the grader's limit), so it was stopped")
                    break
            ready, _, _ = select.select([read_fd], [], [], min(left, 0.25))
            if not ready:
                continue
            chunk = os.read(read_fd, 1 << 20)
            if not chunk:
                break
            reader.feed(chunk)
            received += len(chunk)
            for message in reader.messages():
                lines += 1
                if message is not None and message.get("event") == "progress":
                    last_progress = self._forward_progress(message, last_progress)
                elif child_message(message) is not None:
                    messages.append(message)
                    if message["event"] == "phase" and message["phase"] in ("load", "check"):
                        now = time.monotonic()
                        if phase == "check":
                            check_used += now - phase_start
                        phase, phase_start = message["phase"], now
                    elif message["event"] in FINAL_EVENTS:
                        finished = True
                if lines > MAX_LINES:
                    status, reason = "too_many", (f"too many messages: your code's process sent the grader more than "
                                                  f"{MAX_LINES:,} lines, so it was stopped")
                    break
                if finished:
                    break
            if status != "ok":
                break
            if len(reader) > max_line or received > 2 * max_line:  # one message that big: the student's answer
                status, reason = "too_large", (f"answer too large: what your code produced for this check is over "
                                               f"{self.limits['answer_bytes']:,} bytes (the grader's limit)")
                break
        del reader
        trace = ""
        if status == "timeout":
            overall = time.monotonic() - started >= hard
            seconds = hard if overall else budget_load if phase == "load" else budget_check
            reason = (f"timed out: did not finish within {seconds:g} s (the grader's limit)"
                      + (" while loading your code" if phase == "load" and not overall else ""))
            try:
                os.kill(pid, signal.SIGUSR1)  # faulthandler writes where every thread is
                deadline = time.monotonic() + 1.0
                trace_path = os.path.join(workdir, "trace.txt")
                while time.monotonic() < deadline:
                    time.sleep(0.05)
                    if "File" in read_hostile(trace_path, TRACE_BYTES):
                        time.sleep(0.05)
                        break
                trace = read_hostile(trace_path, TRACE_BYTES)
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
                elif number == signal.SIGKILL:  # not sent by us: the system's OOM killer, or the code itself
                    status, reason = "killed", ("killed from outside the check (signal SIGKILL, which the grader "
                                                "did not send): your code killed its own process, or the system's "
                                                "OOM killer stopped it when the machine's memory ran short")
                else:
                    reason = f"crashed: your code ended the process with {signal_name(number)}"
            else:
                reason = (f"exited: your code ended the grading process (exit status {os.WEXITSTATUS(code)}, "
                          "e.g. os._exit or a crash in native code) before the check could finish")
        tail = read_hostile(os.path.join(workdir, "output.log"), 2000, tail=True)
        return _Outcome(messages, status, reason, trace, tail)

    def _forward_progress(self, message, last):
        """A training run's progress, to the server: numbers only (the child is hostile), at most
        one line every PROGRESS_SECONDS besides a run's last; returns when it last forwarded."""
        numbers, now = progress_numbers(message), time.monotonic()
        if self.on_progress is None or numbers is None or (
                numbers["done"] < numbers["total"] and now - last < PROGRESS_SECONDS):
            return last
        self.on_progress(**numbers)
        return now

    def _kill(self, pid):
        """Every process the check started (SIGKILL): in a namespace, all but its init and us;
        otherwise the child's process group, its tree and the orphans re-parented to us."""
        victims = set(self._processes(pid)) | set(self._children(os.getpid()))
        for target in (lambda: os.killpg(pid, signal.SIGKILL), *[
                (lambda v=v: os.kill(v, signal.SIGKILL)) for v in victims if v != os.getpid()]):
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

    def probe(self, part_name):
        """Find the blocks of one part that hang, kill the process or exhaust memory at load."""
        from autograder.load import find_parts
        # the server's copy: one flat folder (no rubric here to read the search's limits from)
        path = find_parts(self.root, [part_name], {"depth": 0, "folder_entries": 100})[part_name].chosen
        info = {"file": str(path) if path else None, "blocks": [], "skip": {}, "failed": None, "sources": {}}
        if path is None:
            return info
        load_seconds = float(self.limits["load_seconds"])
        for attempt in range(int(self.limits["probe_restarts"]) + 1):
            skip = dict(info["skip"])

            def body(channel, setup, skip=skip):
                from autograder.load import Part, _notebook_blocks, _python_blocks
                try:
                    data = path.read_bytes()  # the grader's copy, bounded when it read it (sandbox.read_parts)
                    blocks = (_notebook_blocks if path.suffix == ".ipynb" else _python_blocks)(path, data)
                except Exception as exc:  # noqa: BLE001 - a malformed notebook is the submission's problem
                    channel.send(event="unreadable", reason=f"{path.name} could not be read: {type(exc).__name__}: "
                                                            f"{str(exc)[:300]}")
                    return
                channel.send(event="blocks", blocks=[asdict(b) for b in blocks])
                channel.send(event="phase", phase="load")
                snapshot = forget_other_checks(None, self.context, self.snapshot)
                _run_blocks(Part(name=part_name, path=path), blocks, skip, setup.limits, channel)
                channel.send(event="done", tampered=restore_snapshot(snapshot))

            outcome = self._fork(body, load_seconds, load_seconds)
            # The first "blocks" is sent before any student code runs; what follows may be forged.
            blocks = valid_blocks(next((m["blocks"] for m in outcome.messages if m["event"] == "blocks"), None),
                                  path.stat().st_size)
            unreadable = [m["reason"] for m in outcome.messages if m["event"] == "unreadable"]
            if unreadable:
                info["failed"] = unreadable[0][:MESSAGE_CHARS]
                return info
            if blocks is None:
                info["failed"] = self._internal(outcome) or f"{path.name} could not be read: {outcome.reason}"
                return info
            info["blocks"] = blocks
            info["sources"] = {f"{path.name} {b['where']}": "\n" * (b["first_line"] - 1) + b["source"]
                               for b in blocks}
            if outcome.status == "ok" and any(m["event"] == "done" for m in outcome.messages):
                tampered = next(m["tampered"] for m in outcome.messages if m["event"] == "done")
                info["tampered"] = [str(t)[:200] for t in tampered[:50]]
                return info
            internal = self._internal(outcome)
            if internal:
                info["failed"] = internal
                return info
            started = [m["block"] for m in outcome.messages if m["event"] == "start" and 0 <= m["block"] < len(blocks)]
            ended = {m["block"] for m in outcome.messages if m["event"] == "end"}
            running = [b for b in started if b not in ended]
            if not running:
                info["failed"] = f"{path.name} could not be loaded: {outcome.reason}"
                return info
            where = f"{path.name} {blocks[running[-1]]['where']}"
            info["skip"][str(running[-1])] = (f"{outcome.reason}{student_line(outcome.trace, info['sources'])}; "
                                              "the grader skipped this code")
        info["failed"] = (f"{path.name} could not be loaded: {int(self.limits['probe_restarts']) + 1} of its blocks "
                          f"hung or ended the process (the last one: {where})")
        return info

    @staticmethod
    def _internal(outcome):
        """What a child's "internal_error" says, as the submission's failure: student code can write
        that line too (docs/batch.md, "Who may say what"), so it is never a grader error."""
        errors = [m["error"] for m in outcome.messages if m["event"] == "internal_error"]
        if not errors:
            return None
        return (f"the process running your code failed outside your code's own lines ("
                f"{(errors[0].splitlines() or [''])[-1][:300]}); if your code did not cause this, please report it")

    def collect(self, rubric_id, seed, budget):
        """The student's half in a confined child: {"found": the answer's bytes, "note"}, or
        {"failed": message, "details"}, with "status" (_Outcome's) when the child did not answer.
        It loads the parts as the probes left them (self.probed, which the server gives first)."""
        from autograder.checks.registry import Result, collect
        from autograder.load import Block, CodeError, Part, Submission
        limits, root, probed = self.limits, self.root, self.probed
        if not probed:
            raise RuntimeError("grader bug: a collect before the parts were given (Server._parts_request)")

        def body(channel, setup):
            from autograder.trainer import progress
            context = self.context
            progress.set(_progress_to(channel))
            snapshot = forget_other_checks(rubric_id, context, self.snapshot)
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

            data, failed = collect(rubric_id, Submission(root=Path(root), parts=LazyParts()), context, seed)
            during = restore_snapshot(snapshot)
            if during:
                data, failed = None, Result(rubric_id, False, f"your code replaced {', '.join(sorted(during)[:5])} "
                                                              "while this check ran: the check cannot trust what it "
                                                              "recorded and is failed")
            note = (f" (note: your code replaced {', '.join(sorted(tampered)[:5])} when it was loaded; the grader "
                    "restored the original before checking)") if tampered else ""
            if failed is None:
                channel.send(event="found", note=note, payload=data)
            else:
                channel.send(event="failed", message=failed.message[:MESSAGE_CHARS] + note,
                             details=jsonable(failed.details or {}))

        outcome = self._fork(body, float(limits["load_seconds"]), budget, loads=len(probed))
        for message in outcome.messages:  # the first answer counts; none of them can be a pass
            if message["event"] == "found":
                return {"found": message["payload"], "note": message["note"][:MESSAGE_CHARS]}
            if message["event"] == "failed":
                return {"failed": message["message"][:MESSAGE_CHARS], "details": message.get("details")}
        internal = self._internal(outcome)
        if internal:
            return {"failed": internal}
        if outcome.status == "ok" and not outcome.reason:  # it wrote a line that only a judge sends
            return {"failed": "your code's process sent the grader a verdict (a forged result line?): only the "
                              "grader's judge gives verdicts, so the check is failed"}
        sources = {k: v for info in probed.values() for k, v in info.get("sources", {}).items()}
        details = {}
        if outcome.output_tail.strip() and outcome.status in ("died", "killed"):
            details = {"output_tail": outcome.output_tail[-1000:]}
        return {"failed": outcome.reason + student_line(outcome.trace, sources), "details": details,
                "status": outcome.status}


def main():
    """Requests of the server on stdin (one JSON object a line, trusted: the server writes them),
    replies on the original stdout; anything else this process prints goes to stderr."""
    replies = os.dup(1)
    os.dup2(2, 1)
    # Not dumpable: the children (its uid) cannot open its pipes through /proc/<pid>/fd, nor read its
    # memory or environment; the children inherit it (a process they exec is dumpable again).
    _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    if os.environ.get("AUTOGRADER_ISOLATION") == "container":  # no namespace to die with: die with the server
        _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    else:  # hidden.py cannot be read here: its module is made empty, and its code comes from the server
        sys.modules[HIDDEN_MODULE] = types.ModuleType(HIDDEN_MODULE)
    import autograder.checks  # noqa: F401  (registers every check)
    package, _, name = HIDDEN_MODULE.rpartition(".")
    if HIDDEN_MODULE in sys.modules:
        setattr(sys.modules[package], name, sys.modules[HIDDEN_MODULE])
    warm_up()  # while the server waits for a submission to hand us

    emit = emitter(replies)
    line = sys.stdin.readline()
    if not line:
        return
    zygote = Zygote(json.loads(line))
    zygote.protocol_fds = (replies,)
    zygote.on_progress = lambda **numbers: emit(event="progress", **numbers)
    emit(event="ready")
    for line in sys.stdin:
        try:
            request = json.loads(line)
            request["op"], request["n"]
        except (ValueError, TypeError, KeyError):  # not the server's (it cannot be: see PR_SET_DUMPABLE)
            continue
        try:
            if request["op"] == "probe":
                reply = {"info": zygote.probe(request["part"])}
            elif request["op"] == "parts":
                zygote.probed, reply = request["probed"], {}
            else:
                reply = zygote.collect(request["id"], request["seed"], request["budget"])
        except Exception:  # noqa: BLE001 - hostile messages of a child, or a bug here: the server decides
            reply = {"error": traceback.format_exc()[-3000:]}
        emit(event="reply", n=request["n"], payload=reply.pop("found", None), **reply)


if __name__ == "__main__":
    main()

