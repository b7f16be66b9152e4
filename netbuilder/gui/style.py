"""Colours and fonts shared by the GUI, so the canvas, the palette and the panels agree.

A flat dark theme: layer categories are told apart by the colour of a node's header (the
palette can use the same colours for its group markers); red means an error, amber a warning.
"""
from __future__ import annotations

from functools import lru_cache

from PySide6.QtGui import QColor, QFont

CANVAS_BACKGROUND = QColor("#1d1e21")
GRID_MINOR = QColor("#25272b")
GRID_MAJOR = QColor("#2e3035")

NODE_BODY = QColor("#2b2d32")
NODE_BORDER = QColor("#43464e")
SELECTION = QColor("#4da3ff")
TEXT_PRIMARY = QColor("#e8e9eb")
TEXT_SECONDARY = QColor("#a9adb5")
TEXT_DIM = QColor("#7d818a")
HEADER_TEXT = QColor("#ffffff")

ERROR = QColor("#e5484d")
ERROR_TINT = QColor("#3d2529")
WARNING = QColor("#f5a524")
WARNING_TINT = QColor("#3a3224")

EDGE = QColor("#7c818c")
LABEL_BACKGROUND = QColor("#33363c")
LABEL_TEXT = QColor("#d4d7dd")

PORT = QColor("#9aa0aa")
PORT_CONNECTED = QColor("#c9ced6")
PORT_COMPATIBLE = QColor("#3ecf8e")
PORT_REFUSED = QColor("#50535a")

CATEGORY_COLOURS: dict[str, QColor] = {
    "Input / Output": QColor("#5b63b7"),
    "Core": QColor("#8a4fb0"),
    "Convolution": QColor("#2f7fc1"),
    "Pooling": QColor("#19897e"),
    "Normalization": QColor("#b8722c"),
    "Activation": QColor("#3f8f4a"),
    "Recurrent": QColor("#b5466e"),
    "Merge": QColor("#5f6b78"),
    "Attention": QColor("#b8563b"),
}
_OTHER_CATEGORY = QColor("#5f6470")


def category_colour(category: str) -> QColor:
    """The header colour of a layer category; categories added later get a neutral grey."""
    return CATEGORY_COLOURS.get(category, _OTHER_CATEGORY)


@lru_cache(maxsize=None)
def ui_font(point_size: float, bold: bool = False) -> QFont:
    """The application's font at a given size; cached (treat it as read-only), so painting code can call it freely."""
    font = QFont()
    font.setPointSizeF(point_size)
    font.setBold(bold)
    return font
