"""The network as data: nodes (layers with parameters), edges, and change events for views."""
from __future__ import annotations

import itertools
import keyword
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from .layers import get_spec
from .layers.base import LayerSpec

# nn.Module attributes a node name must not shadow, since names become submodule names
_RESERVED_NAMES = frozenset({
    "forward", "training", "train", "eval", "to", "cuda", "cpu", "type", "float", "double", "half",
    "parameters", "buffers", "children", "modules", "state_dict", "load_state_dict", "apply", "zero_grad",
    "register_buffer", "register_parameter", "add_module", "named_modules", "named_parameters", "code",
    "graph", "requires_grad_", "self", "torch", "nn", "math",
})
_NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class GraphError(ValueError):
    """An edit that cannot be made (e.g. a connection making a cycle); the message is for the user."""


def name_problem(name: str) -> str | None:
    """Why `name` cannot name a node, or None when it can (names become Python identifiers)."""
    if not _NAME_PATTERN.match(name):
        return f"{name!r} is not a valid name: use letters, digits and _, starting with a letter"
    if keyword.iskeyword(name) or name in _RESERVED_NAMES:
        return f"{name!r} is reserved in PyTorch code: choose another name"
    return None


@dataclass
class Node:
    id: str
    type_id: str
    name: str
    params: dict[str, Any]
    position: tuple[float, float] = (0.0, 0.0)

    @property
    def spec(self) -> LayerSpec:
        return get_spec(self.type_id)


@dataclass(frozen=True)
class Edge:
    """Data flowing from `source`'s output into `target`'s input (merge nodes take several, in order)."""

    source: str
    target: str


@dataclass(frozen=True)
class GraphEvent:
    kind: str  # node_added, node_removed, edge_added, edge_removed, params_changed, node_renamed, nodes_moved
    node: Node | None = None
    edge: Edge | None = None


Listener = Callable[[GraphEvent], None]


@dataclass
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list, repr=False, compare=False)

    # --- queries ---------------------------------------------------------------------------------
    def inputs_of(self, node_id: str) -> list[str]:
        return [e.source for e in self.edges if e.target == node_id]

    def outputs_of(self, node_id: str) -> list[str]:
        return [e.target for e in self.edges if e.source == node_id]

    def edges_of(self, node_ids: Iterable[str]) -> list[Edge]:
        ids = set(node_ids)
        return [e for e in self.edges if e.source in ids or e.target in ids]

    def node_named(self, name: str) -> Node | None:
        return next((n for n in self.nodes.values() if n.name == name), None)

    def new_id(self, taken: Iterable[str] = ()) -> str:
        used = set(self.nodes) | set(taken)
        return next(f"n{i}" for i in itertools.count(len(self.nodes) + 1) if f"n{i}" not in used)

    def unique_name(self, prefix: str, taken: Iterable[str] = ()) -> str:
        used = {n.name for n in self.nodes.values()} | set(taken)
        return next(f"{prefix}{i}" for i in itertools.count(1) if f"{prefix}{i}" not in used)

    def reaches(self, start: str, goal: str) -> bool:
        """True when data from `start` flows (through any path) into `goal`."""
        seen, stack = set(), [start]
        while stack:
            current = stack.pop()
            if current == goal:
                return True
            if current not in seen:
                seen.add(current)
                stack.extend(self.outputs_of(current))
        return False

    def connection_problem(self, source: str, target: str) -> str | None:
        """Why source -> target cannot be connected, or None when it can."""
        if source not in self.nodes or target not in self.nodes:
            return "both ends must be nodes of this graph"
        src, dst = self.nodes[source], self.nodes[target]
        if source == target:
            return "a layer cannot feed itself"
        if not src.spec.has_output:
            return f'{src.spec.title} "{src.name}" has no output to connect'
        if dst.spec.max_inputs == 0:
            return f'{dst.spec.title} "{dst.name}" takes no input'
        if Edge(source, target) in self.edges:
            return f'"{src.name}" is already connected to "{dst.name}"'
        taken = len(self.inputs_of(target))
        if dst.spec.max_inputs is not None and taken >= dst.spec.max_inputs:
            return f'{dst.spec.title} "{dst.name}" already has its input: disconnect it first'
        if self.reaches(target, source):
            return f'connecting "{src.name}" to "{dst.name}" would make a cycle'
        return None

    # --- mutations (used by commands; each emits one event) -------------------------------------
    def _emit(self, kind: str, node: Node | None = None, edge: Edge | None = None) -> None:
        event = GraphEvent(kind, node, edge)
        for listener in list(self.listeners):
            listener(event)

    def insert_node(self, node: Node, index: int | None = None) -> None:
        """Add `node`, at `index` in the node order when given (undo puts nodes back where they were)."""
        if node.id in self.nodes:
            raise GraphError(f"node id {node.id} already exists")
        problem = name_problem(node.name)
        if problem or self.node_named(node.name):
            raise GraphError(problem or f'the name "{node.name}" is already used')
        if index is None or index >= len(self.nodes):
            self.nodes[node.id] = node
        else:
            items = list(self.nodes.items())
            items.insert(index, (node.id, node))
            self.nodes = dict(items)
        self._emit("node_added", node=node)

    def delete_node(self, node_id: str) -> tuple[int, Node]:
        """Remove an unconnected node; returns its place in the node order and the node."""
        if any(e.source == node_id or e.target == node_id for e in self.edges):
            raise GraphError("remove a node's edges before the node")
        index = list(self.nodes).index(node_id)
        node = self.nodes.pop(node_id)
        self._emit("node_removed", node=node)
        return index, node

    def insert_edge(self, edge: Edge, index: int | None = None) -> None:
        problem = self.connection_problem(edge.source, edge.target)
        if problem:
            raise GraphError(problem)
        self.edges.insert(len(self.edges) if index is None else index, edge)
        self._emit("edge_added", edge=edge)

    def delete_edge(self, edge: Edge) -> int:
        index = self.edges.index(edge)
        del self.edges[index]
        self._emit("edge_removed", edge=edge)
        return index

    def replace_params(self, node_id: str, params: dict[str, Any]) -> None:
        node = self.nodes[node_id]
        node.params = node.spec.normalize_params(params)
        self._emit("params_changed", node=node)

    def rename(self, node_id: str, name: str) -> None:
        node = self.nodes[node_id]
        if name == node.name:
            return
        problem = name_problem(name)
        if problem or self.node_named(name):
            raise GraphError(problem or f'the name "{name}" is already used')
        node.name = name
        self._emit("node_renamed", node=node)

    def move(self, node_id: str, position: tuple[float, float]) -> None:
        node = self.nodes[node_id]
        node.position = (float(position[0]), float(position[1]))
        self._emit("nodes_moved", node=node)

    # --- construction helpers (for templates, tests and scripts) ---------------------------------
    def add(self, type_id: str, name: str | None = None, position: tuple[float, float] = (0.0, 0.0),
            **params: Any) -> Node:
        spec = get_spec(type_id)
        node = Node(self.new_id(), spec.type_id, name or self.unique_name(spec.name_prefix),
                    spec.normalize_params(params), position)
        self.insert_node(node)
        return node

    def chain(self, *nodes: Node) -> None:
        """Connect each node to the next: the straight line of a Keras Sequential model."""
        for source, target in zip(nodes, nodes[1:]):
            self.insert_edge(Edge(source.id, target.id))
