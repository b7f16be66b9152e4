"""Graph -> a real torch `nn.Module` (a torch.fx GraphModule).

Submodules are named after the nodes, so `state_dict` keys read like `conv1.weight` and stay
stable across edits of other nodes. The forward is straight-line generated code (`model.code`)
with no per-call interpretation of the graph.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from . import memory
from .analysis import Analysis, NodeInfo, Problem, analyze, inside_instance, upstream_of
from .blocks import INSTANCE, class_name
from .graph import Edge, Graph, Node

if TYPE_CHECKING:
    import torch.fx


class CompileError(ValueError):
    """The graph has problems; `problems` lists them, the message summarises them for the user."""

    def __init__(self, analysis: Analysis):
        self.problems = analysis.errors
        listed = "\n".join(f"• {p.message}" for p in self.problems[:10])
        more = f"\n… and {len(self.problems) - 10} more" if len(self.problems) > 10 else ""
        super().__init__(f"The network cannot be built yet:\n{listed}{more}")


class NotEnoughMemory(CompileError):
    """The network, or training it, needs more memory than this computer has free; the message
    gives both figures and what to lower."""

    def __init__(self, problem: Problem):
        self.problems = [problem]
        ValueError.__init__(self, f"{problem.message}.")


def input_nodes(graph: Graph, analysis: Analysis) -> list[str]:
    """The Input nodes in the order the compiled model takes them as arguments."""
    return [node_id for node_id in analysis.order if graph.nodes[node_id].spec.is_source]


def output_node(graph: Graph) -> str:
    return next(node_id for node_id, node in graph.nodes.items() if node.spec.is_sink)


def compile_graph(graph: Graph, analysis: Analysis | None = None) -> "torch.fx.GraphModule":
    """Build the model; raises CompileError listing the problems when the graph is not valid, and
    NotEnoughMemory, before allocating anything, when its weights would not fit in memory."""
    analysis = analysis or analyze(graph)
    if not analysis.ok:
        raise CompileError(analysis)
    too_large = memory.building_problem(analysis, memory.available_memory())
    if too_large:
        raise NotEnoughMemory(too_large)
    return _build(graph, analysis, input_nodes(graph, analysis), graph.input_edges(output_node(graph)), "Net")


def _build(graph: Graph, analysis: Analysis, inputs: list[str], results: list[Edge],
           class_name: str) -> "torch.fx.GraphModule":
    """The module computing what flows along the wires `results` of `graph` (a tuple for several)
    from the nodes `inputs` (its arguments, in order), for a valid `analysis`: each block instance
    becomes a nested module of its own."""
    import torch
    import torch.fx

    root = torch.nn.Module()
    fx_graph = torch.fx.Graph()
    tracer = torch.fx.proxy.GraphAppendingTracer(fx_graph)
    values: dict[tuple[str, int], torch.fx.Proxy] = {}  # by node and output port
    for node_id in inputs:
        values[node_id, 0] = torch.fx.Proxy(fx_graph.placeholder(graph.nodes[node_id].name), tracer)
    for node_id in analysis.order:
        node, info = graph.nodes[node_id], analysis.info[node_id]
        if (node_id, 0) in values or node.spec.is_sink:
            continue
        sources = [values[edge.source, edge.port] for edge in graph.input_edges(node_id)]
        if node.type_id == INSTANCE:
            root.add_module(node.name, _block_module(graph, node, upstream_of(graph, analysis, node_id)))
            value = _ModuleCaller(tracer, node.name)(*sources)
            for port in range(info.output_count):  # a block with several outputs returns a tuple
                values[node_id, port] = value[port] if info.output_count > 1 else value
            continue
        module = node.spec.build(node.params, info.in_shapes)
        call = None
        if module is not None:
            root.add_module(node.name, module)
            call = _ModuleCaller(tracer, node.name)
        values[node_id, 0] = node.spec.apply(node.params, call, sources)
    returned = [values[edge.source, edge.port].node for edge in results]
    fx_graph.output(returned[0] if len(returned) == 1 else tuple(returned))
    model = torch.fx.GraphModule(root, fx_graph, class_name=class_name)
    model.eval()
    return model


class _ModuleCaller:
    """Stands for a node's module in its forward code while compiling: calling it records a call of
    the module, and reading an attribute (a positional embedding's `.weight`) records that read."""

    def __init__(self, tracer, name: str):
        self._tracer, self._name = tracer, name

    def __call__(self, *args, **kwargs):
        return self._tracer.create_proxy("call_module", self._name, args, kwargs)

    def __getattr__(self, attribute: str):
        if attribute.startswith("__"):  # Python's own protocol look-ups are not the module's weights
            raise AttributeError(attribute)
        return self._tracer.create_proxy("get_attr", f"{self._name}.{attribute}", (), {})


def _block_module(graph: Graph, node: Node, upstream: list[NodeInfo]) -> "torch.nn.Module":
    """Block instance `node` as a module of its block's class; repeated, an nn.Sequential of copies
    with their own weights (state_dict keys `stage1.0.conv1.weight`)."""
    import torch

    definition, inner = inside_instance(graph, node, upstream)
    name = class_name(definition.name)
    copies = [_build(definition.graph, inner, definition.input_ports, definition.results(), name)
              for _ in range(node.params["repeat"])]
    return copies[0] if len(copies) == 1 else torch.nn.Sequential(*copies)

