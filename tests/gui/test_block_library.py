"""The project's blocks in the palette: listed as they are made, renamed and removed, dragged onto
the canvas as new cards of the same block, saved to a file and loaded into another project."""
from __future__ import annotations

import json

from PySide6.QtCore import QPoint, Qt

from netbuilder.core.block_commands import GroupIntoBlock
from netbuilder.core.graph import Edge
from netbuilder.core.project import Project
from netbuilder.gui.document import Document
from netbuilder.gui.panels.palette import BLOCK_ROLE, BLOCKS_HEADING

from test_blocks_canvas import conv_stack
from test_main_window import dialogs, drop_on_canvas, make_window, settings_dir  # noqa: F401 - the window's fixtures


def grouped_window(make_window):
    graph, (source, conv1, relu, conv2, *_rest) = conv_stack()
    window = make_window(Document(Project(graph=graph)))
    window.document.push(GroupIntoBlock([conv1.id, relu.id, conv2.id], name="res"))
    block_id = next(iter(graph.blocks))
    return window, block_id


def block_texts(window) -> list[tuple[str, str]]:
    """Each listed block's name and parameter count (the palette's two columns)."""
    return [(item.text(0), item.text(1)) for item in window.layer_palette.block_items()]


def cards_of(window, block_id) -> list[str]:
    return [node.id for node in window.document.graph.nodes.values()
            if node.type_id == "block" and node.params["block"] == block_id]


def test_a_grouped_block_is_listed_with_its_layers_and_params_until_undone(make_window):
    graph, (source, conv1, relu, conv2, *_rest) = conv_stack()
    window = make_window(Document(Project(graph=graph)))
    palette = window.layer_palette
    assert palette.blocks_heading.text(0) == BLOCKS_HEADING and block_texts(window) == []
    assert palette.blocks_heading.child(0).text(0) == "Select layers, press Ctrl+G"

    window.document.push(GroupIntoBlock([conv1.id, relu.id, conv2.id], name="res"))
    per_block = 2 * (4 * 4 * 9 + 4)
    assert block_texts(window) == [("res", str(per_block))]
    assert f"3 layers, {per_block:,} parameters per repetition" in palette.block_items()[0].toolTip(0)

    window.document.undo_stack.undo()
    assert block_texts(window) == []
    window.document.undo_stack.redo()
    assert block_texts(window) == [("res", str(per_block))]


def test_a_block_dragged_from_the_palette_is_one_more_card_of_it_in_one_undo_step(make_window):
    window, block_id = grouped_window(make_window)
    (first,) = cards_of(window, block_id)
    at = window.view.viewport().rect().center() + QPoint(0, 200)

    drop_on_canvas(window, window.layer_palette.mime_data_for_block(block_id), at)

    cards = cards_of(window, block_id)
    assert len(cards) == 2
    added = window.document.graph.nodes[cards[1]]
    assert added.name == "res_1" and window.scene.selected_node_ids() == [added.id]
    assert window.document.undo_stack.undoText() == "Add Block"
    window.document.undo_stack.undo()
    assert cards_of(window, block_id) == [first]


def test_double_clicking_a_block_adds_a_card_at_the_centre(make_window, qtbot):
    window, block_id = grouped_window(make_window)
    item = window.layer_palette.block_item(block_id)
    tree = window.layer_palette.tree
    tree.scrollToItem(item)
    where = tree.visualItemRect(item).center()
    qtbot.mouseClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=where)  # the palette takes focus
    qtbot.mouseDClick(tree.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert len(cards_of(window, block_id)) == 2


def test_renaming_a_block_in_the_palette_renames_every_card_and_undo_takes_it_back(make_window):
    window, block_id = grouped_window(make_window)
    (card,) = cards_of(window, block_id)
    assert window.layer_palette.rename_block(block_id, "residual")
    assert window.layer_palette.block_item(block_id).text(0) == "residual"
    assert window.scene.node_item(card).detail_lines()[0].startswith("residual ")

    assert not window.layer_palette.rename_block(block_id, "not a name")
    assert "is not a valid name" in window.statusBar().currentMessage()

    window.document.undo_stack.undo()
    assert window.layer_palette.block_item(block_id).text(0) == "res"


def test_the_search_box_finds_blocks_by_name(make_window):
    window, block_id = grouped_window(make_window)
    palette = window.layer_palette
    palette.search.setText("res")
    assert not palette.block_item(block_id).isHidden()
    palette.search.setText("conv")
    assert palette.block_item(block_id).isHidden()


def test_a_block_saved_to_a_file_loads_into_another_project_under_a_free_name(make_window, dialogs, tmp_path):
    window, block_id = grouped_window(make_window)
    dialogs.chosen_file = str(tmp_path / "res")  # the suffix is added
    window.layer_palette.save_block_asked.emit(block_id)
    saved = tmp_path / "res.nbblock"
    assert json.loads(saved.read_text())["format"] == "netbuilder-block"

    dialogs.chosen_file = str(saved)
    window.window_actions.load_block.trigger()  # into the same project, which has a block "res"
    assert [definition.name for definition in window.document.graph.blocks.values()] == ["res", "res_1"]
    assert len(block_texts(window)) == 2
    assert 'Loaded block "res_1"' in window.statusBar().currentMessage()
    window.document.undo_stack.undo()
    assert len(block_texts(window)) == 1


def test_a_damaged_block_file_is_one_message_and_changes_nothing(make_window, dialogs, tmp_path):
    window, _ = grouped_window(make_window)
    damaged = tmp_path / "cut.nbblock"
    damaged.write_text('{"format": "netbuilder-block", "version": 1, "blo')
    dialogs.chosen_file = str(damaged)
    window.window_actions.load_block.trigger()
    assert len(dialogs.warnings) == 1 and "is damaged" in dialogs.warnings[0]
    assert len(window.document.graph.blocks) == 1 and not window.document.undo_stack.canRedo()


def test_saving_with_no_block_selected_says_how(make_window):
    window, _ = grouped_window(make_window)
    window.scene.select_nodes([])
    window.window_actions.save_block.trigger()
    assert "Select a block card" in window.statusBar().currentMessage()


def test_a_new_project_lists_its_own_blocks(make_window):
    window, _ = grouped_window(make_window)
    window.document.replace_project(Project())
    assert block_texts(window) == []


def test_the_inspector_of_a_block_card_renames_its_block(make_window, qtbot):
    window, block_id = grouped_window(make_window)
    (card,) = cards_of(window, block_id)
    window.scene.select_nodes([card])
    edit = window.inspector.block_edit
    assert edit.text() == "res"
    edit.selectAll()
    qtbot.keyClicks(edit, "residual")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert window.document.graph.blocks[block_id].name == "residual"
    assert window.layer_palette.block_item(block_id).text(0) == "residual"

    edit.selectAll()
    qtbot.keyClicks(edit, "2x")
    qtbot.keyClick(edit, Qt.Key.Key_Return)
    assert "is not a valid name" in window.inspector.error_text("block")
    assert window.document.graph.blocks[block_id].name == "residual"


def test_deleting_a_block_in_the_palette_is_refused_while_a_card_uses_it(make_window):
    window, block_id = grouped_window(make_window)
    palette = window.layer_palette
    assert not palette.delete_block(block_id)
    assert 'used by the card "res"' in window.statusBar().currentMessage()
    window.scene.select_nodes(cards_of(window, block_id))
    window.window_actions.ungroup.trigger()
    assert palette.delete_block(block_id)
    assert block_texts(window) == []
    window.document.undo_stack.undo()
    assert [item.data(0, BLOCK_ROLE) for item in palette.block_items()] == [block_id]


def test_a_block_dropped_on_a_wire_is_spliced_into_it(make_window):
    window, block_id = grouped_window(make_window)
    graph = window.document.graph
    (card,) = cards_of(window, block_id)
    flatten = graph.outputs_of(card)[0]
    wire = window.scene.edge_item(Edge(card, flatten)).curve.pointAtPercent(0.5)
    window.view.centerOn(wire)

    drop_on_canvas(window, window.layer_palette.mime_data_for_block(block_id), window.view.mapFromScene(wire))

    added = next(node_id for node_id in cards_of(window, block_id) if node_id != card)
    assert graph.inputs_of(added) == [card] and graph.outputs_of(added) == [flatten]
    assert window.document.analysis.ok  # the block's output fits its input: a residual stage of two
    window.document.undo_stack.undo()
    assert graph.outputs_of(card) == [flatten]
