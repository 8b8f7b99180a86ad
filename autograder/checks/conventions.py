"""The student's conventions, found once from the student's own networks and used by every check.

A correct submission may shape its discriminator's output (B, 1, 1, 1), (B, 1) or (B,) and build its
targets in that shape (torch.full((b,), 1.0), torch.ones_like(output)...), with nn.BCELoss or
F.binary_cross_entropy inside d_loss, g_loss and the steps (only `bce` itself must be written by
hand). So the loss, step and training checks give the student's functions D outputs shaped as the
student's own D returns them: a loss written for that shape works, and a loss that only works for
another shape than the student's own D gives is the loss's mistake. When no discriminator of the
student's tells its shape (a broken D is the architecture checks' business), the shapes the contract
allows are tried in turn.

`BCECalls` records the calls of torch's BCE functions (the shapes and dtypes of their inputs and
targets): the bce check refuses them, and the other checks explain a loss that raised inside one.
"""
import contextlib
import signal
import threading

import torch
from torch.overrides import TorchFunctionMode

from autograder.checks.course import N_CLASSES
from autograder.checks.diagnose import correct_onehot
from autograder.checks.registry import CheckFailure, raised
from autograder.tracing import shape_text

BATCH = 16
DISCRIMINATORS = {"part1_dcgan": (("Discriminator",), (3, 32, 32), False),
                  "part2_cgan": (("cGANDiscriminator", "cDCGANDiscriminator"), (1, 32, 32), True)}
# The shapes a discriminator's output may take (ASSIGNMENT.md, "Equivalent forms"), without the batch:
# tried in turn when the student's own discriminator cannot tell.
D_SHAPES = ((1, 1, 1), (1,), ())
# How long a student's discriminator may take to say its output shape (a small batch on the CPU takes
# milliseconds): one that hangs is the architecture checks' to charge, not the steps'.
SHAPE_PROBE_SECONDS = 2


@contextlib.contextmanager
def _time_limit(seconds):
    """TimeoutError in the block after `seconds`, where a signal can say so (the main thread: a
    check's child, the notebook's kernel); elsewhere the block runs unbounded."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum, frame):
        raise TimeoutError(f"did not finish within {seconds} s")
    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def own_d_shapes(submission, part):
    """{output shape without batch: the student's discriminator classes giving it}, from the part's
    discriminators that build and return one value per image; empty when none does."""
    names, image, conditional = DISCRIMINATORS[part]
    namespace, shapes = submission.parts[part].namespace, {}
    for name in names:
        cls = namespace.get(name)
        if not isinstance(cls, type):
            continue
        try:
            with _time_limit(SHAPE_PROBE_SECONDS), torch.random.fork_rng(), torch.no_grad():
                x = torch.rand(BATCH, *image) * 2 - 1
                out = cls()(x, correct_onehot(torch.arange(BATCH) % N_CLASSES)) if conditional else cls()(x)
        except Exception:  # noqa: BLE001 - this D cannot say its shape (raises, hangs); its own checks say why
            continue
        if torch.is_tensor(out) and out.dim() >= 1 and out.size(0) == BATCH and out.numel() == BATCH:
            shapes.setdefault(tuple(out.shape[1:]), []).append(name)
    return shapes


def given_as(shape, names, what="the step was given a netD that returns"):
    """How a message says which convention the student's function was run in."""
    return (f"{what} {shape_text(shape)}, as your {' and '.join(names)} does: it must accept the shape of your "
            "discriminator's output")


def in_d_shapes(submission, part, attempt, failed=lambda records: False, what=None):
    """attempt(shape) -> records, run with D's outputs shaped like each of the student's discriminators':
    it must work with every one of them; the first records that `failed` (or raised) are returned to be
    judged, else the first records. Without a discriminator that tells its shape, the contract's shapes
    are tried in turn and the first records that work are returned (else the first failure)."""
    own = own_d_shapes(submission, part)
    if own:
        first = None
        for shape, names in own.items():
            bce = BCECalls()
            try:
                with bce:
                    records = attempt(shape)
            except CheckFailure:
                raise
            except Exception as exc:  # noqa: BLE001 - the student's error, told with the shape that caused it
                mistake = bce_call_mistake(bce.calls)
                raise CheckFailure(f"{raised(exc)} ({given_as(shape, names, *([what] if what else []))})"
                                   + (f": {mistake}" if mistake else "")) from None
            if failed(records):
                return records
            first = first or records
        return first
    first_error, first_failed = None, None
    for shape in D_SHAPES:
        try:
            records = attempt(shape)
        except CheckFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - tried with the next shape the contract allows
            first_error = first_error or exc
            continue
        if not failed(records):
            return records
        first_failed = first_failed or records
    if first_failed is not None:
        return first_failed
    raise first_error


def shaped(tensor, shape):
    """tensor's values as a batch of D outputs shaped (B, *shape)."""
    return tensor.reshape(-1, *shape)


class BCECalls(TorchFunctionMode):
    """Records torch's BCE functions called inside the block, however they are reached
    (F.binary_cross_entropy under any alias, nn.BCELoss, the with-logits forms, torch._C's kernels):
    their names, and the shape and dtype of the input and target of each call."""

    def __init__(self):
        super().__init__()
        self.names, self.calls = [], []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = f"{getattr(func, '__module__', None) or 'torch'}.{getattr(func, '__name__', func)}"
        if "binary_cross_entropy" in name:
            if name not in self.names:
                self.names.append(name)
            tensors = [a for a in list(args[:2]) + [kwargs.get("target")] if torch.is_tensor(a)]
            if len(tensors) >= 2:
                self.calls.append({"input": (tuple(tensors[0].shape), str(tensors[0].dtype)),
                                   "target": (tuple(tensors[1].shape), str(tensors[1].dtype))})
        return func(*args, **kwargs)


def bce_nodes(tensor):
    """Names of torch's BCE backward nodes in the autograd graph that made tensor: a call that
    torch._C.DisableTorchFunction() hid from BCECalls still leaves its node there."""
    names, seen, stack = [], set(), [getattr(tensor, "grad_fn", None)]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        name = type(node).__name__
        if "BinaryCrossEntropy" in name and name not in names:
            names.append(name)
        stack.extend(next_node for next_node, _ in getattr(node, "next_functions", ()))
    return names


def bce_call_mistake(calls):
    """The mistake in the recorded BCE calls that makes torch refuse them, in words; None if none."""
    for c in calls:
        (in_shape, in_dtype), (t_shape, t_dtype) = c["input"], c["target"]
        if not t_dtype.startswith("torch.float") and t_dtype != "torch.bfloat16":
            return (f"the targets given to torch's BCE have dtype {t_dtype}, D's outputs {in_dtype}: BCE needs "
                    "float targets (torch.full((b,), 1.0), torch.ones_like(output), or dtype=torch.float; "
                    "torch.full((b,), 1) and torch.ones(b, dtype=torch.long) make integers)")
        if tuple(in_shape) != tuple(t_shape):
            return (f"the targets given to torch's BCE are shaped {tuple(t_shape)} for D's outputs shaped "
                    f"{tuple(in_shape)}: torch's BCE wants them of the same shape (build the targets with "
                    "torch.ones_like(output) / torch.zeros_like(output), or flatten the output with .view(-1))")
    return None
