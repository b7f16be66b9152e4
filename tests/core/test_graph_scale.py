"""The graph's indexes agree with its edges after any edit, checking many edges at once refuses what
checking them one by one would, and the work of every whole-graph operation grows linearly with
the network (counted in executed lines, not timed: bench/graph_scale.py measures the seconds)."""
import json
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netbuilder.core.analysis import analyze
from netbuilder.core.commands import Disconnect, RemoveNodes, Rename, copy_fragment, paste_fragment
from netbuilder.core.graph import Edge, EdgeListError, Graph, GraphError
from netbuilder.core.layout import free_spot, layered_layout
from netbuilder.core.project import project_from_dict
from netbuilder.core.summary import summary_text

PACKAGE = str(Path(__file__).parents[2] / "netbuilder")
KINDS = ["input", "relu", "add", "output", "dense"]


def _nodes(kinds):
    graph = Graph()
    for kind in kinds:
        graph.add(kind, **({"kind": "vector", "shape": (4,)} if kind == "input" else {}))
    return graph


def _indexes_agree(graph: Graph) -> None:
    for node_id, node in graph.nodes.items():
        assert graph.inputs_of(node_id) == [e.source for e in graph.edges if e.target == node_id]
        assert graph.outputs_of(node_id) == [e.target for e in graph.edges if e.source == node_id]
        assert graph.node_named(node.name) is node


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(KINDS), min_size=2, max_size=7), st.data())
def test_many_edges_at_once_are_refused_where_one_by_one_they_would_be(kinds, data):
    ids = [f"n{i + 1}" for i in range(len(kinds))]
    edges = data.draw(st.lists(st.tuples(st.sampled_from(ids), st.sampled_from(ids)).map(lambda p: Edge(*p)),
                               max_size=12))
    one_by_one, at_once = _nodes(kinds), _nodes(kinds)
    refused = None
    for index, edge in enumerate(edges):
        try:
            one_by_one.insert_edge(edge)
        except GraphError as error:
            refused = (index, str(error))
            break
    try:
        at_once.insert_edges(edges)
    except EdgeListError as error:
        assert (error.index, str(error)) == refused
        assert at_once.edges == []  # all or nothing
    else:
        assert refused is None and at_once.edges == one_by_one.edges
    _indexes_agree(at_once)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(KINDS), min_size=3, max_size=8), st.data())
def test_the_indexes_follow_every_edit_and_its_undo(kinds, data):
    graph = _nodes(kinds)
    for source in graph.nodes:
        for target in graph.nodes:
            if data.draw(st.booleans()) and not graph.connection_problem(source, target):
                graph.insert_edge(Edge(source, target))
    commands = []
    for _ in range(data.draw(st.integers(1, 4))):
        ids = list(graph.nodes)
        if not ids:
            break
        action = data.draw(st.sampled_from(["remove", "disconnect", "paste", "rename"]))
        if action == "remove":
            command = RemoveNodes(data.draw(st.lists(st.sampled_from(ids), min_size=1, unique=True)))
        elif action == "disconnect" and graph.edges:
            command = Disconnect(data.draw(st.sampled_from(graph.edges)))
        elif action == "paste":
            command = paste_fragment(graph, copy_fragment(graph, data.draw(st.lists(st.sampled_from(ids), unique=True))))
        else:
            command = Rename(data.draw(st.sampled_from(ids)), data.draw(st.sampled_from(["a", "b", "relu1"])))
        before = copy_fragment(graph, list(graph.nodes)), list(graph.edges)
        try:
            command.do(graph)
        except GraphError:
            assert (copy_fragment(graph, list(graph.nodes)), list(graph.edges)) == before
            continue
        commands.append((command, before))
        _indexes_agree(graph)
    for command, before in reversed(commands):
        command.undo(graph)
        assert (copy_fragment(graph, list(graph.nodes)), list(graph.edges)) == before
        _indexes_agree(graph)


def _chain_file(length: int) -> dict:
    """A chain with its nodes and its edges listed backwards: no order helps the reader."""
    nodes = [{"id": "n0", "type": "input", "name": "input1", "params": {"kind": "vector", "shape": [4]}}]
    nodes += [{"id": f"n{i}", "type": "relu", "name": f"relu{i}", "position": [230.0 * i, 0.0]}
              for i in range(1, length - 1)]
    nodes.append({"id": f"n{length - 1}", "type": "output", "name": "output1", "params": {"task": "regression"}})
    edges = [{"source": f"n{i}", "target": f"n{i + 1}"} for i in range(length - 1)]
    return {"format": "netbuilder-project", "version": 1, "nodes": nodes[::-1], "edges": edges[::-1]}


def _whole_graph_work(length: int) -> int:
    """Lines of netbuilder code executed to open, analyse, summarise, lay out, copy and paste, and
    delete (and undo deleting) every node of a chain of `length` nodes."""
    lines = 0

    def local(frame, event, arg):
        nonlocal lines
        lines += event == "line"
        return local

    def trace(frame, event, arg):
        return local if frame.f_code.co_filename.startswith(PACKAGE) else None

    data = _chain_file(length)
    sys.settrace(trace)
    try:
        graph = project_from_dict(data, "chain").graph
        summary_text(graph, analyze(graph))
        layered_layout(graph)
        free_spot(graph, (0.0, 0.0))
        paste = paste_fragment(graph, copy_fragment(graph, list(graph.nodes)))
        paste.do(graph)
        remove = RemoveNodes(list(graph.nodes))
        remove.do(graph)
        remove.undo(graph)
    finally:
        sys.settrace(None)
    assert len(graph.nodes) == 2 * length
    return lines


def test_whole_graph_operations_do_linear_work():
    small, large = _whole_graph_work(150), _whole_graph_work(600)
    assert large / small < 4 * 1.25  # quadratic work would grow 16 times
