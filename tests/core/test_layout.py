"""Auto-layout: data flows left to right and long networks wrap into even bands."""
import pytest

from netbuilder.core.graph import Graph
from netbuilder.core.layout import COLUMN_SPACING, layered_layout
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
