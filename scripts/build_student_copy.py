"""Build the copy of the project that students get (instructor repo only).

    .venv/bin/python scripts/build_student_copy.py DEST [--git] [--no-verify] [--force]

The copy is assembled from an explicit allow-list, never by deleting from a clone:

    assignments/        as is, if present (the released notebooks)
    autograder/         the harness, less caches and less every check module whose rubric ids
                        are all hidden (and autograder/checks/hidden.py, always); the expected
                        values in autograder/expected/*.json lose the top-level keys of hidden ids
    grading.yml         the rubric, less its `visibility: hidden` items
    requirements.txt, pyproject.toml   as is
    constraints.txt     generated: the course's, less its torch/torchvision pins (this build
                        machine's choice; a student's platform takes the torch its index offers)
    run                 generated: the root run's venv set-up, with `./run grade` as its only job
    README.md, .gitignore, .student_copy.json           generated (the last one lists every file
                        with its sha256, and marks DEST as a student copy that a re-run may replace)

Nothing else ships: no reference/, solutions/, tests/, scripts/, benchmarks/, .ci/.

Before the copy replaces DEST, three guards run (any failure leaves DEST untouched):
  * leaks: no function body of reference/*.py (normalised AST, docstring removed) appears in a
    .py file or a notebook code cell of the copy, and no notebook carries nbgrader solution or
    hidden-test markers;
  * hidden ids: none is left in the copy's grading.yml or expected JSON;
  * (unless --no-verify) the copy's autograder imports on its own, with PYTHONPATH = the copy,
    registers a check for every rubric id it ships, and cannot import `reference`.

Which module registers which rubric id is what the registry records (`Check.module`), read by
importing autograder.checks in a subprocess; so run this script with the project's interpreter
(.venv/bin/python), which has torch.

The output depends only on the source tree: a re-run over an existing copy gives byte-identical
files. With --git, DEST is also a git repository with one commit per build that changed it (an
existing DEST/.git is kept across re-builds).
"""
import argparse
import ast
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from autograder.rubric import HIDDEN_CHECKS, hidden_ids

ROOT = Path(__file__).resolve().parent.parent

# The allow-list. Top-level entries copied from the source as they are (when present).
COPIED_FILES = ("requirements.txt", "pyproject.toml")
CONSTRAINTS = "constraints.txt"
COPIED_TREES = ("assignments",)  # optional
AUTOGRADER = "autograder"
RUBRIC = "grading.yml"
# Generated entries.
MANIFEST = ".student_copy.json"
GENERATED = ("run", CONSTRAINTS, "README.md", ".gitignore", MANIFEST)
# Always dropped, whatever it registers: the instructor's module of hidden checks.

JUNK_DIRS = {"__pycache__", ".pytest_cache", ".ipynb_checkpoints", ".mypy_cache", ".ruff_cache", ".git"}
JUNK_FILES = re.compile(r".*\.py[co]$|\.DS_Store$|.*~$|.*\.swp$")
# nbgrader's markers: a notebook that carries them is a source notebook, not a released one.
NBGRADER_MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
# The student `run` must not name what the copy does not have.
RUN_FORBIDDEN = re.compile(r"\b(tests|reference|scripts|solutions|benchmarks|demo)\b")

GITIGNORE = """.venv/
__pycache__/
*.pyc
.pytest_cache/
grading-output/
"""


class BuildError(Exception):
    """The copy cannot be built, or would not be safe to give students; the message says why."""


# --------------------------------------------------------------------------------------------
# Solution-code detector
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    path: str  # relative to the copy: "autograder/checks/losses.py", "assignments/a/b.ipynb"
    where: str  # "line 12", "cell 3 line 4"
    reference: str  # "reference/part1_dcgan.py:d_step"

    def __str__(self):
        return f"{self.path} {self.where}: the body of {self.reference}"


def _strip_docstring(body):
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        return body[1:]
    return body


def is_trivial(body):
    """A body that gives nothing away: empty (docstring only), `pass`, `...`, or one return of
    a constant (`return None`, `return 0`)."""
    if not body:
        return True
    if len(body) > 1:
        return False
    (stmt,) = body
    if isinstance(stmt, ast.Pass):
        return True
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and stmt.value.value is Ellipsis:
        return True
    return isinstance(stmt, ast.Return) and (stmt.value is None or isinstance(stmt.value, ast.Constant))


def _functions(tree, prefix=""):
    """(qualified name, node) of every function and method in tree, nested ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            yield prefix + node.name, node
            yield from _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            yield from _functions(node, f"{prefix}{node.name}.")
        else:
            yield from _functions(node, prefix)


def reference_bodies(reference_dir):
    """{normalised body: "reference/<file>:<qualname>"} for every non-trivial function body of
    the reference. A body is the tuple of ast.dump of its statements, docstring removed."""
    reference_dir = Path(reference_dir)
    bodies = {}
    for path in sorted(p for p in reference_dir.rglob("*.py") if not JUNK_DIRS & set(p.parts)):
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for qualname, node in _functions(tree):
            body = _strip_docstring(node.body)
            if not is_trivial(body):
                key = tuple(ast.dump(stmt) for stmt in body)
                bodies.setdefault(key, f"{reference_dir.name}/{path.relative_to(reference_dir)}:{qualname}")
    return bodies


def _statement_lists(tree):
    """Every list of statements in tree: module, class and function bodies, branches, handlers."""
    for node in ast.walk(tree):
        for name, value in ast.iter_fields(node):
            if isinstance(value, list) and value and all(isinstance(v, ast.stmt) for v in value):
                yield value


def _find_in_tree(tree, bodies, by_first):
    """(line, reference) for each place where a reference body appears as consecutive statements."""
    hits = []
    for stmts in _statement_lists(tree):
        dumps = [ast.dump(s) for s in stmts]
        for i, first in enumerate(dumps):
            for key in by_first.get(first, ()):
                if tuple(dumps[i:i + len(key)]) == key:
                    hits.append((stmts[i].lineno, bodies[key]))
    return hits


def _notebook_cells(path):
    """(cell number, source) of each code cell; IPython magics and shell escapes become `pass`,
    as autograder/load.py does, so that a `%time` line does not hide the cell's code."""
    try:
        notebook = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        return []
    cells = []
    for number, cell in enumerate(notebook.get("cells", []), start=1):
        if cell.get("cell_type") == "code":
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            cells.append((number, re.sub(r"^(\s*)[%!].*$", r"\1pass", source, flags=re.M)))
    return cells


def find_solution_code(copy_root, reference_dir):
    """Every place in copy_root's .py files and notebook code cells where the body of a
    non-trivial reference function appears (cells or files that do not parse are skipped)."""
    copy_root = Path(copy_root)
    bodies = reference_bodies(reference_dir)
    by_first = {}
    for key in bodies:
        by_first.setdefault(key[0], []).append(key)
    findings = []
    for path in sorted(copy_root.rglob("*")):
        rel = path.relative_to(copy_root)
        if not path.is_file() or JUNK_DIRS & set(rel.parts):
            continue
        if path.suffix == ".py":
            units = [("", path.read_text(encoding="utf-8", errors="replace"))]
        elif path.suffix == ".ipynb":
            units = [(f"cell {n} ", src) for n, src in _notebook_cells(path)]
        else:
            continue
        for where, source in units:
            try:
                tree = ast.parse(source)
            except (SyntaxError, ValueError):
                continue
            findings += [Finding(rel.as_posix(), f"{where}line {line}", ref)
                         for line, ref in _find_in_tree(tree, bodies, by_first)]
    return findings


def find_nbgrader_markers(copy_root):
    """Notebooks of the copy that still carry nbgrader's solution / hidden-test markers."""
    found = []
    for path in sorted(Path(copy_root).rglob("*.ipynb")):
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [f"{path.relative_to(copy_root)}: {m}" for m in NBGRADER_MARKERS if m in text]
    return found


# --------------------------------------------------------------------------------------------
# Which check module registers which rubric id
# --------------------------------------------------------------------------------------------

_PROBE_MARK = "STUDENT-COPY-PROBE "
# Runs in a fresh interpreter with PYTHONPATH = the source root: the registry says which check module
# registered each id (Check.module, recorded by autograder/checks/__init__.py).
_REGISTRATION_PROBE = r"""
import json, sys
from autograder.checks.registry import REGISTRY

origin = {rubric_id: check.module for rubric_id, check in REGISTRY.items()}
files = {m: getattr(sys.modules.get(m), "__file__", None) for m in set(origin.values()) if m}
print(MARK + json.dumps({"origin": origin, "files": files}, sort_keys=True))
"""

_VERIFY_PROBE = r"""
import importlib.util, json, sys
import autograder.checks, autograder.conftest
from autograder.checks.registry import REGISTRY
from autograder.rubric import ROOT, load_rubric

ids = list(load_rubric()["checks"])
print(MARK + json.dumps({"root": str(ROOT), "missing": [i for i in ids if i not in REGISTRY],
                         "extra": sorted(set(REGISTRY) - set(ids)),
                         "reference": importlib.util.find_spec("reference") is not None}))
"""


def _isolated_python(script, root):
    """Run script with only `root` on the import path (plus site-packages); return its JSON."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update(PYTHONPATH=str(root), PYTHONDONTWRITEBYTECODE="1", PYTHONNOUSERSITE="1")
    proc = subprocess.run([sys.executable, "-c", script.replace("MARK", repr(_PROBE_MARK))], cwd=root, env=env,
                          capture_output=True, text=True)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(_PROBE_MARK)]
    if proc.returncode != 0 or not lines:
        raise BuildError(f"importing the autograder under {root} failed (run this script with the project's "
                         f".venv/bin/python):\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len(_PROBE_MARK):])


_registration_cache = {}


def _tree_digest(directory):
    digest = hashlib.sha256()
    for path in sorted(Path(directory).rglob("*.py")):
        if not JUNK_DIRS & set(path.relative_to(directory).parts):
            digest.update(str(path.relative_to(directory)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def registrations(source):
    """{check module file (relative to source): [rubric ids it registers]}, and the ids that no
    module's top-level code registered (under the key None)."""
    source = Path(source).resolve()
    key = _tree_digest(source / AUTOGRADER)  # the answer depends on the autograder's code alone
    if key not in _registration_cache:
        probe = _isolated_python(_REGISTRATION_PROBE, source)
        by_file = {}
        for rubric_id, module in sorted(probe["origin"].items()):
            where = None
            if module and probe["files"].get(module):
                path = Path(probe["files"][module]).resolve()
                where = path.parent if path.name == "__init__.py" else path
                where = where.relative_to(source).as_posix()
            by_file.setdefault(where, []).append(rubric_id)
        _registration_cache[key] = by_file
    return {k: list(v) for k, v in _registration_cache[key].items()}


# --------------------------------------------------------------------------------------------
# The rubric and the expected values, less the hidden items
# --------------------------------------------------------------------------------------------


def _mentions(text, rubric_id):
    return re.search(rf"(?<![\w.]){re.escape(rubric_id)}(?![\w.])", text) is not None


def filter_rubric_text(text, hidden):
    """grading.yml without the hidden items, comments and layout kept: each hidden item's lines
    (its key line and the more indented lines under it) and comment lines naming a hidden id are
    cut. If the result does not parse to the rubric less those items, it is re-dumped instead."""
    rubric = yaml.safe_load(text)
    want = dict(rubric, checks={k: v for k, v in rubric["checks"].items() if k not in hidden})
    if "checks" in (rubric.get("limits") or {}):  # per-check limits name rubric ids too
        limits = rubric["limits"]
        want["limits"] = dict(limits, checks={k: v for k, v in limits["checks"].items() if k not in hidden})
    if not hidden:
        return text
    root = yaml.compose(text)
    mappings = [v for k, v in root.value if k.value == "checks"]
    mappings += [v2 for k, v in root.value if k.value == "limits" for k2, v2 in v.value if k2.value == "checks"]
    starts = [(k.value, k.start_mark.line) for mapping in mappings for k, _ in mapping.value]
    lines = text.splitlines(keepends=True)
    cut = set()
    for first in [line for rubric_id, line in starts if rubric_id in hidden]:
        indent = len(lines[first]) - len(lines[first].lstrip())
        last = first
        for n in range(first + 1, len(lines)):
            line = lines[n]
            if line.strip() and len(line) - len(line.lstrip()) <= indent:
                break
            if line.strip():  # blank lines inside the item go with it, trailing ones stay
                last = n
        cut.update(range(first, last + 1))
    for n, line in enumerate(lines):
        if line.lstrip().startswith("#") and any(_mentions(line, i) for i in hidden):
            cut.add(n)
    result = "".join(line for n, line in enumerate(lines) if n not in cut)
    if yaml.safe_load(result) == want and not any(_mentions(result, i) for i in hidden):
        return result
    header = "# The rubric: every graded check, its points and its visibility.\n"
    return header + yaml.safe_dump(want, sort_keys=False, allow_unicode=True, width=120)


def filter_expected(path, hidden):
    """The text of an expected-values file less the top-level keys that are hidden ids, or None
    when nothing is left of it."""
    raw = path.read_text(encoding="utf-8")
    values = json.loads(raw)
    if not isinstance(values, dict) or not any(k in hidden for k in values):
        text = raw
    else:
        kept = {k: v for k, v in values.items() if k not in hidden}
        if not kept:
            return None
        text = json.dumps(kept, indent=1) + "\n"
    named = [i for i in hidden if _mentions(text, i)]
    if named:
        raise BuildError(f"{path}: mentions the hidden ids {named} below its top level; expected values of "
                         "hidden checks must be top-level entries keyed by their rubric id")
    return text


# --------------------------------------------------------------------------------------------
# Generated files
# --------------------------------------------------------------------------------------------


def student_run(root_run):
    """The root `run`'s set-up (from `set -euo pipefail` up to its job dispatch), with one job."""
    text = root_run.read_text()
    begin = text.find("set -euo pipefail")
    end = text.find('job="${1:-}"')
    if begin < 0 or end < begin:
        raise BuildError(f"{root_run}: cannot find its set-up block (from `set -euo pipefail` to `job=\"${{1:-}}\"`)")
    setup = text[begin:end]
    course_default = 'index="${TORCH_INDEX:-$(cat "$VENV/.torch-index" 2>/dev/null || true)}"'
    if course_default not in setup:
        raise BuildError(f"{root_run}: cannot find its TORCH_INDEX default ({course_default})")
    # A student's laptop has no NVIDIA GPU as a rule: torch's CPU-only build unless TORCH_INDEX says otherwise.
    setup = setup.replace(course_default, course_default.replace("|| true", "|| echo cpu"))
    script = (
        "#!/usr/bin/env bash\n"
        "# `./run grade [--submission PATH] [--grading-out DIR] [--device cpu|cuda]`: grade your work\n"
        "# (= python -m pytest autograder ...); `./run setup`: only build .venv. The first call builds\n"
        "# .venv from requirements.txt + constraints.txt; later calls reuse it and rebuild it only when\n"
        "# those files change. torch is its CPU-only build (about 200 MB) unless TORCH_INDEX names another\n"
        "# (pypi: PyPI's default, with CUDA on Linux; cu126...); GAN_COURSE_DRY_RUN=1: print the set-up\n"
        "# commands, install nothing.\n"
        + setup
        + 'job="${1:-}"; shift || true\n'
        'case "$job" in\n'
        '  grade) exec python -m pytest autograder -p no:cacheprovider "$@" ;;\n'
        '  setup) ;;\n'
        '  *) echo "usage: ./run grade [--submission PATH] [--grading-out DIR] [--device cpu|cuda] '
        '[pytest args] | ./run setup" >&2; exit 2 ;;\n'
        "esac\n"
    )
    bad = sorted(set(RUN_FORBIDDEN.findall(script)))
    if bad:
        raise BuildError(f"{root_run}: its set-up block names {bad}, which the student copy does not have")
    return script


MACHINE_PINS = ("torch", "torchvision")  # the course machine's build, not every student's platform


def student_constraints(text):
    """The course's constraints less the torch pins: requirements.txt's `torch>=2.0` then takes
    whatever build the student's platform and index (CPU-only by default) offer."""
    kept = [line for line in text.splitlines()
            if re.split(r"[\s=<>!~;\[]", line.strip(), maxsplit=1)[0].lower() not in MACHINE_PINS]
    return "\n".join(["# The student copy's constraints: torch and torchvision are not pinned here (any 2.x works)."]
                     + [line for line in kept if line.strip() and not line.startswith("#")]) + "\n"


def student_readme(rubric, dropped_hidden):
    assignment = rubric.get("assignment", "assignment")
    parts = rubric.get("parts", [])
    files = ", ".join(f"`{p}.ipynb`" for p in parts) or "your notebooks"
    points = sum(item["points"] for item in rubric["checks"].values())
    hidden_note = ("\nThe grade computed here covers the checks listed in `grading.yml`. The course staff run "
                   "further checks\nafter the deadline, so write code that is correct in general, not only "
                   "for these checks.\n") if dropped_hidden else ""
    return f"""# {assignment}: the assignment and its autograder

Your work goes in `assignments/{assignment}/`: {files}.
Each notebook (or a `.py` file of the same name) is graded by the autograder in `autograder/`,
against the rubric in `grading.yml` ({len(rubric["checks"])} checks, {points:g} points).

## Set up

With Python 3.10 or later, on Linux or macOS:

```bash
./run setup     # builds .venv/ (a few minutes), with torch's CPU-only build
./run grade     # grades (and builds .venv/ first if it is not there)
```

`./run` installs torch's CPU-only build (about 200 MB, from torch's own index): the one a laptop
without an NVIDIA GPU needs. `TORCH_INDEX=pypi ./run setup` takes PyPI's default torch instead (on
Linux with its CUDA libraries, several GB: for a machine with an NVIDIA GPU; on macOS and Windows
PyPI's torch has no CUDA anyway), `TORCH_INDEX=cu126` another of torch's indexes. `GAN_COURSE_DRY_RUN=1
./run setup` prints the set-up commands without running them. By hand:

```bash
python3 -m venv .venv
.venv/bin/python -m pip install torch torchvision -c constraints.txt --index-url https://download.pytorch.org/whl/cpu
.venv/bin/python -m pip install -r requirements.txt -c constraints.txt
```

On Windows (PowerShell, from this folder; `py` is the launcher of python.org's installer):

```powershell
py -m venv .venv
.venv\\Scripts\\python -m pip install torch torchvision -c constraints.txt --index-url https://download.pytorch.org/whl/cpu
.venv\\Scripts\\python -m pip install -r requirements.txt -c constraints.txt
.venv\\Scripts\\python -m pytest autograder                # = ./run grade
.venv\\Scripts\\jupyter lab assignments\\{assignment}\\
```

(If PowerShell refuses `.venv\\Scripts\\Activate.ps1`, you do not need it: the lines above call
the venv's programs by their path.) On macOS and Windows the checks run in the grading process
itself, without the isolation they get on Linux; the scores are the same, and each grading says in
one line (`isolation: ...`) which mode ran. (These Windows lines were not run on Windows: tell the
course staff what did not work.)

## Grade your work

```bash
./run grade                                   # grades assignments/{assignment}/
./run grade --submission path/to/folder       # a folder with {files} (or .py files)
.venv/bin/python -m pytest autograder --submission path/to/folder    # the same, without ./run
```

Options: `--grading-out DIR` (default `grading-output/`), `--device cpu|cuda`, `--seed N` (the
checks draw fresh random inputs on each run and `results.json` records the seed: pass it back to
replay a run exactly; a correct answer passes whatever the seed).

## Work in the notebooks

```bash
.venv/bin/pip install jupyterlab      # once, if you have no Jupyter of your own
.venv/bin/jupyter lab assignments/{assignment}/
```

Each notebook's test cells (`check("...")`) run the same checks as `./run grade`, one rubric item
at a time, on the code you have run in that notebook.

Each rubric item is one test. The training check (`cgan.training`) trains your cGAN for a minute
or more on a CPU and prints a progress line meanwhile (iterations, seconds left). At the end you
get a table of checks, points and messages, and the total. The report goes to `grading-output/`: `report.html` (every message, your samples and loss
curves), `results.json` (the scores, in Gradescope's format) and `junit.xml`.

A cell that fails costs only the names it defines; cells tagged `experiment` (training loops,
plots) are not run by the autograder.
{hidden_note}"""


# --------------------------------------------------------------------------------------------
# The build
# --------------------------------------------------------------------------------------------


@dataclass
class BuildReport:
    dest: Path
    files: list
    hidden: list  # rubric ids removed
    dropped_modules: list  # check modules not shipped
    mixed_modules: dict = field(default_factory=dict)  # module -> hidden ids whose code still ships
    committed: bool = False


def _is_junk(rel):
    return bool(JUNK_DIRS & set(rel.parts)) or bool(JUNK_FILES.fullmatch(rel.name))


def _copy_tree(src, dst, skip=()):
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if _is_junk(rel) or path.is_dir() or any(s == rel or s in rel.parents for s in skip):
            continue
        target = dst / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)


def _write(path, text, mode=0o644):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(mode)


# Folders of the instructor project that a DEST inside the project must stay out of.
PROJECT_FOLDERS = {"autograder", "reference", "assignments", "solutions", "tests", "scripts", "benchmarks",
                   ".ci", ".git", ".venv"}


def _check_dest(dest, source, force):
    dest, source = dest.resolve(), source.resolve()
    if dest == source or dest in source.parents:
        raise BuildError(f"DEST {dest} is the project or one of its parents: refusing to replace it")
    if source in dest.parents and dest.relative_to(source).parts[0] in PROJECT_FOLDERS:
        raise BuildError(f"DEST {dest} is inside the project's {dest.relative_to(source).parts[0]}/")
    if dest.exists() and not dest.is_dir():
        raise BuildError(f"DEST {dest} exists and is not a folder")
    if dest.is_dir() and any(dest.iterdir()) and not (dest / MANIFEST).is_file() and not force:
        raise BuildError(f"DEST {dest} is not empty and is not a student copy ({MANIFEST} is missing): "
                         "pass --force to replace it anyway")


def _manifest(stage):
    files = sorted(p.relative_to(stage).as_posix() for p in stage.rglob("*")
                   if p.is_file() and ".git" not in p.relative_to(stage).parts and p.name != MANIFEST)
    return {"generator": "scripts/build_student_copy.py",
            "files": {f: hashlib.sha256((stage / f).read_bytes()).hexdigest() for f in files}}


def _git(dest, *args):
    ident = ["-c", "user.name=Course staff", "-c", "user.email=staff@course.invalid", "-c", "commit.gpgsign=false"]
    return subprocess.run(["git", *ident, *args], cwd=dest, check=True, capture_output=True, text=True).stdout


def _commit(dest):
    if not (dest / ".git").is_dir():
        _git(dest, "init", "-q")
    _git(dest, "add", "-A")
    if not _git(dest, "status", "--porcelain").strip():
        return False
    _git(dest, "commit", "-q", "-m", "Student copy of the assignment and its autograder")
    return True


def assemble(stage, source):
    """Write the copy into the empty folder `stage`; return (hidden ids, dropped, mixed)."""
    rubric_text = (source / RUBRIC).read_text(encoding="utf-8")
    rubric = yaml.safe_load(rubric_text)
    hidden = hidden_ids(rubric)

    by_file = registrations(source)
    dropped, mixed = [], {}
    for module, ids in sorted((k, v) for k, v in by_file.items() if k):
        if all(i in hidden for i in ids):
            dropped.append(module)
        elif any(i in hidden for i in ids):
            mixed[module] = [i for i in ids if i in hidden]
    if (source / HIDDEN_CHECKS).exists() and HIDDEN_CHECKS.as_posix() not in dropped:
        dropped.append(HIDDEN_CHECKS.as_posix())
    dropped.sort()

    for name in COPIED_TREES:
        if (source / name).is_dir():
            _copy_tree(source / name, stage / name)
    expected_dir = Path(AUTOGRADER, "expected")
    skip = [Path(m).relative_to(AUTOGRADER) for m in dropped] + [Path("expected")]
    _copy_tree(source / AUTOGRADER, stage / AUTOGRADER, skip=skip)
    for path in sorted((source / expected_dir).glob("*")):
        if _is_junk(path.relative_to(source)) or not path.is_file():
            continue
        if path.suffix == ".json":
            text = filter_expected(path, hidden)
            if text is not None:
                _write(stage / expected_dir / path.name, text)
        else:
            shutil.copyfile(path, stage / expected_dir / path.name)
    for name in COPIED_FILES:
        if not (source / name).is_file():
            raise BuildError(f"{source / name} is missing")
        shutil.copyfile(source / name, stage / name)

    _write(stage / CONSTRAINTS, student_constraints((source / CONSTRAINTS).read_text(encoding="utf-8")))
    _write(stage / RUBRIC, filter_rubric_text(rubric_text, hidden))
    _write(stage / "run", student_run(source / "run"), 0o755)
    visible = yaml.safe_load((stage / RUBRIC).read_text(encoding="utf-8"))
    _write(stage / "README.md", student_readme(visible, bool(hidden)))
    _write(stage / ".gitignore", GITIGNORE)
    for path in stage.rglob("*"):
        if path.is_file() and path.name != "run":
            path.chmod(0o644)
    return hidden, dropped, mixed


def guard(stage, source, hidden, verify):
    """The checks that must pass before the copy may replace DEST."""
    problems = []
    present = sorted({p.relative_to(stage).parts[0] for p in stage.iterdir()})
    allowed = set(COPIED_FILES) | set(COPIED_TREES) | set(GENERATED) | {AUTOGRADER, RUBRIC}
    problems += [f"{name}: not in the allow-list" for name in present if name not in allowed]
    if (source / "reference").is_dir():
        problems += [f"solution code: {finding}" for finding in find_solution_code(stage, source / "reference")]
    problems += [f"nbgrader source notebook: {m}" for m in find_nbgrader_markers(stage)]
    rubric_text = (stage / RUBRIC).read_text(encoding="utf-8")
    problems += [f"{RUBRIC} still names hidden id {i}" for i in hidden if _mentions(rubric_text, i)]
    for path in sorted((stage / AUTOGRADER / "expected").glob("*.json")):
        text = path.read_text(encoding="utf-8")
        problems += [f"{path.relative_to(stage)} still names hidden id {i}" for i in hidden if _mentions(text, i)]
    if verify and not problems:
        probe = _isolated_python(_VERIFY_PROBE, stage)
        if Path(probe["root"]).resolve() != stage.resolve():
            problems.append(f"the copy's autograder was imported from {probe['root']}, not from the copy")
        problems += [f"grading.yml names {i}, which no check module of the copy registers" for i in probe["missing"]]
        if probe["reference"]:
            problems.append("`reference` is importable next to the copy")
    if problems:
        raise BuildError("the student copy is not safe to ship:\n  " + "\n  ".join(problems))


def build(dest, source=ROOT, *, git=False, verify=True, force=False):
    """Build the student copy of `source` into `dest` (replacing an earlier copy there)."""
    dest, source = Path(dest).absolute(), Path(source).resolve()
    _check_dest(dest, source, force)
    dest.parent.mkdir(parents=True, exist_ok=True)
    stage = Path(tempfile.mkdtemp(prefix=f".{dest.name}.building-", dir=dest.parent))
    stage.chmod(0o755)
    try:
        hidden, dropped, mixed = assemble(stage, source)
        guard(stage, source, hidden, verify)
        manifest = _manifest(stage)
        _write(stage / MANIFEST, json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        if (dest / ".git").is_dir():
            (dest / ".git").rename(stage / ".git")
        if dest.exists():
            shutil.rmtree(dest)
        stage.rename(dest)
    finally:
        if stage.exists():
            shutil.rmtree(stage)
    committed = _commit(dest) if git else False
    return BuildReport(dest, sorted(manifest["files"]) + [MANIFEST], hidden, dropped, mixed, committed)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dest", type=Path, help="where to build the copy (an earlier copy there is replaced)")
    parser.add_argument("--source", type=Path, default=ROOT, help="the instructor project (default: this one)")
    parser.add_argument("--git", action="store_true", help="make DEST a git repository and commit the build")
    parser.add_argument("--no-verify", dest="verify", action="store_false",
                        help="skip importing the copy's autograder to check its registry")
    parser.add_argument("--force", action="store_true", help="replace DEST even if it is not a student copy")
    args = parser.parse_args(argv)
    try:
        report = build(args.dest, args.source, git=args.git, verify=args.verify, force=args.force)
    except BuildError as exc:
        print(f"build_student_copy: {exc}", file=sys.stderr)
        return 1
    print(f"built {report.dest}: {len(report.files)} files; hidden ids removed: {report.hidden or 'none'}; "
          f"check modules left out: {report.dropped_modules or 'none'}" + ("; committed" if report.committed else ""))
    for module, ids in report.mixed_modules.items():
        print(f"warning: {module} ships with the code of hidden checks {ids}: move them to "
              f"{HIDDEN_CHECKS.as_posix()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
