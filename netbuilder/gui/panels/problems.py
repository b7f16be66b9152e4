"""The problems list: every error and warning of the network; clicking one shows its layer (inside
the blocks that hold it, for a problem inside a block), and a problem with a fix can be fixed with
one undoable click."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QPushButton, QStyle, QVBoxLayout, QWidget

from ...core.analysis import Problem
from ...core.fixes import fix_command
from ..document import Document

SEVERITY_ICONS = {"error": QStyle.StandardPixmap.SP_MessageBoxCritical,
                  "warning": QStyle.StandardPixmap.SP_MessageBoxWarning,
                  "hint": QStyle.StandardPixmap.SP_MessageBoxInformation}
SEVERITY_ORDER = ("error", "warning", "hint")
LOCATION_ROLE = Qt.ItemDataRole.UserRole
PROBLEM_ROLE = Qt.ItemDataRole.UserRole + 1


class ProblemsPanel(QWidget):
    """Errors first, then warnings, then hints, each with its icon; `location_clicked` leads to the
    layer of a clicked one (Problem.location: node ids from the network, through the block cards
    that hold it). The fix button applies the selected problem's fix (also on double-click)."""

    location_clicked = Signal(tuple)
    count_changed = Signal(int)

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.list = QListWidget(self)
        self.list.setWordWrap(True)
        self.list.setAlternatingRowColors(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list)
        self.fix_button = QPushButton("Fix", self)
        self.fix_button.setEnabled(False)
        self.fix_button.setToolTip("Select a problem that has a fix")
        self.fix_button.clicked.connect(self.apply_fix)
        layout.addWidget(self.fix_button)
        self.list.itemClicked.connect(self._open)
        self.list.itemActivated.connect(self._open)
        self.list.itemDoubleClicked.connect(self.apply_fix)
        self.list.currentItemChanged.connect(self._show_fix)
        document.analysis_changed.connect(self.refresh)
        self.refresh()

    def messages(self) -> list[str]:
        return [self.list.item(row).text() for row in range(self.list.count())]

    def refresh(self) -> None:
        problems = sorted(self.document.analysis.problems, key=lambda p: SEVERITY_ORDER.index(p.severity))
        self.list.clear()
        for problem in problems:
            item = QListWidgetItem(self._icon(problem), problem.message)
            item.setToolTip(problem.message)
            item.setData(LOCATION_ROLE, problem.location)
            item.setData(PROBLEM_ROLE, problem)
            self.list.addItem(item)
        if not problems:
            item = QListWidgetItem(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton),
                                   "No problems: every layer fits its inputs")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.list.addItem(item)
        self._show_fix(self.list.currentItem())
        self.count_changed.emit(len(problems))

    def selected_problem(self) -> Problem | None:
        item = self.list.currentItem()
        return item.data(PROBLEM_ROLE) if item is not None else None

    def apply_fix(self) -> None:
        """Apply the selected problem's fix as one undo step (the undo stack names it)."""
        problem = self.selected_problem()
        if problem is not None and problem.fix is not None:
            self.document.push(fix_command(self.document.graph, problem.fix))

    def _show_fix(self, item: QListWidgetItem | None) -> None:
        problem = item.data(PROBLEM_ROLE) if item is not None else None
        fix = problem.fix if problem is not None else None
        self.fix_button.setEnabled(fix is not None)
        self.fix_button.setText(f"Fix: {fix.title}" if fix else "Fix")
        self.fix_button.setToolTip("Apply this fix (undo with Ctrl+Z)" if fix else
                                   "Select a problem that has a fix")

    def _icon(self, problem: Problem):
        return self.style().standardIcon(SEVERITY_ICONS[problem.severity])

    def _open(self, item: QListWidgetItem) -> None:
        location = item.data(LOCATION_ROLE)
        if location:
            self.location_clicked.emit(tuple(location))


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    from ...core.project import Project

    app = QApplication([])
    project = Project()
    image = project.graph.add("input")
    dense = project.graph.add("dense")
    project.graph.chain(image, dense)
    panel = ProblemsPanel(Document(project))
    panel.resize(640, 240)
    panel.show()
    app.exec()
