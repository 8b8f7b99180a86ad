"""Stage 2: the checks. Each module registers its checks under their rubric ids (grading.yml).

Every module of this package is imported, so the student copy, which lacks hidden.py, simply
registers fewer checks. They are imported after the check modules they import (read from their
source), so that the checks registered while one module's code runs are that module's own:
`Check.module` records it (the student copy leaves out the modules whose checks are all hidden).
"""
import ast
import importlib
import pkgutil
from dataclasses import replace
from pathlib import Path

from autograder.checks.registry import REGISTRY


def _imported_checks(path):
    """The modules of this package that the module at `path` imports, by name."""
    names = set()
    for node in ast.walk(ast.parse(Path(path).read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(f"{__name__}."):
            names.add(node.module.split(".")[2])
        elif isinstance(node, ast.ImportFrom) and node.module == __name__:
            names.update(alias.name for alias in node.names)
    return names


def _import_all():
    modules = {m.name: Path(m.module_finder.path) / f"{m.name}.py" for m in pkgutil.iter_modules(__path__)}
    done = set()

    def load(name, chain=()):
        if name in done or name not in modules:
            return
        if name in chain:
            raise ImportError(f"autograder/checks: the modules {' -> '.join(chain + (name,))} import each other")
        for dependency in sorted(_imported_checks(modules[name])):
            load(dependency, chain + (name,))
        before = set(REGISTRY)
        importlib.import_module(f"{__name__}.{name}")
        for rubric_id in set(REGISTRY) - before:
            REGISTRY[rubric_id] = replace(REGISTRY[rubric_id], module=f"{__name__}.{name}")
        done.add(name)

    for name in sorted(modules):
        load(name)


_import_all()
