"""The main window: the canvas in the centre, docked panels around it, files, clipboard and autosave."""
from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QEvent, QEventLoop, QMimeData, QObject, QSettings, QStandardPaths, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QGuiApplication
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QFrame, QLabel, QMainWindow, QMessageBox,
                               QProgressDialog, QScrollArea, QTabWidget, QVBoxLayout, QWidget)

from ..core.block_files import SUFFIX as BLOCK_SUFFIX, bring_fragment_blocks, load_block_file, load_blocks, save_block
from ..core.blocks import INSTANCE
from ..core.graph import GraphError
from ..core.levels import Level, graph_at
from ..core.project import (FORMAT, MAX_PROJECT_BYTES, VERSION, SUFFIX, Project, ProjectFileError, blocks_to_list,
                            load_project, load_template, project_from_dict, project_to_dict, save_project)
from ..common.files import FileReadError, parse_json
from ..common.text import MESSAGE_CHARACTERS, byte_size, shown
from ..core.summary import human_count
from .actions import WindowActions, build_menus, build_toolbar
from .document import Document
from .editor.activation_view import NodeActivationViews
from .editor.breadcrumbs import BreadcrumbBar
from .editor.diff_marks import DiffMarks
from .editor.health_badge import HealthBadges
from .editor.scene import GraphScene
from .editor.view import GraphView
from .epoch_estimate import EpochEstimate
from .field_undo import ProjectUndoKeys
from .panels.draw import DrawPanel
from .panels.inspector import InspectorPanel
from .panels.palette import LayerPalette
from .panels.problems import ProblemsPanel
from .panels.runs import RunsPanel
from .panels.summary import SummaryPanel
from .panels.training import TrainingPanel
from .recovery import AUTOSAVE_INTERVAL_MS, AutosaveSession, Recovery, default_recovery_dir, find_recoveries
from .workers import ExportWriter

FRAGMENT_MIME_TYPE = "application/x-netbuilder-fragment"
PROJECT_FILTER = f"netbuilder projects (*{SUFFIX});;All files (*)"
BLOCK_FILTER = f"netbuilder blocks (*{BLOCK_SUFFIX});;All files (*)"
MAX_RECENT_FILES = 8
DEFAULT_SIZE = (1400, 900)  # or the screen's available area, where smaller
TRAINING_DOCK_HEIGHT = 420  # pixels: room for the plots and the run's controls
# The smallest size at which each panel is still readable (width, height in pixels): Qt keeps
# docked panels at least this large, and a restored layout that leaves one smaller, or off the
# screen, is replaced by the default. Every panel open fits a 1280×800 screen; the default panels
# fit an 800×600 one.
PANEL_MINIMUMS = {"palette_dock": (180, 200), "inspector_dock": (250, 220), "summary_dock": (420, 170),
                  "problems_dock": (420, 170), "training_dock": (560, 230), "draw_dock": (360, 340),
                  "runs_dock": (560, 200)}
CANVAS_MINIMUM = (340, 240)
DEFAULT_DOCK_SIZES = {"palette_dock": 210, "inspector_dock": 330, "summary_dock": 300}


def app_settings() -> QSettings:
    """Window layout and recent files; an INI file so tests can redirect it with QSettings.setPath."""
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, "netbuilder", "netbuilder")


def release_clipboard() -> None:
    """Take copied layers off the clipboard; call before the application object is destroyed.

    PySide6 6.11 crashes at exit when the clipboard still owns a QMimeData made in Python, and
    the layers are of no use once netbuilder has quit.
    """
    clipboard = QGuiApplication.clipboard()
    data = clipboard.mimeData()
    if data is not None and data.hasFormat(FRAGMENT_MIME_TYPE):
        clipboard.clear()


def project_file_in(mime: QMimeData) -> Path | None:
    """The first local project file among dragged URLs, if any."""
    for url in mime.urls() if mime.hasUrls() else []:
        if url.isLocalFile() and url.toLocalFile().endswith(SUFFIX):
            return Path(url.toLocalFile())
    return None


class _ProjectFileDrops(QObject):
    """Lets project files dropped on the canvas open, although the canvas itself takes layer drops."""

    def __init__(self, window: "MainWindow"):
        super().__init__(window)
        self.window = window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in (QEvent.Type.DragEnter, QEvent.Type.DragMove) and project_file_in(event.mimeData()):
            event.acceptProposedAction()
            return True
        if event.type() == QEvent.Type.Drop and project_file_in(event.mimeData()):
            event.acceptProposedAction()
            self.window.open_dropped(project_file_in(event.mimeData()))
            return True
        return False


class MainWindow(QMainWindow):
    """One project per window. `recovery_dir` and `remember_layout` exist for tests and screenshots
    (a screenshot's window keeps the size asked for, whatever the screen)."""

    def __init__(self, document: Document | None = None, *, recovery_dir: Path | None = None,
                 remember_layout: bool = True, parent: QWidget | None = None):
        super().__init__(parent)
        self.document = document or Document()
        self.remember_layout = remember_layout
        self.origin = ""  # how an unsaved project began ("template", "recovered"), shown in the title
        self.recovery_dir = recovery_dir or default_recovery_dir()
        self.setWindowIcon(self.style().standardIcon(self.style().StandardPixmap.SP_ComputerIcon))
        self.setAcceptDrops(True)
        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)

        self.scene = GraphScene(self.document, self)  # owned by the window, so destroyed before the app
        self.view = GraphView(self.scene)
        self.breadcrumbs = BreadcrumbBar(self.document)  # above the canvas while a block is open
        canvas = QWidget()
        column = QVBoxLayout(canvas)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.breadcrumbs)
        column.addWidget(self.view, 1)
        self.setCentralWidget(canvas)
        self.view.setMinimumSize(*CANVAS_MINIMUM)  # no panel may crush the editor
        self.view.viewport().installEventFilter(_ProjectFileDrops(self))

        self._add_panels()
        self.window_actions = WindowActions(self)
        self.project_undo_keys = ProjectUndoKeys(self)  # Ctrl+Z from the inspector's fields
        build_menus(self, self.window_actions)
        self.view.card_actions = list(self.window_actions.card_actions)
        build_toolbar(self, self.window_actions)
        for dock in (self.palette_dock, self.inspector_dock, self.summary_dock, self.problems_dock, self.training_dock,
                     self.runs_dock):
            self.panels_menu.addAction(dock.toggleViewAction())
        self.window_actions.set_selection_size(0)
        self._add_status_bar()
        self._connect_panels()

        self._autosave = AutosaveSession(self.recovery_dir)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_INTERVAL_MS)
        self.autosave_timer.timeout.connect(self.autosave)
        self.autosave_timer.start()

        self._add_draw_panel()
        reset = self.view_menu.addAction("&Reset Layout")
        reset.setStatusTip("Put every panel back where it starts, at its default size")
        reset.triggered.connect(lambda: self.reset_layout())
        self._zoomed_once = False
        self._restored_layout = False
        self._restore_layout()
        self._file_state_changed()
        self._show_analysis_summary()
        self._show_problem_count(len(self.document.analysis.problems))

    def _add_panels(self) -> None:
        """The palette, inspector, summary, problems, training and runs panels, each in its dock."""
        self.layer_palette = LayerPalette(self.document)
        self.inspector = InspectorPanel(self.document)
        self.summary = SummaryPanel(self.document)
        self.problems = ProblemsPanel(self.document)
        self.training = TrainingPanel(self.document)
        self.diff_marks = DiffMarks(self.scene)
        self.runs = RunsPanel(self.document, self.training, self.diff_marks)
        self.palette_dock = self._dock("Layers", "palette_dock", self.layer_palette, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector_dock = self._dock("Inspector", "inspector_dock", self.inspector,
                                         Qt.DockWidgetArea.RightDockWidgetArea)
        self.summary_dock = self._dock("Summary", "summary_dock", self.summary, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.problems_dock = self._dock("Problems", "problems_dock", self.problems,
                                        Qt.DockWidgetArea.BottomDockWidgetArea)
        self.training_dock = self._dock("Training", "training_dock", self.training,
                                        Qt.DockWidgetArea.BottomDockWidgetArea)
        self.runs_dock = self._dock("Runs", "runs_dock", self.runs, Qt.DockWidgetArea.BottomDockWidgetArea)
        self.runs_dock.visibilityChanged.connect(self.runs.set_in_view)  # its tab chosen or left
        self.setTabPosition(Qt.DockWidgetArea.BottomDockWidgetArea, QTabWidget.TabPosition.North)

    def _add_status_bar(self) -> None:
        """The network's totals and the estimated time per epoch, at the right of the status bar."""
        self.status_summary = QLabel()
        self.statusBar().addPermanentWidget(self.status_summary)
        self.epoch_time = QLabel()
        self.epoch_time.setToolTip("Estimated training time, measured on a few batches of this network")
        self.statusBar().addPermanentWidget(self.epoch_time)
        self.epoch_estimate = EpochEstimate(self.document, self)
        self.epoch_estimate.text_changed.connect(self.epoch_time.setText)

    def _connect_panels(self) -> None:
        """Selections, problems, file state and training events, from each panel to the others."""
        self.scene.selection_changed_ids.connect(self._selection_changed)
        self.scene.message.connect(lambda text: self.statusBar().showMessage(text, 5000))
        self.layer_palette.layer_chosen.connect(self.view.add_layer_at_center)
        self.layer_palette.block_chosen.connect(lambda block_id: self.view.add_layer_at_center(INSTANCE, block_id))
        self.layer_palette.save_block_asked.connect(self.save_block_to_file)
        self.layer_palette.load_block_asked.connect(self.load_block_from_file)
        self.layer_palette.message.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.summary.nodes_selected.connect(self._select_in_network)
        # queued: opening replaces the inspector's page, the button that asked with it
        self.inspector.open_block_requested.connect(self.scene.open_block, Qt.ConnectionType.QueuedConnection)
        self.problems.location_clicked.connect(self.show_location)
        self.problems.count_changed.connect(self._show_problem_count)
        self.document.file_state_changed.connect(self._file_state_changed)
        self.health_badges = HealthBadges(self.scene)
        self.training.health_reported.connect(self.health_badges.show)
        self.training.run_started.connect(self.show_training)
        self.training.start_action.triggered.connect(self.document.ask_to_train)
        self.document.project_replaced.connect(self.health_badges.clear)
        self.document.analysis_changed.connect(self._show_analysis_summary)

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        hint, (width, height) = widget.minimumSizeHint(), PANEL_MINIMUMS[name]
        widget.setMinimumSize(max(width, hint.width()), max(height, hint.height()))  # never below its own content's
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    # --- drawing panel: draw a digit, see the model read it and the drawing flow through the graph ---
    def _add_draw_panel(self) -> None:
        """The Draw dock (hidden until asked for) and the live views of each layer's output under
        the cards, shown only while the dock is visible."""
        self.draw_panel = DrawPanel()
        scroll = QScrollArea()  # the panel reflows to fit; below its smallest arrangement, it scrolls
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.draw_panel)
        self.draw_dock = self._dock("Draw", "draw_dock", scroll, Qt.DockWidgetArea.RightDockWidgetArea)
        self._place_docks()
        # not the dock's own toggle: that shows the panel in its tab before it could be placed
        toggle = self.draw_action = QAction("&Draw a Digit", self)
        toggle.setCheckable(True)
        toggle.setShortcut("Ctrl+Shift+D")
        toggle.triggered.connect(lambda shown: self.show_draw_panel() if shown else self.draw_dock.close())
        self.draw_dock.toggleViewAction().toggled.connect(toggle.setChecked)  # closed with its own button
        self.panels_menu.addAction(toggle)
        self.draw_floats = self.panels_menu.addAction("Draw Panel in Its Own &Window")
        self.draw_floats.setCheckable(True)
        self.draw_floats.setStatusTip("Open the Draw panel as a window of its own rather than as a tab beside "
                                      "the inspector")
        self.draw_floats.setChecked(app_settings().value("layout/draw_floating", "") == "true")
        self.draw_floats.triggered.connect(self._draw_placement_chosen)
        self.draw_dock.topLevelChanged.connect(self._remember_draw_placement)
        self.activation_views = NodeActivationViews(self.scene)
        self.draw_panel.reading_changed.connect(self._show_reading_on_cards)
        # back at the network (or inside a block, where none shows): the latest reading's views again
        self.document.level_changed.connect(lambda: self._show_reading_on_cards(
            self.draw_panel.reading if self.draw_panel.show_activations else None))
        self.draw_panel.train_requested.connect(self._train_on_built_in_digits)
        self.draw_panel.fine_tune_requested.connect(lambda: self.draw_panel.fine_tune(self.document.project))
        self.draw_dock.visibilityChanged.connect(self._draw_dock_visibility_changed)
        self.scene.selection_changed_ids.connect(self._show_selected_layer_output)
        self.document.project_replaced.connect(self._forget_drawn_model)
        self.training.model_trained.connect(self.draw_panel.set_trained_model)
        self.draw_panel.fine_tuned.connect(self.training.keep_weights)

    def _draw_tab_room(self) -> tuple[int, int]:
        """(the width the Draw panel wants: its drawing and reading side by side, the width a tab
        beside the inspector can have while the canvas keeps its minimum)."""
        wanted = self.draw_panel.side_by_side_width() + 24  # and a scroll bar
        palette = self.palette_dock.width() if self.palette_dock.isVisible() and not self.palette_dock.isFloating() else 0
        return wanted, self.width() - CANVAS_MINIMUM[0] - palette - 24

    def show_draw_panel(self) -> None:
        """Open the Draw panel where the user chose: a tab beside the inspector, widened as far as
        the canvas's minimum allows, or a window of its own that fits the screen. Until they choose,
        it is a tab where the tab has room for the drawing and the reading side by side, else a window."""
        dock = self.draw_dock
        choice = app_settings().value("layout/draw_floating", "")
        wanted, room = self._draw_tab_room()
        floating = choice == "true" if choice in ("true", "false") else room < wanted
        self.draw_floats.setChecked(floating)
        if floating:
            if not dock.isFloating():
                dock.setFloating(True)
                available = self.screen().availableGeometry()
                hint = self.draw_panel.minimumSizeHint()  # as small as it reads well: it sits over the window
                width, height = min(wanted, available.width()), min(hint.height() + 60, available.height())
                dock.setGeometry(max(available.left(), min(self.geometry().right() - width, available.right() - width)),
                                 max(available.top(), self.geometry().top() + 60), width, height)
        elif dock.isFloating():
            dock.setFloating(False)
        dock.show()
        dock.raise_()
        if not dock.isFloating() and self.dockWidgetArea(dock) == Qt.DockWidgetArea.RightDockWidgetArea:
            self.resizeDocks([dock], [max(PANEL_MINIMUMS["draw_dock"][0], min(wanted, room))],
                             Qt.Orientation.Horizontal)

    def _draw_placement_chosen(self, floating: bool) -> None:
        app_settings().setValue("layout/draw_floating", "true" if floating else "false")
        if self.draw_dock.isVisible():
            self.show_draw_panel()

    def _remember_draw_placement(self, floating: bool) -> None:
        """The user dragged the panel out or back: that is their choice from now on."""
        if self.draw_dock.isVisible() and floating != self.draw_floats.isChecked():
            self.draw_floats.setChecked(floating)
            app_settings().setValue("layout/draw_floating", "true" if floating else "false")

    def _show_reading_on_cards(self, reading) -> None:
        if reading is None or not self.draw_dock.isVisible():
            self.activation_views.clear()
            return
        probabilities = reading.prediction.probabilities
        self.activation_views.show(reading.activations, reading.picture,
                                   None if probabilities is None else probabilities[0],
                                   reading.prediction.class_names, reading.reconstruction)

    def _draw_dock_visibility_changed(self, visible: bool) -> None:
        if visible:
            self.draw_panel.update_prediction()
        else:
            self.activation_views.clear()

    def _forget_drawn_model(self) -> None:
        """Another project: its model is not the one the panel reads with."""
        self.draw_panel.shutdown()
        self.draw_panel.set_trained_model(None)

    def _train_on_built_in_digits(self) -> None:
        """The draw panel's offer: train the network on the canvas on the built-in digits."""
        from ..core.commands import SetTraining

        if self.document.project.dataset != "digits":
            self.document.push(SetTraining(self.document.project, dataset="digits"))
        self.document.ask_to_train()
        self.show_training()
        self.training.start()
        reason = self.training.cannot_start_reason()
        if reason:
            self.statusBar().showMessage(reason, 8000)

    def _show_selected_layer_output(self, node_ids: list[str]) -> None:
        # the panel reads the network's layers: a layer selected inside a block is none of them
        nodes = self.document.graph.nodes if self.document.level.is_network else {}
        self.draw_panel.select_layer(nodes[node_ids[0]].name if len(node_ids) == 1 and node_ids[0] in nodes else None)

    # --- layout and title -------------------------------------------------------------------------
    def _restore_layout(self) -> None:
        settings = app_settings()
        if self.remember_layout and settings.value("window/geometry") is not None:
            self._restored_layout = self.restoreGeometry(settings.value("window/geometry")) \
                and self.restoreState(settings.value("window/state"))
            if self._restored_layout:
                return  # checked against this screen once shown (_check_layout_once_shown)
        self._default_layout()

    def _default_layout(self, size: tuple[int, int] | None = None) -> None:
        """The default size (or `size`), within the screen, and the default panel sizes where they fit."""
        available = self.screen().availableGeometry()
        width, height = size or (min(DEFAULT_SIZE[0], available.width()), min(DEFAULT_SIZE[1], available.height() - 40))
        self.resize(width, height)
        sides = [self.palette_dock, self.inspector_dock]
        fits = sum(DEFAULT_DOCK_SIZES[dock.objectName()] for dock in sides) + CANVAS_MINIMUM[0] + 40 <= width
        self.resizeDocks(sides, [DEFAULT_DOCK_SIZES[dock.objectName()] if fits else PANEL_MINIMUMS[dock.objectName()][0]
                                 for dock in sides], Qt.Orientation.Horizontal)
        self.resizeDocks([self.summary_dock], [min(DEFAULT_DOCK_SIZES["summary_dock"], height // 3)],
                         Qt.Orientation.Vertical)

    def reset_layout(self, size: tuple[int, int] | None = None) -> None:
        """View > Reset Layout: every panel where it starts, at its default size (in a window of
        `size`, for a screenshot)."""
        self._place_docks()
        self.showNormal()
        self._default_layout(size)
        self.move(self.screen().availableGeometry().topLeft())
        self._fit_to_screen()

    def _place_docks(self) -> None:
        """Every panel in its default place: Layers left; Inspector right, the Draw panel a hidden
        tab beside it; Summary, Problems, Training and Runs tabs below. (Not restoreState: restoring a
        state into a laid-out window left the old tab bars drawn where they were.)"""
        areas = Qt.DockWidgetArea
        self.draw_dock.hide()  # first: docking it here is not the user choosing a tab for it
        for dock, area in zip(self.docks(), (areas.LeftDockWidgetArea, areas.RightDockWidgetArea,
                                             areas.BottomDockWidgetArea, areas.BottomDockWidgetArea,
                                             areas.BottomDockWidgetArea, areas.BottomDockWidgetArea,
                                             areas.RightDockWidgetArea)):
            dock.setFloating(False)
            self.addDockWidget(area, dock)
            dock.setVisible(dock is not self.draw_dock)
        self.tabifyDockWidget(self.summary_dock, self.problems_dock)
        self.tabifyDockWidget(self.problems_dock, self.training_dock)
        self.tabifyDockWidget(self.training_dock, self.runs_dock)
        self.tabifyDockWidget(self.inspector_dock, self.draw_dock)  # a tab beside the inspector, not a column
        self.summary_dock.raise_()
        self.inspector_dock.raise_()

    def docks(self) -> list[QDockWidget]:
        return [self.palette_dock, self.inspector_dock, self.summary_dock, self.problems_dock, self.training_dock,
                self.runs_dock, self.draw_dock]

    def layout_faults(self) -> list[str]:
        """What makes the current layout unusable on this screen: the window or a panel off every
        screen, or the canvas or a shown panel below its minimum size."""
        screens = [screen.availableGeometry() for screen in QGuiApplication.screens()]

        def on_screen(rect) -> bool:
            return any(screen.adjusted(-8, -8, 8, 8).contains(rect) for screen in screens)

        faults = [] if on_screen(self.geometry()) else ["the window is off the screen"]
        if self.view.width() < CANVAS_MINIMUM[0] or self.view.height() < CANVAS_MINIMUM[1]:
            faults.append("the canvas is too small")
        for dock in self.docks():
            if not dock.isVisible():
                continue
            width, height = PANEL_MINIMUMS[dock.objectName()]
            if dock.widget().width() < width or dock.widget().height() < height:
                faults.append(f"the {dock.windowTitle()} panel is too small")
            if dock.isFloating() and not on_screen(dock.geometry()):
                faults.append(f"the {dock.windowTitle()} panel is off the screen")
        return faults

    def _check_layout_once_shown(self) -> None:
        """A restored layout that does not fit this screen gives way to the default."""
        restored, self._restored_layout = self._restored_layout, False
        if restored:
            # again, now that hidden panels no longer count: before the first show, a hidden tab's
            # minimum (the Draw panel's) made the restored window grow past its saved size
            self.restoreGeometry(app_settings().value("window/geometry"))
            if self.layout_faults():
                self.reset_layout()
                self.statusBar().showMessage("The saved window layout does not fit this screen: the default "
                                             "layout is shown (View > Reset Layout does this any time)", 10000)
                return
        self._fit_to_screen()

    def _fit_to_screen(self) -> None:
        """Keep the window on its screen (before the first show, its minimum can read larger than
        it is); a screenshot's window keeps the size asked for."""
        available = self.screen().availableGeometry()
        if self.remember_layout and not self.isMaximized() and not available.contains(self.frameGeometry()):
            self.resize(min(self.width(), available.width()), min(self.height(), available.height() - 40))
            self.move(max(available.left(), min(self.x(), available.right() - self.frameGeometry().width())),
                      max(available.top(), min(self.y(), available.bottom() - self.frameGeometry().height())))

    def _save_layout(self) -> None:
        if self.remember_layout:
            settings = app_settings()
            settings.setValue("window/geometry", self.saveGeometry())
            settings.setValue("window/state", self.saveState())

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if not self._zoomed_once:
            self._zoomed_once = True
            QTimer.singleShot(0, self._check_layout_once_shown)  # after the docks have their sizes
            QTimer.singleShot(0, self.view.zoom_to_fit)

    def _file_state_changed(self) -> None:
        document = self.document
        origin = f" ({self.origin})" if self.origin and document.path is None else ""
        self.setWindowTitle(f"{document.title}{origin}[*] — netbuilder")
        self.setWindowModified(document.modified)
        if not document.modified:
            self._autosave.discard()

    def _show_analysis_summary(self) -> None:
        analysis = self.document.analysis
        errors = len(analysis.errors)
        state = f"{errors} error{'s' * (errors != 1)}" if errors else "no problems"
        self.status_summary.setText(f"{len(self.document.graph.nodes)} layers · {analysis.total_params:,} params · "
                                    f"{human_count(analysis.total_flops)} FLOPs · {state}")

    def _show_problem_count(self, count: int) -> None:
        self.problems_dock.setWindowTitle(f"Problems ({count})" if count else "Problems")

    def _selection_changed(self, node_ids: list[str]) -> None:
        self.inspector.show_selection(node_ids)
        self.summary.select_ids(node_ids)
        self.window_actions.set_selection_size(len(node_ids), len(self.scene.selected_blocks()),
                                               self.scene.selection_unfolded())

    def show_location(self, location: tuple[str, ...]) -> None:
        """Select the node a problem is about and bring it into view, opening the blocks that hold
        it (from the problems list: `location` starts at the network)."""
        self.scene.show_location(location, Level())

    def _select_in_network(self, node_ids: list[str]) -> None:
        """The summary's rows are the network's layers: select them there."""
        if node_ids:
            self.document.open_level(Level())
        self.scene.select_nodes(node_ids)

    # --- files ------------------------------------------------------------------------------------
    def _warn(self, title: str, text: str) -> None:
        """Every refusal the window shows goes through here: each line printable and of bounded
        length, whatever file name or value it quotes."""
        QMessageBox.warning(self, title, "\n".join(shown(line, MESSAGE_CHARACTERS) for line in text.split("\n")))

    def _last_folder(self) -> str:
        """Where file dialogs open: the project's folder, else the last folder saved in, else the
        user's documents; never inside the installation (a template read from there, say)."""
        saved_in = app_settings().value("files/last_folder", "")
        for folder in (self.document.path.parent if self.document.path else None,
                       Path(saved_in) if isinstance(saved_in, str) and saved_in else None):
            if folder is not None and folder.is_dir() and not _inside_installation(folder):
                return str(folder)
        documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
        return documents if documents and Path(documents).is_dir() else str(Path.home())

    def maybe_save(self) -> bool:
        """Before the project closes: ask to stop a training run and to save unsaved changes;
        False when the user cancels (or the save failed)."""
        if self.training.running:
            answer = QMessageBox.question(
                self, "Training in progress", "A training run is in progress. Stop it? Its weights are not kept.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel, QMessageBox.StandardButton.Cancel)
            if answer != QMessageBox.StandardButton.Yes:
                return False
            self.training.shutdown()
        if not self.document.modified:
            return True
        answer = QMessageBox.question(
            self, "Unsaved changes", f"Save the changes to {self.document.title} before closing it?",
            QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save)
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def set_project(self, project: Project, path: Path | None, origin: str = "") -> None:
        self.origin = origin
        self.document.replace_project(project, path)
        self.view.zoom_to_fit()

    def new_project(self) -> None:
        if self.maybe_save():
            self.set_project(Project(), None, "new")
            self.statusBar().showMessage("New project: drag layers from the Layers panel onto the canvas", 8000)

    def open_template(self, name: str) -> None:
        if self.maybe_save():
            self.set_project(load_template(name), None, "template")

    def open_project(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open project", self._last_folder(), PROJECT_FILTER)
        if path:
            self.open_path(Path(path))

    def open_dropped(self, path: Path) -> None:
        if self.maybe_save():
            self.open_path(path)

    def open_path(self, path: Path) -> bool:
        """Open a project file; on an error, say what is wrong and keep the current project."""
        try:
            project = load_project(path)
        except ProjectFileError as error:
            self._warn("Cannot open project", str(error))
            return False
        if _inside_installation(Path(path).resolve().parent):  # a template's file: saving asks where, never there
            self.set_project(project, None, "template")
            return True
        self.set_project(project, Path(path).resolve())
        self._remember_file(Path(path).resolve())
        self.training.restore_saved_run(Path(path).resolve())  # its model_trained reaches the draw panel
        self.statusBar().showMessage(f"Opened {shown(Path(path).name)}", 5000)
        return True

    def save(self) -> bool:
        if self.document.path is None:
            return self.save_as()
        return self._save_to(self.document.path)

    def save_as(self) -> bool:
        name = self.document.path.name if self.document.path else f"{_file_stem(self.document.project.name)}{SUFFIX}"
        path, _ = QFileDialog.getSaveFileName(self, "Save project as", str(Path(self._last_folder()) / name),
                                              PROJECT_FILTER)
        if not path:
            return False
        path = Path(path)
        return self._save_to(path if path.suffix == SUFFIX else path.with_name(path.name + SUFFIX))

    def _save_to(self, path: Path) -> bool:
        try:
            save_project(self.document.project, path)
        except OSError as error:
            self._warn("Cannot save project", f"Cannot save {shown(path.name)}: {error.strerror or error}")
            return False
        self.document.mark_saved(path.resolve())
        self._remember_file(path.resolve())
        app_settings().setValue("files/last_folder", str(path.resolve().parent))
        self.training.save_weights(path.resolve())  # a run finished before the project had a file
        self.statusBar().showMessage(f"Saved {shown(path.name)}", 5000)
        return True

    def save_block_to_file(self, block_id: str | None = None) -> None:
        """Save a block (`block_id`, else the selected card's) with the blocks inside it to a file."""
        graph = self.document.graph
        if block_id is None:  # the cards selected at the level shown (the library is the network's)
            shown_graph = graph_at(graph, self.document.level)
            cards = [shown_graph.nodes[node_id] for node_id in self.scene.selected_node_ids()]
            block_id = next((card.params["block"] for card in cards if card.type_id == INSTANCE), None)
        if block_id is None:
            self.statusBar().showMessage("Select a block card (or right-click a block in the Layers panel) "
                                         "to save it", 6000)
            return
        name = graph.blocks[block_id].name
        path, _ = QFileDialog.getSaveFileName(self, f'Save block "{name}"',
                                              str(Path(self._last_folder()) / f"{name}{BLOCK_SUFFIX}"), BLOCK_FILTER)
        if not path:
            return
        path = Path(path) if path.endswith(BLOCK_SUFFIX) else Path(path + BLOCK_SUFFIX)
        try:
            save_block(graph.blocks, block_id, path)
        except OSError as error:
            self._warn("Cannot save block", f"Cannot save {shown(path.name)}: {error.strerror or error}")
            return
        self.statusBar().showMessage(f'Saved block "{name}" to {shown(path.name)}', 5000)

    def load_block_from_file(self) -> None:
        """Add the blocks of a block file to this project (one undo step), renamed where a name is taken."""
        path, _ = QFileDialog.getOpenFileName(self, "Load block", self._last_folder(), BLOCK_FILTER)
        if not path:
            return
        try:
            command, block_id = load_blocks(self.document.graph, load_block_file(path))
        except ProjectFileError as error:
            self._warn("Cannot load block", str(error))
            return
        self.document.push(command)
        self.statusBar().showMessage(f'Loaded block "{self.document.graph.blocks[block_id].name}": drag it from '
                                     "the Layers panel's blocks onto the canvas", 8000)

    def _remember_file(self, path: Path) -> None:
        recent = [str(path)] + [p for p in self.recent_files() if p != str(path)]
        app_settings().setValue("files/recent", recent[:MAX_RECENT_FILES])

    def open_last_project(self) -> bool:
        """At start: the project worked on last (the newest of the recent list), where it still is."""
        recent = self.recent_files()
        return bool(recent) and Path(recent[0]).is_file() and self.open_path(Path(recent[0]))

    @staticmethod
    def recent_files() -> list[str]:
        """The recent projects, newest first; whatever a damaged settings file holds there, only text."""
        value = app_settings().value("files/recent", [])
        value = [value] if isinstance(value, str) else value if isinstance(value, list) else []
        return [path for path in value if isinstance(path, str) and path]

    def fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for path in self.recent_files():
            action = self.recent_menu.addAction(Path(path).name)
            action.setStatusTip(path)
            action.triggered.connect(lambda _checked=False, path=path: self._open_recent(Path(path)))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("No recent projects").setEnabled(False)

    def _open_recent(self, path: Path) -> None:
        if not self.maybe_save():
            return
        if not self.open_path(path) and not os.path.exists(path):  # (False for a name too long, not an error)
            app_settings().setValue("files/recent", [p for p in self.recent_files() if p != str(path)])

    def import_model(self) -> bool:
        """File > Import Model…: a PyTorch model file opened as a project with its weights."""
        from .import_model import MODEL_FILTER, run_import

        if not self.maybe_save():
            return False
        path, _ = QFileDialog.getOpenFileName(self, "Import model", self._last_folder(), MODEL_FILTER)
        if not path:
            return False
        outcome, result, text = run_import(self, Path(path))
        if outcome == "failed":
            self._warn("Cannot import the model", result)
        if outcome != "done" or not self.open_path(result):
            return False
        self.statusBar().showMessage(text.splitlines()[0], 10000)
        return True

    def export_code(self) -> bool:
        return self.export_as("code")

    def export_as(self, format_name: str) -> bool:
        """Write the network in one of the export formats, with the trained weights when the saved
        project has them; a network with errors is refused, listing them. The export runs on a
        worker thread behind a modal progress dialog, so the window keeps painting."""
        from ..core.compile import CompileError
        from ..export.formats import EXPORT_FORMATS

        export_format = EXPORT_FORMATS[format_name]
        title = f"Cannot export {export_format.label}"
        if not self.document.analysis.ok:
            self._warn(title, f"{CompileError(self.document.analysis)}\n\nFix these in the Problems panel, then "
                              "export again.")
            return False
        stem = _file_stem(self.document.path.stem if self.document.path else self.document.project.name)
        path, _ = QFileDialog.getSaveFileName(self, f"Export {export_format.label}",
                                              str(Path(self._last_folder()) / f"{stem}{export_format.suffix}"),
                                              f"{export_format.label} (*{export_format.suffix})")
        if not path:
            return False
        # A snapshot taken here, on the GUI thread: the writer's thread never reads the project the window edits.
        snapshot = project_from_dict(project_to_dict(self.document.project))
        writer = ExportWriter(snapshot, self.document.path, format_name, path, self)
        outcome: list = []
        waiting = QEventLoop()
        writer.written.connect(outcome.append)
        writer.failed.connect(outcome.append)
        writer.finished.connect(waiting.quit)
        progress = QProgressDialog(f"Exporting {export_format.label}…", "", 0, 0, self)
        progress.setCancelButton(None)  # an exporter cannot be interrupted
        progress.setWindowTitle("Export")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(500)  # quick exports show no dialog at all...
        progress.setValue(0)  # ...counted from here
        writer.start()
        waiting.exec()
        progress.close()
        (result,) = outcome
        if isinstance(result, str):
            self._warn(title, result)
            return False
        self.statusBar().showMessage(result.message, 10000)
        return True

    # --- autosave and recovery ----------------------------------------------------------------------
    def autosave(self) -> None:
        if not self.document.modified:
            return
        try:
            self._autosave.save(self.document.project, self.document.path)
        except OSError as error:
            self.statusBar().showMessage(f"Autosave failed: {error.strerror or error}", 10000)

    def recover_unsaved_work(self, ask: Callable[[Recovery], bool] | None = None) -> bool:
        """Offer each crash leftover, newest first, until one is recovered; declined ones are deleted.
        Damaged ones were set aside: say so, once."""
        found = find_recoveries(self.recovery_dir)
        if found.set_aside:
            self._warn("Damaged recovery files", found.set_aside_message)
        for recovery in found.offers:
            if (ask or self._ask_to_recover)(recovery):
                self.set_project(recovery.project, recovery.original_path, "recovered")
                self.document.undo_stack.resetClean()  # recovered changes are not saved anywhere yet
                self.autosave()
                recovery.discard()
                return True
            recovery.discard()
        return False

    def _ask_to_recover(self, recovery: Recovery) -> bool:
        answer = QMessageBox.question(
            self, "Recover unsaved changes",
            f"netbuilder did not close normally. Unsaved changes to {recovery.title} were autosaved at "
            f"{recovery.saved_at:%H:%M on %d %b %Y}.\n\nRecover them? (No deletes them.)",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
        return answer == QMessageBox.StandardButton.Yes

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.maybe_save():
            event.ignore()
            return
        self._save_layout()
        self.training.shutdown()
        self.draw_panel.shutdown()
        self.epoch_estimate.shutdown()
        self.autosave_timer.stop()
        self._autosave.close()
        event.accept()

    # --- drops ------------------------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if project_file_in(event.mimeData()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = project_file_in(event.mimeData())
        if path:
            event.acceptProposedAction()
            self.open_dropped(path)

    # --- editing ----------------------------------------------------------------------------------
    def copy(self) -> None:
        fragment = self.scene.copy_selected()
        if not fragment["nodes"]:
            return
        mime = QMimeData()
        mime.setData(FRAGMENT_MIME_TYPE, json.dumps(fragment).encode("utf-8"))
        QGuiApplication.clipboard().setMimeData(mime)
        count = len(fragment["nodes"])
        self.statusBar().showMessage(f"Copied {count} layer{'s' * (count != 1)}", 3000)

    def cut(self) -> None:
        self.copy()
        self.scene.delete_selected()

    def paste(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None or not mime.hasFormat(FRAGMENT_MIME_TYPE):
            self.statusBar().showMessage("The clipboard holds no netbuilder layers", 4000)
            return
        raw = bytes(mime.data(FRAGMENT_MIME_TYPE))
        try:
            if len(raw) > MAX_PROJECT_BYTES:
                raise ValueError(f"the clipboard holds {byte_size(len(raw))}, more than any project")
            fragment = parse_json(raw, "the clipboard data")  # as a project file is read: any bytes end in a message
            if not isinstance(fragment, dict):
                raise ValueError("the clipboard data is not a set of layers")
            blocks, fragment = bring_fragment_blocks(self.document.graph, fragment)  # copied from another project
            _check_fragment(fragment, {**self.document.graph.blocks, **{add.definition.id: add.definition
                                                                          for add in blocks}})
            self.scene.paste(fragment, before=blocks)
        except (ValueError, GraphError, ProjectFileError, FileReadError) as error:
            self.statusBar().showMessage(f"Cannot paste: {shown(error, 300)}", 6000)

    def duplicate(self) -> None:
        self.scene.duplicate_selected()

    def delete_selected(self) -> None:
        self.scene.delete_selected()

    def select_all(self) -> None:
        self.scene.select_all()

    def auto_layout(self) -> None:
        self.scene.auto_layout()
        self.view.zoom_to_fit()

    def zoom_to_fit(self) -> None:
        self.view.zoom_to_fit()

    # --- training ---------------------------------------------------------------------------------
    def show_training(self) -> None:
        """Bring the training panel forward, tall enough for its plots."""
        self.training_dock.show()
        self.training_dock.raise_()
        if self.training_dock.height() < TRAINING_DOCK_HEIGHT and not self.training_dock.isFloating():
            self.resizeDocks([self.training_dock], [TRAINING_DOCK_HEIGHT], Qt.Orientation.Vertical)


def _check_fragment(fragment: object, library: dict) -> None:
    """Clipboard data comes from outside: read it with the project loader's checks before pasting
    (block instances among it must refer to blocks of this project's `library`)."""
    if not isinstance(fragment, dict) or not isinstance(fragment.get("nodes"), list) \
            or not isinstance(fragment.get("edges"), list):
        raise ValueError("the clipboard data is not a set of layers")
    edges = [dict(zip(("source", "target", "port"), e)) if isinstance(e, list) and len(e) in (2, 3) else e
             for e in fragment["edges"]]
    project_from_dict({"format": FORMAT, "version": VERSION, "nodes": fragment["nodes"], "edges": edges,
                       "blocks": blocks_to_list(library)}, "clipboard")


def _inside_installation(folder: Path) -> bool:
    """Whether `folder` is in netbuilder's own files (the package or its templates), where a user's
    project does not belong and an update would replace it."""
    from importlib import resources

    import netbuilder

    installed = (Path(netbuilder.__file__).parent, Path(str(resources.files("netbuilder.resources"))))
    return any(folder.resolve().is_relative_to(place.resolve()) for place in installed)


def _file_stem(name: str) -> str:
    """A project name as a file name: 'CNN digits' -> 'cnn_digits'."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_") or "network"
