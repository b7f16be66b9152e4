"""The table of a project's kept runs: one row per run, sortable by any column; the name and note
edited in place, the star toggled with a click, and a tick per run to overlay its curves."""
from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem

from ...common.text import shown
from ...runs import RunInfo
from ...training.run_text import duration
from .. import style

RUN_ROLE = Qt.ItemDataRole.UserRole  # the run id, on every cell
SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # what the column sorts by, where it is not the text
COLUMNS = ("Show", "★", "Name", "When", "Dataset", "Epochs", "Best validation", "Time", "Samples/s",
           "Changes from the run before", "Note")
NOTE_WIDTH = 220  # pixels, at first: the changes take the rest
SHOW, STAR, NAME, WHEN, DATASET, EPOCHS, BEST, TIME, SPEED, CHANGES, NOTE = range(len(COLUMNS))
_EDITABLE = {NAME: "name", NOTE: "note"}
_NUMERIC = (EPOCHS, BEST, TIME, SPEED)
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable  # made once: a table of 200 runs has 2,200 cells
_COLUMN_FLAGS = {NAME: _FLAGS | Qt.ItemFlag.ItemIsEditable, NOTE: _FLAGS | Qt.ItemFlag.ItemIsEditable,
                 SHOW: _FLAGS | Qt.ItemFlag.ItemIsUserCheckable}
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


class _Cell(QTableWidgetItem):
    """A cell that sorts by its SORT_ROLE value when it has one (numbers, times), else by its text."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine, theirs = self.data(SORT_ROLE), other.data(SORT_ROLE)
        if mine is not None and theirs is not None:
            return mine < theirs
        return super().__lt__(other)


def best_text(run: RunInfo) -> tuple[str, float | None]:
    """The best validation figure as shown, and its sort key (higher sorts later: accuracy up, loss down)."""
    if run.best_val_accuracy is not None:
        return f"{100 * run.best_val_accuracy:.2f}%", run.best_val_accuracy
    if run.best_val_loss is not None:
        return f"loss {run.best_val_loss:.4g}", -run.best_val_loss
    return "—", None


def when_text(started: str) -> str:
    try:
        return datetime.fromisoformat(started).strftime("%d %b %H:%M:%S")
    except ValueError:
        return shown(started, 30)


class RunsTable(QTableWidget):
    """`edited(run id, "name" or "note", text)`, `star_clicked(run id)` and `ticks_changed()` say
    what the person did; the panel changes the runs and fills the table again."""

    edited = Signal(str, str, str)
    star_clicked = Signal(str)
    ticks_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(22)
        self.setShowGrid(False)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(CHANGES, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(NOTE, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(NOTE, NOTE_WIDTH)
        self.horizontalHeaderItem(STAR).setToolTip("Starred runs keep their weights when the others are pruned")
        self.horizontalHeaderItem(SHOW).setToolTip("Tick runs to draw their curves on the Training panel's plots")
        self._filling = False
        self.setSortingEnabled(True)
        self.sortByColumn(WHEN, Qt.SortOrder.DescendingOrder)  # newest first
        self.itemChanged.connect(self._item_changed)
        self.cellClicked.connect(self._cell_clicked)

    def fill(self, runs: tuple[RunInfo, ...], current: str | None, ticked: set[str]) -> None:
        """One row per run, sorted as the person last chose (newest first at the start); `current`:
        the run whose weights are the project's model; `ticked`: the runs overlaid."""
        self._filling = True
        self.setSortingEnabled(False)  # rows stay where they are put while they are filled
        self.setRowCount(len(runs))
        for row, run in enumerate(runs):
            best, best_key = best_text(run)
            speed = f"{run.samples_per_second:,.0f}" if run.samples_per_second is not None else "—"
            cells = {SHOW: ("", None), STAR: ("★" if run.starred else "☆", int(run.starred)),
                     NAME: (run.title, None), WHEN: (when_text(run.started), run.id), DATASET: (run.dataset, None),
                     EPOCHS: (str(run.epochs), run.epochs), BEST: (best, best_key),
                     TIME: (duration(run.seconds), run.seconds), SPEED: (speed, run.samples_per_second),
                     CHANGES: (run.changes, None), NOTE: (run.note, None)}
            for column, (text, key) in cells.items():
                cell = _Cell(text)
                cell.setData(RUN_ROLE, run.id)
                cell.setData(SORT_ROLE, key)
                if column == SHOW:
                    cell.setCheckState(Qt.CheckState.Checked if run.id in ticked else Qt.CheckState.Unchecked)
                cell.setFlags(_COLUMN_FLAGS.get(column, _FLAGS))
                if column in _NUMERIC:
                    cell.setTextAlignment(_RIGHT)
                self.setItem(row, column, cell)
            if run.starred:
                self.item(row, STAR).setForeground(style.WARNING)
            name = self.item(row, NAME)
            tooltip = [f"{run.id}: {run.ended or 'ended'}, {run.epochs} epochs"]
            if run.id == current:
                font = name.font()
                font.setBold(True)
                name.setFont(font)
                tooltip.append("Its weights are the project's model (predict, evaluate, export and the Draw panel "
                               "use them).")
            if not run.has_weights:
                tooltip.append("Its weights were pruned: its curves and network are kept.")
            name.setToolTip("\n".join(tooltip))
            if run.compared_with:
                self.item(row, CHANGES).setToolTip(f"{run.changes}\n(from run {run.compared_with})")
            self.item(row, NOTE).setToolTip(run.note)
        self.setSortingEnabled(True)
        self._filling = False

    def run_ids(self) -> list[str]:
        """The runs in the order shown, top to bottom."""
        return [self.item(row, NAME).data(RUN_ROLE) for row in range(self.rowCount())]

    def row_of(self, run_id: str) -> int:
        return self.run_ids().index(run_id)

    def selected_ids(self) -> list[str]:
        rows = sorted({index.row() for index in self.selectionModel().selectedRows()})
        return [self.item(row, NAME).data(RUN_ROLE) for row in rows]

    def select_runs(self, run_ids: list[str]) -> None:
        """Select the rows of `run_ids` (those still listed), and only those."""
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        self.clearSelection()
        shown_ids = self.run_ids()
        for run_id in run_ids:
            if run_id in shown_ids:
                self.selectionModel().select(self.model().index(shown_ids.index(run_id), NAME), flags)

    def ticked_ids(self) -> list[str]:
        return [self.item(row, SHOW).data(RUN_ROLE) for row in range(self.rowCount())
                if self.item(row, SHOW).checkState() == Qt.CheckState.Checked]

    def set_ticked(self, run_id: str, ticked: bool) -> None:
        self.item(self.row_of(run_id), SHOW).setCheckState(Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked)

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling:
            return
        if item.column() == SHOW:
            self.ticks_changed.emit()
        elif item.column() in _EDITABLE:
            self.edited.emit(item.data(RUN_ROLE), _EDITABLE[item.column()], item.text())

    def _cell_clicked(self, row: int, column: int) -> None:
        if column == STAR:
            self.star_clicked.emit(self.item(row, STAR).data(RUN_ROLE))
