"""A problem's fix as an undoable edit: the analysis describes fixes as data, this makes them commands."""
from __future__ import annotations

from .commands import AddNode, Command, Connect, Disconnect, Group, RemoveNodes, SetParams
from .graph import Edge, Graph, Node
from .layers import Fix, get_spec


def fix_command(graph: Graph, fix: Fix) -> Command:
    """The edit that applies a problem's fix, as one undo step named after it."""
    node = graph.nodes[fix.node_id]
    if fix.action == "set_params":
        return Group([SetParams(node.id, dict(fix.params))], fix.title)
    if fix.action == "remove":
        return Group([RemoveNodes([node.id])], fix.title)
    sources, targets = graph.inputs_of(node.id), graph.outputs_of(node.id)
    if fix.action == "bypass":
        return Group([RemoveNodes([node.id]), *(Connect(s, t) for s in sources for t in targets)], fix.title)
    if fix.action == "insert_before":
        spec = get_spec(fix.type_id)
        (source,) = sources
        x, y = graph.nodes[source].position
        position = ((x + node.position[0]) / 2, (y + node.position[1]) / 2)
        inserted = Node(graph.new_id(), spec.type_id, graph.unique_name(spec.name_prefix), spec.defaults(), position)
        return Group([AddNode(spec.type_id, node=inserted), Disconnect(Edge(source, node.id)),
                      Connect(source, inserted.id), Connect(inserted.id, node.id)], fix.title)
    raise ValueError(f"unknown fix action {fix.action!r}")
