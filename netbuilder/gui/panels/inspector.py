"""The inspector: the selected layer's name, parameters (typed widgets from its spec), shape and costs;
for a block card also its block's name.

Every committed edit pushes one core command (Rename, RenameBlock or SetParams) on the document's undo stack;
a refused value keeps the widget as typed and shows the reason beside it.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QFormLayout, QFrame, QHBoxLayout, QLabel, QLineEdit, QPushButton, QScrollArea,
                               QVBoxLayout, QWidget)

from ...core.block_commands import RenameBlock
from ...core.blocks import INSTANCE
from ...core.commands import Rename, SetParams
from ...core.graph import GraphError
from ...core.levels import Level
from ...core.layers import ParamError, format_shape
from .. import style
from ..document import Document
from ..field_undo import mark_committed
from .param_fields import ParamField, make_param_field
from .problems import SEVERITY_ICONS
from ...core.summary import human_count

_ERROR_STYLE = f"color: {style.ERROR.name()};"


def _error_label() -> QLabel:
    label = QLabel()
    label.setTextFormat(Qt.TextFormat.PlainText)  # a refusal quotes what was typed: never markup
    label.setWordWrap(True)
    label.setStyleSheet(_ERROR_STYLE)
    label.hide()
    return label


def _heading(text: str) -> QLabel:
    label = QLabel(text)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


class InspectorPanel(QWidget):
    """Shows one layer; `show_selection(ids)` follows the canvas selection. For a block card, an
    "Open Block" button asks for its inside (`open_block_requested(node id)`)."""

    open_block_requested = Signal(str)

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document
        self.node_id: str | None = None
        self.problem_messages: list[str] = []
        self.fields: dict[str, ParamField] = {}
        self.errors: dict[str, QLabel] = {}
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(scroll)
        self._scroll = scroll
        document.analysis_changed.connect(self.refresh)
        document.project_replaced.connect(lambda: self.show_node(None))
        self.show_node(None)

    # --- what is shown --------------------------------------------------------------------------
    def show_selection(self, node_ids: list[str]) -> None:
        self.show_node(node_ids[0] if len(node_ids) == 1 else None, selected=len(node_ids))

    def show_node(self, node_id: str | None, selected: int = 0) -> None:
        if node_id is not None and node_id not in self.document.level_graph.nodes:
            node_id = None
        self.node_id = node_id
        self.fields, self.errors, self.problem_messages = {}, {}, []
        page = QWidget()
        self._page = QVBoxLayout(page)
        self._page.setContentsMargins(10, 8, 10, 8)
        if node_id is None:
            self._build_placeholder(selected)
        else:
            self._build_node_page()
        self._page.addStretch(1)
        self._scroll.setWidget(page)  # deletes the previous page and its widgets
        if node_id is not None:
            self.refresh()

    def _build_placeholder(self, selected: int) -> None:
        text = (f"{selected} layers selected: select one to edit it." if selected > 1 else
                "Select a layer on the canvas to see and edit its settings.\n\n"
                "Add layers by dragging them from the Layers panel or double-clicking them.")
        label = QLabel(text)
        label.setWordWrap(True)
        label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        label.setEnabled(False)
        self._page.addWidget(label)

    def _build_node_page(self) -> None:
        node = self.document.level_graph.nodes[self.node_id]
        spec = node.spec
        title = _heading(spec.title)
        font = title.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        title.setFont(font)
        description = QLabel(spec.description)
        description.setWordWrap(True)
        description.setEnabled(False)
        self._page.addWidget(title)
        self._page.addWidget(description)
        if node.type_id == INSTANCE:
            opening = QPushButton("Open Block to Edit Its Inside")
            opening.setToolTip("Every card of this block follows the edits (Ctrl+Enter, or double-click the card)")
            node_id = self.node_id
            opening.clicked.connect(lambda _checked=False: self.open_block_requested.emit(node_id))
            self._page.addWidget(opening)

        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.name_edit = QLineEdit()
        self.name_edit.setToolTip("Also the attribute name in exported PyTorch code")
        # edits are bound to this node: a widget finishing its edit while the page is being replaced
        # (focus leaving it as another layer is selected) must change the node it was showing
        place, name_edit = (self.document.level, self.node_id), self.name_edit
        name_edit.editingFinished.connect(lambda: self._commit_name(place, name_edit.text()))
        form.addRow("name", self._with_error("name", self.name_edit))
        self.block_edit: QLineEdit | None = None
        if node.type_id == INSTANCE:  # the block this card shows: renaming it renames every card's block
            self.block_edit = block_edit = QLineEdit()
            block_edit.setToolTip("The block's name, shared by every card of it (the class name in exported code)")
            block_edit.editingFinished.connect(lambda: self._commit_block_name(place, block_edit.text()))
            form.addRow("block", self._with_error("block", block_edit))
        for param in spec.params:
            field = make_param_field(param, lambda value, name=param.name: self._commit_param(place, name, value))
            self.fields[param.name] = field
            form.addRow(param.label, self._with_error(param.name, field.widget))
        self._page.addLayout(form)

        self._page.addWidget(_heading("Output"))
        info_form = QFormLayout()
        self.info_labels = {key: QLabel() for key in ("input", "shape", "params", "flops")}
        for key, label in self.info_labels.items():
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            info_form.addRow({"input": "input shape", "shape": "output shape", "params": "parameters",
                              "flops": "FLOPs"}[key], label)
        self._page.addLayout(info_form)

        self.problems_heading = _heading("Problems")
        self.problems_box = QVBoxLayout()
        self._page.addWidget(self.problems_heading)
        self._page.addLayout(self.problems_box)

    def _with_error(self, key: str, widget: QWidget) -> QWidget:
        holder = QWidget()
        column = QVBoxLayout(holder)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(widget)
        self.errors[key] = _error_label()
        column.addWidget(self.errors[key])
        return holder

    def refresh(self) -> None:
        """Show the node's current values, shape, costs and problems (after any edit, undo or redo)."""
        if self.node_id is None:
            return
        node = self.document.level_graph.nodes.get(self.node_id)
        if node is None:
            self.show_node(None)
            return
        self.name_edit.setText(node.name)
        if self.block_edit is not None:
            self.block_edit.setText(self.document.graph.blocks[node.params["block"]].name)
            mark_committed(self.block_edit)
        for name, field in self.fields.items():
            field.show(node.params[name])
            mark_committed(field.widget)
        for label in self.errors.values():
            label.hide()
        analysis, graph = self.document.level_analysis, self.document.level_graph
        info = analysis.info.get(self.node_id)
        upstream = [analysis.info[s].shape for s in graph.inputs_of(self.node_id) if s in analysis.info]
        self.info_labels["input"].setText(", ".join(format_shape(s) for s in upstream) or "—")
        self.info_labels["shape"].setText(format_shape(info.shape) if info else "— (see problems)")
        self.info_labels["params"].setText(f"{info.params:,}" if info else "—")
        self.info_labels["flops"].setText(f"{human_count(info.flops)} ({info.flops:,})" if info else "—")
        self._show_problems()

    def _show_problems(self) -> None:
        while self.problems_box.count():
            self.problems_box.takeAt(0).widget().deleteLater()
        problems = self.document.level_analysis.problems_of(self.node_id)
        self.problems_heading.setVisible(bool(problems))
        self.problem_messages = [p.message for p in problems]
        for problem in problems:
            badge = QLabel()
            badge.setPixmap(self.style().standardIcon(SEVERITY_ICONS[problem.severity]).pixmap(16, 16))
            badge.setAlignment(Qt.AlignmentFlag.AlignTop)
            message = QLabel(problem.message)
            message.setWordWrap(True)
            message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            row = QWidget()
            line = QHBoxLayout(row)
            line.setContentsMargins(0, 0, 0, 0)
            line.addWidget(badge)
            line.addWidget(message, 1)
            self.problems_box.addWidget(row)

    def error_text(self, key: str) -> str:
        """The refusal shown beside the name (key 'name') or a parameter's widget, '' when none."""
        label = self.errors[key]
        return label.text() if not label.isHidden() else ""

    # --- edits ------------------------------------------------------------------------------------
    # an edit is bound to the node whose page it was made on: its place is (level, node id)
    def _refuse(self, place: tuple[Level, str], key: str, reason: str) -> None:
        if place == (self.document.level, self.node_id):
            self.errors[key].setText(reason)
            self.errors[key].show()

    def _accept(self, place: tuple[Level, str], key: str) -> None:
        if place == (self.document.level, self.node_id):
            self.errors[key].hide()
            mark_committed({"name": self.name_edit, "block": self.block_edit}.get(key) or self.fields[key].widget)

    def _commit_name(self, place: tuple[Level, str], text: str) -> None:
        node = self.document.node_at(*place)
        name = text.strip()
        if node is None or name == node.name:
            self._accept(place, "name")
            return
        try:
            self.document.edit(Rename(place[1], name), place[0])
        except GraphError as error:
            self._refuse(place, "name", str(error))

    def _commit_block_name(self, place: tuple[Level, str], text: str) -> None:
        node = self.document.node_at(*place)
        if node is None or node.type_id != INSTANCE:
            return
        # the library is the network's, shared by every level: the rename is made there
        block_id, name = node.params["block"], text.strip()
        if name == self.document.graph.blocks[block_id].name:
            self._accept(place, "block")
            return
        try:
            self.document.push(RenameBlock(block_id, name))
        except GraphError as error:
            self._refuse(place, "block", str(error))

    def _commit_param(self, place: tuple[Level, str], name: str, raw: Any) -> None:
        node = self.document.node_at(*place)
        if node is None:
            return
        try:
            value = node.spec.param(name).coerce(raw)
        except ParamError as error:
            self._refuse(place, name, str(error))
            return
        if value == node.params[name]:
            self._accept(place, name)
            if place == (self.document.level, self.node_id):
                self.fields[name].show(value)  # e.g. '1x28x28' is shown as 1×28×28
            return
        try:
            self.document.edit(SetParams(place[1], {name: value}), place[0])
        except (ParamError, GraphError) as error:
            self._refuse(place, name, str(error))


if __name__ == "__main__":
    from PySide6.QtWidgets import QApplication

    from ...core.project import load_template

    app = QApplication([])
    document = Document(load_template("2-cnn"))
    panel = InspectorPanel(document)
    panel.show_node(next(n.id for n in document.graph.nodes.values() if n.type_id == "conv2d"))
    panel.resize(320, 640)
    panel.show()
    app.exec()
