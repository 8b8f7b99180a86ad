"""Calibrate the GPU training check: train the reference cGANs (and broken variants of them) with
the grader's own trainer for a fixed budget, over many seeds, and record FID / conditional accuracy.

Everything is appended, one JSON object per line, to --out as soon as it is known, so a run that is
cut off at its time limit still leaves every finished measurement behind.

What one call does (in this order):

1. start-up: times from the shell's start of Python (env T_SHELL, `date +%s.%N`) to `import torch`,
   to CUDA initialised, to the harness (torch-fidelity, the LeNet) imported.
2. overhead: alone on the GPU, cDCGAN for --compare-iters iterations, --compare-seeds seeds:
   the trainer (autograder.trainer.train_cgan with the reference train_step) against a plain
   hand-written loop (pytorch/examples' DCGAN loop, random-index batches drawn on the device) and
   the reference train_step in a bare loop (device-side indexing; cudnn deterministic on and off),
   each with its ms/iteration and its FID / accuracy.
3. the sweep: a spawn pool of --workers processes on the one GPU runs jobs (model, variant, seed),
   each trained once to the largest budget with train_cgan. At every smaller budget the run is
   snapshotted: G is sampled exactly as the trainer samples at its end (sample_per_class), and FID
   and accuracy are computed. The first snapshot is bit-for-bit the run `train_cgan(iterations=that
   budget)` would give; later ones differ from a fresh shorter run only in the noise drawn after the
   earlier snapshots (sampling advances the CUDA generator), so each budget's distribution over
   seeds is that of fresh runs at that budget. Snapshot time is excluded from ms/iteration.

Broken variants (built here by wrapping the reference, nothing in reference/ is edited):
  g_frozen        train_step whose G step does nothing (G never updated)
  d_frozen        train_step whose D step does nothing (D never updated)
  d_random_labels D's step judges the fakes with random labels (G's step unchanged)
  g_ignores_y     G always gets the constant label 0, in training and when sampled
  lr_x100         make_optimizers with lr 2e-2 instead of 2e-4

Local smoke test (CPU):  python benchmarks/calibrate_gpu.py --device cpu --models fc --budgets 2,5
                         --seeds 1 --broken-seeds 1 --extra-seeds 0 --spc 20 --workers 2
                         --compare-iters 5 --compare-seeds 1 --out /tmp/cal.jsonl
"""
import argparse
import json
import os
import sys
import time
from pathlib import Path

T_PY = time.time()
T_SHELL = float(os.environ.get("T_SHELL", T_PY))
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

T_TORCH = time.time()

from reference import part2_cgan as R  # noqa: E402

MODELS = {
    "cdcgan": (R.cDCGANDiscriminator, R.cDCGANGenerator),
    "fc": (R.cGANDiscriminator, R.cGANGenerator),
}
BROKEN = ["g_frozen", "d_frozen", "d_random_labels", "g_ignores_y", "lr_x100"]


# ----------------------------------------------------------------------------- broken variants
def step_g_frozen(netD, netG, optimizerD, optimizerG, x_real, y_real, nz=R.nz, nb_update_D=1, nb_update_G=1):
    for _ in range(nb_update_D):
        loss_d = R.d_step(netD, netG, optimizerD, x_real, y_real, nz)
    return loss_d, torch.zeros((), device=x_real.device)


def step_d_frozen(netD, netG, optimizerD, optimizerG, x_real, y_real, nz=R.nz, nb_update_D=1, nb_update_G=1):
    for _ in range(nb_update_G):
        loss_g = R.g_step(netD, netG, optimizerG, y_real, nz)
    return torch.zeros((), device=x_real.device), loss_g


def d_step_random_fake_labels(netD, netG, optimizerD, x_real, y_real, nz=R.nz):
    optimizerD.zero_grad()
    d_real = netD(x_real, y_real)
    z = R.get_noise(x_real.size(0), nz, x_real.device)
    x_fake = netG(z, y_real).detach()
    y_rand = R.onehot(torch.randint(0, R.n_classes, (x_real.size(0),), device=x_real.device))
    d_fake = netD(x_fake, y_rand)
    loss = F.binary_cross_entropy(d_real, torch.ones_like(d_real)) + F.binary_cross_entropy(
        d_fake, torch.zeros_like(d_fake))
    loss.backward()
    optimizerD.step()
    return loss.detach()


def step_d_random_labels(netD, netG, optimizerD, optimizerG, x_real, y_real, nz=R.nz, nb_update_D=1,
                         nb_update_G=1):
    for _ in range(nb_update_D):
        loss_d = d_step_random_fake_labels(netD, netG, optimizerD, x_real, y_real, nz)
    for _ in range(nb_update_G):
        loss_g = R.g_step(netD, netG, optimizerG, y_real, nz)
    return loss_d, loss_g


class ConstLabel(nn.Module):
    """A G or D that ignores y: the wrapped network is always called with the label 0."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner

    def forward(self, x, y):
        y0 = torch.zeros_like(y.reshape(y.size(0), R.n_classes, 1, 1))
        y0[:, 0] = 1
        return self.inner(x, y0)


def make_optimizers_lr_x100(netD, netG):
    return R.make_optimizers(netD, netG, lr=R.lr * 100)


def build(model, variant, seed):
    """(make_netD, make_netG, train_step, make_optimizers) for one run; the trainer builds the
    networks after seeding with `seed`. (The results in results/ were measured when this function
    seeded and built the networks itself, before the trainer did so.)"""
    netD, netG = MODELS[model]
    step, make_opt = R.train_step, R.make_optimizers
    if variant == "g_frozen":
        step = step_g_frozen
    elif variant == "d_frozen":
        step = step_d_frozen
    elif variant == "d_random_labels":
        step = step_d_random_labels
    elif variant == "g_ignores_y":
        netG = lambda: ConstLabel(MODELS[model][1]())  # noqa: E731
    elif variant == "lr_x100":
        make_opt = make_optimizers_lr_x100
    elif variant != "reference":
        raise ValueError(variant)
    return netD, netG, step, make_opt


# ----------------------------------------------------------------------------- helpers
def append(path, record):
    with open(path, "a") as f:
        f.write(json.dumps(record) + "\n")


def sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def metrics(samples, sample_labels, real, device):
    from autograder.metric_accuracy import conditional_accuracy
    from autograder.metric_fid import fid

    t = time.perf_counter()
    out = {"nonfinite_samples": int((~torch.isfinite(samples)).sum())}
    try:
        out["fid"] = float(fid(samples, real, device=device))
    except Exception as e:  # e.g. NaN samples from a diverged run
        out["fid"], out["fid_error"] = None, f"{type(e).__name__}: {e}"[:300]
    try:
        out["acc"] = float(conditional_accuracy(samples, sample_labels, device=device))
    except Exception as e:
        out["acc"], out["acc_error"] = None, f"{type(e).__name__}: {e}"[:300]
    out["metric_seconds"] = time.perf_counter() - t
    return out


def loss_summary(losses_d, losses_g, last=100):
    def tail(v):
        v = [float(a) for a in v[-last:]]
        return sum(v) / len(v) if v else None
    return {"loss_d_tail": tail(losses_d), "loss_g_tail": tail(losses_g)}


# ----------------------------------------------------------------------------- one sweep job
_W = {}


def worker_init(args_dict, t_pool):
    torch.set_num_threads(args_dict["threads"])
    device = args_dict["device"]
    if torch.device(device).type == "cuda":
        torch.zeros(1, device=device)
        torch.cuda.synchronize()
    from autograder.data import mnist
    import autograder.metric_fid  # noqa: F401  (torch-fidelity, the LeNet registration)

    real, labels = mnist()
    _W.update(args=args_dict, real=real, labels=labels)
    append(args_dict["out"], {"type": "worker_start", "pid": os.getpid(),
                              "seconds_spawn_to_ready": time.time() - t_pool})


def run_job(job):
    from autograder.trainer import sample_per_class, train_cgan

    a = _W["args"]
    if time.time() > a["start_deadline"]:
        append(a["out"], {"type": "skipped", **job})
        return job, "skipped"
    device, spc, nz = a["device"], a["spc"], R.nz
    model, variant, seed, iterations = job["model"], job["variant"], job["seed"], job["iterations"]
    checkpoints = sorted(c for c in job["budgets"] if c < iterations)
    netD, netG, step, make_opt = build(model, variant, seed)
    state = {"n": 0, "snap_seconds": 0.0, "ld": [], "lg": []}
    common = {"type": "run", "model": model, "variant": variant, "seed": seed, "spc": spc,
              "workers": a["workers"], "pid": os.getpid()}
    t0 = time.perf_counter()

    def snapshot_step(netD_, netG_, optD, optG, x, y, **kw):
        loss_d, loss_g = step(netD_, netG_, optD, optG, x, y, **kw)
        state["n"] += 1
        state["ld"].append(loss_d.detach().reshape(()))
        state["lg"].append(loss_g.detach().reshape(()))
        del state["ld"][:-100], state["lg"][:-100]
        if state["n"] in checkpoints:
            sync(device)
            ts = time.perf_counter()
            train_s = ts - t0 - state["snap_seconds"]
            samples, sample_labels = sample_per_class(netG_, nz, R.n_classes, spc, device)
            rec = {**common, "iterations": state["n"], "snapshot": True, "train_seconds": train_s,
                   "ms_per_iter": 1000 * train_s / state["n"],
                   **loss_summary(torch.stack(state["ld"]).cpu().tolist(),
                                  torch.stack(state["lg"]).cpu().tolist()),
                   **metrics(samples, sample_labels, _W["real"], device)}
            append(a["out"], rec)
            sync(device)
            state["snap_seconds"] += time.perf_counter() - ts
        return loss_d, loss_g

    try:
        res = train_cgan(netD, netG, train_step=snapshot_step, make_optimizers=make_opt,
                         weights_init=R.weights_init, images=_W["real"], labels=_W["labels"],
                         iterations=iterations, batch_size=a["batch_size"], seed=seed, device=device,
                         nz=nz, samples_per_class=spc)
        wall = time.perf_counter() - t0
        train_s = res.seconds - state["snap_seconds"]
        rec = {**common, "iterations": iterations, "snapshot": False, "train_seconds": train_s,
               "ms_per_iter": 1000 * train_s / iterations, "run_wall_seconds": wall,
               "snapshot_seconds": state["snap_seconds"],
               **loss_summary(res.losses_d, res.losses_g),
               **metrics(res.samples, res.sample_labels, _W["real"], device)}
        rec["job_wall_seconds"] = time.perf_counter() - t0
        append(a["out"], rec)
        return job, "done"
    except Exception as e:
        append(a["out"], {**common, "iterations": iterations, "error": f"{type(e).__name__}: {e}"[:500]})
        return job, "error"


# ----------------------------------------------------------------------------- overhead comparison
def plain_loop(model, seed, iterations, images, labels, device, batch_size=128, nz=R.nz,
               spc=500, reference_step=False, deterministic=False):
    """A hand-written loop, no harness: data and one-hot labels resident on the device, batch indices
    drawn on the device. reference_step=False: pytorch/examples' DCGAN loop (G's fakes reused for
    G's step, two D backward passes); True: the reference train_step called in a bare loop."""
    from autograder.trainer import sample_per_class

    torch.backends.cudnn.deterministic = deterministic
    torch.backends.cudnn.benchmark = False
    make_netD, make_netG, _, _ = build(model, "reference", seed)
    torch.manual_seed(seed)
    netD, netG = make_netD().to(device), make_netG().to(device)
    netD.apply(R.weights_init)
    netG.apply(R.weights_init)
    optD, optG = R.make_optimizers(netD, netG)
    x_all = images.to(device)
    y_all = F.one_hot(labels.to(device), R.n_classes).float().view(-1, R.n_classes, 1, 1)
    criterion = nn.BCELoss()
    ones = torch.ones(batch_size, device=device)
    zeros = torch.zeros(batch_size, device=device)
    sync(device)
    t0 = time.perf_counter()
    for _ in range(iterations):
        idx = torch.randint(len(x_all), (batch_size,), device=device)
        x, y = x_all[idx], y_all[idx]
        if reference_step:
            R.train_step(netD, netG, optD, optG, x, y, nz=nz)
            continue
        netD.zero_grad()
        out = netD(x, y).view(-1)
        errD_real = criterion(out, ones)
        errD_real.backward()
        z = torch.randn(batch_size, nz, 1, 1, device=device)
        fake = netG(z, y)
        out = netD(fake.detach(), y).view(-1)
        errD_fake = criterion(out, zeros)
        errD_fake.backward()
        optD.step()
        netG.zero_grad()
        out = netD(fake, y).view(-1)
        errG = criterion(out, ones)
        errG.backward()
        optG.step()
    samples, sample_labels = sample_per_class(netG, nz, R.n_classes, spc, device)
    sync(device)
    return time.perf_counter() - t0, samples, sample_labels


def compare(args, images, labels):
    from autograder.trainer import train_cgan

    model, iters, dev = "cdcgan", args.compare_iters, args.device
    # warm-up (kernels loaded, allocator grown), untimed
    netD, netG, step, mk = build(model, "reference", 0)
    train_cgan(netD, netG, train_step=step, make_optimizers=mk, weights_init=R.weights_init,
               images=images, labels=labels, iterations=min(30, iters), device=dev, samples_per_class=10)
    plain_loop(model, 0, min(30, iters), images, labels, dev, spc=10)
    plan = []
    for seed in range(args.compare_seeds):
        plan += [("trainer", seed), ("plain_dcgan_loop", seed)]
    plan += [("bare_reference_step_det", 0), ("bare_reference_step_nondet", 0)]
    for loop, seed in plan:
        if time.time() > args.compare_deadline:
            append(args.out, {"type": "compare_skipped", "loop": loop, "seed": seed})
            continue
        if loop == "trainer":
            netD, netG, step, mk = build(model, "reference", seed)
            res = train_cgan(netD, netG, train_step=step, make_optimizers=mk, weights_init=R.weights_init,
                             images=images, labels=labels, iterations=iters, seed=seed, device=dev,
                             samples_per_class=args.spc)
            seconds, samples, sl = res.seconds, res.samples, res.sample_labels
        else:
            seconds, samples, sl = plain_loop(
                model, seed, iters, images, labels, dev, spc=args.spc,
                reference_step=loop.startswith("bare"), deterministic=loop.endswith("_det"))
        rec = {"type": "compare", "loop": loop, "model": model, "seed": seed, "iterations": iters,
               "seconds": seconds, "ms_per_iter": 1000 * seconds / iters,
               **metrics(samples, sl, images, dev)}
        append(args.out, rec)
        print(json.dumps(rec), flush=True)


# ----------------------------------------------------------------------------- main
def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=os.path.join(os.environ.get("OUT", "."), "calibration.jsonl"))
    p.add_argument("--device", default="cuda")
    p.add_argument("--models", default="cdcgan,fc")
    p.add_argument("--budgets", default="500,1000,1500,2000", help="snapshot budgets; the largest is trained")
    p.add_argument("--seeds", type=int, default=10, help="reference seeds 0..N-1 (first priority)")
    p.add_argument("--seed-start", type=int, default=0, help="first reference seed")
    p.add_argument("--broken-seed-start", type=int, default=0, help="first seed of each broken variant")
    p.add_argument("--extra-seeds", type=int, default=10, help="more reference seeds, run last if time allows")
    p.add_argument("--broken", default=",".join(BROKEN))
    p.add_argument("--broken-seeds", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--spc", type=int, default=500, help="samples per class (500 -> 5,000 generated)")
    p.add_argument("--workers", type=int, default=10)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads per worker")
    p.add_argument("--compare-iters", type=int, default=1000)
    p.add_argument("--compare-seeds", type=int, default=2)
    p.add_argument("--start-deadline", type=float, default=480, help="s after T_SHELL: no job starts later")
    p.add_argument("--hard-deadline", type=float, default=565, help="s after T_SHELL: the pool is stopped")
    p.add_argument("--compare-deadline", type=float, default=150, help="s after T_SHELL: comparison stops")
    args = p.parse_args()
    args.start_deadline += T_SHELL
    args.hard_deadline += T_SHELL
    args.compare_deadline += T_SHELL
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)

    dev = args.device
    if torch.device(dev).type == "cuda":
        torch.zeros(1, device=dev)
        torch.cuda.synchronize()
    t_cuda = time.time()
    from autograder.data import mnist
    import autograder.metric_fid  # noqa: F401
    t_harness = time.time()
    images, labels = mnist()
    t_data = time.time()
    meta = {"type": "startup", "seconds_shell_to_python": T_PY - T_SHELL,
            "seconds_import_torch": T_TORCH - T_PY, "seconds_cuda_init": t_cuda - T_TORCH,
            "seconds_import_harness": t_harness - t_cuda, "seconds_mnist": t_data - t_harness,
            "seconds_shell_to_cuda_ready": t_cuda - T_SHELL, "torch": torch.__version__,
            "device_name": torch.cuda.get_device_name() if torch.device(dev).type == "cuda" else "cpu",
            "args": vars(args)}
    append(args.out, meta)
    print(json.dumps(meta), flush=True)

    if args.compare_iters > 0 and args.compare_seeds > 0:
        compare(args, images, labels)

    models = [m for m in args.models.split(",") if m]
    budgets = sorted(int(b) for b in args.budgets.split(","))
    broken = [b for b in args.broken.split(",") if b]
    top = budgets[-1]
    jobs, s0 = [], args.seed_start
    # priority order (the pool hands jobs out in this order): every model's reference seeds, then
    # the broken variants, then extra reference seeds as filler until the start deadline
    for model in models:
        jobs += [dict(model=model, variant="reference", seed=s) for s in range(s0, s0 + args.seeds)]
    for model in models:
        jobs += [dict(model=model, variant=v, seed=s) for v in broken
                 for s in range(args.broken_seed_start, args.broken_seed_start + args.broken_seeds)]
    for model in models:
        jobs += [dict(model=model, variant="reference", seed=s)
                 for s in range(s0 + args.seeds, s0 + args.seeds + args.extra_seeds)]
    for j in jobs:
        j.update(iterations=top, budgets=budgets)
    print(f"{len(jobs)} jobs, {args.workers} workers", flush=True)

    import multiprocessing as mp
    wargs = {k: getattr(args, k) for k in ("out", "device", "spc", "batch_size", "threads", "workers",
                                           "start_deadline")}
    ctx = mp.get_context("spawn")
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    pool = ctx.Pool(args.workers, initializer=worker_init, initargs=(wargs, time.time()))
    it = pool.imap_unordered(run_job, jobs, chunksize=1)
    counts = {}
    try:
        for _ in jobs:
            remaining = args.hard_deadline - time.time()
            if remaining <= 0:
                raise mp.TimeoutError
            job, status = it.next(timeout=remaining)
            counts[status] = counts.get(status, 0) + 1
            print(f"{time.time() - T_SHELL:6.0f}s {status} {job['model']} {job['variant']} {job['seed']}",
                  flush=True)
        pool.close()
    except mp.TimeoutError:
        print("hard deadline: stopping the pool", flush=True)
        pool.terminate()
    pool.join()
    end = {"type": "end", "seconds_since_shell": time.time() - T_SHELL, "job_status": counts, "jobs": len(jobs)}
    append(args.out, end)
    print(json.dumps(end), flush=True)


if __name__ == "__main__":
    main()
