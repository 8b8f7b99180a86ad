"""A real single-node Slurm cluster grades a class through slurm/grade_array.sbatch (a job array,
one shard per task) and slurm/merge.sbatch (a job that depends on the array); the merged gradebook
and summaries must equal a local batch run's.

The cluster is Debian's slurmctld + slurmd + munge, started here without systemd (the set-up of
MEASUREMENTS.md: no cgroup plugins, no accounting, MpiDefault=none, MailProg=/bin/true, state and
spool folders created; instead of creating /run/munge for the machine's munged, the cluster has a
munged of its own whose socket slurm.conf names, so two test runs on one machine never share one). The packages are installed with apt-get when
missing and we are root; otherwise the module is skipped, saying why. Every daemon started here
is killed at the end, also when a test fails.
"""
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from autograder import batch
from autograder.rubric import ROOT

PACKAGES = ["slurmctld", "slurmd", "slurm-client", "munge"]
BINARIES = ["slurmctld", "slurmd", "sbatch", "sinfo", "munged"]
ONLY = ["dcgan.bce", "dcgan.d_loss", "cgan.onehot", "vae.kl"]
LIMITS = str(ROOT / "tests" / "faults" / "limits.yml")
PARTS = ("part1_dcgan", "part2_cgan", "part3_vae")

pytestmark = pytest.mark.slow


def _install():
    """The Slurm and munge binaries, installed with apt-get if missing (root only)."""
    if all(shutil.which(b) or Path("/usr/sbin", b).exists() for b in BINARIES):
        return
    if os.geteuid() != 0:
        pytest.skip("Slurm is not installed, and installing it (apt-get) needs root")
    if not shutil.which("apt-get"):
        pytest.skip("Slurm is not installed and there is no apt-get to install it")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", *PACKAGES]
    done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:  # an image without package lists: fetch them once, then retry
        subprocess.run(["apt-get", "update", "-qq"], env=env, capture_output=True, timeout=600)
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        pytest.skip(f"apt-get could not install {' '.join(PACKAGES)}: {done.stderr[-500:]}")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid):
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = [int(c) for c in (task / "children").read_text().split()]
            except (OSError, ValueError):
                continue
            found += children
            pending += children
    return found


SLURM_CONF = """ClusterName=grading
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
AuthType=auth/munge
AuthInfo=socket={base}/munge/socket
StateSaveLocation={base}/state
SlurmdSpoolDir={base}/spool
SlurmctldPidFile={base}/slurmctld.pid
SlurmdPidFile={base}/slurmd.pid
SlurmctldLogFile={base}/slurmctld.log
SlurmdLogFile={base}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A running single-node cluster: the environment its clients need (SLURM_CONF)."""
    _install()
    if os.geteuid() != 0:
        pytest.skip("a single-node Slurm cluster needs root (slurmd starts jobs as their user)")
    base = tmp_path_factory.mktemp("slurm")
    for folder in ("state", "spool"):
        (base / folder).mkdir()
    host = socket.gethostname().split(".")[0]
    conf = base / "slurm.conf"
    conf.write_text(SLURM_CONF.format(host=host, base=base, cpus=os.cpu_count() or 1,
                                      ctld_port=_free_port(), d_port=_free_port()))
    env = {**os.environ, "SLURM_CONF": str(conf), "AUTOGRADER_PYTHON": sys.executable,
           "PYTHONPATH": str(ROOT)}
    started = []  # (name, Popen) of every daemon started here: killed at the end, whatever happens
    try:
        # A munged of our own (its socket in `base`, named in slurm.conf's AuthInfo): no /run/munge
        # to create, and no sharing with the machine's munged or with another test run's cluster.
        munge = base / "munge"
        munge.mkdir(mode=0o755)
        key = munge / "munge.key"
        system_key = Path("/etc/munge/munge.key")
        key.write_bytes(system_key.read_bytes() if system_key.exists() else os.urandom(1024))
        key.chmod(0o400)
        started.append(("munged", subprocess.Popen(
            [shutil.which("munged") or "/usr/sbin/munged", "--foreground", "--force", f"--socket={munge}/socket",
             f"--key-file={key}", f"--pid-file={munge}/pid", f"--seed-file={munge}/seed",
             f"--log-file={munge}/log"], stdout=subprocess.DEVNULL, stderr=open(base / "munged.out", "w"))))
        for _ in range(100):
            if (munge / "socket").exists():
                break
            time.sleep(0.1)
        for name in ("slurmctld", "slurmd"):
            binary = shutil.which(name) or f"/usr/sbin/{name}"
            started.append((name, subprocess.Popen([binary, "-D", "-f", str(conf)], env=env,
                                                   stdout=open(base / f"{name}.out", "w"), stderr=subprocess.STDOUT)))
            time.sleep(0.5)
        deadline = time.monotonic() + 60
        state = ""
        while time.monotonic() < deadline:
            for name, process in started:
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited ({process.returncode}): {(base / f'{name}.out').read_text()[-1500:]}"
                                       if (base / f"{name}.out").exists() else f"{name} exited")
            state = subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True, text=True).stdout.strip()
            if state == "idle":
                break
            time.sleep(0.5)
        else:
            logs = "".join((base / f).read_text()[-1500:] for f in ("slurmctld.log", "slurmd.log") if (base / f).exists())
            raise RuntimeError(f"the node never became idle (state {state!r}):\n{logs}")
        yield {"env": env, "base": base}
    finally:
        _stop(started, env)


def _stop(started, env):
    """Cancel this cluster's jobs (their steps kill what they run), stop each daemon with SIGTERM
    (so it reaps its own helpers), then SIGKILL whatever of theirs is left, by process id: nothing
    else on the machine is touched."""
    try:
        if any(name == "slurmctld" and p.poll() is None for name, p in started):
            subprocess.run(["scancel", "--user", "root"], env=env, capture_output=True, timeout=30)
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                queue = subprocess.run(["squeue", "-h"], env=env, capture_output=True, text=True, timeout=30)
                if queue.returncode != 0 or not queue.stdout.strip():
                    break
                time.sleep(0.5)
    except (OSError, subprocess.SubprocessError):
        pass  # a cluster that does not answer any more: its daemons are killed below all the same
    for _name, process in reversed(started):
        leftovers = _descendants(process.pid)
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                pass
        for pid in leftovers + [process.pid]:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass


def _class(root):
    """Four small submissions: three reference copies and one with a wrong bce."""
    for student in ("ana", "ben", "chloe", "dmitri"):
        folder = root / student
        folder.mkdir(parents=True)
        for part in PARTS:
            source = (ROOT / "reference" / f"{part}.py").read_text()
            if student == "ben" and part == "part1_dcgan":
                source = source.replace("return -(targets * clamped_log(probs)", "return (targets * clamped_log(probs)")
            (folder / f"{part}.py").write_text(source)
    return root


def _sbatch(cluster, *args):
    run = subprocess.run(["sbatch", "--parsable", *args], cwd=ROOT, env=cluster["env"], capture_output=True,
                         text=True, timeout=900)
    return run.returncode, run.stdout.strip().split(";")[0], run.stderr


@pytest.fixture(scope="module")
def graded(cluster, tmp_path_factory):
    """The class graded on the cluster (array, then merge) and locally."""
    base = tmp_path_factory.mktemp("class")
    submissions = _class(base / "submissions")
    out = base / "slurm-out"
    out.mkdir()  # Slurm opens the tasks' output files there
    options = ["--only", ",".join(ONLY), "--limits", LIMITS, "--device", "cpu"]
    started = time.monotonic()
    code, array_id, err = _sbatch(cluster, "--wait", "--array=1-2", f"--output={out}/grade-%A_%a.out", "--chdir", str(ROOT),
                                  str(ROOT / "slurm" / "grade_array.sbatch"), str(submissions), str(out), *options)
    logs = "".join(p.read_text()[-2000:] for p in sorted(out.glob("grade-*.out"))) if out.exists() else ""
    assert code == 0, f"array job failed ({code}): {err}\n{logs}"
    code, merge_id, err = _sbatch(cluster, "--wait", f"--dependency=afterok:{array_id}", "--chdir", str(ROOT),
                                  f"--output={out}/merge-%j.out", str(ROOT / "slurm" / "merge.sbatch"), str(out), "2")
    assert code == 0, f"merge job failed ({code}): {err}"
    on_cluster = time.monotonic() - started
    local = base / "local-out"
    batch.grade_batch(submissions, local, jobs=2, device="cpu", only=ONLY, limits=LIMITS, log=open(os.devnull, "w"))
    return {"submissions": submissions, "out": out, "local": local, "seconds": on_cluster}


def test_the_array_grades_one_shard_per_task(graded):
    shards = [graded["out"] / f"shard-{i}" for i in (1, 2)]
    students = [sorted(p.name for p in (s / "students").iterdir()) for s in shards]
    assert sorted(sum(students, [])) == ["ana", "ben", "chloe", "dmitri"] and all(students)
    assert len(list(graded["out"].glob("grade-*_1.out"))) == 1 and len(list(graded["out"].glob("grade-*_2.out"))) == 1


def test_the_merged_outputs_equal_a_local_run(graded):
    merged = graded["out"] / "merged"
    for name in ("gradebook.csv", "checks.csv", "summary.json", "histogram.png"):
        assert (merged / name).read_bytes() == (graded["local"] / name).read_bytes(), name
    rows = (merged / "gradebook.csv").read_text().splitlines()
    assert rows[0].split(",") == batch.NBGRADER_COLUMNS and len(rows) == 5
    assert any(",ben," in r and ",5,0,5,7" in r for r in rows), rows  # his bce (2 points) only: charged once


def test_a_resubmitted_array_skips_what_is_graded(cluster, graded):
    """slurm/submit.sh (array + dependent merge, WAIT=1) over the same output: nothing re-graded."""
    run = subprocess.run([str(ROOT / "slurm" / "submit.sh"), str(graded["submissions"]), str(graded["out"]), "2",
                          "--only", ",".join(ONLY), "--limits", LIMITS, "--device", "cpu"],
                         cwd=ROOT, env={**cluster["env"], "WAIT": "1"}, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    logs = [p.read_text() for p in sorted(graded["out"].glob("grade-*.out"))]
    assert sum("2 already graded, 0 to grade" in log for log in logs) >= 2, logs
    assert (graded["out"] / "merged" / "gradebook.csv").read_bytes() == (graded["local"] / "gradebook.csv").read_bytes()


def test_sbatch_wait_reports_a_failed_merge(cluster, tmp_path):
    """A shard that never ran: the merge job fails, and `sbatch --wait` says so with its exit code."""
    (tmp_path / "shard-1").mkdir()
    code, _, _ = _sbatch(cluster, "--wait", "--chdir", str(ROOT), f"--output={tmp_path}/merge-%j.out",
                         str(ROOT / "slurm" / "merge.sbatch"), str(tmp_path), "2")
    assert code != 0
    assert "shard 1/2 is missing" in "".join(p.read_text() for p in tmp_path.glob("merge-*.out"))


# --------------------------------------------------------------------------------------------
# How many submissions a task grades at once (no cluster: the script run by hand, Slurm's
# variables set as a task on a GPU node would have them, the interpreter replaced by `echo`)
# --------------------------------------------------------------------------------------------


def _task(tmp_path, env, options):
    """grade_array.sbatch run as task 2 of 3 with `env`; (its output, the batch command's arguments)."""
    (tmp_path / "subs").mkdir()
    fake = tmp_path / "python"
    fake.write_text("#!/bin/sh\necho \"ARGS $*\"\n")
    fake.chmod(0o755)
    base = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_") and k != "CUDA_VISIBLE_DEVICES"}
    run = subprocess.run(["bash", str(ROOT / "slurm" / "grade_array.sbatch"), str(tmp_path / "subs"),
                          str(tmp_path / "out"), *options], cwd=ROOT, capture_output=True, text=True, timeout=60,
                         env={**base, **env, "SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "3",
                              "AUTOGRADER_PYTHON": str(fake)})
    assert run.returncode == 0, run.stderr
    return run.stdout, run.stdout.split("ARGS ", 1)[1].split()


@pytest.mark.parametrize("env, options, jobs, says", [
    ({"SLURM_GPUS_ON_NODE": "2"}, ["--device", "cuda", "--per-gpu", "4"], 8, "2 GPU(s) x 4 per GPU = 8 job(s)"),
    ({"CUDA_VISIBLE_DEVICES": "0,1,3"}, ["--per-gpu=2"], 6, "3 GPU(s) x 2 per GPU = 6 job(s)"),
    ({"SLURM_GPUS_ON_NODE": "2"}, ["--device", "cuda"], 2, "2 GPU(s) x 1 per GPU = 2 job(s)"),
    ({"SLURM_GPUS_ON_NODE": "2", "SLURM_CPUS_PER_TASK": "3"}, ["--device", "cpu"], 3, "3 CPU(s) = 3 job(s)"),
    ({"SLURM_CPUS_PER_TASK": "3"}, ["--per-gpu", "4"], 3, "3 CPU(s) = 3 job(s)"),
])
def test_the_task_sizes_its_jobs_from_the_gpus_it_gets(tmp_path, env, options, jobs, says):
    output, args = _task(tmp_path, env, options)
    assert f"shard 2/3 of {tmp_path / 'subs'} on " in output and says in output, output
    assert args[args.index("--jobs") + 1] == str(jobs) and args[-len(options):] == options, args


def test_a_jobs_option_of_the_user_wins(tmp_path):
    _, args = _task(tmp_path, {"SLURM_GPUS_ON_NODE": "2"}, ["--per-gpu", "4", "--jobs", "5"])
    # argparse keeps the last --jobs: the user's, which comes after the script's own
    assert [args[i + 1] for i, a in enumerate(args) if a == "--jobs"] == ["8", "5"], args
