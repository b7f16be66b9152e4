"""A problem's fix as an undoable edit: the analysis describes fixes as data, this makes them commands."""
from __future__ import annotations

from .commands import Command, Connect, Group, RemoveNodes, Rename, SetParams, insert_on_edge
from .graph import Graph
from .layers import Fix
from .layout import free_spot


def fix_command(graph: Graph, fix: Fix) -> Command:
    """The edit that applies a problem's fix, as one undo step named after it."""
    node = graph.nodes[fix.node_id]
    if fix.action == "set_params":
        return Group([SetParams(node.id, dict(fix.params))], fix.title)
    if fix.action == "remove":
        return Group([RemoveNodes([node.id])], fix.title)
    if fix.action == "rename":
        return Group([Rename(node.id, dict(fix.params)["name"])], fix.title)
    wires_in, targets = graph.input_edges(node.id), graph.outputs_of(node.id)
    if fix.action == "bypass":
        return Group([RemoveNodes([node.id]), *(Connect(wire.source, target, wire.port)
                                                for wire in wires_in for target in targets)], fix.title)
    if fix.action == "insert_before":
        (wire,) = wires_in
        x, y = graph.nodes[wire.source].position
        position = free_spot(graph, ((x + node.position[0]) / 2, (y + node.position[1]) / 2))
        return insert_on_edge(graph, fix.type_id, wire, position, fix.title)
    raise ValueError(f"unknown fix action {fix.action!r}")
