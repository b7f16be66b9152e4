"""What the canvas benchmarks share: a trained CNN template and real mouse drags into the canvas."""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from netbuilder.core.project import load_template  # noqa: E402
from netbuilder.data.digits import load_digits  # noqa: E402
from netbuilder.data.strokes import Drawing  # noqa: E402
from netbuilder.gui.panels.draw_canvas import CANVAS_SIDE, DrawingCanvas  # noqa: E402
from netbuilder.model.checkpoint import TrainedModel  # noqa: E402
from netbuilder.training.events import EpochEnded, Finished  # noqa: E402
from netbuilder.training.session import TrainingSession  # noqa: E402


def train_cnn(train_size: int, epochs: int | None = None):
    """The CNN template trained on built-in digits as the app trains it (its own settings; `epochs`
    overrides its number of epochs), with its progress printed."""
    project = load_template("2-cnn")
    if epochs is not None:
        project.training = project.training.replace(epochs=epochs)
    epochs = project.training.epochs
    dataset = load_digits(train_size=train_size, val_size=min(2000, train_size // 5))
    started = time.perf_counter()
    session = TrainingSession(project, dataset=dataset)
    for event in session.events():
        if isinstance(event, EpochEnded):
            print(f"  epoch {event.epoch}/{event.epochs}: validation accuracy {100 * event.val_accuracy:.1f}%")
        elif isinstance(event, Finished) and event.reason not in ("completed", "early_stopping"):
            raise SystemExit(f"training failed: {event.message}")
    print(f"trained the CNN template on {train_size:,} built-in digits, {epochs} epoch(s), "
          f"in {time.perf_counter() - started:.1f} s")
    return TrainedModel(session.model, session.dataset.recipe, session.history())


def drag_strokes(canvas: DrawingCanvas, drawing: Drawing) -> None:
    """Draw `drawing` (on any canvas size) into the canvas widget with real mouse events, scaled to
    fill the canvas, with the pen scaled likewise: press, a move per point, release, per stroke."""
    square = canvas.square()
    to_widget_x = square.width() / drawing.canvas[0]
    to_widget_y = square.height() / drawing.canvas[1]
    canvas.set_pen_width(drawing.pen_width * CANVAS_SIDE / drawing.canvas[0])
    for stroke in drawing.strokes:
        points = [QPoint(round(square.left() + x * to_widget_x), round(square.top() + y * to_widget_y))
                  for x, y in stroke]
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
        for point in points[1:]:
            QTest.mouseMove(canvas, point)
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])
