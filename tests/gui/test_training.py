"""Training in the window: the training panel drives a real run of the MLP template on a small
subset of the built-in digits (600 training and 200 validation samples, generated once per test
session)."""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QScrollArea

from netbuilder.core.project import load_template
from netbuilder.gui.document import Document
from netbuilder.gui.panels.samples import SampleGallery
from netbuilder.gui.panels.training import TrainingPanel

RUN_TIMEOUT_MS = 60_000


@pytest.fixture(scope="session")
def small_digits():
    from netbuilder.data.digits import load_digits

    return load_digits(train_size=600, val_size=200)


@pytest.fixture
def panel(qtbot, small_digits):
    document = Document(load_template("1-mlp"))
    document.project.training = document.project.training.replace(epochs=1, batch_size=32, device="cpu")
    panel = TrainingPanel(document)
    panel.report_interval = 0.0
    qtbot.addWidget(panel)
    panel.resize(1200, 700)
    panel.show()
    qtbot.waitExposed(panel)
    panel.use_dataset(small_digits)
    yield panel
    panel.shutdown()


def wait_until_idle(qtbot, panel, timeout=RUN_TIMEOUT_MS):
    qtbot.waitUntil(lambda: panel.state == "idle", timeout=timeout)


def test_one_epoch_fills_the_curves_the_progress_and_the_confusion_matrix(qtbot, panel):
    panel.start_action.trigger()
    assert panel.state == "preparing" and not panel.start_action.isEnabled() and panel.stop_action.isEnabled()
    wait_until_idle(qtbot, panel)
    assert panel.run_box.progress.value() == panel.run_box.progress.maximum()
    assert panel.run_box.epoch_progress.value() == panel.run_box.epoch_progress.maximum() == 19  # 600 samples in batches of 32
    assert "Trained 1 epoch" in panel.run_box.message.text()
    qtbot.wait(80)  # the plots redraw from their timer
    x, y = panel.plots.curves["batch_loss"].getData()
    assert x.dtype == np.float64 and len(x) >= 2 and np.all(np.isfinite(y))
    assert len(panel.plots.curves["val_accuracy"].getData()[0]) == 1
    confusion = panel.confusion.confusion
    assert confusion.shape == (10, 10) and confusion.sum() == 200
    assert "accuracy per class" in panel.confusion.accuracy_label.text()


def test_clicking_a_confusion_cell_opens_its_samples_most_confident_first(qtbot, panel):
    panel.start()
    wait_until_idle(qtbot, panel)
    confusion = panel.confusion.confusion
    true_class = int(np.argmax(np.diag(confusion)))
    view = panel.confusion
    panel.tabs.setCurrentWidget(view)
    qtbot.wait(50)
    scene_point = view.image.mapToScene(QPointF(true_class + 0.5, true_class + 0.5))
    viewport_point = view.graphics.mapFromScene(scene_point)
    qtbot.mouseClick(view.graphics.viewport(), Qt.MouseButton.LeftButton, pos=viewport_point)
    assert len(panel.galleries) == 1
    gallery: SampleGallery = panel.galleries[0]
    assert gallery.samples.count() == confusion[true_class, true_class]
    confidences = [int(gallery.samples.item(i).text().split("\n")[0].split()[-1].rstrip("%"))
                   for i in range(gallery.samples.count())]
    assert confidences == sorted(confidences, reverse=True)
    assert not gallery.samples.item(0).icon().isNull()


def test_stop_mid_epoch_stops_before_the_next_batch(qtbot, panel):
    panel.document.project.training = panel.document.project.training.replace(epochs=50)
    panel.start()
    qtbot.waitUntil(lambda: len(panel.plots.current.batch_x) >= 2, timeout=RUN_TIMEOUT_MS)
    trained_when_asked = len(panel.run.session.history().reports)  # one report a batch here
    panel.stop_action.trigger()
    wait_until_idle(qtbot, panel)
    assert len(panel.plots.current.batch_x) <= trained_when_asked + 1  # the batch under way, no other
    assert panel.run_box.message.text().startswith("Stopped")


def test_pause_change_the_learning_rate_and_resume_continues_the_same_run(qtbot, panel):
    panel.document.project.training = panel.document.project.training.replace(epochs=100)
    panel.start()
    qtbot.waitUntil(lambda: len(panel.plots.current.batch_x) >= 2, timeout=RUN_TIMEOUT_MS)
    panel.pause_action.trigger()
    assert panel.state == "paused" and panel.start_action.text() == "Resume"
    assert panel.paused.isVisible() and not panel.settings.isEnabled()
    field = panel.paused.fields["learning_rate"]
    assert float(field.widget.text()) == pytest.approx(1e-3, rel=0.05)  # the rate the schedule has reached
    qtbot.waitUntil(lambda: panel.run.session.control.holding, timeout=RUN_TIMEOUT_MS)  # its last batch done
    rate_now = panel.run.paused_values()["learning_rate"]  # the rate in use, which the marker names
    field.widget.setText("0.0003")
    field.widget.editingFinished.emit()
    seen_before = panel.plots.current.batch_x[-1]
    epochs_before = len(panel.plots.current.epoch_x)  # on this small set, epochs may have ended already
    panel.paused.apply_changes.click()
    assert panel.state == "running"
    # the change takes effect at the next batch: stop only once the run has gone on past it
    qtbot.waitUntil(lambda: bool(panel.plots.marker_labels())
                    and len(panel.plots.current.epoch_x) >= epochs_before + 2, timeout=RUN_TIMEOUT_MS)
    panel.stop()
    wait_until_idle(qtbot, panel)
    label = f"lr {rate_now:.3g} → 0.0003"
    assert panel.plots.marker_labels() == [label]
    assert len(panel.plots.markers) == 3  # one line on each plot
    assert any(label in panel.run_box.run_log.item(i).text() for i in range(panel.run_box.run_log.count()))
    positions = panel.plots.current.batch_x
    assert positions == sorted(positions) and positions[-1] > seen_before  # the same run went on
    assert panel.plots.previous.empty  # no second run began
    rates = panel.plots.current.learning_rate
    assert rates[0] == pytest.approx(1e-3, rel=0.05) and rates[-1] <= 3e-4


def test_an_absurd_learning_rate_shows_the_nan_message_in_the_panel(qtbot, panel, small_digits):
    # unscaled inputs make the gradients explode at once at this rate
    panel.use_dataset(dataclasses.replace(small_digits, train_x=small_digits.train_x * 1e6))
    panel.settings.set_setting("learning_rate", 10.0)
    panel.settings.set_setting("optimizer", "sgd")
    panel.start()
    wait_until_idle(qtbot, panel)
    assert "The loss became" in panel.run_box.message.text() and "lower the learning rate" in panel.run_box.message.text()


def test_settings_edits_are_undoable_project_edits(qtbot, panel):
    document = panel.document
    field = panel.settings.fields["epochs"]
    field.widget.setValue(7)
    assert document.project.training.epochs == 7 and document.modified
    document.undo_stack.undo()
    assert document.project.training.epochs == 1 and not document.modified
    assert field.widget.value() == 1
    panel.settings.set_setting("learning_rate", "fast please")
    assert "learning rate must be a number" in panel.settings.errors["learning_rate"].text()
    assert document.project.training.learning_rate == 1e-3


def test_a_network_with_problems_cannot_start_and_says_why(qtbot, panel):
    from netbuilder.core.commands import RemoveNodes

    document = panel.document
    first_dense = next(node.id for node in document.graph.nodes.values() if node.type_id == "dense")
    document.push(RemoveNodes([first_dense]))
    assert not panel.start_action.isEnabled()
    assert panel.start_action.toolTip().startswith("Cannot train yet:")
    document.undo_stack.undo()
    assert panel.start_action.isEnabled()


def test_the_panel_says_when_the_canvas_differs_from_the_trained_network(qtbot, panel):
    from netbuilder.core.commands import SetParams

    panel.start()
    wait_until_idle(qtbot, panel)
    assert panel.run_box.snapshot_note.isHidden()
    dense = next(node.id for node in panel.document.graph.nodes.values() if node.type_id == "dense")
    panel.document.push(SetParams(dense, {"units": 64}))
    assert not panel.run_box.snapshot_note.isHidden() and "was trained" in panel.run_box.snapshot_note.text()
    panel.document.undo_stack.undo()
    assert panel.run_box.snapshot_note.isHidden()


def test_choosing_a_csv_file_is_undoable_and_its_samples_load_off_the_gui_thread(qtbot, panel, tmp_path):
    table = tmp_path / "flowers.csv"
    rows = ["length,width,kind"] + [f"{1 + i % 7}.5,{2 + i % 3}.0,{'ab'[i % 2]}" for i in range(40)]
    table.write_text("\n".join(rows) + "\n", encoding="utf-8")
    document = panel.document
    panel.data.choose_dataset(str(table))
    assert document.project.dataset == str(table) and document.modified
    assert panel.data.dataset_choice.currentData() == str(table)
    qtbot.waitUntil(lambda: panel.data.dataset is not None and panel.data.loader is None, timeout=10_000)
    assert "Per class: a 16, b 16" in panel.preview.counts_label.text()
    assert re.fullmatch(r"[ab]: length=\S+, width=\S+", panel.preview.samples.item(0).text())
    document.undo_stack.undo()
    assert document.project.dataset == "digits" and panel.data.dataset_choice.currentData() == "digits"


def test_a_dataset_that_cannot_be_read_says_why_in_the_preview(qtbot, panel, tmp_path):
    panel.data.choose_dataset(str(tmp_path / "missing"))
    qtbot.waitUntil(lambda: panel.data.loader is None, timeout=10_000)
    assert "There is no dataset" in panel.preview.counts_label.text()
    assert panel.data.dataset is None


def test_the_plots_export_as_png_and_the_history_as_csv(qtbot, panel, tmp_path, monkeypatch):
    from PySide6.QtGui import QImage
    from PySide6.QtWidgets import QFileDialog

    panel.start()
    wait_until_idle(qtbot, panel)
    chosen = iter([str(tmp_path / "curves"), str(tmp_path / "history")])
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *args, **kwargs: (next(chosen), ""))
    panel.curve_files.save_plot()
    panel.curve_files.export_history()
    assert not QImage(str(tmp_path / "curves.png")).isNull()
    lines = (tmp_path / "history.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("epochs_done,row,batch_loss,smoothed_loss,learning_rate")
    assert sum(line.split(",")[1] == "batch" for line in lines[1:]) == len(panel.plots.current.batch_x)
    assert lines[-1].startswith("1.0,epoch,")
    assert "val loss" in panel.plots.values_at(1.0) and "lr " in panel.plots.values_at(0.5)


def test_the_window_opens_with_its_training_and_draw_panels_without_importing_torch(tmp_path):
    """torch takes seconds to import: the window must open without it and load it only to train."""
    import subprocess
    import sys

    code = ("import os, sys; os.environ['QT_QPA_PLATFORM'] = 'offscreen';"
            "from PySide6.QtWidgets import QApplication; app = QApplication([]);"
            "from netbuilder.gui.main_window import MainWindow;"
            "from netbuilder.core.project import load_template;"
            "window = MainWindow(remember_layout=False, recovery_dir=__import__('pathlib').Path(sys.argv[1]));"
            "window.set_project(load_template('2-cnn'), None, 'template'); window.show();"
            "window.training_dock.raise_(); window.draw_dock.show(); app.processEvents();"
            "print('torch' in sys.modules, flush=True); os._exit(0)")  # the answer is in: skip Qt's teardown
    repository = Path(__file__).parents[2]  # python -c imports the checkout it runs in
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                            text=True, check=True, cwd=repository, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_gallery_samples_of_a_cell_come_most_confident_first_and_texts_read_as_words():
    from netbuilder.gui.panels.samples import cell_samples, sample_text
    from netbuilder.training.events import ValidationSamples

    validation = ValidationSamples(np.array([[2, 3, 0, 0], [3, 0, 0, 0], [2, 2, 3, 0]]), np.array([1, 1, 1]), "tokens",
                                   ("<pad>", "<unk>", "good", "film"))
    probabilities = np.array([[0.4, 0.6], [0.1, 0.9], [0.7, 0.3]])
    predictions = probabilities.argmax(axis=1)
    assert cell_samples(validation, predictions, probabilities, 1, 1).tolist() == [1, 0]
    assert cell_samples(validation, predictions, probabilities, 1, 0).tolist() == [2]
    assert sample_text(validation.x[0], "tokens", validation.vocabulary) == "good film"
    assert sample_text(np.array([0.5, -1.25]), "vector", column_names=("width", "depth")) == "width=0.5, depth=-1.25"


def test_a_checkpoint_another_run_saves_meanwhile_is_kept_and_the_log_says_where_this_one_went(
        qtbot, panel, tmp_path):
    from netbuilder.core.project import save_project

    project_file = tmp_path / "mlp.nbproj"
    save_project(panel.document.project, project_file)
    panel.document.path = project_file
    panel.start_action.trigger()
    (tmp_path / "mlp.safetensors").write_bytes(b"saved by netbuilder-cli meanwhile")
    wait_until_idle(qtbot, panel)
    assert (tmp_path / "mlp.safetensors").read_bytes() == b"saved by netbuilder-cli meanwhile"
    assert (tmp_path / "mlp-2.safetensors").stat().st_size > 1000
    log = [panel.run_box.run_log.item(row).text() for row in range(panel.run_box.run_log.count())]
    assert any("Another run saved mlp.safetensors while this one trained" in line and "mlp-2.safetensors" in line
               for line in log)


def test_momentum_and_nesterov_are_offered_only_with_sgd(panel):
    fields = panel.settings.fields
    panel.settings.set_setting("optimizer", "adam")
    assert not fields["momentum"].widget.isEnabled() and not fields["nesterov"].widget.isEnabled()
    assert "SGD optimizer only" in fields["momentum"].widget.toolTip()
    panel.settings.set_setting("optimizer", "sgd")
    assert fields["momentum"].widget.isEnabled() and fields["nesterov"].widget.isEnabled()
    assert fields["learning_rate"].widget.isEnabled()


def test_label_smoothing_is_offered_only_for_classification_and_the_schedule_says_what_it_does(panel):
    fields = panel.settings.fields
    assert fields["label_smoothing"].widget.isEnabled()
    output = next(node for node in panel.document.project.graph.nodes.values() if node.spec.is_sink)
    output.params["task"] = "regression"
    panel.refresh()
    assert not fields["label_smoothing"].widget.isEnabled()
    assert "classification only" in fields["label_smoothing"].widget.toolTip()
    panel.settings.set_setting("schedule", "step")
    assert "drops tenfold" in fields["schedule"].widget.toolTip()
    panel.settings.set_setting("schedule", "one_cycle")
    assert "first 30%" in fields["schedule"].widget.toolTip()


def test_apply_and_resume_is_in_view_while_paused_at_any_scroll_position(qtbot, panel):
    """The paused changes are below the scrolled column, not at its end below the fold."""
    panel.resize(1000, 560)
    panel.document.project.training = panel.document.project.training.replace(epochs=100)
    panel.start()
    qtbot.waitUntil(lambda: len(panel.plots.current.batch_x) >= 2, timeout=RUN_TIMEOUT_MS)
    panel.pause_action.trigger()
    qtbot.waitUntil(lambda: panel.paused.apply_changes.isVisible())
    scroll = panel.findChild(QScrollArea)
    for position in (scroll.verticalScrollBar().minimum(), scroll.verticalScrollBar().maximum()):
        scroll.verticalScrollBar().setValue(position)
        visible = panel.paused.apply_changes.visibleRegion().boundingRect()
        assert visible.size() == panel.paused.apply_changes.size()  # all of it, not cut by the scroll area
    assert panel.paused.apply_changes.height() >= panel.paused.apply_changes.minimumSizeHint().height()  # not squeezed
    panel.paused.apply_changes.click()
    panel.stop()
    wait_until_idle(qtbot, panel)


def test_starting_from_the_models_weights_is_offered_once_there_are_weights_and_is_an_undoable_setting(
        qtbot, panel, tmp_path):
    from netbuilder.core.project import save_project
    from netbuilder.gui.panels.training_settings_form import START_FROM_WEIGHTS_TEXT

    document, box = panel.document, panel.settings.fields["start_from_weights"].widget
    assert box.text() == START_FROM_WEIGHTS_TEXT and not box.isEnabled()  # no file, so no weights beside it
    assert "no model weights beside this project" in box.toolTip()
    project_file = tmp_path / "mlp.nbproj"
    save_project(document.project, project_file)
    document.mark_saved(project_file)
    assert not box.isEnabled()
    panel.start_action.trigger()  # the first run saves the weights beside the project
    wait_until_idle(qtbot, panel)
    assert box.isEnabled() and "layers that changed" in box.toolTip() and not box.isChecked()
    box.click()
    assert document.project.training.start_from_weights and document.modified
    document.undo_stack.undo()
    assert not document.project.training.start_from_weights and not box.isChecked()
    document.undo_stack.redo()
    assert box.isChecked()
    panel.start_action.trigger()
    wait_until_idle(qtbot, panel)
    log = [panel.run_box.run_log.item(row).text() for row in range(panel.run_box.run_log.count())]
    assert any(re.fullmatch(r"Starting from the model's weights: all \d+ tensors\.", line) for line in log), log


def test_a_streamed_folder_previews_with_its_class_counts_and_its_gallery_reads_the_samples_it_shows(
        qtbot, tmp_path, monkeypatch):
    import cv2

    from netbuilder.data.folders import load_image_folder
    from netbuilder.data.stream import StreamedImages
    from netbuilder.gui.panels.samples import DatasetPreview
    from netbuilder.training.events import ValidationSamples

    monkeypatch.setenv("NETBUILDER_CACHE_DIR", str(tmp_path / "cache"))
    for label, count in (("cats", 5), ("dogs", 7)):
        (tmp_path / "pets" / label).mkdir(parents=True)
        for index in range(count):
            cv2.imwrite(str(tmp_path / "pets" / label / f"{index}.png"), np.full((6, 6, 3), 30 * index, np.uint8))
    dataset = load_image_folder(tmp_path / "pets", size=6, stream=True, val_fraction=0.4)
    assert isinstance(dataset.val_x, StreamedImages)
    preview = DatasetPreview()
    qtbot.addWidget(preview)
    preview.show_dataset(dataset)
    assert preview.samples.count() == len(dataset.train_x) == 7
    assert "Per class: cats 3, dogs 4" in preview.counts_label.text()
    assert "Streaming from disk: 12 images" in preview.counts_label.text()
    validation = ValidationSamples(dataset.val_x, dataset.val_y.numpy(), "image")
    probabilities = np.tile([[0.8, 0.2]], (len(dataset.val_y), 1))
    gallery = SampleGallery(validation, probabilities.argmax(axis=1), probabilities, dataset.class_names, 1, 0)
    qtbot.addWidget(gallery)
    assert gallery.samples.count() == 3  # the dogs held out, read from the cache as the gallery shows them
