"""How long from lifting the pen to updated bars, and to updated views, with the CNN template in the window?

The main window holds the CNN template (trained briefly on built-in digits: the weights do not
change the cost) with the Draw dock open. Pen traces of built-in digits are drawn into the canvas
with real mouse events; for each stroke two clocks run from the mouse release:
- bars: until the bars' plot has painted the new answer (the rendering, the recipe's
  preprocessing, the forward pass with every layer's output kept, the answer, the preview, and
  whatever the event loop does before that paint);
- views done: until the views under the cards are all up to date and the graph has been
  repainted (the end of all the work the stroke caused).
Measured with the views under the cards on and off, and the forward pass alone for scale.

    QT_QPA_PLATFORM=offscreen python bench/canvas_latency.py            # 300 digits
    QT_QPA_PLATFORM=offscreen python bench/canvas_latency.py --quick    # 40 digits

Ends with the line `stroke_to_bars_ms_p50=<x> p99=<y> views_done_ms_p99=<z>` (views on; targets:
bars p99 <= 30 ms, views p99 <= 100 ms).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("NETBUILDER_DATA_DIR", tempfile.mkdtemp(prefix="netbuilder-bench-"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from canvas_setup import train_cnn  # noqa: E402
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from netbuilder.core.project import load_template  # noqa: E402
from netbuilder.data.digits import pen_traces  # noqa: E402
from netbuilder.gui.main_window import MainWindow  # noqa: E402
from netbuilder.gui.panels.draw_canvas import CANVAS_SIDE  # noqa: E402


class PaintClock:
    """Notes when a view (the bars' plot) has finished painting, from its own paintEvent."""

    def __init__(self, view):
        self.view, self.painted_at = view, None
        self._paint = view.paintEvent

    def __enter__(self) -> PaintClock:
        self.view.paintEvent = self._timed_paint
        return self

    def __exit__(self, *_) -> None:
        del self.view.paintEvent

    def _timed_paint(self, event) -> None:
        self._paint(event)
        if self.painted_at is None:
            self.painted_at = time.perf_counter()


def stroke_latencies(app: QApplication, window: MainWindow, count: int) -> tuple[list[float], list[float]]:
    """Milliseconds from each stroke's mouse release to the bars' paint, and to the end of the work it caused."""
    bars, done = [], []
    with PaintClock(window.draw_panel.reading_view.plot) as clock:
        _draw_all(app, window, count, clock, bars, done)
    return bars, done


def _draw_all(app: QApplication, window: MainWindow, count: int, clock: PaintClock, bars: list[float],
              done: list[float]) -> None:
    canvas = window.draw_panel.canvas
    square = canvas.square()
    for drawing in pen_traces(count, seed=7)[0]:
        canvas.clear()
        app.processEvents()
        canvas.set_pen_width(drawing.pen_width * CANVAS_SIDE / drawing.canvas[0])
        scale = square.width() / drawing.canvas[0]
        for stroke in drawing.strokes:
            points = [QPoint(round(square.left() + x * scale), round(square.top() + y * scale)) for x, y in stroke]
            QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[0])
            for point in points[1:]:
                QTest.mouseMove(canvas, point)
            while window.activation_views.pending:  # the throttled live update while drawing, untimed
                app.processEvents()
            app.processEvents()
            clock.painted_at = None
            started = time.perf_counter()
            QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, points[-1])
            app.processEvents()  # the repaints of the bars, the preview and the canvas, then the views' first slice
            while window.activation_views.pending:
                app.processEvents()
            app.processEvents()  # the graph's repaint with the new views
            finished = time.perf_counter()
            if clock.painted_at is None:  # the bars never painted: the figure would only repeat `done`
                raise SystemExit("the bars' plot did not paint: the Draw panel is not in sight")
            painted = clock.painted_at
            bars.append((painted - started) * 1000)
            done.append((finished - started) * 1000)


def describe(name: str, latencies: list[float]) -> tuple[float, float]:
    p50, p99 = np.percentile(latencies, 50), np.percentile(latencies, 99)
    print(f"{name:<44} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   max {max(latencies):6.2f} ms   "
          f"({len(latencies)} strokes)")
    return p50, p99


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="40 digits instead of 300")
    args = parser.parse_args()
    count = 40 if args.quick else 300
    app = QApplication.instance() or QApplication([])
    trained = train_cnn(3000, 1)
    window = MainWindow(remember_layout=False)
    window.set_project(load_template("2-cnn"), None, "template")
    window.resize(1280, 800)  # the default layout's size, where the Draw panel is a tab showing its bars
    window.show()
    window.draw_dock.show()
    window.draw_dock.raise_()
    window.draw_panel.set_trained_model(trained)
    app.processEvents()
    print(f"canvas {window.draw_panel.canvas.square().width():.0f} px square; {count} built-in digits' pen traces")

    stroke_latencies(app, window, 10)  # warm-up: first calls allocate
    bars_on, done_on = stroke_latencies(app, window, count)
    window.draw_panel.reading_view.flow.setChecked(False)
    bars_off, done_off = stroke_latencies(app, window, count)
    window.draw_panel.reading_view.flow.setChecked(True)
    reader, drawing = window.draw_panel.reader, window.draw_panel.canvas.drawing()
    forward = []
    for _ in range(200):
        started = time.perf_counter()
        reader.read(drawing, activations=True)
        forward.append((time.perf_counter() - started) * 1000)

    p50, p99 = describe("stroke end -> bars, views under the cards on", bars_on)
    _, done99 = describe("stroke end -> views done, views on", done_on)
    off50, off99 = describe("stroke end -> bars, views off", bars_off)
    describe("stroke end -> all done, views off", done_off)
    describe("render + preprocess + forward alone", forward)
    print(f"bars with views on / off: p50 {p50 / off50:.2f}, p99 {p99 / off99:.2f}; "
          f"targets: bars p99 <= 30 ms, views done p99 <= 100 ms")
    window.close()
    print(f"stroke_to_bars_ms_p50={p50:.1f} p99={p99:.1f} views_done_ms_p99={done99:.1f}")


if __name__ == "__main__":
    main()
