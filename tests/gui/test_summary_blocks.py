"""The Summary panel with blocks: a block is one row with its totals, unfolded by a double-click to
show the layers inside indented under it (one repetition's figures), and folded again."""
from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt

from netbuilder.core.block_commands import InsideBlock
from netbuilder.core.commands import SetParams
from netbuilder.core.project import Project
from netbuilder.gui.document import Document
from netbuilder.gui.panels.summary import SummaryPanel

from tests.core.test_block_files import nested_project
from tests.core.test_blocks import instance_of
from tests.core.test_summary import CONV, repeated_block


def panel_for(qtbot, graph) -> SummaryPanel:
    panel = SummaryPanel(Document(Project(graph=graph)))
    qtbot.addWidget(panel)
    panel.resize(900, 400)
    panel.show()
    return panel


def double_click_row(qtbot, panel, path):
    table = panel.table
    where = table.visualRect(table.model().index(panel.paths().index(path), 0)).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=where)  # as a real double-click starts
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=where)


def test_a_block_row_unfolds_to_its_layers_and_folds_again_by_double_click(qtbot):
    graph = repeated_block(3)
    block = instance_of(graph)
    panel = panel_for(qtbot, graph)
    rows_before = panel.table.rowCount()
    texts = panel.row_texts(block.id)
    assert texts[0] == "▸ res" and texts[1] == "Block res ×3" and texts[3] == f"{3 * 2 * CONV:,}"
    assert "per repetition × 3" in panel.table.item(panel.paths().index((block.id,)), 3).toolTip()

    double_click_row(qtbot, panel, (block.id,))

    assert panel.table.rowCount() == rows_before + 4
    inside = graph.blocks[block.params["block"]].graph
    conv = inside.node_named("conv1")
    assert panel.row_texts(block.id)[0] == "▾ res"
    assert panel.path_texts((block.id, conv.id))[:4] == ["    conv1", "Conv2d", "4×8×8", f"{CONV:,}"]
    assert panel.node_ids() == [node_id for node_id in panel.node_ids() if node_id in graph.nodes]  # top level only

    double_click_row(qtbot, panel, (block.id,))
    assert panel.table.rowCount() == rows_before


def test_an_unfolded_block_stays_unfolded_and_follows_an_edit_inside(qtbot):
    graph = repeated_block(2)
    block = instance_of(graph)
    panel = panel_for(qtbot, graph)
    panel.set_unfolded((block.id,), True)
    inside = graph.blocks[block.params["block"]]
    conv = inside.graph.node_named("conv1")
    panel.document.push(InsideBlock(inside.id, SetParams(conv.id, {"kernel_size": 1})))
    one_by_one = 4 * 4 + 4
    assert panel.path_texts((block.id, conv.id))[3] == f"{one_by_one:,}"
    assert panel.row_texts(block.id)[3] == f"{2 * (one_by_one + CONV):,}"
    panel.document.undo_stack.undo()
    assert panel.path_texts((block.id, conv.id))[3] == f"{CONV:,}"


def test_nested_blocks_unfold_one_level_at_a_time(qtbot):
    graph = nested_project()
    outer = instance_of(graph)
    panel = panel_for(qtbot, graph)
    panel.set_unfolded((outer.id,), True)
    inner = instance_of(graph.blocks[outer.params["block"]].graph)
    assert panel.path_texts((outer.id, inner.id))[0] == "    ▸ inner"
    panel.set_unfolded((outer.id, inner.id), True)
    conv = graph.blocks[inner.params["block"]].graph.node_named("conv1")
    assert panel.path_texts((outer.id, inner.id, conv.id))[0] == "        conv1"


def test_selecting_a_block_row_selects_its_card_and_a_row_inside_selects_nothing(qtbot):
    graph = repeated_block(2)
    block = instance_of(graph)
    panel = panel_for(qtbot, graph)
    panel.set_unfolded((block.id,), True)
    with qtbot.waitSignal(panel.nodes_selected) as selected:
        select_row(panel, (block.id,))
    assert selected.args == [[block.id]]
    conv = graph.blocks[block.params["block"]].graph.node_named("conv1")
    with qtbot.waitSignal(panel.nodes_selected) as selected:
        select_row(panel, (block.id, conv.id))
    assert selected.args == [[]]


def select_row(panel, path):
    """Select the row at `path` alone (through the selection model: `selectRow` would follow any
    keyboard modifier an earlier test left pressed)."""
    index = panel.table.model().index(panel.paths().index(path), 0)
    flags = QItemSelectionModel.SelectionFlag
    panel.table.selectionModel().select(index, flags.ClearAndSelect | flags.Rows)
