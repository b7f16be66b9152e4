"""In the window, what other libraries say while it trains (torch's warnings and log lines, raised on
the training worker's thread) goes to the log file, never to a dialog or the window's run log."""
from __future__ import annotations

import logging
import threading
import warnings

import pytest
import torch
from PySide6.QtWidgets import QMessageBox

from netbuilder.core.project import load_template
from netbuilder.common.error_log import log_file, window_library_output_to_log
from netbuilder.gui.document import Document
from test_main_window import dialogs, make_window, settings_dir  # noqa: F401 (fixtures)
from test_training import RUN_TIMEOUT_MS, small_digits  # noqa: F401 (fixture)

LIBRARY_LINES = ("a layer's UserWarning on the worker", "a line through torch's log handlers on the worker")


@pytest.fixture
def routed(library_routing_restored, monkeypatch, tmp_path):
    """The window's routing of library output, as run_gui sets it up at start."""
    monkeypatch.setenv("NETBUILDER_DATA_DIR", str(tmp_path / "data"))
    window_library_output_to_log()


@pytest.fixture
def talking_layers(monkeypatch):
    """Linear layers that warn and log when they run, as torch's layers do; the names of the
    threads they ran on."""
    threads: set[str] = set()
    forward = torch.nn.Linear.forward

    def forward_and_talk(self, inputs):
        threads.add(threading.current_thread().name)
        warnings.warn(LIBRARY_LINES[0], UserWarning)
        logging.getLogger("torch.nn").warning(LIBRARY_LINES[1])
        return forward(self, inputs)

    monkeypatch.setattr(torch.nn.Linear, "forward", forward_and_talk)
    return threads


def test_warnings_on_the_training_worker_go_to_the_log_file_not_the_window(routed, talking_layers, make_window,  # noqa: F811
                                                                        small_digits, qtbot, dialogs, monkeypatch):
    errors: list[str] = []
    monkeypatch.setattr(QMessageBox, "critical", lambda parent, title, text, *a: errors.append(text))
    project = load_template("1-mlp")
    project.training = project.training.replace(epochs=1, batch_size=32, device="cpu")
    window = make_window(Document(project))
    window.training.use_dataset(small_digits)
    window.window_actions.train.trigger()
    qtbot.waitUntil(lambda: window.training.state == "idle", timeout=RUN_TIMEOUT_MS)

    assert talking_layers - {threading.main_thread().name}, "the layers ran on the worker"
    log = log_file().read_text()
    assert all(line in log for line in LIBRARY_LINES)
    run_log = [window.training.run_box.run_log.item(row).text() for row in range(window.training.run_box.run_log.count())]
    shown = "\n".join(run_log + dialogs.warnings + dialogs.questions + errors)
    assert run_log and not [line for line in LIBRARY_LINES if line in shown]
