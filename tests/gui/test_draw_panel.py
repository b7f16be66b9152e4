"""The drawing panel: strokes drawn with the mouse, what the model receives, live answers, the
personal handwriting set and the drawing flowing through the graph."""
import json
import math
from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from netbuilder.core.project import load_template
from netbuilder.data.digits import load_digits
from netbuilder.data.handwriting import HandwritingSet
from netbuilder.data.recipe import Recipe, TableRecipe
from netbuilder.gui.panels.draw import DrawPanel
from netbuilder.model.checkpoint import TrainedModel
from netbuilder.training.session import TrainingSession


@pytest.fixture(scope="module")
def trained_mlp():
    """The MLP template trained for one epoch on a few hundred built-in digits."""
    project = load_template("1-mlp")
    project.training = project.training.replace(epochs=1)
    dataset = load_digits(train_size=600, val_size=100)
    session = TrainingSession(project, dataset=dataset, threads=1)
    finished = list(session.events())[-1]
    assert finished.reason == "completed", finished.message
    return TrainedModel(session.model, session.dataset.recipe, session.history())


@pytest.fixture
def panel(qtbot, tmp_path):
    panel = DrawPanel(HandwritingSet(tmp_path / "handwriting"))
    qtbot.addWidget(panel)
    panel.resize(900, 560)
    panel.show()
    qtbot.waitExposed(panel)
    return panel


def drag(qtbot, canvas, points):
    """A real mouse stroke through `points` given as fractions (0-1) of the drawing square."""
    square = canvas.square()
    at = [QPoint(round(square.left() + x * square.width()), round(square.top() + y * square.height()))
          for x, y in points]
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=at[0])
    for point in at[1:]:
        qtbot.mouseMove(canvas, point)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=at[-1])


def one(offset=0.0):
    return [(0.62 + offset, 0.15 + 0.7 * t / 20) for t in range(21)]


def zero():
    return [(0.3 + 0.15 * math.cos(a), 0.5 + 0.3 * math.sin(a)) for a in np.linspace(0, 2 * math.pi, 40)]


@pytest.mark.parametrize("stroke", [one, zero])
def test_a_drawn_digit_reaches_the_model_centred_in_the_central_20x20(qtbot, panel, trained_mlp, stroke):
    panel.set_trained_model(trained_mlp)
    drag(qtbot, panel.canvas, stroke())
    picture = panel.reading.picture
    rows, cols = np.indices(picture.shape)
    centre = ((rows * picture).sum() / picture.sum(), (cols * picture).sum() / picture.sum())
    assert abs(centre[0] - 14) <= 1 and abs(centre[1] - 14) <= 1
    # (the softened edge's faint fringe reaches a pixel further; the ink itself stays inside)
    ink_rows, ink_cols = np.flatnonzero(picture.max(axis=1) > 0.3), np.flatnonzero(picture.max(axis=0) > 0.3)
    assert ink_rows[0] >= 4 and ink_rows[-1] <= 23 and ink_cols[0] >= 4 and ink_cols[-1] <= 23


def test_a_leaning_digit_reaches_the_model_upright_and_the_preview_says_so(qtbot, panel, trained_mlp):
    """A model trained today reads digits stood upright, and the preview's tooltip says so; a model
    saved before that keeps reading them as it was taught, leaning."""
    leaning_one = [(0.7 - 0.3 * t / 20, 0.15 + 0.7 * t / 20) for t in range(21)]

    def ink_width(picture):
        columns = np.flatnonzero(picture.max(axis=0) > 0.3)
        return columns[-1] - columns[0] + 1

    widths = {}
    older_recipe = replace(trained_mlp.recipe, image=replace(trained_mlp.recipe.image, deslant=False))
    for name, trained in (("today", trained_mlp),
                          ("older", TrainedModel(trained_mlp.model, older_recipe, trained_mlp.history))):
        panel.set_trained_model(trained)
        panel.canvas.clear()
        drag(qtbot, panel.canvas, leaning_one)
        qtbot.waitUntil(lambda: panel.reading is not None)
        widths[name] = ink_width(panel.reading.picture)
        assert ("stood upright" in panel.reading_view.preview.toolTip()) == (name == "today")
    assert widths["today"] <= 6 < widths["older"]


def test_the_bars_are_probabilities_and_follow_each_stroke(qtbot, panel, trained_mlp):
    panel.set_trained_model(trained_mlp)
    drag(qtbot, panel.canvas, one())
    first = panel.reading_view.bars.opts["height"].copy()
    assert first.sum() == pytest.approx(1.0, abs=1e-5)
    top = trained_mlp.recipe.class_names[int(first.argmax())]
    answer = panel.reading_view.top_class.text()
    assert answer == top or answer.startswith(f"{top} or ")  # or a close call
    drag(qtbot, panel.canvas, [(0.4, 0.3), (0.8, 0.3)])
    second = panel.reading_view.bars.opts["height"]
    assert second.sum() == pytest.approx(1.0, abs=1e-5) and not np.allclose(first, second)


def test_clear_by_button_right_click_and_esc_empties_the_canvas(qtbot, panel, trained_mlp):
    panel.set_trained_model(trained_mlp)
    canvas = panel.canvas
    clear_button = next(button for button in panel.findChildren(type(panel.train_button)) if button.text() == "Clear")
    for do_clear in (lambda: qtbot.mouseClick(clear_button, Qt.MouseButton.LeftButton),
                     lambda: qtbot.mouseClick(canvas, Qt.MouseButton.RightButton),
                     lambda: qtbot.keyClick(canvas, Qt.Key.Key_Escape)):
        drag(qtbot, canvas, one())
        assert not canvas.drawing().is_empty and panel.reading is not None
        canvas.setFocus()
        do_clear()
        assert canvas.drawing().is_empty and panel.reading is None
        assert not panel.reading_view.bars.opts["height"].any()


def test_ctrl_z_on_the_canvas_undoes_the_last_stroke(qtbot, panel):
    canvas = panel.canvas
    drag(qtbot, canvas, one())
    drag(qtbot, canvas, [(0.4, 0.3), (0.8, 0.3)])
    assert len(canvas.drawing().strokes) == 2
    canvas.setFocus()
    qtbot.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(canvas.drawing().strokes) == 1
    assert canvas.drawing().strokes[0][0][1] < 0.2 * 280  # the 1's stroke, from the top


def test_before_training_the_panel_offers_to_train_on_the_built_in_digits(qtbot, panel):
    assert panel.results.currentIndex() == 0 and "No trained model" in panel.message.text()
    assert panel.train_button.isVisible()
    with qtbot.waitSignal(panel.train_requested, timeout=1000):
        qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)


def test_a_model_that_cannot_read_drawings_says_what_it_expects(qtbot, panel, trained_mlp):
    table = Recipe("vector", (4,), "classification", ("a", "b"),
                   table=TableRecipe(("w", "x", "y", "z"), "label", "standard", (0.0,) * 4, (1.0,) * 4))
    panel.set_trained_model(TrainedModel(trained_mlp.model, table, trained_mlp.history))
    assert "expects table rows of 4 columns" in panel.message.text()
    assert not panel.canvas.isVisible() and not panel.fine_tune_button.isVisible()
    assert not panel.train_button.isVisible()


def test_a_drawing_added_with_a_digit_key_is_in_the_set_after_a_restart(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("NETBUILDER_DATA_DIR", str(tmp_path))
    first = DrawPanel()
    qtbot.addWidget(first)
    first.show()
    drag(qtbot, first.canvas, one())
    first.canvas.setFocus()
    qtbot.keyClick(first.canvas, Qt.Key.Key_1)
    assert first.canvas.drawing().is_empty  # added, ready for the next one
    first.close()
    restarted = DrawPanel()
    qtbot.addWidget(restarted)
    samples = restarted.handwriting.samples()
    assert [sample.label for sample in samples] == [1] and len(samples[0].drawing.strokes) == 1
    assert "1 drawing (1×1)" in restarted.handwriting_status.text()


@pytest.fixture
def mlp_window(qtbot, tmp_path, monkeypatch, trained_mlp):
    """The window on the MLP template, its Draw panel reading with the trained MLP (panel still closed)."""
    from netbuilder.gui.main_window import MainWindow

    monkeypatch.setenv("NETBUILDER_DATA_DIR", str(tmp_path))
    window = MainWindow(recovery_dir=tmp_path / "recovery", remember_layout=False)
    qtbot.addWidget(window)
    window.set_project(load_template("1-mlp"), None)
    window.show()
    window.draw_panel.set_trained_model(trained_mlp)
    return window


def test_the_layer_views_appear_and_disappear_with_the_draw_panel(qtbot, mlp_window):
    window = mlp_window
    assert window.activation_views.node_ids == []
    window.draw_dock.show()
    drag(qtbot, window.draw_panel.canvas, one())
    graph = window.document.graph
    qtbot.waitUntil(lambda: not window.activation_views.pending)  # the views come after the bars
    assert {graph.nodes[node_id].name for node_id in window.activation_views.node_ids} >= {"input1", "fc1", "output1"}
    window.scene.select_nodes([graph.node_named("fc1").id])
    assert window.draw_panel.reading_view.layer_title.text().startswith("fc1: 128 values")
    window.draw_panel.reading_view.flow.setChecked(False)
    assert window.activation_views.node_ids == []
    window.draw_panel.reading_view.flow.setChecked(True)
    qtbot.waitUntil(lambda: not window.activation_views.pending)
    assert window.activation_views.node_ids
    window.draw_dock.hide()
    assert window.activation_views.node_ids == []


def test_the_bars_answer_before_the_views_are_drawn_and_an_unchanged_reading_redraws_no_view(qtbot, mlp_window):
    window = mlp_window
    window.draw_dock.show()
    views = window.activation_views
    drag(qtbot, window.draw_panel.canvas, one())
    # the stroke has ended: the answer is there, the views wait for the event loop's next turns
    assert window.draw_panel.reading_view.bars.opts["height"].sum() == pytest.approx(1.0, abs=1e-5)
    assert views.pending
    qtbot.waitUntil(lambda: not views.pending)
    shown = views.node_ids
    window.draw_panel.update_prediction()  # the same drawing again: the same outputs, nothing to draw
    assert not views.pending and views.node_ids == shown
    drag(qtbot, window.draw_panel.canvas, [(0.2, 0.5), (0.8, 0.5)])  # a new stroke: new outputs to draw
    assert views.pending


def test_fine_tuning_reports_held_out_accuracy_before_and_after_and_reads_with_the_result(
        qtbot, panel, trained_mlp):
    for _ in range(4):
        drag(qtbot, panel.canvas, one())
        panel.add_to_handwriting(1)
        drag(qtbot, panel.canvas, [(0.2, 0.5), (0.8, 0.5)])  # a bar, taught as a 7
        panel.add_to_handwriting(7)
    panel.set_trained_model(trained_mlp)
    before = panel.reader.model
    to_save = []
    panel.fine_tuned.connect(to_save.append)  # the window saves these beside the project
    panel.fine_tune(load_template("1-mlp"))
    assert not panel.fine_tune_button.isEnabled()
    qtbot.waitUntil(lambda: "held-out drawings read" in panel.handwriting_status.text(), timeout=60_000)
    assert "your 2 held-out drawings read" in panel.handwriting_status.text()
    assert panel.reader.model is not before and panel.fine_tune_button.isEnabled()
    assert [trained.model for trained in to_save] == [panel.reader.model]
    assert trained_mlp.model is before  # the model that was given is untouched


def test_fine_tuning_an_empty_set_says_how_to_fill_it(qtbot, panel, trained_mlp):
    panel.set_trained_model(trained_mlp)
    panel.fine_tune(load_template("1-mlp"))
    qtbot.waitUntil(lambda: "press a digit key" in panel.handwriting_status.text(), timeout=10_000)
    assert panel.fine_tune_button.isEnabled()


def test_predict_strokes_on_a_saved_drawing_gives_the_panels_probabilities(qtbot, panel, trained_mlp, tmp_path,
                                                                          capsys):
    from netbuilder.core.project import save_project
    from netbuilder.model.checkpoint import save_checkpoint
    from netbuilder.__main__ import cli_main as main

    project_path = tmp_path / "mlp.nbproj"
    save_project(load_template("1-mlp"), project_path)
    save_checkpoint(trained_mlp.model, trained_mlp.history, project_path, recipe=trained_mlp.recipe)
    panel.set_trained_model(trained_mlp)
    drag(qtbot, panel.canvas, zero())
    drag(qtbot, panel.canvas, one(offset=0.1))
    panel.canvas.drawing().save(tmp_path / "drawn.json")
    shown = dict(zip(trained_mlp.recipe.class_names, panel.reading_view.bars.opts["height"]))

    assert main(["predict", str(project_path), "--strokes", str(tmp_path / "drawn.json"), "--json", "--top", "10"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["sample"] == "drawn.json"
    assert {entry["class"]: entry["probability"] for entry in row["top"]} == pytest.approx(shown, abs=1e-5)

    many = [str(tmp_path / "drawn.json")] * 600  # one call, read in batches
    assert main(["predict", str(project_path), "--strokes", *many, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 600 and rows[-1]["top"][0] == row["top"][0]


def test_predict_strokes_refuses_a_file_that_is_not_a_drawing(trained_mlp, tmp_path, capsys):
    from netbuilder.core.project import save_project
    from netbuilder.model.checkpoint import save_checkpoint
    from netbuilder.__main__ import cli_main as main

    project_path = tmp_path / "mlp.nbproj"
    save_project(load_template("1-mlp"), project_path)
    save_checkpoint(trained_mlp.model, trained_mlp.history, project_path, recipe=trained_mlp.recipe)
    (tmp_path / "bad.json").write_text('{"canvas": [280, 280], "pen_width": 5, "strokes": [[[1, 2], [3]]]}')
    assert main(["predict", str(project_path), "--strokes", str(tmp_path / "bad.json")]) == 2
    assert "bad.json: stroke 1 has a point [3]" in capsys.readouterr().err


def test_while_a_stroke_is_drawn_the_answer_follows_it_throttled(qtbot, panel, trained_mlp):
    panel.set_trained_model(trained_mlp)
    canvas = panel.canvas
    square = canvas.square()
    points = [QPoint(round(square.left() + x * square.width()), round(square.top() + y * square.height()))
              for x, y in one()]
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=points[0])
    for point in points[1:]:
        qtbot.mouseMove(canvas, point)
    assert panel.reading is None  # not once per mouse move: at most every LIVE_INTERVAL_MS
    qtbot.waitUntil(lambda: panel.reading is not None, timeout=2000)
    assert len(panel.reading.prediction) == 1 and not canvas.drawing().is_empty
    assert panel.reading_view.bars.opts["height"].sum() == pytest.approx(1.0, abs=1e-5)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=points[-1])
    assert len(canvas.drawing().strokes) == 1


def test_the_gallery_shows_the_set_by_digit_and_deletes_after_asking(qtbot, panel, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from netbuilder.gui.panels.draw_gallery import HandwritingGallery

    for label in (1, 1, 7):
        drag(qtbot, panel.canvas, one())
        panel.add_to_handwriting(label)
    gallery = HandwritingGallery(panel.handwriting, panel)
    qtbot.addWidget(gallery)
    assert [gallery.items.item(i).text() for i in range(gallery.items.count())] == ["1", "1", "7"]
    gallery.digit.setCurrentIndex(1 + 7)
    assert gallery.items.count() == 1
    gallery.digit.setCurrentIndex(1 + 1)
    gallery.items.item(0).setSelected(True)
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.No)
    gallery.delete_selected()
    assert gallery.items.count() == 2
    monkeypatch.setattr(QMessageBox, "question", lambda *args, **kwargs: QMessageBox.StandardButton.Yes)
    gallery.items.item(0).setSelected(True)
    gallery.delete_selected()
    assert gallery.items.count() == 1 and panel.handwriting.counts()[1] == 1 and panel.handwriting.counts()[7] == 1


def test_the_pen_width_slider_sets_the_pen_drawn_with_and_the_model_reads_the_shape_alone(qtbot, panel, trained_mlp):
    panel.set_trained_model(trained_mlp)
    panel.pen_slider.setValue(10)
    drag(qtbot, panel.canvas, one())
    thin = panel.reading.picture.copy()
    panel.pen_slider.setValue(35)
    assert panel.canvas.drawing().pen_width == 35
    # The model reads every drawing with one pen in proportion to its size, as it was taught (a
    # thin stroke, softened, peaks below full ink but is plainly there).
    assert np.array_equal(panel.reading.picture, thin) and thin.max() > 0.5


@pytest.mark.parametrize("margin", [0.0, 1.01])
def test_when_the_two_top_classes_are_close_the_panel_asks_instead_of_answering(qtbot, panel, trained_mlp,
                                                                                monkeypatch, margin):
    # the margin decides: with 0 no answer is a close call, with above 1 every answer is
    monkeypatch.setattr("netbuilder.data.certainty.CLOSE_CALL_MARGIN", margin)
    panel.set_trained_model(trained_mlp)
    drag(qtbot, panel.canvas, one())
    probabilities = panel.reading_view.bars.opts["height"]
    first, second = (trained_mlp.recipe.class_names[index] for index in np.argsort(-probabilities, kind="stable")[:2])
    if margin:
        assert panel.reading_view.top_class.text() == f"{first} or {second}?"
        assert panel.reading_view.top_probability.text().startswith(f"Not sure: {first} ")
    else:
        assert panel.reading_view.top_class.text() == first
        assert panel.reading_view.top_probability.text().endswith("% sure")


def test_a_blank_canvas_is_nothing_drawn_in_the_panel_and_in_predict(qtbot, panel, trained_mlp, tmp_path, capsys):
    from netbuilder.__main__ import cli_main as main
    from netbuilder.core.project import save_project
    from netbuilder.model.checkpoint import save_checkpoint

    panel.set_trained_model(trained_mlp)
    drag(qtbot, panel.canvas, one())
    panel.canvas.clear()
    assert panel.reading is None and panel.reading_view.top_class.text() == "–"
    assert panel.reading_view.top_probability.text().startswith("Nothing drawn")
    assert not panel.reading_view.bars.opts["height"].any()

    project_path = tmp_path / "mlp.nbproj"
    save_project(load_template("1-mlp"), project_path)
    save_checkpoint(trained_mlp.model, trained_mlp.history, project_path, recipe=trained_mlp.recipe)
    panel.canvas.drawing().save(tmp_path / "blank.json")
    capsys.readouterr()
    assert main(["predict", str(project_path), "--strokes", str(tmp_path / "blank.json"), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["nothing_to_read"] == "nothing drawn" and row["top"] == []
    assert main(["predict", str(project_path), "--strokes", str(tmp_path / "blank.json")]) == 0
    assert capsys.readouterr().out.splitlines()[1].split(None, 1) == ["blank.json", "(nothing drawn)"]


def test_the_panel_is_side_by_side_when_wide_and_stacks_when_narrow_without_hiding_anything(qtbot, tmp_path,
                                                                                            trained_mlp):
    """In a scroll area, as in the window: wide, the reading sits beside the drawing and the
    handwriting buttons make one row; narrow (and tall), the reading goes under the drawing and the
    buttons take two rows; shrinking from wide to narrow never leaves it wider than shown."""
    from PySide6.QtCore import QRect
    from PySide6.QtWidgets import QPushButton, QScrollArea

    panel = DrawPanel(HandwritingSet(tmp_path / "handwriting"))
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(panel)
    qtbot.addWidget(scroll)
    scroll.show()
    panel.set_trained_model(trained_mlp)

    def top_left(widget):
        return widget.mapTo(panel, QPoint(0, 0))

    def all_in_sight():
        viewport = scroll.viewport()
        return all(viewport.rect().contains(QRect(widget.mapTo(viewport, QPoint(0, 0)), widget.size()))
                   for widget in (panel.canvas, panel.reading_view.top_class, panel.reading_view.plot,
                                  *panel.findChildren(QPushButton))
                   if widget.isVisible())

    scroll.resize(950, 560)
    qtbot.waitUntil(lambda: panel.width() == scroll.viewport().width() and panel.is_side_by_side())
    assert top_left(panel.reading_view.plot).x() > top_left(panel.canvas).x() + panel.canvas.width() - 1
    assert top_left(panel.fine_tune_button).y() == top_left(panel.label_choice).y()  # one row
    assert all_in_sight()

    scroll.resize(380, 760)
    qtbot.waitUntil(lambda: not panel.is_side_by_side() and panel.width() == scroll.viewport().width())
    assert top_left(panel.reading_view.plot).y() > top_left(panel.canvas).y() + panel.canvas.height() - 1
    assert top_left(panel.fine_tune_button).y() > top_left(panel.label_choice).y()  # two rows
    assert not scroll.horizontalScrollBar().isVisible() and all_in_sight()

    scroll.resize(950, 560)
    qtbot.waitUntil(lambda: panel.is_side_by_side())
