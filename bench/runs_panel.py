"""Does a project with 200 kept runs open as fast as one with 1?

Keeps 1 and 200 runs beside two projects (bench/runs_scale.py's runs: a 784-128-10 network with a
20-epoch history each), then times, in this one process and offscreen:

(a) opening each project in the main window, as the person sees it: from `open_path` to the
    canvas painted (the window usable), the two projects alternated; the runs are listed on a
    thread meanwhile, and each open waits (untimed) for its listing to be shown before the next;
(b) RunsPanel.refresh(): listing the runs (run.json files only) and filling the table, what the
    panel does whenever a run ends or the runs are changed in it;
(c) ticking the last --ticked runs one by one to overlay their curves (each run's history read
    from its checkpoint the first time), then unticking them.

Each figure is the median of --repeats, after one that is not counted. The last line is
machine-readable: `open_ms_1=… open_ms_200=… panel_fill_ms_200=…`.

    python bench/runs_panel.py [--repeats 5] [--runs 200]
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from PySide6.QtCore import QEvent, QObject  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from netbuilder.core.project import Project, load_project, save_project  # noqa: E402
from netbuilder.gui.document import Document  # noqa: E402
from netbuilder.gui.main_window import MainWindow  # noqa: E402
from runs_scale import keep_runs  # noqa: E402


def median_ms(work, repeats: int) -> float:
    work()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


class PaintWatch(QObject):
    """Counts the paint events of a widget (the canvas's viewport)."""

    def __init__(self, widget):
        super().__init__()
        self.paints = 0
        widget.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def open_times(app: QApplication, paths: dict[int, Path], repeats: int, folder: Path,
               on_thread: bool = True) -> dict[int, float]:
    """Median ms from `open_path` to the canvas painted, per project, the projects alternated;
    `on_thread` False: the runs listed on the GUI thread as the project opens, as before."""
    window = MainWindow(Document(), recovery_dir=folder / "recovery", remember_layout=False)
    if not on_thread:
        window.runs.list_in_background = window.runs.refresh
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    empty = folder / "empty.nbproj"  # the process's first open imports torch: paid here, untimed
    save_project(Project(), empty)
    window.open_path(empty)
    watch = PaintWatch(window.view.viewport())
    times = {count: [] for count in paths}
    for repeat in range(repeats + 1):
        for count, path in paths.items():
            painted = watch.paints
            start = time.perf_counter()
            window.open_path(path)
            while watch.paints == painted:
                app.processEvents()
            elapsed = (time.perf_counter() - start) * 1000
            if repeat:  # the first of each is not counted
                times[count].append(elapsed)
            while len(window.runs.kept) != count:  # the listing made on a thread, shown (untimed)
                app.processEvents()
    window.document.undo_stack.setClean()
    window.close()
    app.processEvents()
    return {count: statistics.median(values) for count, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--ticked", type=int, default=10)
    args = parser.parse_args()
    app = QApplication([])
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        paths = {count: keep_runs(Path(folder), count) for count in (1, args.runs)}
        opened = open_times(app, paths, args.repeats, Path(folder))
        listed_first = open_times(app, paths, args.repeats, Path(folder), on_thread=False)
        for count, path in paths.items():
            print(f"{count:>4} runs: open in the window to the canvas painted {opened[count]:8.1f} ms "
                  f"(runs listed on the GUI thread first: {listed_first[count]:8.1f} ms)")
        for count, path in paths.items():
            document = Document(load_project(path))
            document.path = path
            window = MainWindow(document, recovery_dir=Path(folder) / "recovery", remember_layout=False)
            window.show()
            window.runs_dock.raise_()  # the table in view: its cells are drawn as they are filled
            app.processEvents()
            panel = window.runs

            def refresh_painted(panel=panel) -> None:
                panel.refresh()
                panel.table.viewport().repaint()

            refresh = median_ms(refresh_painted, args.repeats)

            def tick_some(panel=panel) -> None:
                panel._curves.clear()  # read the histories again, as on the first ticking
                for run in panel.kept[-args.ticked:]:
                    panel.table.set_ticked(run.id, True)
                for run in panel.kept[-args.ticked:]:
                    panel.table.set_ticked(run.id, False)

            ticking = median_ms(tick_some, args.repeats)
            figures[count] = (refresh, ticking)
            print(f"{count:>4} runs: refresh (list + fill the table + paint it) {refresh:8.1f} ms; "
                  f"tick {min(count, args.ticked)} on and off {ticking:8.1f} ms")
            window.close()
            app.processEvents()
            while panel._listings and len(panel.kept) != count:  # nothing left for a closed window
                app.processEvents()
    one, many = opened[1], opened[args.runs]
    print(f"opening with {args.runs} runs takes {many / one:.2f}× the time of 1 run; the panel lists and fills "
          f"{args.runs} runs in {figures[args.runs][0]:.1f} ms, 1 in {figures[1][0]:.1f} ms")
    print(f"open_ms_1={one:.1f} open_ms_{args.runs}={many:.1f} panel_fill_ms_{args.runs}={figures[args.runs][0]:.1f} "
          f"open_ratio={many / one:.2f} open_ms_{args.runs}_listed_first={listed_first[args.runs]:.1f}")


if __name__ == "__main__":
    main()
