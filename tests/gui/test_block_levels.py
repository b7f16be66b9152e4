"""Inside blocks in the window: opening nested blocks and going back up by the breadcrumb bar and
Escape, a problem inside a block leading from its card or the Problems panel to the layer that is
wrong, unfolding a card in place as a view, the panels following the level shown, and the canvas
showing its level through any edits, undos and moves between levels."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QPushButton

from netbuilder.core.analysis import analyze
from netbuilder.core.block_commands import GroupIntoBlock
from netbuilder.core.commands import SetParams
from netbuilder.core.graph import Edge, Graph
from netbuilder.core.layers import format_shape
from netbuilder.core.levels import Level, analysis_at, existing_level, graph_at
from netbuilder.core.project import Project
from netbuilder.gui.document import Document
from netbuilder.gui.editor import GraphScene
from netbuilder.gui.editor.node_item import NodeItem
from netbuilder.gui.editor.unfolded_block import UnfoldedBlock

from test_blocks_canvas import click_card
from test_editor import chooser
from test_main_window import dialogs, make_window, settings_dir  # noqa: F401 - the window's fixtures

Key, Modifier = Qt.Key, Qt.KeyboardModifier


def nested_blocks():
    """input 4×8×8 -> stage(res(conv1 -> relu1 -> conv2 -> add1 + skip), flatten1) -> fc1 -> output1."""
    graph = Graph()
    x = graph.add("input", shape=(4, 8, 8), position=(0, 0))
    conv1 = graph.add("conv2d", filters=4, padding="same", position=(230, 0))
    relu = graph.add("relu", position=(460, 0))
    conv2 = graph.add("conv2d", filters=4, padding="same", position=(690, 0))
    add = graph.add("add", position=(920, 0))
    flatten = graph.add("flatten", position=(1150, 0))
    fc, out = graph.add("dense", units=3, position=(1380, 0)), graph.add("output", position=(1610, 0))
    graph.chain(x, conv1, relu, conv2, add, flatten, fc, out)
    graph.insert_edge(Edge(x.id, add.id))
    GroupIntoBlock([conv1.id, relu.id, conv2.id, add.id], "res").do(graph)
    res = next(node for node in graph.nodes.values() if node.type_id == "block")
    GroupIntoBlock([res.id, flatten.id], "stage").do(graph)
    stage = next(node for node in graph.nodes.values() if node.type_id == "block")
    return graph, stage, res, conv2


def test_nested_blocks_open_by_keys_and_menus_and_the_breadcrumbs_and_escape_go_back_up(qtbot, make_window):
    graph, stage, res, conv2 = nested_blocks()
    window = make_window(Document(Project(graph=graph)))
    window.scene.select_nodes([stage.id])
    qtbot.keyClick(window.view, Key.Key_Return, Modifier.ControlModifier)
    assert window.document.level == Level((stage.id,))
    assert window.breadcrumbs.texts() == ["Network", "stage"]
    assert sorted(n.name for n in window.document.level_graph.nodes.values()) == ["flatten1", "out1", "res", "x1"]

    menu = window.view.open_card_menu(window.scene.node_item(res.id), QPoint(0, 0))
    next(action for action in menu.actions() if action.text() == "&Open Block").trigger()
    menu.close()
    assert window.document.level == Level((stage.id, res.id))
    assert window.breadcrumbs.texts() == ["Network", "stage", "res"]
    assert window.scene.edge_item(next(e for e in window.document.level_graph.edges
                                       if e.source == conv2.id)).label == "4×8×8"

    window.breadcrumbs.buttons[1].click()
    assert window.document.level == Level((stage.id,))
    window.view.set_zoom(0.3)
    window.scene.open_block(res.id)
    qtbot.keyClick(window.view, Key.Key_Escape)
    assert window.view.zoom == pytest.approx(0.3)  # back where the level was looked at
    qtbot.keyClick(window.view, Key.Key_Escape)
    assert window.document.level == Level() and window.scene.selected_node_ids() == [stage.id]
    assert window.breadcrumbs.isHidden()
    qtbot.keyClick(window.view, Key.Key_Escape)  # at the network, Escape leaves the network as it is
    assert window.document.level == Level() and window.scene.shows(stage.id)
    assert window.document.undo_stack.count() == 0  # moving between levels is no edit


def test_a_problem_inside_a_block_leads_from_its_card_and_from_the_problems_list_to_the_layer(qtbot, make_window):
    graph, stage, res, conv2 = nested_blocks()
    window = make_window(Document(Project(graph=graph)))
    window.scene.select_nodes([stage.id])
    window.window_actions.open_block.trigger()
    window.scene.open_block(res.id)
    click_card(qtbot, window, conv2)
    filters = window.inspector.fields["filters"].widget
    filters.setValue(6)  # the add after it now gets 6 and 4 channels
    filters.editingFinished.emit()
    window.breadcrumbs.buttons[0].click()

    card = window.scene.node_item(stage.id)
    assert card.state == "error" and "inside block" in card.problems[0].message
    (button,) = card.card_buttons
    assert button.text == "Show the layer inside"
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton,
                     pos=window.view.mapFromScene(button.sceneBoundingRect().center()))
    qtbot.waitUntil(lambda: window.document.level == Level((stage.id, res.id)))
    add = window.document.level_graph.node_named("add1")
    assert window.scene.selected_node_ids() == [add.id]
    assert window.inspector.node_id == add.id and "needs inputs of one shape" in window.inspector.problem_messages[0]

    window.breadcrumbs.buttons[0].click()
    row = next(i for i, text in enumerate(window.problems.messages()) if "inside block" in text)
    window.problems.list.itemClicked.emit(window.problems.list.item(row))
    assert window.document.level == Level((stage.id, res.id)) and window.scene.selected_node_ids() == [add.id]


def test_a_block_card_unfolds_in_place_and_folds_again_without_an_undo_step(qtbot, make_window):
    graph, stage, res, conv2 = nested_blocks()
    window = make_window(Document(Project(graph=graph)))
    click_card(qtbot, window, stage)
    assert window.scene.unfolded_view(stage.id) is None
    qtbot.keyClick(window.view, Key.Key_Return, Modifier.ControlModifier | Modifier.ShiftModifier)
    unfolded = window.scene.unfolded_view(stage.id)
    assert unfolded is not None and unfolded.isVisible() and window.window_actions.unfold_block.isChecked()
    assert dict(unfolded.card_texts()) == {"flatten1": "256", "x1": "4×8×8", "out1": "256", "res": "4×8×8"}
    assert window.document.undo_stack.count() == 0

    window.scene.open_block(stage.id)  # an edit inside shows on the unfolded card once back
    window.scene.select_nodes([window.document.level_graph.node_named("flatten1").id])
    window.scene.delete_selected()
    window.breadcrumbs.buttons[0].click()
    unfolded = window.scene.unfolded_view(stage.id)
    assert sorted(name for name, _ in unfolded.card_texts()) == ["out1", "res", "x1"]

    qtbot.mouseDClick(window.view.viewport(), Qt.MouseButton.LeftButton,
                      pos=window.view.mapFromScene(unfolded.sceneBoundingRect().center()))
    assert window.document.level == Level((stage.id,))  # a double-click on the unfolded inside opens it
    window.breadcrumbs.buttons[0].click()
    window.scene.select_nodes([stage.id])
    window.window_actions.unfold_block.trigger()
    assert window.scene.unfolded_view(stage.id) is None and not window.window_actions.unfold_block.isChecked()
    assert not [item for item in window.scene.items() if isinstance(item, UnfoldedBlock)]
    assert window.document.undo_stack.count() == 1  # the deletion inside; unfolding and folding are views


def test_the_inspector_of_a_block_card_opens_it_and_edits_inside_reach_the_layer_there(qtbot, make_window):
    graph, stage, res, conv2 = nested_blocks()
    window = make_window(Document(Project(graph=graph)))
    click_card(qtbot, window, stage)
    opening = next(button for button in window.inspector.findChildren(QPushButton)
                   if button.text() == "Open Block to Edit Its Inside")
    qtbot.mouseClick(opening, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.document.level == Level((stage.id,)))
    flatten = window.document.level_graph.node_named("flatten1")
    click_card(qtbot, window, window.document.level_graph.nodes[res.id])
    assert window.inspector.node_id == res.id and window.inspector.info_labels["shape"].text() == "4×8×8"
    window.inspector.name_edit.setText("residual")
    window.inspector.name_edit.editingFinished.emit()
    assert window.document.level_graph.nodes[res.id].name == "residual" and flatten.name == "flatten1"
    assert window.breadcrumbs.texts() == ["Network", "stage"]
    assert window.document.undo_stack.undoText() == "Rename"


def test_the_summary_stays_on_the_network_and_a_row_chosen_there_goes_back_to_it(qtbot, make_window):
    graph, stage, res, conv2 = nested_blocks()
    window = make_window(Document(Project(graph=graph)))
    window.scene.open_block(stage.id)
    assert stage.id in window.summary.node_ids() and window.inspector.node_id is None
    window.summary.table.selectRow(window.summary.node_ids().index(stage.id))
    assert window.document.level == Level() and window.scene.selected_node_ids() == [stage.id]


LEVEL_EDITS = st.lists(st.sampled_from(["open", "up", "add", "delete", "group", "undo", "redo", "params"]),
                       max_size=16)


def level_edit(edit: str, scene, document, some) -> None:
    """One step of the property test below, made the way the window makes it."""
    shown = document.level_graph
    cards = [node_id for node_id, node in shown.nodes.items() if node.spec.category != "Blocks"
             or node.type_id == "block"]  # a block's ports are no cards to delete or group
    if edit == "open":
        scene.open_block(some([n for n, node in shown.nodes.items() if node.type_id == "block"]) or "")
    elif edit == "up":
        scene.leave_block()
    elif edit == "add":
        scene.add_layer(some(["relu", "dropout", "flatten"]), QPointF(some(range(50)) * 10, 300))
    elif edit in ("delete", "group") and cards:
        scene.select_nodes([some(cards)])
        (scene.delete_selected if edit == "delete" else scene.group_selected)()
    elif edit in ("undo", "redo"):
        getattr(document.undo_stack, edit)()
    elif edit == "params":
        weighted = [node for node in shown.nodes.values() if node.type_id in ("conv2d", "dense")]
        if weighted:
            node = some(weighted)
            document.edit(SetParams(node.id, {"bias": not node.params["bias"]}))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=LEVEL_EDITS, picks=st.lists(st.integers(0, 50), min_size=60, max_size=60))
def test_the_canvas_shows_the_level_it_is_at_through_any_edits_undos_and_moves_between_levels(qapp, edits, picks):
    graph, *_ = nested_blocks()
    document = Document(Project(graph=graph))
    scene = GraphScene(document)
    some = chooser(iter(picks))

    for edit in edits:
        level_edit(edit, scene, document, some)
        assert existing_level(graph, document.level) == document.level
        assert document.level_graph is graph_at(graph, document.level)
        assert {item.node_id for item in scene.items() if isinstance(item, NodeItem)} == set(document.level_graph.nodes)
        assert document.analysis.info.keys() == analyze(graph).info.keys()
        level_info = analysis_at(graph, document.analysis, document.level).info
        for edge in document.level_graph.edges:
            info = level_info.get(edge.source)
            assert scene.edge_item(edge).label == (format_shape(info.shape) if info else "")
