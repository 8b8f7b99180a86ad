"""Build the Gradescope autograder zips (docs/gradescope.md): `./run gradescope`.

    .venv/bin/python scripts/build_gradescope.py [--variant cpu|gpu|all] [--out dist]

dist/gradescope-cpu.zip (torch's CPU-only wheels, grading on the CPU: Gradescope's usual
machines) and dist/gradescope-gpu.zip (PyPI's default torch, CUDA when the machine has a GPU).
Each holds, at its top (Gradescope unzips it into /autograder/source):

    setup.sh, run_autograder   from gradescope/, with the variant's torch index and device
    gradescope_grade.py        gradescope/grade.py: finds the parts in the upload, grades, converts
    run                        the student copy's `run` (its venv set-up is the one setup.sh runs)
    autograder/, grading.yml   the whole grader and rubric, hidden checks included
    requirements.txt, constraints.txt, pyproject.toml

What the grader needs is decided as for the student copy (scripts/build_student_copy.py), less
its removal of hidden checks: no reference/, solutions/ or notebooks; the zip is refused if a
function body of reference/ appears in it, or if its autograder does not import on its own
(without reference/) with a check for every rubric id. The zips are byte-identical from one
build to the next of the same tree.
"""
import argparse
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from scripts import build_student_copy as bsc  # noqa: E402

TEMPLATES = ROOT / "gradescope"
# variant: (TORCH_INDEX for `./run setup`, the grader's --device)
VARIANTS = {"cpu": ("cpu", "cpu"), "gpu": ("", "auto")}
EXECUTABLE = {"setup.sh", "run_autograder", "run"}
ZIP_TIME = (1980, 1, 1, 0, 0, 0)


def assemble(stage, variant, source=ROOT):
    index, device = VARIANTS[variant]
    for name in ("setup.sh", "run_autograder"):
        text = (TEMPLATES / name).read_text().replace("@TORCH_INDEX@", index).replace("@DEVICE@", device)
        bsc._write(stage / name, text, 0o755)
    shutil.copyfile(TEMPLATES / "grade.py", stage / "gradescope_grade.py")
    bsc._write(stage / "run", bsc.student_run(source / "run"), 0o755)
    bsc._copy_tree(source / bsc.AUTOGRADER, stage / bsc.AUTOGRADER)
    # The course's constraints as they are (the grader's torch pinned, as in CI), not the student copy's
    # generated ones: `run` reads them, and the zip lacked them once the copy began generating its own.
    for name in (bsc.RUBRIC, *bsc.COPIED_FILES, bsc.CONSTRAINTS):
        shutil.copyfile(source / name, stage / name)


def guard(stage, source=ROOT):
    """The zip's grader gives no answer away and works without the reference."""
    problems = [f"solution code: {f}" for f in bsc.find_solution_code(stage, source / "reference")]
    problems += [f"notebook in the zip: {p.relative_to(stage)}" for p in stage.rglob("*.ipynb")]
    if not problems:  # the import probe (a fresh interpreter importing torch) only for a zip that may ship
        probe = bsc._isolated_python(bsc._VERIFY_PROBE, stage)
        if Path(probe["root"]).resolve() != stage.resolve():
            problems.append(f"the zip's autograder was imported from {probe['root']}, not from the zip")
        problems += [f"grading.yml names {i}, which no check module registers" for i in probe["missing"]]
        if probe["reference"]:
            problems.append("`reference` is importable next to the zip's autograder")
    if problems:
        raise bsc.BuildError("the Gradescope zip is not safe to ship:\n  " + "\n  ".join(problems))


def write_zip(stage, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in stage.rglob("*") if p.is_file()):
            rel = file.relative_to(stage).as_posix()
            info = zipfile.ZipInfo(rel, ZIP_TIME)
            info.external_attr = (0o100755 if rel in EXECUTABLE else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, file.read_bytes())


def build(variant, out=ROOT / "dist", source=ROOT):
    """Build dist/gradescope-<variant>.zip; return its path."""
    with tempfile.TemporaryDirectory(prefix="gradescope-") as tmp:
        stage = Path(tmp)
        assemble(stage, variant, source)
        guard(stage, source)
        path = Path(out) / f"gradescope-{variant}.zip"
        write_zip(stage, path)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=[*VARIANTS, "all"], default="all")
    parser.add_argument("--out", type=Path, default=ROOT / "dist")
    args = parser.parse_args(argv)
    try:
        for variant in VARIANTS if args.variant == "all" else [args.variant]:
            path = build(variant, args.out)
            print(f"built {path} ({path.stat().st_size / 1e6:.1f} MB): upload it in Gradescope's "
                  "Configure Autograder page (docs/gradescope.md)")
    except bsc.BuildError as exc:
        print(f"build_gradescope: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
