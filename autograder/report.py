"""Stage 4: report scored checks: a terminal table, Gradescope's results.json, an HTML page.

Every message is quoted at most grading.yml's `submissions: message_chars` long (`bounded`), before
anything formats it: what a student's code sends (a 20 MB exception message) costs a report no
more than that, in size or in time.
"""
import base64
import html
import io
import json
import textwrap
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path


@dataclass
class Scored:
    """One scored rubric item. Defined here, with no torch import, so that batch merging and the
    sandbox's grading process can build and read it without importing torch."""
    id: str
    title: str
    points: float
    max_points: float
    passed: bool
    message: str
    visibility: str
    details: dict = field(default_factory=dict)
    seconds: float = 0.0

    @classmethod
    def of(cls, rubric, rubric_id, passed, message, details=None, seconds=0.0):
        """The item's verdict with the rubric's title, points and visibility: full points or none."""
        item = rubric["checks"][rubric_id]
        return cls(rubric_id, item.get("title", rubric_id), item["points"] if passed else 0, item["points"],
                   bool(passed), message, item["visibility"], details or {}, seconds)


@dataclass
class Graded:
    """One submission graded (autograder.score.grade, Sandbox.grade): the scored items and how it went."""
    path: str
    scored: list
    fingerprint: dict
    parts: dict  # part -> {"file", "blocks", "skipped": {where: reason}, "failed", "tampered"}
    seconds: float


def printed_to(stream):
    """A training run's progress (trainer.progress) as one line to `stream`, rewritten in place
    where it shows carriage returns (a terminal, Jupyter)."""
    def show(done, total, elapsed):
        left = elapsed / max(done, 1) * (total - done)
        line = f"training: iteration {done}/{total}, {elapsed:.0f} s, about {left:.0f} s left"
        in_place = stream.isatty() or type(stream).__module__.startswith("ipykernel")
        print(f"\r{line}  " if in_place else line, end="\n" if done >= total or not in_place else "", file=stream,
              flush=True)
    return show


def machine_faults(scored):
    """"" when every item was judged; otherwise which items the machine failed to grade (a check's
    `grader_error` detail: e.g. killed for memory the machine lacked), for the record and exit code."""
    faults = [f"{s.id}: {s.details['grader_error']}" for s in scored if (s.details or {}).get("grader_error")]
    return bounded("; ".join(faults), 2000) if faults else ""


@lru_cache(maxsize=None)
def _message_chars():
    from autograder.rubric import load_rubric
    return int(load_rubric()["submissions"]["message_chars"])


def bounded(text, limit=None):
    """`text` if it is at most `limit` characters (grading.yml's message_chars), else its head and
    its tail with a note of how much was cut between them: linear time, bounded size."""
    text = text if isinstance(text, str) else str(text)
    limit = limit or _message_chars()
    if len(text) <= limit:
        return text
    note = f"\n[... {len(text) - limit:,} characters cut: the message was {len(text):,} characters long ...]\n"
    head = max(0, (limit * 2) // 3)
    return text[:head] + note + text[len(text) - (limit - head):]


def totals(scored):
    return sum(s.points for s in scored), sum(s.max_points for s in scored)


def shown(s, passed_text):
    """The message of a failed check; for a passed one `passed_text`, unless the check said what it saw;
    bounded (grading.yml's message_chars)."""
    return bounded(s.message if not s.passed or s.message not in ("", "ok") else passed_text)


def table(scored, width=100):
    """The terminal table: check, points, message (wrapped), then the total."""
    id_width = max(len(s.id) for s in scored) + 2
    lines = [f"{'check':{id_width}}{'points':>9}  message", "-" * width]
    for s in scored:
        mark = "ok" if s.passed else "FAIL"
        message = textwrap.wrap(shown(s, s.title), width - id_width - 11) or [""]
        lines.append(f"{s.id:{id_width}}{s.points:>4g}/{s.max_points:<4g}  {mark}: {message[0]}")
        lines += [" " * (id_width + 11) + more for more in message[1:]]
    got, out_of = totals(scored)
    lines += ["-" * width, f"{'total':{id_width}}{got:>4g}/{out_of:<4g}"]
    return "\n".join(lines)


def gradescope(scored, fingerprint=None, notes=()):
    """results.json in Gradescope's autograder schema; `notes` (how the submission was read, e.g.
    which of two files was graded) become its top-level output, shown above the tests."""
    got, _ = totals(scored)
    results = {
        "score": got,
        "tests": [{"name": f"{s.id}: {s.title}", "score": s.points, "max_score": s.max_points,
                   "status": "passed" if s.passed else "failed", "output": shown(s, "ok"),
                   "visibility": s.visibility} for s in scored],
    }
    if notes:
        results["output"] = bounded("\n".join(notes))
    if fingerprint:
        results["extra_data"] = {"fingerprint": fingerprint}
    machine = machine_faults(scored)
    if machine:
        results.setdefault("extra_data", {})["grader_error"] = machine
    return results


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


BAND_KEYS = {"fid", "accuracy", "fid_max", "accuracy_min"}  # a training check's run against its pass band


def drawn(key):
    """Whether html_page draws the detail `key` as a figure: only the grader's judges make those
    (a student's own details lose them, sandbox.student_details: drawing costs the host's CPU)."""
    return str(key).endswith(("samples", "losses")) or key in BAND_KEYS or str(key).startswith("reference_")


def _figures(details):
    """Sample grids and loss curves a check left in its details, as inline PNGs."""
    if not any(drawn(key) for key in details):  # pyplot's import alone is 0.2 s of a report's 0.3 s
        return []
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pngs = []
    grids = {k: v for k, v in details.items() if str(k).endswith("samples")}
    if grids:
        fig, axes = plt.subplots(1, len(grids), figsize=(4 * len(grids), 4), squeeze=False)
        for ax, (name, grid) in zip(axes[0], grids.items()):
            ax.imshow(grid, cmap="gray", vmin=0, vmax=1)
            ax.set_title(name.replace("_", " "))
            ax.axis("off")
        pngs.append(_png(fig))
        plt.close(fig)
    curves = {k: v for k, v in details.items() if str(k).endswith("losses")}
    if curves:
        fig, ax = plt.subplots(figsize=(8, 3))
        for name, values in curves.items():
            ax.plot(values, label=name.replace("_", " "))
        ax.set_xlabel("iteration")
        ax.legend()
        pngs.append(_png(fig))
        plt.close(fig)
    if BAND_KEYS <= details.keys():
        runs = {"yours": (details["fid"], details["accuracy"])}
        if details.get("reference_fid") is not None:
            runs["reference"] = (details["reference_fid"], details["reference_accuracy"])
        fig, axes = plt.subplots(1, 2, figsize=(9, 1.6))
        draw_band(*axes, runs, details["fid_max"], details["accuracy_min"])
        pngs.append(_png(fig))
        plt.close(fig)
    return pngs


def draw_band(ax_fid, ax_accuracy, runs, fid_max, accuracy_min):
    """FID and accuracy of each run ({name: (fid, accuracy)}) as points over the pass band, shaded
    green: where a run lies, and how far from the line, at a glance."""
    import math

    import matplotlib.ticker
    fids = [f for f, _ in runs.values() if math.isfinite(f)] + [fid_max]
    low, high = max(1.0, min(fids) / 1.6), max(fids) * 1.6
    ax_fid.set_xscale("log")
    ax_fid.set_xlim(low, high)
    ax_fid.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1, 2, 5)))
    ax_fid.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}"))
    ax_fid.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax_fid.axvspan(low, fid_max, color="#cfc", zorder=0)
    ax_fid.set_title(f"FID (lower is better; pass: at most {fid_max:g})", fontsize=9)
    ax_accuracy.set_xlim(0, 1)
    ax_accuracy.axvspan(accuracy_min, 1, color="#cfc", zorder=0)
    ax_accuracy.set_title(f"accuracy (pass: at least {accuracy_min:g})", fontsize=9)
    for row, (name, (fid, accuracy)) in enumerate(runs.items()):
        shown = fid if math.isfinite(fid) else high
        for ax, x, text in ((ax_fid, shown, f"{name} {fid:.0f}"), (ax_accuracy, accuracy, f"{name} {accuracy:.2f}")):
            ax.plot([x], [row], "o", color=f"C{row}")
            ax.annotate(text, (x, row), textcoords="offset points", xytext=(6, -3), fontsize=8)
    for ax in (ax_fid, ax_accuracy):
        ax.set_ylim(-0.7, len(runs) - 0.3)
        ax.set_yticks([])


def _details_table(details):
    """The check's figures (FID, band, seed...) as a small two-column table; curves and images are drawn."""
    rows = "".join(f"<tr><td>{html.escape(bounded(str(k), 100).replace('_', ' '))}</td><td>{html.escape(bounded(_number(v), 300))}</td></tr>"
                   for k, v in details.items() if isinstance(v, (int, float, str)) and v != "")
    return f'<table class="details">{rows}</table>' if rows else ""


def _number(value):
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def html_page(scored, title="Grading report"):
    got, out_of = totals(scored)
    rows = []
    for s in scored:
        details = s.details if isinstance(s.details, dict) else {}
        try:
            figures = "".join(f'<br><img src="data:image/png;base64,{p}">' for p in _figures(details))
        except Exception as exc:  # noqa: BLE001 - odd details cost their figures, not the report
            why = html.escape(bounded(f"{type(exc).__name__}: {exc}", 300))
            figures = f"<br><small>(figures not drawn: {why})</small>"
        extra = _details_table(details)
        rows.append(f'<tr class="{"ok" if s.passed else "fail"}"><td>{html.escape(s.id)}</td>'
                    f"<td>{s.points:g} / {s.max_points:g}</td><td>{html.escape(shown(s, s.title))}"
                    f"{extra}{figures}</td></tr>")
    return f"""<!doctype html><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}td{{padding:4px 8px;vertical-align:top;border-bottom:1px solid #ddd}}
tr.fail>td:first-child{{color:#b00}}tr.ok>td:first-child{{color:#070}}
table.details{{font-size:small;margin:4px 0}}table.details td{{padding:1px 8px;border:none;color:#444}}</style>
<h1>{html.escape(title)}: {got:g} / {out_of:g}</h1><table><tr><th>check</th><th>points</th><th>message</th></tr>
{''.join(rows)}</table>"""


def write_all(scored, out_dir, fingerprint=None, notes=()):
    """results.json and report.html under out_dir; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results.json"
    results.write_text(json.dumps(gradescope(scored, fingerprint, notes), indent=1))
    page = out_dir / "report.html"
    page.write_text(html_page(scored))
    return results, page
