"""Does the Runs panel show 200 kept runs as fast as 1?

Keeps 1 and 200 runs beside two projects (bench/runs_scale.py's runs: a 784-128-10 network with a
20-epoch history each), then times, in this one process and offscreen:

(a) RunsPanel.refresh(): listing the runs (run.json files only) and filling the table, what the
    panel does when a project opens and whenever a run ends;
(b) ticking the last --ticked runs one by one to overlay their curves (each run's history read
    from its checkpoint the first time), then unticking them.

Each figure is the median of --repeats, after one that is not counted. The last line is
machine-readable: `runs_panel_ms_1=… runs_panel_ms_200=…`.

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

from PySide6.QtWidgets import QApplication  # noqa: E402

from netbuilder.core.project import load_project  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--ticked", type=int, default=10)
    args = parser.parse_args()
    app = QApplication([])
    figures = {}
    with tempfile.TemporaryDirectory() as folder:
        for count in (1, args.runs):
            path = keep_runs(Path(folder), count)
            document = Document(load_project(path))
            document.path = path
            window = MainWindow(document, recovery_dir=Path(folder) / "recovery", remember_layout=False)
            panel = window.runs
            panel.refresh()
            refresh = median_ms(panel.refresh, args.repeats)

            def tick_some(panel=panel) -> None:
                panel._curves.clear()  # read the histories again, as on the first ticking
                for run in panel.kept[-args.ticked:]:
                    panel.table.set_ticked(run.id, True)
                for run in panel.kept[-args.ticked:]:
                    panel.table.set_ticked(run.id, False)

            ticking = median_ms(tick_some, args.repeats)
            figures[count] = (refresh, ticking)
            print(f"{count:>4} runs: refresh (list + fill the table) {refresh:8.1f} ms; "
                  f"tick {min(count, args.ticked)} on and off {ticking:8.1f} ms")
            window.close()
            app.processEvents()
    one, many = figures[1][0], figures[args.runs][0]
    print(f"refresh with {args.runs} runs takes {many / one:.1f}× the time of 1 run")
    print(f"runs_panel_ms_1={one:.1f} runs_panel_ms_{args.runs}={many:.1f} ratio={many / one:.2f}")


if __name__ == "__main__":
    main()
