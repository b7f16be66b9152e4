"""The table of a project's kept runs: one row per run, sortable by any column; the name and note
edited in place, the star toggled with a click, and a tick per run to overlay its curves.

A model (RunsModel) answers for the cells the view draws, from the RunInfo it holds, so filling
the table with 200 runs is one reset, not 2,200 cells made; sorting goes through a proxy model
by each column's sort key."""
from __future__ import annotations

from datetime import datetime

from PySide6.QtCore import (QAbstractTableModel, QItemSelection, QItemSelectionModel, QModelIndex,
                            QSortFilterProxyModel, Qt, Signal)
from PySide6.QtGui import QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from ...common.text import shown
from ...runs import RunInfo
from ...training.run_text import duration
from .. import style

RUN_ROLE = Qt.ItemDataRole.UserRole  # the run id, on every cell
SORT_ROLE = Qt.ItemDataRole.UserRole + 1  # what the column sorts by: numbers and times as such, else the text
COLUMNS = ("Show", "★", "Name", "When", "Dataset", "Epochs", "Best validation", "Time", "Samples/s",
           "Changes from the run before", "Note")
NOTE_WIDTH = 220  # pixels, at first: the changes take the rest
SIZE_FROM_ROWS = 40  # columns sized to their contents measure this many rows, not every run
SHOW, STAR, NAME, WHEN, DATASET, EPOCHS, BEST, TIME, SPEED, CHANGES, NOTE = range(len(COLUMNS))
_EDITABLE = {NAME: "name", NOTE: "note"}
_NUMERIC = (EPOCHS, BEST, TIME, SPEED)
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_COLUMN_FLAGS = {NAME: _FLAGS | Qt.ItemFlag.ItemIsEditable, NOTE: _FLAGS | Qt.ItemFlag.ItemIsEditable,
                 SHOW: _FLAGS | Qt.ItemFlag.ItemIsUserCheckable}
_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_HEADER_TIPS = {STAR: "Starred runs keep their weights when the others are pruned",
                SHOW: "Tick runs to draw their curves on the Training panel's plots"}
_LOWEST = float("-inf")  # the sort key of a figure a run does not have: below every figure


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


def _row(run: RunInfo) -> tuple[tuple[str, object], ...]:
    """Each column's text and sort key for one run."""
    best, best_key = best_text(run)
    speed = f"{run.samples_per_second:,.0f}" if run.samples_per_second is not None else "—"
    return (("", 0), ("★" if run.starred else "☆", int(run.starred)), (run.title, run.title.casefold()),
            (when_text(run.started), run.id), (run.dataset, run.dataset), (str(run.epochs), run.epochs),
            (best, _LOWEST if best_key is None else best_key), (duration(run.seconds), run.seconds),
            (speed, _LOWEST if run.samples_per_second is None else run.samples_per_second),
            (run.changes, run.changes), (run.note, run.note))


class RunsModel(QAbstractTableModel):
    """The runs as table cells. `edited` and `ticks_changed` as RunsTable's; an edit is not shown
    until the runs are filled again (a refused name keeps the old one)."""

    edited = Signal(str, str, str)
    ticks_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.runs: tuple[RunInfo, ...] = ()
        self.current: str | None = None
        self.ticked: set[str] = set()
        self._rows: list[tuple[tuple[str, object], ...] | None] = []  # made as cells are first asked for

    def fill(self, runs: tuple[RunInfo, ...], current: str | None, ticked: set[str]) -> None:
        self.beginResetModel()
        self.runs, self.current = tuple(runs), current
        self.ticked = {run.id for run in runs if run.id in ticked}
        self._rows = [None] * len(self.runs)
        self.endResetModel()

    def rowCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(self.runs)

    def columnCount(self, parent: QModelIndex | None = None) -> int:
        return 0 if parent is not None and parent.isValid() else len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal:
            if role == Qt.ItemDataRole.DisplayRole:
                return COLUMNS[section]
            if role == Qt.ItemDataRole.ToolTipRole:
                return _HEADER_TIPS.get(section)
        return None

    def flags(self, index: QModelIndex) -> Qt.ItemFlag:
        return _COLUMN_FLAGS.get(index.column(), _FLAGS)

    def _cells(self, row: int) -> tuple[tuple[str, object], ...]:
        if self._rows[row] is None:
            self._rows[row] = _row(self.runs[row])
        return self._rows[row]

    def data(self, index: QModelIndex, role=Qt.ItemDataRole.DisplayRole):
        row, column = index.row(), index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self._cells(row)[column][0]
        if role == SORT_ROLE:
            return self._cells(row)[column][1]
        if role == RUN_ROLE:
            return self.runs[row].id
        run = self.runs[row]
        if role == Qt.ItemDataRole.CheckStateRole and column == SHOW:
            return Qt.CheckState.Checked if run.id in self.ticked else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ForegroundRole and column == STAR and run.starred:
            return style.WARNING
        if role == Qt.ItemDataRole.FontRole and column == NAME and run.id == self.current:
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _NUMERIC:
            return _RIGHT
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(run, column)
        return None

    def _tooltip(self, run: RunInfo, column: int) -> str | None:
        if column == NAME:
            lines = [f"{run.id}: {run.ended or 'ended'}, {run.epochs} epochs"]
            if run.id == self.current:
                lines.append("Its weights are the project's model (predict, evaluate, export and the Draw panel "
                             "use them).")
            if not run.has_weights:
                lines.append("Its weights were pruned: its curves and network are kept.")
            return "\n".join(lines)
        if column == CHANGES and run.compared_with:
            return f"{run.changes}\n(from run {run.compared_with})"
        if column == NOTE:
            return run.note
        return None

    def setData(self, index: QModelIndex, value, role=Qt.ItemDataRole.EditRole) -> bool:
        run_id = self.runs[index.row()].id
        if role == Qt.ItemDataRole.CheckStateRole and index.column() == SHOW:
            ticked = Qt.CheckState(value) == Qt.CheckState.Checked
            if ticked == (run_id in self.ticked):
                return False
            (self.ticked.add if ticked else self.ticked.discard)(run_id)
            self.dataChanged.emit(index, index, [role])
            self.ticks_changed.emit()
            return True
        if role == Qt.ItemDataRole.EditRole and index.column() in _EDITABLE:
            self.edited.emit(run_id, _EDITABLE[index.column()], str(value))
        return False


class RunsTable(QTableView):
    """`edited(run id, "name" or "note", text)`, `star_clicked(run id)`, `ticks_changed()` and
    `selection_changed()` say what the person did; the panel changes the runs and fills the table again."""

    edited = Signal(str, str, str)
    star_clicked = Signal(str)
    ticks_changed = Signal()
    selection_changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.runs_model = RunsModel(self)
        self.sorted_model = QSortFilterProxyModel(self)
        self.sorted_model.setSourceModel(self.runs_model)
        self.sorted_model.setSortRole(SORT_ROLE)
        self.setModel(self.sorted_model)
        self.runs_model.edited.connect(self.edited)
        self.runs_model.ticks_changed.connect(self.ticks_changed)
        self.selectionModel().selectionChanged.connect(self.selection_changed)
        self.clicked.connect(self._clicked)
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
        header.setResizeContentsPrecision(SIZE_FROM_ROWS)
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(CHANGES, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(NOTE, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(NOTE, NOTE_WIDTH)
        self.setSortingEnabled(True)
        self.sortByColumn(WHEN, Qt.SortOrder.DescendingOrder)  # newest first

    def fill(self, runs: tuple[RunInfo, ...], current: str | None, ticked: set[str]) -> None:
        """One row per run, sorted as the person last chose (newest first at the start); `current`:
        the run whose weights are the project's model; `ticked`: the runs overlaid."""
        self.runs_model.fill(runs, current, ticked)

    def index_of(self, run_id: str, column: int) -> QModelIndex:
        """The cell of run `run_id` in `column`, where the view shows it."""
        return self.sorted_model.index(self.row_of(run_id), column)

    def run_ids(self) -> list[str]:
        """The runs in the order shown, top to bottom."""
        return [self.sorted_model.index(row, NAME).data(RUN_ROLE) for row in range(self.sorted_model.rowCount())]

    def row_of(self, run_id: str) -> int:
        return self.run_ids().index(run_id)

    def selected_ids(self) -> list[str]:
        rows = sorted({index.row() for index in self.selectionModel().selectedRows()})
        return [self.sorted_model.index(row, NAME).data(RUN_ROLE) for row in rows]

    def select_runs(self, run_ids: list[str]) -> None:
        """Select the rows of `run_ids` (those still listed), and only those."""
        shown_ids = self.run_ids()
        selection = QItemSelection()
        for run_id in run_ids:
            if run_id in shown_ids:
                row = shown_ids.index(run_id)
                selection.select(self.sorted_model.index(row, 0), self.sorted_model.index(row, len(COLUMNS) - 1))
        self.selectionModel().select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def ticked_ids(self) -> list[str]:
        """The ticked runs, in the order shown."""
        return [run_id for run_id in self.run_ids() if run_id in self.runs_model.ticked]

    def set_ticked(self, run_id: str, ticked: bool) -> None:
        self.sorted_model.setData(self.index_of(run_id, SHOW),
                                  Qt.CheckState.Checked if ticked else Qt.CheckState.Unchecked,
                                  Qt.ItemDataRole.CheckStateRole)

    def _clicked(self, index: QModelIndex) -> None:
        if index.column() == STAR:
            self.star_clicked.emit(index.data(RUN_ROLE))
