"""A traced model's steps -> a netbuilder graph: each container call that holds layers and gives
back one tensor becomes a block instance, identical definitions are kept once, a container whose
calls are one block chained N times becomes that block repeated ×N, and every layer with weights
records where its module sits in the compiled model, so the weights can follow."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import torch
import torch.fx as fx

from netbuilder.core.blocks import INPUT_PORT, INSTANCE, OUTPUT_PORT, BlockDefinition, class_name, new_block_id
from netbuilder.core.graph import Edge, Graph, Node, name_clash, name_problem
from netbuilder.core.layers import get_spec

from .steps import Layer
from .tracing import ModuleCall

@dataclass
class Built:
    graph: Graph
    # the weights of each layer, by the path of its module in the compiled model
    weights: list[tuple[tuple[str, ...], dict[str, torch.Tensor]]] = field(default_factory=list)


def snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


class GraphBuilder:
    def __init__(self, steps: dict[fx.Node, object], calls: list[ModuleCall], resolve):
        self.steps, self.resolve = steps, resolve
        self.library: dict[str, BlockDefinition] = {}
        self.signatures: dict[tuple, str] = {}
        self.weights: list[tuple[tuple[str, ...], dict[str, torch.Tensor]]] = []
        self.layers = [node for node, step in steps.items() if isinstance(step, Layer)]
        self.blocks = {id(call): call for call in calls if self._is_block(call)}

    # --- which container calls become blocks ------------------------------------------------------
    def _effective(self, node: fx.Node) -> tuple[ModuleCall, ...]:
        return tuple(call for call in node.meta.get("netbuilder_calls", ()) if id(call) in self.blocks)

    def _is_block(self, call: ModuleCall) -> bool:
        """A block holds at least one layer module, takes its tensors only through its arguments
        (each once) and hands exactly one of its layers' values out: its result."""
        members = {node for node in self.layers if any(c is call for c in node.meta.get("netbuilder_calls", ()))}
        if not any(self.steps[node].from_module for node in members):
            return False
        if call.result is None or self.resolve(call.result) not in members:
            return False
        arguments = [self.resolve(node) for node in call.args]
        if len(set(arguments)) != len(arguments):
            return False
        result = self.resolve(call.result)
        for node in members:
            for source in self.steps[node].inputs:
                source = self.resolve(source)
                if source not in members and source not in arguments:
                    return False
        for node in self.layers:
            if node in members:
                continue
            if any(self.resolve(s) in members and self.resolve(s) is not result for s in self.steps[node].inputs):
                return False
        return True

    # --- building ---------------------------------------------------------------------------------
    def build(self, root: Graph, values: dict[fx.Node, str], members: list[fx.Node]) -> None:
        self._level(root, (), members, values, ())

    def _level(self, graph: Graph, chain: tuple, members: list[fx.Node], values: dict[fx.Node, str],
               prefix: tuple[str, ...]) -> None:
        """Add to `graph` the layers of `members` directly in the call chain `chain` and an instance
        for each block call one level deeper, in the traced order."""
        depth = len(chain)
        done: set[int] = set()
        for node in members:
            calls = self._effective(node)
            if len(calls) == depth:
                self._add_layer(graph, node, values, prefix)
                continue
            child = calls[depth]
            if id(child) in done:
                continue
            done.add(id(child))
            inner = [m for m in members if len(self._effective(m)) > depth and self._effective(m)[depth] is child]
            self._add_instance(graph, child, (*chain, child), inner, values, prefix)

    def _add_layer(self, graph: Graph, node: fx.Node, values: dict[fx.Node, str], prefix: tuple[str, ...]) -> None:
        step: Layer = self.steps[node]
        spec = get_spec(step.type_id)
        name = _free_name(graph, step.name, spec.name_prefix)
        node_id = graph.new_id()
        graph.insert_node(Node(node_id, step.type_id, name, step.params))
        graph.insert_edges([Edge(values[self.resolve(s)], node_id) for s in step.inputs])
        values[node] = node_id
        if step.weights:
            self.weights.append(((*prefix, name), step.weights))

    def _add_instance(self, graph: Graph, call: ModuleCall, chain: tuple, members: list[fx.Node],
                      values: dict[fx.Node, str], prefix: tuple[str, ...]) -> None:
        wanted = call.path.rsplit(".", 1)[-1]
        name = _free_name(graph, wanted, snake_case(call.class_name))
        inner = Graph(blocks=self.library)
        inner_values: dict[fx.Node, str] = {}
        for port, argument in zip(call.arg_names, call.args):
            port_id = inner.new_id()
            inner.insert_node(Node(port_id, INPUT_PORT, _free_name(inner, port, "x"), {}))
            inner_values[self.resolve(argument)] = port_id
        start = len(self.weights)
        self._level(inner, chain, members, inner_values, (*prefix, name))
        output_id = inner.new_id()
        inner.insert_node(Node(output_id, OUTPUT_PORT, _free_name(inner, "out", "out"), {}))
        inner.insert_edge(Edge(inner_values[self.resolve(call.result)], output_id))
        block_id, repeat = self._repeated(inner)
        if repeat > 1:
            self._renumber_copies(inner, start, (*prefix, name))
        else:
            block_id = self._definition(inner, _definition_name(call))
        node_id = graph.new_id()
        graph.insert_node(Node(node_id, INSTANCE, name, {"block": block_id, "repeat": repeat}))
        graph.insert_edges([Edge(values[self.resolve(a)], node_id) for a in call.args])
        values[self.resolve(call.result)] = node_id

    def _repeated(self, inner: Graph) -> tuple[str | None, int]:
        """(block, N) when `inner` is one input port, N ≥ 2 instances of one block chained, and its output."""
        nodes = list(inner.nodes.values())
        body = nodes[1:-1]
        if len(body) < 2 or nodes[0].type_id != INPUT_PORT or any(n.type_id != INSTANCE for n in body):
            return None, 1
        blocks = {(n.params["block"], n.params["repeat"]) for n in body}
        if len(blocks) != 1 or next(iter(blocks))[1] != 1:
            return None, 1
        chain = [nodes[0], *body, nodes[-1]]
        if any(inner.inputs_of(after.id) != [before.id] for before, after in zip(chain, chain[1:])):
            return None, 1
        return body[0].params["block"], len(body)

    def _renumber_copies(self, inner: Graph, start: int, prefix: tuple[str, ...]) -> None:
        """The copies of a repeated block compile as an nn.Sequential: their weights move from
        `name.basic_block0.conv1` to `name.0.conv1`."""
        copies = {n.name: str(index) for index, n in enumerate(list(inner.nodes.values())[1:-1])}
        depth = len(prefix)
        for index in range(start, len(self.weights)):
            path, tensors = self.weights[index]
            self.weights[index] = ((*prefix, copies[path[depth]], *path[depth + 1:]), tensors)

    def _definition(self, inner: Graph, wanted: str) -> str:
        """The id of the library's definition equal to `inner`, added under a free name if new."""
        names = {node_id: node.name for node_id, node in inner.nodes.items()}
        signature = (tuple((n.type_id, n.name, tuple(sorted((k, repr(v)) for k, v in n.params.items())))
                           for n in inner.nodes.values()),
                     tuple((names[e.source], names[e.target]) for e in inner.edges))
        if signature in self.signatures:
            return self.signatures[signature]
        taken = {definition.name for definition in self.library.values()}
        name, number = wanted, 2
        while name in taken:
            name, number = f"{wanted}{number}", number + 1
        block_id = new_block_id(self.library)
        self.library[block_id] = BlockDefinition(block_id, name, inner)
        self.signatures[signature] = block_id
        return block_id


def _definition_name(call: ModuleCall) -> str:
    """The container's attribute ("layer1") or its class in snake case ("basic_block"); never one
    whose class would be the exported network's own `Net`."""
    attribute = call.path.rsplit(".", 1)[-1]
    name = attribute if call.plain and _usable(attribute) else snake_case(call.class_name)
    if not _usable(name):
        return "block"
    return f"{name}_block" if class_name(name) == "Net" else name


def _usable(name: str | None) -> bool:
    return bool(name) and name_problem(name) is None and name_clash(name) is None


def _free_name(graph: Graph, wanted: str | None, prefix: str) -> str:
    """`wanted` when it is a usable name free in `graph`; a digit-only attribute (an nn.Sequential's
    "0") joined to the prefix ("conv0"); otherwise the prefix's next free name."""
    if wanted and wanted.isdigit():
        wanted = f"{prefix}{wanted}"
    if _usable(wanted) and graph.node_named(wanted) is None:
        return wanted
    return graph.unique_name(prefix)
