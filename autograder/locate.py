"""Where in a notebook, in the words a student can follow: a code cell is named by what Jupyter shows of
it, the functions or classes it defines or else its first line, never by its index or its nbgrader
id, which Jupyter does not display.

The name is the cell's part of the filename the grader compiles it under (`part1_dcgan.ipynb cell
defining `d_step``), so every message that quotes a frame of student code ("at FILE, line N") cites
it so; it keeps the word "cell", by which the loader's frames are told from the grader's.
"""
import ast
import re

SHOWN = 40  # characters of a first line quoted


def _defined(source):
    """Top-level functions and classes of a cell, in order ([] if it does not parse)."""
    try:
        body = ast.parse(source).body
    except SyntaxError:
        return [m.group(1) for m in re.finditer(r"^(?:async\s+)?(?:def|class)\s+(\w+)", source, re.M)]
    return [n.name for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]


def _first_line(source):
    """The first line of code: comments, blank lines and the loader's `pass` for an IPython magic
    skipped, unless that is all there is."""
    lines = [line.strip() for line in source.splitlines() if line.strip()]
    line = next((line for line in lines if not line.startswith("#") and line != "pass"), lines[0] if lines else "(empty)")
    return line if len(line) <= SHOWN else line[:SHOWN - 3].rstrip() + "..."


def cell_name(source):
    """`cell defining `d_step`` or `cell starting `netD = Discriminator()``: a quoted filename part, so
    no double quote (tracebacks delimit filenames with them)."""
    names = _defined(source)
    if names:
        shown = ", ".join(f"`{n}`" for n in names[:2]) + (f" and {len(names) - 2} more" if len(names) > 2 else "")
        name = f"cell defining {shown}"
    else:
        name = f"cell starting `{_first_line(source)}`"
    return name.replace('"', "'")


def cell_names(sources):
    """cell_name of each cell, made unique within the notebook: a repeated name gets its rank
    (`cell starting `x = 1` (2nd such)`), so that two cells never share a filename."""
    names, seen = [], {}
    for source in sources:
        name = cell_name(source)
        seen[name] = seen.get(name, 0) + 1
        names.append(name if seen[name] == 1 else f"{name} ({_ordinal(seen[name])} such)")
    return names


def _ordinal(n):
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"
