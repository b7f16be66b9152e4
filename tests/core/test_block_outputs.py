"""Blocks with several outputs: a selection whose wires leave from several layers groups into a
block with one output port per layer, each downstream layer wired to its own output."""
import json
import re

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from netbuilder.core.analysis import analyze
from netbuilder.core.block_commands import GroupIntoBlock, InsideBlock, Ungroup
from netbuilder.core.codegen import to_python
from netbuilder.core.commands import RemoveNodes, SetParams, copy_fragment, paste_fragment
from netbuilder.core.compile import compile_graph
from netbuilder.core.graph import Edge, Graph, GraphError
from netbuilder.core.project import Project, load_project, project_to_dict, save_project
from netbuilder.core.summary import summary_rows

from tests.core.test_blocks import instance_of, structure


def two_branch_net():
    """input -> conv1 -> relu1 -> conv2 (8 filters); relu1 and conv2 each flattened, concatenated,
    a Dense and the Output: grouping conv1, relu1, conv2 gives a block with two outputs of
    different shapes (relu1's 4×6×6 and conv2's 8×6×6)."""
    graph = Graph()
    x = graph.add("input", shape=(4, 6, 6))
    conv1, relu = graph.add("conv2d", filters=4, padding="same"), graph.add("relu")
    conv2 = graph.add("conv2d", filters=8, padding="same")
    flat_a, flat_b, concat = graph.add("flatten"), graph.add("flatten"), graph.add("concat")
    fc, out = graph.add("dense", units=3), graph.add("output")
    graph.chain(x, conv1, relu, conv2, flat_b)
    graph.chain(relu, flat_a)
    graph.chain(flat_a, concat)
    graph.chain(flat_b, concat, fc, out)
    return graph, [conv1.id, relu.id, conv2.id]


def wiring(graph):
    """The network by names: each node's type, parameters and inputs (name and output port) in order."""
    return {node.name: (node.type_id, node.params,
                        [(graph.nodes[e.source].name, e.port) for e in graph.input_edges(node.id)])
            for node in graph.nodes.values()}


def names_of(graph, node_ids):
    return [graph.nodes[node_id].name for node_id in node_ids]


def test_wires_leaving_two_layers_become_two_outputs_with_their_own_shapes_and_undo_redo_exact():
    graph, chosen = two_branch_net()
    before, flat = structure(graph), analyze(graph)
    command = GroupIntoBlock(chosen)
    command.do(graph)
    instance = instance_of(graph)
    definition = graph.blocks[instance.params["block"]]
    assert names_of(definition.graph, definition.output_ports) == ["out1", "out2"]
    leaving = {graph.nodes[edge.target].name: edge.port for edge in graph.edges if edge.source == instance.id}
    assert leaving == {"flatten2": 0, "flatten1": 1}  # wire order: conv2 -> flatten2 comes first
    grouped = analyze(graph)
    assert grouped.ok, [p.message for p in grouped.errors]
    info = grouped.info[instance.id]
    assert (info.shape, info.other_outputs) == ((8, 6, 6), (((4, 6, 6), False),))
    assert grouped.info[graph.node_named("flatten1").id].shape == (144,)
    assert (grouped.total_params, grouped.total_flops) == (flat.total_params, flat.total_flops)
    after = structure(graph)
    command.undo(graph)
    assert structure(graph) == before
    command.do(graph)
    assert structure(graph) == after
    back = Ungroup(instance.id)
    back.do(graph)
    assert wiring(graph) == wiring(two_branch_net()[0])
    back.undo(graph)
    assert structure(graph) == after


def test_the_nested_module_returns_both_outputs_and_the_network_computes_what_the_flat_one_does():
    torch.manual_seed(0)
    graph, chosen = two_branch_net()
    flat = compile_graph(graph)
    x = torch.randn(3, 4, 6, 6)
    expected = flat(x)
    GroupIntoBlock(chosen).do(graph)
    nested = compile_graph(graph)
    nested.load_state_dict({(f"block1.{key}" if key.startswith("conv") else key): value
                            for key, value in flat.state_dict().items()})
    assert torch.allclose(nested(x), expected, atol=1e-6)
    first, second = nested.block1(x)
    assert (tuple(first.shape), tuple(second.shape)) == ((3, 8, 6, 6), (3, 4, 6, 6))
    source = to_python(graph)
    assert "block1 = self.block1(input1)  # 8×6×6, 4×6×6" in source  # one tuple, each layer picking its output
    assert "flatten1 = self.flatten1(block1[1])  # 144" in source
    assert "return conv2, relu1" in source
    scope = {}
    exec(compile(source, "net.py", "exec"), scope)  # noqa: S102 - our own generated code
    exported = scope["Net"]()
    exported.load_state_dict(nested.state_dict())
    exported.eval()
    assert torch.allclose(exported(x), expected, atol=1e-6)


def test_the_summary_gives_each_output_shape_of_a_block_card():
    graph, chosen = two_branch_net()
    GroupIntoBlock(chosen).do(graph)
    (row,) = [row for row in summary_rows(graph, analyze(graph)) if row[0] == "block1"]
    assert row[2] == "8×6×6, 4×6×6"


def test_a_block_with_two_outputs_cannot_repeat_and_says_why():
    graph, chosen = two_branch_net()
    GroupIntoBlock(chosen).do(graph)
    instance = instance_of(graph)
    SetParams(instance.id, {"repeat": 2}).do(graph)
    problems = analyze(graph).problems_of(instance.id)
    assert any("has 2 outputs: only a block with one output can feed itself" in p.message for p in problems)
    with pytest.raises(GraphError, match="has a problem to fix"):
        Ungroup(instance.id).do(graph)


def test_a_wire_from_an_output_removed_inside_the_block_is_a_problem_on_the_layer_it_feeds():
    graph, chosen = two_branch_net()
    GroupIntoBlock(chosen).do(graph)
    definition = graph.blocks[instance_of(graph).params["block"]]
    InsideBlock(definition.id, RemoveNodes([definition.output_ports[1]])).do(graph)
    problems = analyze(graph).problems_of(graph.node_named("flatten1").id)
    assert [p.cause for p in problems] == ['is wired to output 2 of "block1", whose block has 1 output']


def test_only_a_block_card_has_a_second_output():
    graph, chosen = two_branch_net()
    relu, fc = graph.node_named("relu1"), graph.node_named("fc1")
    assert graph.connection_problem(relu.id, fc.id, 1) == 'ReLU "relu1" has one output'


def test_the_output_port_of_a_wire_is_saved_only_where_it_is_not_the_first_and_reopens(tmp_path):
    graph, chosen = two_branch_net()
    GroupIntoBlock(chosen).do(graph)
    path = tmp_path / "net.nbproj"
    save_project(Project(graph=graph), path)
    edges = json.loads(path.read_text())["edges"]
    assert [edge for edge in edges if "port" in edge] == [{"source": instance_of(graph).id,
                                                           "target": graph.node_named("flatten1").id, "port": 1}]
    opened = load_project(path)
    assert project_to_dict(opened) == project_to_dict(Project(graph=graph))
    assert analyze(opened.graph).ok


def test_copy_and_paste_keep_which_output_a_wire_leaves():
    graph, chosen = two_branch_net()
    GroupIntoBlock(chosen).do(graph)
    fragment = copy_fragment(graph, [instance_of(graph).id, graph.node_named("flatten1").id])
    assert re.search(r'"port"|, 1\]', json.dumps(fragment["edges"]))
    paste = paste_fragment(graph, json.loads(json.dumps(fragment)))
    paste.do(graph)
    pasted = [node for node in graph.nodes.values() if node.name == "flatten3"][0]
    assert [e.port for e in graph.input_edges(pasted.id)] == [1]


@st.composite
def branching_nets(draw):
    """A valid network of 2 to 9 layers on 5 features whose wires branch and merge at random:
    Dense, ReLU and Tanh each fed by an earlier node, Add and Mul by two; whatever feeds
    nothing is added up into the Output. Most selections of it have several wires leaving."""
    graph = Graph()
    nodes = [graph.add("input", kind="vector", shape=(5,)).id]
    for _ in range(draw(st.integers(2, 9))):
        kind = draw(st.sampled_from(["dense", "relu", "tanh", "add", "mul"] if len(nodes) > 1 else ["dense"]))
        node = graph.add(kind, **({"units": 5} if kind == "dense" else {}))
        count = 2 if kind in ("add", "mul") else 1
        for source in draw(st.lists(st.sampled_from(nodes), min_size=count, max_size=count, unique=True)):
            graph.insert_edge(Edge(source, node.id))
        nodes.append(node.id)
    ends = [node_id for node_id in nodes[1:] if not graph.outputs_of(node_id)]
    last = ends[0]
    if len(ends) > 1:
        last = graph.add("add").id
        for end in ends:
            graph.insert_edge(Edge(end, last))
    graph.insert_edge(Edge(last, graph.add("output", task="regression").id))
    return graph


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(branching_nets(), st.data())
def test_any_grouped_selection_computes_what_the_flat_network_computes(graph, data):
    """Random branching networks and selections (mostly with several outputs): the grouped
    network, given the flat one's weights, gives its outputs within 1e-6; undo restores the file;
    ungrouping gives back every wire."""
    flat_analysis = analyze(graph)
    assert flat_analysis.ok, [p.message for p in flat_analysis.errors]
    candidates = [n for n, node in graph.nodes.items() if not (node.spec.is_source or node.spec.is_sink)]
    chosen = data.draw(st.lists(st.sampled_from(candidates), unique=True, min_size=1, max_size=6))
    torch.manual_seed(0)
    flat = compile_graph(graph, flat_analysis)
    x = torch.randn(4, 5)
    before, expected, inside = structure(graph), wiring(graph), set(names_of(graph, chosen))
    group = GroupIntoBlock(chosen)
    try:
        group.do(graph)
    except GraphError as error:
        assert "comes back in" in str(error) and structure(graph) == before
        return
    instance = instance_of(graph)
    nested = compile_graph(graph)
    nested.load_state_dict({(f"{instance.name}.{key}" if key.split(".")[0] in inside else key): value
                            for key, value in flat.state_dict().items()})
    with torch.no_grad():
        assert torch.allclose(nested(x), flat(x), atol=1e-6)
    assert to_python(graph).count("class Block1(nn.Module):") == 1
    Ungroup(instance.id).do(graph)
    assert wiring(graph) == expected


def test_the_random_selections_mostly_make_blocks_with_several_outputs():
    """Guards the property above against vacuity: many random selections group into a block with
    several outputs."""
    several = 0

    @settings(max_examples=100, deadline=None, database=None, derandomize=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(branching_nets(), st.data())
    def count(graph, data):
        nonlocal several
        candidates = [n for n, node in graph.nodes.items() if not (node.spec.is_source or node.spec.is_sink)]
        try:
            GroupIntoBlock(data.draw(st.lists(st.sampled_from(candidates), unique=True, min_size=1, max_size=6))).do(graph)
        except GraphError:
            return
        several += len(graph.blocks[instance_of(graph).params["block"]].output_ports) > 1

    count()
    assert several >= 20
