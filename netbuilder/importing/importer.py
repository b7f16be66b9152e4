"""A model -> a netbuilder project with its weights: trace, read every node as a step, refuse with
the import report what no layer computes, build the graph with blocks, lay it out, compile it,
load the model's weights into it and check that it computes what the model computes."""
from __future__ import annotations

import math
import operator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.fx as fx
from torch import nn

from netbuilder.common.contracts import value_kind_of_rank
from netbuilder.common.text import shown
from netbuilder.core.analysis import analyze
from netbuilder.core.compile import compile_graph
from netbuilder.core.graph import Edge, Graph, Node
from netbuilder.core.layout import layered_layout
from netbuilder.core.project import Project

from .graph_builder import GraphBuilder
from .python_file import load_model
from .report import ImportFailure, Unsupported
from .steps import Layer, Part, Refused, StepReader
from .tracing import Traced, out_shape, propagate_shapes, trace

# One sample: the import runs the model twice (its shapes and outputs, then the network's), and a
# reshape mixing the batch with other axes shows even so (its result's first size is no longer 1).
EXAMPLE_BATCH = 1
# how far the imported network's outputs may be from the model's before the import is refused
# (float32 sums in another order differ by far less; a wrong mapping by far more)
AGREEMENT = 1e-4


@dataclass
class ImportedModel:
    project: Project
    model: nn.Module  # the compiled network holding the model's weights, in eval mode
    input_kind: str
    parameters: int  # trainable parameters of the model imported (and of the network)
    largest_difference: float  # between the model's and the network's outputs on random input
    notes: list[str] = field(default_factory=list)


def import_python_file(path: str | Path, class_name: str, arguments: dict[str, Any],
                       input_shape: tuple[int, ...]) -> ImportedModel:
    """Import `class_name(**arguments)` from the Python file `path` (running the file)."""
    model = load_model(path, class_name, arguments)
    return import_module(model, input_shape, class_name)


def import_module(model: nn.Module, input_shape: tuple[int, ...], name: str) -> ImportedModel:
    """Import a built model taking one input of `input_shape` (without the batch)."""
    model = model.eval()
    check_input_shape(input_shape)
    traced = trace(model, name)
    input_kind, example = _example_input(traced, input_shape)
    parameters = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return import_traced(traced, example, input_kind, name, None, parameters)


def check_input_shape(input_shape: tuple[int, ...]) -> None:
    if not 1 <= len(input_shape) <= 3 or any(size < 1 for size in input_shape):
        raise ImportFailure(f"the input shape {shown(input_shape)} must be 1 to 3 sizes without the batch: "
                            "1,28,28 for an image, 20,8 for a sequence, 16 for a vector or token ids")


def import_traced(traced: Traced, example: torch.Tensor, input_kind: str, name: str, original, parameters: int
                  ) -> ImportedModel:
    """The network of a traced model whose container calls are noted (tracing.Traced), checked on
    `example` against `original` (what computes the model's outputs from other code than the traced
    module's: a .pt2 program, onnxruntime), or, without one, against the traced module's own output
    (the user's modules themselves)."""
    traced_output = propagate_shapes(traced, example, name)
    reader = StepReader(traced.module)
    nodes = list(traced.module.graph.nodes)
    # (a parameter traced with its default is a placeholder holding it: no input)
    placeholders = [node for node in nodes if node.op == "placeholder" and not node.args]
    if len(placeholders) != 1:
        raise ImportFailure(f"{name}.forward takes {len(placeholders)} inputs; netbuilder imports models "
                            "taking one.")
    for node in nodes:
        if node.op in ("placeholder", "output"):
            continue
        reader.steps[node] = reader.read(node)
    result = _result(nodes[-1], name)
    _complete_parts(reader, nodes, result)
    _refuse_unsupported(reader, name)
    _refuse_shared_weights(reader, name)
    graph, weights = _graph(traced, reader, placeholders[0], result, input_kind, tuple(example.shape[1:]))
    project = Project(graph=graph, name=name, description=f"Imported from the PyTorch model {name}.")
    with torch.no_grad():
        expected = traced_output if original is None else original(example)
    return _checked(project, weights, expected, example, input_kind, name, parameters)


def _example_input(traced: Traced, input_shape: tuple[int, ...]) -> tuple[str, torch.Tensor]:
    """The Input's kind and a random batch for it: token ids when the input feeds an Embedding."""
    placeholder = next(node for node in traced.module.graph.nodes if node.op == "placeholder" and not node.args)
    for user in placeholder.users:
        if user.op == "call_module" and isinstance(traced.module.get_submodule(user.target), nn.Embedding):
            if len(input_shape) != 1:
                raise ImportFailure(f"the input feeds an Embedding, so it holds token ids: give --input-shape as "
                                    f"one size (the sequence length), not {shown(input_shape)}")
            vocabulary = traced.module.get_submodule(user.target).num_embeddings
            return "tokens", torch.randint(0, vocabulary, (EXAMPLE_BATCH, *input_shape), generator=_seeded())
    return value_kind_of_rank(len(input_shape)), torch.randn(EXAMPLE_BATCH, *input_shape, generator=_seeded())


def _seeded() -> torch.Generator:
    return torch.Generator().manual_seed(0)


def _result(output: fx.Node, name: str) -> fx.Node:
    result = output.args[0]
    if not isinstance(result, fx.Node) or out_shape(result) is None and not isinstance(result.meta.get("tensor_meta"),
                                                                                       tuple):
        raise ImportFailure(f"{name}.forward returns {type(result).__name__ if not isinstance(result, fx.Node) else 'no tensor'}; "
                            "netbuilder imports models returning one tensor.")
    return result


def _complete_parts(reader: StepReader, nodes: list[fx.Node], result: fx.Node) -> None:
    """Parts of a tuple result that are used as tensors become the layer giving that part (an LSTM
    returning its last step); a part no layer gives is refused."""
    used = {reader.resolve(source) for node in nodes if node.op != "output" and not _is_getitem(node)
            for source in node.all_input_nodes}
    used.add(reader.resolve(result))
    for node, step in list(reader.steps.items()):
        if not isinstance(step, Part) or node not in used:
            continue
        module = reader.module.get_submodule(step.call.target)
        parts = step.rule.parts(module)
        if step.path not in parts:
            taken = "".join(f"[{_index_text(index)}]" for index in step.path)
            reader.steps[node] = Refused(Unsupported(f"nn.{type(module).__name__} result{taken}", step.call.target,
                                                     f"netbuilder's layer gives {_parts_text(parts)}"))
            continue
        params = {**step.rule.params(module), **parts[step.path]}
        inputs = [a for a in step.call.args if isinstance(a, fx.Node)][:1]
        reader.steps[node] = Layer(step.rule.type_id, params, inputs, step.call.target.rsplit(".", 1)[-1],
                                   step.rule.weights(module), module, from_module=True)
        node.meta["netbuilder_calls"] = step.call.meta.get("netbuilder_calls", ())


def _is_getitem(node: fx.Node) -> bool:
    """An index into a value (x[0], or a .pt2 file's aten.select), which may take a part of a tuple result."""
    return node.op == "call_function" and node.target in (operator.getitem, torch.ops.aten.select.int)


def _index_text(index: Any) -> str:
    if isinstance(index, tuple) and index[:1] == ("slice",):
        return f"{'' if index[1] is None else index[1]}:{'' if index[2] is None else index[2]}"
    if isinstance(index, tuple):
        return ", ".join(_index_text(i) for i in index)
    return str(index)


def _parts_text(parts: dict[tuple, dict]) -> str:
    return " or ".join("result" + "".join(f"[{_index_text(i)}]" for i in path) for path in parts)


def _refuse_unsupported(reader: StepReader, name: str) -> None:
    refused = [step.item for step in reader.steps.values() if isinstance(step, Refused) and step.listed]
    if refused:
        raise ImportFailure.report(name, refused)


def _refuse_shared_weights(reader: StepReader, name: str) -> None:
    users: dict[int, list[str]] = {}
    for node, step in reader.steps.items():
        if isinstance(step, Layer) and step.weights:
            users.setdefault(id(step.owner), []).append(step.name or node.name)
    shared = [names for names in users.values() if len(names) > 1]
    if shared:
        raise ImportFailure.report(name, [Unsupported(f"a layer with weights called {len(names)} times", names[0],
                                                      "netbuilder gives every call of a layer its own weights")
                                          for names in shared])


def _graph(traced: Traced, reader: StepReader, placeholder: fx.Node, result: fx.Node, input_kind: str,
           input_shape: tuple[int, ...]) -> tuple[Graph, list]:
    """The network with its blocks laid out, and the weights of each layer by its compiled path."""
    builder = GraphBuilder(reader.steps, traced.calls, reader.resolve)
    graph = Graph(blocks=builder.library)
    input_name = placeholder.target if placeholder.target.isidentifier() else "input"
    graph.insert_node(Node("n1", "input", input_name, {"kind": input_kind, "shape": tuple(input_shape)}))
    values = {placeholder: "n1"}
    members = [node for node in reader.steps if isinstance(reader.steps[node], Layer)]
    builder.build(graph, values, members)
    final = out_shape(reader.resolve(result))
    task = "classification" if final is not None and len(final) == 2 and final[1] >= 2 else "regression"
    output_id = graph.new_id()
    graph.insert_node(Node(output_id, "output", graph.unique_name("output") if graph.node_named("output") else "output",
                           {"task": task}))
    graph.insert_edge(Edge(values[reader.resolve(result)], output_id))
    for layout in (graph, *(definition.graph for definition in builder.library.values())):
        for node_id, position in layered_layout(layout).items():
            layout.nodes[node_id].position = position
    return graph, builder.weights


def _checked(project: Project, weights: list, expected: torch.Tensor, example: torch.Tensor, input_kind: str,
             name: str, parameters: int) -> ImportedModel:
    graph = project.graph
    analysis = analyze(graph)
    if not analysis.ok:
        listed = "; ".join(problem.message for problem in analysis.errors[:5])
        raise ImportFailure(f"{name} was read, but netbuilder's layers refuse it: {listed}.")
    network = compile_graph(graph, analysis)
    state = {".".join((*path, key)): tensor for path, tensors in weights for key, tensor in tensors.items()}
    missing, unexpected = network.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ImportFailure(f"the weights of {name} do not fit the imported network (missing "
                            f"{', '.join(missing[:3]) or 'none'}; left over {', '.join(unexpected[:3]) or 'none'}).")
    with torch.no_grad():
        found = network(example)
    difference = float((expected - found).abs().max()) if expected.shape == found.shape else math.inf
    scale = max(1.0, float(expected.abs().max()))
    if not difference <= AGREEMENT * scale:
        raise ImportFailure(f"the imported network does not compute what {name} computes (outputs differ by up "
                            f"to {difference:.3g}); netbuilder did not import it rather than give you another model.")
    notes = []
    if analysis.total_params != parameters:
        notes.append(f"{parameters - analysis.total_params:,} of the model's parameters are in layers its forward "
                     "never calls; they are left out.")
    return ImportedModel(project, network, input_kind, analysis.total_params, difference, notes)
