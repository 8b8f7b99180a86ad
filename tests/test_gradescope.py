"""The Gradescope autograder (scripts/build_gradescope.py, gradescope/): the zip is built, unzipped
into a root laid out as Gradescope lays it (source/, submission/, results/), its setup.sh installs
into a fresh venv, and its run_autograder grades a correct, a broken and an incomplete submission.

Offline: the fresh venv sees this project's site-packages through a .pth file (what
`--system-site-packages` does for a system Python that has the packages), and pip runs with
`no-index`, so setup.sh's own pip lines run for real and find every requirement satisfied; a
requirement that would need a download fails the test. The gradings deselect `cgan.training`
(a training run; docs/gradescope.md has its figures under Gradescope's limits).
"""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
RUBRIC = yaml.safe_load((ROOT / "grading.yml").read_text())
SKIPPED = "cgan.training"
# The deliberate bug of the broken submission, and the check that must catch it (as in test_student_copy).
BUG = ("part1_dcgan.py", "nn.Conv2d(nc, ndf, 4, 2, 1, bias=False)", "nn.Conv2d(nc, ndf, 4, 1, 1, bias=False)")
BUG_CHECK = "dcgan.discriminator"


def _load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build_gradescope = _load("build_gradescope", ROOT / "scripts" / "build_gradescope.py")
grade = _load("gradescope_grade", ROOT / "gradescope" / "grade.py")


# --------------------------------------------------------------------------------------------
# Finding the parts in an upload (fast)
# --------------------------------------------------------------------------------------------


def _touch(root, *names):
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x = 1\n")


def test_parts_are_found_under_odd_names_and_folders(tmp_path):
    _touch(tmp_path, "hw3/part1_dcgan (1).ipynb", "Part2-CGAN.py", "part3_vae.ipynb", "part3_vae.py",
           "copy/part3_vae.ipynb", ".ipynb_checkpoints/part1_dcgan-checkpoint.ipynb",
           "__MACOSX/hw3/part2_cgan.py", "notes.txt", "part2_cgan.txt")
    found = grade.find_parts(tmp_path, RUBRIC["parts"])
    chosen = {part: str(f.chosen.relative_to(tmp_path)) for part, f in found.items()}
    assert chosen == {"part1_dcgan": "hw3/part1_dcgan (1).ipynb", "part2_cgan": "Part2-CGAN.py",
                      "part3_vae": "part3_vae.ipynb"}
    assert [str(o.relative_to(tmp_path)) for o in found["part3_vae"].others] == ["copy/part3_vae.ipynb", "part3_vae.py"]
    text = grade.summary(found, tmp_path)
    assert "part3_vae: graded part3_vae.ipynb (left aside: copy/part3_vae.ipynb, part3_vae.py); both" in text


def test_a_missing_part_is_reported(tmp_path):
    _touch(tmp_path, "part1_dcgan.py")
    found = grade.find_parts(tmp_path, RUBRIC["parts"])
    assert found["part2_cgan"].chosen is None and not found["part2_cgan"].others
    assert "part2_cgan: no file found" in grade.summary(found, tmp_path)


@pytest.fixture(scope="module")
def cpu_zip(tmp_path_factory):
    return build_gradescope.build("cpu", tmp_path_factory.mktemp("dist"))


@pytest.mark.slow
def test_the_variants_differ_in_their_torch_and_device_only(cpu_zip, tmp_path):
    cpu, gpu = cpu_zip, build_gradescope.build("gpu", tmp_path)
    with zipfile.ZipFile(cpu) as a, zipfile.ZipFile(gpu) as b:
        assert a.namelist() == b.namelist()
        differ = [n for n in a.namelist() if a.read(n) != b.read(n)]
        assert differ == ["run_autograder", "setup.sh"]
        assert 'TORCH_INDEX="${TORCH_INDEX-cpu}"' in a.read("setup.sh").decode()
        assert 'TORCH_INDEX="${TORCH_INDEX-}"' in b.read("setup.sh").decode()
        assert '--device "cpu"' in a.read("run_autograder").decode()
        assert '--device "auto"' in b.read("run_autograder").decode()
        names = set(a.namelist())
        assert {"setup.sh", "run_autograder", "gradescope_grade.py", "run", "grading.yml", "requirements.txt",
                "autograder/checks/hidden.py"} <= names
        assert not [n for n in names if n.split("/")[0] in {"reference", "solutions", "tests", "assignments"}]
        assert a.getinfo("run_autograder").external_attr >> 16 == 0o100755
    assert build_gradescope.build("cpu", tmp_path / "again").read_bytes() == cpu.read_bytes()


@pytest.mark.slow
def test_reference_code_in_the_zip_is_refused(tmp_path):
    source = tmp_path / "project"
    for name in ("autograder", "reference"):
        shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("grading.yml", "requirements.txt", "constraints.txt", "pyproject.toml", "run"):
        shutil.copy(ROOT / name, source / name)
    body = (ROOT / "reference" / "part3_vae.py").read_text()
    (source / "autograder" / "leak.py").write_text(body)
    with pytest.raises(build_gradescope.bsc.BuildError, match=r"autograder/leak.py .*reference/part3_vae.py"):
        build_gradescope.build("cpu", tmp_path / "dist", source)
    assert not (tmp_path / "dist").exists()


# --------------------------------------------------------------------------------------------
# The zip end to end (slow)
# --------------------------------------------------------------------------------------------


def _env(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env.update(extra)
    return env


@pytest.fixture(scope="module")
def installed(cpu_zip, tmp_path_factory):
    """A root with the CPU zip unzipped into source/ and setup.sh run there: the root and setup's output."""
    base = tmp_path_factory.mktemp("gradescope")
    root = base / "autograder"
    with zipfile.ZipFile(cpu_zip) as archive:
        archive.extractall(root / "source")
    for name in build_gradescope.EXECUTABLE:  # zipfile does not restore modes; Gradescope's unzip does
        (root / "source" / name).chmod(0o755)
    venv = root / "source" / ".venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    Path(site, "project.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (base / "pip.conf").write_text("[global]\nno-index = true\n")
    env = _env(SKIP_APT="1", GAN_COURSE_VENV_ARGS="--without-pip", PIP_CONFIG_FILE=str(base / "pip.conf"),
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    dry = subprocess.run(["bash", "setup.sh"], cwd=root / "source", env=dict(env, GAN_COURSE_DRY_RUN="1"),
                         capture_output=True, text=True, timeout=60)
    setup = subprocess.run(["bash", "setup.sh"], cwd=root / "source", env=env, capture_output=True, text=True,
                           timeout=900)
    return {"root": root, "base": base, "dry": dry, "setup": setup}


@pytest.mark.slow
def test_setup_installs_cpu_torch_into_the_venv(installed):
    dry = installed["dry"]
    assert dry.returncode == 0, dry.stderr
    steps = dry.stdout.splitlines()
    assert steps[1].endswith("install -q --disable-pip-version-check torch torchvision -c constraints.txt "
                             "--index-url https://download.pytorch.org/whl/cpu"), steps
    assert steps[2].endswith("-r requirements.txt -c constraints.txt"), steps
    setup = installed["setup"]
    assert setup.returncode == 0, setup.stdout[-3000:] + setup.stderr[-3000:]
    venv = installed["root"] / "source" / ".venv"
    assert (venv / ".torch-index").read_text().strip() == "cpu"
    assert (venv / ".requirements.sha").is_file()


def _submission(kind, folder):
    """correct: the solution notebooks and reference modules, uploaded under odd names and folders;
    broken: the reference with a wrong first convolution; missing: no Part 3."""
    folder.mkdir(parents=True)
    solutions = ROOT / "solutions" / "genmodels"
    if kind == "correct":
        (folder / "hw").mkdir()
        shutil.copy(solutions / "part1_dcgan.ipynb", folder / "hw" / "part1_dcgan (1).ipynb")
        shutil.copy(ROOT / "reference" / "part2_cgan.py", folder / "Part2-CGAN.py")
        shutil.copy(solutions / "part3_vae.ipynb", folder / "part3_vae.ipynb")
        return
    for part in RUBRIC["parts"]:
        shutil.copy(ROOT / "reference" / f"{part}.py", folder / f"{part}.py")
    if kind == "broken":
        name, right, wrong = BUG
        text = (folder / name).read_text()
        assert text.count(right) == 1, f"the bug to plant, {right!r}, is no longer in reference/{name}"
        (folder / name).write_text(text.replace(right, wrong))
    else:
        (folder / "part3_vae.py").unlink()


@pytest.fixture(scope="module")
def graded(installed):
    """run_autograder on three roots sharing the installed source/, in parallel:
    {kind: (exit status, output, results.json or None)}."""
    assert installed["setup"].returncode == 0, "setup.sh failed: see test_setup_installs_cpu_torch_into_the_venv"
    runs = {}
    for kind in ("correct", "broken", "missing"):
        root = installed["base"] / kind
        root.mkdir()
        (root / "source").symlink_to(installed["root"] / "source")
        (root / "results").mkdir()
        _submission(kind, root / "submission")
        runs[kind] = (root, subprocess.Popen(
            [str(root / "source" / "run_autograder"), "--skip", SKIPPED], env=_env(AUTOGRADER_ROOT=str(root)),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    out = {}
    for kind, (root, proc) in runs.items():
        output, _ = proc.communicate(timeout=1500)
        path = root / "results" / "results.json"
        out[kind] = (proc.returncode, output, json.loads(path.read_text()) if path.exists() else None)
    return out


def _expected_ids():
    return [i for i in RUBRIC["checks"] if i != SKIPPED]


def _check_schema(results):
    """Gradescope's results.json: the fields it reads, with their types and values."""
    assert isinstance(results["score"], (int, float)) and isinstance(results["execution_time"], int)
    assert results["execution_time"] > 0 and isinstance(results["output"], str)
    for test in results["tests"]:
        assert set(test) >= {"name", "score", "max_score", "output", "visibility", "status"}
        assert test["visibility"] in {"visible", "after_due_date"} and test["status"] in {"passed", "failed"}
    by_id = {t["name"].split(":")[0]: t for t in results["tests"]}
    assert list(by_id) == _expected_ids()
    for rubric_id, test in by_id.items():
        item = RUBRIC["checks"][rubric_id]
        assert test["max_score"] == item["points"]
        assert test["visibility"] == ("after_due_date" if item.get("visibility") == "hidden" else "visible")
    return by_id


@pytest.mark.slow
def test_a_correct_submission_gets_full_marks(graded):
    code, output, results = graded["correct"]
    assert code == 0 and results is not None, output[-4000:]
    by_id = _check_schema(results)
    assert all(t["status"] == "passed" for t in by_id.values()), output[-4000:]
    assert results["score"] == sum(RUBRIC["checks"][i]["points"] for i in _expected_ids())
    assert "part1_dcgan: graded hw/part1_dcgan (1).ipynb" in results["output"]
    assert "part2_cgan: graded Part2-CGAN.py" in results["output"]
    assert results["extra_data"]["files"]["part3_vae"] == "part3_vae.ipynb"
    assert isinstance(results["extra_data"]["fingerprint"]["seed"], int)


@pytest.mark.slow
def test_a_broken_submission_loses_its_points_with_a_message(graded):
    code, output, results = graded["broken"]
    assert code == 0 and results is not None, output[-4000:]
    by_id = _check_schema(results)
    failed = {i: t for i, t in by_id.items() if t["status"] == "failed"}
    assert BUG_CHECK in failed and failed[BUG_CHECK]["score"] == 0, output[-4000:]
    message = failed[BUG_CHECK]["output"]
    assert "stride" in message and "Discriminator" in message, message
    assert results["score"] == sum(t["max_score"] for t in by_id.values()) - sum(t["max_score"] for t in failed.values())
    assert not [i for i in failed if not i.startswith("dcgan.")], failed


@pytest.mark.slow
def test_a_missing_part_is_graded_not_crashed(graded):
    code, output, results = graded["missing"]
    assert code == 0 and results is not None, output[-4000:]
    by_id = _check_schema(results)
    failed = {i for i, t in by_id.items() if t["status"] == "failed"}
    assert failed == {i for i in by_id if i.startswith("vae.")}, output[-4000:]
    for rubric_id in failed:
        assert "no part3_vae.ipynb or part3_vae.py found in your submission" in by_id[rubric_id]["output"]
    assert "part3_vae: no file found" in results["output"]
    assert results["score"] == sum(t["max_score"] for i, t in by_id.items() if i not in failed)
