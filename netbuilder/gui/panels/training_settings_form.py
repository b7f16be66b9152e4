"""The training panel's settings form: the project's training settings as undoable edits."""
from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QFormLayout, QGroupBox, QLabel, QVBoxLayout, QWidget

from ...core.commands import SetTraining
from ...core.layers import ParamError
from ...core.settings import SCHEDULE_HELP, SETTING_LIMITS, unused_settings
from ...model.checkpoint_files import checkpoint_path
from .. import style
from ..document import Document
from .param_fields import ParamField, make_param_field

_ERROR_STYLE = f"color: {style.ERROR.name()};"
_START_FROM_WEIGHTS = "start_from_weights"
START_FROM_WEIGHTS_TEXT = "Start from the model's weights"
NO_WEIGHTS_TO_START_FROM = ("There are no model weights beside this project yet: train it (or import a model) first, "
                            "then later runs can start from its weights.")


class SettingsForm(QGroupBox):
    """One field per training setting, each with its refusal below it; the settings the chosen
    optimizer or the Output's task ignores are disabled, with why in their tooltip, and so is
    starting from the model's weights while there are none beside the project."""

    def __init__(self, document: Document, parent: QWidget | None = None):
        super().__init__("Training settings (saved in the project)", parent)
        self.document = document
        form = QFormLayout(self)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        self.fields: dict[str, ParamField] = {}
        self.errors: dict[str, QLabel] = {}
        for name, param in SETTING_LIMITS.items():
            field = make_param_field(param, lambda value, name=name: self.set_setting(name, value))
            error = QLabel()
            error.setWordWrap(True)
            error.setStyleSheet(_ERROR_STYLE)
            error.hide()
            holder = QWidget()
            holder_layout = QVBoxLayout(holder)
            holder_layout.setContentsMargins(0, 0, 0, 0)
            holder_layout.setSpacing(2)
            holder_layout.addWidget(field.widget)
            holder_layout.addWidget(error)
            if name == _START_FROM_WEIGHTS:  # a check box that says it all itself
                field.widget.setText(START_FROM_WEIGHTS_TEXT)
                form.addRow(holder)
            else:
                form.addRow(param.label, holder)
            self.fields[name] = field
            self.errors[name] = error

    def set_setting(self, name: str, raw: Any) -> None:
        """One edit of a training setting, pushed as an undoable project edit."""
        error = self.errors[name]
        try:
            value = SETTING_LIMITS[name].coerce(raw)
        except ParamError as refusal:
            error.setText(str(refusal))
            error.show()
            return
        error.hide()
        if value != getattr(self.document.project.training, name):
            self.document.push(SetTraining(self.document.project, {name: value}))

    def refresh(self) -> None:
        """Show the project's settings, the ones that do not apply disabled."""
        project = self.document.project
        training = project.training
        tasks = [node.params.get("task") for node in project.graph.nodes.values() if node.spec.is_sink]
        unused = unused_settings(training.optimizer, tasks[0] if tasks else None)
        if not self._has_weights():
            unused[_START_FROM_WEIGHTS] = NO_WEIGHTS_TO_START_FROM
        for name, field in self.fields.items():
            field.show(getattr(training, name))
            field.widget.setEnabled(name not in unused)
            field.widget.setToolTip(unused.get(name, SETTING_LIMITS[name].help or ""))
        self.fields["schedule"].widget.setToolTip(SCHEDULE_HELP[training.schedule])

    def _has_weights(self) -> bool:
        """Whether the project's model has weights beside its file for a run to start from."""
        path = self.document.path
        return path is not None and checkpoint_path(path).exists()
