"""Validation and shape inference: what every node outputs, costs, and what is wrong with it."""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Literal

from .graph import Edge, Graph, Node, name_clash
from .layers import Fix, ParamError, Shape, ShapeError, format_shape
from .layers.block_nodes import BlockInstance
from .layers.recurrent import Embedding

if TYPE_CHECKING:
    from .blocks import BlockDefinition


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the network, as data: views show cause and remedy as they like, and
    the editor applies `fix` (core.fixes.fix_command) as one undoable step."""

    subject: str  # what has the problem: 'Dense "fc1"', or "The network"
    cause: str  # what is wrong with it ("needs a flat input but receives 8×5×5")
    remedy: str  # what to change ("insert Flatten")
    node_id: str | None = None  # None: a problem of the whole graph
    # "hint": wiring the user is probably still building (a layer just dropped); it becomes a
    # warning, with its fix, once they ask to train (analyze(..., training=True))
    severity: Literal["error", "warning", "hint"] = "error"
    fix: Fix | None = None  # the remedy as an edit, where one exists
    # a problem of a layer inside block instance `node_id`: the ids, block by block inward, that
    # lead from the instance to that layer (an instance inside its block, ..., the layer)
    inside: tuple[str, ...] = ()

    @property
    def location(self) -> tuple[str, ...]:
        """The node ids from the network down to the node that is wrong: the instances entered,
        then that node; () for a problem of the whole network."""
        return (self.node_id, *self.inside) if self.node_id is not None else ()

    @property
    def message(self) -> str:
        """The whole problem as one sentence."""
        return f"{self.subject} {self.cause}: {self.remedy}"


@dataclass(frozen=True)
class NodeInfo:
    in_shapes: tuple[Shape, ...]
    shape: Shape  # of its output, or its first output (a block card with several)
    params: int
    flops: int
    token_ids: bool  # the output holds integer token ids, not floats
    # a block card with several outputs: the shape and token_ids of each after the first
    other_outputs: tuple[tuple[Shape, bool], ...] = ()

    @property
    def output_count(self) -> int:
        return 1 + len(self.other_outputs)

    @property
    def output_shapes(self) -> tuple[Shape, ...]:
        return (self.shape, *(shape for shape, _ in self.other_outputs))

    def output(self, port: int) -> NodeInfo:
        """What leaves output `port`: this info, with that output's shape for a later one."""
        if port == 0:
            return self
        shape, token_ids = self.other_outputs[port - 1]
        return replace(self, shape=shape, token_ids=token_ids)


def wire_info(graph: Graph, analysis: Analysis, edge: Edge) -> NodeInfo:
    """What flows along `edge`: its source's info for the output it leaves (ShapeError, for the
    layer it feeds, when the source's block no longer has that output)."""
    info = analysis.info[edge.source]
    if edge.port >= info.output_count:
        source = graph.nodes[edge.source]
        raise ShapeError(f'is wired to output {edge.port + 1} of "{source.name}", whose block has '
                         f'{info.output_count} output{"s" * (info.output_count != 1)}',
                         "connect it to one of the block's outputs")
    return info.output(edge.port)


def upstream_of(graph: Graph, analysis: Analysis, node_id: str) -> list[NodeInfo]:
    """What enters node `node_id` along each of its wires, in order (its sources are analysed)."""
    return [wire_info(graph, analysis, edge) for edge in graph.input_edges(node_id)]


@dataclass
class Analysis:
    order: list[str]  # topological order of the nodes that can be computed
    info: dict[str, NodeInfo] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    # each block instance's definition analysed for that instance's inputs (one repetition), so
    # that the summary, memory and the palette read the layers inside without analysing them again
    # (cards of one block with the same inputs share one; read them, never change them)
    inner: dict[str, Analysis] = field(default_factory=dict)
    _by_node: dict[str | None, list[Problem]] = field(default_factory=dict, repr=False, compare=False)
    _indexed: int = field(default=0, repr=False, compare=False)  # how many problems _by_node holds

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def ok(self) -> bool:
        return not self.errors

    def problems_of(self, node_id: str) -> list[Problem]:
        """The problems on one node, from an index (views ask this for every node)."""
        for problem in self.problems[self._indexed:]:  # problems are only ever appended
            self._by_node.setdefault(problem.node_id, []).append(problem)
        self._indexed = len(self.problems)
        return list(self._by_node.get(node_id, ()))

    def listing(self, graph: Graph) -> list[str]:
        """Every node for a table: the data-flow order, then nodes on cycles, which have none."""
        placed = set(self.order)
        return self.order + [node_id for node_id in graph.nodes if node_id not in placed]

    @property
    def total_params(self) -> int:
        return sum(i.params for i in self.info.values())

    @property
    def total_flops(self) -> int:
        return sum(i.flops for i in self.info.values())


_NETWORK = "The network"


def describe(node: Node) -> str:
    return f'{node.spec.title} "{node.name}"'


def topological_order(graph: Graph) -> tuple[list[str], set[str]]:
    """Kahn's order of the nodes (ties in insertion order) and the set of nodes on cycles."""
    pending = {node_id: len(graph.inputs_of(node_id)) for node_id in graph.nodes}
    ready = deque(node_id for node_id, count in pending.items() if count == 0)
    order: list[str] = []
    while ready:
        current = ready.popleft()
        order.append(current)
        for target in graph.outputs_of(current):
            pending[target] -= 1
            if pending[target] == 0:
                ready.append(target)
    return order, set(graph.nodes) - set(order)


def analyze(graph: Graph, *, classes: int | None = None, training: bool = False,
            ports: dict[str, NodeInfo] | None = None, within: tuple[str, ...] = (),
            shared: dict[tuple, Analysis] | None = None) -> Analysis:
    """Infer every node's shape, parameters and FLOPs, and list every problem, each on its node.

    `classes`: the dataset's class count where it is known, so a classification Output whose
    score count differs is a problem before training. `training`: the user asked to train, so
    unfinished wiring is a warning with its fix rather than a calm hint. `ports`: `graph` is a
    block definition's, analysed for one instance: what enters each input port; `within`: the ids
    of the blocks it lies inside (a block found among them contains itself); `shared`: the blocks
    analysed so far in this analysis, by block and inputs (see inside_instance).
    """
    shared = {} if shared is None else shared
    order, cyclic = topological_order(graph)
    result = Analysis(order=order)
    result.problems.extend(_network_problems(graph, cyclic, inside_block=ports is not None))
    for node_id in order:
        if ports is not None and node_id in ports:
            result.info[node_id] = ports[node_id]
            continue
        _analyze_node(graph, graph.nodes[node_id], result, training, within, shared)
    if classes is not None:
        problem = class_count_problem(graph, result, classes)
        if problem:
            result.problems.append(problem)
    return result


def _network_problems(graph: Graph, cyclic: set[str], inside_block: bool = False) -> list[Problem]:
    """What is wrong with the network as a whole or with a node whatever its inputs: cycles, names
    that clash, and the count of Input and Output layers."""
    problems = [Problem(describe(graph.nodes[node_id]), "is part of a cycle", "data must flow one way: remove "
                        "one of the connections that lead back", node_id) for node_id in sorted(cyclic)]
    for node in graph.nodes.values():
        clash = name_clash(node.name)
        if clash:  # a project saved before the name rule knew this name still opens, with this fix
            better = graph.usable_name(node.name)
            problems.append(Problem(describe(node), f"has a name that clashes with {clash}",
                                    f"rename it, for example to {better}", node.id,
                                    fix=Fix(f"Rename it to {better}", "rename", node.id, params=(("name", better),))))
    for node in graph.nodes.values():  # only a block's ports lead in and out of a block, and only inside one
        if (node.spec.is_source or node.spec.is_sink) and (node.spec.category == BlockInstance.category) != inside_block:
            problems.append(Problem(describe(node), f"cannot be {'inside' if inside_block else 'outside'} a block",
                                    "delete it", node.id, fix=Fix("Delete it", "remove", node.id)))
    if inside_block:
        return problems
    specs = [node.spec for node in graph.nodes.values()]
    if not any(spec.is_source for spec in specs):
        problems.append(Problem(_NETWORK, "has no Input layer", "add one from the palette"))
    outputs = sum(spec.is_sink for spec in specs)
    if outputs != 1:
        problems.append(Problem(_NETWORK, "needs exactly one Output layer", "delete all but one") if outputs else
                        Problem(_NETWORK, "has no Output layer", "add one to say what the model predicts"))
    return problems


def _analyze_node(graph: Graph, node: Node, result: Analysis, training: bool, within: tuple[str, ...],
                  shared: dict[tuple, Analysis]) -> None:
    """Add `node`'s shape and counts to `result`, or its problem (its upstream nodes are done);
    `training` as in `analyze`."""
    add = result.problems.append
    sources = graph.inputs_of(node.id)
    problem = _wiring_problem(node, sources)
    if problem:
        add(problem)
        return
    if any(s not in result.info for s in sources):
        return  # an upstream node already has a problem; one message per cause is enough
    try:
        upstream = upstream_of(graph, result, node.id)
        if node.type_id == BlockInstance.type_id:
            info, result.inner[node.id] = _infer_instance(graph, node, upstream, within, shared)
        else:
            info = _infer(node, upstream)
    except _ProblemInside as error:
        add(Problem(describe(node), error.cause, error.remedy, node.id, inside=error.location))
        return
    except ShapeError as error:
        fix = replace(error.fix, node_id=error.fix.node_id or node.id) if error.fix else None
        add(Problem(describe(node), error.cause, error.remedy, node.id, fix=fix))
        return
    except ParamError as error:
        add(Problem(describe(node), str(error), "change it in the Inspector", node.id))
        return
    result.info[node.id] = info
    for source in sources:
        _add_source_warning(graph, node, graph.nodes[source], result)
    if node.spec.has_output and not graph.outputs_of(node.id) and not node.spec.is_source:
        add(Problem(describe(node), "feeds nothing, so it does not affect the prediction",
                    "connect it to a later layer or delete it", node.id, "warning",
                    Fix("Delete it", "remove", node.id)) if training else
            Problem(describe(node), "is not connected onward yet", "connect its output to a later layer",
                    node.id, "hint"))


def _wiring_problem(node: Node, sources: list[str]) -> Problem | None:
    spec, count = node.spec, len(sources)
    if count < spec.min_inputs:
        needed = "an input" if spec.min_inputs == 1 else f"at least {spec.min_inputs} inputs"
        return Problem(describe(node), f"needs {needed}",
                       f"connect {'one' if spec.min_inputs == 1 else 'them'} to it", node.id)
    if spec.max_inputs is not None and count > spec.max_inputs:
        return Problem(describe(node), f"takes one input but {count} are connected",
                       "disconnect all but one", node.id)
    return None


def _infer(node: Node, upstream: list[NodeInfo]) -> NodeInfo:
    spec, params = node.spec, node.params
    in_shapes = tuple(u.shape for u in upstream)
    token_inputs = any(u.token_ids for u in upstream)
    if token_inputs and not spec.accepts_token_ids:
        raise ShapeError("receives token ids (whole numbers), which must first become vectors",
                         "insert an Embedding before it",
                         Fix("Insert an Embedding before it", "insert_before", type_id=Embedding.type_id))
    if spec.accepts_token_ids and not token_inputs:
        raise ShapeError(f"needs token ids but receives {format_shape(in_shapes[0])} values",
                         "feed it from an Input of kind tokens")
    shape = spec.infer_shape(params, in_shapes)
    return NodeInfo(in_shapes, shape, spec.param_count(params, in_shapes),
                    spec.flops(params, in_shapes, shape), spec.outputs_token_ids(params))


def inside_instance(graph: Graph, node: Node, upstream: list[NodeInfo],
                    within: tuple[str, ...] = (),
                    shared: dict[tuple, Analysis] | None = None) -> tuple[BlockDefinition, Analysis]:
    """The definition of block instance `node` and its analysis for the inputs `upstream`; raises
    ShapeError when the instance cannot be analysed (its block is missing, contains itself, or
    takes another number of inputs). `shared` keeps the insides analysed during one analysis by
    block, input shapes and nesting, so that cards of one block fed the same shapes (a ResNet
    stage) share one analysis: nothing can change the block while an analysis runs."""
    definition = graph.blocks.get(node.params["block"])
    if definition is None:
        raise ShapeError("refers to a block the project does not have", "delete it")
    if definition.id in within:
        raise ShapeError(f'contains block "{definition.name}" inside itself', "a block cannot be placed inside itself")
    ports = definition.input_ports
    if len(upstream) != len(ports):
        names = ", ".join(definition.port_names())
        raise ShapeError(f'has {len(upstream)} input{"s" * (len(upstream) != 1)} connected but block '
                         f'"{definition.name}" takes {len(ports)} ({names})', "connect one wire per port")
    inputs = tuple((info.shape, info.token_ids) for info in upstream)
    key = (definition.id, inputs, within)
    if shared is not None and key in shared:  # another card of this block with the same inputs: the same insides
        return definition, shared[key]
    seeds = {port: NodeInfo((), shape, 0, 0, token_ids) for port, (shape, token_ids) in zip(ports, inputs)}
    inner = analyze(definition.graph, ports=seeds, within=(*within, definition.id), shared=shared)
    if shared is not None:
        shared[key] = inner
    return definition, inner


class _ProblemInside(ShapeError):
    """A block instance cannot be analysed because of a problem of a layer inside its block;
    `location` leads from the instance's block to that layer (Problem.inside)."""

    def __init__(self, cause: str, remedy: str, location: tuple[str, ...]):
        super().__init__(cause, remedy)
        self.location = location


def _infer_instance(graph: Graph, node: Node, upstream: list[NodeInfo],
                    within: tuple[str, ...], shared: dict[tuple, Analysis]) -> tuple[NodeInfo, Analysis]:
    """A block instance's output and its counts, and its definition analysed for these inputs: the
    parameters and FLOPs of one repetition times the repeat count. A problem inside the block
    shows on the instance, naming the layer inside."""
    definition, inner = inside_instance(graph, node, upstream, within, shared)
    if inner.errors:
        first = inner.errors[0]
        more = f" (and {len(inner.errors) - 1} more problems inside)" if len(inner.errors) > 1 else ""
        raise _ProblemInside(f'has a problem inside: {first.subject} inside block "{definition.name}" {first.cause}'
                             f'{more}', first.remedy, first.location)
    outputs = definition.output_ports
    if not outputs or any(output not in inner.info for output in outputs):
        raise ShapeError(f'block "{definition.name}" has no output', "connect a layer to its output port")
    shape, token_ids = inner.info[outputs[0]].shape, inner.info[outputs[0]].token_ids
    repeat = node.params["repeat"]
    in_shapes = tuple(info.shape for info in upstream)
    if repeat > 1 and len(outputs) > 1:
        raise ShapeError(f'repeats ×{repeat}, but block "{definition.name}" has {len(outputs)} outputs: only a '
                         "block with one output can feed itself", "set repeat to 1",
                         Fix("Set repeat to 1", "set_params", params=(("repeat", 1),)))
    if repeat > 1 and (in_shapes != (shape,) or upstream[0].token_ids != token_ids):
        raise ShapeError(f"repeats ×{repeat}, but the block's output {format_shape(shape)} does not fit its "
                         f"input {', '.join(format_shape(s) for s in in_shapes)}",
                         "set repeat to 1, or make the block's output the shape of its input",
                         Fix("Set repeat to 1", "set_params", params=(("repeat", 1),)))
    others = tuple((inner.info[output].shape, inner.info[output].token_ids) for output in outputs[1:])
    return NodeInfo(in_shapes, shape, inner.total_params * repeat, inner.total_flops * repeat, token_ids,
                    others), inner


def _add_source_warning(graph: Graph, node: Node, source: Node, result: Analysis) -> None:
    warning = node.spec.source_warning(node.params, source.spec, source.params)
    if warning:
        cause, remedy, fix = warning
        result.problems.append(Problem(describe(source), cause, remedy, source.id, "warning",
                                       replace(fix, node_id=source.id) if fix else None))


def class_count_problem(graph: Graph, analysis: Analysis, classes: int) -> Problem | None:
    """The problem when a classification Output's score count differs from a dataset's `classes`,
    with a fix setting the units of the layer that makes the scores (the last Dense), where there
    is one. Too few scores is an error (training cannot run); spare ones a warning: training runs,
    but it trains a wider classifier than the data has classes, whose extra scores only waste."""
    output = next((node for node in graph.nodes.values() if node.spec.is_sink), None)
    wires = graph.input_edges(output.id) if output else []
    if len(wires) != 1 or wires[0].source not in analysis.info or output.params.get("task") != "classification":
        return None
    try:
        scores = wire_info(graph, analysis, wires[0]).shape
    except ShapeError:  # the Output has that problem already
        return None
    if scores == (classes,):
        return None
    maker = _units_layer(graph, analysis, wires[0].source)
    fix = Fix(f"Set units to {classes}", "set_params", maker, params=(("units", classes),)) if maker else None
    where = f"the units of {describe(graph.nodes[maker])}" if maker else "the last layer's size"
    severity = "warning" if len(scores) == 1 and scores[0] > classes else "error"
    return Problem(describe(output), f"gives {format_shape(scores)} class scores but the data has {classes} classes",
                   f"set {where} to {classes}", output.id, severity, fix)


def _units_layer(graph: Graph, analysis: Analysis, node_id: str) -> str | None:
    """The nearest layer at or before `node_id` whose `units` decide its output width, looking back
    through layers that keep the shape (activations, dropout)."""
    shape = analysis.info[node_id].shape
    while True:
        node = graph.nodes[node_id]
        if "units" in node.params:
            return node_id
        sources = graph.inputs_of(node_id)
        # a block's output width is decided inside it, not by a layer before it
        if len(sources) != 1 or node.type_id == BlockInstance.type_id or analysis.info[sources[0]].shape != shape:
            return None
        node_id = sources[0]
