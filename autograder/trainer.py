"""The short-run trainer: trains given models with given step functions, deterministically.

It belongs to the harness, not to the answers: the grader trains a student's networks with the
student's own `train_step`, and the reference is trained by the very same loop, so the two
results differ only by what the student wrote. Data stays resident on the device and batches
are drawn by index from a seeded generator.

On CUDA the loop is launch-bound (shared/MEASUREMENTS.md): the CPU spends longer queueing the
step's hundred-odd kernels than the GPU spends running them. With `capture=True` the student's
`train_step` is recorded once as a CUDA graph and replayed, which queues the whole iteration at
once; a step that cannot be recorded (it reads a value back to the CPU with `.item()`, copies from
the CPU, or behaves differently from one call to the next) is run as it is, eagerly.
"""
import contextlib
import contextvars
import os
import time
import warnings
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

CAPTURE_WARMUP = 3  # eager iterations before recording: they create the optimizer's state, cuBLAS handles...


@dataclass
class TrainResult:
    losses_d: list = field(default_factory=list)
    losses_g: list = field(default_factory=list)
    samples: torch.Tensor = None  # (n_classes * per_class, C, H, W) on the CPU, class-major
    sample_labels: torch.Tensor = None
    seconds: float = 0.0
    iterations: int = 0
    nondeterministic: list = field(default_factory=list)  # ops PyTorch has no deterministic kernel for
    loop: str = "eager"  # "cuda graph", or "eager" and why when capture was asked for


def seed_everything(seed, deterministic=True):
    """Seed torch's CPU and CUDA generators; ask for deterministic kernels where PyTorch has them."""
    torch.manual_seed(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


@contextlib.contextmanager
def torch_threads(threads):
    """Train with `threads` intra-op CPU threads (None: leave torch's setting), then restore it.

    A CPU matrix product splits its sums across threads, so the thread count changes the last bits
    of every result, and GAN training amplifies them into a different run (benchmarks/README.md): the
    grader fixes the count itself, so that every front end (pytest, sandbox, notebook, batch) trains
    the same run whatever the machine's core count or OMP_NUM_THREADS."""
    before = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@contextlib.contextmanager
def deterministic_algorithms(found):
    """torch.use_deterministic_algorithms while training, in warn-only mode: an op without a
    deterministic kernel (a student may use one) still runs, and its name is appended to `found`
    (recorded with the result) instead of being printed. cuBLAS needs its workspace setting before
    its first use for deterministic matrix products on CUDA."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    before = (torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled())
    torch.use_deterministic_algorithms(True, warn_only=True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            yield
    finally:
        torch.use_deterministic_algorithms(before[0], warn_only=before[1])
        found += sorted({str(w.message).split(" does not have a deterministic")[0] for w in caught
                         if "deterministic" in str(w.message)})


def _to_scalar_tensor(loss):
    return loss.detach().reshape(()) if torch.is_tensor(loss) else torch.tensor(float(loss))


# Who hears a training run's progress, each tenth of the run: a function (done, total, elapsed
# seconds; report.printed_to makes one) set by a front end that shows it (the notebook's check
# cell, the demo, and through the sandbox's pipes `pytest autograder` and `grade`); None: nobody.
progress = contextvars.ContextVar("progress", default=None)


def train_cgan(make_netD, make_netG, *, train_step, make_optimizers, weights_init=None, images, labels,
               iterations, batch_size=128, seed=0, device="cpu", nz=100, nb_update_D=1,
               nb_update_G=1, n_classes=10, samples_per_class=100, capture=False, threads=None):
    """Train a conditional GAN for `iterations` calls of `train_step` and sample every class.

    make_netD / make_netG are the network classes (or any factories): they are built after
    seeding, so that the layers weights_init leaves alone (Linear layers, biases) start the same
    for a given seed too, and a run is reproducible from its seed.

    `train_step(netD, netG, optimizerD, optimizerG, x, y_onehot, nz=, nb_update_D=, nb_update_G=)`
    is the course's API (reference/part2_cgan.py). Losses are kept on the device and copied once
    at the end, so the loop adds no host synchronisation of its own. `capture` (CUDA only): replay
    the step as a CUDA graph where it allows it (module docstring, `capture_step`). `threads`: the
    CPU thread count to train and sample with (`torch_threads`).
    """
    nondeterministic = []
    capture = capture and torch.device(device).type == "cuda" and iterations > CAPTURE_WARMUP
    with deterministic_algorithms(nondeterministic), torch_threads(threads):
        seed_everything(seed)
        netD, netG = make_netD().to(device), make_netG().to(device)
        if weights_init is not None:
            netD.apply(weights_init)
            netG.apply(weights_init)
        optimizerD, optimizerG = make_optimizers(netD, netG)
        if capture:
            make_capturable(optimizerD, optimizerG)
        images = images.to(device)
        onehots = F.one_hot(labels.long(), n_classes).float().view(-1, n_classes, 1, 1).to(device)
        # Every batch's indices drawn at once: the same numbers as one draw per iteration.
        batches = torch.randint(len(images), (iterations, batch_size),
                                generator=torch.Generator().manual_seed(seed)).to(device)
        # The step's inputs, refilled in place each iteration: a graph reads them where they are.
        x, y = images.new_empty(batch_size, *images.shape[1:]), onehots.new_empty(batch_size, *onehots.shape[1:])
        losses = torch.zeros(iterations, 2, device=device)

        def load_batch(i):
            torch.index_select(images, 0, batches[i], out=x)
            torch.index_select(onehots, 0, batches[i], out=y)

        def step():
            loss_d, loss_g = train_step(netD, netG, optimizerD, optimizerG, x, y, nz=nz,
                                        nb_update_D=nb_update_D, nb_update_G=nb_update_G)
            return _to_scalar_tensor(loss_d), _to_scalar_tensor(loss_g)

        netD.train()
        netG.train()
        start = time.perf_counter()
        heard, every = progress.get(), max(1, iterations // 10)

        def tick(i):
            if heard is not None and ((i + 1) % every == 0 or i + 1 == iterations):
                heard(i + 1, iterations, time.perf_counter() - start)

        first = CAPTURE_WARMUP if capture else iterations
        with side_stream(capture):  # warm-up belongs on a side stream, as torch.cuda.graph's own capture
            for i in range(first):
                load_batch(i)
                losses[i, 0], losses[i, 1] = step()
                tick(i)
        graph, loop = None, "eager"
        for i in range(first, iterations):
            load_batch(i)
            if graph is not None:
                graph.replay()
            elif i == first:
                graph, outputs, loop = capture_step(step, (netD, netG), (optimizerD, optimizerG))
            else:
                outputs = step()
            losses[i, 0], losses[i, 1] = outputs
            tick(i)
        samples, sample_labels = sample_per_class(netG, nz, n_classes, samples_per_class, device)
        if torch.device(device).type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    losses = losses.cpu()
    return TrainResult(losses_d=losses[:, 0].tolist(), losses_g=losses[:, 1].tolist(), samples=samples,
                       sample_labels=sample_labels, seconds=seconds, iterations=iterations,
                       nondeterministic=nondeterministic, loop=loop)


def make_capturable(*optimizers):
    """Keep the optimizers' step counts on the GPU (Adam's `capturable`), where a graph can update them."""
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            if "capturable" in group:
                group["capturable"] = True


@contextlib.contextmanager
def side_stream(enabled):
    """Run the block on a fresh CUDA stream that starts after the current stream's work and that
    the current stream then waits for (torch.cuda.graph's stream discipline)."""
    if not enabled:
        yield
        return
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        yield
    torch.cuda.current_stream().wait_stream(stream)


def capture_step(step, networks, optimizers):
    """Record one call of `step` as a CUDA graph and make sure replaying it is that call.

    Returns (graph or None, the loss tensors of one iteration, how the loop runs). Exactly one
    training iteration is done, whatever happens: the replay that is checked, or an eager call
    from the state restored. A graph replays the kernels the step queued once, so the Python side
    of later calls never runs: recording fails on a host read-back or copy (`.item()`, a tensor
    made on the CPU), and a step that changes from call to call (a counter, a schedule) is caught
    by comparing one replay with one eager call from the same state, parameters, buffers and losses."""
    state = RestorableState(networks, optimizers)
    graph = torch.cuda.CUDAGraph()
    try:
        outputs = record(graph, step)
    except Exception as exc:  # the student's code cannot be recorded: it runs as it is
        state.restore(after_failed_recording=True)
        return None, step(), f"eager: the step could not be recorded as a CUDA graph ({_first_line(exc)})"
    state.restore()  # the recording ran no kernel, but its Python side may have (zero_grad(set_to_none))
    eager = step()
    eager_after = trained_values(networks)
    state.restore()
    graph.replay()
    if not (all(torch.allclose(a, b, rtol=1e-4, atol=1e-6) for a, b in zip(eager, outputs)) and
            all(torch.allclose(a, b, rtol=1e-5, atol=1e-6) for a, b in zip(eager_after, trained_values(networks)))):
        state.restore()
        return None, step(), "eager: replaying the recorded step did not do what calling it does"
    return graph, outputs, "cuda graph"


def record(graph, step):
    """Record `step` into `graph`, returning what it returned (tensors a replay refills): as
    torch.cuda.graph does, with its stream left however the step fails (the context
    manager skips restoring the stream when the capture's end raises)."""
    torch.cuda.synchronize()
    with side_stream(True):
        graph.capture_begin()
        try:
            outputs = step()
        finally:
            graph.capture_end()
    return outputs


def trained_tensors(networks):
    """What training changes in the networks: their parameters and buffers (BatchNorm's statistics)."""
    return [t for net in networks for t in (*net.parameters(), *net.buffers())]


def trained_values(networks):
    return [t.detach().clone() for t in trained_tensors(networks)]


class RestorableState:
    """A copy of everything one training step changes: parameters, buffers, gradients, optimizer
    state and the random generators, to put back in place (the graph holds their addresses)."""

    def __init__(self, networks, optimizers):
        tensors = trained_tensors(networks)
        tensors += [p.grad for net in networks for p in net.parameters() if p.grad is not None]
        tensors += [v for opt in optimizers for s in opt.state.values() for v in s.values() if torch.is_tensor(v)]
        self.tensors = tensors
        self.saved = [t.detach().clone() for t in tensors]
        self.rng = torch.get_rng_state(), torch.cuda.get_rng_state()

    @torch.no_grad()
    def restore(self, after_failed_recording=False):
        for tensor, saved in zip(self.tensors, self.saved):
            tensor.copy_(saved)
        torch.set_rng_state(self.rng[0])
        if after_failed_recording:
            # A recording that CUDA refused ends before PyTorch closes the generator's capture, which
            # would then refuse every random draw: the default generator gets a fresh state.
            fresh = torch.Generator(device="cuda")
            fresh.set_state(self.rng[1])
            torch.cuda.default_generators[torch.cuda.current_device()].graphsafe_set_state(fresh)
        else:
            torch.cuda.set_rng_state(self.rng[1])


def _first_line(exc):
    """The error the student's code raised: a failed recording re-raises at its end, chained to it."""
    while exc.__context__ is not None:
        exc = exc.__context__
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"[:200]


@torch.no_grad()
def sample_per_class(netG, nz, n_classes=10, per_class=100, device="cpu", chunk=500):
    """Generate `per_class` images of every class with G in eval mode (BatchNorm running stats)."""
    netG.eval()
    sample_labels = torch.arange(n_classes, device=device).repeat_interleave(per_class)
    out = []
    for part in sample_labels.split(chunk):
        z = torch.randn(len(part), nz, 1, 1, device=device)
        y = F.one_hot(part, n_classes).float().view(-1, n_classes, 1, 1)
        out.append(netG(z, y).reshape(len(part), 1, 32, 32).float().cpu())
    netG.train()
    return torch.cat(out), sample_labels.cpu()
