"""Blocks on the canvas: layers selected by mouse become one block card with Ctrl+G, undo and redo
take it back and forth, and a card's right-click menu offers the block commands."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QApplication

from netbuilder.core.graph import Edge, Graph
from netbuilder.core.project import Project
from netbuilder.gui.document import Document

from test_editor import drag, header_of, input_of
from test_main_window import dialogs, make_window, settings_dir  # noqa: F401 - the window's fixtures

Key, Modifier = Qt.Key, Qt.KeyboardModifier


def conv_stack():
    """input 4×8×8 -> conv1 -> relu1 -> conv2 -> flatten1 -> fc1 -> output1, in a row."""
    graph = Graph()
    nodes = [graph.add("input", shape=(4, 8, 8), position=(0, 0)),
             graph.add("conv2d", filters=4, padding="same", position=(230, 0)),
             graph.add("relu", position=(460, 0)),
             graph.add("conv2d", filters=4, padding="same", position=(690, 0)),
             graph.add("flatten", position=(920, 0)), graph.add("dense", units=10, position=(1150, 0)),
             graph.add("output", position=(1380, 0))]
    graph.chain(*nodes)
    return graph, nodes


def click_card(qtbot, window, node, modifier=Modifier.NoModifier):
    viewport = window.view.viewport()
    qtbot.mouseClick(viewport, Qt.MouseButton.LeftButton, modifier, window.view.mapFromScene(header_of(window.scene, node)))


def test_layers_selected_by_mouse_become_one_block_card_with_ctrl_g_and_undo_redo_take_it_back(qtbot, make_window):
    graph, (source, conv1, relu, conv2, flatten, fc, output) = conv_stack()
    window = make_window(Document(Project(graph=graph)))
    window.view.zoom_to_fit()
    params_before = window.document.analysis.total_params
    click_card(qtbot, window, conv1)
    for node in (relu, conv2):
        click_card(qtbot, window, node, Modifier.ControlModifier)
    assert window.scene.selected_node_ids() == [conv1.id, relu.id, conv2.id]

    qtbot.keyClick(window.view, Key.Key_G, Modifier.ControlModifier)

    (block,) = [node for node in graph.nodes.values() if node.type_id == "block"]
    assert set(graph.nodes) == {source.id, flatten.id, fc.id, output.id, block.id}
    card = window.scene.node_item(block.id)
    per_block = 2 * (4 * 4 * 9 + 4)
    assert card.detail_lines() == ("block1 → 4×8×8", f"{per_block:,} params")
    assert window.scene.selected_node_ids() == [block.id]
    assert window.document.analysis.total_params == params_before
    assert window.inspector.fields["repeat"].widget.isVisible()

    qtbot.keyClick(window.view, Key.Key_Z, Modifier.ControlModifier)
    assert block.id not in graph.nodes
    with pytest.raises(KeyError):
        window.scene.node_item(block.id)
    assert [graph.nodes[s].name for s in graph.inputs_of(conv2.id)] == ["relu1"]
    assert window.scene.edge_item(next(e for e in graph.edges if e.target == flatten.id)).label == "4×8×8"

    qtbot.keyClick(window.view, Key.Key_Z, Modifier.ControlModifier | Modifier.ShiftModifier)
    assert block.id in graph.nodes and window.scene.node_item(block.id).isVisible()
    assert window.document.analysis.ok


def test_a_cards_menu_groups_ungroups_and_a_repeated_card_counts_each_repetition(qtbot, make_window):
    graph, (source, conv1, relu, conv2, *_rest) = conv_stack()
    window = make_window(Document(Project(graph=graph)))
    window.scene.select_nodes([conv1.id, relu.id, conv2.id])
    menu = window.view.open_card_menu(window.scene.node_item(relu.id), QPoint(0, 0))
    assert [action.text() for action in menu.actions()] == ["&Open Block", "Un&fold Block", "&Group into Block",
                                                            "U&ngroup Block", "Make Block &Unique"]
    assert [action.isEnabled() for action in menu.actions()] == [False, False, True, False, False]  # no block yet
    menu.actions()[2].trigger()
    menu.close()
    (block_id,) = window.scene.selected_node_ids()
    repeat = window.inspector.fields["repeat"].widget
    repeat.setValue(3)
    repeat.editingFinished.emit()
    card = window.scene.node_item(block_id)
    per_block = 2 * (4 * 4 * 9 + 4)
    assert card.detail_lines() == ("block1 ×3 → 4×8×8", f"{3 * per_block:,} params")
    assert f"each of the 3 repetitions: {per_block:,} params" in card.tooltip_text()
    assert "Double-click (Ctrl+Enter) opens the block" in card.tooltip_text()
    window.scene.ungroup_selected()
    assert sum(node.type_id == "conv2d" for node in graph.nodes.values()) == 6
    QApplication.processEvents()


def test_a_pasted_block_card_shares_its_block_and_another_project_gets_a_copy(make_window):
    graph, (source, conv1, relu, conv2, *_rest) = conv_stack()
    window = make_window(Document(Project(graph=graph)))
    window.scene.select_nodes([conv1.id, relu.id, conv2.id])
    window.window_actions.group_into_block.trigger()
    (block_id,) = window.scene.selected_node_ids()
    window.window_actions.copy.trigger()
    window.window_actions.paste.trigger()
    (pasted,) = window.scene.selected_node_ids()
    assert pasted != block_id and graph.nodes[pasted].params["block"] == graph.nodes[block_id].params["block"]
    assert len(graph.blocks) == 1

    other = make_window()
    other.window_actions.paste.trigger()
    (card,) = other.document.graph.nodes.values()
    assert [block.name for block in other.document.graph.blocks.values()] == ["block1"]
    assert card.params["block"] in other.document.graph.blocks
    other.document.undo_stack.undo()  # the card and its block, one step
    assert not other.document.graph.nodes and not other.document.graph.blocks


def test_a_block_with_two_outputs_shows_two_ports_whose_wires_leave_from_their_own(qtbot, make_window):
    """conv1 -> relu1 -> conv2 grouped: relu1 and conv2 both feed layers outside, so the card has two
    output ports, each wire leaves from its own, and a wire dragged from the second carries its shape."""
    graph = Graph()
    source = graph.add("input", shape=(4, 8, 8), position=(0, 100))
    conv1 = graph.add("conv2d", filters=4, padding="same", position=(230, 100))
    relu = graph.add("relu", position=(460, 100))
    conv2 = graph.add("conv2d", filters=8, padding="same", position=(690, 100))
    flatten2, flatten1 = graph.add("flatten", position=(920, 0)), graph.add("flatten", position=(920, 200))
    concat, fc = graph.add("concat", position=(1150, 100)), graph.add("dense", units=10, position=(1380, 100))
    output, loose = graph.add("output", position=(1610, 100)), graph.add("relu", position=(920, 400))
    graph.chain(source, conv1, relu, conv2, flatten2)
    graph.chain(relu, flatten1)
    graph.chain(flatten1, concat)
    graph.chain(flatten2, concat, fc, output)
    window = make_window(Document(Project(graph=graph)))
    window.view.zoom_to_fit()
    click_card(qtbot, window, conv1)
    for node in (relu, conv2):
        click_card(qtbot, window, node, Modifier.ControlModifier)

    qtbot.keyClick(window.view, Key.Key_G, Modifier.ControlModifier)

    (block,) = [node for node in graph.nodes.values() if node.type_id == "block"]
    card = window.scene.node_item(block.id)
    first, second = card.output_ports
    assert first.scenePos().y() < second.scenePos().y()
    assert card.detail_lines()[0] == "block1 → 2 outputs"
    assert "4×8×8 → 8×8×8, 4×8×8" in card.tooltip_text()
    for target, port, label in ((flatten2, first, "8×8×8"), (flatten1, second, "4×8×8")):
        (edge,) = [e for e in graph.edges if e.target == target.id]
        wire = window.scene.edge_item(edge)
        start = wire.curve.elementAt(0)
        assert (edge.port, (start.x, start.y), wire.label) == (port.index, (port.scenePos().x(), port.scenePos().y()), label)

    drag(qtbot, window.view, second.scenePos(), input_of(window.scene, loose))

    assert Edge(block.id, loose.id, 1) in graph.edges
    assert window.scene.edge_item(Edge(block.id, loose.id, 1)).label == "4×8×8"
    qtbot.keyClick(window.view, Key.Key_Z, Modifier.ControlModifier)
    qtbot.keyClick(window.view, Key.Key_Z, Modifier.ControlModifier)
    assert block.id not in graph.nodes and [graph.nodes[s].name for s in graph.inputs_of(flatten1.id)] == ["relu1"]
    assert window.scene.edge_item(Edge(conv2.id, flatten2.id)).label == "8×8×8"
    assert [p.node_id for p in window.document.analysis.errors] == [loose.id]  # the loose ReLU, unwired again
