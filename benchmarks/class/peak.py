"""Run a command; sample its whole process tree every 0.5 s; print its wall time and the peak of the
tree's summed RSS and PSS (/proc/<pid>/smaps_rollup, children from /proc/<pid>/task/*/children).

    python benchmarks/class/peak.py COMMAND...
"""
import subprocess
import sys
import time
from pathlib import Path


def tree(pid):
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                pending += [int(c) for c in (task / "children").read_text().split()]
            except OSError:
                pass
    return found


def memory(pid):
    """(Rss, Pss) in kB."""
    try:
        rows = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
    except OSError:
        return 0, 0
    value = lambda key: next((int(r.split()[1]) for r in rows if r.startswith(key)), 0)  # noqa: E731
    return value("Rss:"), value("Pss:")


def main(command):
    start, process, peak = time.monotonic(), subprocess.Popen(command), [0, 0]
    while process.poll() is None:
        sums = [sum(v) for v in zip(*(memory(p) for p in tree(process.pid)))] or [0, 0]
        peak = [max(a, b) for a, b in zip(peak, sums)]
        time.sleep(0.5)
    print(f"MEASURE rc={process.returncode} wall={time.monotonic() - start:.1f}s "
          f"peak_rss_sum={peak[0] / 1024:.0f}MB peak_pss_sum={peak[1] / 1024:.0f}MB", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
