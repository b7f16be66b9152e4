"""File > Import Model…: a .py model opened as a project with its weights, from the window."""
from __future__ import annotations

import textwrap

import pytest
from PySide6.QtWidgets import QDialog, QLabel

from netbuilder.gui.import_model import RUNS_CODE_WARNING, ImportDialog

from test_main_window import dialogs, make_window, settings_dir  # noqa: F401 - the window's fixtures

MODEL = """
    import torch
    from torch import nn

    class Small(nn.Module):
        def __init__(self, classes=10):
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3)
            self.fc = nn.Linear(4 * 26 * 26, classes)

        def forward(self, x):
            return self.fc(torch.flatten(torch.relu(self.conv(x)), 1))

    class Sorting(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(784, 10)

        def forward(self, x):
            return self.fc(torch.sort(x.flatten(1), dim=1).values)
    """


def file_menu_texts(window) -> list[str]:
    file_menu = next(action.menu() for action in window.menuBar().actions() if action.text() == "&File")
    return [action.text() for action in file_menu.actions()]


def answer_import_dialog(monkeypatch, class_name: str, arguments: str, shape: str):
    def exec_filled(dialog: ImportDialog) -> int:
        dialog.class_name.setCurrentText(class_name)
        dialog.arguments.setPlainText(arguments)
        dialog.input_shape.setText(shape)
        return QDialog.DialogCode.Accepted
    monkeypatch.setattr(ImportDialog, "exec", exec_filled)


def test_importing_a_model_opens_it_as_a_project_with_its_weights(make_window, dialogs, tmp_path, monkeypatch):
    model = tmp_path / "small.py"
    model.write_text(textwrap.dedent(MODEL))
    window = make_window()
    assert "&Import Model…" in file_menu_texts(window)
    dialogs.chosen_file = str(model)
    answer_import_dialog(monkeypatch, "Small", "classes=7", "1, 28, 28")

    window.window_actions.import_model.trigger()

    assert not dialogs.warnings
    assert window.document.path == (tmp_path / "small.nbproj").resolve()
    graph = window.document.graph
    assert graph.node_named("fc").params["units"] == 7 and graph.node_named("conv").type_id == "conv2d"
    assert (tmp_path / "small.safetensors").exists()
    assert window.statusBar().currentMessage().startswith("Imported Small")
    start_from_weights = window.training.settings.fields["start_from_weights"].widget
    assert start_from_weights.isChecked() and start_from_weights.isEnabled()  # training goes on from the import


def test_an_operation_without_a_layer_is_shown_as_the_import_report(make_window, dialogs, tmp_path, monkeypatch):
    model = tmp_path / "small.py"
    model.write_text(textwrap.dedent(MODEL))
    window = make_window()
    before = window.document.project
    dialogs.chosen_file = str(model)
    answer_import_dialog(monkeypatch, "Sorting", "", "1, 28, 28")

    assert not window.import_model()

    (warning,) = dialogs.warnings
    assert "torch.sort at small.py line 20, in forward" in warning and ".values" not in warning
    assert window.document.project is before and not (tmp_path / "small.nbproj").exists()


def test_the_dialog_says_the_file_runs_and_offers_its_classes_without_running_it(qtbot, tmp_path):
    model = tmp_path / "model.py"
    model.write_text("raise SystemExit('ran')\n" + textwrap.dedent(MODEL))
    dialog = ImportDialog(model)
    qtbot.addWidget(dialog)
    assert [dialog.class_name.itemText(i) for i in range(dialog.class_name.count())] == ["Small", "Sorting"]
    assert any(label.text() == RUNS_CODE_WARNING for label in dialog.findChildren(QLabel))
    assert "runs it as Python code" in RUNS_CODE_WARNING
    dialog.arguments.setPlainText("classes=3\n\n  width=2 ")
    assert dialog.command() == (f"{model}:Small", "1, 28, 28", ["classes=3", "width=2"], str(tmp_path / "model.nbproj"))


def test_a_pt2_file_needs_no_questions(make_window, dialogs, tmp_path, monkeypatch):
    import torch
    from torch import nn

    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 10)).eval()
    torch.export.save(torch.export.export(model, (torch.randn(1, 1, 28, 28),)), tmp_path / "mlp.pt2")
    monkeypatch.setattr(ImportDialog, "exec", lambda dialog: pytest.fail("a .pt2 file holds class and shape"))
    window = make_window()
    dialogs.chosen_file = str(tmp_path / "mlp.pt2")

    assert window.import_model()

    assert window.document.path == (tmp_path / "mlp.nbproj").resolve()
    assert [node.type_id for node in window.document.graph.nodes.values()] == ["input", "flatten", "dense", "output"]


def test_an_existing_project_is_replaced_only_when_the_user_agrees(make_window, dialogs, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    model = tmp_path / "small.py"
    model.write_text(textwrap.dedent(MODEL))
    (tmp_path / "small.nbproj").write_text("mine")
    window = make_window()
    dialogs.chosen_file = str(model)
    answer_import_dialog(monkeypatch, "Small", "", "1, 28, 28")

    dialogs.answer = QMessageBox.StandardButton.No
    assert not window.import_model()
    assert (tmp_path / "small.nbproj").read_text() == "mine" and "small.nbproj exists" in dialogs.questions[0]

    dialogs.answer = QMessageBox.StandardButton.Yes
    assert window.import_model()
    assert window.document.graph.node_named("conv") is not None
