"""Isolation: a student's code runs only in its submission's namespace, and is judged outside it.

Three kinds of process (docs/batch.md has the why):

* the grading process (pytest's front end, `python -m autograder grade|batch`): never runs a line
  of student code and never imports torch; it talks to a server over two pipes (`Sandbox`);
* the server (`python -m autograder.sandbox`): the grader's own. It imports torch and the checks,
  reads each submission's part files itself (regular files only: a link is refused before it is
  read) and hands them to that submission's namespace; it judges every answer in a child forked
  from itself, which never ran student code and alone can award points;
* per submission, one namespace (autograder/isolation.py: bubblewrap) holding the student side,
  autograder/zygote.py, which forks a child per load probe and per check (the only processes that
  run student code) under the per-check limits. The namespace is started before the submission
  is known (it imports torch meanwhile) and killed when its grading ends, with everything in it.

Everything the namespace sends is hostile: lines bounded in size and number, a line that is not a
JSON object ignored, replies checked, messages and details clipped before any formatting, and a
wall-clock cap per request (a probe, a check's try) that nothing said on the pipe can move. A
namespace that breaks one of these (or dies: its code can kill its own zygote) fails the request it
was serving, in words, and a fresh namespace serves the rest of the submission.

Who may say what (docs/batch.md, "Who may say what"): a pass only the judge's child; a fail
anything on the student's side; a grader error only what this process observes itself (its own
failures, a namespace that does not start, the kernel's OOM count of the machine beyond the
namespace's own cgroup), never bytes the namespace writes: a `grader_error` key in details it
sent is dropped (student_details), and an error reply fails the request it answers.

Limits come from grading.yml's `limits:` (autograder.rubric.load_limits).
"""
import base64
import fcntl
import json
import os
import resource
import select
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

from autograder.isolation import MemoryCgroup, SANDBOX_UID, choose as choose_isolation, \
    command as bwrap_command, environment as child_environment
from autograder.load import submission_limits
from autograder.messages import explain, signal_name
from autograder.preflight import default_device, memory_mb, oom_kills
from autograder.protocol import MESSAGE_CHARS, Reader, emitter, encode, jsonable, progress_numbers, send, tail_text
from autograder.report import Graded, Scored, drawn
from autograder.rubric import HIDDEN_CHECKS, ROOT, check_seconds, load_limits, load_rubric, read_overrides
from autograder.zygote import remove_tree

DETAILS_BYTES = 100_000  # a check's details as JSON, as the student's side sends them
JUDGED_BYTES = 2_000_000  # the judge's own details: room for a training run's sample grid and loss curves
EXTRA_LINES = 100  # lines a namespace may send besides its replies and progress (only forged ones are)
NAMESPACE_MB, NAMESPACE_MB_CUDA = 1536, 4096  # a namespace's own memory besides a check's (Namespace)
GRADER_ERROR = "grader_error"  # the detail that makes a failure the machine's, not the student's
PIPE_BYTES = 2 ** 20  # the namespace's reply pipe (Linux's default pipe-max-size)
PARTS_SECONDS = 60  # for the namespace to take the parts' blocks and sources (Server._parts_request)
AHEAD = 8  # checks posted to the namespace ahead of the one being judged: a slow judge (0.3 s) hides several collects
PROGRESS_LINES = 10_000  # progress lines a namespace may send while one request runs (about 1 a second)
__all__ = ["Sandbox", "SandboxError", "load_limits", "isolation_available"]


class SandboxError(Exception):
    """The server itself failed (not the student's code): the grading of this submission cannot
    be trusted and should be re-run."""


class NamespaceBroken(Exception):
    """The namespace of a submission stopped answering as it must (timed out, died, sent too much)."""


def clip(text, limit=MESSAGE_CHARS):
    text = str(text)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text) - limit:,} more characters left out)"


def encodable(value):
    """value with every string made encodable in UTF-8: JSON carries a lone surrogate ("\\ud800") from
    a student's exception message, which would make writing report.html, the CSVs or the terminal
    fail for the whole grading (tests/test_redteam.py); each such character becomes "?"."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {encodable(k): encodable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [encodable(v) for v in value]
    return value


def bounded_details(details, limit=DETAILS_BYTES):
    """A check's details, as JSON-able data of at most `limit` bytes: the largest values are left out
    first (and named in a note), so that a run's figures (its `run`, FID, accuracy) always stay."""
    try:
        details = jsonable(details if isinstance(details, dict) else {})
        sizes = {key: len(json.dumps(value, allow_nan=False)) + len(key) + 6 for key, value in details.items()}
    except (TypeError, ValueError, RecursionError):
        return {"note": "details left out (not data)"}
    total, left_out = sum(sizes.values()), []
    for key in sorted(sizes, key=sizes.get, reverse=True):
        if total <= limit - 200:
            break
        total -= sizes[key]
        left_out.append(key)
        del details[key]
    if left_out:
        details["note"] = clip(f"details left out (over {limit:,} bytes): {', '.join(left_out)}", 150)
    return details


def _address_space():
    """This process's address space (VmSize), bytes."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))


def judged_details(details, limit=JUDGED_BYTES):
    """A judge's details (bounded_details), less GRADER_ERROR: only the server's own observation
    (Server._killed_for_memory) says a failure is the grader's, and a judge reads student data."""
    details = bounded_details(details, limit)
    details.pop(GRADER_ERROR, None)
    return details


def student_details(details, limit=DETAILS_BYTES):
    """Details a child of the namespace sent: judged_details, less what the report draws
    (report.drawn), which only judges make and which thousands of forged keys would make a stall of
    the grading process's own CPU."""
    return {key: value for key, value in judged_details(details, limit).items() if not drawn(key)}


# ----------------------------------------------------------------------------------------------
# the server's side of one namespace
# ----------------------------------------------------------------------------------------------


@dataclass
class Posted:
    """A request sent to a namespace whose reply is still to be read (Namespace.post)."""
    n: int
    request: dict
    seconds: float  # for its reply, from when it is read: the server may be judging meanwhile
    machine_kills: int | None  # the kernel's OOM kills on the machine, and in the namespace, when it was sent
    namespace_kills: tuple


class Namespace:
    """One submission's student side: autograder.zygote in bwrap (or, `container` mode, without)."""

    def __init__(self, isolation, device, limits, threads):
        self.limits = limits
        argv = [sys.executable, "-m", "autograder.zygote"]
        env = {}  # bwrap itself gets nothing of ours: the namespace's environment is its --setenv
        self.scratch = None  # container mode: the folder its files go to, removed with it (close)
        # The kernel's cap on everything the namespace holds: a check's memory_mb over the zygote's
        # own (torch imported; CUDA's libraries on a GPU), its two tmpfs, and slack. The per-check
        # RSS watch stops a check first; this stops what no RSS shows (memfd, page tables).
        self.memory_limit_mb = (int(limits["memory_mb"]) + 2 * int(limits["work_mb"])
                                + (NAMESPACE_MB if device == "cpu" else NAMESPACE_MB_CUDA))
        self.cgroup = MemoryCgroup.make(self.memory_limit_mb * 2 ** 20)
        self.killed_for = {"namespace": False, "machine": False}  # by the kernel for memory, in the last ask
        self.bwrap = isolation == "bwrap"
        if self.bwrap:
            argv = bwrap_command(argv, device, limits["work_mb"], threads)
        else:
            self.scratch = tempfile.mkdtemp(prefix="autograder-namespace-")
            env = {**child_environment(threads), "AUTOGRADER_ISOLATION": isolation, "HOME": self.scratch,
                   "TMPDIR": self.scratch, "MPLCONFIGDIR": self.scratch}
        self.log = tempfile.TemporaryFile()  # the zygote's stderr: its tail says why it died
        if self.cgroup is not None:
            argv = self.cgroup.wrap(argv)
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                        env=env, cwd="/", bufsize=0, start_new_session=True)
        os.set_blocking(self.process.stdin.fileno(), False)  # _send
        try:  # room for the replies of the checks posted ahead (AHEAD) while the server judges
            fcntl.fcntl(self.process.stdout.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
        except OSError:  # above the system's pipe-max-size: a bigger reply waits for the server
            pass
        self.reader, self.count = Reader(payload_events=("reply",)), 0
        self.on_progress = None  # set by the server: a training run's progress, on its way to the student
        # The biggest honest line: a probe's reply (a part's blocks and sources), or an answer's line and bytes.
        self.max_line = max(limits["answer_bytes"], 3 * int(submission_limits()["file_bytes"])) + 2 ** 20

    def start(self, init, seconds=300):
        self._send(init)
        return self._read(lambda m: m.get("event") == "ready", seconds, "starting")

    def ask(self, request, seconds):
        """The reply to `request` ({"op": ...}), within `seconds` whatever the namespace sends."""
        return self.answer(self.post(request, seconds))

    def post(self, request, seconds):
        """Send `request` now; answer() reads its reply (within `seconds` of its call, whatever the
        namespace sends). The namespace serves one request at a time: the server posts the next while
        it judges the last."""
        self.count += 1
        posted = Posted(self.count, request, seconds, oom_kills(), self.memory_kills())
        self._send({**request, "n": self.count})
        return posted

    def answer(self, posted):
        machine, namespace = posted.machine_kills, posted.namespace_kills
        try:
            reply = self._read(lambda m: m.get("event") == "reply" and m.get("n") == posted.n, posted.seconds,
                               posted.request["op"])
        except NamespaceBroken as exc:
            if self._own_limit(namespace, self.memory_kills()):
                raise NamespaceBroken(f"{self.memory_words()}; the grader's process for your submission was "
                                      "among those killed") from exc
            raise
        after = self.memory_kills()
        own = self._own_limit(namespace, after)
        # A kill of the kernel's while the namespace's own limit was not hit: the machine's memory
        # ran out (a grader error), not the submission's limit. With a cgroup, only a kill in it
        # counts: the machine-wide count also grows with a classmate's kills in its own cgroup, and
        # would excuse a check that killed itself meanwhile (tests/test_redteam.py).
        if self.cgroup is not None:
            grew = after[0] > namespace[0]
        else:
            grew = machine is not None and (oom_kills() or 0) > machine
        self.killed_for = {"namespace": own, "machine": not own and grew}
        return reply

    def memory_kills(self):
        """(kills in the namespace's cgroup, hits of its own limit): see MemoryCgroup."""
        return self.cgroup.oom_kills() if self.cgroup is not None else (0, 0)

    @staticmethod
    def _own_limit(before, after):
        """A process of the namespace was killed when its own cgroup's limit was hit meanwhile."""
        return after[0] > before[0] and after[1] > before[1]

    def memory_words(self):
        return (f"memory limit exceeded: the kernel stopped your code at your submission's memory limit "
                f"({self.memory_limit_mb} MB for all its processes and files, memory no process shows, such "
                "as memfd or /dev/shm, included)")

    def _send(self, message):
        """Write `message`'s line. While the namespace's stdin is full, what it sends is read into the
        reader, where answer() finds it: the zygote may be blocked writing the reply of a check posted
        ahead, and would not read this line before the server read that reply (stdin does not block)."""
        data, stdin, stdout = memoryview(encode(message)), self.process.stdin.fileno(), self.process.stdout.fileno()
        try:
            while data:
                readable, writable, _ = select.select([stdout], [stdin], [])
                if writable:
                    try:
                        data = data[os.write(stdin, data):]
                    except BlockingIOError:
                        pass
                elif readable:
                    chunk = os.read(stdout, 1 << 20)
                    if not chunk:
                        raise OSError("it closed its output")
                    self.reader.feed(chunk)
                    if len(self.reader) > 2 * self.max_line:  # a reply waiting for answer(), and the next
                        raise NamespaceBroken(f"over {2 * self.max_line:,} bytes came from your submission's side "
                                              "unasked")
        except OSError as exc:
            raise NamespaceBroken(f"the grader's process for your submission is gone ({exc}){self._why()}") from exc

    def _read(self, wanted, seconds, what):
        deadline = time.monotonic() + seconds
        fd, extra, heard = self.process.stdout.fileno(), 0, 0
        while True:
            for message in self.reader.messages():
                if message is not None and wanted(message):
                    return message
                if message is not None and message.get("event") == "progress" and heard < PROGRESS_LINES:
                    heard += 1
                    self._progress(message)
                    continue
                extra += 1
                if extra > EXTRA_LINES:
                    raise NamespaceBroken(f"the grader's process for your submission received more than {EXTRA_LINES} "
                                          "lines it did not ask for (written by your code into its pipe?)")
            if len(self.reader) > self.max_line:
                raise NamespaceBroken(f"a message of over {self.max_line:,} bytes came from your submission's side")
            left = deadline - time.monotonic()
            if left <= 0:
                raise NamespaceBroken(f"timed out: {what} did not finish within {seconds:.0f} s (the grader's "
                                      "limit), whatever your code's process said meanwhile")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    raise NamespaceBroken("the grader's process for your submission ended (killed or stopped by your "
                                          f"code?){self._why()}")
                self.reader.feed(chunk)

    def _progress(self, message):
        """A training run's progress, passed on as numbers only (the namespace is hostile)."""
        numbers = progress_numbers(message)
        if self.on_progress is not None and numbers is not None:
            self.on_progress(**numbers)

    def _why(self):
        """How the zygote ended (its exit status) and the last line it wrote to stderr."""
        ended = self._exit_words()
        try:
            tail = tail_text(self.log, 600).strip()
        except OSError:
            tail = ""
        last = tail.splitlines()[-1][:300] if tail else ""
        return f": {'; '.join(w for w in (ended, last) if w)}" if ended or last else ""

    def _exit_words(self, seconds=2.0):
        """How the zygote ended, in words ("" while it runs): its exit status, which bwrap passes on
        as its own (128 + the signal's number for a zygote killed by one, as the kernel's OOM
        killer does without a word in the log)."""
        try:
            code = self.process.wait(seconds)
        except subprocess.TimeoutExpired:
            return ""
        number = -code if code < 0 else code - 128 if self.bwrap and code > 128 else None
        return f"it was killed by {signal_name(number)}" if number else f"it exited with status {code}"

    def close(self):
        """Kill it: with bwrap, its PID namespace goes, and every process and IPC object in it."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.log):
            try:
                stream.close()
            except OSError:
                pass
        if self.scratch is not None:  # the submission's copy and the checks' work folders
            remove_tree(self.scratch, 60)
        if self.cgroup is not None:
            self.cgroup.remove()


def read_parts(root, parts):
    """The part files of a submission, read by the grader (no student code runs here): {part:
    (file name, bytes)} and {part: why it was refused}. The files are found by autograder.load's
    one rule (find_parts) and named after their part in the namespace's flat copy; only regular files
    are read (read_part: a link, into reference/ or a classmate's folder, or a special file is
    refused before anything is read through it)."""
    from autograder.load import Unreadable, find_parts, read_part
    found, refused = {}, {}
    for part, (path, _, _) in find_parts(root, parts).items():
        if path is None:
            continue
        try:
            found[part] = (f"{part}{path.suffix.lower()}", read_part(path))
        except Unreadable as exc:
            refused[part] = f"{path.name} was not read: {exc}"
    return found, refused


# ----------------------------------------------------------------------------------------------
# the server: judges, and drives one namespace per submission
# ----------------------------------------------------------------------------------------------


class Server:
    def __init__(self, device=None, limits=None, threads=None, seed=None, isolation="bwrap", warm_next=True):
        self.limits = load_limits(load_rubric(), limits)
        # One torch thread per child unless asked: the checks' tensors are small, and OpenMP threads
        # that spin-wait on busy cores made grading 2-3x slower here (docs/batch.md, "What it costs").
        self.threads = threads or 1
        self.isolation = isolation
        self.warm_next = warm_next  # another submission may follow: a namespace warms up for it
        # A device asked for is known before torch is imported: the first namespace imports torch and
        # the checks alongside this process (a second sooner on two cores), not after it.
        self.spare = Namespace(isolation, device, self.limits, self.threads) if device else None
        import autograder.checks  # noqa: F401  (torch and every check, while the namespace imports them too)
        import scipy.stats  # noqa: F401  (the judges' statistical tests: imported once, before they fork)
        from autograder.context import make_context
        self.context = make_context(device, seed=seed)  # NVML-based CUDA check: does not initialise CUDA
        self.device = self.context.device
        hidden = ROOT / HIDDEN_CHECKS
        self.init = {"device": self.device, "limits": self.limits, "threads": self.threads, "seed": self.context.seed,
                     "rubric": self.context.rubric, "isolation": isolation,
                     "rss_only": os.environ.get("AUTOGRADER_SANDBOX_RSS_ONLY") == "1",  # test the CUDA memory watch
                     "hidden_source": hidden.read_text() if isolation == "bwrap" and hidden.exists() else None}
        if self.spare is None:
            self.spare = Namespace(isolation, self.device, self.limits, self.threads)  # imports torch while we do
        self.current, self.files, self.root, self.probed = None, {}, None, {}
        self.ahead = []  # (request, Posted), in the order they were posted: _post_ahead
        self.trains = False  # whether the submission being graded runs a training check (its namespace warms up for it)
        self.on_progress = None  # serve(): the grading process hears a training run's progress
        self._fingerprint = None

    def close(self):
        for namespace in (self.current, self.spare):
            if namespace is not None:
                namespace.close()
        self.current = self.spare = None

    # ---- the namespace of the submission being graded ----

    def _open(self):
        namespace, self.spare = self.spare, None
        if namespace is None:
            namespace = Namespace(self.isolation, self.device, self.limits, self.threads)
        files = {name: base64.b64encode(data).decode() for name, data in self.files.values()}
        namespace.on_progress = self.on_progress
        try:
            namespace.start({**self.init, "files": files, "trains": self.trains})
            if self.probed:  # opened again after the probes: the collects to come load the parts from these
                namespace.ask(self._parts_request(), PARTS_SECONDS)
        except NamespaceBroken as exc:
            namespace.close()
            raise SandboxError(f"the submission's namespace did not start: {exc}") from exc
        if self.warm_next:
            self.spare = Namespace(self.isolation, self.device, self.limits, self.threads)  # the next one, warming up
        return namespace

    def _post(self, request, seconds):
        if self.current is None:
            self.current = self._open()
        try:
            return self.current.post(request, seconds)
        except NamespaceBroken:
            self._drop_namespace()
            raise

    def _post_ahead(self, request, seconds):
        """Post a later check's collect while this one is judged: the namespace collects and the
        judge judges side by side."""
        if self.current is not None:
            try:
                self.ahead.append((request, self._post(request, seconds)))
            except NamespaceBroken:
                pass  # dropped with what was posted to it (_drop_namespace): each is posted again when asked

    def _ask(self, request, seconds):
        ahead = self.ahead.pop(0) if self.ahead else None
        if ahead is not None and ahead[0] != request:
            raise SandboxError(f"grader bug: {ahead[0]['op']} {ahead[0].get('id', '')} was posted ahead, and "
                               f"{request['op']} {request.get('id', '')} asked next")
        posted = ahead[1] if ahead is not None else self._post(request, seconds)
        try:
            reply = self.current.answer(posted)
        except NamespaceBroken:
            self._drop_namespace()
            raise
        if "error" in reply:  # bytes from the namespace: the submission's failure, never a grader error
            print(f"autograder: the namespace failed on {request['op']}: {clip(reply['error'], 3000)}", file=sys.stderr)
            self._drop_namespace()
            last = (str(reply["error"]).strip().splitlines() or [""])[-1]
            raise NamespaceBroken(f"the grader's process for your submission failed while serving this check "
                                  f"({clip(last, 300)}): what your "
                                  "code left or sent it is the likely cause; if not, please report it")
        return reply

    def _drop_namespace(self):
        """The rest of the submission gets a fresh namespace (what was posted to this one, again)."""
        self.current.close()
        self.current, self.ahead = None, []

    # ---- loading ----

    def _probe(self, part, refused):
        if part in refused:  # a name only (nothing was read): the checks that need the part say why
            return {"file": f"{part}.py", "blocks": [], "skip": {}, "failed": refused[part], "sources": {}}
        if part not in self.files:
            return {"file": None, "blocks": [], "skip": {}, "failed": None, "sources": {}}
        load = float(self.limits["load_seconds"])
        seconds = (int(self.limits["probe_restarts"]) + 1) * (load + 10) + 30
        try:
            info = self._ask({"op": "probe", "part": part}, seconds)["info"]
            if not isinstance(info, dict) or not isinstance(info.get("blocks"), list):
                raise ValueError("not a probe's reply")
            # A block skipped because the system killed its process while the machine ran out of
            # memory: a failing check is then a grader error (run_check), not the student's.
            grew = self.current.killed_for["machine"]
            info["oom_skips"] = [where for where, reason in (info.get("skip") or {}).items()
                                 if grew and isinstance(reason, str) and reason.startswith("killed from outside")]
            return info
        except (NamespaceBroken, ValueError, KeyError) as exc:
            return {"file": None, "blocks": [], "skip": {}, "sources": {},
                    "failed": clip(f"{self.files[part][0]} could not be loaded: {exc}")}

    def _summary(self, root, probed):
        """What loading did, for the report: bounded, whatever the namespace said."""
        from autograder.load import find_part_file
        parts = {}
        for part, info in probed.items():
            try:
                blocks, skip = info.get("blocks") or [], info.get("skip") or {}
                skipped = {clip(blocks[int(k)]["where"], 200): clip(v) for k, v in list(skip.items())[:20]}
                tampered = [clip(t, 200) for t in list(info.get("tampered") or [])[:50]]
            except (AttributeError, LookupError, TypeError, ValueError):
                skipped, tampered = {"?": "the grader could not read what loading reported"}, []
            path = find_part_file(root, part)
            parts[part] = {"file": str(path) if path and part in self.files else None, "blocks": len(blocks),
                           "failed": clip(info["failed"]) if info.get("failed") else None,
                           "skipped": skipped, "tampered": tampered}
        return parts

    # ---- one check ----

    def _parts_request(self):
        """The parts as the probes left them (their blocks and sources), given to a namespace once,
        before its first collect: a collect request names its check only, so that the requests
        posted ahead stay small whatever the submission's size."""
        return {"op": "parts", "probed": self.probed}

    def _collect_request(self, rubric_id, seed):
        """The namespace's request for one try of a check, and the seconds its reply may take."""
        budget = check_seconds(self.limits, rubric_id)
        loads = len(self.probed) * float(self.limits["load_seconds"])
        return {"op": "collect", "id": rubric_id, "seed": seed, "budget": budget}, budget + loads + 30

    def run_check(self, rubric_id, following=()):
        """One rubric item: each try collects in the namespace (the student's code) and is judged in
        a child of this server that never ran student code, on the found data alone. The first tries
        of the next AHEAD ids of `following` (the checks after this one) are posted before it is
        judged: the namespace collects them meanwhile, a slow judge's time included."""
        from autograder.checks.registry import Result, run_tries
        started = time.monotonic()
        budget = check_seconds(self.limits, rubric_id)

        def attempt(seed):
            try:
                reply = self._ask(*self._collect_request(rubric_id, seed))
            except NamespaceBroken as exc:
                return Result(rubric_id, False, clip(exc))
            data = reply.get("payload")  # the answer's bytes (protocol.Reader), nothing else
            if data is None:
                killed, killed_for = reply.get("status") == "killed", self.current.killed_for
                if killed and killed_for["namespace"]:
                    return Result(rubric_id, False, self.current.memory_words())
                if killed and killed_for["machine"]:
                    return self._killed_for_memory(rubric_id)
                return Result(rubric_id, False, clip(reply.get("failed", "")), student_details(reply.get("details")))
            self._post_following(rubric_id, following)
            result = self._judge(rubric_id, data, seed, budget)
            result.message += clip(reply.get("note", ""))
            return result

        result = run_tries(rubric_id, self.context, attempt)
        if not result.passed and any(info.get("oom_skips") for info in self.probed.values()):
            # Loading lost code to the machine's memory: any failure may come from it. A re-run on
            # a machine with the memory grades it truly; a lost point would not come back.
            result = self._killed_for_memory(rubric_id, "a process loading your code")
        machine = GRADER_ERROR in result.details
        message = result.message if result.passed or machine else explain(clip(result.message), self.limits)
        message = clip(message, 4 * MESSAGE_CHARS)
        return Scored.of(self.context.rubric, rubric_id, result.passed, message,
                         bounded_details(result.details, JUDGED_BYTES), round(time.monotonic() - started, 2))

    def _post_following(self, rubric_id, following):
        """Keep the first AHEAD checks of `following` posted, but none after a check that may be
        tried again with another seed (rubric_id's included): its next try must come first."""
        from autograder.checks.registry import tries
        for index in range(len(self.ahead), min(AHEAD, len(following))):
            if any(tries(i, self.context) > 1 for i in [rubric_id, *following[:index]]):
                return
            self._post_ahead(*self._collect_request(following[index], self.context.seed))

    def _killed_for_memory(self, rubric_id, victim="this check's process"):
        """The check's process was ended by the system's out-of-memory killer (the kernel's count of
        such kills grew while it ran; the grader's own memory watch had not stopped it): the machine
        could not give the memory grading.yml promises a check. A grader error, not the student's."""
        from autograder.checks.registry import Result
        have = memory_mb()
        why = (f"the machine ran out of memory and the system killed {victim} before it reached "
               f"the grader's limit of {self.limits['memory_mb']} MB"
               + (f" (the machine gives the grader {have} MB)" if have is not None else ""))
        return Result(rubric_id, False, f"grader error (this machine, not your code): {why}; grade again on a "
                                        "machine with more memory (docs/gradescope.md)", {GRADER_ERROR: why})

    def _in_child(self, body, seconds):
        """body() -> dict in a child forked from this server (it keeps CUDA and OpenMP out of it);
        the dict, or {"error": why}."""
        read_fd, write_fd = os.pipe()
        vsize = _address_space()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read_fd)
                os.setsid()
                if self.device == "cpu":  # a judge reads student data: its memory is bounded too (CUDA: no)
                    limit = vsize + int(self.limits["memory_mb"]) * 2 ** 20
                    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
                message = body()
            except BaseException:  # noqa: BLE001 - whatever happens, the child must not return
                message = {"error": traceback.format_exc()[-3000:]}
            try:
                send(write_fd, message)
            finally:
                os._exit(0)
        os.close(write_fd)
        buffer, deadline = b"", time.monotonic() + seconds
        try:
            while not buffer.endswith(b"\n"):
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([read_fd], [], [], left)[0]:
                    return {"error": f"no answer within {seconds:g} s"}
                chunk = os.read(read_fd, 1 << 20)
                if not chunk:
                    return {"error": "the process ended without an answer"}
                buffer += chunk
            return json.loads(buffer)
        finally:
            os.close(read_fd)
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            os.waitpid(pid, 0)

    def _judge(self, rubric_id, data, seed, budget):
        """The verdict: it reads the answer with torch.load(weights_only=True) and draws the inputs
        again itself."""
        from autograder.checks.registry import Result, judge
        context = self.context

        def body():
            result = judge(rubric_id, data, context, seed)
            return {"passed": bool(result.passed), "message": clip(result.message, 4 * MESSAGE_CHARS),
                    "details": bounded_details(result.details, JUDGED_BYTES)}

        result = self._in_child(body, budget)
        if "error" in result:  # what the judge read came from the namespace: never a grader error
            return Result(rubric_id, False, f"the grader could not judge what your code produced for this check "
                                            f"({result['error'].splitlines()[-1]}); if your code is correct, "
                                            "please report it")
        return Result(rubric_id, result["passed"], result["message"], judged_details(result["details"]))

    def isolation_record(self):
        """How student code is confined, for the fingerprint."""
        memory = "RLIMIT_AS + RSS watch" if self.device == "cpu" and not self.init["rss_only"] else "RSS watch"
        if self.spare is not None and self.spare.cgroup is not None:
            memory += f" + memory cgroup v{self.spare.cgroup.version} ({self.spare.memory_limit_mb} MB a namespace)"
        if self.isolation == "bwrap":
            return {"mode": "bwrap", "namespaces": ["user", "pid", "ipc", "mount", "net", "uts", "cgroup"],
                    "uid": SANDBOX_UID, "memory": memory, "work_mb": self.limits["work_mb"]}
        return {"mode": "container", "namespaces": [], "memory": memory,
                "note": "no kernel isolation between submissions: one submission per container"}

    def fingerprint(self):
        """autograder.context.fingerprint, computed in a child (on CUDA it initialises the device)."""
        if self._fingerprint is None:
            from autograder.context import fingerprint
            context = self.context
            found = self._in_child(lambda: {"fingerprint": fingerprint(context)}, 60)
            self._fingerprint = found.get("fingerprint") or {"error": found.get("error", "")[-300:]}
            self._fingerprint["limits"] = self.limits
            self._fingerprint["isolation"] = self.isolation_record()
        return self._fingerprint

    def begin(self, root):
        """Read a submission's parts and probe them in a namespace of its own."""
        self.end()
        self.root, self.started = str(root), time.monotonic()
        self.files, refused = read_parts(root, self.context.rubric["parts"])
        self.probed = {p: self._probe(p, refused) for p in self.context.rubric["parts"]}
        try:
            self._ask(self._parts_request(), PARTS_SECONDS)
        except NamespaceBroken:
            pass  # dropped: the namespace the first check opens is given them (_open)

    def end(self):
        """Kill the submission's namespace, whatever happened: what loading did, for the report."""
        if self.current is not None:
            self.current.close()
        parts = self._summary(Path(self.root), self.probed) if self.root else {}
        self.current, self.ahead, self.files, self.root, self.probed = None, [], {}, None, {}
        return parts

    def grade(self, root, ids, emit):
        from autograder.checks.registry import REGISTRY, require_registered
        from autograder.tamper import warm_up_metrics
        require_registered(ids)
        self.trains = any(REGISTRY[i].trains for i in ids)
        if self.trains:  # its judge's metrics: torch-fidelity imports torchvision
            warm_up_metrics()
        fingerprint = self.fingerprint()  # while the namespace starts (a child here: 30 ms)
        self.begin(root)
        try:
            for index, rubric_id in enumerate(ids):
                emit(event="check", check=asdict(self.run_check(rubric_id, ids[index + 1:])))
        finally:
            seconds = round(time.monotonic() - self.started, 2)
            parts = self.end()
        # After the namespace is gone: when a grading returns, nothing of its submission runs or lies
        # in the grader's folders (tests/test_isolation.py), and the next one's namespace starts alone.
        emit(event="done", fingerprint=fingerprint, parts=parts, seconds=seconds)


def serve():
    """The server's main loop: one JSON request per line on stdin, JSON events on the protocol fd."""
    import ctypes
    ctypes.CDLL(None).prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG: a killed batch takes its servers along
    if os.getppid() == 1:
        sys.exit(1)
    emit = emitter(os.dup(1))
    os.dup2(2, 1)  # stray prints (warnings of an import) must not corrupt the protocol

    request = json.loads(sys.stdin.readline())
    try:
        server = Server(request.get("device"), request.get("limits"), request.get("threads"), request.get("seed"),
                        request.get("isolation", "bwrap"), request.get("warm_next", True))
    except Exception as exc:  # noqa: BLE001 - say why, instead of dying silently
        emit(event="error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()[-3000:])
        return
    emit(event="ready", device=server.device, limits=server.limits, pid=os.getpid())
    server.on_progress = lambda **numbers: emit(event="progress", **numbers)
    try:
        for line in sys.stdin:
            request = json.loads(line)
            try:
                if request["op"] == "grade":
                    ids = request.get("ids") or list(server.context.rubric["checks"])
                    server.grade(request["path"], ids, emit)
            except Exception as exc:  # noqa: BLE001 - a grader bug: report it, keep serving
                emit(event="error", error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc()[-3000:])
    finally:
        server.close()
    os._exit(0)  # the namespaces are gone: tearing down torch's interpreter state would only cost a second


# ----------------------------------------------------------------------------------------------
# the grading process's side
# ----------------------------------------------------------------------------------------------


class Sandbox:
    """A server and the pipes to it. Not thread-safe: one per worker thread, and the server dies
    with the thread that started it (PR_SET_PDEATHSIG), so start it in the thread that uses it.

        with Sandbox(device="cpu") as box:
            for path in submissions:
                graded = autograder.score.grade(path, sandbox=box)

    isolation: "bwrap" (the default; IsolationUnavailable when bwrap cannot run here) or
    "container" (the instructor's opt-in: this machine grades one submission, then is thrown away).
    submissions: how many it will grade, if known; with 1, no namespace warms up for a next one.
    """

    def __init__(self, device=None, limits=None, threads=None, env=None, stderr=None, seed=None, isolation="bwrap",
                 submissions=None):
        self.rubric = load_rubric()
        self.limits = load_limits(self.rubric, limits)
        self.request = {"device": device or default_device(), "limits": read_overrides(limits), "threads": threads, "seed": seed,
                        "isolation": isolation, "warm_next": submissions != 1}
        self.env, self.stderr = env, stderr
        self.process = None
        self.device = None
        self.on_progress = None  # a function (done, total, elapsed s): a training run's progress (report.printed_to makes one)

    def launch(self):
        """Start the server without waiting for it: it imports torch and the checks meanwhile (the
        pytest front end launches it before importing them itself). Refuses (IsolationUnavailable)
        when the isolation asked for cannot run here."""
        choose_isolation(self.request["isolation"], self.request["device"])
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
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            self.process = None

    def _send(self, message):
        if self.process is None:
            self.start()
        try:
            self.process.stdin.write(encode(message))
        except (BrokenPipeError, OSError) as exc:
            self._broken(f"the sandbox server is gone ({exc})")

    def _receive(self, timeout):
        """The next JSON line from the server (its own buffer: select() cannot see a file's); a
        training run's progress on the way goes to on_progress."""
        deadline = time.monotonic() + timeout
        fd = self.process.stdout.fileno()
        while True:
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
            message = encodable(json.loads(line))
            if message.get("event") != "progress":
                break
            if self.on_progress is not None:
                self.on_progress(message["done"], message["total"], message["elapsed"])
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
        """Seconds a request may take before the server itself is deemed stuck: the sum of the caps
        of its requests to the namespace, and some slack."""
        limits = self.limits
        load = float(limits["load_seconds"])
        probes = len(self.rubric["parts"]) * ((int(limits["probe_restarts"]) + 1) * (load + 10) + 30)
        checks = sum(2 * (2 * check_seconds(limits, i) + load * len(self.rubric["parts"]) + 30) for i in ids)
        return probes + checks + 300

    def grade(self, path, only=None, on_check=None):
        """Grade the submission at `path` (every rubric item, or those in `only`): a Graded."""
        ids = [i for i in self.rubric["checks"] if only is None or i in only]
        self._send({"op": "grade", "path": str(Path(path).absolute()), "ids": ids})
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


def isolation_available():
    """Isolation needs fork and /proc: Linux (whether bwrap runs is asked when a Sandbox starts)."""
    return sys.platform.startswith("linux") and hasattr(os, "fork") and Path("/proc/self/stat").exists()


if __name__ == "__main__":
    serve()
