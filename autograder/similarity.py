"""The class similarity report, for instructors: every submission compared with every other, part by part,
after removing the released stub text, by copydetect (winnowed fingerprints of the token stream, as MOSS
does: renamed variables and moved code still match).

    python -m autograder.similarity SUBMISSIONS --out DIR

writes DIR/similarity.csv (pairs ranked by how much of one's code is found in the other) and
DIR/similarity.html (copydetect's view, the matching code highlighted side by side). A batch grading
writes them with its class outputs; a sharded one compares each shard's students only, so run this
on the whole class after merging. A high rank is a reason to read two submissions, not a verdict:
short parts written from the same course notes can match.

The code compared is the code the grader runs (autograder/load.py): experiment and test cells left
out; the stub is the released notebooks' code, given to copydetect as boilerplate.
"""
import argparse
import csv
import io
import sys
import tempfile
from pathlib import Path

from autograder.csvsafe import safe_row
from autograder.discovery import discover
from autograder.load import find_part_file, part_blocks
from autograder.rubric import ROOT, load_rubric

REPORT_SECONDS = 900  # a class of 300 compares in about a minute; a report over this is stopped
COLUMNS = ["rank", "part", "student_a", "student_b", "share_of_a_in_b", "share_of_b_in_a", "matching_tokens"]


def _code(path):
    """The code of a part file that the grader would run, as one Python file's text."""
    return "\n\n".join(block.source for block in part_blocks(path))


def _write_tree(root, folders, parts, log):
    """root/<name>/<part>.py for each folder's part files found: what copydetect reads."""
    for name, folder in folders.items():
        for part in parts:
            path = find_part_file(folder, part)
            if path is None:
                continue
            try:
                text = _code(path)
            except Exception as exc:  # noqa: BLE001 - an unreadable file is left out, and said so
                print(f"similarity: {name}'s {path.name} left out ({type(exc).__name__}: {exc})"[:300], file=log)
                continue
            (root / name).mkdir(parents=True, exist_ok=True)
            (root / name / f"{part}.py").write_text(text, encoding="utf-8")


def compare(submissions, out, rubric=None, stub=None, log=sys.stderr):
    """Compare submissions ({student id: folder of part files}) with each other; write
    out/similarity.csv and out/similarity.html; return the ranked rows. stub: the folder of the released
    notebooks (default assignments/<assignment>/), whose code is not counted as shared."""
    from copydetect import CopyDetector
    rubric = rubric or load_rubric()
    parts = rubric["parts"]
    stub = Path(stub) if stub else ROOT / "assignments" / rubric["assignment"]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        students, released = Path(tmp) / "students", Path(tmp) / "stub"
        _write_tree(students, submissions, parts, log)
        _write_tree(released, {"stub": stub}, parts, log)
        if not students.is_dir():
            return []
        detector = CopyDetector(test_dirs=[str(students)], ref_dirs=[str(students)], extensions=["py"],
                                boilerplate_dirs=[str(released)] if released.is_dir() else [],
                                same_name_only=True, ignore_leaf=True, autoopen=False, silent=True)
        detector.run()
        rows = _ranked(detector, students)
        page = detector.generate_html_report(output_mode="return") if rows else "<p>no two submissions to compare</p>"
        page = page.replace(str(students) + "/", "").replace(tmp, "(the code compared)")  # names as in the csv
        (out / "similarity.html").write_text(page, encoding="utf-8")
    with open(out / "similarity.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        writer.writerows(safe_row([rank, *row]) for rank, row in enumerate(rows, start=1))
    return rows


def _compare_child():
    """compare() in a process of its own: the request as JSON on stdin; prints (error or "", what it
    logged) as the last line of JSON on stdout."""
    import json
    request, log = json.loads(sys.stdin.read()), io.StringIO()
    try:
        compare({k: Path(v) for k, v in request["submissions"].items()}, request["out"], request["rubric"], log=log)
        error = ""
    except Exception as exc:  # noqa: BLE001 - reported by the parent as this report's loss
        error = f"{type(exc).__name__}: {str(exc)[:500]}"
    print("\n" + json.dumps([error, log.getvalue()]), flush=True)


def _in_child(submissions, out, rubric, timeout):
    """(error or "", what it logged) of compare() in a fresh interpreter (none of the batch's threads),
    its process group killed after `timeout` s. A subprocess, not multiprocessing: spawn's resource
    tracker would outlive the batch (tests/test_faults.py, no process outlives it)."""
    import json
    import os
    import signal
    import subprocess
    request = json.dumps({"submissions": {k: str(v) for k, v in submissions.items()}, "out": str(out),
                          "rubric": rubric})
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen([sys.executable, "-c", "from autograder.similarity import _compare_child; "
                              "_compare_child()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL, cwd=str(ROOT), env=env, start_new_session=True)
    try:
        stdout, _ = child.communicate(request.encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        return f"it took longer than {timeout:g} s and was stopped", ""
    finally:
        try:
            os.killpg(child.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        child.wait()
    try:
        error, logged = json.loads(stdout.decode("utf-8", "replace").strip().splitlines()[-1])
        return str(error), str(logged)
    except (ValueError, IndexError, TypeError):
        return "the report's process ended without an answer", ""


def class_report(submissions, out, rubric, log=sys.stderr, timeout=None):
    """compare(), for a batch grading, in a process of its own killed after `timeout` seconds: the
    grades are written already, so a report that fails or runs too long is a warning, never a hang
    or a lost class (docs/batch.md). Returns the names of the reports lost ([] when written)."""
    out, timeout = Path(out), REPORT_SECONDS if timeout is None else timeout
    for name in ("similarity.csv", "similarity.html"):  # never a stale report beside fresh grades
        (out / name).unlink(missing_ok=True)
    error, logged = "", ""
    try:
        error, logged = _in_child(submissions, out, rubric, timeout)
    except Exception as exc:  # noqa: BLE001 - no process for it (fork refused...): still only this report
        error = f"its process could not run: {type(exc).__name__}: {str(exc)[:300]}"
    print(logged, end="", file=log)
    if error:
        for name in ("similarity.csv", "similarity.html"):
            (out / name).unlink(missing_ok=True)
        print(f"warning: similarity report not written: {error}; the grades are complete (run "
              f"`python -m autograder.similarity` on its own to retry)", file=log)
        return ["similarity"]
    return []


def _ranked(detector, root):
    """One row per pair and part: (part, a, b, share of a's tokens found in b, of b's in a, matching
    tokens), by the larger share, then the matching tokens."""
    rows, seen = [], set()
    for i, a in enumerate(detector.test_files):
        for j, b in enumerate(detector.ref_files):
            share_a, share_b = detector.similarity_matrix[i, j]
            pair = frozenset((a, b))
            if share_a < 0 or pair in seen:  # not compared (same file, other part) or already listed
                continue
            seen.add(pair)
            (name_a, part), (name_b, _) = Path(a).relative_to(root).parts, Path(b).relative_to(root).parts
            if name_a > name_b:
                name_a, name_b, share_a, share_b = name_b, name_a, share_b, share_a
            rows.append([Path(part).stem, name_a, name_b, round(float(share_a), 3), round(float(share_b), 3),
                         int(detector.token_overlap_matrix[i, j])])
    return sorted(rows, key=lambda r: (-max(r[3], r[4]), -r[5], r[0], r[1], r[2]))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder.similarity", description=__doc__.split("\n\n")[0])
    parser.add_argument("submissions", help="as `python -m autograder batch` reads them (docs/batch.md)")
    parser.add_argument("--out", required=True)
    parser.add_argument("--stub", default=None, help="the released notebooks (default: assignments/<assignment>/)")
    args = parser.parse_args(argv)
    rubric = load_rubric()
    candidates = [c for c in discover(args.submissions, args.out, rubric) if not c.problem]
    rows = compare({c.student_id: c.path for c in candidates}, args.out, rubric, args.stub)
    print(f"{len(candidates)} submissions compared: {args.out}/similarity.csv, {args.out}/similarity.html"
          + (f"; most similar: {rows[0][1]} and {rows[0][2]} ({rows[0][0]}, {max(rows[0][3], rows[0][4]):.0%})"
             if rows else ""))


if __name__ == "__main__":
    main()
