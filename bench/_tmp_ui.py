"""Does training in the window keep the window responsive, and does the window slow training down?

The CNN template trains on the built-in digits in the main window (offscreen Qt), through the
training panel exactly as a user starts it, with the live plots redrawing. Meanwhile a QTimer
probe on the GUI thread fires every PROBE_MS; a stall is how much later than due each timeout
came, i.e. how long the window could not react. In the same process the headless trainer
(TrainingSession iterated directly, no Qt involved) trains the same network on the same data with
the same settings. The rounds interleave (window, headless, window, ...) so that load from
elsewhere on the machine falls on both alike; the ratio is the median over rounds of the ratio
within a round, each run's speed the trainer's own samples/s (pause and preparation excluded).

    QT_QPA_PLATFORM=offscreen python bench/ui_latency.py            # 6,400 digits, 2 epochs, 3 rounds
    QT_QPA_PLATFORM=offscreen python bench/ui_latency.py --quick    # smoke run: 1,280 digits, 1 round

Ends with `p99_stall_ms=<x> in_window_vs_headless=<y>` (targets: p99 <= 50 ms, ratio >= 0.9).
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
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from PySide6.QtCore import QEventLoop, QObject, Qt, QTimer, Slot  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from netbuilder.core.project import load_template  # noqa: E402
from netbuilder.data.digits import load_digits  # noqa: E402
from netbuilder.gui.app import apply_theme  # noqa: E402
from netbuilder.gui.document import Document  # noqa: E402
from netbuilder.gui.main_window import MainWindow  # noqa: E402
from netbuilder.training.events import BatchEnded, Finished  # noqa: E402
from netbuilder.training.session import TrainingSession  # noqa: E402

PROBE_MS = int(__import__("os").environ.get("PROBE", "10"))
TEMPLATE = "2-cnn"


class StallProbe(QObject):
    """Records how late each timeout of a precise timer on the GUI thread arrives."""

    def __init__(self):
        super().__init__()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(PROBE_MS)
        self.timer.timeout.connect(self._tick)
        self.stalls_ms: list[float] = []
        self._last = 0.0

    def start(self) -> None:
        self._last = time.perf_counter()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    @Slot()
    def _tick(self) -> None:
        now = time.perf_counter()
        self.stalls_ms.append(max(0.0, (now - self._last) * 1000 - PROBE_MS))
        self._last = now


class SpeedRecorder(QObject):
    """The last training speed a run reported, received on the GUI thread like the panel's events."""

    def __init__(self):
        super().__init__()
        self.samples_per_second = 0.0
        self.finished: Finished | None = None

    @Slot(list)
    def record(self, events: list) -> None:
        for event in events:
            if isinstance(event, BatchEnded):
                self.samples_per_second = event.samples_per_second
            if type(event).__name__ in ("ThreadsChosen", "Started"):
                print("  window:", event, flush=True)
            elif isinstance(event, Finished):
                self.finished = event


def in_window(app: QApplication, window: MainWindow, dataset, probe: StallProbe) -> float:
    panel = window.training
    panel.use_dataset(dataset)
    recorder = SpeedRecorder()
    import os as _os
    panel.tabs.setCurrentWidget(panel.plots if not _os.environ.get("HIDE") else panel.confusion)
    probe.start()
    panel.start()
    panel.worker.events_ready.connect(recorder.record)
    loop = QEventLoop()  # the window runs as in the app: in Qt's event loop, not a polling loop
    panel.worker.finished.connect(loop.quit)
    loop.exec()
    while panel.state != "idle":  # the last events are queued behind the thread's end
        app.processEvents()
    probe.stop()
    if recorder.finished is None or recorder.finished.reason != "completed":
        raise SystemExit(f"the run in the window did not complete: {recorder.finished}")
    return recorder.samples_per_second


def headless(project, dataset) -> float:
    speed, last = 0.0, None
    for event in TrainingSession(project, dataset=dataset).events():
        if isinstance(event, BatchEnded):
            speed = event.samples_per_second
        if type(event).__name__ in ("ThreadsChosen", "Started"):
            print("  headless:", event, flush=True)
        last = event
    if last.reason != "completed":
        raise SystemExit(f"the headless run did not complete: {last}")
    return speed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="1,280 digits, 1 epoch, 1 round: checks that it runs")
    parser.add_argument("--samples", type=int, help="training digits (default 6,400; quick 1,280)")
    parser.add_argument("--epochs", type=int, help="epochs per run (default 2; quick 1)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3; quick 1)")
    args = parser.parse_args()
    samples = args.samples or (1280 if args.quick else 6400)
    epochs = args.epochs or (1 if args.quick else 2)
    rounds = args.rounds or (1 if args.quick else 3)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    apply_theme(app)
    dataset = load_digits(train_size=samples, val_size=samples // 8)
    project = load_template(TEMPLATE)
    project.training = project.training.replace(epochs=epochs, device="cpu")
    window = MainWindow(Document(project), remember_layout=False,
                        recovery_dir=Path(tempfile.mkdtemp(prefix="netbuilder-bench-")))
    window.resize(1400, 900)
    window.show()
    window.show_training()
    app.processEvents()
    print(f"The CNN template ({TEMPLATE}), {samples:,} built-in digits per epoch, {epochs} epoch(s), "
          f"{rounds} round(s); probe every {PROBE_MS} ms on the GUI thread; {os.cpu_count()} CPUs", flush=True)

    probe = StallProbe()
    ratios, window_speeds, headless_speeds = [], [], []
    for round_number in range(1, rounds + 1):
        window_speed = in_window(app, window, dataset, probe)
        headless_speed = headless(project, dataset)
        window_speeds.append(window_speed)
        headless_speeds.append(headless_speed)
        ratios.append(window_speed / headless_speed)
        print(f"round {round_number}: in the window {window_speed:,.0f} samples/s, headless "
              f"{headless_speed:,.0f} samples/s, ratio {ratios[-1]:.2f}", flush=True)
    window.training.shutdown()
    window.close()

    stalls = np.asarray(probe.stalls_ms)
    p50, p99, worst = np.percentile(stalls, 50), np.percentile(stalls, 99), stalls.max()
    ratio = statistics.median(ratios)
    print(f"\nGUI thread while training: {len(stalls):,} probes, stall median {p50:.1f} ms, p99 {p99:.1f} ms, "
          f"worst {worst:.1f} ms (target p99 <= 50 ms: {'met' if p99 <= 50 else 'MISSED'})")
    print(f"training speed: in the window {statistics.median(window_speeds):,.0f} samples/s, headless "
          f"{statistics.median(headless_speeds):,.0f} samples/s, ratio {ratio:.2f} "
          f"(target >= 0.9: {'met' if ratio >= 0.9 else 'MISSED'})")
    print(f"p99_stall_ms={p99:.1f} in_window_vs_headless={ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
