"""Auto-layout: data flows left to right and long networks wrap into even bands; new layers go to the
nearest free spot."""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.core.graph import Graph
from netbuilder.core.layout import (CARD_HEIGHT, CARD_WIDTH, COLUMN_SPACING, PLACEMENT_GAP, free_spot,
                                    layered_layout)
from netbuilder.core.project import load_template


def chain(length: int) -> Graph:
    graph = Graph()
    graph.chain(graph.add("input", kind="vector", shape=(4,)), *[graph.add("relu") for _ in range(length - 2)],
                graph.add("output"))
    return graph


@pytest.mark.parametrize(("length", "band_lengths"), [
    (5, [5]), (6, [3, 3]), (11, [4, 4, 3]), (14, [5, 5, 4]), (17, [5, 4, 4, 4]),
])
def test_long_chains_wrap_into_even_bands_that_read_left_to_right(length, band_lengths):
    graph = chain(length)
    positions = layered_layout(graph)
    rows: dict[float, list[float]] = {}
    for node_id in graph.nodes:  # nodes are added in data-flow order
        x, y = positions[node_id]
        rows.setdefault(y, []).append(x)
    assert [len(xs) for xs in rows.values()] == band_lengths
    assert all(xs == [i * COLUMN_SPACING for i in range(len(xs))] for xs in rows.values())
    assert list(rows) == sorted(rows)


def test_a_skip_connection_puts_the_merge_after_both_of_its_inputs():
    graph = load_template("5-residual-cnn").graph
    positions = layered_layout(graph, max_columns=100)
    add = next(n for n in graph.nodes.values() if n.type_id == "add")
    assert all(positions[source][0] < positions[add.id][0] for source in graph.inputs_of(add.id))


def _overlaps(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return abs(a[0] - b[0]) < CARD_WIDTH and abs(a[1] - b[1]) < CARD_HEIGHT


@settings(max_examples=60, deadline=None)
@given(spots=st.lists(st.tuples(st.integers(-6, 6), st.integers(-6, 6)), max_size=25),
       wanted=st.tuples(st.floats(-300, 300), st.floats(-300, 300)))
def test_a_free_spot_overlaps_no_card_and_is_the_wanted_one_when_that_is_free(spots, wanted):
    graph = Graph()
    for i, j in set(spots):
        graph.add("relu", position=(i * 90.0, j * 60.0))
    occupied = [node.position for node in graph.nodes.values()]

    spot = free_spot(graph, wanted)

    assert not any(_overlaps(spot, other) for other in occupied)
    if not any(abs(wanted[0] - x) < CARD_WIDTH + PLACEMENT_GAP and abs(wanted[1] - y) < CARD_HEIGHT + PLACEMENT_GAP
               for x, y in occupied):
        assert spot == wanted


def test_the_free_spot_is_the_nearest_one():
    graph = Graph()
    graph.add("relu", position=(0.0, 0.0))
    # up or down clears the card sooner than sideways; on the 20 px grid the first clear row
    # above is 120 px up (a card and the gap take 102)
    assert free_spot(graph, (0.0, 0.0)) == (0.0, -120.0)
