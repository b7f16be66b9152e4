"""Importing a `.pt2` file (torch.export.save): its ATen graph read back as module calls.

A torch.export program keeps, for each operator, the stack of modules it ran in (`nn_module_stack`:
their paths and classes) and every module's weights. The operators of one call of a module that a
layer stands for (the conv2d of an nn.Conv2d) become one call of that module again, rebuilt from the
operator's arguments and the weights; the container modules around them (a BasicBlock, an
nn.Sequential) become the calls that blocks are made of; other operators (a residual add) stay as
they are and are read by the call rules' ATen entries. Then the import goes on as for a .py file.

Loading a .pt2 file never unpickles anything but tensors: torch.export.load falls back to full
unpickling for custom objects, which is refused here.
"""
from __future__ import annotations

import contextlib
import operator
import importlib
import types
from pathlib import Path

import torch
import torch.fx as fx
from torch import nn

from netbuilder.common.text import one_line, shown

from .importer import ImportedModel, check_input_shape, import_traced
from .report import ImportFailure, Unsupported
from .rules import MODULE_RULES
from .tracing import PLAIN_CONTAINERS, ModuleCall, Traced

aten = torch.ops.aten
_RULE_CLASSES = {f"{cls.__module__}.{cls.__qualname__}": cls for cls in MODULE_RULES}


class _Operators(dict):
    """The arguments of the operators one call of a module ran, by operator name (the first run of
    each), and the name of the first operator (`first`): its order tells norm_first apart."""

    first = ""


def _arguments(node: fx.Node) -> dict:
    """An ATen call's arguments by their schema names, defaults filled in."""
    values = {}
    for index, argument in enumerate(node.target._schema.arguments):
        if index < len(node.args):
            values[argument.name] = node.args[index]
        elif argument.name in node.kwargs:
            values[argument.name] = node.kwargs[argument.name]
        elif argument.has_default_value():
            values[argument.name] = argument.default_value
    return values


def _pair(value) -> tuple:
    return tuple(value) if isinstance(value, (list, tuple)) else (value, value)


def _one(ops: dict, *names: str) -> dict:
    for name in names:
        if name in ops:
            return ops[name]
    raise KeyError(names[0])


# How each layer's module is rebuilt from the operators one of its calls ran (by operator name) and
# its weights (by attribute name): the inverse of the module's forward, one entry per class.
_REBUILD = {
    nn.Conv2d: lambda ops, w: nn.Conv2d(
        w["weight"].shape[1] * _one(ops, "conv2d")["groups"], w["weight"].shape[0], tuple(w["weight"].shape[2:]),
        _pair(_one(ops, "conv2d")["stride"]), _pair(_one(ops, "conv2d")["padding"]), _pair(_one(ops, "conv2d")["dilation"]),
        _one(ops, "conv2d")["groups"], bias="bias" in w),
    nn.Linear: lambda ops, w: nn.Linear(w["weight"].shape[1], w["weight"].shape[0], bias="bias" in w),
    nn.BatchNorm2d: lambda ops, w: nn.BatchNorm2d(w["running_mean"].shape[0], eps=_one(ops, "batch_norm")["eps"],
                                                  momentum=_one(ops, "batch_norm")["momentum"]),
    nn.BatchNorm1d: lambda ops, w: nn.BatchNorm1d(w["running_mean"].shape[0], eps=_one(ops, "batch_norm")["eps"],
                                                  momentum=_one(ops, "batch_norm")["momentum"]),
    nn.LayerNorm: lambda ops, w: nn.LayerNorm(_one(ops, "layer_norm")["normalized_shape"],
                                              eps=_one(ops, "layer_norm")["eps"], bias="bias" in w),
    nn.Embedding: lambda ops, w: nn.Embedding(*w["weight"].shape),
    nn.MaxPool2d: lambda ops, w: nn.MaxPool2d(_one(ops, "max_pool2d")["kernel_size"],
                                              _one(ops, "max_pool2d")["stride"] or None,
                                              _one(ops, "max_pool2d")["padding"], _one(ops, "max_pool2d")["dilation"],
                                              ceil_mode=_one(ops, "max_pool2d")["ceil_mode"]),
    nn.AvgPool2d: lambda ops, w: nn.AvgPool2d(_one(ops, "avg_pool2d")["kernel_size"],
                                              _one(ops, "avg_pool2d")["stride"] or None, _one(ops, "avg_pool2d")["padding"],
                                              _one(ops, "avg_pool2d")["ceil_mode"],
                                              _one(ops, "avg_pool2d")["count_include_pad"]),
    nn.AdaptiveAvgPool2d: lambda ops, w: nn.AdaptiveAvgPool2d(tuple(_one(ops, "adaptive_avg_pool2d")["output_size"])),
    nn.Flatten: lambda ops, w: nn.Flatten(_one(ops, "flatten")["start_dim"], _one(ops, "flatten")["end_dim"]),
    nn.Dropout: lambda ops, w: nn.Dropout(_one(ops, "dropout", "dropout_")["p"]),
    nn.Dropout2d: lambda ops, w: nn.Dropout2d(_one(ops, "feature_dropout", "feature_dropout_", "dropout")["p"]),
    nn.LeakyReLU: lambda ops, w: nn.LeakyReLU(_one(ops, "leaky_relu", "leaky_relu_")["negative_slope"]),
    nn.Softmax: lambda ops, w: nn.Softmax(_one(ops, "softmax", "_softmax")["dim"]),
    nn.GELU: lambda ops, w: nn.GELU(_one(ops, "gelu", "gelu_")["approximate"]),
    nn.LSTM: lambda ops, w: _recurrent(nn.LSTM, _one(ops, "lstm"), w),
    nn.GRU: lambda ops, w: _recurrent(nn.GRU, _one(ops, "gru"), w),
    nn.MultiheadAttention: lambda ops, w: _attention(ops, w),
    nn.TransformerEncoderLayer: lambda ops, w: _encoder_layer(ops, w),
}
_WITHOUT_ARGUMENTS = (nn.ReLU, nn.ReLU6, nn.Sigmoid, nn.Tanh, nn.SiLU, nn.Hardswish, nn.Hardsigmoid, nn.Identity)


def _heads(ops: dict) -> int:
    """Attention heads: scaled_dot_product_attention's query is N×heads×T×(F/heads)."""
    return int(_one(ops, "scaled_dot_product_attention")["query"].meta["val"].shape[1])


def _attention(ops: _Operators, w: dict) -> nn.Module:
    return nn.MultiheadAttention(w["in_proj_weight"].shape[1], _heads(ops), dropout=ops.get("dropout", {}).get("p", 0.0),
                                 bias="in_proj_bias" in w, batch_first=ops.first == "transpose")


def _encoder_layer(ops: _Operators, w: dict) -> nn.Module:
    activation = "gelu" if "gelu" in ops else "relu"
    return nn.TransformerEncoderLayer(w["self_attn.in_proj_weight"].shape[1], _heads(ops),
                                      w["linear1.weight"].shape[0], _one(ops, "dropout")["p"], activation,
                                      _one(ops, "layer_norm")["eps"], batch_first=ops.first in ("transpose", "layer_norm"),
                                      norm_first=ops.first == "layer_norm")


def _recurrent(cls, op: dict, w: dict) -> nn.Module:
    return cls(w["weight_ih_l0"].shape[1], w["weight_hh_l0"].shape[1], op["num_layers"], bias=op["has_biases"],
               batch_first=op["batch_first"], dropout=op["dropout"], bidirectional=op["bidirectional"])


# what a recurrent operator's tuple holds, as the module's result is indexed: aten.lstm gives
# (output, h, c) where nn.LSTM gives (output, (h, c))
_RESULT_PARTS = {nn.LSTM: ((0,), (1, 0), (1, 1)), nn.GRU: ((0,), (1,)), nn.MultiheadAttention: ((0,),)}


@contextlib.contextmanager
def _tensors_only():
    """torch.export.load with every torch.load inside it limited to tensors (weights_only): its
    fallback to full unpickling would run code from the file."""
    serializer = importlib.import_module("torch._export.serde.serialize")
    original = serializer.torch

    def load(*args, **kwargs):
        kwargs["weights_only"] = True
        return torch.load(*args, **kwargs)

    limited = types.ModuleType("torch")
    limited.__getattr__ = lambda name: getattr(torch, name)  # everything else is torch's (PEP 562)
    limited.load = load
    serializer.torch = limited
    try:
        yield
    finally:
        serializer.torch = original


def import_pt2(path: str | Path) -> ImportedModel:
    path = Path(path)
    try:
        with _tensors_only():
            program = torch.export.load(path)
    except Exception as error:  # noqa: BLE001 - a damaged or foreign file raises many kinds
        raise ImportFailure(f"{shown(path.name)} is not a torch.export program netbuilder can read "
                            f"({type(error).__name__}: {one_line(shown(error, 200))}).") from None
    module = program.module()
    inputs = [node for node in module.graph.nodes if node.op == "placeholder"]
    if len(inputs) != 1 or not isinstance(inputs[0].meta.get("val"), torch.Tensor):
        raise ImportFailure(f"{shown(path.name)} takes {len(inputs)} inputs; netbuilder imports models taking one "
                            "tensor.")
    example_meta = inputs[0].meta["val"]
    input_shape = tuple(int(size) for size in example_meta.shape[1:])
    check_input_shape(input_shape)
    name = _model_name(module, path)
    traced, unsupported = _module_calls(module)
    if unsupported:
        raise ImportFailure.report(name, unsupported)
    if example_meta.dtype in (torch.int64, torch.int32):
        vocabulary = next((m.num_embeddings for m in traced.module.modules() if isinstance(m, nn.Embedding)), 2)
        input_kind, example = "tokens", torch.randint(0, vocabulary, (1, *input_shape))
    else:
        input_kind = {3: "image", 2: "sequence", 1: "vector"}[len(input_shape)]
        example = torch.randn(1, *input_shape)
    parameters = sum(p.numel() for p in program.parameters())
    return import_traced(traced, example, input_kind, name, module, parameters)


def _model_name(module: fx.GraphModule, path: Path) -> str:
    for node in module.graph.nodes:
        stack = node.meta.get("nn_module_stack")
        if stack:
            return next(iter(stack.values()))[1].rsplit(".", 1)[-1]
    return path.stem


def _stack(node: fx.Node) -> list[tuple[str, str, str]]:
    """(call key, module path, class name with its module) from the outermost module in, the model itself left out."""
    return [(key, path, kind) for key, (path, kind) in (node.meta.get("nn_module_stack") or {}).items() if path]


def _leaf_index(stack) -> int | None:
    """Where in the stack the first module a layer stands for is; the operators inside it are its call."""
    return next((index for index, (_, _, kind) in enumerate(stack) if kind in _RULE_CLASSES), None)


def _module_calls(program: fx.GraphModule) -> tuple[Traced, list[Unsupported]]:
    """A graph module whose layer modules are called again as modules, with the container calls noted."""
    root = nn.Module()
    graph = fx.Graph()
    values: dict[fx.Node, fx.Node] = {}
    state = program.state_dict()
    groups: dict[str, list[fx.Node]] = {}
    path_of, kind_of = {}, {}
    for node in program.graph.nodes:
        stack = _stack(node)
        leaf = _leaf_index(stack)
        if node.op == "call_function" and leaf is not None:
            key, path_of[key], kind_of[key] = stack[leaf]
            groups.setdefault(key, []).append(node)
    rebuilt = {key: _rebuild(_RULE_CLASSES[kind_of[key]], members, path_of[key], state)
               for key, members in groups.items()}
    unsupported = [module for module in rebuilt.values() if isinstance(module, Unsupported)]
    if unsupported:
        return None, unsupported
    made: set[str] = set()
    containers: dict[str, ModuleCall] = {}
    for node in program.graph.nodes:
        stack = _stack(node)
        leaf = _leaf_index(stack) if node.op == "call_function" else None
        if node.op == "get_attr" or (node.op == "call_module" and not node.users):  # weights; the input guards
            continue
        if node.op == "placeholder":
            values[node] = graph.placeholder(node.name)
            values[node].meta["netbuilder_calls"] = ()
            continue
        if node.op == "output":  # the program returns its outputs flattened: (out,) for a tensor
            result = node.args[0]
            result = result[0] if isinstance(result, (tuple, list)) and len(result) == 1 else result
            graph.output(_mapped(result, values, program, root, graph))
            continue
        if leaf is None:
            copy = graph.call_function(node.target, *_mapped((node.args, node.kwargs), values, program, root, graph))
            _note(copy, stack, containers, node)
            values[node] = copy
            continue
        if stack[leaf][0] not in made:
            made.add(stack[leaf][0])
            _call_again(stack, leaf, groups[stack[leaf][0]], rebuilt[stack[leaf][0]], root, graph, values, containers)
    for call in containers.values():
        _complete(call, graph)
    return Traced(fx.GraphModule(root, graph, class_name="Imported"), list(containers.values())), []


def _call_again(stack, leaf: int, members: list[fx.Node], rebuilt: nn.Module, root: nn.Module, graph: fx.Graph,
                values: dict, containers: dict) -> None:
    """One call of the layer's module `rebuilt` in place of the operators it ran, `members`."""
    _, module_path, kind = stack[leaf]
    cls = _RULE_CLASSES[kind]
    _add_submodule(root, module_path, rebuilt)
    call = graph.call_module(module_path, tuple(values[i] for i in _group_inputs(members)))
    _note(call, stack[:leaf], containers, members[0])
    for member in members:
        if any(user not in members for user in member.users):
            values[member] = _part(graph, call, _RESULT_PARTS.get(cls), member, stack[:leaf], containers)


def _part(graph: fx.Graph, call: fx.Node, parts, member: fx.Node, stack, containers) -> fx.Node:
    """The value of the module call that `member` (an operator of it used outside) stands for."""
    if parts is None:
        return call
    value = call
    for index in parts[member.args[1] if member.target is operator.getitem else 0]:
        value = graph.call_function(operator.getitem, (value, index))
        _note(value, stack, containers, member)
    return value


def _group_inputs(members: list[fx.Node]) -> list[fx.Node]:
    inputs = []
    for member in members:
        for source in member.all_input_nodes:
            if source not in members and source.op != "get_attr" and source not in inputs:
                inputs.append(source)
    return inputs


def _rebuild(cls, members: list[fx.Node], path: str, state: dict) -> nn.Module | Unsupported:
    ops = _Operators()
    for member in members:
        if isinstance(member.target, torch._ops.OpOverload):
            name = member.target._schema.name.split("::")[-1]
            ops.first = ops.first or name
            ops.setdefault(name, _arguments(member))
    weights = {key[len(path) + 1:]: value for key, value in state.items() if key.startswith(f"{path}.")}
    build = (lambda ops, w: cls()) if cls in _WITHOUT_ARGUMENTS else _REBUILD.get(cls)
    if build is None:
        return Unsupported(f"nn.{cls.__name__} in a .pt2 file", path,
                           "torch.export keeps only its arithmetic; import the .py file that defines the model")
    try:
        module = build(ops, weights)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        return Unsupported(f"nn.{cls.__name__} in a .pt2 file", path, f"its operators do not read as one ({error})")
    missing, unexpected = module.load_state_dict(weights, strict=False)
    if unexpected or [key for key in missing if not key.endswith("num_batches_tracked")]:
        return Unsupported(f"nn.{cls.__name__} in a .pt2 file", path, "its weights do not fit the module rebuilt")
    return module.eval()


def _owner(root: nn.Module, path: str) -> tuple[nn.Module, str]:
    """The module that holds `path`'s last part (empty modules made on the way), and that part."""
    *parents, name = path.split(".")
    owner = root
    for part in parents:
        if not hasattr(owner, part):
            owner.add_module(part, nn.Module())
        owner = getattr(owner, part)
    return owner, name


def _add_submodule(root: nn.Module, path: str, module: nn.Module) -> None:
    owner, name = _owner(root, path)
    owner.add_module(name, module)


def _mapped(value, values: dict, program: fx.GraphModule, root: nn.Module, graph: fx.Graph):
    """Arguments with the program's nodes replaced by the new graph's (weights read directly as constants)."""
    def replace(node: fx.Node):
        if node.op == "get_attr":
            if node not in values:
                tensor = program.get_parameter(node.target) if node.target in dict(program.named_parameters()) \
                    else getattr(program, node.target)
                _add_parameter(root, node.target, tensor)
                values[node] = graph.get_attr(node.target)
                values[node].meta["netbuilder_calls"] = ()
            return values[node]
        return values[node]
    return fx.node.map_arg(value, replace)


def _add_parameter(root: nn.Module, path: str, tensor: torch.Tensor) -> None:
    owner, name = _owner(root, path)
    owner.register_parameter(name, nn.Parameter(tensor.detach().clone(), requires_grad=tensor.requires_grad))


def _note(node: fx.Node, stack, containers: dict[str, ModuleCall], original: fx.Node) -> None:
    """Record the containers `node` runs in (outermost first), and where it is in the user's code."""
    calls = []
    for key, path, kind in stack:
        if key not in containers:
            class_name = kind.rsplit(".", 1)[-1]
            plain = any(f"{cls.__module__}.{cls.__qualname__}" == kind for cls in PLAIN_CONTAINERS)
            containers[key] = ModuleCall(path, class_name, plain, [], [])
        calls.append(containers[key])
    node.meta["netbuilder_calls"] = tuple(calls)
    trace = original.meta.get("stack_trace") or ""
    frames = [line.strip() for line in trace.splitlines() if line.strip().startswith("File ")]
    node.meta["netbuilder_where"] = _frame_text(frames[-1]) if frames else (stack[-1][1] if stack else "the model")


def _frame_text(frame: str) -> str:
    # 'File "/x/model.py", line 12, in forward' -> 'model.py line 12, in forward'
    parts = frame.split('"')
    if len(parts) >= 3:
        return f"{Path(parts[1]).name}{parts[2].replace(',', '', 1)}"
    return frame


def _complete(call: ModuleCall, graph: fx.Graph) -> None:
    """The tensors a container call took (in the order first used) and the one it gave, from its operators."""
    members = [node for node in graph.nodes if any(c is call for c in node.meta.get("netbuilder_calls", ()))]
    inside = set(members)
    for node in members:
        for source in node.all_input_nodes:
            if source not in inside and source.op != "get_attr" and source not in call.args:
                call.args.append(source)
    call.arg_names = ["x"] if len(call.args) == 1 else [f"x{index + 1}" for index in range(len(call.args))]
    leaving = [node for node in members if any(user not in inside for user in node.users)]
    call.result = leaving[0] if len(leaving) == 1 else None


