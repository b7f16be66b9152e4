"""Does a project with 200 kept runs open as fast as one with 1?

Keeps 1 and 200 runs beside two projects (bench/runs_scale.py's runs: a 784-128-10 network with a
20-epoch history each), then times, in this one process and offscreen:

(a) opening each project in the main window, as the person sees it: from `open_path` to the
    canvas painted (the window usable), the two projects alternated, three ways: the Runs tab
    behind another (as the window starts: the runs are listed when the tab is chosen), the Runs
    tab in view (listed right after the paint; also timed until they are shown), and the way
    before this change, the runs listed as the project opens;
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


WAYS = ("tab behind", "tab in view", "listed as it opens")


def open_times(app: QApplication, paths: dict[int, Path], repeats: int, folder: Path) -> dict[tuple[str, int], float]:
    """Median ms from `open_path` to the canvas painted, per way and project, all alternated in one
    window: the Runs tab behind another (as the window starts), in view (the runs listed right
    after the paint), and the way before, the runs listed as the project opens. Also, under
    ("listed", count), the median ms until the runs are shown with the tab in view."""
    window = MainWindow(Document(), recovery_dir=folder / "recovery", remember_layout=False)
    window.resize(1400, 900)
    window.show()
    app.processEvents()
    empty = folder / "empty.nbproj"  # the process's first open imports torch: paid here, untimed
    save_project(Project(), empty)
    window.open_path(empty)
    watch = PaintWatch(window.view.viewport())
    panel = window.runs
    times = {(way, count): [] for way in (*WAYS, "listed") for count in paths}
    for repeat in range(repeats + 1):
        for way in WAYS:
            (window.runs_dock if way == "tab in view" else window.summary_dock).raise_()
            app.processEvents()
            for count, path in paths.items():
                painted = watch.paints
                start = time.perf_counter()
                window.open_path(path)
                if way == "listed as it opens":
                    panel.refresh()
                while watch.paints == painted:
                    app.processEvents()
                elapsed = (time.perf_counter() - start) * 1000
                while way == "tab in view" and panel.unlisted:
                    app.processEvents()
                if repeat:  # the first of each is not counted
                    times[way, count].append(elapsed)
                    if way == "tab in view":
                        times["listed", count].append((time.perf_counter() - start) * 1000)
    window.document.undo_stack.setClean()
    window.close()
    app.processEvents()
    return {key: statistics.median(values) for key, values in times.items()}


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
        times = open_times(app, paths, args.repeats, Path(folder))
        for count in paths:
            print(f"{count:>4} runs: open in the window to the canvas painted: Runs tab behind "
                  f"{times['tab behind', count]:7.1f} ms, in view {times['tab in view', count]:7.1f} ms "
                  f"(runs shown at {times['listed', count]:7.1f} ms); listed as it opens (before) "
                  f"{times['listed as it opens', count]:7.1f} ms")
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
            window.document.undo_stack.setClean()
            window.close()
            app.processEvents()
    one, many = times["tab behind", 1], times["tab behind", args.runs]
    print(f"opening with {args.runs} runs takes {many / one:.2f}× the time of 1 run; the panel lists and fills "
          f"{args.runs} runs in {figures[args.runs][0]:.1f} ms, 1 in {figures[1][0]:.1f} ms")
    print(f"open_ms_1={one:.1f} open_ms_{args.runs}={many:.1f} panel_fill_ms_{args.runs}={figures[args.runs][0]:.1f} "
          f"open_ratio={many / one:.2f} open_in_view_ms_1={times['tab in view', 1]:.1f} "
          f"open_in_view_ms_{args.runs}={times['tab in view', args.runs]:.1f} "
          f"open_listed_first_ms_1={times['listed as it opens', 1]:.1f} "
          f"open_listed_first_ms_{args.runs}={times['listed as it opens', args.runs]:.1f}")

if __name__ == "__main__":
    main()
