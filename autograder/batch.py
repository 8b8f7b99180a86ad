"""Grade a whole class: many submissions in parallel, sharded, re-runnable, merged into one gradebook.

    python -m autograder batch SUBMISSIONS --out DIR [--jobs N] [--shard i/n] [--per-gpu K] ...
    python -m autograder merge DIR... --out DIR

SUBMISSIONS is one of (docs/batch.md):
  * nbgrader's `submitted/<student>/<assignment>/` (or the course folder holding `submitted/`);
    `timestamp.txt` there gives the submission time;
  * a flat folder with one entry per student: a subfolder or a .zip holding the part files
    (at any depth), or loose part files named `<student>_..._part1_dcgan.ipynb` (an LMS export).

Each student is graded in the sandbox (autograder/sandbox.py) by one of N workers, each with its
own sandbox server; a failure of one submission, even of its sandbox server, never stops the
batch. DIR/students/<student>/ gets results.json (Gradescope's schema, with the submission's
content hash and the grader's in extra_data) and report.html; a re-run skips every student whose
results.json has the same two hashes. DIR gets the class outputs: gradebook.csv (the columns of
`nbgrader export`'s CsvExportPlugin), summary.json and checks.csv (pass rate of every check),
histogram.png. `--shard i/n` grades the i-th of n deterministic slices of the sorted students;
`merge` rebuilds the class outputs from the shards' students/ folders, identical to one run's.

This module never imports torch: the batch process stays small and never runs student code.
"""
import argparse
import csv
import hashlib
import io
import json
import os
import queue
import re
import shutil
import statistics
import sys
import threading
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder import isolation, report
from autograder.rubric import EXPECTED_DIR, RUBRIC_PATH, load_rubric
from autograder.report import Scored
from autograder.sandbox import Sandbox, load_limits

NBGRADER_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                    "raw_score", "late_submission_penalty", "score", "max_score"]
SUFFIXES = (".ipynb", ".py")
ZIP_MAX_BYTES = 200 * 2 ** 20
ZIP_MAX_FILES = 2000
WORK = "_work"


@dataclass
class Candidate:
    """One student's submission as found on disk."""
    student_id: str
    path: Path  # a folder holding the part files
    timestamp: str = ""
    source: str = ""  # what it was found as (folder, zip, nbgrader, files)
    problem: str = ""  # why it cannot be graded (a bad zip...): graded as an empty submission
    info: dict = field(default_factory=dict)  # names and email from a roster


def _safe_id(name):
    return re.sub(r"[^A-Za-z0-9_.@+-]", "_", name).strip("._") or "unnamed"


def _part_dir(folder, parts):
    """The folder under `folder` (itself included) holding the most part files: submissions often
    nest their files one folder down (a zip of a folder)."""
    best, best_count = folder, 0
    for directory, subdirs, files in os.walk(folder):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith((".", "__MACOSX")))
        count = sum(1 for p in parts if any(f"{p}{s}" in files for s in SUFFIXES))
        if count > best_count:
            best, best_count = Path(directory), count
    return best


def _extract(archive, dest):
    """Unzip with limits: no path outside dest, no links, at most ZIP_MAX_FILES files and
    ZIP_MAX_BYTES in all (a zip bomb is refused, not extracted)."""
    with zipfile.ZipFile(archive) as zf:
        members = [m for m in zf.infolist() if not m.is_dir()]
        if len(members) > ZIP_MAX_FILES:
            raise ValueError(f"{len(members)} files in the zip (at most {ZIP_MAX_FILES})")
        if sum(m.file_size for m in members) > ZIP_MAX_BYTES:
            raise ValueError(f"the zip unpacks to more than {ZIP_MAX_BYTES // 2 ** 20} MB")
        root = dest.resolve()
        for member in members:
            target = (dest / member.filename).resolve()
            if not str(target).startswith(str(root) + os.sep):
                raise ValueError(f"the zip has a path outside its folder: {member.filename!r}")
            if (member.external_attr >> 16) & 0o170000 == 0o120000:
                continue  # a symbolic link: skipped
            target.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(member) as src, open(target, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 20)


def _mtime(path):
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(Path(path).stat().st_mtime))


def discover(root, out, rubric=None):
    """Every student's submission under root, sorted by student id."""
    rubric = rubric or load_rubric()
    parts, assignment = rubric["parts"], rubric["assignment"]
    root = Path(root)
    if (root / "submitted").is_dir():
        root = root / "submitted"
    work = Path(out) / WORK
    found, loose = {}, {}

    def add(candidate):
        if candidate.student_id in found:
            print(f"warning: two submissions for {candidate.student_id}: {found[candidate.student_id].source} is "
                  f"graded, {candidate.source} is not", file=sys.stderr)
        else:
            found[candidate.student_id] = candidate

    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".") or entry.name == WORK:
            continue
        if entry.is_dir():
            if (entry / assignment).is_dir():  # nbgrader: submitted/<student>/<assignment>/
                folder = entry / assignment
                stamp = folder / "timestamp.txt"
                timestamp = stamp.read_text().strip() if stamp.exists() else _mtime(folder)
                add(Candidate(_safe_id(entry.name), _part_dir(folder, parts), timestamp, f"nbgrader:{entry.name}"))
            else:
                add(Candidate(_safe_id(entry.name), _part_dir(entry, parts), _mtime(entry), f"folder:{entry.name}"))
        elif entry.suffix.lower() == ".zip":
            student = _safe_id(entry.stem)
            dest = work / student
            shutil.rmtree(dest, ignore_errors=True)
            dest.mkdir(parents=True)
            try:
                _extract(entry, dest)
                add(Candidate(student, _part_dir(dest, parts), _mtime(entry), f"zip:{entry.name}"))
            except (zipfile.BadZipFile, ValueError, OSError) as exc:
                add(Candidate(student, dest, _mtime(entry), f"zip:{entry.name}", f"{entry.name} was not unpacked: {exc}"))
        elif entry.suffix in SUFFIXES:
            part = next((p for p in parts if p in entry.stem), None)
            if part:
                student = _safe_id(entry.stem[:entry.stem.index(part)].strip("_-. ")) or "unnamed"
                loose.setdefault(student, []).append((part, entry))
    for student, files in sorted(loose.items()):
        dest = work / student
        shutil.rmtree(dest, ignore_errors=True)
        dest.mkdir(parents=True)
        for part, path in files:
            shutil.copy2(path, dest / f"{part}{path.suffix}")
        add(Candidate(student, dest, max(_mtime(p) for _, p in files), "files:" + ",".join(p.name for _, p in files)))
    return [found[k] for k in sorted(found)]


def shard_of(candidates, shard):
    """The i-th (1-based) of n round-robin slices of the students sorted by id."""
    if shard is None:
        return candidates
    index, count = shard
    return sorted(candidates, key=lambda c: c.student_id)[index - 1::count]


def parse_shard(text):
    match = re.fullmatch(r"(\d+)/(\d+)", text or "")
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise argparse.ArgumentTypeError(f"--shard wants i/n with 1 <= i <= n, not {text!r}")
    return int(match.group(1)), int(match.group(2))


def submission_hash(path, parts):
    """sha256 of the part files that grading reads (name and content)."""
    from autograder.load import find_part_file
    digest = hashlib.sha256()
    for part in parts:
        found = find_part_file(path, part)
        digest.update(f"{part}:{found.name if found else '-'}\n".encode())
        if found:
            digest.update(found.read_bytes())
    return digest.hexdigest()


def grader_hash(ids, limits, device):
    """What a grade depends on besides the submission: rubric, expected values, graded ids, limits."""
    digest = hashlib.sha256(RUBRIC_PATH.read_bytes())
    for path in sorted(EXPECTED_DIR.glob("*.json")):
        digest.update(path.read_bytes())
    digest.update(json.dumps([ids, limits, device], sort_keys=True).encode())
    return digest.hexdigest()


def _write(path, text):
    """Atomically, and never through a link someone else placed there."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def _graded_ids(rubric, only, skip):
    return [i for i in rubric["checks"] if (not only or i in only) and i not in (skip or ())]


def _student_record(candidate, scored, fingerprint, extra, rubric):
    results = report.gradescope(scored, fingerprint)
    results.setdefault("extra_data", {}).update({
        "student_id": candidate.student_id, "timestamp": candidate.timestamp, "source": candidate.source,
        "assignment": rubric["assignment"], "max_score": sum(s.max_points for s in scored), **candidate.info, **extra})
    return results


def _failed_everything(ids, rubric, message):
    return [Scored(i, rubric["checks"][i].get("title", i), 0, rubric["checks"][i]["points"], False, message,
                        rubric["checks"][i]["visibility"]) for i in ids]


def _write_student(out, candidate, scored, results, rubric):
    folder = Path(out) / "students" / candidate.student_id
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "results.json", json.dumps(results, indent=1, allow_nan=False))
    _write(folder / "report.html", report.html_page(scored, title=f"{rubric['assignment']}: {candidate.student_id}"))


def _gpus():
    """GPU indices from CUDA_VISIBLE_DEVICES or nvidia-smi, without initialising CUDA here."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [v for v in visible.split(",") if v.strip()]
    try:
        import subprocess
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(listing.splitlines()) if line.startswith("GPU ")]


def grade_batch(submissions, out, jobs=1, shard=None, device="cpu", per_gpu=1, only=None, skip=None, limits=None,
                roster=None, duedate="", force=False, threads=1, log=sys.stderr, seed=None, isolation_mode="bwrap"):
    """Grade every (or this shard's) submission under `submissions` into `out`; returns the records.
    seed: the checks' seed (default grading.yml's; each sandbox server draws its own when `random`).
    isolation_mode: "bwrap", or "container" (opt-in; autograder/isolation.py). Refuses
    (IsolationUnavailable) before grading anyone when the isolation cannot run here."""
    isolation.choose(isolation_mode, device)
    rubric = load_rubric()
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.chmod(out, 0o700)  # student code never reads other students' work or results (sandbox hides it too)
    candidates = shard_of(discover(submissions, out, rubric), shard)
    people = _roster(roster)
    for candidate in candidates:
        candidate.info = people.get(candidate.student_id, {})
    ids = _graded_ids(rubric, only, skip)
    limit_values = load_limits(rubric, limits)
    key = grader_hash(ids, limit_values, device)
    todo = []
    for candidate in candidates:
        digest = submission_hash(candidate.path, rubric["parts"])
        previous = _read_json(out / "students" / candidate.student_id / "results.json")
        extra = (previous or {}).get("extra_data", {})
        if (not force and extra.get("submission_sha256") == digest and extra.get("grader_sha256") == key
                and not extra.get("grader_error")):
            continue
        todo.append((candidate, digest))
    print(f"{len(candidates)} submissions{f' (shard {shard[0]}/{shard[1]})' if shard else ''}: "
          f"{len(candidates) - len(todo)} already graded, {len(todo)} to grade with {jobs} job(s)", file=log)
    gpus = _gpus() if device == "cuda" else []
    if gpus and per_gpu:
        jobs = min(jobs, len(gpus) * per_gpu) if jobs else len(gpus) * per_gpu
    work = queue.Queue()
    for item in todo:
        work.put(item)
    done, lock = [0], threading.Lock()

    def worker(number):
        env = dict(os.environ)
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = gpus[number % len(gpus)]
        box = None
        while True:
            try:
                candidate, digest = work.get_nowait()
            except queue.Empty:
                break
            started = time.monotonic()
            extra = {"submission_sha256": digest, "grader_sha256": key, "duedate": duedate or ""}
            try:
                if candidate.problem:
                    scored, fingerprint = _failed_everything(ids, rubric, candidate.problem), {}
                else:
                    if box is None:
                        box = Sandbox(device=device, limits=limits, threads=threads, env=env, seed=seed,
                                      isolation=isolation_mode)
                        box.start()
                    graded = box.grade(candidate.path, ids)
                    scored, fingerprint = graded.scored, graded.fingerprint
                    extra["parts"], extra["seconds"] = graded.parts, graded.seconds
            except Exception as exc:  # noqa: BLE001 - the grader failed, not the student: never stop the batch
                if box is not None:
                    box.close()
                box = None
                scored, fingerprint = _failed_everything(
                    ids, rubric, f"grader error, not your code's fault (re-grading will retry): {exc}"), {}
                extra["grader_error"] = f"{type(exc).__name__}: {exc}"[:2000]
            results = _student_record(candidate, scored, fingerprint, extra, rubric)
            _write_student(out, candidate, scored, results, rubric)
            with lock:
                done[0] += 1
                print(f"[{done[0]}/{len(todo)}] {candidate.student_id}: {results['score']:g}/"
                      f"{results['extra_data']['max_score']:g} in {time.monotonic() - started:.1f} s", file=log)
        if box is not None:
            box.close()

    pool = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(max(1, jobs))]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    records = [_read_json(out / "students" / c.student_id / "results.json") for c in candidates]
    records = [r for r in records if r]
    write_class_outputs(out, records, rubric)
    _write(out / "manifest.json", json.dumps({"shard": list(shard) if shard else None, "submissions": str(submissions),
                                              "students": [c.student_id for c in candidates]}, indent=1))
    return records


def _roster(path):
    """student_id -> {first_name, last_name, email} from a CSV with those columns (optional)."""
    if not path:
        return {}
    with open(path, newline="") as f:
        return {row["student_id"]: {k: row.get(k, "") or "" for k in ("first_name", "last_name", "email")}
                for row in csv.DictReader(f)}


def _number(value):
    return f"{value:g}" if isinstance(value, (int, float)) else str(value)


def write_class_outputs(out, records, rubric=None):
    """gradebook.csv, checks.csv, summary.json, histogram.png from per-student results.json records:
    the one function a single run and `merge` both use, so their outputs are the same."""
    rubric = rubric or load_rubric()
    out = Path(out)
    records = sorted(records, key=lambda r: r["extra_data"]["student_id"])
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, NBGRADER_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in records:
        extra = r["extra_data"]
        raw = float(r["score"])
        penalty = 0.0  # nbgrader's default late-submission plugin: no penalty
        writer.writerow({"assignment": extra.get("assignment", rubric["assignment"]), "duedate": extra.get("duedate", ""),
                         "timestamp": extra.get("timestamp", ""), "student_id": extra["student_id"],
                         "last_name": extra.get("last_name", ""), "first_name": extra.get("first_name", ""),
                         "email": extra.get("email", ""), "raw_score": _number(raw),
                         "late_submission_penalty": _number(penalty), "score": _number(max(0.0, raw - penalty)),
                         "max_score": _number(extra.get("max_score", 0))})
    _write(out / "gradebook.csv", buffer.getvalue())
    checks = {}
    for r in records:
        for test in r["tests"]:
            rubric_id = test["name"].split(":", 1)[0]
            row = checks.setdefault(rubric_id, {"id": rubric_id, "title": test["name"].split(": ", 1)[-1],
                                                "points": test["max_score"], "graded": 0, "passed": 0, "failures": {}})
            row["graded"] += 1
            if test["status"] == "passed":
                row["passed"] += 1
            else:
                message = test["output"][:160]
                row["failures"][message] = row["failures"].get(message, 0) + 1
    order = {rubric_id: n for n, rubric_id in enumerate(rubric["checks"])}
    rows = []
    for rubric_id in sorted(checks, key=lambda i: (order.get(i, len(order)), i)):
        row = checks.pop(rubric_id)
        failures = sorted(row.pop("failures").items(), key=lambda kv: (-kv[1], kv[0]))
        rows.append({**row, "pass_rate": round(row["passed"] / row["graded"], 4) if row["graded"] else 0.0,
                     "most_common_failure": failures[0][0] if failures else "",
                     "most_common_failure_count": failures[0][1] if failures else 0})
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, ["id", "title", "points", "graded", "passed", "pass_rate", "most_common_failure",
                                     "most_common_failure_count"], lineterminator="\n")
    writer.writeheader()
    writer.writerows([{**row, "points": _number(row["points"])} for row in rows])
    _write(out / "checks.csv", buffer.getvalue())
    scores = [float(r["score"]) for r in records]
    max_score = max([float(r["extra_data"].get("max_score", 0)) for r in records] or [0.0])
    bins = _bins(max_score)
    counts = [sum(1 for s in scores if lo <= s < hi or (hi == bins[-1] and s == hi)) for lo, hi in zip(bins, bins[1:])]
    summary = {"assignment": rubric["assignment"], "students": len(records), "max_score": max_score,
               "mean": round(statistics.fmean(scores), 4) if scores else None,
               "median": statistics.median(scores) if scores else None,
               "min": min(scores) if scores else None, "max": max(scores) if scores else None,
               "grader_errors": sorted(r["extra_data"]["student_id"] for r in records if r["extra_data"].get("grader_error")),
               "histogram": {"bins": bins, "counts": counts}, "checks": rows}
    _write(out / "summary.json", json.dumps(summary, indent=1, allow_nan=False))
    _histogram(out / "histogram.png", scores, bins, rubric["assignment"])
    return summary


def _bins(max_score):
    edges = max(1, min(20, int(max_score) or 1))
    return [round(max_score * i / edges, 6) for i in range(edges + 1)] if max_score else [0.0, 1.0]


def _histogram(path, scores, bins, title):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(7, 3.5))
    ax.hist(scores, bins=bins, color="#4477aa", edgecolor="white")
    ax.set_xlabel("score")
    ax.set_ylabel("students")
    ax.set_title(f"{title}: {len(scores)} submissions")
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    tmp = Path(path).with_name(f".{Path(path).name}.tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)


def merge(dirs, out):
    """Class outputs over the students of several shard outputs (their students/ are copied to out)."""
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    records = {}
    for directory in dirs:
        for path in sorted(Path(directory).glob("students/*/results.json")):
            record = _read_json(path)
            if not record:
                continue
            student = record["extra_data"]["student_id"]
            if student in records and records[student]["extra_data"].get("submission_sha256") != \
                    record["extra_data"].get("submission_sha256"):
                raise ValueError(f"{student} is in two shards with different submissions")
            records[student] = record
            target = out / "students" / student
            if path.parent.resolve() != target.resolve():
                target.mkdir(parents=True, exist_ok=True)
                for name in ("results.json", "report.html"):
                    if (path.parent / name).exists():
                        shutil.copyfile(path.parent / name, target / name)
    summary = write_class_outputs(out, list(records.values()))
    _write(out / "manifest.json", json.dumps({"merged": [str(Path(d)) for d in dirs],
                                              "students": sorted(records)}, indent=1))
    return summary
