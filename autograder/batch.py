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
from dataclasses import replace
from pathlib import Path

from autograder import preflight, report, similarity
from autograder.isolation import choose as choose_isolation
from autograder.csvsafe import safe_row
from autograder.discovery import discover
from autograder.rubric import load_rubric, rubric_digest
from autograder.report import Scored
from autograder.sandbox import Sandbox, load_limits
from autograder.score import grade

NBGRADER_COLUMNS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
                    "raw_score", "late_submission_penalty", "score", "max_score"]


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


def submission_hash(path, parts, problem=""):
    """sha256 of what grading reads: the part files' names and contents (a file that cannot be
    read, such as a link, by the reason it is refused: nothing is read through a link), or the
    reason the submission was refused."""
    from autograder.load import Unreadable, find_part_file, read_part
    digest = hashlib.sha256()
    if problem:
        digest.update(f"refused:{problem}".encode())
        return digest.hexdigest()
    for part in parts:
        found = find_part_file(path, part)
        digest.update(f"{part}:{found.name if found else '-'}\n".encode())
        if found:
            try:
                digest.update(read_part(found))
            except Unreadable as exc:
                digest.update(f"unreadable:{exc}".encode())
    return digest.hexdigest()


def grader_hash(ids, limits, device):
    """What a grade depends on besides the submission: rubric, expected values, graded ids, limits."""
    return rubric_digest([ids, limits, device])


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
    results = report.gradescope(scored, fingerprint, extra.get("notes") or ())
    results.setdefault("extra_data", {}).update({
        "student_id": candidate.student_id, "timestamp": candidate.timestamp, "source": candidate.source,
        "assignment": rubric["assignment"], "max_score": sum(s.max_points for s in scored), **candidate.info, **extra})
    return results


def _failed_everything(ids, rubric, message):
    return [Scored.of(rubric, i, False, message) for i in ids]


def _grader_error(ids, rubric, exc, extra):
    """Every item of a student the grader failed: a grader error (in `extra`), never their mistake."""
    extra["grader_error"] = f"{type(exc).__name__}: {report.bounded(str(exc), 2000)}"
    return _failed_everything(ids, rubric, f"grader error, not your code's fault (re-grading will retry): "
                                           f"{report.bounded(str(exc), 500)}")


def _write_student(out, candidate, scored, results, rubric):
    """results.json and report.html. A report that cannot be drawn (odd details from a check) is
    replaced by a plain one and recorded as a grader error; the scores stand."""
    folder = Path(out) / "students" / candidate.student_id
    folder.mkdir(parents=True, exist_ok=True)
    title = f"{rubric['assignment']}: {candidate.student_id}"
    try:
        page = report.html_page(scored, title=title)
    except Exception as exc:  # noqa: BLE001 - a report bug is the grader's, and this student's alone
        results["extra_data"]["grader_error"] = f"report.html: {type(exc).__name__}: {report.bounded(str(exc), 1000)}"
        page = report.html_page([replace(s, details={}) for s in scored], title=title)
    _write(folder / "results.json", json.dumps(results, indent=1, allow_nan=False))
    _write(folder / "report.html", page)


def _valid(record):
    """A results.json this module wrote (a re-run reads them back; anything else is graded again)."""
    return (isinstance(record, dict) and isinstance(record.get("extra_data"), dict)
            and isinstance(record["extra_data"].get("student_id"), str) and isinstance(record.get("tests"), list)
            and isinstance(record.get("score"), (int, float)))


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


def plan_jobs(jobs, per_gpu, gpus):
    """How many submissions are graded at once: --jobs when given (at most per_gpu per GPU when
    --per-gpu is given too), else per_gpu (default 1) on each GPU, else 1."""
    if not gpus:
        return max(1, jobs or 1)
    if jobs is None:
        return len(gpus) * (per_gpu or 1)
    return max(1, min(jobs, len(gpus) * per_gpu) if per_gpu else jobs)


def grade_batch(submissions, out, jobs=None, shard=None, device="cpu", per_gpu=None, only=None, skip=None,
                limits=None, roster=None, duedate="", force=False, threads=1, log=sys.stderr, seed=None,
                isolation="bwrap"):
    """Grade every (or this shard's) submission under `submissions` into `out`; returns the records,
    one per discovered submission, whatever failed on the way (a grader error is recorded as such).
    jobs/per_gpu: see plan_jobs. seed: the checks' seed (default grading.yml's; each sandbox server
    draws its own when `random`). isolation: "bwrap", or "container" (opt-in;
    autograder/isolation.py); refuses (IsolationUnavailable) before grading anyone when it cannot run here."""
    from autograder.load import submission_notes
    rubric = load_rubric()
    out = Path(out).resolve()
    preflight.check_machine(device, out)  # a fault of the machine stops here, before any student is graded
    choose_isolation(isolation, device)  # then the sandbox, which needs that machine
    os.chmod(out, 0o700)  # student code never reads other students' work or results (sandbox hides it too)
    candidates = shard_of(discover(submissions, out, rubric, log), shard)
    people = _roster(roster)
    for candidate in candidates:
        candidate.info = people.get(candidate.student_id, {})
    ids = _graded_ids(rubric, only, skip)
    limit_values = load_limits(rubric, limits)
    key = grader_hash(ids, limit_values, device)
    todo, kept = [], {}
    for candidate in candidates:
        try:
            digest = submission_hash(candidate.path, rubric["parts"], candidate.problem)
        except Exception as exc:  # noqa: BLE001 - unreadable as a whole: graded, and refused there
            digest = submission_hash(candidate.path, rubric["parts"], f"unreadable: {exc}")
        previous = _read_json(out / "students" / candidate.student_id / "results.json")
        extra = previous.get("extra_data", {}) if _valid(previous) else {}
        if (not force and extra.get("submission_sha256") == digest and extra.get("grader_sha256") == key
                and not extra.get("grader_error")):
            kept[candidate.student_id] = previous
            continue
        todo.append((candidate, digest))
    gpus = _gpus() if device == "cuda" else []
    jobs = plan_jobs(jobs, per_gpu, gpus)
    warning = preflight.memory_warning(limit_values, jobs)
    if warning:
        print(warning, file=log)
    print(f"{len(candidates)} submissions{f' (shard {shard[0]}/{shard[1]})' if shard else ''}: "
          f"{len(candidates) - len(todo)} already graded, {len(todo)} to grade with {jobs} job(s)"
          + (f" on {len(gpus)} GPU(s)" if gpus else ""), file=log)
    work = queue.Queue()
    for item in todo:
        work.put(item)
    done, lock, graded = [0], threading.Lock(), {}

    def grade_one(box, candidate, digest, env):
        """(box, results): the sandbox server is started on first use and dropped when it failed."""
        extra = {"submission_sha256": digest, "grader_sha256": key, "duedate": duedate or ""}
        try:
            extra["notes"] = [] if candidate.problem else submission_notes(candidate.path, rubric["parts"])
            if candidate.problem:
                scored, fingerprint = _failed_everything(ids, rubric, candidate.problem), {}
            else:
                if box is None:
                    box = Sandbox(device=device, limits=limits, threads=threads, env=env, seed=seed,
                                  isolation=isolation)
                    box.start()
                result = grade(candidate.path, ids, sandbox=box)
                scored, fingerprint = result.scored, result.fingerprint
                extra["parts"], extra["seconds"] = result.parts, result.seconds
        except Exception as exc:  # noqa: BLE001 - the grader failed, not the student: never stop the batch
            if box is not None:
                box.close()
            box = None
            scored, fingerprint = _grader_error(ids, rubric, exc, extra), {}
        results = _student_record(candidate, scored, fingerprint, extra, rubric)
        try:
            _write_student(out, candidate, scored, results, rubric)
        except Exception as exc:  # noqa: BLE001 - e.g. the disk is full: this student's grader error
            results["extra_data"]["grader_error"] = (f"the results could not be written: {type(exc).__name__}: "
                                                     f"{report.bounded(str(exc), 1000)}")
        return box, results

    def worker(number):
        env = dict(os.environ)
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = gpus[number % len(gpus)]
        box = None
        try:
            while True:
                try:
                    candidate, digest = work.get_nowait()
                except queue.Empty:
                    break
                started = time.monotonic()
                try:
                    box, results = grade_one(box, candidate, digest, env)
                except Exception as exc:  # noqa: BLE001 - a bug of this module: still this student's alone
                    box, extra = None, {"submission_sha256": digest, "grader_sha256": key}
                    results = _student_record(candidate, _grader_error(ids, rubric, exc, extra), {}, extra, rubric)
                with lock:
                    graded[candidate.student_id] = results
                    done[0] += 1
                    print(f"[{done[0]}/{len(todo)}] {candidate.student_id}: {results['score']:g}/"
                          f"{results['extra_data']['max_score']:g} in {time.monotonic() - started:.1f} s"
                          + (" (grader error)" if results["extra_data"].get("grader_error") else ""), file=log)
        finally:
            if box is not None:
                box.close()

    pool = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(jobs)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    records = []
    for candidate in candidates:  # every discovered submission has a row, graded or not
        record = graded.get(candidate.student_id) or kept.get(candidate.student_id)
        if record is None:
            extra = {}
            scored = _grader_error(ids, rubric, RuntimeError("never graded (a grading worker stopped)"), extra)
            record = _student_record(candidate, scored, {}, extra, rubric)
        records.append(record)
    write_class_outputs(out, records, rubric)
    lost = similarity.class_report({c.student_id: c.path for c in candidates if not c.problem}, out, rubric, log)
    _write(out / "manifest.json", json.dumps({"shard": list(shard) if shard else None, "submissions": str(submissions),
                                              "students": [c.student_id for c in candidates],
                                              "reports_lost": lost}, indent=1))
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
        writer.writerow(safe_row({"assignment": extra.get("assignment", rubric["assignment"]), "duedate": extra.get("duedate", ""),
                         "timestamp": extra.get("timestamp", ""), "student_id": extra["student_id"],
                         "last_name": extra.get("last_name", ""), "first_name": extra.get("first_name", ""),
                         "email": extra.get("email", ""), "raw_score": _number(raw),
                         "late_submission_penalty": _number(penalty), "score": _number(max(0.0, raw - penalty)),
                         "max_score": _number(extra.get("max_score", 0))}))
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
    writer.writerows([safe_row({**row, "points": _number(row["points"])}) for row in rows])
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
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))  # whole students
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
