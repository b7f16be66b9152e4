"""The network as data: nodes (layers with parameters), edges, and change events for views."""
from __future__ import annotations

import itertools
import keyword
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, NamedTuple, Sequence

from ..common.text import shown
from .layers import block_nodes, get_spec  # noqa: F401 - block_nodes registers the block node types
from .layers.base import LayerSpec

# Every public attribute of a torch `nn.Module` and of the `torch.fx.GraphModule` compiling makes
# (torch 2.13). A node name becomes an attribute of both (and of the exported `Net(nn.Module)`), so
# one of these would shadow or be shadowed: `add_module` refuses it and the exported code breaks.
# Kept as data so the core needs no torch to check a name; tests/core/test_names.py fails when a
# torch upgrade adds attributes. Names starting with "_" (torch's internals, Python's name
# mangling of "__x") are refused as a class, since torch adds private attributes freely.
TORCH_ATTRIBUTES = frozenset({
    "T_destination", "add_module", "add_submodule", "apply", "bfloat16", "buffers", "call_super_init",
    "children", "code", "compile", "cpu", "cuda", "delete_all_unused_submodules", "delete_submodule",
    "double", "dump_patches", "eval", "extra_repr", "float", "forward", "get_buffer", "get_extra_state",
    "get_parameter", "get_submodule", "graph", "half", "ipu", "load_state_dict", "meta", "modules", "mtia",
    "named_buffers", "named_children", "named_modules", "named_parameters", "parameters", "print_readable",
    "recompile", "register_backward_hook", "register_buffer", "register_forward_hook",
    "register_forward_pre_hook", "register_full_backward_hook", "register_full_backward_pre_hook",
    "register_load_state_dict_post_hook", "register_load_state_dict_pre_hook", "register_module",
    "register_parameter", "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_",
    "set_extra_state", "set_submodule", "shape_env", "share_memory", "state_dict", "to", "to_empty",
    "to_folder", "train", "training", "type", "xpu", "zero_grad",
})
# names the exported code itself uses inside `forward`, where node names are local variables
CODE_NAMES = frozenset({"self", "torch", "nn"})
NAME_LIMIT = 64
_NAME_PATTERN = re.compile(rf"[A-Za-z_][A-Za-z0-9_]{{0,{NAME_LIMIT - 1}}}")


class GraphError(ValueError):
    """An edit that cannot be made (e.g. a connection making a cycle); the message is for the user."""


class EdgeListError(GraphError):
    """One edge of a list given to `Graph.insert_edges` cannot be added; `index` says which."""

    def __init__(self, index: int, message: str):
        super().__init__(message)
        self.index = index


def name_problem(name: str) -> str | None:
    """Why `name` cannot be stored as a node name at all (it must be a Python identifier of
    letters, digits and _), or None. Project files are held to this rule."""
    if not isinstance(name, str) or not _NAME_PATTERN.fullmatch(name):
        return (f'"{shown(name)}" is not a valid name: use up to {NAME_LIMIT} letters, digits and _, '
                "starting with a letter")
    if keyword.iskeyword(name):
        return f'"{name}" is a Python keyword: choose another name'
    return None


def name_clash(name: str) -> str | None:
    """What `name` clashes with in the model PyTorch builds or in the exported code (it would break
    them), or None. Renaming refuses such names; a file holding one opens with a Problem whose fix
    renames the node (analysis), so no saved project is lost to the stricter rule."""
    if name.startswith("_"):
        return "PyTorch's internal names (those starting with _)"
    if name in TORCH_ATTRIBUTES:
        return f"an attribute every PyTorch model has (model.{name})"
    if name in CODE_NAMES:
        return "a name the exported PyTorch code uses"
    return None


@dataclass
class Node:
    id: str
    type_id: str
    name: str
    params: dict[str, Any]
    position: tuple[float, float] = (0.0, 0.0)
    spec: LayerSpec = field(init=False, repr=False, compare=False)  # looked up once: asked for constantly

    def __post_init__(self) -> None:
        self.spec = get_spec(self.type_id)


class Edge(NamedTuple):
    """Data flowing from `source`'s output into `target`'s input (merge nodes take several, in order).
    `port` is which of the source's outputs: 0 but for a card of a block with several outputs.
    A tuple, so that the edge sets and lists a large graph is checked with hash and compare in C."""

    source: str
    target: str
    port: int = 0


@dataclass(frozen=True)
class GraphEvent:
    """A change a view must show, one class per kind (ryvencore's `Flow` events): a listener tells
    them apart by class (`match event: case NodeAdded(node=node)`), so a misspelt kind is an
    undefined name that the linter and the first run catch, never a branch silently not taken.
    Each kind is a NodeEvent (carrying the node) or an EdgeEvent (carrying the edge)."""


@dataclass(frozen=True)
class NodeEvent(GraphEvent):
    node: Node


@dataclass(frozen=True)
class EdgeEvent(GraphEvent):
    edge: Edge


class NodeAdded(NodeEvent):
    """A node joined the graph (added, pasted, or put back by undo)."""


class NodeRemoved(NodeEvent):
    """A node left the graph; its edges left before it, each with its own EdgeRemoved."""


class EdgeAdded(EdgeEvent):
    """A connection was made (or put back)."""


class EdgeRemoved(EdgeEvent):
    """A connection was removed."""


class ParamsChanged(NodeEvent):
    """The node's parameters were replaced."""


class NodeRenamed(NodeEvent):
    """The node has a new name."""


class NodeMoved(NodeEvent):
    """The node has a new position."""


@dataclass(frozen=True)
class BlockEvent(GraphEvent):
    """A change of the project's block library (core.blocks.BlockDefinition), which is shared by
    the network and every block inside it: its listeners hear it wherever the edit was made."""

    definition: Any


class BlockAdded(BlockEvent):
    """A block definition joined the library (grouped, loaded from a file, or put back by undo)."""


class BlockRemoved(BlockEvent):
    """A block definition left the library."""


class BlockRenamed(BlockEvent):
    """A block definition has a new name."""


Listener = Callable[[GraphEvent], None]


class BlockLibrary(dict):
    """The project's block definitions by id, with listeners told of each change by a BlockEvent.
    Change it only through `add`, `remove` and `rename`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.listeners: list[Listener] = []

    def _emit(self, event: BlockEvent) -> None:
        for listener in list(self.listeners):
            listener(event)

    def add(self, definition: Any, index: int | None = None) -> None:
        """Add `definition`, at `index` in the library's order when given (undo puts a block back
        where it was), else last."""
        if definition.id in self:
            raise GraphError(f'the block id "{shown(definition.id)}" is used twice')
        if index is None or index >= len(self):
            self[definition.id] = definition
        else:
            items = list(self.items())
            items.insert(index, (definition.id, definition))
            self.clear()
            self.update(items)
        self._emit(BlockAdded(definition))

    def remove(self, block_id: str) -> tuple[int, Any]:
        """Remove block `block_id`; returns its place in the library's order and the block."""
        index = list(self).index(block_id)
        definition = self.pop(block_id)
        self._emit(BlockRemoved(definition))
        return index, definition

    def rename(self, block_id: str, name: str) -> None:
        definition = self[block_id]
        definition.name = name
        self._emit(BlockRenamed(definition))


@dataclass
class Graph:
    """Nodes and edges with indexes kept beside them (each node's sources and targets, the edge
    set, names), so that every query is proportional to what it returns and every edit to what
    it touches, never to the size of the network. Change it only through its methods."""

    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    listeners: list[Listener] = field(default_factory=list, repr=False, compare=False)
    # the project's block definitions by id (core.blocks.BlockDefinition), one dict shared by the
    # network's graph and every definition's graph, so that an instance anywhere finds its block
    blocks: BlockLibrary = field(default_factory=BlockLibrary, repr=False, compare=False)
    # each node's edges in and out, in edge order
    _sources: dict[str, list[Edge]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _targets: dict[str, list[Edge]] = field(default_factory=dict, init=False, repr=False, compare=False)
    _edge_set: set[Edge] = field(default_factory=set, init=False, repr=False, compare=False)
    _ids_by_name: dict[str, str] = field(default_factory=dict, init=False, repr=False, compare=False)
    # per name prefix, a number below which every name is taken (forgotten when a name is freed)
    _name_hints: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._ids_by_name = {node.name: node_id for node_id, node in self.nodes.items()}
        self._edge_set = set(self.edges)
        self._reindex(self.nodes)

    def _reindex(self, node_ids: Iterable[str]) -> None:
        """Rebuild the sources and targets of `node_ids` from the edge list, in its order."""
        ids = set(node_ids)
        for node_id in ids:
            self._sources[node_id], self._targets[node_id] = [], []
        for edge in self.edges:
            if edge.target in ids:
                self._sources[edge.target].append(edge)
            if edge.source in ids:
                self._targets[edge.source].append(edge)

    # --- queries ---------------------------------------------------------------------------------
    def inputs_of(self, node_id: str) -> list[str]:
        """The nodes feeding `node_id`, in edge order (the order of a merge node's inputs)."""
        return [edge.source for edge in self._sources[node_id]]

    def input_edges(self, node_id: str) -> list[Edge]:
        """The edges into `node_id`, in edge order: its inputs with the output port each comes from."""
        return list(self._sources[node_id])

    def outputs_of(self, node_id: str) -> list[str]:
        return [edge.target for edge in self._targets[node_id]]

    def edges_of(self, node_ids: Iterable[str]) -> list[Edge]:
        """The edges touching any of `node_ids`, in edge order."""
        touching = set()
        for node_id in node_ids:
            touching.update(self._sources[node_id])
            touching.update(self._targets[node_id])
        return [edge for edge in self.edges if edge in touching]

    def node_named(self, name: str) -> Node | None:
        node_id = self._ids_by_name.get(name)
        return self.nodes[node_id] if node_id is not None else None

    def new_id(self) -> str:
        return self.new_ids(1)[0]

    def new_ids(self, count: int) -> list[str]:
        """`count` ids that no node has, found in one pass."""
        free = (f"n{i}" for i in itertools.count(len(self.nodes) + 1) if f"n{i}" not in self.nodes)
        return list(itertools.islice(free, count))

    def unique_name(self, prefix: str) -> str:
        """The first free name of `prefix1`, `prefix2`, ..."""
        return self.unique_names([prefix])[0]

    def unique_names(self, prefixes: Sequence[str]) -> list[str]:
        """The first free names `prefix1`, `prefix2`, ... for each of `prefixes`, all different.
        The search for a prefix resumes where the last one ended until a name is freed, so adding
        or pasting a thousand ReLUs does not search from relu1 a thousand times."""
        names: list[str] = []
        chosen: set[str] = set()
        for prefix in prefixes:
            number = self._name_hints.get(prefix, 1)
            while f"{prefix}{number}" in self._ids_by_name or f"{prefix}{number}" in chosen:
                number += 1
            self._name_hints[prefix] = number
            chosen.add(f"{prefix}{number}")
            names.append(f"{prefix}{number}")
        return names

    def usable_name(self, name: str) -> str:
        """A free name that passes both name rules, made from `name`: the fix offered for a name
        that clashes with PyTorch ("compile" -> "compile_1", "_x" -> "x")."""
        base = name.lstrip("_")[:NAME_LIMIT - 4] or "layer"
        if not (base[0].isascii() and base[0].isalpha()):
            base = f"layer_{base}"[:NAME_LIMIT - 4]
        if base != name and base not in self._ids_by_name and not name_problem(base) and not name_clash(base):
            return base
        return self.unique_name(f"{base}_")

    def reaches(self, start: str, goal: str) -> bool:
        """True when data from `start` flows (through any path) into `goal`."""
        seen, stack = {start}, [start]
        while stack:
            current = stack.pop()
            if current == goal:
                return True
            for target in self.outputs_of(current):
                if target not in seen:
                    seen.add(target)
                    stack.append(target)
        return False

    def connection_problem(self, source: str, target: str, port: int = 0) -> str | None:
        """Why output `port` of source -> target cannot be connected, or None when it can. Whether a
        block card has that output depends on its block, which may change: analysis checks that."""
        return self._local_problem(source, target, port) or self._cycle_problem(source, target)

    def _local_problem(self, source: str, target: str, port: int = 0) -> str | None:
        """Every reason but a cycle, each found in constant time."""
        if source not in self.nodes or target not in self.nodes:
            return "both ends must be nodes of this graph"
        src, dst = self.nodes[source], self.nodes[target]
        if source == target:
            return "a layer cannot feed itself"
        if not src.spec.has_output:
            return f'{src.spec.title} "{src.name}" has no output to connect'
        if dst.spec.max_inputs == 0:
            return f'{dst.spec.title} "{dst.name}" takes no input'
        if port and src.type_id != block_nodes.BlockInstance.type_id:
            return f'{src.spec.title} "{src.name}" has one output'
        if Edge(source, target, port) in self._edge_set:
            return f'"{src.name}" is already connected to "{dst.name}"'
        if dst.spec.max_inputs is not None and len(self._sources[target]) >= dst.spec.max_inputs:
            return f'{dst.spec.title} "{dst.name}" already has its input: disconnect it first'
        return None

    def _cycle_problem(self, source: str, target: str) -> str | None:
        return self._cycle_message(Edge(source, target)) if self.reaches(target, source) else None

    def _acyclic(self, edges: Iterable[Edge]) -> bool:
        """Whether the nodes with `edges` (instead of the graph's own) form no cycle: one
        topological sort, linear in their number."""
        pending = dict.fromkeys(self.nodes, 0)
        targets: dict[str, list[str]] = {node_id: [] for node_id in self.nodes}
        for edge in edges:
            pending[edge.target] += 1
            targets[edge.source].append(edge.target)
        ready = [node_id for node_id, count in pending.items() if count == 0]
        done = 0
        while ready:
            done += 1
            for target in targets[ready.pop()]:
                pending[target] -= 1
                if pending[target] == 0:
                    ready.append(target)
        return done == len(self.nodes)

    # --- mutations (used by commands; each emits one event per node or edge) --------------------
    def _emit(self, event_type: type[NodeEvent] | type[EdgeEvent], subject: Node | Edge) -> None:
        if not self.listeners:  # reading a large file makes no events when nobody listens
            return
        event = event_type(subject)
        for listener in list(self.listeners):
            listener(event)

    def insert_node(self, node: Node, index: int | None = None) -> None:
        """Add `node`, at `index` in the node order when given (undo puts nodes back where they were)."""
        self.insert_nodes([node], None if index is None else [index])

    def insert_nodes(self, nodes: Sequence[Node], indices: Sequence[int] | None = None) -> None:
        """Add `nodes`, at `indices` (ascending places in the resulting order) when given, in one
        pass: undoing the removal of many nodes costs one rebuild of the order, not one each."""
        ids: set[str] = set()
        names: set[str] = set()
        for node in nodes:
            if node.id in self.nodes or node.id in ids:
                raise GraphError(f'the node id "{shown(node.id)}" is used twice')
            problem = name_problem(node.name)
            if problem or node.name in self._ids_by_name or node.name in names:
                raise GraphError(problem or f'the name "{node.name}" is already used')
            ids.add(node.id)
            names.add(node.name)
        if indices is None:
            self.nodes.update((node.id, node) for node in nodes)
        else:
            self.nodes = dict(_merged(self.nodes.items(), indices, [(node.id, node) for node in nodes]))
        for node in nodes:
            self._ids_by_name[node.name] = node.id
            self._sources[node.id], self._targets[node.id] = [], []
            self._emit(NodeAdded, node)

    def delete_node(self, node_id: str) -> tuple[int, Node]:
        """Remove an unconnected node; returns its place in the node order and the node."""
        return self.delete_nodes([node_id])[0]

    def delete_nodes(self, node_ids: Iterable[str]) -> list[tuple[int, Node]]:
        """Remove unconnected nodes in one pass; returns (place in the node order, node) pairs,
        ascending, which `insert_nodes` puts back."""
        doomed = set(node_ids)
        if any(self._sources[node_id] or self._targets[node_id] for node_id in doomed):
            raise GraphError("remove a node's edges before the node")
        removed = [(index, node) for index, (node_id, node) in enumerate(self.nodes.items()) if node_id in doomed]
        self.nodes = {node_id: node for node_id, node in self.nodes.items() if node_id not in doomed}
        self._name_hints.clear()
        for _, node in removed:
            del self._ids_by_name[node.name], self._sources[node.id], self._targets[node.id]
            self._emit(NodeRemoved, node)
        return removed

    def insert_edge(self, edge: Edge, index: int | None = None) -> None:
        problem = self.connection_problem(*edge)
        if problem:
            raise GraphError(problem)
        self._add_edges([edge], None if index is None else [index])

    def insert_edges(self, edges: Sequence[Edge], indices: Sequence[int] | None = None) -> None:
        """Add many edges as one change, at `indices` (ascending places in the resulting edge
        list) when given, else after the others: each is checked as `insert_edge` checks it, but
        cycles by one topological sort of the result, so that reading a file or pasting is linear
        in the size of the network. On a refusal nothing is added and EdgeListError names the first
        edge that `insert_edge`, called in turn, would have refused."""
        added: list[Edge] = []
        refused: EdgeListError | None = None
        try:
            for position, edge in enumerate(edges):
                problem = self._local_problem(edge.source, edge.target, edge.port)
                if problem:
                    refused = EdgeListError(position, problem)
                    break
                self._edge_set.add(edge)  # the local checks of later edges see this one
                self._sources[edge.target].append(edge)
                added.append(edge)
            if not self._acyclic([*self.edges, *added]):  # a cycle before the first local refusal comes first
                first = self._first_cycle(added)
                refused = EdgeListError(first, self._cycle_message(added[first]))
            if refused:
                raise refused
        finally:  # _add_edges indexes the edges for good, in their places
            for edge in reversed(added):
                self._edge_set.discard(edge)
                self._sources[edge.target].pop()
        self._add_edges(added, indices)

    def _first_cycle(self, added: list[Edge]) -> int:
        """The index of the first of `added` that closes a cycle (they do, together): a binary
        search over prefixes, one topological sort each."""
        low, high = 0, len(added) - 1  # the prefix ending at `high` has a cycle
        while low < high:
            middle = (low + high) // 2
            if self._acyclic([*self.edges, *added[:middle + 1]]):
                low = middle + 1
            else:
                high = middle
        return low

    def _cycle_message(self, edge: Edge) -> str:
        return f'connecting "{self.nodes[edge.source].name}" to "{self.nodes[edge.target].name}" would make a cycle'

    def _add_edges(self, edges: Sequence[Edge], indices: Sequence[int] | None) -> None:
        self._edge_set.update(edges)
        if indices is None:
            self.edges.extend(edges)
            for edge in edges:
                self._sources[edge.target].append(edge)
                self._targets[edge.source].append(edge)
        else:
            self.edges = _merged(self.edges, indices, edges)
            self._reindex({node_id for edge in edges for node_id in (edge.source, edge.target)})
        for edge in edges:
            self._emit(EdgeAdded, edge)

    def delete_edge(self, edge: Edge) -> int:
        """Remove `edge`; returns its place in the edge list."""
        return self.delete_edges([edge])[0][0]

    def delete_edges(self, edges: Iterable[Edge]) -> list[tuple[int, Edge]]:
        """Remove `edges` in one pass; returns (place in the edge list, edge) pairs, ascending,
        which `insert_edges` puts back."""
        doomed = set(edges)
        missing = doomed - self._edge_set
        if missing:
            raise GraphError(f"no such connection: {shown(next(iter(missing)))}")
        removed = [(index, edge) for index, edge in enumerate(self.edges) if edge in doomed]
        self.edges = [edge for edge in self.edges if edge not in doomed]
        self._edge_set -= doomed
        self._reindex({node_id for edge in doomed for node_id in (edge.source, edge.target)})
        for _, edge in reversed(removed):
            self._emit(EdgeRemoved, edge)
        return removed

    def replace_params(self, node_id: str, params: dict[str, Any]) -> None:
        node = self.nodes[node_id]
        node.params = node.spec.normalize_params(params)
        self._emit(ParamsChanged, node)

    def rename_problem(self, node_id: str, name: str) -> str | None:
        """Why a user may not rename node `node_id` to `name`, suggesting a name they may use, or
        None: both name rules and a free name (Rename checks this; undo restores any old name)."""
        if name == self.nodes[node_id].name:
            return None
        problem = name_problem(name)
        if problem and not keyword.iskeyword(name):
            return problem
        clash = name_clash(name)
        reason = problem or (f'"{name}" clashes with {clash}: choose another name' if clash else None) or (
            f'the name "{name}" is already used: choose another name' if name in self._ids_by_name else None)
        return f"{reason}, such as {self.usable_name(name)}" if reason else None

    def rename(self, node_id: str, name: str) -> None:
        """Give node `node_id` a name that can be stored and is free (see rename_problem)."""
        node = self.nodes[node_id]
        if name == node.name:
            return
        problem = name_problem(name) or (f'the name "{name}" is already used' if name in self._ids_by_name else None)
        if problem:
            raise GraphError(problem)
        del self._ids_by_name[node.name]
        self._name_hints.clear()
        self._ids_by_name[name] = node_id
        node.name = name
        self._emit(NodeRenamed, node)

    def move(self, node_id: str, position: tuple[float, float]) -> None:
        node = self.nodes[node_id]
        node.position = (float(position[0]), float(position[1]))
        self._emit(NodeMoved, node)

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


def _merged(existing: Iterable[Any], indices: Sequence[int], placed: Sequence[Any]) -> list[Any]:
    """`existing` with each of `placed` put at its index (ascending places in the result, beyond
    the end meaning the end), in one pass: inserting one by one would move the list each time."""
    rest = iter(existing)
    result: list[Any] = []
    for index, item in zip(indices, placed):
        result.extend(itertools.islice(rest, max(0, index - len(result))))
        result.append(item)
    result.extend(rest)
    return result
