"""The Runs panel: every training run kept beside the project, compared and put back to use.

A table of the runs (runs_table); ticked runs are overlaid on the Training panel's plots; two
selected runs are compared (runs_compare, with netbuilder.runs.diff_projects): what differs is listed and
marked on the canvas's cards. One selected run can become the project's model, or have its
network and settings restored onto the canvas as one undo step. The disk line says what the runs
take; runs can be deleted, and the weights of all but the starred and the last N pruned. The
panel presents and edits; the runs themselves are netbuilder.runs.RunStore's. When a project
opens, its runs are listed after the window is drawn and only once the panel is in view, so a
project with 200 runs opens as fast as one with 1 (bench/runs_panel.py).
"""
from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QLabel, QMessageBox, QPushButton, QSpinBox,
                               QSplitter, QVBoxLayout, QWidget)

from ...common.text import byte_size, shown
from ...core.project import Project
from ...core.restore import RestoreNetwork
from ...runs import DiskUsage, RunError, RunInfo, RunListing, RunStore
from ...training.run_text import graph_structure
from ..document import Document
from ..editor.diff_marks import DiffMarks
from .runs_compare import RunComparison
from .runs_table import RunsTable
from .training import TrainingPanel
from .training_overlays import RunOverlays
from .training_plots import RunCurves

DEFAULT_KEEP_LAST = 5
EDIT_RECHECK_MS = 250  # how soon a refresh asked for during an edit looks again
COMPARE_WIDTH = 380  # pixels at first: the list of what changed beside the table
_NO_FILE = "Save the project to keep its runs: each training run is kept beside the project file."


def _list_runs(store: RunStore) -> tuple[RunListing, DiskUsage | RunError]:
    """The runs and the space they take; a folder that cannot be read is one RunError."""
    try:
        return store.runs(), store.disk_usage()
    except RunError as error:
        return RunListing((), None, (str(error),)), error


def _disk_usage(store: RunStore) -> DiskUsage | RunError:
    try:
        return store.disk_usage()
    except RunError as error:
        return error


class RunsPanel(QWidget):
    """The runs of the document's project file (none until it has one). `training`: the Training
    panel, whose plots show the overlays and which says when a run was kept; `marks`: the canvas's
    marks of what changed."""

    def __init__(self, document: Document, training: TrainingPanel, marks: DiffMarks, parent: QWidget | None = None):
        super().__init__(parent)
        self.document, self.training = document, training
        self.store: RunStore | None = None
        self.listing = RunListing((), None)  # none while the project has no file
        self._networks: dict[str, Project] = {}  # run id -> its network (runs never change once kept)
        self._curves: dict[str, RunCurves] = {}
        self.unlisted = False  # the project's runs are not listed yet: they are once the panel is in view
        self.in_view = True  # until the window says otherwise (set_in_view)
        self.overlays = RunOverlays(training.plots)

        self.disk = QLabel()
        self.disk.setWordWrap(True)
        self.table = RunsTable()
        # queued: the table is filled again after an edit, which must not happen inside the editor's commit
        self.table.edited.connect(self._edited, Qt.ConnectionType.QueuedConnection)
        self.table.star_clicked.connect(self._toggle_star)
        self.table.ticks_changed.connect(self.show_overlays)
        self.table.selection_changed.connect(self._selection_changed)
        self.use_button = QPushButton("Use its weights")
        self.use_button.setToolTip("Make this run's weights the project's model: what predict, evaluate, export and "
                                   "the Draw panel use")
        self.use_button.clicked.connect(self.use_selected)
        self.restore_button = QPushButton("Restore its network")
        self.restore_button.setToolTip("Put this run's network and training settings on the canvas (one undo step)")
        self.restore_button.clicked.connect(self.restore_selected)
        self.delete_button = QPushButton("Delete…")
        self.delete_button.clicked.connect(self.delete_selected)
        self.keep_last = QSpinBox()
        self.keep_last.setRange(0, 1000)
        self.keep_last.setValue(DEFAULT_KEEP_LAST)
        self.keep_last.setPrefix("the last ")
        self.prune_button = QPushButton("Prune weights…")
        self.prune_button.setToolTip("Drop the weights of every run but the starred ones, the last N and the "
                                     "project's model; their curves and networks stay")
        self.prune_button.clicked.connect(self.prune)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.comparison = RunComparison(document, marks)
        self._lay_out()
        document.project_replaced.connect(self._project_replaced)
        document.file_state_changed.connect(self._file_state_changed)
        training.run_kept.connect(self.refresh)
        self._project_replaced()

    def _lay_out(self) -> None:
        """The table with the disk line above it and the buttons below; what changed at the right."""
        disk_row = QHBoxLayout()  # what the runs take, and freeing it
        disk_row.addWidget(self.disk, 1)
        disk_row.addWidget(QLabel("Keep weights of starred runs and"))
        disk_row.addWidget(self.keep_last)
        disk_row.addWidget(self.prune_button)
        buttons = QHBoxLayout()  # what to do with the selected runs
        for widget in (self.use_button, self.restore_button, self.delete_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        left = QWidget()
        left_column = QVBoxLayout(left)
        left_column.setContentsMargins(0, 0, 0, 0)
        left_column.addLayout(disk_row)
        left_column.addWidget(self.table, 1)
        left_column.addLayout(buttons)
        left_column.addWidget(self.message)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(self.comparison)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([3 * COMPARE_WIDTH, COMPARE_WIDTH])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(splitter)

    # --- the runs ---------------------------------------------------------------------------------
    def _project_replaced(self) -> None:
        self.store = None
        self._networks, self._curves = {}, {}
        self.overlays.clear()
        self.comparison.clear()
        self._file_state_changed()

    def _file_state_changed(self) -> None:
        path = self.document.path
        if self.store is None or path is None or self.store.project_path != path:
            self.store = RunStore(path) if path is not None else None
            if self.store is None:
                self.refresh()
                return
            # a project opens: its runs are listed once the window is drawn (paintEvent), and only
            # when the panel is in view, so a project with 200 runs opens as fast as one with 1
            self.unlisted = True
            self._show(RunListing((), None), None)
            self.update()

    def paintEvent(self, event) -> None:
        super().paintEvent(event)
        if self.unlisted and self.in_view:  # the window is drawn in one pass: list the runs once it is done
            QTimer.singleShot(0, self._list_if_in_view)

    def set_in_view(self, in_view: bool) -> None:
        """Whether the panel can be seen (the window says so as its dock's tab is chosen or left, or
        the dock shown or hidden); a project's runs not listed yet are listed when it comes in view."""
        self.in_view = in_view
        self._list_if_in_view()

    def _list_if_in_view(self) -> None:
        if self.unlisted and self.in_view:
            self.refresh()

    def refresh(self) -> None:
        """List the runs again (a run ended, or the runs changed here); while a name or note is being
        typed, once it is done (filling the table would drop the edit)."""
        if self._editing():
            return
        self.unlisted = False
        if self.store is None:
            self._show(RunListing((), None), None)
        else:
            self._show(*_list_runs(self.store))

    def _editing(self) -> bool:
        """Whether a name or note is being typed; if so, the runs are listed again once it is done."""
        if self.table.state() != QAbstractItemView.State.EditingState:
            return False
        QTimer.singleShot(EDIT_RECHECK_MS, self.refresh)
        return True

    def _show(self, listing: RunListing, usage: DiskUsage | RunError | None) -> None:
        """Show `listing` (`usage`: the space the runs take; None when not listed)."""
        ticked = set(self.table.ticked_ids())
        selected = self.table.selected_ids()
        self.listing = listing
        if self.store is None:
            self.disk.setText(_NO_FILE)
        elif usage is None or isinstance(usage, RunError):  # not listed yet, or the folder cannot be read
            self.disk.setText("")
        else:
            count = len(self.kept)
            self.disk.setText(f"{count} run{'s' * (count != 1)} kept in {shown(self.store.folder.name)}: "
                              f"{byte_size(usage.total)} ({byte_size(usage.weights)} of weights)")
        if self.listing.problems:
            self.message.setText("\n".join(self.listing.problems))
        self.table.blockSignals(True)
        self.table.fill(self.kept, self.listing.current, ticked)
        self.table.select_runs(selected)
        self.table.blockSignals(False)
        self.show_overlays()
        self._selection_changed()

    @property
    def kept(self) -> tuple[RunInfo, ...]:
        """The runs listed, oldest first."""
        return self.listing.runs

    def run(self, run_id: str) -> RunInfo:
        return next(run for run in self.kept if run.id == run_id)

    def network(self, run_id: str) -> Project:
        """A run's network as trained (read once: a kept run never changes). Raises RunError."""
        if run_id not in self._networks:
            self._networks[run_id] = self.store.network(self.run(run_id))
        return self._networks[run_id]

    # --- editing ----------------------------------------------------------------------------------
    def _edited(self, run_id: str, field: str, text: str) -> None:
        value = "" if field == "name" and text.strip() == run_id else text.strip() if field == "name" else text
        self._change(run_id, **{field: value})

    def _toggle_star(self, run_id: str) -> None:
        self._change(run_id, starred=not self.run(run_id).starred)

    def _change(self, run_id: str, **changes) -> None:
        """Change one run's name, note or star: its row is updated (no listing of every run)."""
        try:
            changed = self.store.update(self.run(run_id), **changes)
        except RunError as error:
            self.message.setText(str(error))
        except OSError as error:
            self.message.setText(f"The run could not be changed: {error.strerror or error}")
        else:
            self.message.clear()
            runs = tuple(changed if run.id == run_id else run for run in self.kept)
            self._show(replace(self.listing, runs=runs), _disk_usage(self.store))

    # --- overlays ---------------------------------------------------------------------------------
    def show_overlays(self) -> None:
        """Overlay the ticked runs on the Training panel's plots, oldest first."""
        ticked = set(self.table.ticked_ids())
        shown_runs = []
        for run in (run for run in self.kept if run.id in ticked):
            if run.id not in self._curves:
                try:
                    self._curves[run.id] = RunCurves.from_history(self.store.history(run))
                except RunError as error:
                    self.message.setText(str(error))
                    continue
            shown_runs.append((run.id, run.title, self._curves[run.id]))
        self.overlays.show(shown_runs)

    # --- comparing --------------------------------------------------------------------------------
    def _selection_changed(self) -> None:
        selected = self.table.selected_ids()
        one = len(selected) == 1
        self.use_button.setEnabled(one and self.run(selected[0]).has_weights)
        self.restore_button.setEnabled(one)
        self.delete_button.setEnabled(bool(selected))
        self.prune_button.setEnabled(bool(self.kept))
        if len(selected) == 2:
            order = [run.id for run in self.kept]
            self.compare(*sorted(selected, key=order.index))  # from the older to the newer
        else:
            self.comparison.clear()

    def compare(self, before_id: str, after_id: str) -> None:
        """Show what changed from run `before_id` to run `after_id`, here and on the canvas."""
        try:
            before, after = self.network(before_id), self.network(after_id)
        except RunError as error:
            self.message.setText(str(error))
            return
        self.comparison.show(before, after, self.run(before_id).title, self.run(after_id).title)

    # --- using ------------------------------------------------------------------------------------
    def _selected_run(self) -> RunInfo | None:
        selected = self.table.selected_ids()
        return self.run(selected[0]) if len(selected) == 1 else None

    def restore_selected(self) -> None:
        """Put the selected run's network and settings on the canvas, as one undo step."""
        run = self._selected_run()
        if run is None:
            return
        try:
            network = self.network(run.id)
        except RunError as error:
            self.message.setText(str(error))
            return
        command = RestoreNetwork(self.document.project, network)
        command.text = f"Restore run {run.title}"
        self.document.push(command)
        self.message.setText(f"Restored the network and settings of {shown(run.title)} (Edit > Undo puts back "
                             "what was there).")

    def use_selected(self) -> None:
        """Make the selected run's weights the project's model; when its network is not the one on
        the canvas, offer to restore it first (the weights fit only their own network)."""
        run = self._selected_run()
        if run is None:
            return
        try:
            differs = graph_structure(self.network(run.id)) != graph_structure(self.document.project)
        except RunError as error:
            self.message.setText(str(error))
            return
        if differs:
            if not self._asked("Use a run's weights",
                               f"The network on the canvas is not the one {shown(run.title)} trained, and its weights "
                               "fit only that one. Restore its network and settings onto the canvas too?",
                               default_yes=True):
                return
            self.restore_selected()
        try:
            trained = self.store.use(run, self.document.project)
        except RunError as error:
            self.message.setText(str(error))
            return
        except OSError as error:
            self.message.setText(f"The run's weights could not be used: {error.strerror or error}")
            return
        self.training.use_trained(trained)
        self.refresh()
        self.message.setText(f"The project's model is now {shown(run.title)}'s.")

    # --- disk -------------------------------------------------------------------------------------
    def delete_selected(self) -> None:
        runs = [self.run(run_id) for run_id in self.table.selected_ids()]
        if not runs:
            return
        usage = self.store.disk_usage().per_run
        size = byte_size(sum(usage.get(run.id, 0) for run in runs))
        names = ", ".join(shown(run.title, 40) for run in runs[:5]) + (" and more" if len(runs) > 5 else "")
        if not self._asked("Delete runs", f"Delete {len(runs)} run{'s' * (len(runs) != 1)} ({names}; {size})? "
                           "Their weights, curves and networks are removed for good."):
            return
        try:
            freed = self.store.delete(runs)
            told = f"Deleted {len(runs)} run{'s' * (len(runs) != 1)}: {byte_size(freed)} freed."
        except (RunError, OSError) as error:
            told = f"Not every run was deleted: {getattr(error, 'strerror', None) or error}"
        for run in runs:
            self._networks.pop(run.id, None)
            self._curves.pop(run.id, None)
        self.refresh()
        self.message.setText(told)

    def _asked(self, title: str, question: str, default_yes: bool = False) -> bool:
        """Yes or Cancel, asked in a dialog; Cancel is the default unless `default_yes`."""
        buttons = QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel
        default = QMessageBox.StandardButton.Yes if default_yes else QMessageBox.StandardButton.Cancel
        return QMessageBox.question(self, title, question, buttons, default) == QMessageBox.StandardButton.Yes

    def prune(self) -> None:
        keep = self.keep_last.value()
        if not self._asked("Prune weights", f"Drop the weights of every run but the starred ones, the last {keep} "
                           "and the project's model? Their curves, networks and settings stay; a pruned run cannot be "
                           "used as the model."):
            return
        try:
            told = f"Pruned the weights of the other runs: {byte_size(self.store.prune(keep))} freed."
        except OSError as error:
            told = f"The weights could not all be pruned: {error.strerror or error}"
        self.refresh()
        self.message.setText(told)
