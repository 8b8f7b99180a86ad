"""Stage 1: load a submission into one namespace per part, without running its experiments.

A part is a notebook (`part1_dcgan.ipynb`, nbgrader release format) or a plain `part1_dcgan.py`.
Notebook code cells run one by one, except cells tagged `experiment` (training loops, plots)
and nbgrader test cells; a .py file is split into its top-level statements, which run one by
one. So a syntax error or an exception costs only the names that its cell or statement would
have defined: the checks that need those names fail with a message naming the cell or line,
and every other check is graded as usual.
"""
import ast
import contextlib
import io
import json
import linecache
import re
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path

from autograder.locate import cell_names

SKIP_TAGS = {"experiment"}
DEFINES = re.compile(r"^(?:def|class)\s+(\w+)|^(\w+)\s*(?::[^=]*)?=(?!=)", re.M)
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


class MissingName(Exception):
    """A name a check needs is not defined by the submission; the message says why."""


@dataclass
class Submission:
    root: Path
    parts: dict

    def get(self, part_name, name):
        part = self.parts[part_name]
        if part.path is None:
            raise MissingName(f"no {part_name}.ipynb or {part_name}.py found in {self.root}")
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


def _notebook_blocks(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    blocks = []
    for cell in notebook.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {})
        nbgrader = meta.get("nbgrader", {})
        if SKIP_TAGS & set(meta.get("tags", [])) or (nbgrader.get("grade") and not nbgrader.get("solution")):
            continue
        source = "".join(cell.get("source", ""))
        # IPython magics and shell escapes are not Python: a notebook runs them, the grader skips them.
        source = re.sub(r"^(\s*)[%!].*$", r"\1pass", source, flags=re.M)
        blocks.append(Block("", source))
    for block, name in zip(blocks, cell_names([b.source for b in blocks])):
        block.where = name  # as Jupyter shows the cell (autograder/locate.py)
    return blocks


def _python_blocks(path):
    """Split a module into its top-level statements, so one bad statement fails alone."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines(keepends=True)
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
    except SyntaxError:
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
    blocks, i = [], 0
    while i < len(starts):
        j = next((j for j in range(i, len(starts)) if _compiles("".join(lines[starts[i]:ends[j]]))), i)
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


def run_blocks(part, blocks):
    """Run each block in the part's namespace; a failing block is recorded, the others still run."""
    namespace = part.namespace
    namespace.setdefault("__name__", part.name)
    out = io.StringIO()
    for block in blocks:
        filename = f"{part.path.name} {block.where}"
        padded = "\n" * (block.first_line - 1) + block.source
        linecache.cache[filename] = (len(padded), None, padded.splitlines(keepends=True), filename)
        try:
            code = compile(padded, filename, "exec")
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
                exec(code, namespace)
        except (Exception, SystemExit, KeyboardInterrupt) as exc:  # a student's cell must not stop the grader
            defines = [a or b for a, b in DEFINES.findall(block.source)]
            part.errors.append(CodeError(block.where, _summary(exc, filename), defines))
    part.output = out.getvalue()


def find_part_file(root, part_name):
    root = Path(root)
    if root.is_file():
        return root if root.stem == part_name else None
    for suffix in (".ipynb", ".py"):
        candidate = root / f"{part_name}{suffix}"
        if candidate.exists():
            return candidate
    return None


def load_part(root, part_name):
    part = Part(part_name, find_part_file(root, part_name))
    if part.path is not None:
        blocks = _notebook_blocks(part.path) if part.path.suffix == ".ipynb" else _python_blocks(part.path)
        run_blocks(part, blocks)
    return part


def load_submission(root, part_names):
    """Load every part found under root (a folder, or one part's file)."""
    root = Path(root)
    return Submission(root, {name: load_part(root, name) for name in part_names})
