"""A run on two CPU processes (torchrun, gloo) started from the Training panel: the same curves and
confusion matrix as a run in the window, its weights loaded afterwards, and Stop leaving no process."""
from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from netbuilder.core.project import load_template
from netbuilder.gui.document import Document
from netbuilder.gui.panels.training import TrainingPanel

ROOT = Path(__file__).resolve().parents[2]


def write_idx(path: Path, array: np.ndarray) -> None:
    """An MNIST-style IDX file of unsigned bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(size.to_bytes(4, "big") for size in array.shape)
    path.write_bytes(gzip.compress(header + array.astype(np.uint8).tobytes()))


@pytest.fixture
def stripes(tmp_path) -> Path:
    """Tiny 28×28 images of three classes (a bright band in the top, middle or bottom third)."""
    generator = np.random.default_rng(0)
    folder = tmp_path / "stripes"
    folder.mkdir()
    for prefix, count in (("train", 240), ("t10k", 60)):
        labels = np.arange(count) % 3
        images = generator.integers(0, 60, (count, 28, 28))
        for index, label in enumerate(labels):
            images[index, 9 * label:9 * label + 9] += 180
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


@pytest.fixture
def panel(qtbot, stripes, tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the ranks import this checkout's netbuilder
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    document = Document(load_template("1-mlp"))
    document.project.dataset = str(stripes)
    document.project.training = document.project.training.replace(epochs=2, batch_size=16, device="cpu",
                                                                  validation_split=0.0)
    document.path = tmp_path / "stripes.nbproj"
    panel = TrainingPanel(document)
    qtbot.addWidget(panel)
    panel.show()
    panel.run_box.offer_processes(2)  # this machine has no GPUs: processes are offered as on one with two
    panel.run_box.processes.setValue(2)
    yield panel
    panel.shutdown()


def rank_processes(run_folder: str) -> list[int]:
    """Processes whose command line names the run's folder (torchrun and its ranks)."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                command = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if run_folder.encode() in command:
                found.append(int(entry))
    return found


def test_a_two_process_run_fills_the_curves_loads_its_saved_weights_and_the_next_starts_from_them(qtbot, panel):
    trained = []
    panel.model_trained.connect(trained.append)
    panel.start()
    assert not panel.pause_action.isEnabled() and "several processes" in panel.pause_action.toolTip()
    qtbot.waitUntil(lambda: panel.state == "idle", timeout=60_000)
    # on a failure, what torchrun and the ranks wrote (the "Copy details" text) says why
    assert panel.run_box.message.text().startswith("Trained"), (panel.run_box.message.text(),
                                                                panel.run_box.failure_details)
    assert len(panel.plots.current.batch_x) > 0 and panel.last_epoch.epoch == 2
    assert panel.started.train_samples == 240
    assert panel.last_epoch.train_accuracy > 0.9  # the two ranks together learned the stripes
    assert len(trained) == 1 and trained[0].recipe.class_names == ("0", "1", "2")
    assert (panel.document.path.with_suffix(".safetensors")).exists()
    # one run's weights are where the next run on two processes starts, when asked
    panel.settings.fields["start_from_weights"].widget.click()
    panel.start()
    qtbot.waitUntil(lambda: panel.state == "idle", timeout=60_000)
    log = [panel.run_box.run_log.item(row).text() for row in range(panel.run_box.run_log.count())]
    assert any(line.startswith("Starting from the model's weights: all ") for line in log), log


def test_stop_ends_every_process_within_seconds(qtbot, panel):
    panel.document.project.training = panel.document.project.training.replace(epochs=200)
    panel.start()
    run_folder = panel.run_folder.name
    qtbot.waitUntil(lambda: len(panel.plots.current.batch_x) > 0, timeout=60_000)
    assert len(rank_processes(run_folder)) >= 3  # torchrun and two ranks
    panel.stop()
    qtbot.waitUntil(lambda: panel.state == "idle", timeout=5_000)
    assert panel.run_box.message.text().startswith("Stopped")
    qtbot.waitUntil(lambda: rank_processes(run_folder) == [], timeout=5_000)
    assert not Path(run_folder).exists()


def test_a_run_that_fails_in_the_processes_says_why_in_one_line(qtbot, panel, tmp_path):
    panel.document.project.dataset = str(tmp_path / "missing.csv")
    panel.start()
    qtbot.waitUntil(lambda: panel.state == "idle", timeout=60_000)
    assert "missing.csv" in panel.run_box.message.text() and "Traceback" not in panel.run_box.message.text()
    assert not panel.document.path.with_suffix(".safetensors").exists()
