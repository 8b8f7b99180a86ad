"""A class to grade: 40 copies of the reference and 10 broken submissions (2 each of 5 mistakes).

    python benchmarks/class/make_class.py OUT [N]

The broken ones: bce with the wrong sign, a KL without its 1/2, and three faults of tests/faults/
(syntax error, os._exit in d_loss, network use), their reference imports inlined as the fault
test does (a student's process cannot read reference/).
"""
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from test_faults import inline_reference  # noqa: E402

PARTS = ("part1_dcgan", "part2_cgan", "part3_vae")
VARIANTS = [
    ("bce_sign", {"edits": [("part1_dcgan", "return -(targets * clamped_log(probs)", "return (targets * clamped_log(probs)")]}),
    ("kl_half", {"edits": [("part3_vae", "return -0.5 * torch.sum(", "return -1.0 * torch.sum(")]}),
    ("syntax", {"fault": "syntax_error"}),
    ("exit", {"fault": "os_exit_in_check"}),
    ("network", {"fault": "network"}),
]


def write(folder, edits=(), fault=None):
    folder.mkdir()
    for part in PARTS:
        source = (ROOT / "reference" / f"{part}.py").read_text()
        faulty = ROOT / "tests" / "faults" / str(fault) / f"{part}.py"
        if fault and faulty.exists():
            source = inline_reference(faulty.read_text())
        for where, old, new in edits:
            if where == part:
                assert old in source, old
                source = source.replace(old, new)
        (folder / f"{part}.py").write_text(source)


def main(out, n=50):
    out = Path(out)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    broken = [(name, kw) for name, kw in VARIANTS for _ in range(2)] if n >= 50 else []
    for k in range(n - len(broken)):
        write(out / f"s{k:02d}_ok")
    for k, (name, kw) in enumerate(broken, start=n - len(broken)):
        write(out / f"s{k:02d}_{name}", **kw)
    print(n, "submissions in", out)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 50)
