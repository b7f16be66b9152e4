"""The main window's actions, menus and toolbar. Each action calls one MainWindow method."""
from __future__ import annotations

from importlib import resources
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QIcon, QKeySequence
from PySide6.QtWidgets import QToolBar

from ..core.project import load_template, template_names
from ..export.formats import EXPORT_FORMATS

if TYPE_CHECKING:
    from .main_window import MainWindow

Shortcut = QKeySequence.StandardKey | str


def _icon(name: str) -> QIcon:
    """Our own icons (resources/icons), drawn for the dark theme: desktop icon themes are missing
    on Windows and macOS and mix styles on Linux."""
    return QIcon(str(resources.files("netbuilder.resources") / "icons" / f"{name}.svg"))


def _action(window: "MainWindow", text: str, slot: Callable[[], object], shortcuts: tuple[Shortcut, ...] = (),
            tip: str = "", icon: str = "") -> QAction:
    action = QAction(text, window)
    keys: list[QKeySequence] = []
    for shortcut in shortcuts:
        keys += QKeySequence.keyBindings(shortcut) if isinstance(shortcut, QKeySequence.StandardKey) else [QKeySequence(shortcut)]
    action.setShortcuts(list(dict.fromkeys(keys)))
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(f"{tip} ({keys[0].toString(QKeySequence.SequenceFormat.NativeText)})" if keys else tip)
    if icon:
        action.setIcon(_icon(icon))
    action.triggered.connect(lambda _checked=False: slot())
    return action


IMPORT_TIP = "Open a PyTorch model (.py, .pt2) or an ONNX file as a project with its weights"


class WindowActions:
    """Every command of the window, as attributes, so menus, toolbar and tests share them."""

    def __init__(self, window: "MainWindow"):
        std = QKeySequence.StandardKey
        self.new = _action(window, "&New", window.new_project, (std.New,), "Start an empty network", "new")
        self.open = _action(window, "&Open…", window.open_project, (std.Open,), "Open a project file", "open")
        self.save = _action(window, "&Save", window.save, (std.Save,), "Save the project", "save")
        self.save_as = _action(window, "Save &As…", window.save_as, (std.SaveAs, "Ctrl+Shift+S"),
                               "Save the project under a new name")
        self.import_model = _action(window, "&Import Model…", window.import_model, (), IMPORT_TIP)
        self.export_code = _action(window, "&PyTorch Code…", window.export_code, ("Ctrl+E",),
                                   "Write the network as a standalone PyTorch .py file and a script that trains it",
                                   "export")
        self.export_code.setIconText("Export Code")  # on the toolbar, outside the File > Export menu
        # File > Export: one entry per format of the export registry; PyTorch code is the action above
        self.exports = {name: self.export_code if name == "code" else
                        _action(window, f"{export_format.label}…", lambda name=name: window.export_as(name), (),
                                f"Export as {export_format.label}: {export_format.description}")
                        for name, export_format in EXPORT_FORMATS.items()}
        self.quit = _action(window, "&Quit", window.close, (std.Quit, "Ctrl+Q"), "Close netbuilder")

        stack = window.document.undo_stack
        self.undo = stack.createUndoAction(window, "&Undo")
        self.undo.setShortcuts(QKeySequence.keyBindings(std.Undo))
        self.undo.setIcon(_icon("undo"))
        self.redo = stack.createRedoAction(window, "&Redo")
        self.redo.setShortcuts(list(dict.fromkeys([*QKeySequence.keyBindings(std.Redo), QKeySequence("Ctrl+Shift+Z")])))
        self.redo.setIcon(_icon("redo"))

        self.cut = _action(window, "Cu&t", window.cut, (std.Cut,), "Cut the selected layers")
        self.copy = _action(window, "&Copy", window.copy, (std.Copy,), "Copy the selected layers")
        self.paste = _action(window, "&Paste", window.paste, (std.Paste,), "Paste layers")
        self.duplicate = _action(window, "D&uplicate", window.duplicate, ("Ctrl+D",),
                                 "Duplicate the selected layers with their connections")
        self.delete = _action(window, "&Delete", window.delete_selected, (std.Delete,),
                              "Delete the selected layers and their connections", "delete")
        self.select_all = _action(window, "Select &All", window.select_all, (std.SelectAll,), "Select every layer")

        self.auto_layout = _action(window, "&Auto-layout", window.auto_layout, ("Ctrl+L",),
                                   "Arrange the layers left to right in data-flow order", "layout")
        self.zoom_to_fit = _action(window, "Zoom to &Fit", window.zoom_to_fit, ("F",),
                                   "Show the whole network", "fit")
        self._add_block_actions(window)

        # The training panel owns these (their text, tooltip and enabled state follow the run);
        # the keys are the debugger's: F5 runs and continues, Shift+F5 stops.
        training = window.training
        self.train, self.pause_training, self.stop_training = (training.start_action, training.pause_action,
                                                               training.stop_action)
        for action, key, icon in ((self.train, "F5", "train"), (self.pause_training, "F6", "pause"),
                                  (self.stop_training, "Shift+F5", "stop")):
            action.setShortcut(QKeySequence(key))
            action.setIcon(_icon(icon))
        self.show_training = _action(window, "Training &Panel", window.show_training, ("Ctrl+T",),
                                     "Show the training panel: data, settings, curves and results")

    def _add_block_actions(self, window: "MainWindow") -> None:
        """Grouping, ungrouping, opening and unfolding blocks: the Edit menu's and a card's menu."""
        self.group_into_block = _action(window, "&Group into Block", window.scene.group_selected, ("Ctrl+G",),
                                        "Make the selected layers one block: a card you can repeat and reuse")
        self.ungroup = _action(window, "U&ngroup Block", window.scene.ungroup_selected, ("Ctrl+Shift+G",),
                               "Put the selected block's layers back in its place")
        self.make_unique = _action(window, "Make Block &Unique", window.scene.make_selected_unique, (),
                                   "Give the selected block its own copy, so edits inside it change only this one")
        self.open_block = _action(window, "&Open Block", window.scene.open_selected_block,
                                  ("Ctrl+Return", "Ctrl+Enter"), "Show the selected block's inside to edit it: every card of this block follows "
                                  "(double-click a block does the same; Esc goes back up)")
        self.unfold_block = _action(window, "Un&fold Block", window.scene.toggle_unfolded, ("Ctrl+Shift+Return",),
                                    "Show the selected block's layers in place, under its card, or fold them again "
                                    "(a view: nothing changes)")
        self.unfold_block.setCheckable(True)
        self.block_actions = (self.group_into_block, self.ungroup, self.make_unique, self.open_block,
                              self.unfold_block)
        self.card_actions = (self.open_block, self.unfold_block, self.group_into_block, self.ungroup,
                             self.make_unique)
        self.save_block = _action(window, "Save &Block to File…", window.save_block_to_file, (),
                                  "Save the selected block, with the blocks inside it, to reuse in other projects")
        self.load_block = _action(window, "&Load Block from File…", window.load_block_from_file, (),
                                  "Add a block saved from another project to this project's blocks")
        self.selection_dependent = (self.cut, self.copy, self.duplicate, self.delete, self.group_into_block)
        self.block_dependent = (self.ungroup, self.make_unique, self.open_block, self.unfold_block)

    def set_selection_size(self, count: int, blocks: int = 0, unfolded: bool = False) -> None:
        """Enable what the selection allows: `count` nodes, `blocks` of them block cards, all of
        those shown unfolded where `unfolded`."""
        for action in self.selection_dependent:
            action.setEnabled(count > 0)
        for action in self.block_dependent:
            action.setEnabled(blocks > 0)
        self.open_block.setEnabled(blocks == 1)
        self.unfold_block.setChecked(unfolded)


def build_menus(window: "MainWindow", actions: WindowActions) -> None:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addActions([actions.new, actions.open])
    window.recent_menu = file_menu.addMenu("Open &Recent")
    window.recent_menu.aboutToShow.connect(window.fill_recent_menu)
    templates = file_menu.addMenu("&Templates")
    for name in template_names():
        action = templates.addAction(load_template(name).name)
        action.setStatusTip(f"Open the {name} template as a new, unsaved project")
        action.triggered.connect(lambda _checked=False, name=name: window.open_template(name))
    window.templates_menu = templates
    file_menu.addAction(actions.import_model)
    file_menu.addSeparator()
    file_menu.addActions([actions.save, actions.save_as])
    file_menu.addSeparator()
    file_menu.addActions([actions.save_block, actions.load_block])
    file_menu.addSeparator()
    export_menu = file_menu.addMenu("E&xport")
    export_menu.addActions(list(actions.exports.values()))
    file_menu.addSeparator()
    file_menu.addAction(actions.quit)

    edit_menu = bar.addMenu("&Edit")
    edit_menu.addActions([actions.undo, actions.redo])
    edit_menu.addSeparator()
    edit_menu.addActions([actions.cut, actions.copy, actions.paste, actions.duplicate, actions.delete])
    edit_menu.addSeparator()
    edit_menu.addActions(list(actions.block_actions))
    edit_menu.addSeparator()
    edit_menu.addAction(actions.select_all)

    training_menu = bar.addMenu("&Training")
    training_menu.addActions([actions.train, actions.pause_training, actions.stop_training])
    training_menu.addSeparator()
    training_menu.addAction(actions.show_training)

    view_menu = bar.addMenu("&View")
    view_menu.addActions([actions.auto_layout, actions.zoom_to_fit])
    view_menu.addSeparator()
    window.panels_menu = view_menu.addMenu("&Panels")
    window.view_menu = view_menu


def build_toolbar(window: "MainWindow", actions: WindowActions) -> QToolBar:
    toolbar = window.addToolBar("Main")
    toolbar.setObjectName("main_toolbar")  # saveState() needs it
    toolbar.setMovable(False)
    toolbar.setIconSize(QSize(20, 20))
    toolbar.addActions([actions.new, actions.open, actions.save])
    toolbar.addSeparator()
    toolbar.addActions([actions.undo, actions.redo])
    toolbar.addSeparator()
    toolbar.addActions([actions.delete, actions.auto_layout, actions.zoom_to_fit])
    toolbar.addSeparator()
    toolbar.addAction(actions.export_code)
    toolbar.addSeparator()
    toolbar.addActions([actions.train, actions.pause_training, actions.stop_training])
    for action in (actions.auto_layout, actions.zoom_to_fit, actions.export_code, actions.train):
        toolbar.widgetForAction(action).setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    return toolbar
