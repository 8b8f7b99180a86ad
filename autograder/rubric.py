"""The rubric (grading.yml) and the expected values derived from the reference, read once; and the
facts every stage derives from them (a rubric id's part, the hidden ids, the digest of what a grade
depends on), so that each is computed in one place."""
import hashlib
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
RUBRIC_PATH = ROOT / "grading.yml"
EXPECTED_DIR = Path(__file__).resolve().parent / "expected"
VISIBILITIES = {"visible", "hidden", "after_due_date", "after_published"}
# The hidden ids' checks, relative to ROOT: never in the student copy, never in a student's namespace.
HIDDEN_CHECKS = Path("autograder/checks/hidden.py")


@lru_cache(maxsize=None)
def load_rubric(path=RUBRIC_PATH):
    rubric = yaml.safe_load(Path(path).read_text())
    for rubric_id, item in rubric["checks"].items():
        item.setdefault("visibility", "visible")
        if item["visibility"] not in VISIBILITIES:
            raise ValueError(f"grading.yml: {rubric_id} has visibility {item['visibility']!r}")
    return rubric


def part_of(rubric_id, parts):
    """The part a rubric id belongs to: the part named `partN_<prefix>` for the id `<prefix>.x`."""
    prefix = rubric_id.split(".", 1)[0]
    matches = [p for p in parts if part_prefix(p) == prefix]
    if len(matches) != 1:
        raise ValueError(f"rubric id {rubric_id!r}: no single part of {parts} is named *_{prefix}")
    return matches[0]


def part_prefix(part):
    """part1_dcgan -> dcgan: the prefix of the part's rubric ids."""
    return part.split("_", 1)[-1]


def is_hidden(item):
    return (item or {}).get("visibility") == "hidden"


def hidden_ids(rubric):
    """The ids whose checks the student copy lacks (autograder/checks/hidden.py)."""
    return [i for i, item in rubric["checks"].items() if is_hidden(item)]


def rubric_digest(extra=None):
    """sha256 of grading.yml and the expected values (and `extra`, JSON): what a grade depends on
    besides the submission, in the fingerprint and in a batch's key for re-grading."""
    digest = hashlib.sha256(RUBRIC_PATH.read_bytes())
    for path in sorted(EXPECTED_DIR.glob("*.json")):
        digest.update(path.read_bytes())
    if extra is not None:
        digest.update(json.dumps(extra, sort_keys=True).encode())
    return digest.hexdigest()


@lru_cache(maxsize=None)
def load_expected(directory=EXPECTED_DIR):
    return {p.stem: json.loads(p.read_text()) for p in sorted(Path(directory).glob("*.json"))}


def grading_seed(rubric, seed=None):
    """The seed every check draws its inputs from: `seed`, else $AUTOGRADER_SEED, else grading.yml's
    `seed`; `random` (the default) draws a fresh one now, so a submission cannot be tuned to known
    inputs. It is written in the results' fingerprint: passing it again replays a grading."""
    for value in (seed, os.environ.get("AUTOGRADER_SEED"), rubric.get("seed", "random")):
        if value is not None and value != "":
            return secrets.randbelow(2 ** 31) if value == "random" else int(value)


LIMIT_KEYS = ("check_seconds", "load_seconds", "memory_mb", "output_bytes", "answer_bytes", "work_mb",
              "probe_restarts", "checks")


def load_limits(rubric=None, overrides=None):
    """grading.yml's `limits:` (every key of LIMIT_KEYS, nothing else), then `overrides` (a dict, or
    a YAML file whose `limits:` section, or whole content, is read) over them."""
    rubric = rubric or load_rubric()
    limits = dict(rubric.get("limits") or {})
    for key, value in read_overrides(overrides).items():
        limits[key] = {**limits.get(key, {}), **value} if key == "checks" else value
    limits["checks"] = dict(limits.get("checks") or {})
    unknown, missing = set(limits) - set(LIMIT_KEYS), set(LIMIT_KEYS) - set(limits)
    if unknown or missing:
        raise ValueError(f"grading.yml limits: unknown keys {sorted(unknown)}, missing keys {sorted(missing)}")
    return limits


def read_overrides(overrides):
    """A dict of limits to override, from a dict or a YAML file (its `limits:` or whole content)."""
    if overrides is None or isinstance(overrides, dict):
        return dict(overrides or {})
    text = yaml.safe_load(Path(overrides).read_text()) or {}
    return dict(text.get("limits", text))


def check_seconds(limits, rubric_id):
    return float(limits["checks"].get(rubric_id, limits["check_seconds"]))
