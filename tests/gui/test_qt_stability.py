"""Guards against Qt bindings that crash after many calls (PySide6 6.12.0 on CPython 3.11:
`Fatal Python error: none_dealloc`). A live training plot makes calls like these all day."""
import numpy as np
import pyqtgraph as pg


def test_a_plot_survives_thousands_of_updates(qtbot):
    plot = pg.PlotWidget()
    qtbot.addWidget(plot)
    curve = plot.plot(pen="y")
    xs = np.arange(200, dtype=float)
    for step in range(3000):
        curve.setData(xs, np.sin(xs / 10 + step / 50))
        plot.setTitle(None if step % 2 else f"step {step}")
        if step % 100 == 0:
            plot.grab()
    assert curve.getData()[1][0] == np.sin(2999 / 50)
