"""Ctrl+Z from anywhere in the window: the project's undo, except while a text field holds text
the user typed and has not committed, where the field's own undo is what they mean.

A QLineEdit (a spin box's or an editable combo box's included) claims Ctrl+Z for itself whenever
it has focus, so with the cursor in an inspector field the window's Undo did nothing. A field's
"modified" flag says whether it holds uncommitted text: typing sets it, and the panels clear it
when they commit or show a value (`mark_committed`).
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication, QLineEdit, QWidget

_PROJECT_KEYS = (QKeySequence.StandardKey.Undo, QKeySequence.StandardKey.Redo)


def _line_edits(widget: QWidget) -> list[QLineEdit]:
    """The widget's text: itself, or the line edit inside a spin box or editable combo box."""
    return [widget] if isinstance(widget, QLineEdit) else widget.findChildren(QLineEdit)


def mark_committed(widget: QWidget) -> None:
    """The field's text is now what the project holds: Ctrl+Z there undoes the project again."""
    for edit in _line_edits(widget):
        edit.setModified(False)


def holds_uncommitted_text(widget: QWidget) -> bool:
    return any(edit.isModified() for edit in _line_edits(widget))


class ProjectUndoKeys(QObject):
    """When Undo or Redo is pressed in a text field of `window` that holds no uncommitted text,
    the field does not claim the key, so the window's action runs. It watches each widget of the
    window as it takes the focus (not the whole application: a Python filter there would be
    called for every event, the drawing canvas's included)."""

    def __init__(self, window: QWidget):
        super().__init__(window)
        self.window = window
        QApplication.instance().focusChanged.connect(self._focus_changed)

    def _focus_changed(self, _old: QWidget | None, now: QWidget | None) -> None:
        if now is not None and now.window() is self.window:
            now.installEventFilter(self)  # once: installing again only moves it to the front

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() != QEvent.Type.ShortcutOverride or not isinstance(watched, QWidget):
            return False
        if not any(event.matches(standard) for standard in _PROJECT_KEYS):
            return False
        if holds_uncommitted_text(watched):
            return False
        event.ignore()  # not overridden: the shortcut (the window's Undo or Redo) gets the key
        return True
