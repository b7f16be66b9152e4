"""Issue 23's acceptance, by mouse and keys as a user does it: the digits ResNet built from the
palette, its residual block grouped, repeated and used twice, opened and edited once so that
every card of the block changes, and every step undone back to the empty canvas."""
from __future__ import annotations

from PySide6.QtCore import QPointF, Qt

from netbuilder.core.levels import Level

from test_blocks_canvas import click_card
from test_editor import drag, header_of, input_of, output_of
from test_main_window import dialogs, drop_on_canvas, make_window, settings_dir  # noqa: F401 - the window's fixtures

Key, Modifier = Qt.Key, Qt.KeyboardModifier
ROW, GAP = 150.0, 200.0  # where the layers are dropped: two rows, GAP apart


def dropped(window, type_id: str, x: float, y: float):
    """Drag `type_id` from the palette onto the canvas at scene point (x, y); the new layer."""
    before = set(window.document.level_graph.nodes)
    drop_on_canvas(window, window.layer_palette.mime_data_for(type_id), window.view.mapFromScene(QPointF(x, y)))
    (new,) = set(window.document.level_graph.nodes) - before
    return window.document.level_graph.nodes[new]


def wire(qtbot, window, *nodes) -> None:
    for source, target in zip(nodes, nodes[1:]):
        drag(qtbot, window.view, output_of(window.scene, source), input_of(window.scene, target))


def set_field(window, name: str, value) -> None:
    """Type a value into the inspector's field for the selected layer and commit it."""
    widget = window.inspector.fields[name].widget
    if name == "padding":
        widget.setCurrentText(value)
        widget.lineEdit().editingFinished.emit()
    else:
        widget.setValue(value)
        widget.editingFinished.emit()


def card_texts(scene, *card_ids) -> list[tuple[str, str]]:
    """Each block card's block, repeat and output shape, and its parameter count."""
    return [(scene.node_item(card).summary_text(), scene.node_item(card).detail_lines()[1]) for card in card_ids]


def select(qtbot, window, *nodes) -> None:
    click_card(qtbot, window, nodes[0])
    for node in nodes[1:]:
        click_card(qtbot, window, node, Modifier.ControlModifier)


def test_the_digits_resnet_built_by_mouse_with_a_shared_residual_block_edited_once_and_undone(qtbot, make_window):
    window = make_window()
    window.resize(1400, 900)
    view, scene, document = window.view, window.scene, window.document
    view.set_zoom(0.55)
    view.centerOn(QPointF(3 * GAP, ROW / 2))

    # the layers, from the palette: a stem, a residual block's layers, the head
    source = dropped(window, "input", 0, 0)
    stem = dropped(window, "conv2d", GAP, 0)
    stem_relu = dropped(window, "relu", 2 * GAP, 0)
    conv_a, bn_a, relu_b = (dropped(window, type_id, (3 + i) * GAP, 0) for i, type_id in
                            enumerate(("conv2d", "batchnorm", "relu")))
    conv_b, bn_b, add = (dropped(window, type_id, (3 + i) * GAP, ROW) for i, type_id in
                         enumerate(("conv2d", "batchnorm", "add")))
    pool, dense, output = (dropped(window, type_id, (6 + i) * GAP, ROW) for i, type_id in
                           enumerate(("global_avg_pool", "dense", "output")))
    for conv in (stem, conv_a, conv_b):
        click_card(qtbot, window, conv)
        set_field(window, "filters", 16)
        set_field(window, "padding", "same")
    click_card(qtbot, window, dense)
    set_field(window, "units", 10)
    wire(qtbot, window, source, stem, stem_relu, conv_a, bn_a, relu_b, conv_b, bn_b, add, pool, dense, output)
    wire(qtbot, window, stem_relu, add)  # the skip connection
    assert document.analysis.ok
    flat_params = document.analysis.total_params
    per_block = 2 * (16 * 16 * 9 + 16) + 2 * 2 * 16  # two convolutions and two BatchNorms

    # group the residual block (Ctrl+G), repeat it twice, and use it again after itself
    select(qtbot, window, conv_a, bn_a, relu_b, conv_b, bn_b, add)
    qtbot.keyClick(view, Key.Key_G, Modifier.ControlModifier)
    (stage1,) = scene.selected_node_ids()
    set_field(window, "repeat", 2)
    qtbot.keyClick(view, Key.Key_D, Modifier.ControlModifier)  # duplicate: a second card of the same block
    (stage2,) = scene.selected_node_ids()
    set_field(window, "repeat", 1)  # the copy repeats once: cards of one block repeat as each says
    graph = document.graph
    assert graph.nodes[stage2].params["block"] == graph.nodes[stage1].params["block"] and len(graph.blocks) == 1
    # the wire stage1 -> pool: its end picked up and dropped on stage2, then stage2 wired on to the pool
    drag(qtbot, view, input_of(scene, pool), input_of(scene, graph.nodes[stage2]))
    wire(qtbot, window, graph.nodes[stage2], pool)
    assert document.analysis.ok, [p.message for p in document.analysis.problems]
    assert document.analysis.total_params == flat_params + 2 * per_block  # stage1 ×2, stage2 ×1: three blocks
    assert card_texts(scene, stage1, stage2) == [("block1 ×2 → 16×28×28", f"{2 * per_block:,} params"),
                                                  ("block1 → 16×28×28", f"{per_block:,} params")]

    # open it (double-click the second card): the block's inside, with its shapes
    qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton,
                      pos=view.mapFromScene(header_of(scene, graph.nodes[stage2])))
    assert document.level == Level((stage2,))
    assert window.breadcrumbs.isVisible() and window.breadcrumbs.texts() == ["Network", "block2 (block1)"]
    inside = document.level_graph
    conv = inside.node_named(conv_a.name)
    assert scene.edge_item(next(e for e in inside.edges if e.source == conv.id)).label == "16×28×28"

    # edit once: the first convolution's kernel, 3 -> 5; every card of the block follows
    click_card(qtbot, window, conv)
    set_field(window, "kernel_size", 5)
    per_block_now = per_block + 16 * 16 * (25 - 9)
    assert window.inspector.info_labels["params"].text() == f"{16 * 16 * 25 + 16:,}"
    qtbot.keyClick(view, Key.Key_Escape)  # back to the network, where both cards show the change
    assert document.level == Level() and not window.breadcrumbs.isVisible()
    assert card_texts(scene, stage1, stage2) == [("block1 ×2 → 16×28×28", f"{2 * per_block_now:,} params"),
                                                  ("block1 → 16×28×28", f"{per_block_now:,} params")]
    assert window.summary.row_texts(stage1)[3] == f"{2 * per_block_now:,}"
    assert window.summary.row_texts(stage2)[3] == f"{per_block_now:,}"

    # undo every step: the inside edit is undone where it was made, and the canvas ends empty
    qtbot.keyClick(view, Key.Key_Z, Modifier.ControlModifier)
    assert document.level == Level((stage2,)) and conv.params["kernel_size"] == 3  # undone inside the block
    assert window.breadcrumbs.isVisible()
    assert scene.shows(conv.id)
    while document.undo_stack.canUndo():
        qtbot.keyClick(view, Key.Key_Z, Modifier.ControlModifier)
    assert not graph.nodes and not graph.edges and not graph.blocks
    assert document.level == Level() and not window.breadcrumbs.isVisible()
    assert not [item for item in scene.items()]
