"""The problems list: every error and warning of the network; clicking one shows its layer."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QStyle, QVBoxLayout, QWidget

from ...core.analysis import Problem
from ..document import Document

NODE_ROLE = Qt.ItemDataRole.UserRole


class ProblemsPanel(QWidget):
    """Errors first, then warnings, each with its icon; `node_clicked` names the layer of a clicked one."""

    node_clicked = Signal(str)
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
        self.list.itemClicked.connect(self._open)
        self.list.itemActivated.connect(self._open)
        document.analysis_changed.connect(self.refresh)
        self.refresh()

    def messages(self) -> list[str]:
        return [self.list.item(row).text() for row in range(self.list.count())]

    def refresh(self) -> None:
        problems = sorted(self.document.analysis.problems, key=lambda p: p.severity != "error")
        self.list.clear()
        for problem in problems:
            item = QListWidgetItem(self._icon(problem), problem.message)
            item.setToolTip(problem.message)
            item.setData(NODE_ROLE, problem.node_id)
            self.list.addItem(item)
        if not problems:
            item = QListWidgetItem(self.style().standardIcon(QStyle.StandardPixmap.SP_DialogApplyButton),
                                   "No problems: every layer fits its inputs")
            item.setFlags(Qt.ItemFlag.ItemIsEnabled)
            self.list.addItem(item)
        self.count_changed.emit(len(problems))

    def _icon(self, problem: Problem):
        pixmap = (QStyle.StandardPixmap.SP_MessageBoxCritical if problem.severity == "error"
                  else QStyle.StandardPixmap.SP_MessageBoxWarning)
        return self.style().standardIcon(pixmap)

    def _open(self, item: QListWidgetItem) -> None:
        node_id = item.data(NODE_ROLE)
        if node_id:
            self.node_clicked.emit(node_id)


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
