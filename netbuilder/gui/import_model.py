"""File > Import Model…: a PyTorch model (.py, .pt2) or an ONNX file opened as a project with its weights.

The dialog asks for the class, its constructor arguments and the input shape, and says plainly that
importing a .py file runs it. The import (tracing, compiling, checking the outputs: seconds for a
ResNet) runs on a worker thread behind a modal progress dialog; what it cannot import is shown as
its report. Qt-free work lives in netbuilder.importing.
"""
from __future__ import annotations

import ast
from pathlib import Path

from PySide6.QtCore import QEventLoop, QObject, Qt, QThread, Signal
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit, QMessageBox,
                               QPlainTextEdit, QProgressDialog, QVBoxLayout, QWidget)

from ..common.text import shown
from ..core.project import SUFFIX

MODEL_FILTER = "Models (*.py *.pt2 *.onnx);;PyTorch code (*.py);;torch.export program (*.pt2);;ONNX (*.onnx)"
RUNS_CODE_WARNING = ("Importing a .py file runs it as Python code, with your permissions, as `python model.py` "
                     "would: import only files you trust.")


def class_names(path: Path) -> list[str]:
    """The classes the file defines at its top level, read without running it (for the choice)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError, ValueError, RecursionError, MemoryError):
        return []
    return [node.name for node in tree.body if isinstance(node, ast.ClassDef)]


class ImportDialog(QDialog):
    """Class, constructor arguments (name=value, one a line), input shape and the project to write."""

    def __init__(self, model_path: Path, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Import {shown(model_path.name, 60)}")
        self.model_path = model_path
        self.class_name = QComboBox()
        self.class_name.setEditable(True)
        self.class_name.addItems(class_names(model_path))
        self.arguments = QPlainTextEdit()
        self.arguments.setPlaceholderText("num_classes=10\n(one name=value a line; values as Python literals)")
        self.arguments.setFixedHeight(70)
        self.input_shape = QLineEdit("1, 28, 28")
        self.input_shape.setToolTip("The input's sizes without the batch: 1, 28, 28 for an image; the sequence "
                                    "length for token ids")
        self.project_file = QLineEdit(str(model_path.with_suffix(SUFFIX)))
        warning = QLabel(RUNS_CODE_WARNING)
        warning.setWordWrap(True)
        warning.setObjectName("runs_code_warning")
        form = QFormLayout()
        form.addRow("Model class", self.class_name)
        form.addRow("Constructor arguments", self.arguments)
        form.addRow("Input shape", self.input_shape)
        form.addRow("Project file", self.project_file)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(warning)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def command(self) -> tuple[str, str, list[str], str]:
        """(FILE.py:CLASS, input shape, name=value arguments, project file), as the command line takes them."""
        arguments = [line.strip() for line in self.arguments.toPlainText().splitlines() if line.strip()]
        return (f"{self.model_path}:{self.class_name.currentText().strip()}", self.input_shape.text(), arguments,
                self.project_file.text().strip())


class ImportWorker(QThread):
    """Imports and saves on its own thread. Emits `imported(summary text, project path)` or `failed(message)`."""

    imported = Signal(str, object)
    failed = Signal(str)

    def __init__(self, command: tuple[str, str | None, list[str], str], parent: QObject | None = None):
        super().__init__(parent)
        self._command = command

    def run(self) -> None:
        from ..importing.project_file import save_imported  # imports torch: only when importing
        from ..importing.report import ImportFailure
        from ..importing.sources import project_path, request, run_request, summary

        model, input_shape, arguments, out = self._command
        try:
            path = project_path(out)
            wanted = request(model, input_shape, arguments)
            result = run_request(wanted)
            checkpoint = save_imported(result, path, wanted.path.name)
        except ImportFailure as error:
            self.failed.emit(str(error))
        except OSError as error:
            self.failed.emit(f"Cannot write the project: {error.strerror or error}")
        except Exception as error:  # noqa: BLE001 - a bug becomes a message, never a dialog with a traceback
            self.failed.emit(f"The import failed: {shown(error)}")
        else:
            self.imported.emit(summary(result, path, checkpoint), path)


def run_import(window, model_path: Path) -> tuple[str, Path | str, str]:
    """Ask for a .py file's details (a .pt2 or ONNX file holds them), run the import behind a progress
    dialog: ("done", project path, summary), ("failed", message, "") or ("cancelled", "", "")."""
    if model_path.suffix == ".py":
        dialog = ImportDialog(model_path, window)
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return "cancelled", "", ""
        command = dialog.command()
    else:
        command = (str(model_path), None, [], str(model_path.with_suffix(SUFFIX)))
    project = Path(command[3])
    if project.exists() and QMessageBox.question(
            window, "Replace project?", f"{shown(project.name, 80)} exists. Replace it, and its trained weights, "
            "with the imported model?") != QMessageBox.StandardButton.Yes:
        return "cancelled", "", ""
    worker = ImportWorker(command, window)
    outcome: list = []
    waiting = QEventLoop()
    worker.imported.connect(lambda text, path: outcome.append(("done", path, text)))
    worker.failed.connect(lambda message: outcome.append(("failed", message, "")))
    worker.finished.connect(waiting.quit)
    progress = QProgressDialog(f"Importing {shown(model_path.name, 60)}…", "", 0, 0, window)
    progress.setCancelButton(None)  # tracing cannot be interrupted
    progress.setWindowTitle("Import")
    progress.setWindowModality(Qt.WindowModality.WindowModal)
    progress.setMinimumDuration(500)
    progress.setValue(0)
    worker.start()
    waiting.exec()
    progress.close()
    (result,) = outcome
    return result
