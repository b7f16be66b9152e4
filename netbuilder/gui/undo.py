"""QUndoStack integration: each core command becomes one QUndoCommand."""
from __future__ import annotations

from typing import Callable

from PySide6.QtGui import QUndoCommand

from ..core.commands import Command
from ..core.graph import Graph
from ..core.levels import Level


class CoreUndoCommand(QUndoCommand):
    """Wraps a core command that has already been done once (so errors surface before pushing);
    `level` is where the editor was when it was made: undo and redo tell `ran(level)` first, so
    the editor can show it again."""

    def __init__(self, command: Command, graph: Graph, level: Level, ran: Callable[[Level], None]):
        super().__init__(command.text)
        self.command = command
        self.graph = graph
        self.level = level
        self._ran = ran
        self._done = True

    def redo(self) -> None:
        if self._done:  # QUndoStack.push calls redo(); the command already ran in Document.push
            self._done = False
            return
        self._ran(self.level)
        self.command.do(self.graph)

    def undo(self) -> None:
        self._ran(self.level)
        self.command.undo(self.graph)
