"""The node-graph editor, driven like a user drives it: mouse drags on the view, drops, keys."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QEvent, QMimeData, QPoint, QPointF, QRectF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QGraphicsSceneHelpEvent, QToolTip

from netbuilder.core.commands import SetParams
from netbuilder.core.graph import Edge, Graph
from netbuilder.core.layers import format_shape
from netbuilder.core.project import Project, load_template
from netbuilder.gui.document import Document
from netbuilder.gui.editor import LAYER_MIME_TYPE, GraphScene, GraphView
from netbuilder.gui.editor.node_item import NODE_HEIGHT, NODE_WIDTH


def make_editor(qtbot, graph: Graph):
    document = Document(Project(graph=graph))
    scene = GraphScene(document)
    view = GraphView(scene)
    qtbot.addWidget(view)
    view.resize(1000, 700)
    view.show()
    qtbot.waitExposed(view)
    view.zoom_to_fit()
    return document, scene, view


def drag(qtbot, view, start: QPointF, end: QPointF, during=None) -> None:
    """Press at scene point `start`, move in steps to `end`, release; `during()` runs before release."""
    viewport = view.viewport()
    a, b = view.mapFromScene(start), view.mapFromScene(end)
    qtbot.mousePress(viewport, Qt.MouseButton.LeftButton, pos=a)
    for fraction in (0.25, 0.5, 0.75, 1.0):
        qtbot.mouseMove(viewport, pos=QPoint(round(a.x() + (b.x() - a.x()) * fraction),
                                             round(a.y() + (b.y() - a.y()) * fraction)))
    if during is not None:
        during()
    qtbot.mouseRelease(viewport, Qt.MouseButton.LeftButton, pos=b)


def output_of(scene, node) -> QPointF:
    return scene.node_item(node.id).output_port.scenePos()


def input_of(scene, node) -> QPointF:
    return scene.node_item(node.id).input_port.scenePos()


def header_of(scene, node) -> QPointF:
    return scene.node_item(node.id).scenePos() + QPointF(NODE_WIDTH / 2, 10)


def conv_graph():
    """input 1×28×28 -> conv (32 filters, 3×3) and a loose ReLU, laid out in a row."""
    graph = Graph()
    source = graph.add("input", position=(0, 0))
    conv = graph.add("conv2d", position=(230, 0), filters=32, kernel_size=3)
    relu = graph.add("relu", position=(460, 0))
    graph.chain(source, conv)
    return graph, source, conv, relu


def test_dragging_from_an_output_port_to_an_input_port_connects_and_labels_the_shape(qtbot):
    graph, _, conv, relu = conv_graph()
    document, scene, view = make_editor(qtbot, graph)

    drag(qtbot, view, output_of(scene, conv), input_of(scene, relu))

    edge = Edge(conv.id, relu.id)
    assert edge in graph.edges
    assert scene.edge_item(edge).label == "32×26×26"
    assert document.undo_stack.count() == 1
    document.undo_stack.undo()
    assert edge not in graph.edges


def test_clicking_a_port_changes_nothing_and_says_nothing(qtbot):
    graph, source, conv, _ = conv_graph()
    document, scene, view = make_editor(qtbot, graph)
    messages = []
    scene.message.connect(messages.append)

    for port in (output_of(scene, conv), input_of(scene, conv)):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(port))

    assert graph.edges == [Edge(source.id, conv.id)]
    assert document.undo_stack.count() == 0 and messages == []
    assert scene.edge_item(Edge(source.id, conv.id)).isVisible()


def test_escape_cancels_a_wire_drag(qtbot):
    graph, source, conv, relu = conv_graph()
    document, scene, view = make_editor(qtbot, graph)
    view.setFocus()

    drag(qtbot, view, input_of(scene, conv), input_of(scene, relu),
         during=lambda: qtbot.keyClick(view, Qt.Key.Key_Escape))

    assert graph.edges == [Edge(source.id, conv.id)] and document.undo_stack.count() == 0
    assert scene.edge_item(Edge(source.id, conv.id)).isVisible()
    assert scene.node_item(relu.id).input_port.drop_state is None


def test_compatible_ports_are_highlighted_while_dragging_a_wire(qtbot):
    graph, source, conv, relu = conv_graph()
    _, scene, view = make_editor(qtbot, graph)
    states = {}

    def look():
        states["relu"] = scene.node_item(relu.id).input_port.drop_state
        states["conv"] = scene.node_item(conv.id).input_port.drop_state  # already fed by the input

    drag(qtbot, view, output_of(scene, source), input_of(scene, relu), during=look)

    assert states == {"relu": True, "conv": False}
    assert scene.node_item(relu.id).input_port.drop_state is None  # cleared after the drop


def merge_graph():
    """input -> relu1 -> add1 <- relu2 <- input; add1 -> relu3 (add1 takes any number of inputs)."""
    graph = Graph()
    source = graph.add("input", position=(0, 0), kind="vector", shape=(8,))
    left = graph.add("relu", position=(230, -80))
    right = graph.add("relu", position=(230, 80))
    merge = graph.add("add", position=(460, 0))
    after = graph.add("relu", position=(690, 0))
    graph.chain(source, left, merge, after)
    graph.chain(source, right, merge)
    return graph, source, merge, after


@pytest.mark.parametrize("case, reason", [("cycle", "cycle"), ("second input", "already has its input")])
def test_an_invalid_wire_is_refused_with_the_reason(qtbot, case, reason):
    graph, source, merge, after = merge_graph()
    document, scene, view = make_editor(qtbot, graph)
    edges_before = list(graph.edges)
    messages = []
    scene.message.connect(messages.append)
    start, end = (after, merge) if case == "cycle" else (source, after)

    drag(qtbot, view, output_of(scene, start), input_of(scene, end))

    assert graph.edges == edges_before
    assert document.undo_stack.count() == 0
    assert len(messages) == 1 and reason in messages[0]


def test_a_merge_node_accepts_another_input(qtbot):
    graph, source, merge, _ = merge_graph()
    _, scene, view = make_editor(qtbot, graph)
    extra = graph.add("relu", position=(230, 240))
    graph.chain(source, extra)

    drag(qtbot, view, output_of(scene, extra), input_of(scene, merge))

    assert graph.inputs_of(merge.id)[-1] == extra.id


def test_dragging_an_input_end_to_another_node_reconnects_in_one_undo_step(qtbot):
    graph, source, conv, relu = conv_graph()
    document, scene, view = make_editor(qtbot, graph)
    other_conv = graph.add("conv2d", position=(230, 200))

    drag(qtbot, view, input_of(scene, conv), input_of(scene, other_conv))

    assert graph.edges == [Edge(source.id, other_conv.id)]
    assert scene.edge_item(Edge(source.id, other_conv.id)).isVisible()
    assert document.undo_stack.count() == 1
    document.undo_stack.undo()
    assert graph.edges == [Edge(source.id, conv.id)]
    assert scene.edge_item(Edge(source.id, conv.id)).isVisible()


def test_dragging_an_input_end_onto_empty_canvas_disconnects(qtbot):
    graph, source, conv, _ = conv_graph()
    document, scene, view = make_editor(qtbot, graph)

    drag(qtbot, view, input_of(scene, conv), input_of(scene, conv) + QPointF(0, 150))

    assert graph.edges == []
    with pytest.raises(KeyError):
        scene.edge_item(Edge(source.id, conv.id))
    assert document.undo_stack.count() == 1


def test_moving_nodes_by_drag_is_one_undo_step(qtbot):
    graph, source, conv, relu = conv_graph()
    document, scene, view = make_editor(qtbot, graph)
    scene.select_nodes([source.id, conv.id])

    drag(qtbot, view, header_of(scene, conv), header_of(scene, conv) + QPointF(60, 100))

    assert document.undo_stack.count() == 1
    moved = {node_id: graph.nodes[node_id].position for node_id in (source.id, conv.id, relu.id)}
    assert moved[conv.id][1] - 0.0 == pytest.approx(100, abs=2)
    assert moved[source.id][1] == moved[conv.id][1]  # the selection moved together
    assert moved[relu.id] == (460.0, 0.0)
    edge_item = scene.edge_item(Edge(source.id, conv.id))
    assert edge_item.boundingRect().top() > 50  # the edge followed its nodes
    document.undo_stack.undo()
    assert graph.nodes[conv.id].position == (230.0, 0.0)
    assert scene.node_item(conv.id).pos() == QPointF(230, 0)


def test_clicking_without_moving_pushes_nothing(qtbot):
    graph, _, conv, _ = conv_graph()
    document, scene, view = make_editor(qtbot, graph)
    selections = []
    scene.selection_changed_ids.connect(selections.append)

    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=view.mapFromScene(header_of(scene, conv)))

    assert document.undo_stack.count() == 0
    assert scene.selected_node_ids() == [conv.id]
    assert selections[-1] == [conv.id]


def test_rubber_band_on_empty_canvas_selects_the_nodes_it_touches(qtbot):
    graph, source, conv, relu = conv_graph()
    _, scene, view = make_editor(qtbot, graph)

    drag(qtbot, view, QPointF(-30, -40), QPointF(300, NODE_HEIGHT + 40))

    assert set(scene.selected_node_ids()) == {source.id, conv.id}


def test_delete_removes_a_node_with_its_edges_and_one_undo_restores_both(qtbot):
    graph, source, conv, relu = conv_graph()
    graph.chain(conv, relu)
    document, scene, view = make_editor(qtbot, graph)
    scene.select_nodes([conv.id])
    view.setFocus()

    qtbot.keyClick(view, Qt.Key.Key_Delete)

    assert conv.id not in graph.nodes and graph.edges == []
    assert document.undo_stack.count() == 1
    document.undo_stack.undo()
    assert graph.edges == [Edge(source.id, conv.id), Edge(conv.id, relu.id)]
    assert scene.edge_item(Edge(conv.id, relu.id)).label == "32×26×26"
    assert scene.node_item(conv.id).isVisible()


def test_deleting_a_selected_edge_keeps_its_nodes(qtbot):
    graph, source, conv, _ = conv_graph()
    document, scene, _ = make_editor(qtbot, graph)
    scene.edge_item(Edge(source.id, conv.id)).setSelected(True)

    scene.delete_selected()

    assert graph.edges == [] and len(graph.nodes) == 3
    assert document.undo_stack.count() == 1


def test_paste_keeps_internal_edges_and_selects_the_copy(qtbot):
    graph, source, conv, relu = conv_graph()
    graph.chain(conv, relu)
    document, scene, _ = make_editor(qtbot, graph)
    scene.select_nodes([conv.id, relu.id])

    scene.paste(scene.copy_selected(), at=QPointF(500, 300))

    new_conv, new_relu = scene.selected_node_ids()
    assert {new_conv, new_relu}.isdisjoint({conv.id, relu.id})
    assert Edge(new_conv, new_relu) in graph.edges
    assert graph.inputs_of(new_conv) == []  # the edge from outside the copy is not copied
    assert graph.nodes[new_conv].position == (500.0, 300.0)
    assert document.undo_stack.count() == 1
    scene.duplicate_selected()
    assert len(graph.nodes) == 7


def test_labels_and_counts_follow_parameter_changes(qtbot):
    graph, _, conv, relu = conv_graph()
    graph.chain(conv, relu)
    document, scene, _ = make_editor(qtbot, graph)
    conv_item, edge_item = scene.node_item(conv.id), scene.edge_item(Edge(conv.id, relu.id))
    assert (edge_item.label, conv_item.footer_text) == ("32×26×26", "320 params")

    document.push(SetParams(conv.id, {"filters": 16}))

    assert (edge_item.label, conv_item.footer_text) == ("16×26×26", "160 params")
    document.undo_stack.undo()
    assert (edge_item.label, conv_item.footer_text) == ("32×26×26", "320 params")


def test_a_node_with_an_error_turns_red_with_the_problem_as_tooltip(qtbot):
    graph = Graph()
    source = graph.add("input", position=(0, 0))
    dense = graph.add("dense", position=(230, 0))
    graph.chain(source, dense)
    document, scene, _ = make_editor(qtbot, graph)
    item = scene.node_item(dense.id)

    assert item.state == "error"
    assert "Flatten" in item.tooltip_text()
    cause, remedy = item.detail_lines()  # the cause on the card, the remedy as a button under it
    assert cause.startswith("needs a flat input") and remedy == ""
    assert [button.fix.title for button in item.card_buttons] == ["Insert Flatten before it"]
    flatten = graph.add("flatten")
    graph.chain(source, flatten)
    document.refresh()
    assert scene.node_item(flatten.id).state == "hint"  # it feeds nothing yet: calm, and no "Delete it"
    assert scene.node_item(flatten.id).card_buttons == []
    document.ask_to_train()
    assert scene.node_item(flatten.id).state == "warning"
    assert [button.fix.title for button in scene.node_item(flatten.id).card_buttons] == ["Delete it"]


def drop(view, scene_pos: QPointF, data: QMimeData) -> tuple[QDragEnterEvent, QDropEvent]:
    """Deliver a drag entering the view and a drop at `scene_pos`, as a drag from the palette does."""
    pos = view.mapFromScene(scene_pos)
    enter = QDragEnterEvent(pos, Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), enter)
    dropped = QDropEvent(QPointF(pos), Qt.DropAction.CopyAction, data, Qt.MouseButton.LeftButton,
                         Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(view.viewport(), dropped)
    return enter, dropped


def test_dropping_a_palette_layer_adds_it_where_dropped(qtbot):
    graph, *_ = conv_graph()
    document, scene, view = make_editor(qtbot, graph)
    data = QMimeData()
    data.setData(LAYER_MIME_TYPE, "dense".encode("utf-8"))
    where = QPointF(300, 250)

    enter, dropped = drop(view, where, data)

    assert enter.isAccepted() and dropped.isAccepted()
    (added,) = [n for n in graph.nodes.values() if n.type_id == "dense"]
    assert scene.node_item(added.id).sceneBoundingRect().contains(where)
    assert scene.selected_node_ids() == [added.id]
    assert document.undo_stack.count() == 1


def test_file_drops_are_left_to_the_main_window(qtbot):
    graph, *_ = conv_graph()
    _, _, view = make_editor(qtbot, graph)
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile("/tmp/model.nbproj")])

    enter, dropped = drop(view, QPointF(0, 0), data)

    assert not enter.isAccepted() and not dropped.isAccepted()
    assert len(graph.nodes) == 3


def test_layers_added_at_the_centre_do_not_pile_up(qtbot):
    _, scene, view = make_editor(qtbot, Graph())

    first = view.add_layer_at_center("dense")
    second = view.add_layer_at_center("dense")

    assert scene.node_item(first).pos() != scene.node_item(second).pos()


def test_auto_layout_is_one_undo_step(qtbot):
    graph, source, merge, after = merge_graph()
    for node in graph.nodes.values():
        node.position = (0.0, 0.0)
    document, scene, _ = make_editor(qtbot, graph)

    scene.auto_layout()

    positions = [n.position for n in graph.nodes.values()]
    assert len(set(positions)) == len(positions)
    assert graph.nodes[after.id].position[0] > graph.nodes[merge.id].position[0] > graph.nodes[source.id].position[0]
    assert scene.node_item(after.id).pos().x() == graph.nodes[after.id].position[0]
    assert document.undo_stack.count() == 1
    document.undo_stack.undo()
    assert all(n.position == (0.0, 0.0) for n in graph.nodes.values())


def test_replacing_the_project_rebuilds_the_scene_and_forgets_the_old_graph(qtbot):
    graph, *_ = conv_graph()
    document, scene, _ = make_editor(qtbot, graph)

    template = load_template("5-residual-cnn")
    document.replace_project(template)

    assert set(scene.selected_node_ids()) == set()
    for node_id in template.graph.nodes:
        assert scene.node_item(node_id).scene() is scene
    for edge in template.graph.edges:
        assert scene.edge_item(edge).label == format_shape(document.analysis.info[edge.source].shape)
    assert graph.listeners == []
    graph.add("dense", name="ghost")  # an edit of the old graph must not reach the scene
    assert sum(1 for item in scene.items() if type(item).__name__ == "NodeItem") == len(template.graph.nodes)


def test_wheel_zoom_is_clamped(qtbot):
    graph, *_ = conv_graph()
    _, _, view = make_editor(qtbot, graph)
    centre = QPointF(view.viewport().rect().center())

    for direction in (1, -1):
        for _ in range(40):
            event = QWheelEvent(centre, view.viewport().mapToGlobal(centre), QPoint(), QPoint(0, 120 * direction),
                                Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase,
                                False)
            QApplication.sendEvent(view.viewport(), event)
        assert view.zoom == pytest.approx(4.0 if direction == 1 else 0.1)


def test_middle_button_drag_pans(qtbot):
    graph, *_ = conv_graph()
    _, _, view = make_editor(qtbot, graph)
    viewport = view.viewport()
    before = view.mapToScene(viewport.rect().center())

    qtbot.mousePress(viewport, Qt.MouseButton.MiddleButton, pos=QPoint(500, 350))
    qtbot.mouseMove(viewport, pos=QPoint(400, 300))
    qtbot.mouseRelease(viewport, Qt.MouseButton.MiddleButton, pos=QPoint(400, 300))

    after = view.mapToScene(viewport.rect().center())
    assert after.x() > before.x() and after.y() > before.y()


# --- the scene mirrors the graph through any sequence of edits, undos and redos ------------------

def chooser(numbers):
    """Picks one of some items by the next of hypothesis's numbers, or None when there are none."""
    def some(items):
        items = list(items)
        return items[next(numbers) % len(items)] if items else None
    return some


EDITS = st.lists(st.sampled_from(["add", "connect", "delete", "undo", "redo", "params", "paste"]), max_size=14)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=EDITS, picks=st.lists(st.integers(0, 50), min_size=30, max_size=30))
def test_scene_mirrors_the_graph_after_any_edits(qapp, edits, picks):
    graph, *_ = conv_graph()
    document = Document(Project(graph=graph))
    scene = GraphScene(document)
    pick = iter(picks)
    some = chooser(pick)

    for edit in edits:
        ids = list(graph.nodes)
        if edit == "add":
            scene.add_layer(some(["relu", "dense", "flatten", "add"]), QPointF(next(pick) * 10, 0))
        elif edit == "connect" and ids:
            source, target = some(ids), some(ids)
            if graph.connection_problem(source, target) is None:
                scene.begin_wire(scene.node_item(source).output_port)
                scene.end_wire(scene.node_item(target).input_port.scenePos())
        elif edit == "delete" and ids:
            scene.select_nodes([some(ids)])
            scene.delete_selected()
        elif edit == "undo":
            document.undo_stack.undo()
        elif edit == "redo":
            document.undo_stack.redo()
        elif edit == "params":
            convs = [n for n in graph.nodes.values() if n.type_id == "conv2d"]
            if convs:
                document.push(SetParams(convs[0].id, {"filters": 1 + next(pick)}))
        elif edit == "paste" and ids:
            scene.select_nodes([some(ids)])
            scene.duplicate_selected()

    for node_id, node in graph.nodes.items():
        assert scene.node_item(node_id).pos() == QPointF(*node.position)
    for edge in graph.edges:
        info = document.analysis.info.get(edge.source)
        assert scene.edge_item(edge).label == (format_shape(info.shape) if info else "")
    node_items = [i for i in scene.items() if type(i).__name__ == "NodeItem"]
    edge_items = [i for i in scene.items() if type(i).__name__ == "EdgeItem"]
    assert len(node_items) == len(graph.nodes) and len(edge_items) == len(graph.edges)


def test_space_and_left_drag_pans_instead_of_selecting(qtbot):
    graph, *_ = conv_graph()
    _, scene, view = make_editor(qtbot, graph)
    view.setFocus()
    before = view.mapToScene(view.viewport().rect().center())

    qtbot.keyPress(view, Qt.Key.Key_Space)
    drag(qtbot, view, view.mapToScene(QPoint(900, 600)), view.mapToScene(QPoint(800, 500)))
    qtbot.keyRelease(view, Qt.Key.Key_Space)

    after = view.mapToScene(view.viewport().rect().center())
    assert after.x() > before.x() and after.y() > before.y()
    assert scene.selected_node_ids() == []


def test_zoom_to_fit_shows_every_node_at_most_at_natural_size(qtbot):
    graph, *_ = conv_graph()
    far = graph.add("dense", position=(3000, 1500))
    _, scene, view = make_editor(qtbot, graph)

    view.zoom_to_fit()

    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert all(visible.contains(scene.node_item(n).sceneBoundingRect()) for n in graph.nodes)
    graph_small, *_ = conv_graph()
    _, _, small_view = make_editor(qtbot, graph_small)
    assert small_view.zoom == pytest.approx(1.0)


def test_node_tooltip_shows_shapes_counts_and_problems(qtbot):
    graph, _, conv, _ = conv_graph()
    document, scene, view = make_editor(qtbot, graph)
    event = QGraphicsSceneHelpEvent(QEvent.Type.GraphicsSceneHelp)
    event.setScenePos(header_of(scene, conv))
    event.setScreenPos(view.viewport().mapToGlobal(view.mapFromScene(header_of(scene, conv))))

    QApplication.sendEvent(scene, event)

    flops = document.analysis.info[conv.id].flops
    assert QToolTip.text() == (f'Conv2d "conv1"\n1×28×28 → 32×26×26\n320 params, {flops:,} FLOPs\n'
                               '· Conv2d "conv1" is not connected onward yet: connect its output to a later layer')


def test_wire_tooltip_shows_the_shape_and_the_arithmetic_behind_it(qtbot):
    graph, _, conv, relu = conv_graph()
    graph.chain(conv, relu)
    _, scene, view = make_editor(qtbot, graph)
    middle = scene.edge_item(Edge(conv.id, relu.id)).sceneBoundingRect().center()
    event = QGraphicsSceneHelpEvent(QEvent.Type.GraphicsSceneHelp)
    event.setScenePos(middle)
    event.setScreenPos(view.viewport().mapToGlobal(view.mapFromScene(middle)))

    QApplication.sendEvent(scene, event)

    assert QToolTip.text() == "32×26×26 per sample\nheight: (28 − 3)/1 + 1 = 26\nwidth: (28 − 3)/1 + 1 = 26"


def test_wires_of_a_wrapped_layout_stay_clear_of_other_layers_and_near_the_graph(qtbot):
    graph = load_template("2-cnn").graph  # laid out in bands: two wires run back to the left
    _, scene, _ = make_editor(qtbot, graph)
    cards = {n: scene.node_item(n).sceneBoundingRect() for n in graph.nodes}
    graph_area = QRectF()
    for card in cards.values():
        graph_area = graph_area.united(card)
    margin = NODE_WIDTH / 2

    for edge in graph.edges:
        curve = scene.edge_item(edge).curve
        points = [curve.pointAtPercent(i / 200) for i in range(201)]
        others = [card for n, card in cards.items() if n not in (edge.source, edge.target)]
        assert not any(card.contains(p) for card in others for p in points), edge
        near = graph_area.adjusted(-margin, -margin, margin, margin)
        assert all(near.contains(p) for p in points), edge
