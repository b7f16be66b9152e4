"""The open project as the GUI sees it: graph, undo stack, current analysis, file path."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from ..core.analysis import Analysis, analyze
from ..core.commands import Command
from ..core.project import Project
from ..data.builtin import known_class_count
from ..common.text import shown
from .undo import CoreUndoCommand


class Document(QObject):
    """Owns the Project being edited. Every edit goes through `push` so it can be undone.

    Views subscribe to `project.graph.listeners` for structural changes (the typed events of
    core/graph.py, one class per kind) and to `analysis_changed` for shapes, counts and problems,
    recomputed once per user action.
    """

    analysis_changed = Signal()
    project_replaced = Signal()  # a new or opened project: views rebuild everything
    file_state_changed = Signal()  # path or unsaved marker changed

    def __init__(self, project: Project | None = None, parent: QObject | None = None):
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self.undo_stack.indexChanged.connect(self._after_undo_or_redo)
        self.undo_stack.cleanChanged.connect(self.file_state_changed)
        self.project = project or Project()
        self.path: Path | None = None
        self.training_asked = False  # once the user asks to train, unfinished wiring is a warning
        self.analysis: Analysis = self._analyze()

    @property
    def graph(self):
        return self.project.graph

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    def push(self, command: Command) -> None:
        """Do `command` and make it undoable; GraphError/ParamError propagate and nothing is pushed."""
        command.do(self.graph)
        self._pushing = True
        try:
            self.undo_stack.push(CoreUndoCommand(command, self.graph))
        finally:
            self._pushing = False
        self.refresh()

    _pushing = False

    def _after_undo_or_redo(self) -> None:
        if not self._pushing:
            self.refresh()

    def refresh(self) -> None:
        self.analysis = self._analyze()
        self.analysis_changed.emit()

    def _analyze(self) -> Analysis:
        return analyze(self.graph, classes=known_class_count(self.project.dataset), training=self.training_asked)

    def ask_to_train(self) -> None:
        """The user asked to train: wiring left unfinished is now worth a warning and its fix."""
        if not self.training_asked:
            self.training_asked = True
            self.refresh()

    def replace_project(self, project: Project, path: Path | None = None) -> None:
        self.undo_stack.clear()
        self.project = project
        self.path = path
        self.training_asked = False
        self.analysis = self._analyze()
        self.project_replaced.emit()
        self.analysis_changed.emit()
        self.file_state_changed.emit()

    def mark_saved(self, path: Path) -> None:
        self.path = path
        self.undo_stack.setClean()
        self.file_state_changed.emit()

    @property
    def title(self) -> str:
        """The file's or project's name for the title bar and questions: printable and short,
        whatever a file named it (a bidi override or an escape sequence is shown as an escape)."""
        return shown(self.path.name if self.path else self.project.name or "Untitled")
