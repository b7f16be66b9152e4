"""Blocks: grouping layers into a shared definition and back, instances that follow edits of their
definition, repeats, nesting, and compile, code and project files for networks with blocks."""
import json
import re

import pytest
import torch
from hypothesis import HealthCheck, given, settings, strategies as st

from netbuilder.core.analysis import analyze
from netbuilder.core.block_commands import GroupIntoBlock, InsideBlock, MakeUnique, Ungroup
from netbuilder.core.codegen import to_python
from netbuilder.core.commands import (AddNode, Connect, Disconnect, Group, RemoveNodes, Rename, SetParams, copy_fragment,
                                     new_layer, paste_fragment, pasted_ids)
from netbuilder.core.compile import compile_graph
from netbuilder.core.graph import Edge, Graph, GraphError
from netbuilder.core.memory import training_memory
from netbuilder.core.settings import TrainingSettings
from netbuilder.core.summary import keras_difference
from netbuilder.core.project import (VERSION, Project, ProjectFileError, load_project, load_template, project_from_bytes,
                                     project_to_dict, save_project)

from tests.core.test_random_graphs import graphs


def residual_net(channels=4, size=8):
    """input -> [conv1 -> relu1 -> conv2 -> add1(+input)] -> flatten -> fc1 -> output"""
    graph = Graph()
    x = graph.add("input", shape=(channels, size, size))
    conv1, relu = graph.add("conv2d", filters=channels, padding="same"), graph.add("relu")
    conv2, add = graph.add("conv2d", filters=channels, padding="same"), graph.add("add")
    flatten, fc, out = graph.add("flatten"), graph.add("dense", units=3), graph.add("output")
    graph.chain(x, conv1, relu, conv2, add, flatten, fc, out)
    graph.insert_edge(Edge(x.id, add.id))
    return graph, [conv1.id, relu.id, conv2.id, add.id]


def instance_of(graph):
    return next(node for node in graph.nodes.values() if node.type_id == "block")


def wiring(graph):
    """The network by names: each node's type, parameters and inputs in order."""
    return {node.name: (node.type_id, node.params, [graph.nodes[s].name for s in graph.inputs_of(node.id)])
            for node in graph.nodes.values()}


def structure(graph):
    """Everything a project file holds of a graph, in order, with the block library."""
    return json.dumps(project_to_dict(Project(graph=graph)), sort_keys=True)


def test_grouping_makes_one_card_with_the_selections_ports_and_counts_and_undo_restores_it():
    graph, chosen = residual_net()
    before, flat = structure(graph), analyze(graph)
    command = GroupIntoBlock(chosen)
    command.do(graph)
    instance = instance_of(graph)
    definition = graph.blocks[instance.params["block"]]
    assert [graph.nodes[s].name for s in graph.inputs_of(instance.id)] == ["input1"]
    assert [graph.nodes[t].name for t in graph.outputs_of(instance.id)] == ["flatten1"]
    assert sorted(n.name for n in definition.graph.nodes.values()) == ["add1", "conv1", "conv2", "out1", "relu1", "x1"]
    grouped = analyze(graph)
    assert grouped.ok and grouped.info[instance.id].shape == (4, 8, 8)
    assert grouped.info[instance.id].params == sum(flat.info[n].params for n in chosen)
    assert grouped.total_params == flat.total_params and grouped.total_flops == flat.total_flops
    command.undo(graph)
    assert structure(graph) == before and not graph.blocks
    command.do(graph)
    assert analyze(graph).total_params == flat.total_params


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(graphs(), st.data())
def test_any_selection_groups_and_ungroups_to_the_same_network_or_is_refused_untouched(graph, data):
    candidates = [n for n, node in graph.nodes.items() if not (node.spec.is_source or node.spec.is_sink)]
    chosen = data.draw(st.lists(st.sampled_from(candidates), unique=True, min_size=1, max_size=5)) if candidates else []
    before, flat = structure(graph), analyze(graph)
    try:
        command = GroupIntoBlock(chosen)
        command.do(graph)
    except GraphError:
        assert structure(graph) == before
        return
    grouped = analyze(graph)
    if flat.ok:  # a block changes nothing the network computes
        assert grouped.ok, [p.message for p in grouped.errors]
        assert (grouped.total_params, grouped.total_flops) == (flat.total_params, flat.total_flops)
    after = structure(graph)
    command.undo(graph)
    assert structure(graph) == before
    command.do(graph)
    assert structure(graph) == after
    expected = wiring(graph_from(before))
    back = Ungroup(instance_of(graph).id)
    back.do(graph)
    assert wiring(graph) == expected  # every layer back with its name and its inputs in order
    back.undo(graph)
    assert structure(graph) == after


def graph_from(text):
    return load_project_dict(json.loads(text)).graph


def load_project_dict(data):
    return project_from_bytes(json.dumps(data).encode(), "test")


@pytest.mark.parametrize(("chosen", "message"), [
    (lambda ids, g: [], "select the layers"),
    (lambda ids, g: [*ids, "n1"], 'Input "input1" cannot go inside a block'),
    (lambda ids, g: [ids[0], ids[2]], 'comes back in through "relu1"'),
])
def test_selections_that_cannot_be_a_block_are_refused_with_a_reason(chosen, message):
    graph, ids = residual_net()
    with pytest.raises(GraphError, match=re.escape(message)):
        GroupIntoBlock(chosen(ids, graph)).do(graph)


def two_instances():
    graph, chosen = residual_net()
    GroupIntoBlock(chosen).do(graph)
    first = instance_of(graph)
    paste = paste_fragment(graph, copy_fragment(graph, [first.id]))
    paste.do(graph)
    (second_id,) = pasted_ids(paste)
    downstream = graph.outputs_of(first.id)[0]
    for command in (SetParams(second_id, {}), Connect(first.id, second_id)):
        command.do(graph)
    edge = Edge(first.id, downstream)
    graph.delete_edge(edge)
    graph.insert_edge(Edge(second_id, downstream))
    return graph, first, graph.nodes[second_id]


def test_an_edit_inside_a_block_changes_every_instance_and_make_unique_detaches_one():
    graph, first, second = two_instances()
    definition = graph.blocks[first.params["block"]]
    assert second.params["block"] == definition.id
    conv = definition.graph.node_named("conv1").id
    edit = InsideBlock(definition.id, SetParams(conv, {"kernel_size": 5}))
    edit.do(graph)
    analysis = analyze(graph)
    one_conv = 4 * 4 * 25 + 4
    assert analysis.info[first.id].params == analysis.info[second.id].params == one_conv + 4 * 4 * 9 + 4
    edit.undo(graph)
    unique = MakeUnique(second.id)
    unique.do(graph)
    assert second.params["block"] != first.params["block"]
    edit.do(graph)
    analysis = analyze(graph)
    assert analysis.info[first.id].params == one_conv + 4 * 4 * 9 + 4
    assert analysis.info[second.id].params == 2 * (4 * 4 * 9 + 4)
    edit.undo(graph)
    unique.undo(graph)
    assert second.params["block"] == first.params["block"] and len(graph.blocks) == 1


def test_a_problem_inside_a_block_shows_on_its_instance_naming_the_layer_inside():
    graph, chosen = residual_net()
    GroupIntoBlock(chosen).do(graph)
    instance = instance_of(graph)
    definition = graph.blocks[instance.params["block"]]
    InsideBlock(definition.id, SetParams(definition.graph.node_named("conv2").id, {"filters": 6})).do(graph)
    (problem,) = analyze(graph).errors
    assert problem.node_id == instance.id
    assert 'Add "add1" inside block "block1" needs inputs of one shape' in problem.message


def test_repeat_counts_each_repetition_and_needs_an_output_that_fits_the_input():
    graph, chosen = residual_net()
    GroupIntoBlock(chosen).do(graph)
    instance = instance_of(graph)
    once = analyze(graph).info[instance.id]
    SetParams(instance.id, {"repeat": 3}).do(graph)
    thrice = analyze(graph).info[instance.id]
    assert (thrice.shape, thrice.params, thrice.flops) == (once.shape, 3 * once.params, 3 * once.flops)
    definition = graph.blocks[instance.params["block"]]
    inside = definition.graph
    pool = new_layer(inside, "maxpool2d", (0.0, 0.0))
    last = inside.node_named("add1").id
    InsideBlock(definition.id, Group([pool, Disconnect(Edge(last, definition.output_ports[0])), Connect(last, pool.node.id),
                                      Connect(pool.node.id, definition.output_ports[0])])).do(graph)
    (problem,) = analyze(graph).errors
    assert problem.node_id == instance.id and problem.fix.params == (("repeat", 1),)
    assert "repeats ×3, but the block's output 4×4×4 does not fit its input 4×8×8" in problem.message
    SetParams(instance.id, {"repeat": 1}).do(graph)
    assert analyze(graph).ok


def test_ungrouping_a_repeated_block_gives_its_layers_n_times_in_a_chain():
    graph, chosen = residual_net()
    GroupIntoBlock(chosen).do(graph)
    instance = instance_of(graph)
    SetParams(instance.id, {"repeat": 3}).do(graph)
    repeated = analyze(graph)
    command = Ungroup(instance.id)
    command.do(graph)
    flat = analyze(graph)
    assert flat.ok and flat.total_params == repeated.total_params and flat.total_flops == repeated.total_flops
    assert sum(node.type_id == "conv2d" for node in graph.nodes.values()) == 6
    assert [graph.nodes[s].name for s in graph.inputs_of(graph.node_named("add2").id)] == ["conv4", "add1"]  # copy 2: conv3, relu2, conv4


def test_compiled_blocks_compute_what_the_flat_network_computes_with_keys_a_pytorch_user_writes():
    torch.manual_seed(0)
    graph, chosen = residual_net()
    flat = compile_graph(graph)
    x = torch.randn(2, 4, 8, 8)
    expected = flat(x)
    GroupIntoBlock(chosen).do(graph)
    instance = instance_of(graph)
    Rename(instance.id, "stage1").do(graph)
    nested = compile_graph(graph)
    weights = {("stage1." + key if key.startswith(("conv", "relu", "add")) else key): value
               for key, value in flat.state_dict().items()}
    nested.load_state_dict(weights)
    assert torch.allclose(nested(x), expected, atol=1e-6)
    SetParams(instance.id, {"repeat": 2}).do(graph)
    repeated = compile_graph(graph)
    assert list(repeated.state_dict())[:4] == ["stage1.0.conv1.weight", "stage1.0.conv1.bias",
                                               "stage1.0.conv2.weight", "stage1.0.conv2.bias"]
    assert "stage1.1.conv2.bias" in repeated.state_dict()
    assert isinstance(repeated.stage1, torch.nn.Sequential)


def test_exported_code_has_one_class_per_block_and_gives_the_compiled_outputs():
    torch.manual_seed(0)
    graph, chosen = residual_net()
    GroupIntoBlock(chosen).do(graph)
    instance = instance_of(graph)
    SetParams(instance.id, {"repeat": 2}).do(graph)
    source = to_python(graph)
    assert source.count("class Block1(nn.Module):") == 1
    assert "self.block1 = nn.Sequential(*(Block1() for _ in range(2)))" in source
    scope = {}
    exec(compile(source, "net.py", "exec"), scope)  # noqa: S102 - our own generated code
    model, exported = compile_graph(graph), scope["Net"]()
    exported.load_state_dict(model.state_dict())
    exported.eval()
    x = torch.randn(3, 4, 8, 8)
    assert torch.allclose(exported(x), model(x))


def test_blocks_nest_and_a_block_inside_itself_is_refused():
    torch.manual_seed(0)
    graph, chosen = residual_net()
    GroupIntoBlock(chosen, "res").do(graph)
    inner = instance_of(graph)
    fc = graph.node_named("flatten1").id
    GroupIntoBlock([inner.id, fc], "stage").do(graph)
    outer = next(node for node in graph.nodes.values() if node.type_id == "block")
    analysis = analyze(graph)
    assert analysis.ok and analysis.info[outer.id].shape == (256,)
    model = compile_graph(graph)
    assert "stage.res.conv1.weight" in model.state_dict()
    source = to_python(graph)
    assert source.index("class Res(nn.Module)") < source.index("class Stage(nn.Module)") < source.index("class Net(")
    res_id = inner.params["block"]
    stage_id = outer.params["block"]
    placing = InsideBlock(res_id, AddNode("block", params={"block": stage_id}))
    with pytest.raises(GraphError, match='block "res" would contain itself'):
        placing.do(graph)
    assert all(n.type_id != "block" for n in graph.blocks[res_id].graph.nodes.values())


def test_projects_with_blocks_save_and_open_identical(tmp_path):
    graph, chosen = residual_net()
    GroupIntoBlock(chosen, "res").do(graph)
    SetParams(instance_of(graph).id, {"repeat": 2}).do(graph)
    project = Project(graph=graph, name="blocks")
    path = tmp_path / "net.nbproj"
    save_project(project, path)
    opened = load_project(path)
    assert project_to_dict(opened) == project_to_dict(project)
    assert analyze(opened.graph).total_params == analyze(graph).total_params
    assert json.loads(path.read_text())["version"] == VERSION


def test_a_version_1_file_opens_unchanged_with_no_blocks():
    current = project_to_dict(load_template("5-residual-cnn"))
    old = {key: value for key, value in current.items() if key != "blocks"}
    old["version"] = 1
    opened = load_project_dict(old)
    assert project_to_dict(opened) == current and not opened.graph.blocks


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda d: d["nodes"][-1]["params"].update(block="b9"), "refers to block 'b9', which the file lacks"),
    (lambda d: d["blocks"].append(dict(d["blocks"][0])), "block 2: the id 'b1' is used twice"),
    (lambda d: d["blocks"][0]["nodes"].append({"id": "n99", "type": "block", "name": "loop",
                                               "params": {"block": "b1"}}), 'block "res": contains itself'),
    (lambda d: d["blocks"][0]["nodes"][0]["params"].update(filters=0), 'block "res": node 1 ("conv1"): filters'),
])
def test_malformed_blocks_in_a_file_say_what_is_wrong_and_where(mutate, message):
    graph, chosen = residual_net()
    GroupIntoBlock(chosen, "res").do(graph)
    data = project_to_dict(Project(graph=graph))
    mutate(data)
    with pytest.raises(ProjectFileError, match=re.escape(message)):
        load_project_dict(data)


def test_training_memory_counts_what_the_layers_inside_each_repetition_keep():
    graph, chosen = residual_net()
    settings = TrainingSettings()
    flat = training_memory(graph, analyze(graph), settings)
    GroupIntoBlock(chosen).do(graph)
    assert training_memory(graph, analyze(graph), settings) == flat
    instance = instance_of(graph)
    SetParams(instance.id, {"repeat": 3}).do(graph)
    repeated = training_memory(graph, analyze(graph), settings)
    Ungroup(instance.id).do(graph)
    assert training_memory(graph, analyze(graph), settings) == repeated


def test_several_blocks_ungrouped_as_one_step_each_get_their_own_layers():
    graph, first, second = two_instances()
    before = analyze(graph)
    both = Group([Ungroup(first.id), Ungroup(second.id)], "Ungroup block")
    both.do(graph)
    after = analyze(graph)
    assert after.ok and after.total_params == before.total_params
    assert sum(node.type_id == "conv2d" for node in graph.nodes.values()) == 4
    both.undo(graph)
    assert {first.id, second.id} <= set(graph.nodes)


def test_the_keras_count_of_a_network_with_blocks_counts_the_layers_inside():
    graph = load_template("2-cnn").graph  # Keras also counts BatchNorm's running statistics
    flat = keras_difference(graph, analyze(graph))
    assert flat is not None
    hidden = [node.id for node in graph.nodes.values() if node.type_id in ("conv2d", "batchnorm", "relu")][:3]
    GroupIntoBlock(hidden).do(graph)
    assert keras_difference(graph, analyze(graph)) == flat


def test_a_block_emptied_inside_cannot_be_ungrouped_and_says_so():
    graph, chosen = residual_net()
    GroupIntoBlock(chosen).do(graph)
    instance = instance_of(graph)
    definition = graph.blocks[instance.params["block"]]
    layers = [n.id for n in definition.graph.nodes.values() if n.type_id not in ("block_input", "block_output")]
    InsideBlock(definition.id, Group([RemoveNodes(layers), Connect(definition.input_ports[0], definition.output_ports[0])])).do(graph)
    assert analyze(graph).info[instance.id].params == 0
    with pytest.raises(GraphError, match='block "block1" has a problem to fix before it can be ungrouped'):
        Ungroup(instance.id).do(graph)
    assert instance.id in graph.nodes


def test_cards_of_a_block_fed_the_same_shapes_share_one_analysis_of_its_insides():
    graph, chosen = residual_net()
    GroupIntoBlock(chosen, name="res").do(graph)
    first = instance_of(graph)
    flatten = graph.outputs_of(first.id)[0]
    second = graph.add("block", block=first.params["block"])
    pool = graph.add("maxpool2d")
    third = graph.add("block", block=first.params["block"])
    graph.delete_edge(Edge(first.id, flatten))
    graph.chain(first, second, pool, third, graph.nodes[flatten])
    analysis = analyze(graph)
    assert analysis.ok
    assert analysis.inner[first.id] is analysis.inner[second.id]  # both see 4×8×8
    assert analysis.inner[third.id] is not analysis.inner[first.id]  # 4×4×4 after the pooling
    assert analysis.info[third.id].flops == analysis.info[first.id].flops // 4
