"""Record a network's layers from what its forward pass computes, whatever the coding style.

A TorchFunctionMode sees every torch call made during forward: F.conv2d, F.batch_norm,
F.leaky_relu, torch.cat... whether they come from nn.Sequential, explicit modules or functional
code. Tensors are followed through the dataflow, so parallel branches are recognised by the
input they start from (their order in the code does not matter) and reshapes are transparent
(flattening D's output or G's is a matter of style, not of architecture).

The result is a list of sections ("x branch", "y branch", "trunk", or just "main"), each a list
of layers: {"op", "shape", **hyperparameters}. The expected tables in autograder/expected/ are
produced by the same function from the reference, so both sides are read the same way.
"""
import torch
from torch.overrides import TorchFunctionMode

# Calls that only move or reshape data: the output stands for the same layer as the input.
TRANSPARENT = {
    "view", "reshape", "flatten", "unflatten", "expand", "expand_as", "broadcast_to", "squeeze",
    "unsqueeze", "contiguous", "repeat", "tile", "permute", "transpose", "__getitem__", "to", "float",
    "type", "clone", "chunk", "split", "narrow", "unbind", "view_as", "reshape_as", "cpu", "cuda",
}
# Calls whose output does not depend on the values of their tensor input.
FACTORIES = {"randn_like", "rand_like", "zeros_like", "ones_like", "full_like", "empty_like",
             "normal", "new_zeros", "new_ones", "new_empty", "new_full", "new_tensor", "size", "dim"}
# Positional parameter names of the calls whose hyperparameters are checked.
TORCH_BN_EPS = 1e-5  # nn.BatchNorm*'s default eps

SIGNATURES = {
    "conv2d": ("input", "weight", "bias", "stride", "padding", "dilation", "groups"),
    "conv_transpose2d": ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation"),
    "linear": ("input", "weight", "bias"),
    "batch_norm": ("input", "running_mean", "running_var", "weight", "bias", "training", "momentum", "eps"),
    "leaky_relu": ("input", "negative_slope", "inplace"),
    "cat": ("tensors", "dim"),
}
ALIASES = {"concat": "cat", "concatenate": "cat", "leaky_relu_": "leaky_relu", "relu_": "relu",
           "sigmoid_": "sigmoid", "tanh_": "tanh"}
FULL_SHAPE_OPS = {"conv2d", "conv_transpose2d"}


def _op_name(func):
    name = getattr(func, "__name__", str(func))
    return ALIASES.get(name, name)


def _tensors_in(obj):
    if torch.is_tensor(obj):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _tensors_in(item)


def _single(value):
    """(2, 2) -> 2; keeps non-uniform tuples as lists so the result is JSON-friendly."""
    if isinstance(value, (list, tuple)):
        return value[0] if len(set(value)) == 1 else list(value)
    return value


def _hyperparameters(op, args, kwargs):
    bound = dict(zip(SIGNATURES.get(op, ()), args), **kwargs)
    if op in ("conv2d", "conv_transpose2d"):
        weight = bound["weight"]
        groups = bound.get("groups", 1)
        c_in, c_out = (weight.shape[1] * groups, weight.shape[0]) if op == "conv2d" else (
            weight.shape[0], weight.shape[1] * groups)
        return {"in": c_in, "out": c_out, "kernel": _single(tuple(weight.shape[2:])),
                "stride": _single(bound.get("stride", 1)), "padding": _single(bound.get("padding", 0)),
                "bias": bound.get("bias") is not None}
    if op == "linear":
        weight = bound["weight"]
        return {"in": weight.shape[1], "out": weight.shape[0], "bias": bound.get("bias") is not None}
    if op == "batch_norm":
        return {"features": bound["input"].shape[1], "eps": float(bound.get("eps", TORCH_BN_EPS))}
    if op == "leaky_relu":
        return {"slope": round(float(bound.get("negative_slope", 0.01)), 6)}
    if op == "cat":
        ndim = next(_tensors_in(bound["tensors"])).dim()
        return {"dim": int(bound.get("dim", 0)) % max(ndim, 1)}
    return {}


class _Node:
    def __init__(self, op, inputs, shape=None, params=None, name=None):
        self.op, self.inputs, self.shape, self.params, self.name = op, inputs, shape, params or {}, name
        self.sources = set()


class FailedTrace(Exception):
    """The forward pass raised in a traced layer. `sections` are the layers up to it, the failing one last
    in its section with "failed": True and "input" (the shapes it was given, without the batch); the
    student's exception is the __cause__."""

    def __init__(self, sections):
        super().__init__("the forward pass raised")
        self.sections = sections


class _Recorder(TorchFunctionMode):
    def __init__(self, inputs):
        super().__init__()
        self.failure = None  # the last traced call that raised
        self.nodes = []
        self.node_of = {}  # id(tensor) -> node index
        self.keep_alive = []  # holds traced tensors so their ids are not reused mid-trace
        for name, tensor in inputs.items():
            self._bind(tensor, self._add(_Node("input", [], tuple(tensor.shape), name=name)))
            self.nodes[-1].sources = {name}

    def _add(self, node):
        self.nodes.append(node)
        return len(self.nodes) - 1

    def _bind(self, tensor, index):
        self.node_of[id(tensor)] = index
        self.keep_alive.append(tensor)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        op = _op_name(func)
        tracked = []
        for t in _tensors_in(list(args) + list(kwargs.values())):
            index = self.node_of.get(id(t))
            if index is not None and index not in tracked:
                tracked.append(index)
        try:
            out = func(*args, **kwargs)
        except Exception:
            if tracked:
                self._record_failure(op, tracked, args, kwargs)
            raise
        outputs = list(_tensors_in(out))
        if not tracked or not outputs or op in FACTORIES:
            return out
        first_in = next(t for t in _tensors_in(list(args) + list(kwargs.values())) if id(t) in self.node_of)
        expands = outputs[0].numel() > first_in.numel() and not any(
            isinstance(t, torch.nn.Parameter) for t in _tensors_in(args))
        if len(tracked) == 1 and (op in TRANSPARENT or expands):
            index = tracked[0]  # reshapes and broadcast expansions stand for their input
        else:
            node = _Node(op, tracked, tuple(outputs[0].shape), _hyperparameters(op, args, kwargs))
            node.sources = set().union(*(self.nodes[i].sources for i in tracked))
            index = self._add(node)
        for t in outputs:
            self._bind(t, index)
        return out

    def _record_failure(self, op, tracked, args, kwargs):
        try:
            params = _hyperparameters(op, args, kwargs)
        except Exception:  # noqa: BLE001 - arguments too wrong to read: the layer is named by its op alone
            params = {}
        shapes = [list(t.shape[1:]) for t in _tensors_in(list(args) + list(kwargs.values())) if id(t) in self.node_of]
        node = _Node(op, tracked, None, dict(params, failed=True, input=shapes))
        node.sources = set().union(*(self.nodes[i].sources for i in tracked))
        self.failure = self._add(node)


def trace(model, inputs):
    """Run model(**inputs) under the recorder; return (sections, output)."""
    recorder = _Recorder(inputs)
    try:
        with torch.no_grad(), recorder:
            output = model(*inputs.values())
    except Exception as exc:
        if recorder.failure is None:
            raise
        raise FailedTrace(_sections(recorder.nodes, [recorder.failure], list(inputs))) from exc
    out_nodes = []
    for t in _tensors_in(output):
        index = recorder.node_of.get(id(t))
        if index is not None and index not in out_nodes:
            out_nodes.append(index)
    return _sections(recorder.nodes, _merge_heads(recorder.nodes, out_nodes), list(inputs)), output


HEAD_OPS = ("linear", "conv2d", "conv_transpose2d")


def _merge_heads(nodes, out_nodes):
    """Output layers of one kind applied side by side to one input (a VAE's Linear(64, d) heads for mu and
    logvar) are one layer whose output is split (one Linear(64, 2d)): the same function, written another
    way. Returns the output nodes with each such group replaced by one merged node."""
    groups = {}
    for index in out_nodes:
        node = nodes[index]
        if node.op in HEAD_OPS and len(node.inputs) == 1:
            rest = tuple(sorted((k, repr(v)) for k, v in node.params.items() if k != "out"))
            groups.setdefault((node.op, node.inputs[0], rest, node.shape[2:]), []).append(index)
    group_of = {i: group for group in groups.values() for i in group}
    merged = []
    for index in out_nodes:
        group = group_of.get(index, [index])
        if index != group[0]:
            continue
        if len(group) > 1:
            first = nodes[index]
            shape = (first.shape[0], sum(nodes[i].shape[1] for i in group), *first.shape[2:])
            out = sum(nodes[i].params["out"] for i in group)
            node = _Node(first.op, first.inputs, shape, dict(first.params, out=out))
            node.sources = first.sources
            nodes.append(node)
            index = len(nodes) - 1
        merged.append(index)
    return merged


def _layer(node):
    return {"op": node.op, "shape": list(node.shape[1:]) if node.shape else None, **node.params}


def _sections(nodes, out_nodes, input_names):
    """Split the graph into chains: each ends at an output or at a node with several inputs."""
    sections = []

    def walk(index, is_output):
        reaches = nodes[index].sources  # the inputs this chain's last layer depends on
        chain = []
        while nodes[index].op != "input":
            node = nodes[index]
            chain.append(_layer(node))
            if len(node.inputs) != 1:
                for child in sorted(node.inputs, key=lambda i: sorted(input_names.index(s) for s in nodes[i].sources)):
                    walk(child, False)
                break
            index = node.inputs[0]
        chain.reverse()
        sources = nodes[index].sources if nodes[index].op == "input" else set()
        if chain:
            sections.append({"name": None, "sources": sorted(sources, key=input_names.index), "layers": chain,
                             "output": is_output, "reaches": reaches})

    for index in out_nodes:
        walk(index, True)
    failed = any(nodes[index].params.get("failed") for index in out_nodes)
    for s in sections:
        if failed and s["output"] and len(s["reaches"]) < len(input_names):
            s["output"] = False  # the forward pass failed inside a branch: the chain is that branch's start
    branches = [s for s in sections if not s["output"]]
    for s in sections:
        if s["output"]:
            s["name"] = "main" if not branches else "trunk"
        else:
            s["name"] = " + ".join(s["sources"]) + " branch" if s["sources"] else "branch"
    return [{"name": s["name"], "layers": s["layers"]} for s in branches + [s for s in sections if s["output"]]]


LAYER_NAMES = {"conv2d": "Conv2d", "conv_transpose2d": "ConvTranspose2d", "linear": "Linear",
               "batch_norm": "BatchNorm", "leaky_relu": "LeakyReLU", "relu": "ReLU", "sigmoid": "Sigmoid",
               "tanh": "Tanh", "cat": "concatenation"}


def describe(layer):
    """'Conv2d(3, 32, kernel 4, stride 2, padding 1, no bias)'-style text for messages."""
    name = LAYER_NAMES.get(layer["op"], layer["op"])
    if layer["op"] in ("conv2d", "conv_transpose2d", "linear"):
        details = [f"{key} {layer[key]}" for key in ("kernel", "stride", "padding") if layer.get(key) is not None]
        bias = [] if layer.get("bias") in (True, None) else ["no bias"]
        return f"{name}({', '.join([str(layer['in']), str(layer['out'])] + details + bias)})"
    if layer["op"] == "batch_norm":
        eps = "" if layer.get("eps", TORCH_BN_EPS) == TORCH_BN_EPS else f", eps {layer['eps']:g}"
        return f"{name}({layer['features']}{eps})"
    if layer["op"] == "leaky_relu":
        return f"{name}({layer['slope']})"
    return name


def shape_text(shape):
    return "(" + ", ".join(["B"] + [str(s) for s in shape]) + ")" if len(shape) else "(B,)"


def same_shape(op, expected, found):
    """Convolutions must keep their (C, H, W); elsewhere flattening is a matter of style."""
    if op in FULL_SHAPE_OPS:
        return list(expected) == list(found)
    numel = lambda s: int(torch.tensor(s or [1]).prod())  # noqa: E731
    return numel(expected) == numel(found)
