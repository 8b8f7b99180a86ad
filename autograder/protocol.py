"""The wire between the grader's processes, and what is read from the student's side of it.

Every hop is JSON lines (an answer's bytes follow their line, raw): the grading process and its
sandbox server (trusted both ways), the server and a submission's namespace (autograder/zygote.py),
the zygote and a child running student code, the server and a judge. One writer (`encode`) serves
them all; every line that comes from a process that ran, or runs beside, student code is read with
a `Reader`, from a buffer the reader bounds, and checked against what the grader's own code sends
(`child_message`, `valid_blocks`, `progress_numbers`) before anything of it is used. Files such a
process could replace are read with `read_hostile`.
"""
import json
import os
import stat

MESSAGE_CHARS = 2000  # an exception's message, a reason: what a report shows of it


def encode(message, payload=None):
    """One line of the protocol: `message` (a dict) as JSON, anything not JSON-able as its str; with
    a payload (bytes), the line says its size ("bytes") and the payload follows it, raw."""
    if payload is not None:
        message = {**message, "bytes": len(payload)}
    return (json.dumps(message, default=str) + "\n").encode()


def send(fd, message, payload=None):
    """Write `message`'s line, and its payload, whole to the file descriptor `fd` (a pipe: a write
    may take part of it)."""
    for data in (encode(message, payload), payload or b""):
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]


def emitter(fd):
    """emit(payload=None, **message): a process's replies on `fd`, one line each."""
    return lambda payload=None, **message: send(fd, message, payload)


class Reader:
    """What one side sends, from a buffer the caller bounds (len(reader)): JSON lines, each the
    object it holds or None for anything else (a hostile side's lines); a line whose event is one of
    `payload_events` and whose "bytes" is n is followed by n raw bytes, its "payload" (an answer
    crosses as bytes: base64 inside JSON cost a 21 MB answer 0.3 s on its way through three
    processes). "payload" is never anything but those bytes."""

    def __init__(self, payload_events=()):
        self.buffer = bytearray()
        self.payload_events = payload_events
        self._scanned = 0  # the first bytes of the buffer known to hold no newline (or a header waiting)

    def __len__(self):
        return len(self.buffer)

    def feed(self, chunk):
        self.buffer += chunk

    def messages(self):
        """The complete messages at the front of the buffer, each taken out of it as it is yielded."""
        while True:
            end = self.buffer.find(b"\n", self._scanned)
            if end < 0:
                self._scanned = len(self.buffer)
                return
            try:
                message = json.loads(bytes(self.buffer[:end]))
            except (ValueError, RecursionError):
                message = None
            if not isinstance(message, dict):
                message = None
            else:
                message.pop("payload", None)
            size = message.get("bytes") if message and message.get("event") in self.payload_events else None
            if type(size) is int and size >= 0:
                if len(self.buffer) < end + 1 + size:
                    self._scanned = end  # the line waits for its payload
                    return
                message["payload"] = bytes(self.buffer[end + 1:end + 1 + size])
                end += size
            del self.buffer[:end + 1]
            self._scanned = 0
            yield message


def tail_text(f, size):
    """The last `size` bytes of the binary file `f`, as text."""
    f.seek(0, os.SEEK_END)
    f.seek(max(0, f.tell() - size))
    return f.read(size).decode("utf-8", "replace")


def read_hostile(path, size, tail=False):
    """At most `size` bytes (the first, or with `tail` the last) of a file student code could have
    replaced, as text; "" unless it is a regular file: a link to /dev/zero, a FIFO that never
    opens, a folder are not read (O_NOFOLLOW, O_NONBLOCK, then fstat)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        with os.fdopen(os.dup(fd), "rb") as f:
            return tail_text(f, size) if tail else f.read(size).decode("utf-8", "replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def progress_numbers(message):
    """{"done", "total", "elapsed"} of a progress line, as numbers in range, or None: what crosses
    a hostile boundary of a training run's progress (child to zygote, namespace to server)."""
    try:
        done, total, elapsed = int(message["done"]), int(message["total"]), float(message["elapsed"])
    except (KeyError, TypeError, ValueError, OverflowError):
        return None
    if not (0 < done <= total < 10 ** 9 and 0 <= elapsed < 10 ** 7):
        return None
    return {"done": done, "total": total, "elapsed": round(elapsed, 1)}


# What a child may send: event -> {field: type}. A line that is not one of these, exactly typed, is
# not the grader's own code's (student code can write to the child's pipe) and is ignored; "result"
# is kept to say that a verdict was forged (only the judge gives one).
CHILD_MESSAGES = {
    "phase": {"phase": str}, "blocks": {"blocks": list}, "unreadable": {"reason": str},
    "start": {"block": int}, "end": {"block": int}, "done": {"tampered": list},
    "found": {"payload": bytes, "note": str}, "failed": {"message": str}, "internal_error": {"error": str},
    "result": {},
}
FINAL_EVENTS = ("result", "found", "failed", "done", "internal_error", "unreadable")


def child_message(message):
    """`message` if it is one a child's grader code sends (CHILD_MESSAGES), else None."""
    if not isinstance(message, dict):
        return None
    fields = CHILD_MESSAGES.get(message.get("event"))
    if fields is None or not all(type(message.get(key)) is kind for key, kind in fields.items()):
        return None
    return message


def valid_blocks(blocks, file_chars):
    """The blocks a probe child reported, as dicts of autograder.load.Block's fields, or None when
    they are not that (or hold more source than the part file could)."""
    if not isinstance(blocks, list) or len(blocks) > file_chars + 1:
        return None
    total = 0
    for block in blocks:
        if not (isinstance(block, dict) and set(block) == {"where", "source", "first_line"}
                and type(block["where"]) is str and type(block["source"]) is str
                and type(block["first_line"]) is int and 0 < block["first_line"] <= file_chars + 1):
            return None
        total += len(block["source"]) + len(block["where"])
        if total > 2 * file_chars + 1000:
            return None
    return blocks


def jsonable(value, depth=0):
    """Details a check returned, made JSON-able: small arrays and tensors become lists (rounded),
    big ones are dropped with a note."""
    if isinstance(value, (str, bool, int)) or value is None:
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else str(value)
    if depth > 4:
        return str(value)[:200]
    if isinstance(value, dict):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)) and len(value) <= 100_000:
        return [jsonable(v, depth + 1) for v in value]
    if hasattr(value, "detach"):  # a tensor
        value = value.detach().cpu().numpy()
    if hasattr(value, "tolist") and hasattr(value, "size"):
        if value.size <= 200_000:
            import numpy as np
            return np.round(value.astype(float), 4).tolist() if value.dtype.kind == "f" else value.tolist()
        return f"(array of shape {tuple(value.shape)} left out)"
    return str(value)[:200]
