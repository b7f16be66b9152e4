"""The open project as the GUI sees it: graph, undo stack, current analysis, file path."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from ..core.analysis import Analysis, analyze
from ..core.commands import Command
from ..core.graph import Graph, Node
from ..core.levels import Level, analysis_at, command_at, existing_level, graph_at
from ..core.project import Project
from ..data.builtin import known_class_count
from ..common.text import shown
from .undo import CoreUndoCommand


class Document(QObject):
    """Owns the Project being edited. Every edit goes through `push` so it can be undone.

    Views subscribe to `project.graph.listeners` for structural changes (the typed events of
    core/graph.py, one class per kind) and to `analysis_changed` for shapes, counts and problems,
    recomputed once per user action.

    The editor shows one `level`: the network, or the inside of a block entered through a card
    (core/levels.py). `level_graph` and `level_analysis` are what it shows, `edit` pushes a command
    made there; `level_changed` says the editor moved to another level (opened, left, or an undo
    took it to the level its edit was made at).
    """

    analysis_changed = Signal()
    level_changed = Signal()
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
        self.level = Level()
        self.analysis: Analysis = self._analyze()
        self.level_analysis: Analysis = self.analysis

    @property
    def graph(self):
        return self.project.graph

    @property
    def modified(self) -> bool:
        return not self.undo_stack.isClean()

    @property
    def level_graph(self) -> Graph:
        return graph_at(self.graph, self.level)

    def push(self, command: Command) -> None:
        """Do `command` and make it undoable; GraphError/ParamError propagate and nothing is pushed."""
        command.do(self.graph)
        self._pushing = True
        try:
            self.undo_stack.push(CoreUndoCommand(command, self.graph, self.level, self._undo_ran_at))
        finally:
            self._pushing = False
        self.refresh()

    def edit(self, command: Command, level: Level | None = None) -> None:
        """Push `command`, made on the graph of `level` (by default the one shown): inside a block
        it edits the block, so every card sharing it follows (one undo step)."""
        self.push(command_at(self.graph, self.level if level is None else level, command))

    def node_at(self, level: Level, node_id: str) -> Node | None:
        """Node `node_id` of the graph `level` shows, while that level exists (a panel's edit
        finishing after the editor moved elsewhere still reaches the node it was made for)."""
        if existing_level(self.graph, level) != level:
            return None
        return graph_at(self.graph, level).nodes.get(node_id)

    def open_level(self, level: Level) -> None:
        """Show `level` (or the deepest level above it that exists) in the editor."""
        level = existing_level(self.graph, level)
        if level != self.level:
            self.level = level
            self.level_analysis = analysis_at(self.graph, self.analysis, level)
            self.level_changed.emit()

    _pushing = False

    def _undo_ran_at(self, level: Level) -> None:
        """An undo or redo of an edit made at `level`: the editor shows that level again (once the
        edit is undone or redone, where it still exists then)."""
        self._undone_at = level

    _undone_at: Level | None = None

    def _after_undo_or_redo(self) -> None:
        if not self._pushing:
            self.refresh()

    def refresh(self) -> None:
        self.analysis = self._analyze()
        level = existing_level(self.graph, self._undone_at or self.level)
        self._undone_at = None
        moved, self.level = level != self.level, level
        self.level_analysis = analysis_at(self.graph, self.analysis, level)
        if moved:
            self.level_changed.emit()
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
        self.level = Level()
        self.analysis = self.level_analysis = self._analyze()
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
