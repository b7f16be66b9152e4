"""The summary's rows for a network with blocks: a block's row holds its totals over every
repetition and the rows of the layers inside (one repetition each), nested blocks nested."""
from netbuilder.core.analysis import analyze
from netbuilder.core.block_commands import GroupIntoBlock
from netbuilder.core.commands import SetParams
from netbuilder.core.summary import block_params, summary_rows, summary_text, summary_tree

from tests.core.test_block_files import block_named, nested_project
from tests.core.test_blocks import instance_of, residual_net

CONV = 4 * 4 * 9 + 4  # a 3×3 convolution of 4 channels to 4, with biases


def repeated_block(repeat=3):
    graph, chosen = residual_net()
    GroupIntoBlock(chosen, name="res").do(graph)
    SetParams(instance_of(graph).id, {"repeat": repeat}).do(graph)
    return graph


def test_a_repeated_blocks_row_counts_every_repetition_and_its_layers_one_each():
    graph = repeated_block(3)
    analysis = analyze(graph)
    rows = summary_tree(graph, analysis)
    (block,) = [row for row in rows if row.children]
    assert block.kind == "Block res ×3" and block.repeat == 3
    assert block.info.params == 3 * 2 * CONV
    assert [(row.node.name, row.info.params, row.depth) for row in block.children] == [
        ("conv1", CONV, 1), ("relu1", 0, 1), ("conv2", CONV, 1), ("add1", 0, 1)]
    assert block.info.flops == 3 * sum(row.info.flops for row in block.children)
    assert all(row.path[0] == block.node.id for row in block.children)
    assert block_params(graph, analysis) == {block.node.params["block"]: 2 * CONV}


def test_nested_blocks_nest_their_rows_and_the_text_summary_indents_them():
    graph = nested_project()
    rows = summary_tree(graph, analyze(graph))
    (outer,) = [row for row in rows if row.children]
    (inner,) = [row for row in outer.children if row.children]
    assert outer.kind == "Block outer" and inner.kind == "Block inner" and inner.depth == 1
    assert [row.depth for row in inner.children] == [2, 2, 2, 2]
    assert outer.info.params == inner.info.params == 2 * CONV
    names = [name for name, *_ in summary_rows(graph, analyze(graph))]
    assert names[names.index("outer") + 1:names.index("outer") + 3] == ["  inner", "    conv1"]
    assert "    conv1" in summary_text(graph)
    assert set(block_params(graph, analyze(graph))) == {block_named(graph, "outer").id, block_named(graph, "inner").id}


def test_a_block_with_a_problem_inside_has_no_rows_inside():
    graph = repeated_block(3)
    inside = graph.blocks[instance_of(graph).params["block"]].graph
    conv = inside.node_named("conv2")
    SetParams(conv.id, {"filters": 5}).do(inside)  # the Add then gets two shapes
    (block,) = [row for row in summary_tree(graph, analyze(graph)) if row.node.type_id == "block"]
    assert block.info is None and block.children == ()
