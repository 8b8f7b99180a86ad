"""Build the assignment's notebooks from their two sources of truth.

    .venv/bin/python scripts/build_notebooks.py            # solutions/<assignment>/*.ipynb
    .venv/bin/python scripts/build_notebooks.py --release  # ... and assignments/<assignment>/*.ipynb
    .venv/bin/python scripts/build_notebooks.py --check    # exit 1 if either committed copy is stale

The solution notebooks (nbgrader *source* notebooks, solutions/<assignment>/partN_*.ipynb) are
generated from
  (a) the reference modules, reference/partN_*.py: each top-level function or class becomes a
      code cell where the signatures, decorators and docstrings stay visible and every function
      or method body sits in an nbgrader solution region (a bare `super().__init__()` opening a
      longer __init__ stays visible); the module's imports open the set-up cell and its
      constants (nz, lr, ...) are a visible cell;
  (b) the prose sources, notebooks_src/partN_*.md: markdown, with directives on lines of their
      own that place the generated cells (see FORMAT below);
  (c) grading.yml: one autograded test cell per rubric item of the part (the item's id starts
      with the part's name after `partN_`: dcgan. -> part1_dcgan), with the item's points;
      hidden items' calls sit in nbgrader hidden-test regions.

The student release (assignments/<assignment>/) is what `nbgrader generate_assignment` makes of
the solution notebooks, with the repository's nbgrader_config.py, run in a temporary course
directory; nbgrader's output is byte-stable, so the committed release is compared byte for byte.

FORMAT of notebooks_src/partN_*.md (everything else is markdown; consecutive markdown lines
form one cell, a blank-line-separated `{{break}}` starts a new markdown cell):

    {{setup}}                         the set-up cell: finds the course's `autograder` package,
                                      then the reference module's imports and %matplotlib inline
    {{constants}}                     the reference module's top-level assignments (visible)
    {{code: Name[, Name...]}}         one code cell with these reference definitions
    {{test: rubric.id}}               the autograded cell of that rubric item
    {{optional-test: rubric.id}}      the same, only if grading.yml has the item
    {{question: ID points=N}}         a written question: the markdown up to {{answer}} is the
    ... {{answer}} ... {{end}}        question (where {{points}} shows "N points"), the markdown up
                                      to {{end}} the model answer (an nbgrader manually graded
                                      cell worth N points)
    ```{given}                        a code cell given to students as is (helpers, loops)
    ```{experiment: name}             a code cell tagged `experiment`: never run by the graders
    <!-- ... -->                      (on one line) a note for authors, dropped

Every reference definition and rubric item of the part must be placed exactly once, or the
build fails and says which.
"""
import argparse
import ast
import filecmp
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from autograder.rubric import is_hidden, load_rubric, part_prefix

ROOT = Path(__file__).resolve().parent.parent
PROSE_DIR = ROOT / "notebooks_src"
REFERENCE_DIR = ROOT / "reference"
NBGRADER_CONFIG = ROOT / "nbgrader_config.py"
SOURCE_DIRECTORY = "solutions"  # as in nbgrader_config.py
RELEASE_DIRECTORY = "assignments"

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
EXPERIMENT_TAG = "experiment"
SCHEMA_VERSION = 3

DIRECTIVE = re.compile(r"^\{\{\s*([\w-]+)\s*(?::\s*(.*?))?\s*\}\}\s*$")
FENCE = re.compile(r"^```\{\s*(given|experiment)\s*(?::\s*([\w-]+))?\s*\}\s*$")
NOTE = re.compile(r"^\s*<!--.*-->\s*$")
POINTS = "{{points}}"  # in a question's text: its points, from its {{question: ID points=N}} line

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python", "pygments_lexer": "ipython3"}

SETUP_PREAMBLE = '''\
# Set-up: the course's `autograder` package (the data, the plots' helpers and the checks) must be
# importable; it sits at the root of your copy of the course, a folder or two above this notebook.
import importlib.util
import sys
from pathlib import Path

if importlib.util.find_spec("autograder") is None:
    for _folder in [Path.cwd().resolve(), *Path.cwd().resolve().parents]:
        if (_folder / "autograder" / "__init__.py").is_file():
            sys.path.insert(0, str(_folder))
            break
    else:
        raise ImportError("the course's `autograder` package was not found above " + str(Path.cwd()))

%matplotlib inline
'''


class BuildError(Exception):
    """The sources are inconsistent; the message says where."""


def grade_id(rubric_id):
    """nbgrader's grade id of a rubric item: dots would be read as CSS classes by the formgrader."""
    return rubric_id.replace(".", "-")


# --------------------------------------------------------------------------------------------
# (a) the reference module
# --------------------------------------------------------------------------------------------


@dataclass
class Reference:
    path: Path
    imports: str
    constants: str
    definitions: dict  # name -> source with solution regions, in module order


def _docstring_end(body):
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[0].end_lineno, body[1:]
    return None, body


def _is_bare_super_init(stmt):
    return (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call) and not stmt.value.args
            and not stmt.value.keywords and ast.unparse(stmt.value) == "super().__init__()")


def _solution_regions(node, lines):
    """(first line, last line, indent) of each function body to hide in node (1-based, inclusive)."""
    functions = [node] if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else \
        [n for n in node.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    regions = []
    for fn in functions:
        doc_end, rest = _docstring_end(fn.body)
        if fn.name == "__init__" and len(rest) > 1 and _is_bare_super_init(rest[0]):
            doc_end, rest = rest[0].end_lineno, rest[1:]
        if not rest:
            continue
        first = rest[0].lineno
        floor = doc_end or fn.lineno
        while first - 1 > floor and lines[first - 2].strip().startswith("#"):
            first -= 1  # a comment opening the body belongs to the body
        regions.append((first, fn.end_lineno, " " * rest[0].col_offset))
    return regions


def load_reference(path):
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    tree = ast.parse(text)
    imports, constants, definitions = [], [], {}
    for node in tree.body:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        segment = lines[start - 1:node.end_lineno]
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            imports += segment
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            constants += segment
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            marked = list(segment)
            for first, last, indent in sorted(_solution_regions(node, lines), reverse=True):
                marked.insert(last - start + 1, indent + END_SOLUTION)
                marked.insert(first - start, indent + BEGIN_SOLUTION)
            definitions[node.name] = "\n".join(marked)
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the module docstring
        else:
            raise BuildError(f"{path.name} line {node.lineno}: a top-level {type(node).__name__} that the "
                             "builder does not know where to put")
    return Reference(path, "\n".join(imports), "\n".join(constants), definitions)


# --------------------------------------------------------------------------------------------
# (b) the prose source
# --------------------------------------------------------------------------------------------


@dataclass
class Item:
    kind: str  # markdown, setup, constants, code, test, question, answer, given, experiment
    text: str = ""
    names: list = field(default_factory=list)
    id: str = ""
    points: float = 0
    optional: bool = False
    line: int = 0


def parse_prose(text, where="prose"):
    items, buffer, mode = [], [], None  # mode: None, "question", "answer", fence kind
    question, fence_name, fence_line = None, None, 0

    def flush_markdown():
        body = "\n".join(buffer).strip("\n")
        buffer.clear()
        if body.strip():
            items.append(Item("markdown", body))

    for number, line in enumerate(text.splitlines(), start=1):
        if mode in ("given", "experiment"):
            if line.rstrip() == "```":
                items.append(Item(mode, "\n".join(buffer).strip("\n"), id=fence_name or "", line=fence_line))
                buffer.clear()
                mode = None
            else:
                buffer.append(line)
            continue
        if NOTE.match(line):
            continue
        fence = FENCE.match(line)
        if fence:
            if mode is not None:
                raise BuildError(f"{where} line {number}: a code cell inside a question")
            flush_markdown()
            mode, fence_name, fence_line = fence.group(1), fence.group(2), number
            if mode == "experiment" and not fence_name:
                raise BuildError(f"{where} line {number}: an experiment needs a name: ```{{experiment: name}}")
            continue
        directive = DIRECTIVE.match(line)
        if not directive:
            buffer.append(line)
            continue
        name, argument = directive.group(1), (directive.group(2) or "").strip()
        if name == "answer":
            if mode != "question":
                raise BuildError(f"{where} line {number}: {{{{answer}}}} outside a question")
            question.text = "\n".join(buffer).strip("\n")
            buffer.clear()
            items.append(question)
            mode = "answer"
            continue
        if name == "end":
            if mode != "answer":
                raise BuildError(f"{where} line {number}: {{{{end}}}} without {{{{answer}}}}")
            answer = "\n".join(buffer).strip("\n")
            buffer.clear()
            if not answer.strip():
                raise BuildError(f"{where} line {number}: question {question.id} has no model answer")
            items.append(Item("answer", answer, id=question.id, points=question.points, line=question.line))
            mode = None
            continue
        if mode is not None:
            raise BuildError(f"{where} line {number}: {{{{{name}}}}} inside question {question.id}")
        flush_markdown()
        if name == "break":
            continue
        if name in ("setup", "constants"):
            items.append(Item(name, line=number))
        elif name == "code":
            items.append(Item("code", names=[n.strip() for n in argument.split(",") if n.strip()], line=number))
        elif name in ("test", "optional-test"):
            for rubric_id in [a.strip() for a in argument.split(",") if a.strip()]:
                items.append(Item("test", id=rubric_id, optional=name == "optional-test", line=number))
        elif name == "question":
            match = re.fullmatch(r"([\w-]+)\s+points\s*=\s*([\d.]+)", argument)
            if not match:
                raise BuildError(f"{where} line {number}: write {{{{question: ID points=N}}}}")
            question = Item("question", id=match.group(1), points=float(match.group(2)), line=number)
            if question.points == int(question.points):
                question.points = int(question.points)
            mode = "question"
        else:
            raise BuildError(f"{where} line {number}: unknown directive {{{{{name}}}}}")
    if mode is not None:
        raise BuildError(f"{where}: unterminated {mode} at the end of the file")
    flush_markdown()
    return items


# --------------------------------------------------------------------------------------------
# (c) the notebook
# --------------------------------------------------------------------------------------------


def _nbgrader(grade_id_, grade, solution, locked, points=None):
    meta = {"grade": grade, "grade_id": grade_id_, "locked": locked, "schema_version": SCHEMA_VERSION,
            "solution": solution}
    if points is not None:
        meta["points"] = points
    return {"nbgrader": meta}


def points_label(points):
    return f"{points:g} point{'s' if points != 1 else ''}"


def test_source(rubric_id, item):
    """A test cell's source. A hidden item's cell names neither its id nor its title: its call sits
    in a hidden-test region, which nbgrader removes from the release and restores to grade."""
    call = f'from autograder.notebook import check\ncheck("{rubric_id}")'
    label = points_label(item["points"])
    if is_hidden(item):
        return (f"# Hidden test ({label}). It is not in your copy; it runs when your notebook is graded.\n"
                f"{BEGIN_HIDDEN}\n{call}\n{END_HIDDEN}")
    return f"# Autograded test ({label}): {item.get('title', rubric_id)}\n{call}"


CHECK_CALL = re.compile(r'^check\("([^"]+)"\)$', re.M)


def rubric_ids_of_cell(source):
    """The rubric ids a test cell checks (its check("...") calls)."""
    return CHECK_CALL.findall(source)


def answer_source(answer):
    return f"{BEGIN_SOLUTION}\n\n{answer}\n\n{END_SOLUTION}"


def _check_markers(text, where):
    for marker in MARKERS:
        if marker in text:
            raise BuildError(f"{where}: the text contains nbgrader's marker {marker!r}")


def build_notebook(part, rubric=None, prose_dir=PROSE_DIR, reference_dir=REFERENCE_DIR):
    """The nbgrader source notebook of one part, as an nbformat NotebookNode."""
    rubric = rubric or load_rubric()
    prose_path = Path(prose_dir) / f"{part}.md"
    where = prose_path.relative_to(ROOT) if prose_path.is_relative_to(ROOT) else prose_path
    reference = load_reference(Path(reference_dir) / f"{part}.py")
    items = parse_prose(prose_path.read_text(encoding="utf-8"), str(where))
    own_ids = [i for i in rubric["checks"] if i.split(".", 1)[0] == part_prefix(part)]

    cells, placed, tested, seen_ids, counters = [], [], [], set(), {}

    def cell_id(stem):
        counters[stem] = counters.get(stem, 0) + 1
        new = stem if counters[stem] == 1 and stem not in seen_ids else f"{stem}-{counters[stem]}"
        seen_ids.add(new)
        return new

    for item in items:
        here = f"{where} line {item.line}"
        if item.kind == "markdown":
            _check_markers(item.text, where)
            cells.append(nbformat.v4.new_markdown_cell(item.text, id=cell_id("md")))
        elif item.kind == "setup":
            cells.append(nbformat.v4.new_code_cell(SETUP_PREAMBLE + "\n" + reference.imports, id=cell_id("setup")))
        elif item.kind == "constants":
            if not reference.constants:
                raise BuildError(f"{here}: {reference.path.name} has no constants")
            placed.append("<constants>")
            cells.append(nbformat.v4.new_code_cell(reference.constants, id=cell_id("constants")))
        elif item.kind == "code":
            unknown = [n for n in item.names if n not in reference.definitions]
            if unknown or not item.names:
                raise BuildError(f"{here}: {reference.path.name} defines no {unknown or 'name'} "
                                 f"(it defines {', '.join(reference.definitions)})")
            placed += item.names
            source = "\n\n\n".join(reference.definitions[n] for n in item.names)
            gid = "sol-" + "-".join(item.names)
            cells.append(nbformat.v4.new_code_cell(source, id=cell_id(gid), metadata=_nbgrader(gid, False, True, False)))
        elif item.kind == "test":
            if item.id not in rubric["checks"]:
                if item.optional:
                    continue
                raise BuildError(f"{here}: {item.id} is not an item of grading.yml")
            if item.id not in own_ids:
                raise BuildError(f"{here}: {item.id} belongs to another part than {part}")
            tested.append(item.id)
            check_item = rubric["checks"][item.id]
            if is_hidden(check_item):  # an opaque grade id: the release must not name a hidden item
                gid = f"{part_prefix(part)}-hidden-{sum(is_hidden(rubric['checks'][i]) for i in tested)}"
            else:
                gid = grade_id(item.id)
            cells.append(nbformat.v4.new_code_cell(test_source(item.id, check_item), id=cell_id("test-" + gid),
                                                   metadata=_nbgrader(gid, True, False, True, check_item["points"])))
        elif item.kind == "question":
            _check_markers(item.text, where)
            if item.text.count(POINTS) != 1:
                raise BuildError(f"{here}: question {item.id} must show its points once, as {POINTS}")
            text = item.text.replace(POINTS, points_label(item.points))
            cells.append(nbformat.v4.new_markdown_cell(text, id=cell_id(f"question-{item.id}")))
        elif item.kind == "answer":
            _check_markers(item.text, where)
            if item.id in [c.metadata.get("nbgrader", {}).get("grade_id") for c in cells]:
                raise BuildError(f"{here}: two questions {item.id}")
            cells.append(nbformat.v4.new_markdown_cell(
                answer_source(item.text), id=cell_id(f"answer-{item.id}"),
                metadata=_nbgrader(item.id, True, True, False, item.points)))
        elif item.kind in ("given", "experiment"):
            _check_markers(item.text, where)
            if item.kind == "experiment":
                cells.append(nbformat.v4.new_code_cell(item.text, id=cell_id(f"experiment-{item.id}"),
                                                       metadata={"tags": [EXPERIMENT_TAG]}))
            else:
                cells.append(nbformat.v4.new_code_cell(item.text, id=cell_id("given")))
    problems = []
    twice = sorted({n for n in placed if placed.count(n) > 1})
    missing = [n for n in reference.definitions if n not in placed]
    if reference.constants and "<constants>" not in placed:
        missing.append("{{constants}}")
    if twice:
        problems.append(f"placed more than once: {', '.join(twice)}")
    if missing:
        problems.append(f"reference definitions never placed: {', '.join(missing)}")
    untested = [i for i in own_ids if i not in tested]
    if untested:
        problems.append(f"rubric items of {part} without a {{{{test: ...}}}}: {', '.join(untested)}")
    if len(set(tested)) != len(tested):
        problems.append(f"rubric items tested twice: {sorted({i for i in tested if tested.count(i) > 1})}")
    if problems:
        raise BuildError(f"{where}: " + "; ".join(problems))
    notebook = nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": dict(KERNELSPEC),
                                                                "language_info": dict(LANGUAGE_INFO)})
    notebook.nbformat, notebook.nbformat_minor = 4, 5
    nbformat.validate(notebook)
    return notebook


def notebook_text(notebook):
    return nbformat.writes(notebook) + "\n"


def questions(notebook):
    """{grade id: points} of the notebook's manually graded answers."""
    return {c.metadata["nbgrader"]["grade_id"]: c.metadata["nbgrader"]["points"] for c in notebook.cells
            if c.metadata.get("nbgrader", {}).get("solution") and c.metadata["nbgrader"].get("grade")}


# --------------------------------------------------------------------------------------------
# building the folders
# --------------------------------------------------------------------------------------------


def build_solutions(dest, rubric=None):
    """Write every part's source notebook into dest/ (a folder); returns the paths."""
    rubric = rubric or load_rubric()
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    paths = []
    for part in rubric["parts"]:
        path = dest / f"{part}.ipynb"
        path.write_text(notebook_text(build_notebook(part, rubric)), encoding="utf-8")
        paths.append(path)
    for stale in set(dest.glob("*.ipynb")) - set(paths):
        stale.unlink()
    return paths


def nbgrader_env():
    """The environment nbgrader needs: this interpreter's bin first on PATH (nbgrader runs alembic)."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def nbgrader_command():
    local = Path(sys.executable).parent / "nbgrader"
    return [str(local)] if local.exists() else [sys.executable, "-m", "nbgrader"]


def generate_release(solutions_dir, dest, assignment):
    """Run `nbgrader generate_assignment` on solutions_dir's notebooks in a temporary course
    directory that has this repository's nbgrader_config.py; copy the release into dest/."""
    dest = Path(dest)
    with tempfile.TemporaryDirectory(prefix="nbgrader-release-") as tmp:
        course = Path(tmp)
        shutil.copy2(NBGRADER_CONFIG, course / "nbgrader_config.py")
        shutil.copytree(solutions_dir, course / SOURCE_DIRECTORY / assignment)
        proc = subprocess.run(nbgrader_command() + ["generate_assignment", assignment, "--force"], cwd=course,
                              env=nbgrader_env(), capture_output=True, text=True)
        released = course / RELEASE_DIRECTORY / assignment
        if proc.returncode != 0 or not released.is_dir():
            raise BuildError(f"nbgrader generate_assignment failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        dest.mkdir(parents=True, exist_ok=True)
        for stale in dest.glob("*"):
            if stale.is_file():
                stale.unlink()
        for path in sorted(released.iterdir()):
            shutil.copy2(path, dest / path.name)
    return sorted(dest.glob("*.ipynb"))


def build(out_root=ROOT, release=False, rubric=None):
    """Build solutions/<assignment>/ (and with release=True assignments/<assignment>/) under out_root."""
    rubric = rubric or load_rubric()
    assignment = rubric["assignment"]
    solutions = Path(out_root) / SOURCE_DIRECTORY / assignment
    paths = build_solutions(solutions, rubric)
    if release:
        paths += generate_release(solutions, Path(out_root) / RELEASE_DIRECTORY / assignment, assignment)
    return paths


def stale_files(rubric=None):
    """Files of solutions/ and assignments/ that differ from a fresh build (relative paths)."""
    rubric = rubric or load_rubric()
    assignment = rubric["assignment"]
    with tempfile.TemporaryDirectory(prefix="build-notebooks-") as tmp:
        build(Path(tmp), release=True, rubric=rubric)
        stale = []
        for folder in (SOURCE_DIRECTORY, RELEASE_DIRECTORY):
            fresh, committed = Path(tmp) / folder / assignment, ROOT / folder / assignment
            names = {p.name for p in fresh.glob("*")} | {p.name for p in committed.glob("*")}
            for name in sorted(names):
                a, b = fresh / name, committed / name
                if not (a.exists() and b.exists() and filecmp.cmp(a, b, shallow=False)):
                    stale.append(f"{folder}/{assignment}/{name}")
        return stale


def is_test_cell(cell):
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return bool(meta.get("grade")) and not meta.get("solution") and cell.get("cell_type") == "code"


def _seconds(cell):
    from datetime import datetime
    timing = cell.get("metadata", {}).get("execution", {})
    start, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return round((parse(end) - parse(start)).total_seconds(), 2)


def execute_notebook(path, out_dir, skip_tests=False, timeout=900):
    """Run a notebook top to bottom, experiment cells included, in its own folder (its set-up cell
    finds the autograder from there); write the executed copy and a summary <name>.json into
    out_dir; return the summary: seconds, and per code cell its id, tags, seconds, errors,
    stderr, number of PNG figures."""
    import time

    from nbclient import NotebookClient

    path, out_dir = Path(path), Path(out_dir)
    notebook = nbformat.read(path, as_version=4)
    if skip_tests:
        notebook.cells = [c for c in notebook.cells if not is_test_cell(c)]
    client = NotebookClient(notebook, timeout=timeout, kernel_name=KERNELSPEC["name"], allow_errors=True,
                            record_timing=True, resources={"metadata": {"path": str(path.parent)}})
    start = time.perf_counter()
    client.execute()
    summary = {"notebook": path.name, "seconds": round(time.perf_counter() - start, 1), "skip_tests": skip_tests,
               "cells": []}
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        outputs = cell.get("outputs", [])
        summary["cells"].append({
            "id": cell.get("id"), "tags": cell.metadata.get("tags", []), "seconds": _seconds(cell),
            "errors": [f"{o.get('ename')}: {o.get('evalue')}" for o in outputs if o.output_type == "error"],
            "stderr": "".join(o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == "stderr"),
            "figures": sum("image/png" in o.get("data", {}) for o in outputs),
        })
    out_dir.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, out_dir / path.name)
    (out_dir / f"{path.stem}.json").write_text(json.dumps(summary, indent=1))
    return summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--release", action="store_true", help="also run nbgrader generate_assignment into "
                        f"{RELEASE_DIRECTORY}/<assignment>/")
    parser.add_argument("--check", action="store_true", help="build in a temporary folder and fail if the "
                        "committed notebooks differ")
    parser.add_argument("--execute", metavar="OUT", help="run the committed solution notebooks top to bottom, "
                        "experiments included; write the executed copies and timings into OUT")
    parser.add_argument("--only", action="append", help="with --execute: this part only (repeatable)")
    parser.add_argument("--skip-tests", action="store_true", help="with --execute: leave the autograded cells out")
    args = parser.parse_args(argv)
    try:
        if args.execute:
            rubric = load_rubric()
            failed = False
            for part in args.only or rubric["parts"]:
                summary = execute_notebook(ROOT / SOURCE_DIRECTORY / rubric["assignment"] / f"{part}.ipynb",
                                           args.execute, skip_tests=args.skip_tests)
                errors = [(c["id"], c["errors"]) for c in summary["cells"] if c["errors"]]
                failed = failed or bool(errors)
                print(f"{part}: {summary['seconds']} s, {sum(c['figures'] for c in summary['cells'])} figures"
                      + (f", errors: {errors}" if errors else ""))
            return 1 if failed else 0
        if args.check:
            stale = stale_files()
            if stale:
                print("stale (run scripts/build_notebooks.py --release):\n  " + "\n  ".join(stale))
                return 1
            print("solutions and release are up to date")
            return 0
        for path in build(release=args.release):
            print(f"wrote {path.relative_to(ROOT)}")
    except BuildError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
