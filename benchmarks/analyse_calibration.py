"""Analyse the GPU calibration runs (benchmarks/calibrate_gpu.py) and propose the training check's
budget and pass bands.

    python benchmarks/analyse_calibration.py [FILE.jsonl ...]     (default: benchmarks/results/*.jsonl)

Method (see benchmarks/README.md):
* reference FID is modelled as log-normal and conditional accuracy as logit-normal over seeds;
* T_fid / T_acc: one-sided 99%-coverage, 95%-confidence normal tolerance bounds on those scales
  (the band a correct run falls inside with >= 99% probability, with 95% confidence in that);
* proposed bands: FID upper bound U = geometric mean of T_fid and the smallest FID of any broken run
  at that budget; accuracy lower bound L = midpoint, on the logit scale, of T_acc and 0.10 (chance:
  what any generator that ignores its label scores);
* false-fail estimate: the posterior-predictive probability (Student t with n-1 d.f., scale
  s*sqrt(1+1/n)) that a new correct run lands outside U or L, the two added (a union bound); and,
  without any model, the rule-of-three 95% bound 3/n from 0 failures in n seeds.
"""
import glob
import json
import math
import sys
from collections import defaultdict
from pathlib import Path
from statistics import median

from scipy import stats

HERE = Path(__file__).resolve().parent
COVERAGE, CONFIDENCE, CHANCE = 0.99, 0.95, 0.10


def load(paths):
    recs = []
    for p in paths:
        with open(p) as f:
            recs += [json.loads(line) for line in f if line.strip()]
    return recs


def logit(p):
    p = min(max(p, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def expit(x):
    return 1 / (1 + math.exp(-x))


def mean_sd(v):
    m = sum(v) / len(v)
    return m, math.sqrt(sum((a - m) ** 2 for a in v) / (len(v) - 1))


def k_tolerance(n, coverage=COVERAGE, confidence=CONFIDENCE):
    """One-sided normal tolerance factor: P(mean + k sd >= the coverage quantile) = confidence."""
    z = stats.norm.ppf(coverage)
    return stats.nct.ppf(confidence, n - 1, z * math.sqrt(n)) / math.sqrt(n)


def predictive_exceed(values, threshold, upper=True):
    """P(new value beyond threshold) under the normal model's posterior predictive (Student t)."""
    n = len(values)
    m, s = mean_sd(values)
    t = (threshold - m) / (s * math.sqrt(1 + 1 / n))
    return stats.t.sf(t, n - 1) if upper else stats.t.cdf(t, n - 1)


def nice_up(x):
    """Round up to 2 significant digits (a band is a round number, on the safe side of x)."""
    e = 10 ** (math.floor(math.log10(x)) - 1)
    return math.ceil(x / e) * e


def fmt(v, d=0):
    return "-" if v is None else f"{v:.{d}f}"


def print_variants(m, c, runs):
    """How each broken variant fails the proposed bands at the proposed budget."""
    lines = []
    for (mm, v, bb), rs in sorted(runs.items()):
        if mm == m and bb == c["budget"] and v != "reference":
            by_fid = sum(1 for r in rs if r["fid"] is None or r["fid"] > c["U"])
            by_acc = sum(1 for r in rs if r["acc"] is None or r["acc"] < c["L"])
            lines.append(f"{v} fails by FID {by_fid}/{len(rs)}, by accuracy {by_acc}/{len(rs)}")
    print(f"  - {m} at {c['budget']}: " + "; ".join(lines))


def main(argv):
    paths = argv or sorted(glob.glob(str(HERE / "results" / "*.jsonl")))
    recs = load(paths)

    # ------------------------------------------------------------- start-up and overhead
    print("## Start-up (shell -> Python -> CUDA ready; seconds)\n")
    for r in recs:
        if r["type"] == "startup":
            print(f"- {r['device_name']}, torch {r['torch']}: import torch {r['seconds_import_torch']:.1f}, "
                  f"CUDA init {r['seconds_cuda_init']:.1f}, shell to CUDA ready {r['seconds_shell_to_cuda_ready']:.1f}; "
                  f"then harness import (torch-fidelity, LeNet) {r['seconds_import_harness']:.1f}, "
                  f"MNIST {r['seconds_mnist']:.1f}")
    ws = [r["seconds_spawn_to_ready"] for r in recs if r["type"] == "worker_start"]
    if ws:
        print(f"- spawned workers, all starting at once ({len(ws)}): spawn to ready "
              f"{min(ws):.1f}-{max(ws):.1f} s")

    cmp_ = defaultdict(list)
    for r in recs:
        if r["type"] == "compare":
            cmp_[r["loop"]].append(r)
    if cmp_:
        print("\n## Trainer vs plain loop (cDCGAN, alone on the GPU)\n")
        print("| loop | iterations | seeds | ms/iteration | FID | accuracy |")
        print("| --- | --- | --- | --- | --- | --- |")
        for loop, v in cmp_.items():
            ms = ", ".join("%.1f" % r["ms_per_iter"] for r in v)
            fids = ", ".join(fmt(r["fid"]) for r in v)
            accs = ", ".join("%.3f" % r["acc"] for r in v)
            print(f"| {loop} | {v[0]['iterations']} | {len(v)} | {ms} | {fids} | {accs} |")
        if "trainer" in cmp_ and "plain_dcgan_loop" in cmp_:
            t = sum(r["ms_per_iter"] for r in cmp_["trainer"]) / len(cmp_["trainer"])
            p = sum(r["ms_per_iter"] for r in cmp_["plain_dcgan_loop"]) / len(cmp_["plain_dcgan_loop"])
            print(f"\ntrainer / plain loop: {t:.1f} / {p:.1f} ms per iteration = {t / p:.2f}x")

    # ------------------------------------------------------------- per model, variant, budget
    runs = defaultdict(list)
    for r in recs:
        if r["type"] == "run" and "error" not in r:
            runs[(r["model"], r["variant"], r["iterations"])].append(r)
    errors = [r for r in recs if r["type"] == "run" and "error" in r]
    models = sorted({k[0] for k in runs})
    budgets = sorted({k[2] for k in runs})
    variants = ["reference"] + sorted({k[1] for k in runs} - {"reference"})

    print("\n## FID and conditional accuracy over seeds (median [min, max])\n")
    print("| model | variant | iterations | seeds | FID | accuracy | ms/it in the pool |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for m in models:
        for v in variants:
            for b in budgets:
                rs = runs.get((m, v, b))
                if not rs:
                    continue
                f = [r["fid"] for r in rs if r["fid"] is not None]
                a = [r["acc"] for r in rs if r["acc"] is not None]
                nan = sum(1 for r in rs if r["fid"] is None)
                print(f"| {m} | {v} | {b} | {len(rs)} | {median(f):.1f} [{min(f):.1f}, {max(f):.1f}]"
                      f"{f' ({nan} no FID)' if nan else ''} | {median(a):.3f} [{min(a):.3f}, {max(a):.3f}] | "
                      f"{median(r['ms_per_iter'] for r in rs):.0f} |")
    if errors:
        print(f"\n{len(errors)} runs raised: " + "; ".join(f"{r['model']} {r['variant']} {r['seed']}: {r['error']}"
                                                       for r in errors[:5]))

    # ------------------------------------------------------------- bands per model and budget
    print(f"\n## Candidate bands ({COVERAGE:.0%} coverage / {CONFIDENCE:.0%} confidence tolerance bounds; "
          "U = geometric mean of T_fid and the best broken FID; L = logit midpoint of T_acc and 0.10)\n")
    print("| model | iterations | n | T_fid | min broken FID | U (FID <=) | T_acc | L (acc >=) | "
          "P(false fail) FID + acc | ref. outside | broken caught | margin ln(minbroken/T_fid) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    best = {}
    for m in models:
        for b in budgets:
            ref = runs.get((m, "reference", b))
            if not ref or len(ref) < 3:
                continue
            lf = [math.log(r["fid"]) for r in ref]
            la = [logit(r["acc"]) for r in ref]
            n, k = len(ref), k_tolerance(len(ref))
            (mf, sf), (ma, sa) = mean_sd(lf), mean_sd(la)
            t_fid, t_acc = math.exp(mf + k * sf), expit(ma - k * sa)
            broken = [r for (mm, v, bb), rs in runs.items() if mm == m and bb == b and v != "reference" for r in rs]
            bf = [r["fid"] for r in broken if r["fid"] is not None]
            min_bf = min(bf) if bf else None
            U = nice_up(math.sqrt(t_fid * min_bf)) if min_bf and min_bf > t_fid else nice_up(t_fid)
            L = math.floor(100 * expit((logit(t_acc) + logit(CHANCE)) / 2)) / 100
            p_fid = predictive_exceed(lf, math.log(U), upper=True)
            p_acc = predictive_exceed(la, logit(L), upper=False)
            outside = sum(1 for r in ref if r["fid"] > U or r["acc"] < L)

            def fails(r):
                return r["fid"] is None or r["fid"] > U or r["acc"] is None or r["acc"] < L
            caught = sum(1 for r in broken if fails(r))
            margin = math.log(min_bf / t_fid) if min_bf else None
            print(f"| {m} | {b} | {n} | {t_fid:.1f} | {fmt(min_bf, 1)} | {U:g} | {t_acc:.3f} | {L:.2f} | "
                  f"{p_fid:.1e} + {p_acc:.1e} | {outside}/{n} | {caught}/{len(broken)} | {fmt(margin, 2)} |")
            ok = min_bf is not None and min_bf > t_fid and caught == len(broken) and p_fid + p_acc < 0.01
            cand = dict(budget=b, n=n, U=U, L=L, p=p_fid + p_acc, margin=margin, t_fid=t_fid, t_acc=t_acc,
                        caught=caught, broken=len(broken), outside=outside)
            if ok and (m not in best or margin > best[m]["margin"]):
                best[m] = cand

    # ------------------------------------------------------------- proposal
    print("\n## Proposal\n")
    for m in models:
        c = best.get(m)
        if not c:
            print(f"- {m}: no budget meets the criteria")
            continue
        print(f"- {m}: {c['budget']} iterations at batch 128; pass if FID <= {c['U']:g} and accuracy >= "
              f"{c['L']:.2f}. Predicted false-fail probability {c['p']:.1e} (log-/logit-normal, t predictive, "
              f"n={c['n']}); {c['outside']}/{c['n']} reference seeds outside (distribution-free 95% bound "
              f"on the false-fail rate from {c['n']} seeds: {3 / c['n']:.0%}); broken runs caught "
              f"{c['caught']}/{c['broken']}; FID margin ln(min broken / T_fid) = {c['margin']:.2f}")
        print_variants(m, c, runs)
    print("\nA single budget for both models: take the largest budget where every model's row above "
          "catches all broken runs, and compare the margins (a margin under ~0.5 means the best "
          "broken run sits within a factor 1.6 of the tolerance bound).")


if __name__ == "__main__":
    main(sys.argv[1:])
