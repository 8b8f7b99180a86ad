"""Stage 4: report scored checks: a terminal table, Gradescope's results.json, an HTML page."""
import base64
import html
import io
import json
import textwrap
from dataclasses import dataclass, field
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


def totals(scored):
    return sum(s.points for s in scored), sum(s.max_points for s in scored)


def shown(s, passed_text):
    """The message of a failed check; for a passed one `passed_text`, unless the check said what it saw."""
    return s.message if not s.passed or s.message not in ("", "ok") else passed_text


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


def gradescope(scored, fingerprint=None):
    """results.json in Gradescope's autograder schema."""
    got, _ = totals(scored)
    results = {
        "score": got,
        "tests": [{"name": f"{s.id}: {s.title}", "score": s.points, "max_score": s.max_points,
                   "status": "passed" if s.passed else "failed", "output": shown(s, "ok"),
                   "visibility": s.visibility} for s in scored],
    }
    if fingerprint:
        results["extra_data"] = {"fingerprint": fingerprint}
    return results


def _png(figure):
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def _figures(details):
    """Sample grids and loss curves a check left in its details, as inline PNGs."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pngs = []
    grids = {k: v for k, v in details.items() if k.endswith("samples")}
    if grids:
        fig, axes = plt.subplots(1, len(grids), figsize=(4 * len(grids), 4), squeeze=False)
        for ax, (name, grid) in zip(axes[0], grids.items()):
            ax.imshow(grid, cmap="gray", vmin=0, vmax=1)
            ax.set_title(name.replace("_", " "))
            ax.axis("off")
        pngs.append(_png(fig))
        plt.close(fig)
    curves = {k: v for k, v in details.items() if k.endswith("losses")}
    if curves:
        fig, ax = plt.subplots(figsize=(8, 3))
        for name, values in curves.items():
            ax.plot(values, label=name.replace("_", " "))
        ax.set_xlabel("iteration")
        ax.legend()
        pngs.append(_png(fig))
        plt.close(fig)
    return pngs


def html_page(scored, title="Grading report"):
    got, out_of = totals(scored)
    rows = []
    for s in scored:
        figures = "".join(f'<br><img src="data:image/png;base64,{p}">' for p in _figures(s.details))
        numbers = {k: v for k, v in s.details.items() if isinstance(v, (int, float, str))}
        extra = f"<br><small>{html.escape(json.dumps(numbers))}</small>" if numbers else ""
        rows.append(f'<tr class="{"ok" if s.passed else "fail"}"><td>{html.escape(s.id)}</td>'
                    f"<td>{s.points:g} / {s.max_points:g}</td><td>{html.escape(shown(s, s.title))}"
                    f"{extra}{figures}</td></tr>")
    return f"""<!doctype html><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}td{{padding:4px 8px;vertical-align:top;border-bottom:1px solid #ddd}}
tr.fail td:first-child{{color:#b00}}tr.ok td:first-child{{color:#070}}</style>
<h1>{html.escape(title)}: {got:g} / {out_of:g}</h1><table><tr><th>check</th><th>points</th><th>message</th></tr>
{''.join(rows)}</table>"""


def write_all(scored, out_dir, fingerprint=None):
    """results.json and report.html under out_dir; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    results = out_dir / "results.json"
    results.write_text(json.dumps(gradescope(scored, fingerprint), indent=1))
    page = out_dir / "report.html"
    page.write_text(html_page(scored))
    return results, page
