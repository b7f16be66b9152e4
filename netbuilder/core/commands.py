"""Undoable edits of a Graph. The GUI wraps each in a QUndoCommand; undo is testable without Qt.

Every command can be done, undone and redone any number of times and leaves the graph exactly
as it was before when undone (including the order of edges into merge nodes).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .graph import Edge, Graph, GraphError, Node
from .layers import get_spec
from .blocks import INSTANCE, with_nested
from .project import Project, blocks_to_list
from .settings import TrainingSettings


class Command:
    text = ""

    def do(self, graph: Graph) -> None:
        raise NotImplementedError

    def undo(self, graph: Graph) -> None:
        raise NotImplementedError


@dataclass
class AddNode(Command):
    """Adds a layer with default (or given) parameters and a fresh readable name."""

    type_id: str
    position: tuple[float, float] = (0.0, 0.0)
    params: dict[str, Any] = field(default_factory=dict)
    name: str | None = None
    node: Node | None = None  # set on first do(), reused on redo so ids stay stable

    def __post_init__(self) -> None:
        self.text = f"Add {get_spec(self.type_id).title}"

    def do(self, graph: Graph) -> None:
        if self.node is None:
            spec = get_spec(self.type_id)
            self.node = Node(graph.new_id(), spec.type_id, self.name or graph.unique_name(spec.name_prefix),
                             spec.normalize_params(self.params), self.position)
        graph.insert_node(self.node)

    def undo(self, graph: Graph) -> None:
        graph.delete_node(self.node.id)


@dataclass
class AddNodes(Command):
    """Adds many made nodes as one step (a paste), in one pass (Graph.insert_nodes)."""

    nodes: list[Node]
    text: str = "Add"

    def do(self, graph: Graph) -> None:
        graph.insert_nodes(self.nodes)

    def undo(self, graph: Graph) -> None:
        graph.delete_nodes([node.id for node in self.nodes])


@dataclass
class RemoveNodes(Command):
    """Removes nodes together with every edge touching them, as one undo step."""

    node_ids: list[str]
    removed: list[tuple[int, Node]] = field(default_factory=list)
    removed_edges: list[tuple[int, Edge]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.text = "Delete" if len(self.node_ids) != 1 else "Delete layer"

    def do(self, graph: Graph) -> None:
        self.removed_edges = graph.delete_edges(graph.edges_of(self.node_ids))
        self.removed = graph.delete_nodes(self.node_ids)

    def undo(self, graph: Graph) -> None:
        graph.insert_nodes([node for _, node in self.removed], [index for index, _ in self.removed])
        graph.insert_edges([edge for _, edge in self.removed_edges], [index for index, _ in self.removed_edges])


@dataclass
class Connect(Command):
    source: str
    target: str
    port: int = 0  # which output of the source (a block card with several outputs)
    text: str = "Connect"

    def do(self, graph: Graph) -> None:
        graph.insert_edge(Edge(self.source, self.target, self.port))

    def undo(self, graph: Graph) -> None:
        graph.delete_edge(Edge(self.source, self.target, self.port))


@dataclass
class ConnectAll(Command):
    """Many connections as one step (a paste), checked together in one pass (Graph.insert_edges)."""

    edges: list[Edge]
    text: str = "Connect"

    def do(self, graph: Graph) -> None:
        graph.insert_edges(self.edges)

    def undo(self, graph: Graph) -> None:
        graph.delete_edges(self.edges)


@dataclass
class Disconnect(Command):
    edge: Edge
    index: int = -1
    text: str = "Disconnect"

    def do(self, graph: Graph) -> None:
        self.index = graph.delete_edge(self.edge)

    def undo(self, graph: Graph) -> None:
        graph.insert_edge(self.edge, self.index)


@dataclass
class SetParams(Command):
    """Changes some parameters of one node; values are checked against the spec's limits first."""

    node_id: str
    changes: dict[str, Any]
    before: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.text = "Change " + ", ".join(name.replace("_", " ") for name in self.changes)

    def do(self, graph: Graph) -> None:
        node = graph.nodes[self.node_id]
        self.before = dict(node.params)
        graph.replace_params(self.node_id, {**node.params, **self.changes})

    def undo(self, graph: Graph) -> None:
        graph.replace_params(self.node_id, self.before)


@dataclass
class Rename(Command):
    node_id: str
    name: str
    before: str = ""
    text: str = "Rename"

    def do(self, graph: Graph) -> None:
        problem = graph.rename_problem(self.node_id, self.name)
        if problem:
            raise GraphError(problem)
        self.before = graph.nodes[self.node_id].name
        graph.rename(self.node_id, self.name)

    def undo(self, graph: Graph) -> None:
        graph.rename(self.node_id, self.before)


@dataclass
class MoveNodes(Command):
    """One drag of one or more nodes: old and new positions by node id."""

    moves: dict[str, tuple[tuple[float, float], tuple[float, float]]]
    text: str = "Move"

    def do(self, graph: Graph) -> None:
        for node_id, (_, new) in self.moves.items():
            graph.move(node_id, new)

    def undo(self, graph: Graph) -> None:
        for node_id, (old, _) in self.moves.items():
            graph.move(node_id, old)


@dataclass
class Group(Command):
    """Several commands as one undo step (paste, replacing an edge, auto-layout).

    If one part fails, the parts already done are undone and the error is raised, so a
    failed group leaves the graph untouched.
    """

    parts: list[Command]
    text: str = "Edit"

    def do(self, graph: Graph) -> None:
        done: list[Command] = []
        try:
            for part in self.parts:
                part.do(graph)
                done.append(part)
        except Exception:  # a refused value (ParamError) as much as a refused edge: all or nothing
            for part in reversed(done):
                part.undo(graph)
            raise

    def undo(self, graph: Graph) -> None:
        for part in reversed(self.parts):
            part.undo(graph)


@dataclass
class SetTraining(Command):
    """Changes a project's training settings and/or its dataset as one undo step.

    Settings live in the project, not in the graph, so this command edits the project it was made
    for and ignores the graph it is given. Values are checked against SETTING_LIMITS first: a bad
    one raises ParamError and changes nothing.
    """

    project: Project
    changes: dict[str, Any] = field(default_factory=dict)  # setting name -> new value
    dataset: str | None = None  # a new dataset spec, or None to keep it
    before: tuple[TrainingSettings, str] | None = None

    def __post_init__(self) -> None:
        named = [name.replace("_", " ") for name in self.changes] + (["dataset"] if self.dataset is not None else [])
        self.text = "Change " + ", ".join(named)

    def do(self, graph: Graph) -> None:
        settings = self.project.training.replace(**self.changes)
        self.before = (self.project.training, self.project.dataset)
        self.project.training = settings
        if self.dataset is not None:
            self.project.dataset = self.dataset

    def undo(self, graph: Graph) -> None:
        self.project.training, self.project.dataset = self.before



@dataclass
class Splice(Command):
    """Reroutes `edge` through `node_id` (source -> node -> target). The two new edges take the old
    one's place in the edge order, so a Concat keeps the order of its inputs."""

    edge: Edge
    node_id: str
    index: int = -1
    text: str = "Insert on wire"

    def do(self, graph: Graph) -> None:
        self.index = graph.delete_edge(self.edge)
        try:
            graph.insert_edge(Edge(self.edge.source, self.node_id, self.edge.port), self.index)
            try:
                graph.insert_edge(Edge(self.node_id, self.edge.target), self.index + 1)
            except GraphError:
                graph.delete_edge(Edge(self.edge.source, self.node_id, self.edge.port))
                raise
        except GraphError:
            graph.insert_edge(self.edge, self.index)
            raise

    def undo(self, graph: Graph) -> None:
        graph.delete_edge(Edge(self.node_id, self.edge.target))
        graph.delete_edge(Edge(self.edge.source, self.node_id, self.edge.port))
        graph.insert_edge(self.edge, self.index)


def copy_fragment(graph: Graph, node_ids: list[str]) -> dict[str, Any]:
    """The selected nodes and the edges between them, as plain data for the clipboard, with the
    blocks their block cards show (and the blocks inside those), so that they paste into another
    project too (core.block_files.bring_fragment_blocks)."""
    chosen = set(node_ids)
    nodes = [node for node in graph.nodes.values() if node.id in chosen]
    fragment: dict[str, Any] = {
        "nodes": [{"id": n.id, "type": n.type_id, "name": n.name, "params": dict(n.params),
                   "position": list(n.position)} for n in nodes],
        "edges": [list(e) if e.port else [e.source, e.target]  # [source, target, port] off a block's 2nd output
                  for e in graph.edges if e.source in chosen and e.target in chosen],
    }
    used = {node.params["block"] for node in nodes if node.type_id == INSTANCE}
    if used:
        fragment["blocks"] = blocks_to_list({found: graph.blocks[found] for found in with_nested(graph.blocks, used)})
    return fragment


def paste_fragment(graph: Graph, fragment: dict[str, Any], offset: tuple[float, float] = (40.0, 40.0)) -> Group:
    """A command adding copies of a fragment's nodes (fresh ids and names) with their inner edges."""
    items = fragment["nodes"]
    specs = [get_spec(item["type"]) for item in items]
    new_ids = dict(zip((item["id"] for item in items), graph.new_ids(len(items))))
    names = graph.unique_names([spec.name_prefix for spec in specs])
    nodes = [Node(new_ids[item["id"]], spec.type_id, name, spec.normalize_params(item["params"]),
                  (item["position"][0] + offset[0], item["position"][1] + offset[1]))
             for item, spec, name in zip(items, specs, names)]
    return Group([AddNodes(nodes), ConnectAll([Edge(new_ids[s], new_ids[t], *port) for s, t, *port in fragment["edges"]])], "Paste")


def pasted_ids(command: Group) -> list[str]:
    return [node.id for part in command.parts if isinstance(part, AddNodes) for node in part.nodes]


def new_layer(graph: Graph, type_id: str, position: tuple[float, float]) -> AddNode:
    """A command adding a layer with default parameters whose id and name are known before it is
    done, so that edits grouped with it (a wire, a splice) can name it."""
    spec = get_spec(type_id)
    node = Node(graph.new_id(), spec.type_id, graph.unique_name(spec.name_prefix), spec.defaults(), position)
    return AddNode(spec.type_id, node=node)


def insert_on_edge(graph: Graph, type_id: str, edge: Edge, position: tuple[float, float], text: str = "") -> Group:
    """A new layer spliced into `edge` (source -> new -> target) as one undo step."""
    return splice_new(new_layer(graph, type_id, position), edge, text)


def splice_new(add: AddNode, edge: Edge, text: str = "") -> Group:
    """The node `add` makes, spliced into `edge` (source -> new -> target), as one undo step."""
    return Group([add, Splice(edge, add.node.id)], text or f"Insert {add.node.spec.title}")