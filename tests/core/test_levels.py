"""Levels: the inside of a block as the editor shows it, entered through one of its cards: its
graph, its shapes for that card's inputs, edits that reach every card sharing the block, the
trail of names, and problems that lead to the layer inside that is wrong."""
from netbuilder.core.analysis import analyze
from netbuilder.core.block_commands import GroupIntoBlock, InsideBlock
from netbuilder.core.commands import Disconnect, SetParams
from netbuilder.core.graph import Edge
from netbuilder.core.levels import Level, analysis_at, block_at, command_at, crumbs, existing_level, graph_at

from tests.core.test_blocks import instance_of, residual_net, two_instances


def nested_net():
    """input -> stage(res(conv1, relu1, conv2, add1), flatten1) -> fc1 -> output, 4×8×8 in."""
    graph, chosen = residual_net()
    GroupIntoBlock(chosen, "res").do(graph)
    inner = instance_of(graph)
    GroupIntoBlock([inner.id, graph.node_named("flatten1").id], "stage").do(graph)
    outer = instance_of(graph)
    res_card = graph_at(graph, Level((outer.id,))).node_named("res")
    return graph, outer, res_card


def test_a_level_shows_the_blocks_graph_with_the_shapes_of_the_card_it_was_entered_through():
    graph, first, second = two_instances()
    InsideBlock(first.params["block"], SetParams(graph.blocks[first.params["block"]].graph.node_named("conv2").id,
                                                 {"filters": 4})).do(graph)
    level = Level().enter(first.id)
    inside = graph_at(graph, level)
    assert inside is graph.blocks[first.params["block"]].graph and block_at(graph, level).name == "block1"
    analysis = analysis_at(graph, analyze(graph), level)
    assert analysis.ok
    assert analysis.info[inside.node_named("conv1").id].shape == (4, 8, 8)
    assert analysis.info[inside.node_named("conv1").id].params == 4 * 4 * 9 + 4
    assert graph_at(graph, Level()) is graph and block_at(graph, Level()) is None
    assert level.up() == Level() and Level().up() == Level()


def test_an_edit_made_at_a_level_changes_every_card_sharing_the_block_and_undoes_as_one_step():
    graph, first, second = two_instances()
    level = Level((second.id,))
    conv = graph_at(graph, level).node_named("conv1")
    command = command_at(graph, level, SetParams(conv.id, {"kernel_size": 5}))
    assert command_at(graph, Level(), command) is command
    command.do(graph)
    analysis = analyze(graph)
    per_card = (4 * 4 * 25 + 4) + (4 * 4 * 9 + 4)
    assert analysis.info[first.id].params == analysis.info[second.id].params == per_card
    command.undo(graph)
    assert conv.params["kernel_size"] == 3


def test_nested_levels_carry_the_shapes_inward_and_name_the_trail():
    graph, stage, res = nested_net()
    level = Level((stage.id, res.id))
    inside = graph_at(graph, level)
    assert block_at(graph, level).name == "res" and inside.node_named("conv2") is not None
    analysis = analysis_at(graph, analyze(graph), level)
    assert analysis.info[inside.node_named("add1").id].shape == (4, 8, 8)
    assert crumbs(graph, level) == ["Network", "stage", "res"]
    graph.nodes[stage.id].name = "stage1"
    assert crumbs(graph, level) == ["Network", "stage1 (stage)", "res"]


def test_a_level_whose_card_went_away_falls_back_to_the_deepest_one_left():
    graph, stage, res = nested_net()
    level = Level((stage.id, res.id))
    assert existing_level(graph, level) == level
    assert existing_level(graph, Level((stage.id, "gone"))) == Level((stage.id,))
    assert existing_level(graph, Level(("gone", res.id))) == Level()
    flatten = graph_at(graph, Level((stage.id,))).node_named("flatten1").id
    assert existing_level(graph, Level((stage.id, flatten))) == Level((stage.id,))  # a layer is no block


def test_a_card_without_input_still_opens_and_its_ports_say_what_is_missing():
    graph, first, second = two_instances()
    source = graph.inputs_of(first.id)[0]
    Disconnect(Edge(source, first.id)).do(graph)
    level = Level((first.id,))
    analysis = analysis_at(graph, analyze(graph), level)
    port = graph_at(graph, level).node_named("x1")
    (problem,) = [p for p in analysis.problems if p.node_id == port.id]
    assert "the block card it was opened through receives nothing here" in problem.message


def test_a_problem_inside_nested_blocks_leads_to_the_layer_that_is_wrong():
    graph, stage, res = nested_net()
    res_block = block_at(graph, Level((stage.id, res.id)))
    conv2 = res_block.graph.node_named("conv2")
    InsideBlock(res_block.id, SetParams(conv2.id, {"filters": 6})).do(graph)
    (problem,) = analyze(graph).errors
    add = res_block.graph.node_named("add1")
    assert problem.node_id == stage.id and problem.location == (stage.id, res.id, add.id)
    inner = analysis_at(graph, analyze(graph), Level((stage.id, res.id)))
    assert [p.node_id for p in inner.errors] == [add.id] and inner.errors[0].location == (add.id,)
    assert analyze(graph).problems_of(stage.id)[0].inside == (res.id, add.id)
