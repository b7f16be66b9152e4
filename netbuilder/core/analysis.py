"""Validation and shape inference: what every node outputs, costs, and what is wrong with it."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Literal

from .graph import Graph, Node
from .layers import ParamError, Shape, ShapeError, format_shape


@dataclass(frozen=True)
class Problem:
    message: str  # complete sentence for the user, naming the node
    node_id: str | None = None  # None: a problem of the whole graph
    severity: Literal["error", "warning"] = "error"


@dataclass(frozen=True)
class NodeInfo:
    in_shapes: tuple[Shape, ...]
    shape: Shape
    params: int
    flops: int
    token_ids: bool  # the output holds integer token ids, not floats


@dataclass
class Analysis:
    order: list[str]  # topological order of the nodes that can be computed
    info: dict[str, NodeInfo] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def problems_of(self, node_id: str) -> list[Problem]:
        return [p for p in self.problems if p.node_id == node_id]

    @property
    def total_params(self) -> int:
        return sum(i.params for i in self.info.values())

    @property
    def total_flops(self) -> int:
        return sum(i.flops for i in self.info.values())


def describe(node: Node) -> str:
    return f'{node.spec.title} "{node.name}"'


def adjacency(graph: Graph) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Sources and targets of every node, built once: per-node edge scans would be quadratic."""
    incoming: dict[str, list[str]] = {node_id: [] for node_id in graph.nodes}
    outgoing: dict[str, list[str]] = {node_id: [] for node_id in graph.nodes}
    for edge in graph.edges:
        incoming[edge.target].append(edge.source)
        outgoing[edge.source].append(edge.target)
    return incoming, outgoing


def topological_order(graph: Graph) -> tuple[list[str], set[str]]:
    """Kahn's order of the nodes (ties in insertion order) and the set of nodes on cycles."""
    incoming, outgoing = adjacency(graph)
    pending = {node_id: len(sources) for node_id, sources in incoming.items()}
    ready = deque(node_id for node_id, count in pending.items() if count == 0)
    order: list[str] = []
    while ready:
        current = ready.popleft()
        order.append(current)
        for target in outgoing[current]:
            pending[target] -= 1
            if pending[target] == 0:
                ready.append(target)
    return order, set(graph.nodes) - set(order)


def analyze(graph: Graph) -> Analysis:
    """Infer every node's shape, parameters and FLOPs, and list every problem, each on its node."""
    order, cyclic = topological_order(graph)
    incoming, outgoing = adjacency(graph)
    result = Analysis(order=order)
    add = result.problems.append
    for node_id in sorted(cyclic):
        add(Problem(f"{describe(graph.nodes[node_id])} is part of a cycle: data must flow one way", node_id))

    kinds = [n.type_id for n in graph.nodes.values()]
    if "input" not in kinds:
        add(Problem("The network has no Input layer: add one from the palette"))
    if kinds.count("output") != 1:
        add(Problem("The network needs exactly one Output layer" if kinds.count("output") else
                    "The network has no Output layer: add one to say what the model predicts"))

    for node_id in order:
        node = graph.nodes[node_id]
        sources = incoming[node_id]
        problem = _wiring_problem(graph, node, sources)
        if problem:
            add(Problem(problem, node_id))
            continue
        if any(s not in result.info for s in sources):
            continue  # an upstream node already has a problem; one message per cause is enough
        upstream = [result.info[s] for s in sources]
        try:
            info = _infer(node, upstream)
        except (ShapeError, ParamError) as error:
            add(Problem(f"{describe(node)} {error}", node_id))
            continue
        result.info[node_id] = info
        if not node.spec.has_output or outgoing[node_id] or node.type_id == "input":
            continue
        add(Problem(f"{describe(node)} feeds nothing, so it does not affect the prediction", node_id, "warning"))

    _warn_softmax_before_classification(graph, result)
    return result


def _wiring_problem(graph: Graph, node: Node, sources: list[str]) -> str | None:
    spec, count = node.spec, len(sources)
    if count < spec.min_inputs:
        needed = "an input" if spec.min_inputs == 1 else f"at least {spec.min_inputs} inputs"
        return f"{describe(node)} needs {needed}: connect {'one' if spec.min_inputs == 1 else 'them'} to it"
    if spec.max_inputs is not None and count > spec.max_inputs:
        return f"{describe(node)} takes one input but {count} are connected"
    return None


def _infer(node: Node, upstream: list[NodeInfo]) -> NodeInfo:
    spec, params = node.spec, node.params
    in_shapes = tuple(u.shape for u in upstream)
    token_inputs = any(u.token_ids for u in upstream)
    if token_inputs and not spec.accepts_token_ids:
        raise ShapeError("receives token ids (whole numbers), which must first become vectors: insert an Embedding before it")
    if spec.accepts_token_ids and not token_inputs:
        raise ShapeError(f"needs token ids from an Input of kind tokens but receives {format_shape(in_shapes[0])} values")
    shape = spec.infer_shape(params, in_shapes)
    return NodeInfo(in_shapes, shape, spec.param_count(params, in_shapes),
                    spec.flops(params, in_shapes, shape), spec.outputs_token_ids(params))


def _warn_softmax_before_classification(graph: Graph, result: Analysis) -> None:
    for node in graph.nodes.values():
        if node.type_id == "output" and node.params["task"] == "classification":
            for source in graph.inputs_of(node.id):
                if graph.nodes[source].type_id == "softmax":
                    result.problems.append(Problem(
                        f'{describe(graph.nodes[source])} before a classification Output: cross-entropy '
                        "applies softmax itself, so training sees it twice and learns slowly. Remove it "
                        "(the app shows probabilities anyway)", source, "warning"))
