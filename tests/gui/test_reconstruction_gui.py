"""An autoencoder in the window: its training data previewed without targets to read, and a
drawing given back in the Draw panel."""
import pytest
import torch
from PySide6.QtCore import QPoint, Qt

from netbuilder.data.base import Dataset
from netbuilder.data.fit import targets_for_task
from netbuilder.gui.panels.samples import DatasetPreview


def test_the_preview_of_reconstruction_data_shows_pictures_without_captions(qtbot):
    x = torch.rand(6, 1, 8, 8)
    labelled = Dataset("shapes", "image", x, torch.arange(6) % 2, x[:0], torch.zeros(0, dtype=torch.long),
                       class_names=["a", "b"])
    preview = DatasetPreview()
    qtbot.addWidget(preview)
    preview.show_dataset(labelled)
    assert [preview.samples.item(i).text() for i in range(2)] == ["a", "b"]
    preview.show_dataset(targets_for_task(labelled, "reconstruction"))
    assert preview.samples.count() == 6
    assert all(preview.samples.item(i).text() == "" for i in range(6))
    assert not preview.samples.item(0).icon().isNull()



def small_autoencoder():
    from netbuilder.core.graph import Graph
    from netbuilder.core.project import Project

    g = Graph()
    g.chain(g.add("input", kind="image", shape=(1, 28, 28)), g.add("conv2d", filters=4, padding="same"),
            g.add("relu"), g.add("maxpool2d"), g.add("conv_transpose2d", filters=1),
            g.add("output", task="reconstruction"))
    return Project(g)


def autoencoder_template():
    from netbuilder.core.project import load_template

    return load_template("9-autoencoder")


@pytest.mark.parametrize(("make_project", "layers"), [(small_autoencoder, {"input1", "conv1", "output1"}),
                                                      (autoencoder_template, {"input1", "encoder", "decoder",
                                                                              "output1"})])
def test_the_draw_panel_and_the_cards_show_the_drawing_an_autoencoder_gives_back(make_project, layers, qtbot, tmp_path,
                                                                                 monkeypatch):
    from netbuilder.data.digits import load_digits
    from netbuilder.gui.main_window import MainWindow
    from netbuilder.model.checkpoint import TrainedModel
    from netbuilder.training.session import TrainingSession

    project = make_project()
    project.training = project.training.replace(epochs=1)
    session = TrainingSession(project, dataset=load_digits(train_size=300, val_size=50), threads=1)
    assert list(session.events())[-1].reason == "completed"
    monkeypatch.setenv("NETBUILDER_DATA_DIR", str(tmp_path))
    window = MainWindow(recovery_dir=tmp_path / "recovery", remember_layout=False)
    qtbot.addWidget(window)
    window.set_project(project, None)
    window.show()
    window.draw_dock.show()
    panel = window.draw_panel
    panel.set_trained_model(TrainedModel(session.model, session.dataset.recipe, session.history()))
    view = panel.reading_view
    assert view.reconstruction_view.isVisible() and not view.plot.isVisible() and not view.why.isVisible()
    assert not panel.fine_tune_button.isEnabled()
    square = panel.canvas.square()
    points = [QPoint(round(square.left() + 0.6 * square.width()), round(square.top() + (0.15 + 0.035 * t) * square.height()))
              for t in range(21)]
    qtbot.mousePress(panel.canvas, Qt.MouseButton.LeftButton, pos=points[0])
    for point in points[1:]:
        qtbot.mouseMove(panel.canvas, point)
    qtbot.mouseRelease(panel.canvas, Qt.MouseButton.LeftButton, pos=points[-1])
    qtbot.waitUntil(lambda: panel.reading is not None)
    assert view.top_class.text() == "Given back"
    error = panel.reading.prediction.errors[0]
    assert view.top_probability.text().startswith(f"reconstruction error {error:.3g}")
    assert panel.reading.reconstruction.shape == (28, 28) and not view.reconstruction_view.pixmap().isNull()
    qtbot.waitUntil(lambda: not window.activation_views.pending)  # the views come after the answer
    shown = {window.document.graph.nodes[node_id].name for node_id in window.activation_views.node_ids}
    assert layers <= shown
