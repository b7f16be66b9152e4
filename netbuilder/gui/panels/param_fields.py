"""A parameter's editing widget, typed from its `Param`: a spin box, a check box, a choice, a number or
a choice, or text. The inspector, the training settings and the run box all edit parameters this way.
"""
from __future__ import annotations

from typing import Any, Callable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox, QWidget

from ...core.layers import Param

_INT_LIMIT = 2**31 - 1  # QSpinBox holds a C int


class _WheelOnlyWhenFocused(QObject):
    """Scrolling a panel must not change the spin box or combo box under the mouse."""

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Wheel and not watched.hasFocus():
            event.ignore()
            return True
        return False


_wheel_guard = _WheelOnlyWhenFocused()


def _guard_wheel(widget: QWidget) -> QWidget:
    widget.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
    widget.installEventFilter(_wheel_guard)
    return widget


class ParamField:
    """One parameter's widget: `show` displays a value; the user's committed edits call `on_commit`
    with the raw value (a number, bool or text), which the caller checks against the Param."""

    def __init__(self, param: Param, widget: QWidget, on_commit: Callable[[Any], None]):
        self.param = param
        self.widget = widget
        self.on_commit = on_commit
        widget.setToolTip(param.help)

    def show(self, value: Any) -> None:
        self.widget.blockSignals(True)
        try:
            self._set(value)
        finally:
            self.widget.blockSignals(False)

    def _set(self, value: Any) -> None:
        raise NotImplementedError


class _SpinField(ParamField):
    """A spin box that commits on arrows, Enter or leaving it, not on every keystroke."""

    def __init__(self, param: Param, box: QSpinBox | QDoubleSpinBox, on_commit: Callable[[Any], None]):
        box.setKeyboardTracking(False)
        super().__init__(param, box, on_commit)
        box.valueChanged.connect(on_commit)
        box.editingFinished.connect(lambda: on_commit(box.value()))

    def _set(self, value: Any) -> None:
        self.widget.setValue(value)


class _IntField(_SpinField):
    def __init__(self, param: Param, on_commit: Callable[[Any], None]):
        box = _guard_wheel(QSpinBox())
        box.setRange(int(max(param.min, -_INT_LIMIT)) if param.min is not None else -_INT_LIMIT,
                     int(min(param.max, _INT_LIMIT)) if param.max is not None else _INT_LIMIT)
        box.setGroupSeparatorShown(True)
        box.setAccelerated(True)
        super().__init__(param, box, on_commit)


class _FloatSpinField(_SpinField):
    """A bounded fraction such as a dropout rate."""

    def __init__(self, param: Param, on_commit: Callable[[Any], None]):
        box = _guard_wheel(QDoubleSpinBox())
        box.setDecimals(4)
        box.setRange(param.min, param.max)
        box.setSingleStep(0.05 if param.max - param.min <= 1 else 0.1)
        super().__init__(param, box, on_commit)


class _TextField(ParamField):
    """Free text parsed on commit: shapes like 1×28×28 and floats of any magnitude such as eps 1e-5."""

    def __init__(self, param: Param, on_commit: Callable[[Any], None]):
        edit = QLineEdit()
        super().__init__(param, edit, on_commit)
        edit.editingFinished.connect(lambda: on_commit(self._parse(edit.text())))

    def _parse(self, text: str) -> Any:
        if self.param.kind is float:
            try:
                return float(text)
            except ValueError:
                return text  # Param.coerce refuses it with a message naming the parameter
        return text

    def _set(self, value: Any) -> None:
        self.widget.setText(self.param.show(value))


class _BoolField(ParamField):
    def __init__(self, param: Param, on_commit: Callable[[Any], None]):
        box = QCheckBox()
        super().__init__(param, box, on_commit)
        box.toggled.connect(on_commit)

    def _set(self, value: Any) -> None:
        self.widget.setChecked(value)


class _ChoiceField(ParamField):
    def __init__(self, param: Param, on_commit: Callable[[Any], None]):
        combo = _guard_wheel(QComboBox())
        combo.addItems(param.choices)
        super().__init__(param, combo, on_commit)
        combo.currentTextChanged.connect(on_commit)

    def _set(self, value: Any) -> None:
        self.widget.setCurrentText(value)


class _NumberOrChoiceField(ParamField):
    """An int that may also be a word, e.g. padding: valid, same or a number of pixels."""

    def __init__(self, param: Param, on_commit: Callable[[Any], None]):
        combo = _guard_wheel(QComboBox())
        combo.setEditable(True)
        combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        combo.addItems(param.choices)
        super().__init__(param, combo, on_commit)
        combo.lineEdit().setToolTip(param.help)
        combo.activated.connect(lambda _index: on_commit(combo.currentText()))
        combo.lineEdit().editingFinished.connect(lambda: on_commit(combo.currentText()))

    def _set(self, value: Any) -> None:
        self.widget.setEditText(str(value))


def make_param_field(param: Param, on_commit: Callable[[Any], None]) -> ParamField:
    """The widget that suits `param`: spin boxes within its limits, check box, combo box or text."""
    if param.kind is bool:
        return _BoolField(param, on_commit)
    if param.kind is int and param.choices:
        return _NumberOrChoiceField(param, on_commit)
    if param.choices:
        return _ChoiceField(param, on_commit)
    if param.kind is int:
        return _IntField(param, on_commit)
    if param.kind is float and param.min is not None and param.max is not None and (param.min == 0 or param.min >= 1e-3):
        return _FloatSpinField(param, on_commit)
    return _TextField(param, on_commit)
