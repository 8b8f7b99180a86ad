"""Stage 1: load a submission into one namespace per part, without running its experiments.

A part is a notebook (`part1_dcgan.ipynb`, nbgrader release format) or a plain `part1_dcgan.py`.
Notebook code cells run one by one, except cells tagged `experiment` (training loops, plots)
and nbgrader test cells; a .py file is split into its top-level statements, which run one by
one. So a syntax error or an exception costs only the names that its cell or statement would
have defined: the checks that need those names fail with a message naming the cell or line,
and every other check is graded as usual.

Part files are found by one rule, whatever the front end (`find_parts`): a notebook or .py whose
name contains the part's, anywhere under the submission's folder; when both `part1_dcgan.ipynb` and
`part1_dcgan.py` are there, the newer is graded and the note says so. A part file is read as Python
reads it (a PEP 263 coding line or a byte-order mark, any line endings), and only if it is a regular
file of the submission: a symbolic link or a special file is refused before anything is read
through it (`read_part`).
"""
import ast
import contextlib
import errno
import io
import json
import linecache
import os
import re
import stat
import time
import tokenize
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from autograder.locate import cell_names

SKIP_TAGS = {"experiment"}
DEFINES = re.compile(r"^(?:def|class)\s+(\w+)|^(\w+)\s*(?::[^=]*)?=(?!=)", re.M)
SALVAGE_BUDGET = 64  # text compiled to salvage a broken file, in multiples of the file (_salvage_blocks)
CONTINUES = re.compile(r"^(?:[)\]}]|else\b|elif\b|except\b|finally\b)")


@dataclass
class Block:
    """One unit of code that runs on its own: a notebook cell or a top-level statement."""
    where: str  # "cell defining `d_step`" or "lines 12-30", as the student sees it
    source: str
    first_line: int = 1


@dataclass
class CodeError:
    where: str
    summary: str
    defines: list


@dataclass
class Part:
    name: str
    path: Path = None
    namespace: dict = field(default_factory=dict)
    errors: list = field(default_factory=list)
    output: str = ""
    blocks: int = 0  # the blocks (cells, top-level statements) its file was read as


class MissingName(Exception):
    """A name a check needs is not defined by the submission; the message says why."""


class Unreadable(Exception):
    """A part file the grader refuses to read (a link, a special file, too large, not decodable)."""


class _AllNames:
    """`defines` of an error that cost the whole file: every name."""

    def __contains__(self, name):
        return True


def submission_limits():
    """grading.yml's `submissions:` section: the largest file, archive and folder tree read."""
    from autograder.rubric import load_rubric
    return load_rubric()["submissions"]


@dataclass
class Submission:
    root: Path
    parts: dict

    def get(self, part_name, name):
        part = self.parts[part_name]
        if part.path is None:
            raise MissingName(f"no {part_name}.ipynb or {part_name}.py found in your submission")
        if name in part.namespace:
            return part.namespace[name]
        for error in part.errors:
            if name in error.defines:
                raise MissingName(f"`{name}` is not defined because {part.path.name} {error.where} failed: "
                                  f"{error.summary}")
        raise MissingName(f"`{name}` is not defined in {part.path.name}: define it with this exact name "
                          f"(see the assignment's stub)")

    def module(self, part_name):
        """The part's namespace as a module, for checks that look up several names."""
        part = self.parts[part_name]
        module = types.ModuleType(part_name)
        module.__dict__.update(part.namespace)
        return module


def read_part(path):
    """The bytes of a part file. A symbolic link or a special file (fifo, device, socket, folder)
    is refused before anything is read through it: the final component is opened with O_NOFOLLOW
    and checked on the open descriptor, so nothing can be swapped in between. A link is refused
    rather than resolved because its target is outside what the student submitted, or could be
    (a link into the reference or a classmate's folder would be graded as theirs)."""
    path, limit = Path(path), int(submission_limits()["file_bytes"])
    refuse = f"{path.name} is {{}}: the grader reads only regular files, submit the file itself"
    try:
        mode = os.lstat(path).st_mode
        if stat.S_ISLNK(mode):
            raise Unreadable(refuse.format("a symbolic link"))
        if not stat.S_ISREG(mode):
            raise Unreadable(refuse.format("not a regular file (a folder, fifo, device or socket)"))
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        raise Unreadable(refuse.format("a symbolic link") if exc.errno == errno.ELOOP
                         else f"{path.name} could not be opened: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise Unreadable(refuse.format("not a regular file"))
        data = f.read(limit + 1)
    if len(data) > limit:
        raise Unreadable(f"{path.name} is larger than {limit / 1e6:g} MB, the most the grader reads: "
                         "clear the notebook's outputs (Kernel > Restart & Clear Output) and submit again")
    return data


def decode_python(data, name):
    """The text of a .py file as Python reads it: its PEP 263 coding line or UTF-8 byte-order mark
    (tokenize.detect_encoding, what the interpreter uses), universal newlines. Bytes that are not
    of the encoding are refused where `import` refuses them (in code and strings) and replaced where
    it lets them be (in comments: compile() of the bytes, what importlib runs, succeeds)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        return io.TextIOWrapper(io.BytesIO(data), encoding).read()
    except SyntaxError as exc:  # an unknown or inconsistent coding line
        raise Unreadable(f"{name}: {exc.msg if hasattr(exc, 'msg') else exc}") from None
    except UnicodeDecodeError as exc:
        try:
            compile(data, name, "exec", dont_inherit=True)
            return io.TextIOWrapper(io.BytesIO(data), encoding, errors="replace").read()
        except (SyntaxError, ValueError):
            pass
        line = data[:exc.start].count(b"\n") + 1
        raise Unreadable(f"{name} line {line} is not valid {exc.encoding} (byte {data[exc.start:exc.start + 1]!r}), "
                         f"as Python would refuse it too: save the file as UTF-8, or declare its encoding on "
                         f"its first line (# -*- coding: latin-1 -*-)") from None


def _lines(text):
    """Lines as Python counts them: split at \\n only (str.splitlines also splits at \\f, \\x1c, ...)."""
    return io.StringIO(text).readlines()


def _notebook_blocks(path, data=None):
    """The code cells of a notebook; `data`: its bytes when they were read already (the sandbox's
    namespace gets them from the grader, which bounded them, and has no grading.yml to read)."""
    try:
        notebook = json.loads(read_part(path) if data is None else data)  # bytes: json detects UTF-8/16/32 and a byte-order mark
    except ValueError as exc:
        raise Unreadable(f"{path.name} is not a notebook (not valid JSON: {str(exc)[:200]})") from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells", []), list):
        raise Unreadable(f"{path.name} is not a notebook (no list of cells)")
    blocks = []
    for cell in notebook.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        nbgrader = meta.get("nbgrader") if isinstance(meta.get("nbgrader"), dict) else {}
        tags = meta.get("tags") if isinstance(meta.get("tags"), list) else []
        if SKIP_TAGS & set(map(str, tags)) or (nbgrader.get("grade") and not nbgrader.get("solution")):
            continue
        source = cell.get("source", "")
        source = "".join(str(line) for line in source) if isinstance(source, list) else str(source)
        source = source.replace("\r\n", "\n").replace("\r", "\n")  # a cell saved on Windows or classic Mac OS
        # IPython magics and shell escapes are not Python: a notebook runs them, the grader skips them.
        source = re.sub(r"^(\s*)[%!].*$", r"\1pass", source, flags=re.M)
        blocks.append(Block("", source))
    for block, name in zip(blocks, cell_names([b.source for b in blocks])):
        block.where = name  # as Jupyter shows the cell (autograder/locate.py)
    return blocks


def _python_blocks(path, data=None):
    """Split a module into its top-level statements, so one bad statement fails alone."""
    source = decode_python(read_part(path) if data is None else data, path.name)
    lines = _lines(source)
    try:
        starts = [min([n.lineno] + [d.lineno for d in getattr(n, "decorator_list", [])]) - 1
                  for n in ast.parse(source).body]
    except SyntaxError:
        return _salvage_blocks(lines)
    bounds = list(zip(starts, starts[1:] + [len(lines)]))
    return [Block(f"lines {a + 1}-{b}", "".join(lines[a:b]), a + 1) for a, b in bounds]


def _compiles(text):
    try:
        compile(text, "<block>", "exec")
        return True
    except (SyntaxError, MemoryError, RecursionError):  # CPython's parser: MemoryError for deep nesting
        return False


def _salvage_blocks(lines):
    """A file with a syntax error: cut at unindented lines, then merge pieces until each compiles.

    A piece that compiles with no amount of merging is the broken statement: it becomes a block
    of its own (its error is reported) and everything after it still runs.
    """
    starts, pending_decorator = [], False
    for i, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or line[0].isspace() or CONTINUES.match(line):
            continue
        if not pending_decorator:
            starts.append(i)
        pending_decorator = line.startswith("@")
    starts = [0] + [s for s in starts if s > 0]
    ends = starts[1:] + [len(lines)]
    # Merging is quadratic in compiled text per broken piece (cubic over a file of unclosed lines):
    # the text compiled while merging is bounded by SALVAGE_BUDGET times the file's, after which a
    # piece is tried alone. An ordinary file never comes near it; a hostile one stays linear.
    budget = SALVAGE_BUDGET * (sum(map(len, lines)) + 1)
    blocks, i = [], 0
    while i < len(starts):
        j = i
        alone = "".join(lines[starts[i]:ends[i]])
        budget -= len(alone)
        for k in range(i + 1, len(starts)) if not _compiles(alone) else ():
            text = "".join(lines[starts[i]:ends[k]])
            budget -= len(text)
            if budget < 0:
                break
            if _compiles(text):
                j = k
                break
        a, b = starts[i], ends[j]
        blocks.append(Block(f"lines {a + 1}-{b}", "".join(lines[a:b]), a + 1))
        i = j + 1
    return blocks


def _summary(exc, filename):
    """The exception and the student's line it came from, most recent call last."""
    if isinstance(exc, SyntaxError):
        return f"SyntaxError: {exc.msg} (line {exc.lineno})"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == filename]
    at = f" (line {frames[-1].lineno}: `{(frames[-1].line or '').strip()}`)" if frames else ""
    return f"{type(exc).__name__}: {exc}{at}"


def run_blocks(part, blocks, skip=None, explain=str, on_block=None, capture=True):
    """Run each block in the part's namespace; a failing block is recorded, the others still run.

    The sandbox's children (autograder/zygote.py) run them with `skip` ({index: reason}: blocks a
    load probe found to hang or end the process, not run, their reason their error), `explain` (an
    error's message prefixed with the limit it ran into), `on_block(event, index, error)` (a probe
    tells the server each block's "start" and "end") and capture=False (prints go to the child's
    capped streams, not to part.output)."""
    part.blocks = len(blocks)
    namespace = part.namespace
    namespace.setdefault("__name__", part.name)
    out = io.StringIO()
    for index, block in enumerate(blocks):
        defines = [a or b for a, b in DEFINES.findall(block.source)]
        if skip and str(index) in skip:
            part.errors.append(CodeError(block.where, skip[str(index)], defines))
            continue
        filename = f"{part.path.name} {block.where}"
        padded = "\n" * (block.first_line - 1) + block.source
        linecache.cache[filename] = (len(padded), None, _lines(padded), filename)
        if on_block:
            on_block("start", index, None)
        error = None
        try:
            code = compile(padded, filename, "exec")
            with contextlib.redirect_stdout(out) if capture else contextlib.nullcontext(), \
                    contextlib.redirect_stderr(out) if capture else contextlib.nullcontext():
                exec(code, namespace)
        except (Exception, SystemExit, KeyboardInterrupt) as exc:  # a student's cell must not stop the grader
            error = explain(_summary(exc, filename))
            part.errors.append(CodeError(block.where, error, defines))
        if on_block:
            on_block("end", index, error)
    part.output = out.getvalue()


SUFFIXES = (".ipynb", ".py")
SKIPPED_DIRS = {"__MACOSX", ".ipynb_checkpoints", "__pycache__"}  # and folders whose name starts with a dot


class Found(NamedTuple):
    chosen: Path = None  # the file graded for the part, or None
    others: list = []  # the other candidates, left aside
    note: str = ""  # what the student must know of the choice ("" when there was none to make)


def normalised(stem):
    """A file name as the parts are looked for in it: lower-cased, each run of other characters `_`."""
    return re.sub(r"[^a-z0-9]+", "_", stem.lower())


def find_parts(root, part_names, limits=None):
    """{part: Found}: the one rule by which every front end finds a submission's part files.

    `root` is one part's file, or a folder searched breadth-first (links not followed, folders
    starting with a dot and SKIPPED_DIRS left out, at most grading.yml's `submissions:` depth and
    folder_entries): a candidate is a .ipynb or .py whose normalised name contains the part's name
    (`part1_dcgan (1).ipynb`, `Part1-DCGAN.py`, `hw/part1_dcgan.ipynb`). The exact name wins, then a
    notebook over a .py, then the shallowest, then the first by name; but of a notebook and a .py of
    the same name in one folder, the one modified more than 2 s after the other is graded (the other
    is most likely a stale copy), and the note says which and why."""
    root = Path(root)
    if not os.path.isdir(root):
        return {p: Found(root if p in normalised(root.stem) and os.path.lexists(root) else None, [])
                for p in part_names}
    files = _part_files(root, limits or submission_limits())
    found = {}
    for part in part_names:
        candidates = sorted((f for f in files if part in normalised(f.stem)),
                            key=lambda f: (normalised(f.stem) != part, f.suffix.lower() != ".ipynb",
                                           len(f.relative_to(root).parts), str(f)))
        chosen, note = (candidates[0], "") if candidates else (None, "")
        twin = next((f for f in candidates[1:] if chosen.suffix.lower() == ".ipynb" and f.parent == chosen.parent
                     and f.suffix.lower() == ".py" and normalised(f.stem) == normalised(chosen.stem)), None)
        if twin is not None:
            chosen, note = _newer_of(chosen, twin)
        found[part] = Found(chosen, [f for f in candidates if f != chosen], note)
    return found


def _part_files(root, limits):
    """The .ipynb and .py files under root (links to files included: loading refuses them, saying so)."""
    files, level, seen = [], [root], 0
    for _ in range(int(limits["depth"]) + 1):
        below = []
        for directory in level:
            try:
                entries = sorted(os.scandir(directory), key=lambda e: e.name)
            except OSError:
                continue
            seen += len(entries)
            for entry in entries:
                if entry.name.startswith(".") or entry.name in SKIPPED_DIRS:
                    continue
                if entry.is_dir(follow_symlinks=False):
                    below.append(Path(entry.path))
                elif entry.name.lower().endswith(SUFFIXES):
                    files.append(Path(entry.path))
            if seen > int(limits["folder_entries"]):
                return files
        level = below
    return files


def _newer_of(notebook, script):
    """(the file graded, the note) of a notebook and a .py of one name in one folder."""
    times = {p: os.lstat(p).st_mtime for p in (notebook, script)}
    if times[script] > times[notebook] + 2:
        chosen, why = script, "it was modified after"
    elif times[notebook] > times[script] + 2:
        chosen, why = notebook, "it was modified after"
    else:
        chosen, why = notebook, ("the two were saved at the same time and the notebook is the released format: "
                                 "it was preferred to")
    other = script if chosen is notebook else notebook
    stamp = lambda p: time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(times[p]))  # noqa: E731
    return chosen, (f"both {notebook.name} and {script.name} are in your submission: the grader graded "
                    f"{chosen.name} ({stamp(chosen)}) because {why} {other.name} ({stamp(other)}); "
                    f"remove the one you do not want graded")


def choose_part_file(root, part_name):
    """(the part's file or None, a note for the student or ""): find_parts for one part."""
    found = find_parts(root, [part_name])[part_name]
    return found.chosen, found.note


def find_part_file(root, part_name):
    return choose_part_file(root, part_name)[0]


def submission_notes(root, part_names):
    """What the student must know about how their files were read (which of two files was graded)."""
    return [note for note in (choose_part_file(root, p)[1] for p in part_names) if note]


def part_blocks(path):
    """The blocks of a part file; Unreadable when the file cannot be read as Python would."""
    return _notebook_blocks(path) if path.suffix == ".ipynb" else _python_blocks(path)


def load_part(root, part_name):
    part = Part(part_name, find_part_file(root, part_name))
    if part.path is not None:
        try:
            blocks = part_blocks(part.path)
        except Unreadable as exc:
            part.errors.append(CodeError("(the whole file)", str(exc), _AllNames()))
            return part
        run_blocks(part, blocks)
    return part


def load_submission(root, part_names):
    """Load every part found under root (a folder, or one part's file)."""
    root = Path(root)
    return Submission(root, {name: load_part(root, name) for name in part_names})
