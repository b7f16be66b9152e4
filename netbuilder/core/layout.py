"""Layered left-to-right auto-layout (a small Sugiyama): columns by longest path, rows by barycentre.

Long networks wrap into bands of at most `max_columns` columns, read like lines of text, so a
14-layer CNN fits a window at a readable zoom instead of one row 3,000 px wide; the bands are
as even as possible, so no layer is left alone on a last line.
"""
from __future__ import annotations

import math

from .analysis import topological_order
from .graph import Graph

CARD_WIDTH, CARD_HEIGHT = 140.0, 82.0  # a layer's card on the canvas; the columns below leave room for labels
COLUMN_SPACING = 230.0
ROW_SPACING = 130.0
BAND_GAP = 70.0  # extra space between bands, where the edge wrapping to the next band runs
MAX_COLUMNS = 5


def layered_layout(graph: Graph, max_columns: int = MAX_COLUMNS) -> dict[str, tuple[float, float]]:
    """A position (top-left) for every node: data flows left to right, merges after their inputs."""
    order, cyclic = topological_order(graph)
    ordered = order + sorted(cyclic)
    column: dict[str, int] = {}
    for node_id in ordered:
        sources = [s for s in graph.inputs_of(node_id) if s in column]
        column[node_id] = 1 + max((column[s] for s in sources), default=-1)
    columns: dict[int, list[str]] = {}
    for node_id in ordered:
        columns.setdefault(column[node_id], []).append(node_id)
    bands = max(1, -(-len(columns) // max_columns))
    # even bands, the longer ones first: 6 layers as 3 + 3, not 5 + 1; 17 as 5 + 4 + 4 + 4
    band_of = {index: index * bands // len(columns) for index in columns}
    band_start: dict[int, int] = {}
    for index in sorted(columns):
        band_start.setdefault(band_of[index], index)
    row: dict[str, int] = {}
    for index in sorted(columns):
        # barycentre of the rows feeding each node keeps branches beside their source, edges short
        columns[index].sort(key=lambda n: _mean([row[s] for s in graph.inputs_of(n) if s in row]))
        row.update({node_id: position for position, node_id in enumerate(columns[index])})
    band_rows: dict[int, int] = {}
    for index, members in columns.items():
        band = band_of[index]
        band_rows[band] = max(band_rows.get(band, 0), len(members))
    band_top, top = {}, 0.0
    for band in sorted(band_rows):
        band_top[band] = top
        top += band_rows[band] * ROW_SPACING + BAND_GAP
    return {node_id: ((column[node_id] - band_start[band_of[column[node_id]]]) * COLUMN_SPACING,
                      band_top[band_of[column[node_id]]] + row[node_id] * ROW_SPACING)
            for node_id in ordered}


def _mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else 0.0


PLACEMENT_GAP = 20.0  # clear space kept around a placed card, so neighbours' ports and wires stay visible
_PLACEMENT_STEP = 20.0  # candidate spots lie on the canvas grid
_PLACEMENT_RINGS = 200  # searched out to 4,000 px: far beyond any screenful of layers


def free_spot(graph: Graph, wanted: tuple[float, float],
              size: tuple[float, float] = (CARD_WIDTH, CARD_HEIGHT)) -> tuple[float, float]:
    """The top-left corner nearest to `wanted` where an area of `size` (a card, or the bounds of
    pasted cards) overlaps no layer's card, with PLACEMENT_GAP to spare; `wanted` when it is free.

    Candidate spots lie on a grid around `wanted`. Each card blocks a rectangle of them, marked
    once, so a search costs the number of cards plus the spots looked at, not their product; the
    window of spots grows only when no spot in it is provably the nearest."""
    if not all(math.isfinite(v) for v in (*wanted, *size)):
        return wanted
    radius = 8
    while True:
        radius = min(radius, _PLACEMENT_RINGS - 1)
        blocked = _blocked_spots(graph, wanted, size, radius)
        best: tuple[float, tuple[int, int]] | None = None
        for ring in range(radius + 1):
            # a spot on ring k is k to k*sqrt(2) steps away: once one is found, rings beyond that can't beat it
            if best is not None and ring * _PLACEMENT_STEP > best[0]:
                break
            for i, j in _ring(ring):
                distance = math.hypot(i, j) * _PLACEMENT_STEP
                if (best is None or distance < best[0]) and not blocked[i + radius][j + radius]:
                    best = (distance, (i, j))
        else:
            if radius < _PLACEMENT_RINGS - 1:  # a nearer spot may lie beyond this window
                radius *= 4
                continue
        if best is None:
            return wanted
        i, j = best[1]
        return wanted[0] + i * _PLACEMENT_STEP, wanted[1] + j * _PLACEMENT_STEP


def _blocked_spots(graph: Graph, wanted: tuple[float, float], size: tuple[float, float],
                   radius: int) -> list[bytearray]:
    """blocked[i + radius][j + radius] is 1 where an area of `size` at wanted + (i, j) steps would
    overlap a card (with the gap), for |i|, |j| <= radius."""
    width, height = size[0] + PLACEMENT_GAP, size[1] + PLACEMENT_GAP
    card_width, card_height = CARD_WIDTH + PLACEMENT_GAP, CARD_HEIGHT + PLACEMENT_GAP
    blocked = [bytearray(2 * radius + 1) for _ in range(2 * radius + 1)]
    for node in graph.nodes.values():
        x, y = node.position
        columns = _open_range(x - width, x + card_width, wanted[0], radius)
        rows = _open_range(y - height, y + card_height, wanted[1], radius)
        if columns and rows:
            filled = bytes([1]) * (rows[1] - rows[0] + 1)
            for i in range(columns[0], columns[1] + 1):
                blocked[i + radius][rows[0] + radius:rows[1] + radius + 1] = filled
    return blocked


def _open_range(low: float, high: float, origin: float, radius: int) -> tuple[int, int] | None:
    """The steps k in [-radius, radius] with low < origin + k * step < high (compared exactly as
    the spots are computed), or None when there are none."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    first = max(-radius - 1, min(radius + 1, math.floor((low - origin) / _PLACEMENT_STEP)))
    last = max(-radius - 1, min(radius + 1, math.ceil((high - origin) / _PLACEMENT_STEP)))
    first += origin + first * _PLACEMENT_STEP <= low  # the division may round either way by a step
    first -= origin + (first - 1) * _PLACEMENT_STEP > low
    last -= origin + last * _PLACEMENT_STEP >= high
    last += origin + (last + 1) * _PLACEMENT_STEP < high
    first, last = max(first, -radius), min(last, radius)
    return (first, last) if first <= last else None


def _ring(radius: int):
    """Grid offsets (i, j) with max(|i|, |j|) == radius."""
    if radius == 0:
        yield 0, 0
        return
    for i in range(-radius, radius + 1):
        yield i, -radius
        yield i, radius
    for j in range(-radius + 1, radius):
        yield -radius, j
        yield radius, j
