"""Starting the GUI: the application object, the error handler and the first window."""
from __future__ import annotations

import os
import sys
import traceback
from pathlib import Path
from types import TracebackType

import shiboken6
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QMessageBox

from ..common.error_log import log_file, window_library_output_to_log, write_error_log
from ..common.text import MESSAGE_CHARACTERS, shown
from . import style
from .qt_libraries import check_x_display, check_xcb_libraries

FIRST_TEMPLATE = "2-cnn"  # a new user sees a working network to explore rather than an empty canvas


class ErrorReporter:
    """sys.excepthook for the GUI: logs the traceback, shows the user a short message instead.

    Exceptions raised in Qt slots reach sys.excepthook; without this they would print to a
    console the user usually does not see and the action would silently do nothing.
    """

    def __init__(self, path: Path):
        self.path = path
        self._showing = False

    def __call__(self, kind: type[BaseException], error: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        details = "".join(traceback.format_exception(kind, error, tb))
        where = self._write_log(details)
        if self._showing:  # an error while the message box is open: logged, not stacked
            return
        self._showing = True
        try:
            QMessageBox.critical(QApplication.activeWindow(), "Something went wrong",
                                 f"netbuilder hit an unexpected problem and the last action may be incomplete:\n\n"
                                 f"{kind.__name__}: {shown(error, MESSAGE_CHARACTERS)}\n\n{where}"
                                 "Your project is autosaved every 30 seconds while it has unsaved changes.")
        finally:
            self._showing = False

    def _write_log(self, details: str) -> str:
        """Append the traceback to the log; say where it went."""
        if write_error_log(details, self.path) is None and sys.__stderr__ is not None:
            sys.__stderr__.write(details)  # sys.stderr is the log (window_library_output_to_log)
            return ""
        return f"The details were written to {self.path} (please include them in a bug report).\n\n"


def _display_available() -> bool:
    """False on Linux without an X or Wayland display, where Qt would abort with its own message
    (exit 134); Qt's offscreen or another chosen platform counts as one."""
    if not sys.platform.startswith("linux") or os.environ.get("QT_QPA_PLATFORM"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def train_off_the_gui_thread_only() -> None:
    """Give the app's threads one torch (OpenMP) thread each by default; a training run sets its own.

    Call before torch is imported. OpenMP keeps one team of worker threads per thread that ever
    ran a parallel operation, and once there are more of them than CPUs it stops spin-waiting at
    its barriers and sleeps instead: a team left behind by the GUI thread (loading a checkpoint, a
    prediction) made training on the worker thread 25-30% slower on 2 cores. The trainer still
    chooses its own count on its own thread (ThreadTuner); an OMP_NUM_THREADS the user set wins.
    """
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def apply_theme(app: QApplication) -> None:
    """Fusion in the canvas's dark colours, so panels and canvas read as one tool."""
    app.setStyle("Fusion")
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    palette = QPalette()
    colours = {
        role.Window: QColor("#26282c"), role.WindowText: style.TEXT_PRIMARY,
        role.Base: QColor("#1f2023"), role.AlternateBase: QColor("#24262a"),
        role.ToolTipBase: style.LABEL_BACKGROUND, role.ToolTipText: style.TEXT_PRIMARY,
        role.PlaceholderText: style.TEXT_DIM, role.Text: style.TEXT_PRIMARY,
        role.Button: QColor("#2f3136"), role.ButtonText: style.TEXT_PRIMARY, role.BrightText: style.ERROR,
        role.Light: QColor("#3a3d44"), role.Midlight: QColor("#33363c"), role.Mid: QColor("#2a2c31"),
        role.Dark: QColor("#18191c"), role.Shadow: QColor("#111214"),
        role.Highlight: style.SELECTION.darker(140), role.HighlightedText: style.HEADER_TEXT,
        role.Link: style.SELECTION,
    }
    for colour_role, colour in colours.items():
        palette.setColor(colour_role, colour)
    for colour_role in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(group.Disabled, colour_role, style.TEXT_DIM)
    app.setPalette(palette)


def run_gui(project_path: str | None = None, screenshot: str | None = None) -> int:
    """Open the main window with `project_path` (or, with none, a crash recovery, the project
    worked on last, or the CNN template).

    With `screenshot`, save an image of the laid-out window to that PNG and return without
    entering the event loop (for documentation and smoke tests).
    """
    from PySide6.QtCore import QCoreApplication

    if not _display_available():
        if not screenshot:
            print("netbuilder: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are not set). "
                  "Start it in a desktop session, or use the headless commands: netbuilder-cli --help",
                  file=sys.stderr)
            return 2
        os.environ["QT_QPA_PLATFORM"] = "offscreen"  # a screenshot needs no screen
    cannot_start = check_xcb_libraries() or check_x_display()
    if cannot_start:  # Qt would abort naming the wrong library
        print(cannot_start, file=sys.stderr)
        return 2
    train_off_the_gui_thread_only()
    window_library_output_to_log()
    from .main_window import MainWindow, release_clipboard
    from .workers import threads_still_running, wait_for_kept_threads

    QCoreApplication.setApplicationName("netbuilder")
    QCoreApplication.setOrganizationName("netbuilder")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_theme(app)
    sys.excepthook = ErrorReporter(log_file())
    app.aboutToQuit.connect(release_clipboard)
    app.aboutToQuit.connect(wait_for_kept_threads)

    window = MainWindow(remember_layout=screenshot is None)
    recovered = screenshot is None and project_path is None and window.recover_unsaved_work()
    opened = project_path and window.open_path(Path(project_path))
    if not (recovered or opened or (screenshot is None and project_path is None and window.open_last_project())):
        from ..core.project import load_template

        window.set_project(load_template(FIRST_TEMPLATE), None, "template")
    window.show()
    try:
        if screenshot:
            return _save_screenshot(app, window, Path(screenshot))
        code = app.exec()
    finally:
        # Destroy the window's C++ objects while the application object still exists: left to the
        # interpreter's exit, the plot widgets of a panel that was ever shown crash Python (SIGSEGV).
        shiboken6.delete(window)
    if threads_still_running():
        # A thread that outlived the wait at quit (a loader deep in a CSV of hundreds of MB, which
        # has no point to stop at, or the epoch estimate inside torch): Python's exit would destroy
        # a running QThread or stop a thread inside torch, and the process aborts for either.
        # Everything the user keeps is written by now, so end here.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


SCREENSHOT_SIZE = (1280, 800)  # a common laptop screen, the size the layout is designed to fit


def _save_screenshot(app: QApplication, window, path: Path) -> int:
    window.reset_layout(SCREENSHOT_SIZE)  # the default layout at that size, whatever the screen
    for _ in range(3):  # docks settle over a few layout passes
        app.processEvents()
    window.view.zoom_to_fit()
    # a selected layer shows what the inspector offers, rather than an empty panel
    editable = [n.id for n in window.document.graph.nodes.values() if n.spec.params and not n.spec.is_source]
    window.scene.select_nodes(editable[:1])
    app.processEvents()
    if not window.grab().save(str(path)):
        print(f"Cannot write the screenshot to {path}", file=sys.__stderr__)
        return 1
    window.close()
    return 0
