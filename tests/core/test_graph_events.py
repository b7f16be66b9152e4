"""Views follow the graph through its typed events alone: every command tells them each change it
makes, and undoing it tells them the inverse changes."""
from collections import Counter

import pytest

from netbuilder.core.commands import (AddNode, Connect, Disconnect, Group, MoveNodes, RemoveNodes, Rename, SetParams,
                                      copy_fragment, insert_on_edge, paste_fragment)
from netbuilder.core.graph import (Edge, EdgeAdded, EdgeRemoved, Graph, GraphEvent, NodeAdded, NodeMoved, NodeRemoved,
                                   NodeRenamed, ParamsChanged)
from netbuilder.core.project import load_template

INVERSE = {NodeAdded: NodeRemoved, NodeRemoved: NodeAdded, EdgeAdded: EdgeRemoved, EdgeRemoved: EdgeAdded,
           ParamsChanged: ParamsChanged, NodeRenamed: NodeRenamed, NodeMoved: NodeMoved}


class Mirror:
    """A view that knows the graph only from its events, as the editor's scene does."""

    def __init__(self, graph: Graph):
        self.nodes = {node.id: _looks(node) for node in graph.nodes.values()}
        self.edges = set(graph.edges)
        self.heard: list[tuple[type[GraphEvent], str | Edge]] = []
        graph.listeners.append(self.hear)

    def hear(self, event: GraphEvent) -> None:
        match event:
            case NodeAdded(node=node) | ParamsChanged(node=node) | NodeRenamed(node=node) | NodeMoved(node=node):
                self.nodes[node.id] = _looks(node)
                self.heard.append((type(event), node.id))
            case NodeRemoved(node=node):
                del self.nodes[node.id]
                self.heard.append((type(event), node.id))
            case EdgeAdded(edge=edge):
                self.edges.add(edge)
                self.heard.append((type(event), edge))
            case EdgeRemoved(edge=edge):
                self.edges.remove(edge)
                self.heard.append((type(event), edge))

    def shows(self, graph: Graph) -> bool:
        return self.nodes == {node.id: _looks(node) for node in graph.nodes.values()} and self.edges == set(graph.edges)

    def take(self) -> list[tuple[type[GraphEvent], str | Edge]]:
        heard, self.heard = self.heard, []
        return heard


def _looks(node):
    return node.type_id, node.name, dict(node.params), node.position


COMMANDS = {
    "add": (lambda g: AddNode("dense", (10.0, 20.0), {"units": 5}), {NodeAdded: 1}),
    "remove": (lambda g: RemoveNodes(["n3", "n9"]), {NodeRemoved: 2, EdgeRemoved: 5}),
    "connect": (lambda g: Connect("n6", "n9"), {EdgeAdded: 1}),
    "disconnect": (lambda g: Disconnect(Edge("n13", "n14")), {EdgeRemoved: 1}),
    "params": (lambda g: SetParams("n2", {"filters": 8}), {ParamsChanged: 1}),
    "rename": (lambda g: Rename("n2", "stem"), {NodeRenamed: 1}),
    "move": (lambda g: MoveNodes({"n2": (g.nodes["n2"].position, (50.0, 60.0)),
                                  "n3": (g.nodes["n3"].position, (70.0, 80.0))}), {NodeMoved: 2}),
    "insert on wire": (lambda g: insert_on_edge(g, "relu", Edge("n13", "n14"), (0.0, 0.0)),
                       {NodeAdded: 1, EdgeRemoved: 1, EdgeAdded: 2}),
    "paste": (lambda g: paste_fragment(g, copy_fragment(g, ["n2", "n3"])), {NodeAdded: 2, EdgeAdded: 1}),
}


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_emits_its_typed_events_and_undo_their_inverse(name):
    graph = load_template("5-residual-cnn").graph
    make_command, expected = COMMANDS[name]
    mirror = Mirror(graph)
    command = make_command(graph)
    command.do(graph)
    done = mirror.take()
    assert Counter(kind for kind, _ in done) == expected and mirror.shows(graph)
    command.undo(graph)
    undone = mirror.take()
    assert Counter(undone) == Counter((INVERSE[kind], subject) for kind, subject in done) and mirror.shows(graph)
    command.do(graph)
    assert Counter(mirror.take()) == Counter(done) and mirror.shows(graph)


def test_a_refused_edit_emits_nothing():
    graph = load_template("5-residual-cnn").graph
    mirror = Mirror(graph)
    with pytest.raises(ValueError):
        Group([Disconnect(Edge("n13", "n14")), Connect("n14", "n2")]).do(graph)
    assert Counter(mirror.take()) == Counter([(EdgeRemoved, Edge("n13", "n14")), (EdgeAdded, Edge("n13", "n14"))])
    assert mirror.shows(graph)
