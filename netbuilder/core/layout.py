"""Layered left-to-right auto-layout (a small Sugiyama): columns by longest path, rows by barycentre."""
from __future__ import annotations

from .analysis import topological_order
from .graph import Graph

COLUMN_SPACING = 230.0
ROW_SPACING = 130.0


def layered_layout(graph: Graph) -> dict[str, tuple[float, float]]:
    """A position for every node: data flows left to right, merges sit after all their inputs."""
    order, cyclic = topological_order(graph)
    column: dict[str, int] = {}
    for node_id in order + sorted(cyclic):
        sources = [s for s in graph.inputs_of(node_id) if s in column]
        column[node_id] = 1 + max((column[s] for s in sources), default=-1)
    columns: dict[int, list[str]] = {}
    for node_id in order + sorted(cyclic):
        columns.setdefault(column[node_id], []).append(node_id)
    row: dict[str, float] = {}
    for index in sorted(columns):
        members = columns[index]
        # barycentre of the rows feeding each node keeps branches beside their source, edges short
        members.sort(key=lambda n: _mean([row[s] for s in graph.inputs_of(n) if s in row], default=0.0))
        for position, node_id in enumerate(members):
            row[node_id] = position - (len(members) - 1) / 2
    return {node_id: (column[node_id] * COLUMN_SPACING, row[node_id] * ROW_SPACING) for node_id in column}


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default
