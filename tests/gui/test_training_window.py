"""Training inside the main window: closing or replacing the project during a run, weights kept
beside the project and the last run restored on open, health badges on the canvas."""
from __future__ import annotations


import pytest
from PySide6.QtWidgets import QMessageBox

from netbuilder.core.project import load_template, save_project
from netbuilder.gui.document import Document
from netbuilder.gui.editor.health_badge import HealthBadge
from netbuilder.training.events import HealthReport, LayerHealth
from test_main_window import dialogs, make_window, settings_dir  # noqa: F401 (fixtures)
from test_training import RUN_TIMEOUT_MS, small_digits  # noqa: F401 (fixture)

Button = QMessageBox.StandardButton


@pytest.fixture
def training_window(make_window, small_digits):  # noqa: F811
    project = load_template("1-mlp")
    project.training = project.training.replace(epochs=1, batch_size=32, device="cpu")
    window = make_window(Document(project))
    window.training.report_interval = 0.0
    window.training.use_dataset(small_digits)
    return window


def long_run(window, qtbot):
    window.training.document.project.training = window.training.document.project.training.replace(epochs=100)
    window.window_actions.train.trigger()
    qtbot.waitUntil(lambda: len(window.training.plots.current.batch_x) >= 2, timeout=RUN_TIMEOUT_MS)


def test_closing_the_window_during_training_stops_the_run_cleanly(training_window, qtbot, dialogs):  # noqa: F811
    window = training_window
    long_run(window, qtbot)
    worker = window.training.worker
    dialogs.answer = Button.Yes
    assert window.close()
    assert worker.isFinished()  # close() waited for the run to end (and gives up after 2 s)
    assert any("training run is in progress" in question for question in dialogs.questions)


def test_closing_can_be_cancelled_and_the_run_goes_on(training_window, qtbot, dialogs):  # noqa: F811
    window = training_window
    long_run(window, qtbot)
    dialogs.answer = Button.Cancel
    assert not window.close()
    assert window.training.state == "running"
    window.training.stop()
    qtbot.waitUntil(lambda: window.training.state == "idle", timeout=RUN_TIMEOUT_MS)


def test_opening_another_project_stops_the_run(training_window, qtbot, dialogs, tmp_path):  # noqa: F811
    window = training_window
    other = tmp_path / "other.nbproj"
    save_project(load_template("2-cnn"), other)
    long_run(window, qtbot)
    dialogs.answer = Button.Yes
    dialogs.chosen_file = str(other)
    window.window_actions.open.trigger()
    assert window.document.path == other.resolve()
    assert window.training.state == "idle" and window.training.worker is None
    assert window.training.plots.current.empty


def test_weights_wait_for_the_first_save_and_the_run_comes_back_on_open(training_window, qtbot, dialogs,  # noqa: F811
                                                                       tmp_path):
    window = training_window
    window.window_actions.train.trigger()
    qtbot.waitUntil(lambda: window.training.state == "idle", timeout=RUN_TIMEOUT_MS)
    assert window.training.unsaved_run is not None
    path = tmp_path / "mlp.nbproj"
    dialogs.chosen_file = str(path)
    assert window.save()
    assert sorted(p.name for p in tmp_path.iterdir() if p.stem == "mlp") == ["mlp.nbproj", "mlp.runs", "mlp.safetensors"]
    losses = list(window.training.plots.current.batch_loss)

    assert window.draw_panel.trained.model is not None  # the run's model reads drawings

    window.set_project(load_template("1-mlp"), None)
    assert window.training.plots.current.empty and window.training.confusion.confusion is None
    assert window.draw_panel.trained is None
    assert window.open_path(path)
    assert window.training.plots.current.batch_loss == pytest.approx(losses)
    assert window.training.confusion.confusion.sum() == 200
    assert window.draw_panel.trained.history.epochs[-1].confusion.sum() == 200


def test_health_reports_put_a_badge_with_advice_on_the_layer(training_window):
    window = training_window
    dense = next(node for node in window.document.graph.nodes.values() if node.type_id == "dense")
    advice = "lower the learning rate, add BatchNorm before it, or use LeakyReLU."
    window.training.health_reported.emit(HealthReport(0.5, (
        LayerHealth(dense.name, 0.97, 0.01, 1e-6, "dead", advice),)))
    badges = [item for item in window.scene.items() if isinstance(item, HealthBadge)]
    assert len(badges) == 1 and badges[0].parentItem() is window.scene.node_item(dense.id)
    assert advice in badges[0].toolTip() and "97% of outputs are 0" in badges[0].toolTip()
    window.training.health_reported.emit(HealthReport(1.0, ()))
    assert not [item for item in window.scene.items() if isinstance(item, HealthBadge)]


def test_quitting_the_app_after_the_training_panel_was_shown_exits_cleanly(tmp_path):
    """The app as started by `netbuilder`: raise the Training panel, quit; Python must not crash
    while it exits (the plots' C++ objects once outlived the application: SIGSEGV)."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "quit.py"
    script.write_text(
        "import os, sys\n"
        "os.environ['QT_QPA_PLATFORM'] = 'offscreen'\n"
        f"os.environ['XDG_CONFIG_HOME'] = os.environ['XDG_DATA_HOME'] = {str(tmp_path)!r}\n"
        "from PySide6.QtCore import QTimer\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from netbuilder.gui.app import run_gui\n"
        "def quit_after_a_look():\n"
        "    window = next(w for w in QApplication.topLevelWidgets() if hasattr(w, 'training_dock'))\n"
        "    window.training_dock.raise_(); app.processEvents()\n"
        "    window.document.undo_stack.setClean(); window.close(); app.quit()\n"
        "QTimer.singleShot(300, quit_after_a_look)\n"
        "sys.exit(run_gui(None, None))\n")
    repository = Path(__file__).parents[2]
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                            cwd=repository, env={**__import__("os").environ, "PYTHONPATH": str(repository)})
    assert result.returncode == 0, result.stderr[-2000:]


def test_the_app_leaves_torch_one_thread_outside_training_runs(tmp_path):
    """A second OpenMP team (the GUI thread's) slows training on the worker thread by 25-30%: the
    app gives every thread one torch thread unless the user set OMP_NUM_THREADS; runs choose their own."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    code = ("import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen';"
            "from netbuilder.gui.app import run_gui;"
            "run_gui(None, sys.argv[1]);"
            # the window routes sys.stdout to its log file for good; the answer goes to the real one
            "import torch; print(torch.get_num_threads(), file=sys.__stdout__)")
    repository = Path(__file__).parents[2]
    environment = {key: value for key, value in os.environ.items() if key != "OMP_NUM_THREADS"}
    environment.update(PYTHONPATH=str(repository), XDG_CONFIG_HOME=str(tmp_path), XDG_DATA_HOME=str(tmp_path))
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "shot.png")], capture_output=True,
                            text=True, timeout=120, env=environment)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split()[-1] == "1"
    chosen = subprocess.run([sys.executable, "-c", code, str(tmp_path / "shot.png")], capture_output=True,
                            text=True, timeout=120, env={**environment, "OMP_NUM_THREADS": "2"})
    assert chosen.stdout.split()[-1] == "2"


def plotted_series(plots):
    """Every curve of the current run as given to the plot (before clipping to the view): name -> (x, y),
    and the change markers' labels."""
    series = {}
    for name, curve in plots.curves.items():
        x, y = curve.xData, curve.yData
        series[name] = ([] if x is None else x.tolist(), [] if y is None else y.tolist())
    return series, plots.marker_labels()


def test_a_reopened_run_shows_the_curves_it_showed_before_saving(training_window, qtbot, dialogs,  # noqa: F811
                                                                 tmp_path):
    """The smoothed loss, the rate of each report and the change marker's drop survive the save."""
    window = training_window
    training, plots = window.training, window.training.plots
    long_run(window, qtbot)
    qtbot.waitUntil(training.pause_action.isEnabled, timeout=RUN_TIMEOUT_MS)
    training.pause_action.trigger()
    qtbot.waitUntil(lambda: training.state == "paused", timeout=RUN_TIMEOUT_MS)
    field = training.paused.fields["learning_rate"]
    field.widget.setText("0.0003")
    field.widget.editingFinished.emit()
    training.paused.apply_changes.click()
    qtbot.waitUntil(lambda: bool(plots.marker_labels()) and len(plots.current.epoch_x) >= 2, timeout=RUN_TIMEOUT_MS)
    training.stop()
    qtbot.waitUntil(lambda: training.state == "idle", timeout=RUN_TIMEOUT_MS)
    qtbot.waitUntil(lambda: len(plotted_series(plots)[0]["smoothed_loss"][0]) == len(plots.current.batch_x))
    before = plotted_series(plots)
    rates = before[0]["learning_rate"][1]
    assert len(set(rates)) >= 2 and rates[-1] <= 3e-4  # the drop at the change is on the curve
    assert len(before[1]) == 1 and before[1][0].startswith("lr 0.00")  # the rate the schedule had reached →
    assert len(before[0]["smoothed_loss"][0]) >= 2

    dialogs.chosen_file = str(tmp_path / "mlp.nbproj")
    assert window.save()
    window.set_project(load_template("1-mlp"), None)
    assert plotted_series(plots)[0]["smoothed_loss"] == ([], [])
    assert window.open_path(tmp_path / "mlp.nbproj")
    assert plotted_series(plots) == before
