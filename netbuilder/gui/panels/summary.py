"""The model summary table, like Keras `model.summary()`: one row per layer in data-flow order."""
from __future__ import annotations

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QAbstractItemView, QHeaderView, QLabel, QStyle, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from ...core.layers import format_shape
from ...core import memory
from ...core.memory import activation_bytes
from ...common.text import byte_size
from ...core.summary import SummaryRow, human_count, keras_difference, memory_text, summary_tree
from .. import style
from ..document import Document

NODE_ROLE = Qt.ItemDataRole.UserRole  # a layer of the network (None for a layer inside a block)
PATH_ROLE = Qt.ItemDataRole.UserRole + 1  # the block cards a row's layer lies inside, then its id
COLUMNS = ("Layer", "Type", "Output shape", "Params", "FLOPs", "Activations")
_NUMERIC = (3, 4, 5)
_ACTIVATIONS = 5


def weights_size(params: int) -> str:
    """Memory taken by `params` float32 weights, e.g. '1.6 MB'."""
    return byte_size(params * 4)


class SummaryPanel(QWidget):
    """Layer, type, output shape, parameters, FLOPs and activation memory at the training batch
    size of every node, with a totals row.

    Selecting rows emits `nodes_selected` so the canvas can select the same layers.
    """

    nodes_selected = Signal(list)

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        header.setHighlightSections(False)
        for column in _NUMERIC:
            self.table.horizontalHeaderItem(column).setTextAlignment(
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.totals = QLabel(self)
        self.totals.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.memory = QLabel(self)  # what training needs, red when it does not fit
        self.memory.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.memory.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table)
        layout.addWidget(self.totals)
        layout.addWidget(self.memory)
        self.table.itemSelectionChanged.connect(self._report_selection)
        self.table.cellDoubleClicked.connect(lambda row, _column: self._toggle_row(row))
        self._unfolded: set[tuple[str, ...]] = set()  # the block rows showing the layers inside
        self._blocks: set[tuple[str, ...]] = set()  # the rows that have layers inside
        document.analysis_changed.connect(self.refresh)
        self.refresh()

    def node_ids(self) -> list[str]:
        """The node of each row of a layer of the network, top to bottom (rows of the layers inside
        an unfolded block and the totals row have none)."""
        ids = (self.table.item(row, 0).data(NODE_ROLE) for row in range(self.table.rowCount()))
        return [node_id for node_id in ids if node_id]

    def paths(self) -> list[tuple[str, ...]]:
        """Each layer row's path: the block cards it lies inside, then its node id."""
        paths = (self.table.item(row, 0).data(PATH_ROLE) for row in range(self.table.rowCount()))
        return [tuple(path) for path in paths if path]

    def row_texts(self, node_id: str) -> list[str]:
        return self.path_texts((node_id,))

    def path_texts(self, path: tuple[str, ...]) -> list[str]:
        row = self.paths().index(tuple(path))
        return [self.table.item(row, column).text() for column in range(len(COLUMNS))]

    def set_unfolded(self, path: tuple[str, ...], unfolded: bool) -> None:
        """Show (or hide) the rows of the layers inside the block row at `path`."""
        (self._unfolded.add if unfolded else self._unfolded.discard)(tuple(path))
        self.refresh()

    def _toggle_row(self, row: int) -> None:
        path = self.table.item(row, 0).data(PATH_ROLE)
        if path and tuple(path) in self._blocks:
            self.set_unfolded(tuple(path), tuple(path) not in self._unfolded)

    def _visible_rows(self, rows: list[SummaryRow]) -> list[SummaryRow]:
        """`rows` in order, each unfolded block's row followed by its layers' (at any depth)."""
        shown_rows, pending = [], list(reversed(rows))
        while pending:
            row = pending.pop()
            shown_rows.append(row)
            if row.path in self._unfolded:
                pending.extend(reversed(row.children))
        return shown_rows

    def refresh(self) -> None:
        graph, analysis = self.document.graph, self.document.analysis
        batch = self.document.project.training.batch_size
        self.table.horizontalHeaderItem(_ACTIVATIONS).setToolTip(
            f"Memory of each layer's output for a batch of {batch} (the training batch size): "
            "what training keeps for the backward pass")
        selected = set(self._selected_ids())
        tree = summary_tree(graph, analysis)
        self._blocks = {row.path for row in _all_rows(tree) if row.children}
        self._unfolded &= self._blocks
        rows = self._visible_rows(tree)
        self.table.blockSignals(True)
        self.table.setRowCount(len(rows) + 1)
        for index, row in enumerate(rows):
            self._set_row(index, row, analysis.problems_of(row.node.id) if row.depth == 0 else [], batch)
        self._set_totals_row(len(rows), len(graph.nodes))
        self.table.blockSignals(False)
        self.select_ids(selected & set(graph.nodes))
        uncounted = len(graph.nodes) - len(analysis.info)
        keras = keras_difference(graph, analysis)
        self.totals.setText(f"Total params: {analysis.total_params:,} ({weights_size(analysis.total_params)} "
                            f"of float32 weights) · {human_count(analysis.total_flops)} FLOPs per sample"
                            + (f" · {uncounted} layer{'s' * (uncounted != 1)} without a shape "
                               f"{'is' if uncounted == 1 else 'are'} not counted" if uncounted else "")
                            + (f" · Keras shows {keras[0]:,} params" if keras else ""))
        self.totals.setToolTip(f"Keras counts differently: {'; '.join(keras[1])}." if keras else "")
        self._show_memory()

    def _set_row(self, index: int, row: SummaryRow, problems: list, batch: int) -> None:
        """One layer's row: a block's shows its totals (all repetitions) and a fold marker, a layer
        inside a block is indented under it with one repetition's figures."""
        info = row.info
        marker = ("▾ " if row.path in self._unfolded else "▸ ") if row.children else ""
        cells = ["    " * row.depth + marker + row.node.name, row.kind,
                 ", ".join(map(format_shape, info.output_shapes)) if info else "—",
                 f"{info.params:,}" if info else "—",
                 human_count(info.flops) if info else "—",
                 byte_size(activation_bytes(info, batch)) if info else "—"]
        for column, text in enumerate(cells):
            item = self._item(text, column)
            item.setData(NODE_ROLE, row.node.id if row.depth == 0 else None)
            item.setData(PATH_ROLE, list(row.path))
            if problems:
                item.setToolTip("\n".join(p.message for p in problems))
            elif column in (3, 4) and info and row.children:
                item.setToolTip(_block_figures(row))
            elif column == 4 and info:
                item.setToolTip(f"{info.flops:,} floating-point operations per sample")
            elif column == _ACTIVATIONS and info:
                item.setToolTip(f"{activation_bytes(info, batch):,} bytes for a batch of {batch}")
            elif column == 0 and row.children:
                item.setToolTip("Double-click to " + ("hide" if row.path in self._unfolded else "show")
                                + " the layers inside (their figures are for one repetition)")
            if row.depth:
                item.setForeground(self.palette().placeholderText())
            self.table.setItem(index, column, item)
        if not info:
            self.table.item(index, 2).setIcon(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical))

    def _show_memory(self) -> None:
        """The memory training needs at the batch size, beside what is free (checked again when a
        run starts); hidden while the network has errors, whose figures would be partial."""
        project, analysis = self.document.project, self.document.analysis
        self.memory.setVisible(analysis.ok)
        if not analysis.ok:
            return
        text, fits = memory_text(project.graph, analysis, project.training, project.dataset,
                                  memory.available_memory())
        self.memory.setText(text)
        self.memory.setStyleSheet("" if fits else f"color: {style.ERROR.name()};")

    def _set_totals_row(self, row: int, layers: int) -> None:
        analysis = self.document.analysis
        batch = self.document.project.training.batch_size
        activations = sum(activation_bytes(info, batch) for info in analysis.info.values())
        cells = ["Total", f"{layers} layer{'s' * (layers != 1)}", "", f"{analysis.total_params:,}",
                 human_count(analysis.total_flops), byte_size(activations)]
        bold = QFont(self.font())
        bold.setBold(True)
        for column, text in enumerate(cells):
            item = self._item(text, column)
            item.setFont(bold)
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.table.setItem(row, column, item)

    @staticmethod
    def _item(text: str, column: int) -> QTableWidgetItem:
        item = QTableWidgetItem(text)
        if column in _NUMERIC:
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return item

    def select_ids(self, node_ids) -> None:
        """Mirror the canvas selection without echoing it back as a new selection."""
        wanted = set(node_ids)
        rows = [row for row in range(self.table.rowCount()) if self.table.item(row, 0).data(NODE_ROLE) in wanted]
        # One selection of row ranges, applied at once: selecting cell by cell updates the
        # selection model per cell, which took 3.5 s for a 1,500-layer paste.
        selection = QItemSelection()
        model, last_column = self.table.model(), len(COLUMNS) - 1
        for first, last in _runs(rows):
            selection.select(model.index(first, 0), model.index(last, last_column))
        self.table.blockSignals(True)
        self.table.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        self.table.blockSignals(False)

    def _selected_ids(self) -> list[str]:
        rows = sorted({index.row() for index in self.table.selectedIndexes()})
        ids = [self.table.item(row, 0).data(NODE_ROLE) for row in rows]
        return [node_id for node_id in ids if node_id]

    def _report_selection(self) -> None:
        self.nodes_selected.emit(self._selected_ids())


def _all_rows(rows: list[SummaryRow]) -> list[SummaryRow]:
    """Every row of a summary tree, at any depth."""
    found, pending = [], list(rows)
    while pending:
        row = pending.pop()
        found.append(row)
        pending.extend(row.children)
    return found


def _block_figures(row: SummaryRow) -> str:
    """A block row's totals as one repetition's figures times its repeat count."""
    repeat, info = row.repeat, row.info
    return (f"{info.params // repeat:,} params and {info.flops // repeat:,} FLOPs per repetition × {repeat}"
            if repeat > 1 else f"{info.params:,} params and {info.flops:,} FLOPs, the layers inside counted")


def _runs(rows: list[int]) -> list[tuple[int, int]]:
    """Sorted row numbers as (first, last) runs of consecutive rows."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and runs[-1][1] == row - 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    from ...core.project import load_template

    app = QApplication([])
    panel = SummaryPanel(Document(load_template("2-cnn")))
    panel.resize(640, 420)
    panel.show()
    app.exec()
