"""QUndoStack integration: each core command becomes one QUndoCommand."""
from __future__ import annotations

from PySide6.QtGui import QUndoCommand

from ..core.commands import Command
from ..core.graph import Graph


class CoreUndoCommand(QUndoCommand):
    """Wraps a core command that has already been done once (so errors surface before pushing)."""

    def __init__(self, command: Command, graph: Graph):
        super().__init__(command.text)
        self.command = command
        self.graph = graph
        self._done = True

    def redo(self) -> None:
        if self._done:  # QUndoStack.push calls redo(); the command already ran in Document.push
            self._done = False
            return
        self.command.do(self.graph)

    def undo(self) -> None:
        self.command.undo(self.graph)
