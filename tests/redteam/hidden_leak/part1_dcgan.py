"""Red team: read the hidden checks from inside the check's own child, and exfiltrate them.

The zygote deletes the hidden checks from REGISTRY and sys.modules before student code runs
(tamper.forget_other_checks), but the Zygote object's snapshot (tamper.take_snapshot) still
holds (REGISTRY, id, Check) triples of EVERY check, the hidden ones included, and the hidden
module's callables. gc.get_objects() reaches them: the hidden checks' ids and their Network
(class, constructor kwargs nz=10 / ngf=16 / ndf=16, channels_only) are put in bce's exception
message, which the grader copies into results.json.

The guarantee (autograder/checks/hidden.py's docstring: "the student's process, which
unregisters the hidden checks, keeps nothing of them"): nothing of them appears in the output.
"""
import gc

from reference.part1_dcgan import *  # noqa: F401,F403


def _leak():
    found = []
    for obj in gc.get_objects():
        if type(obj).__name__ == "Check" and "width_arguments" in str(getattr(obj, "id", "")):
            network = getattr(obj.collect, "network", None)
            found.append(f"{obj.id} -> {network!r}")
    return sorted(set(found))


def bce(p, target):
    raise RuntimeError(f"LEAKED[{'; '.join(_leak()) or 'nothing'}]")
