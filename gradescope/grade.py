"""Grade one Gradescope submission: ROOT/submission in, ROOT/results/results.json out.

Shipped as gradescope_grade.py at the top of the autograder zip (scripts/build_gradescope.py) and
started by run_autograder. Students upload files as they have them: each part is looked for
anywhere under ROOT/submission by the rule every front end uses (autograder.load.find_parts: a
`.ipynb` or `.py` whose normalised name contains the part's, such as `part1_dcgan (1).ipynb`,
`Part1-DCGAN.py`, `hw/part1_dcgan.ipynb`); the output says which file was graded for each part and
which were left aside. The chosen files are copied, under their parts' names, into a fresh folder
that the course's grader (`python -m autograder grade`) grades; a part with no file is graded
too (its checks fail, saying so). Its results.json becomes Gradescope's: visibility of hidden
checks mapped (default `after_due_date`), each check's message as its output, execution_time.

A grader that fails (no results.json, or a check the machine could not run, such as one killed for
memory the container lacks) writes nothing: Gradescope then reports that the autograder failed,
a fault of the machine, instead of giving the student 0.
"""
import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from autograder.load import find_parts  # the one rule of every front end: autograder/load.py

SOURCE = Path(__file__).resolve().parent
def stage(found, folder):
    """Copy each chosen file to folder/<part><suffix>, readable by the grader's unprivileged children."""
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    for part, (chosen, _, _) in found.items():
        if chosen is not None:
            target = folder / f"{part}{chosen.suffix.lower()}"
            shutil.copyfile(chosen, target, follow_symlinks=False)  # a link stays one: the grader refuses it
            if not target.is_symlink():
                target.chmod(0o644)


def summary(found, submission):
    lines = []
    for part, (chosen, others, note) in found.items():
        if chosen is None:
            lines.append(f"{part}: no file found (looked for a .ipynb or .py whose name contains {part}); "
                         "its checks score 0")
            continue
        line = f"{part}: graded {chosen.relative_to(submission)}"
        if others:
            line += " (left aside: " + ", ".join(str(o.relative_to(submission)) for o in others) + ")"
        lines.append(line + (f"; {note}" if note else ""))
    return "\n".join(lines)


def gradescope_results(results, found, submission, staged, seconds, hidden_visibility):
    """The grader's results.json, as Gradescope shows it."""
    tests = []
    for test in results["tests"]:
        test = dict(test, output=test["output"].replace(str(staged), "your submission"))
        if test.get("visibility") == "hidden":
            test["visibility"] = hidden_visibility
        tests.append(test)
    extra = dict(results.get("extra_data") or {})
    extra["files"] = {part: str(chosen.relative_to(submission)) if chosen else None
                      for part, (chosen, _, _) in found.items()}
    return {"score": results["score"], "execution_time": round(seconds), "output": summary(found, submission),
            "stdout_visibility": "hidden", "tests": tests, "extra_data": extra}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=Path("/autograder"), help="Gradescope's root folder")
    parser.add_argument("--device", default="auto", help="cpu, cuda, or auto (cuda when there is a GPU)")
    parser.add_argument("--hidden-visibility", default="after_due_date",
                        choices=("after_due_date", "after_published", "hidden"),
                        help="what grading.yml's hidden checks become in Gradescope")
    args, grader_args = parser.parse_known_args(argv)  # the rest (--skip, --only, --seed) goes to the grader
    started = time.monotonic()
    parts = yaml.safe_load((SOURCE / "grading.yml").read_text())["parts"]
    submission = args.root / "submission"
    found = find_parts(submission, parts)
    print(summary(found, submission), flush=True)
    work = args.root / "work"
    staged, out = work / "submission", work / "grading-output"
    stage(found, staged)
    # Gradescope's container grades this one submission and is thrown away: it is the boundary
    # (docs/batch.md, `--isolation container`); its Docker runtime need not allow user namespaces.
    command = [sys.executable, "-m", "autograder", "grade", str(staged), "--out", str(out), "--isolation", "container",
               *grader_args]
    if args.device != "auto":
        command += ["--device", args.device]
    done = subprocess.run(command, cwd=SOURCE, stdout=sys.stdout, stderr=subprocess.STDOUT)
    if done.returncode != 0 or not (out / "results.json").is_file():
        # Exit status 1 with results: a check the machine could not run (e.g. killed for memory it
        # lacks): the score would be incomplete, so none is given and Gradescope shows a failure.
        print(f"the grader failed (exit status {done.returncode}): a fault of the autograder or its machine, "
              "not of the submission; no score is given (the lines above say why)", file=sys.stderr)
        return 1
    results = json.loads((out / "results.json").read_text())
    final = gradescope_results(results, found, submission, staged, time.monotonic() - started,
                               args.hidden_visibility)
    (args.root / "results").mkdir(parents=True, exist_ok=True)
    (args.root / "results" / "results.json").write_text(json.dumps(final, indent=1))
    print(f"score {final['score']:g}; written {args.root / 'results' / 'results.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
