"""Analyse the CPU family calibration (benchmarks/calibrate_cpu.py): print the calibration table and,
per budget and metric (FID, KID), the band the method of analyse_calibration.py proposes.

    python benchmarks/analyse_family.py [benchmarks/results/calibration_cpu_family.jsonl]

A band must accept every correct style and catch the broken runs that accuracy does not: per budget and
metric, the band's edge is put midway (geometrically) between the worst correct run and the best broken
one above it. The false-fail estimate is that of the worst correct variant alone (log-normal metric,
logit-normal accuracy, Student t predictive over its seeds), and with the check's retry (a second seed
must fail too) it is squared, if seeds fail independently.
"""
import math
import sys
from collections import defaultdict
from pathlib import Path
from statistics import median

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from analyse_calibration import load, logit, predictive_exceed  # noqa: E402
from calibrate_cpu import BROKEN, CORRECT  # noqa: E402
from autograder.rubric import load_rubric  # noqa: E402

DEFAULT = HERE / "results" / "calibration_cpu_family.jsonl"


def spread(values, digits=0):
    return f"{median(values):.{digits}f} [{min(values):.{digits}f}, {max(values):.{digits}f}]"


def main(argv):
    recs = [r for r in load(argv or [DEFAULT]) if "fid" in r]
    runs = defaultdict(list)
    for r in recs:
        runs[(r["variant"], r["iterations"])].append(r)
    budgets = sorted({r["iterations"] for r in recs})

    print("## Every run (FC cGAN, batch 64, 1,000 samples)\n")
    print("| variant | kind | seed | threads | iterations | FID | KID | accuracy | s to train (shared CPU) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in sorted(recs, key=lambda r: (r["variant"] not in CORRECT, r["variant"], r["seed"], r["threads"],
                                         r["iterations"])):
        kind = "correct" if r["variant"] in CORRECT else "broken"
        print(f"| {r['variant']} | {kind} | {r['seed']} | {r['threads']} | {r['iterations']} | {r['fid']:.0f} | "
              f"{r['kid']:.0f} | {r['acc']:.3f} | {r['train_seconds']:.0f} |")

    print("\n## Per variant (median [min, max] over seeds and thread counts)\n")
    print("| variant | iterations | runs | FID | KID | accuracy |")
    print("| --- | --- | --- | --- | --- | --- |")
    for variant in CORRECT + BROKEN:
        for b in budgets:
            rs = runs.get((variant, b))
            if rs:
                print(f"| {variant} | {b} | {len(rs)} | {spread([r['fid'] for r in rs])} | "
                      f"{spread([r['kid'] for r in rs])} | {spread([r['acc'] for r in rs], 3)} |")

    print("\n## Bands per budget and metric (U: the geometric middle of the worst correct run and the best broken "
          "one that a band can catch; L: grading.yml's accuracy_min)\n")
    print("| iterations | metric | correct runs | worst correct | best broken above it | U | margins U/worst, "
          "broken/U | worst variant's P(false fail), one run / with retry | correct outside | broken caught |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    config = load_rubric()["training"]["cpu"]
    low = config["accuracy_min"]
    for b in budgets:
        correct = [r for v in CORRECT for r in runs.get((v, b), [])]
        broken = [r for v in BROKEN for r in runs.get((v, b), []) if r["acc"] >= low]  # the rest fail by accuracy
        if len(correct) < 3:
            continue
        for metric in ("fid", "kid"):
            worst_correct = max(r[metric] for r in correct)
            above = [r[metric] for r in broken if r[metric] > worst_correct]
            if not above:
                continue
            best_broken = min(above)
            for up, label in ((math.sqrt(worst_correct * best_broken), f"{b}"),
                              (config["fid_max"], f"{b} (grading.yml)")):
                if label.endswith(")") and (metric != "fid" or b != config["iterations"]):
                    continue
                print_band(runs, b, metric, label, correct, worst_correct, best_broken, up, low)

    axes(recs)


def axes(recs):
    """The same job (variant, seed) run with another thread count or another CPU's kernels (the
    machine axis): how far each moves a run, beside the spread over seeds."""
    by_job = defaultdict(dict)
    for r in recs:
        by_job[(r["variant"], r["seed"], r["iterations"])][(r["threads"], r.get("cpu_capability", "AVX512"))] = r
    base = (1, "AVX512")
    others = sorted({setting for by in by_job.values() for setting in by} - {base})
    for other in others:
        title = f"1 thread, AVX512 kernels and {other[0]} thread(s), {other[1]} kernels"
        rows = [(key, by) for key, by in sorted(by_job.items()) if base in by and other in by]
        if not rows:
            continue
        print(f"\n## The same run with {title}\n")
        print("| variant | seed | iterations | FID | accuracy | FID ratio |")
        print("| --- | --- | --- | --- | --- | --- |")
        ratios = []
        for (variant, seed, b), by in rows:
            ratio = by[other]["fid"] / by[base]["fid"]
            ratios.append(max(ratio, 1 / ratio))
            print(f"| {variant} | {seed} | {b} | {by[base]['fid']:.0f} / {by[other]['fid']:.0f} | "
                  f"{by[base]['acc']:.3f} / {by[other]['acc']:.3f} | {ratio:.2f} |")
        print(f"\nLargest FID ratio either way: {max(ratios):.2f} over {len(rows)} pairs.")


def print_band(runs, b, metric, label, correct, worst_correct, best_broken, up, low):
    """One row of the bands table: the band `up` on `metric` (and accuracy >= low) at budget b."""
    worst = 0.0
    for v in CORRECT:
        rs = runs.get((v, b), [])
        if len(rs) >= 2:
            worst = max(worst, predictive_exceed([math.log(r[metric]) for r in rs], math.log(up))
                        + predictive_exceed([logit(r["acc"]) for r in rs], logit(low), upper=False))
    outside = sum(1 for r in correct if r[metric] > up or r["acc"] < low)
    all_broken = [r for v in BROKEN for r in runs.get((v, b), [])]
    caught = sum(1 for r in all_broken if r[metric] > up or r["acc"] < low)
    print(f"| {label} | {metric.upper()} | {len(correct)} | {worst_correct:.0f} | {best_broken:.0f} | {up:.0f} | "
          f"{up / worst_correct:.2f}, {best_broken / up:.2f} | {worst:.1e} / {worst ** 2:.1e} | "
          f"{outside}/{len(correct)} | {caught}/{len(all_broken)} |")


if __name__ == "__main__":
    main(sys.argv[1:])
