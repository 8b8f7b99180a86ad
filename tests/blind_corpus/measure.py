"""Grade the blind corpus as a student would (`python -m autograder grade`), and measure the verdicts.

The corpus (this folder) was written from the notebooks alone, without reading the checks: correct
submissions in several styles (one folder each) and realistic mistakes (mistakes.yml), each one edit
of a correct style. For each style: the items that lose points (false fails). For each mistake:
caught (an expected item lost points), charged_right (exactly the expected items lost points, no
other), named (an expected item's message matches one of its name_words).

    python tests/blind_corpus/measure.py --out /tmp/blind.json [--only ID,ID] [--seed 0]
    python tests/blind_corpus/measure.py --out /tmp/heldout.json --mistakes mistakes_heldout.yml --styles heldout_style
    python tests/blind_corpus/measure.py --summarize /tmp/blind.json --out /tmp/blind.json  # re-print
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

CORPUS = Path(__file__).resolve().parent
REPO = CORPUS.parents[1]
PART_PREFIX = {"part1_dcgan.py": "dcgan.", "part2_cgan.py": "cgan.", "part3_vae.py": "vae."}
PART_FILES = tuple(PART_PREFIX)
SKIPPED = {"cgan.training"}  # a training run: minutes, and not what a one-edit mistake is about


def styles():
    """The correct styles: every folder of the corpus holding the three part files."""
    return sorted(p.name for p in CORPUS.iterdir() if p.is_dir() and all((p / f).is_file() for f in PART_FILES))


def rubric_items():
    return list(yaml.safe_load((REPO / "grading.yml").read_text())["checks"])


def mistake_files():
    """mistakes.yml (the first corpus) and mistakes_heldout.yml (written later by another helper, measured
    before any check was changed for it)."""
    return sorted(CORPUS.glob("mistakes*.yml"))


def load_mistakes(files=None):
    """The mistakes of `files` (all of mistake_files() by default), each entry checked: a known style and
    part, an `old` text found exactly once."""
    mistakes = [m for f in files or mistake_files() for m in yaml.safe_load(Path(f).read_text())["mistakes"]]
    known, items, seen = set(styles()), set(rubric_items()), set()
    for m in mistakes:
        assert m["id"] not in seen, f"duplicate id {m['id']}"
        seen.add(m["id"])
        assert m["base"] in known and m["file"] in PART_PREFIX, f"{m['id']}: unknown base or file"
        count = (CORPUS / m["base"] / m["file"]).read_text().count(m["old"])
        assert count == 1, f"{m['id']}: `old` occurs {count} times in {m['base']}/{m['file']}, not once"
        if m.get("accepted"):
            assert not (m.get("expect") or m.get("expect_one_of")), f"{m['id']}: accepted and expected to cost"
            continue
        expected = m.get("expect") or m.get("expect_one_of")
        assert expected and set(expected) <= items, f"{m['id']}: expect names unknown rubric items"
        assert all(e.startswith(PART_PREFIX[m["file"]]) for e in expected), f"{m['id']}: expects another part"
        assert m["name_words"], f"{m['id']}: no name_words"
    return mistakes


def grade(folder, items, seed, in_process=False):
    """{item: {"score", "max", "message"}} for `items`, graded by the command line in a child (sandboxed,
    as a student's or an instructor's run is), or in this process (the tests: the same checks, a few
    seconds instead of a sandbox's start per grading)."""
    if in_process:
        from autograder.score import grade as grade_here
        scored = grade_here(folder, items, device="cpu", seed=seed).scored
        return {s.id: {"score": s.points, "max": s.max_points, "message": s.message} for s in scored}
    with tempfile.TemporaryDirectory(prefix="blind-out-") as out:
        command = [sys.executable, "-m", "autograder", "grade", str(folder), "--device", "cpu", "--seed", str(seed),
                   "--only", ",".join(items), "--out", out]
        env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
        results = Path(out) / "results.json"
        if not results.is_file():
            raise RuntimeError(f"grading {folder} wrote no results (exit {done.returncode}): {done.stderr[-2000:]}")
        tests = json.loads(results.read_text())["tests"]
    return {t["name"].split(":")[0]: {"score": t["score"], "max": t["max_score"], "message": t.get("output", "")}
            for t in tests}


def lost(graded):
    return sorted(item for item, r in graded.items() if r["score"] < r["max"])


def judge(mistake, graded):
    """caught / charged_right / named for one mistake's grading (an accepted edit: charged_right when it
    costs nothing)."""
    charged = lost(graded)
    if mistake.get("accepted"):
        return {"accepted": True, "caught": False, "charged_right": not charged, "named": False, "charged": charged,
                "messages": {i: graded[i]["message"] for i in charged}}
    if "expect" in mistake:
        expected = set(mistake["expect"]) - SKIPPED  # an item not graded here cannot be charged
        caught, right = bool(expected & set(charged)), set(charged) == expected
    else:
        expected = set(mistake["expect_one_of"]) - SKIPPED
        caught = bool(expected & set(charged))
        right = len(charged) == 1 and charged[0] in expected
    messages = [graded[i]["message"] for i in sorted(expected & set(charged))]
    named = any(re.search(w, msg, re.I) for w in mistake["name_words"] for msg in messages)
    return {"caught": caught, "charged_right": right, "named": named, "charged": charged,
            "messages": {i: graded[i]["message"] for i in charged}}


def part_items(file):
    return [i for i in rubric_items() if i.startswith(PART_PREFIX[file]) and i not in SKIPPED]


def measure_style(style, seed, in_process=False):
    graded = grade(CORPUS / style, [i for i in rubric_items() if i not in SKIPPED], seed, in_process)
    return {"style": style, "false_fails": {i: graded[i]["message"] for i in lost(graded)},
            "points_lost": sum(r["max"] - r["score"] for r in graded.values())}


def bundles(mistakes):
    """Mistakes graded together: of one base style, at most one per part file. The parts are graded
    independently (each item reads one part's namespace), so a part's items judge its own mistake;
    this divides the gradings by about 2 on 2 loaded cores."""
    groups = {}
    for m in mistakes:
        groups.setdefault(m["base"], {}).setdefault(m["file"], []).append(m)
    while any(any(per_file.values()) for per_file in groups.values()):  # the styles in turn: a cut run is a fair sample
        for per_file in groups.values():
            if any(per_file.values()):
                yield [queue.pop(0) for queue in per_file.values() if queue]


def measure_bundle(bundle, seed, in_process=False):
    """Grade one submission holding the bundle's mistakes (one per part file); a result per mistake."""
    with tempfile.TemporaryDirectory(prefix="blind-sub-") as tmp:
        folder = Path(tmp) / "submission"
        shutil.copytree(CORPUS / bundle[0]["base"], folder, ignore=shutil.ignore_patterns("__pycache__"))
        for mistake in bundle:
            path = folder / mistake["file"]
            path.write_text(path.read_text().replace(mistake["old"], mistake["new"], 1))
        graded = grade(folder, [i for m in bundle for i in part_items(m["file"])], seed, in_process)
    results = []
    for mistake in bundle:
        own = {i: r for i, r in graded.items() if i.startswith(PART_PREFIX[mistake["file"]])}
        results.append({"id": mistake["id"], "base": mistake["base"], "file": mistake["file"],
                        "expect": mistake.get("expect") or mistake.get("expect_one_of") or [],
                        **judge(mistake, own)})
    return results


def shorten(text, n=160):
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 3] + "..."


def summarize(style_results, results):
    """The rates, and a printed table of what went wrong (false fails, misses, wrong charges, unnamed)."""
    for s in style_results:
        print(f"style {s['style']:<16} false fails: {len(s['false_fails'])} items, {s['points_lost']} points lost")
        for item, message in s["false_fails"].items():
            print(f"    {item}: {shorten(message)}")
    accepted = [r for r in results if r.get("accepted")]
    results = [r for r in results if not r.get("accepted")]
    n = len(results) or 1
    rates = {k: sum(r[k] for r in results) / n for k in ("caught", "charged_right", "named")}
    base_fails = {s["style"]: set(s["false_fails"]) for s in style_results}
    for r in results:  # the items the base style already loses, apart: a false fail, not this mistake's charge
        if r["base"] in base_fails:
            r["charged_right_apart_from_base_fails"] = r["caught"] and not (
                set(r["charged"]) - set(r["expect"]) - base_fails[r["base"]])
    if style_results:
        rates["charged_right_apart_from_base_fails"] = sum(r["charged_right_apart_from_base_fails"] for r in results) / n
    caught = [r for r in results if r["caught"]]
    rates["named_among_caught"] = sum(r["named"] for r in caught) / (len(caught) or 1)
    for label, key in (("not caught", "caught"), ("wrongly charged", "charged_right"), ("not named", "named")):
        bad = [r for r in results if not r[key]]
        if bad:
            print(f"\n{label} ({len(bad)}):")
            for r in bad:
                said = "; ".join(f"{i}: {shorten(msg, 140)}" for i, msg in r["messages"].items()) or (
                    "(message not kept)" if r.get("messages_not_kept") else "full marks")
                print(f"  {r['id']}: {said}")
    for r in accepted:
        print(f"\naccepted form {r['id']}: " + ("full marks" if r["charged_right"] else
                                              "lost " + "; ".join(f"{i}: {shorten(m, 140)}" for i, m in r["messages"].items())))
    rates["accepted_full_marks"] = f"{sum(r['charged_right'] for r in accepted)}/{len(accepted)}"
    print(f"\n{len(results)} mistakes: caught {rates['caught']:.0%}, charged right {rates['charged_right']:.0%}"
          + (f" ({rates['charged_right_apart_from_base_fails']:.0%} apart from the base styles' false fails)"
             if style_results else "")
          + f", named {rates['named']:.0%} ({rates['named_among_caught']:.0%} of the caught); false fails: "
          + ", ".join(f"{s['style']} {len(s['false_fails'])}" for s in style_results))
    return rates


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="JSON file of the results")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--only", help="comma-separated mistake ids (default: all, and the styles)")
    parser.add_argument("--summarize", metavar="JSON", help="summarize an earlier run's JSON instead of grading")
    parser.add_argument("--mistakes", help="comma-separated mistake files of this folder (default: all)")
    parser.add_argument("--styles", help="comma-separated correct styles to grade (default: all)")
    args = parser.parse_args()
    if args.summarize:
        earlier = json.loads(Path(args.summarize).read_text())
        earlier["rates"] = summarize(earlier["styles"], earlier["mistakes"])  # a partial run: the rates of its part
        Path(args.out).write_text(json.dumps(earlier, indent=1))
        return
    mistakes = load_mistakes([CORPUS / f for f in args.mistakes.split(",")] if args.mistakes else None)
    if args.only:
        wanted = set(args.only.split(","))
        mistakes = [m for m in mistakes if m["id"] in wanted]
    start = time.time()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    chosen = args.styles.split(",") if args.styles else styles()
    style_results = [] if args.only else [measure_style(s, args.seed) for s in chosen]
    results = []

    def save(rates=None):  # after each bundle too: a run cut short (an hour on 2 loaded cores) keeps its results
        Path(args.out).write_text(json.dumps({"commit": commit, "seed": args.seed, "seconds": round(time.time() - start),
                                              "complete": rates is not None, "rates": rates,
                                              "styles": style_results, "mistakes": results}, indent=1))
    for bundle in bundles(mistakes):
        for r in measure_bundle(bundle, args.seed):
            results.append(r)
            flags = "".join(c if r[k] else "-" for c, k in (("C", "caught"), ("R", "charged_right"), ("N", "named")))
            print(f"{flags} {r['id']:<42} expect {','.join(r['expect'])}; charged {','.join(r['charged']) or 'nothing'}",
                  flush=True)
        save()
    save(summarize(style_results, results))
    print(f"\nwritten: {args.out}")


if __name__ == "__main__":
    main()
