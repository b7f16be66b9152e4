"""Importing an ONNX file: each operator becomes the torch call it stands for (a Conv with its
initialisers an nn.Conv2d holding them, a Relu torch.relu), and the import goes on as for a traced
.py file, so one table (rules.py) still decides every layer. ONNX keeps no modules, so the graph
comes flat; the ONNX file itself, run by onnxruntime, is what the imported network is checked
against. Reading ONNX is reading a protobuf message: nothing in the file runs."""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.fx as fx
import torch.nn.functional as F
from torch import nn

from netbuilder.common.text import one_line, shown

from .importer import ImportedModel, check_input_shape, import_traced
from .report import ImportFailure, Unsupported
from .tracing import Traced

class _Node:
    """An ONNX node's inputs, attributes and initialisers, as the table's builders read them."""

    def __init__(self, proto, constants: dict[str, np.ndarray]):
        import onnx

        self.proto = proto
        self.attributes = {a.name: onnx.helper.get_attribute_value(a) for a in proto.attribute}
        self.constants = constants

    def constant(self, index: int) -> torch.Tensor | None:
        inputs = self.proto.input
        if index >= len(inputs) or not inputs[index]:
            return None
        value = self.constants.get(inputs[index])
        return None if value is None else torch.from_numpy(np.array(value))

    def pads(self) -> int:
        pads = list(self.attributes.get("pads", [0, 0, 0, 0]))
        if len(set(pads)) != 1:
            raise ValueError(f"uneven padding {pads}")
        return pads[0]

    def square(self, name: str, default: int) -> int:
        values = list(self.attributes.get(name, [default, default]))
        if len(set(values)) != 1:
            raise ValueError(f"{name} {values}")
        return int(values[0])


def _conv(node: _Node) -> nn.Module:
    weight, bias = node.constant(1), node.constant(2)
    module = nn.Conv2d(weight.shape[1] * node.attributes.get("group", 1), weight.shape[0], tuple(weight.shape[2:]),
                       node.square("strides", 1), node.pads(), node.square("dilations", 1),
                       node.attributes.get("group", 1), bias=bias is not None)
    module.weight.data.copy_(weight)
    if bias is not None:
        module.bias.data.copy_(bias)
    return module


def _gemm(node: _Node) -> nn.Module:
    weight, bias = node.constant(1), node.constant(2)
    if node.attributes.get("transB", 0) != 1 or node.attributes.get("transA", 0) or \
            node.attributes.get("alpha", 1.0) != 1.0 or node.attributes.get("beta", 1.0) != 1.0:
        raise ValueError("a Gemm other than x·Wᵀ + b")
    module = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    module.weight.data.copy_(weight)
    if bias is not None:
        module.bias.data.copy_(bias.reshape(-1))
    return module


def _batchnorm(node: _Node) -> nn.Module:
    scale = node.constant(1)
    module = nn.BatchNorm2d(scale.shape[0], eps=node.attributes.get("epsilon", 1e-5),
                            momentum=1 - node.attributes.get("momentum", 0.9))
    module.load_state_dict({"weight": scale, "bias": node.constant(2), "running_mean": node.constant(3),
                            "running_var": node.constant(4), "num_batches_tracked": torch.tensor(0)})
    return module


def _layernorm(node: _Node) -> nn.Module:
    scale, shift = node.constant(1), node.constant(2)
    if node.attributes.get("axis", -1) != -1 or scale is None or scale.dim() != 1:
        raise ValueError("a normalisation over several axes")
    # ONNX keeps eps as a float32 (9.99999974e-06); the layer shows it as written (1e-05)
    module = nn.LayerNorm(scale.shape[0], eps=float(f"{node.attributes.get('epsilon', 1e-5):.6g}"),
                          bias=shift is not None)
    module.weight.data.copy_(scale)
    if shift is not None:
        module.bias.data.copy_(shift)
    return module


def _embedding(node: _Node) -> nn.Module:
    table = node.constant(0)
    module = nn.Embedding(*table.shape)
    module.weight.data.copy_(table)
    return module


def _text(value: str | bytes) -> str:
    """An ONNX string attribute (bytes in the protobuf message) as text."""
    return value.decode() if isinstance(value, bytes) else value


def _pool(function: Callable) -> Callable:
    def call(node: _Node, x):
        kernel = node.square("kernel_shape", 1)
        return function, (x, kernel, node.square("strides", kernel), node.pads())
    return call


def _hardsigmoid(node: _Node, x):
    if abs(node.attributes.get("alpha", 0.2) - 1 / 6) > 1e-6 or node.attributes.get("beta", 0.5) != 0.5:
        raise ValueError("a HardSigmoid other than ReLU6(x + 3) / 6")
    return F.hardsigmoid, (x,)


def _gelu(node: _Node, x):
    if _text(node.attributes.get("approximate", "none")) != "none":
        raise ValueError("the tanh approximation: netbuilder's GELU is exact")
    return F.gelu, (x,)


def _reduce_mean(node: _Node, x):
    axes = node.attributes.get("axes")
    if axes is None and node.constant(1) is not None:
        axes = node.constant(1).tolist()
    keep = bool(node.attributes.get("keepdims", 1))
    if keep and {axis % 4 for axis in axes or ()} == {2, 3}:  # how torch's exporter writes AdaptiveAvgPool2d(1)
        return F.adaptive_avg_pool2d, (x, 1)
    return torch.mean, (x, tuple(axes or ()), keep)


MAX_LSTM_LAYERS = 16  # as many as netbuilder's LSTM layer stacks
# torch's LSTM gates in its order (i,f,g,o), each as where its rows are in ONNX's (i,o,f,c)
_LSTM_GATES = (0, 2, 3, 1)


def _lstm(nodes: list[_Node], zeros: set[str], shapes: dict) -> nn.Module:
    """Transpose, then per layer LSTM -> Transpose, Reshape, then Transpose: how torch's exporter writes
    a batch-first LSTM's output sequence; the nn.LSTM computing it, with its weights. (The exporter
    writes GRU and RNN layers as many small operators: those stay refused.)"""
    layers = [_lstm_layer(node, zeros) for node in nodes[1:-1:3]]
    directions, weight, recurrence, bias = layers[0]
    if any((d, r.shape, b is None) != (directions, recurrence.shape, bias is None) for d, _, r, b in layers):
        raise ValueError("layers of different sizes or directions")
    module = nn.LSTM(weight.shape[2], recurrence.shape[2], len(layers), batch_first=True, bias=bias is not None,
                     bidirectional=directions == 2)
    for layer, (_, weight, recurrence, bias) in enumerate(layers):
        for index, suffix in enumerate(("", "_reverse")[:directions]):
            values = {"weight_ih": weight[index], "weight_hh": recurrence[index]}
            if bias is not None:
                values.update(zip(("bias_ih", "bias_hh"), bias[index].chunk(2)))
            for name, value in values.items():
                gates = value.reshape(4, -1, *value.shape[1:])
                getattr(module, f"{name}_l{layer}{suffix}").data.copy_(torch.cat([gates[i] for i in _LSTM_GATES]))
    return module


def _lstm_layer(node: _Node, zeros: set[str]) -> tuple:
    """One ONNX LSTM's directions and weights W, R, B, if torch's nn.LSTM computes it."""
    inputs = list(node.proto.input) + [""] * 8
    if inputs[4] or any(inputs[i] and inputs[i] not in zeros and
                        (node.constant(i) is None or node.constant(i).any()) for i in (5, 6, 7)):
        raise ValueError("sequence lengths, an initial state or peepholes: netbuilder's LSTM runs every step "
                         "from zeros")
    directions = {"forward": 1, "bidirectional": 2}.get(_text(node.attributes.get("direction", "forward")))
    activations = [_text(a) for a in node.attributes.get("activations", [])]
    if directions is None or node.attributes.get("clip") is not None or node.attributes.get("input_forget", 0) or \
            node.attributes.get("layout", 0) or activations not in ([], ["Sigmoid", "Tanh", "Tanh"] * directions):
        raise ValueError("the reverse direction alone, clipping, coupled gates or other activations: "
                         "netbuilder reads torch's LSTM")
    weight, recurrence, bias = node.constant(1), node.constant(2), node.constant(3)
    if weight is None or recurrence is None:
        raise ValueError("weights computed while running")
    return directions, weight, recurrence, bias


def _linear(nodes: list[_Node], zeros: set[str], shapes: dict) -> nn.Module:
    """MatMul by a stored matrix, then Add of a stored vector: torch's exporter's nn.Linear on a sequence."""
    weight, bias = nodes[0].constant(1), nodes[1].constant(1)
    if weight.dim() != 2 or bias.dim() != 1 or bias.shape[0] != weight.shape[1]:
        raise ValueError(f"a {tuple(weight.shape)} matrix and a {tuple(bias.shape)} sum: no x·Wᵀ + b")
    module = nn.Linear(*weight.shape)
    module.weight.data.copy_(weight.T)
    module.bias.data.copy_(bias)
    return module


def _attention(nodes: list[_Node], zeros: set[str], shapes: dict) -> nn.Module:
    """Batch-first self-attention as torch's exporter writes nn.MultiheadAttention: the input projection
    (MatMul, Add) split into query, key and value per head, scaled, Softmax, the output projection
    (Gemm); the module computing it, with the projections repacked into PyTorch's in_proj layout."""
    by_type: dict[str, list[_Node]] = {}
    for node in nodes:
        by_type.setdefault(node.proto.op_type, []).append(node)
    in_weight, in_bias = by_type["MatMul"][0].constant(1), by_type["Add"][0].constant(1)
    out = by_type["Gemm"][0]
    out_weight, out_bias = out.constant(1), out.constant(2)
    softmax = by_type["Softmax"][0]
    if in_weight is None or in_bias is None or out_weight is None or out.attributes.get("transB", 0) != 1 or \
            softmax.attributes.get("axis", -1) not in (-1, 3):
        raise ValueError("projections computed while running, or a softmax over other steps")
    features = in_weight.shape[0]
    heads = (shapes.get(softmax.proto.input[0]) or [0, 0])[1]
    scales = [mul.constant(1) for mul in by_type["Mul"]]
    if heads <= 0 or features % heads or any(scale is None for scale in scales) or \
            abs(float(np.prod([float(scale) for scale in scales])) - (heads / features) ** 0.5) > 1e-5:
        raise ValueError("heads not known before running, or scores scaled otherwise than by 1/√(size per head)")
    module = nn.MultiheadAttention(features, heads, batch_first=True)
    module.in_proj_weight.data.copy_(in_weight.T)
    module.in_proj_bias.data.copy_(in_bias)
    module.out_proj.weight.data.copy_(out_weight)
    # the exporter leaves out a bias of zeros (a freshly made layer's)
    module.out_proj.bias.data.copy_(out_bias if out_bias is not None else torch.zeros(features))
    return module


@dataclass(frozen=True)
class _Pattern:
    """ONNX operators that together compute one torch module call; `build` makes that module from
    the operators (an ONNX node each, in the file's order), the values known to be zeros and the
    values' shapes. A chain pattern's `operators` follow one another on the data path, each with the
    attributes it must have and the inputs that must be stored tensors, the middle ones read by
    nothing else; a region pattern's `counts` are the operators the region from its first to its
    last operator holds, nothing outside reading its values."""

    operators: tuple[tuple[str, dict, tuple[int, ...]], ...]
    what: str
    build: Callable[[list[_Node], set[str], dict], nn.Module]
    part: int | None = None  # the part of the module's tuple result the pattern's output is
    arguments: int = 1  # how many times the module takes the data (3 for self-attention's query, key, value)
    counts: dict[str, int] = field(default_factory=dict)  # a region pattern's operators
    module_name: str = ""  # the layer's name, where its weights' names say nothing


_BATCH_FIRST = ("Transpose", {"perm": [1, 0, 2]}, ())
_LSTM_LAYER = (("LSTM", {}, ()), ("Transpose", {"perm": [0, 2, 1, 3]}, ()), ("Reshape", {}, ()))
PATTERNS: tuple[_Pattern, ...] = (
    *(_Pattern((_BATCH_FIRST, *_LSTM_LAYER * layers, _BATCH_FIRST), "ONNX LSTM", _lstm, part=0)
      for layers in range(1, MAX_LSTM_LAYERS + 1)),
    _Pattern((("MatMul", {}, (1,)), ("Add", {}, (1,))), "ONNX MatMul and Add", _linear),
)
# from the batch-first Transpose before the input projection to the one after the output projection
ATTENTION = _Pattern((), "ONNX attention", _attention, part=0, arguments=3, module_name="self_attn", counts={
    "Transpose": 8, "MatMul": 3, "Add": 1, "Reshape": 11, "Unsqueeze": 1, "Squeeze": 1, "Gather": 3, "Mul": 2,
    "Softmax": 1, "Gemm": 1})


# ONNX operator -> how it is called in torch: a module built from its initialisers (with the index
# of its data input), or a function of its data inputs (`x` the first, `xs` all of them).
_MODULES: dict[str, Callable[[_Node], nn.Module]] = {"Conv": _conv, "Gemm": _gemm, "BatchNormalization": _batchnorm,
                                                     "LayerNormalization": _layernorm}
_FUNCTIONS: dict[str, Callable] = {
    "Relu": lambda node, x: (torch.relu, (x,)),
    "Sigmoid": lambda node, x: (torch.sigmoid, (x,)),
    "Tanh": lambda node, x: (torch.tanh, (x,)),
    "Gelu": _gelu,
    "HardSwish": lambda node, x: (F.hardswish, (x,)),
    "HardSigmoid": _hardsigmoid,
    "LeakyRelu": lambda node, x: (F.leaky_relu, (x, node.attributes.get("alpha", 0.01))),
    "Softmax": lambda node, x: (torch.softmax, (x, node.attributes.get("axis", -1))),
    "MaxPool": _pool(F.max_pool2d),
    "AveragePool": _pool(F.avg_pool2d),
    "GlobalAveragePool": lambda node, x: (F.adaptive_avg_pool2d, (x, 1)),
    "ReduceMean": _reduce_mean,
    "Flatten": lambda node, x: (torch.flatten, (x, node.attributes.get("axis", 1))),
    "Transpose": lambda node, x: (torch.permute, (x, tuple(node.attributes["perm"]))),
    "Identity": lambda node, x: (torch.clone, (x,)),
    "Dropout": lambda node, x: (torch.clone, (x,)),
}
_MERGES = {"Add": operator.add, "Mul": operator.mul}
# inputs that carry data (the others are weights or shapes)
# (an LSTM's initial states are checked to be zeros)
_DATA_INPUTS = {"Conv": (0,), "Gemm": (0,), "BatchNormalization": (0,), "LayerNormalization": (0,), "Reshape": (0,),
                "ReduceMean": (0,), "LSTM": (0,)}
# operators whose result is all zeros when their first input is (how an initial state is written)
_KEEPING_ZEROS = {"Expand", "Slice", "Reshape", "Unsqueeze", "Squeeze", "Transpose"}


def import_onnx(path: str | Path) -> ImportedModel:
    import onnx
    import onnxruntime

    path = Path(path)
    try:
        model = onnx.shape_inference.infer_shapes(onnx.load(str(path)))
    except Exception as error:  # noqa: BLE001 - a damaged file raises protobuf's errors and others
        raise ImportFailure(f"{shown(path.name)} is not an ONNX model netbuilder can read "
                            f"({type(error).__name__}: {one_line(shown(error, 200))}).") from None
    graph = model.graph
    constants = {init.name: onnx.numpy_helper.to_array(init) for init in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            constants[node.output[0]] = onnx.numpy_helper.to_array(node.attribute[0].t)
    _fold_constants(graph, constants)
    inputs = [value for value in graph.input if value.name not in constants]
    if len(inputs) != 1 or len(graph.output) != 1:
        raise ImportFailure(f"{shown(path.name)} has {len(inputs)} inputs and {len(graph.output)} outputs; "
                            "netbuilder imports models with one of each.")
    dims = inputs[0].type.tensor_type.shape.dim
    input_shape = tuple(int(d.dim_value) for d in dims[1:])
    check_input_shape(input_shape)
    shapes = {value.name: [d.dim_value for d in value.type.tensor_type.shape.dim]
              for value in (*graph.value_info, *graph.output)}
    root, fx_graph, unsupported = _calls(graph, constants, shapes, inputs[0].name)
    name = path.stem if path.stem.isidentifier() else "ImportedOnnx"
    if unsupported:
        raise ImportFailure.report(name, unsupported)
    integer = inputs[0].type.tensor_type.elem_type in (onnx.TensorProto.INT64, onnx.TensorProto.INT32)
    embedding = next((m for m in root.modules() if isinstance(m, nn.Embedding)), None)
    if integer:
        example = torch.randint(0, embedding.num_embeddings if embedding else 2, (1, *input_shape))
    else:
        example = torch.randn(1, *input_shape)
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])

    def original(x: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(session.run(None, {inputs[0].name: x.numpy()})[0])

    input_kind = "tokens" if integer else {3: "image", 2: "sequence", 1: "vector"}[len(input_shape)]
    parameters = sum(p.numel() for p in root.parameters())
    return import_traced(Traced(fx.GraphModule(root, fx_graph, class_name=name), []), example, input_kind, name,
                         original, parameters)


def _fold_constants(graph, constants: dict[str, np.ndarray]) -> None:
    """Values computed from initialisers alone, computed now: the exporter leaves some of a weight's
    slicing and reordering in the graph (a recurrent layer's recurrence weights)."""
    from onnx.reference import ReferenceEvaluator

    for node in graph.node:
        inputs = [name for name in node.input if name]
        if inputs and node.output[0] not in constants and all(name in constants for name in inputs):
            results = ReferenceEvaluator(node).run(None, {name: constants[name] for name in inputs})
            constants.update(zip(node.output, results))


def _zeros(graph, constants: dict[str, np.ndarray]) -> set[str]:
    """The values that are all zeros whatever the input (a zero constant expanded to the batch's size)."""
    zeros: set[str] = set()
    for node in graph.node:
        first = node.input[0] if node.input else ""
        zero_first = first in zeros or (first in constants and not np.any(constants[first]))
        if node.op_type in _KEEPING_ZEROS and zero_first:
            zeros.add(node.output[0])
    return zeros


def _consumers(graph) -> dict[str, list[tuple[object, int]]]:
    """Each value's readers of its values (not of its shape alone), with the input index at which each
    reads it (the graph's output a reader too)."""
    readers: dict[str, list[tuple[object, int]]] = {output.name: [(None, 0)] for output in graph.output}
    for node in graph.node:
        for index, name in enumerate(() if node.op_type == "Shape" else node.input):
            readers.setdefault(name, []).append((node, index))
    return readers


def _matches(proto, operator_type: str, attributes: dict, stored: tuple[int, ...], constants: dict) -> bool:
    import onnx

    values = {a.name: onnx.helper.get_attribute_value(a) for a in proto.attribute}
    return proto.op_type == operator_type and all(list(values.get(k, ())) == v for k, v in attributes.items()) \
        and all(index < len(proto.input) and proto.input[index] in constants for index in stored)


def _recognised(graph, constants: dict) -> dict[str, tuple[_Pattern, list]]:
    """The pattern matches, by the first node's output: for a chain, each node after the first reads
    the one before it (its input 0) as that one's only reader, and nothing reads the others' other
    outputs; for the attention region, see _attention_region."""
    readers = _consumers(graph)
    found = {}
    for start in graph.node:
        region = _attention_region(graph, start, readers, constants)
        if region:
            found[start.output[0]] = (ATTENTION, region)
            continue
        for pattern in PATTERNS:
            chain, proto = [], start
            for step, (operator_type, attributes, stored) in enumerate(pattern.operators):
                if proto is None or not _matches(proto, operator_type, attributes, stored, constants):
                    break
                chain.append(proto)
                if step == len(pattern.operators) - 1:
                    found[start.output[0]] = (pattern, chain)
                    break
                after = readers.get(proto.output[0], [])
                if len(after) != 1 or after[0][1] != 0 or any(readers.get(o) for o in proto.output[1:] if o):
                    break
                proto = after[0][0]
            if start.output[0] in found:
                break
    return found


def _attention_region(graph, start, readers: dict, constants: dict) -> list:
    """The operators from `start`, a batch-first Transpose read only by a MatMul with a stored matrix,
    to the batch-first Transpose after the Reshape after the first Gemm reached, in the file's order;
    empty unless they hold exactly ATTENTION's operators, nothing outside reads their values and each
    takes only stored tensors, their own values and shapes (a Reshape's second input)."""
    after = readers.get(start.output[0], [])
    if not _matches(start, "Transpose", {"perm": [1, 0, 2]}, (), constants) or len(after) != 1 or \
            after[0][0] is None or not _matches(after[0][0], "MatMul", {}, (1,), constants):
        return []
    producer = {output: node for node in graph.node for output in node.output}
    region, stack = {start.output[0]: start}, [after[0][0]]
    while stack and len(region) <= sum(ATTENTION.counts.values()):
        node = stack.pop()
        if node is None:  # the graph's output
            return []
        if node.output[0] in region:
            continue
        region[node.output[0]] = node
        source = producer.get(node.input[0])
        is_end = _matches(node, "Transpose", {"perm": [1, 0, 2]}, (), constants) and source is not None and \
            source.op_type == "Reshape" and producer.get(source.input[0]) is not None and \
            producer[source.input[0]].op_type == "Gemm"
        if not is_end:
            stack += [reader for output in node.output for reader, _ in readers.get(output, [])]
    nodes = [node for node in graph.node if node.output[0] in region]
    counts: dict[str, int] = {}
    for node in nodes:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    if stack or counts != ATTENTION.counts or nodes[0] is not start or nodes[-1].op_type != "Transpose":
        return []
    outputs = {output for node in nodes for output in node.output}
    for node in nodes[1:]:
        taken = node.input[:1] if node.op_type == "Reshape" else node.input
        if any(name and name not in outputs and name not in constants for name in taken):
            return []
    for node in nodes[:-1]:
        if any(reader is None or reader.output[0] not in region
               for output in node.output for reader, _ in readers.get(output, [])):
            return []
    return nodes


def _needed(graph, constants) -> set[str]:
    """The nodes (by their first output) that the output's data flows through; shape arithmetic is left out."""
    producer = {output: node for node in graph.node for output in node.output}
    needed, stack = set(), [graph.output[0].name]
    while stack:
        value = stack.pop()
        node = producer.get(value)
        if node is None or value in constants or node.output[0] in needed:
            continue
        needed.add(node.output[0])
        indices = _DATA_INPUTS.get(node.op_type, range(len(node.input)))
        stack += [node.input[i] for i in indices if i < len(node.input) and node.input[i]]
    return needed


def _calls(graph, constants: dict, shapes: dict, input_name: str):
    root, fx_graph = nn.Module(), fx.Graph()
    values = {input_name: fx_graph.placeholder(input_name if input_name.isidentifier() else "x")}
    unsupported: list[Unsupported] = []
    needed = _needed(graph, constants)
    chains, zeros = _recognised(graph, constants), _zeros(graph, constants)
    inside = {proto.output[0] for _, chain in chains.values() for proto in chain[1:]}
    for proto in graph.node:
        if proto.output[0] not in needed or proto.output[0] in inside:
            continue
        node = _Node(proto, constants)
        where = proto.name or proto.output[0]
        if proto.output[0] in chains:
            pattern, chain = chains[proto.output[0]]
            named = next((p for p in chain if f" {p.op_type}" in pattern.what), proto)  # the LSTM, not its Transpose
            where = named.name or named.output[0]
            source = values.get(proto.input[0])
            try:
                if source is None:
                    raise ValueError("its input is not the model's data")
                value = _pattern_call(pattern, [_Node(p, constants) for p in chain], zeros, shapes, source, root,
                                      fx_graph)
            except (ValueError, KeyError, TypeError, AttributeError, RuntimeError) as error:
                unsupported.append(Unsupported(pattern.what, where, one_line(shown(error, 120))))
                continue
            value.meta.update(netbuilder_calls=(), netbuilder_where=f"ONNX node {where}")
            values[chain[-1].output[0]] = value
            continue
        data = [values.get(name) for name in proto.input if name and name not in constants]
        if any(value is None for value in data) or not data:
            unsupported.append(Unsupported(f"ONNX {proto.op_type}", where, "its inputs are not the model's data"))
            continue
        try:
            value = values[proto.output[0]] = _call(proto, node, data, root, fx_graph, shapes)
            value.meta.update(netbuilder_calls=(), netbuilder_where=f"ONNX node {where}")
        except (ValueError, KeyError, TypeError, AttributeError, RuntimeError) as error:
            unsupported.append(Unsupported(f"ONNX {proto.op_type}", where, one_line(shown(error, 120))))
        except LookupError:
            unsupported.append(Unsupported(f"ONNX {proto.op_type}", where))
    if not unsupported:
        fx_graph.output(values[graph.output[0].name])
        _fold_encoder_layers(root, fx_graph)
    return root, fx_graph, unsupported


# a Transformer feed-forward's activations, as netbuilder's TransformerEncoder layer names them
_ENCODER_ACTIVATIONS = {torch.relu: "relu", F.gelu: "gelu"}
_ENCODER_EPS = 1e-5  # netbuilder's TransformerEncoder layer's LayerNorms have PyTorch's default


def _user(node: fx.Node, targets: tuple, root: nn.Module) -> fx.Node | None:
    """The one node reading `node`, if it calls one of `targets` (module classes or functions)."""
    users = list(node.users)
    return users[0] if len(users) == 1 and any(_calls_target(users[0], t, root) for t in targets) else None


def _calls_target(node: fx.Node, target, root: nn.Module) -> bool:
    if node.op == "call_module":
        return isinstance(target, type) and type(root.get_submodule(node.target)) is target
    return node.op == "call_function" and node.target is target


def _feed_forward(source: fx.Node, root: nn.Module) -> list[fx.Node] | None:
    """Linear, activation, Linear, the first reading `source` and each read only by the next."""
    linear1 = next((user for user in source.users if _calls_target(user, nn.Linear, root)), None)
    activation = linear1 and _user(linear1, tuple(_ENCODER_ACTIVATIONS), root)
    linear2 = activation and _user(activation, (nn.Linear,), root)
    return [linear1, activation, linear2] if linear2 else None


def _encoder_layer(attention: fx.Node, root: nn.Module) -> tuple | None:
    """The nodes of the encoder layer around a self-attention, in order: post-norm (attention, add,
    LayerNorm, feed-forward, add, LayerNorm) or pre-norm (LayerNorm, attention, add, LayerNorm,
    feed-forward, add), each read only inside the layer but the last; with the layer's input, its
    parts by nn.TransformerEncoderLayer's names and norm_first. None for anything else."""
    source = attention.args[0]
    part = _user(attention, (operator.getitem,), root)
    first_add = part is not None and part.args[1] == 0 and _user(part, (operator.add,), root)
    if not first_add:
        return None
    if _calls_target(source, nn.LayerNorm, root) and len(source.users) == 1:
        x, norm1 = source.args[0], source
        norm2 = next((user for user in first_add.users if _calls_target(user, nn.LayerNorm, root)), None)
        ff = norm2 is not None and len(first_add.users) == 2 and len(norm2.users) == 1 and _feed_forward(norm2, root)
        last = ff and _user(ff[2], (operator.add,), root)
        if not last or set(first_add.args) != {x, part} or set(last.args) != {first_add, ff[2]}:
            return None
        nodes, norm_first = [norm1, attention, part, first_add, norm2, *ff, last], True
    else:
        x = source
        norm1 = set(first_add.args) == {x, part} and _user(first_add, (nn.LayerNorm,), root)
        ff = norm1 and len(norm1.users) == 2 and _feed_forward(norm1, root)
        second_add = ff and _user(ff[2], (operator.add,), root)
        norm2 = second_add and set(second_add.args) == {norm1, ff[2]} and _user(second_add, (nn.LayerNorm,), root)
        if not norm2:
            return None
        nodes, norm_first = [attention, part, first_add, norm1, *ff, second_add, norm2], False
    parts = {"self_attn": attention, "norm1": norm1, "linear1": ff[0], "linear2": ff[2], "norm2": norm2}
    return x, nodes, parts, _ENCODER_ACTIVATIONS[ff[1].target], norm_first


def _fold_encoder_layers(root: nn.Module, fx_graph: fx.Graph) -> None:
    """A self-attention with its adds, LayerNorms and feed-forward (see _encoder_layer) becomes one
    nn.TransformerEncoderLayer (netbuilder's TransformerEncoder layer), with the parts' weights."""
    for attention in [n for n in fx_graph.nodes if _calls_target(n, nn.MultiheadAttention, root)]:
        found = _encoder_layer(attention, root)
        if found is None:
            continue
        x, nodes, parts, activation, norm_first = found
        modules = {name: root.get_submodule(node.target) for name, node in parts.items()}
        if {modules["norm1"].eps, modules["norm2"].eps} != {_ENCODER_EPS}:
            continue
        layer = nn.TransformerEncoderLayer(modules["linear1"].in_features, modules["self_attn"].num_heads,
                                           modules["linear1"].out_features, dropout=0.0, activation=activation,
                                           batch_first=True, norm_first=norm_first)
        for name, module in modules.items():
            getattr(layer, name).load_state_dict(module.state_dict())
        name = _free_name("", root, "encoder_layer")
        root.add_module(name, layer)
        with fx_graph.inserting_after(nodes[-1]):
            folded = fx_graph.call_module(name, (x,))
        folded.meta.update(nodes[-1].meta)
        nodes[-1].replace_all_uses_with(folded)
        for node in reversed(nodes):
            fx_graph.erase_node(node)
            if node.op == "call_module":
                delattr(root, node.target)


def _module_name(proto, root: nn.Module) -> str:
    """The layer's name from its weights' (layer1.0.conv1.weight -> layer1_0_conv1), free in `root`."""
    return _free_name(proto.input[1] if proto.op_type != "Gather" else proto.input[0], root, proto.op_type.lower())


def _free_name(weights: str, root: nn.Module, otherwise: str) -> str:
    """A name from a stored tensor's (layer1.0.conv1.weight -> layer1_0_conv1), else `otherwise`, free in `root`."""
    base = weights.rsplit(".", 1)[0].replace(".", "_") if "." in weights else otherwise
    base = base if base.isidentifier() else "layer"
    name, number = base, 2
    while hasattr(root, name):
        name, number = f"{base}{number}", number + 1
    return name


def _pattern_call(pattern: _Pattern, nodes: list[_Node], zeros: set[str], shapes: dict, source: fx.Node,
                  root: nn.Module, fx_graph: fx.Graph) -> fx.Node:
    module = pattern.build(nodes, zeros, shapes)
    name = _free_name("", root, pattern.module_name) if pattern.module_name else _module_name(nodes[1].proto, root)
    root.add_module(name, module)
    value = fx_graph.call_module(name, (source,) * pattern.arguments)
    if pattern.part is not None:
        value.meta.update(netbuilder_calls=(), netbuilder_where="")
        value = fx_graph.call_function(operator.getitem, (value, pattern.part))
    return value


def _call(proto, node: _Node, data: list, root: nn.Module, fx_graph: fx.Graph, shapes: dict) -> fx.Node:
    op = proto.op_type
    if op in _MODULES or (op == "Gather" and node.constant(0) is not None):
        module = _embedding(node) if op == "Gather" else _MODULES[op](node)
        name = _module_name(proto, root)
        root.add_module(name, module)
        return fx_graph.call_module(name, (data[0],))
    if op == "Gather" and node.constant(1) is not None and node.constant(1).dim() == 0:  # x[:, i]
        axis, index = node.attributes.get("axis", 0), int(node.constant(1))
        size = (shapes.get(proto.input[0]) or [0] * (axis + 1))[axis]
        index = -1 if index == size - 1 and size > 0 else index  # the last step, as PyTorch's out[:, -1] writes it
        return fx_graph.call_function(operator.getitem, (data[0], (*[slice(None)] * axis, index)))
    if op in _FUNCTIONS:
        function, args = _FUNCTIONS[op](node, data[0])
        return fx_graph.call_function(function, args)
    if op in _MERGES and len(data) == 2:
        return fx_graph.call_function(_MERGES[op], tuple(data))
    stored = [name for name in proto.input if name in node.constants]
    if op == "Add" and len(data) == 1 and len(stored) == 1:  # x + a learned tensor (the rules decide what it is)
        name = _free_name(stored[0], root, "added")
        root.register_parameter(name, nn.Parameter(torch.from_numpy(np.array(node.constants[stored[0]]))))
        return fx_graph.call_function(operator.add, (data[0], fx_graph.get_attr(name)))
    if op == "Concat":
        return fx_graph.call_function(torch.cat, (tuple(data), node.attributes["axis"]))
    if op == "Reshape":
        target = shapes.get(proto.output[0])
        if not target or any(size <= 0 for size in target[1:]):
            raise ValueError("a shape known only while running")
        return fx_graph.call_function(torch.reshape, (data[0], (-1, *target[1:])))
    raise LookupError(op)
