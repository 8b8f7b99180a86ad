"""`python -m autograder grade|batch|merge`: the command line of the harness (docs/batch.md).

    python -m autograder grade PATH [--out DIR] [--device cpu|cuda] [--only IDS] [--skip IDS]
                                    [--limits FILE] [--threads T] [--seed S]
                                    [--isolation bwrap|container|in-process]
    python -m autograder batch SUBMISSIONS --out DIR [--jobs N] [--shard i/n] [--per-gpu K]
                                    [--device cpu|cuda] [--only IDS] [--skip IDS] [--limits FILE]
                                    [--roster CSV] [--duedate TEXT] [--force] [--threads T] [--seed S]
                                    [--isolation bwrap|container]
    python -m autograder merge DIR... --out DIR

IDS: comma-separated rubric ids. `grade` prints the table and writes results.json and
report.html (as `pytest autograder` does); `batch` and `merge` write the class outputs.
Exit status: 0; 1 when a student has a grader error (batch); 2 when the machine failed its
pre-flight (autograder/preflight.py: CUDA unusable, output folder or disk) and nobody was graded.
"""
import argparse
import json
import sys
from pathlib import Path


def _ids(text):
    return [i.strip() for i in text.split(",") if i.strip()] if text else None


def _common(parser, isolations):
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--only", type=_ids, default=None, help="grade only these rubric ids (comma-separated)")
    parser.add_argument("--skip", type=_ids, default=None, help="do not grade these rubric ids (comma-separated)")
    parser.add_argument("--limits", default=None, help="YAML file whose `limits:` override grading.yml's")
    parser.add_argument("--threads", type=int, default=1, help="torch threads in each child (default 1)")
    parser.add_argument("--isolation", default="bwrap", choices=isolations,
                        help="bwrap (default): each submission in namespaces of its own; container: none, only "
                             "for a container that grades ONE submission and is then thrown away (docs/batch.md)"
                             + ("; in-process: the submission's code runs in this process" if "in-process" in isolations
                                else ""))
    parser.add_argument("--seed", type=int, default=None,
                        help="the checks' seed (default: grading.yml's, drawn afresh when `random`); "
                             "results.json records it: pass it again to replay a grading")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    grade = commands.add_parser("grade", help="grade one submission")
    grade.add_argument("path")
    grade.add_argument("--out", default="grading-output")
    _common(grade, ("bwrap", "container", "in-process"))
    batch = commands.add_parser("batch", help="grade a folder of submissions")
    batch.add_argument("submissions")
    batch.add_argument("--out", required=True)
    batch.add_argument("--jobs", type=int, default=None,
                       help="submissions graded at once (default: --per-gpu on each GPU with --device cuda, else 1)")
    batch.add_argument("--shard", default=None, help="i/n: grade only the i-th of n slices (1-based)")
    batch.add_argument("--per-gpu", type=int, default=None,
                       help="with --device cuda: submissions graded at once on each GPU (default 1); alone, "
                            "it sets --jobs to GPUs x K")
    batch.add_argument("--roster", default=None, help="CSV with student_id, first_name, last_name, email")
    batch.add_argument("--duedate", default="", help="the gradebook's duedate column")
    batch.add_argument("--force", action="store_true", help="re-grade students already graded")
    _common(batch, ("bwrap", "container"))
    merge = commands.add_parser("merge", help="merge shard outputs into one gradebook and summary")
    merge.add_argument("dirs", nargs="+")
    merge.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    if args.command != "merge" and args.device is None:  # one device for the pre-flight, the server and the checks
        from autograder.preflight import default_device
        args.device = default_device()

    from autograder.preflight import MachineFault
    try:
        if args.command == "grade":
            return _grade(args)
        if args.command == "batch":
            return _batch(args)
    except MachineFault as exc:  # no CUDA, no sandbox, no disk: said loudly, no student is graded
        print(f"grader error (this machine, not the submissions): {exc}", file=sys.stderr)
        return 2
    from autograder.batch import merge as merge_dirs
    summary = merge_dirs(args.dirs, args.out)
    print(f"merged {summary['students']} students into {args.out}")
    return 0


def _batch(args):
    from autograder.batch import grade_batch, parse_shard
    shard = parse_shard(args.shard) if args.shard else None
    records = grade_batch(args.submissions, args.out, jobs=args.jobs, shard=shard, device=args.device,
                          per_gpu=args.per_gpu, only=args.only, skip=args.skip, limits=args.limits,
                          roster=args.roster, duedate=args.duedate, force=args.force, threads=args.threads,
                          seed=args.seed, isolation=args.isolation)
    errors = [r["extra_data"]["student_id"] for r in records if r["extra_data"].get("grader_error")]
    print(f"{len(records)} students graded into {args.out}" + (
        f"; grader errors (not the students' fault; a re-run grades them again): {', '.join(errors)}"
        if errors else ""))
    return 1 if errors else 0


def _grade(args):
    from autograder import report
    from autograder.load import submission_notes
    from autograder.preflight import check_machine, memory_warning
    from autograder.rubric import load_limits, load_rubric
    rubric = load_rubric()
    ids = [i for i in rubric["checks"] if (not args.only or i in args.only) and i not in (args.skip or ())]
    out = Path(args.out)
    check_machine(args.device, out)  # creates out, owned by the grader, before student code runs
    warning = memory_warning(load_limits(rubric, args.limits))
    if warning:
        print(warning, file=sys.stderr)
    notes = submission_notes(args.path, rubric["parts"])
    from autograder.score import grade
    graded = grade(args.path, ids, device=args.device, isolation=args.isolation, limits=args.limits, seed=args.seed,
                   threads=args.threads, on_progress=report.printed_to(sys.stderr))  # the training's minute, not silence
    scored, stamp = graded.scored, graded.fingerprint
    skipped = {p: i["skipped"] for p, i in graded.parts.items() if i["skipped"] or i["failed"]}
    if skipped:
        print("code skipped while loading:", json.dumps(skipped, indent=1))
    print("\n".join(notes + [report.table(scored)]))
    results, page = report.write_all(scored, out, stamp, notes)
    print(f"\nwritten: {results}, {page}")
    machine = report.machine_faults(scored)
    if machine:  # the scores are incomplete through no fault of the student's: say so, and fail
        print(f"grader error (this machine, not the submission): {machine}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
