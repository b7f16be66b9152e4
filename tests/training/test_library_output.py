"""What other libraries say while a command runs (torch's warnings and log lines, libpng's warnings
on a damaged image, anything C code writes) goes to the log file; the terminal holds only the app's
own lines. Each command runs in its own process, as a user runs it."""
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from talking_layers import LIBRARY_LINES

ROOT = Path(__file__).resolve().parents[2]
# words of the libraries' own lines, never in the app's
LIBRARY_WORDS = ("Warning", "warning:", "libpng", *LIBRARY_LINES)


def _run(*argv, data_dir: Path) -> str:
    """stdout and stderr of `netbuilder-cli ARGV` with talking layers, after checking it succeeded."""
    environment = {**os.environ, "NETBUILDER_DATA_DIR": str(data_dir), "PYTHONPATH": f"{ROOT}:{Path(__file__).parent}",
                   "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, str(Path(__file__).with_name("talking_layers.py")), *map(str, argv)],
                          capture_output=True, text=True, env=environment, cwd=data_dir)
    terminal = done.stdout + done.stderr
    assert done.returncode == 0, terminal
    return terminal


def _log(data_dir: Path) -> str:
    return (data_dir / "logs" / "netbuilder.log").read_text()


def _with_damaged_chunk(png: bytes) -> bytes:
    """`png` with a text chunk whose checksum is wrong: libpng warns about it ("CRC error") and
    decodes the image all the same."""
    chunk = b"tEXt" + b"Comment\x00scanned"
    damaged = struct.pack(">I", len(chunk) - 4) + chunk + struct.pack(">I", zlib.crc32(chunk) ^ 1)
    header_end = 8 + 25  # the signature and the IHDR chunk
    return png[:header_end] + damaged + png[header_end:]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, make_project):
    """A folder of bars, a project on them trained by `train` (with talking layers), and the
    data folder whose log the run wrote."""
    folder, data_dir = tmp_path_factory.mktemp("bars"), tmp_path_factory.mktemp("data")
    rng = np.random.default_rng(0)
    for name in ("horizontal", "vertical"):
        (folder / "data" / name).mkdir(parents=True)
        for index in range(8):
            image = (rng.random((8, 8)) * 40).astype(np.uint8)
            image[(slice(None), slice(3, 5)) if name == "vertical" else (slice(3, 5), slice(None))] = 255
            cv2.imwrite(str(folder / "data" / name / f"{index}.png"), image)
    project = make_project(folder / "bars.nbproj", folder / "data", [("flatten", {}), ("dense", {"units": 2})],
                           {"kind": "image", "shape": [1, 28, 28]}, epochs=2)
    terminal = _run("train", project, data_dir=data_dir)
    return project, data_dir, terminal


def _only_the_app_speaks(terminal: str) -> None:
    assert terminal.strip()
    assert not [word for word in LIBRARY_WORDS if word in terminal], terminal


def test_train_prints_its_own_lines_and_logs_what_the_layers_say(trained):
    project, data_dir, terminal = trained
    _only_the_app_speaks(terminal)
    assert "Saved the weights" in terminal
    assert all(line in _log(data_dir) for line in LIBRARY_LINES)
    assert "netbuilder train: what other libraries printed" in _log(data_dir)


def test_evaluate_prints_its_own_lines_and_logs_what_the_layers_say(trained, tmp_path):
    project, _, _ = trained
    terminal = _run("evaluate", project, data_dir=tmp_path)
    _only_the_app_speaks(terminal)
    assert "Accuracy on" in terminal
    assert all(line in _log(tmp_path) for line in LIBRARY_LINES)


def test_predict_on_a_damaged_png_prints_its_rows_and_logs_libpngs_warning(trained, tmp_path):
    project, _, _ = trained
    image = np.zeros((8, 8), np.uint8)
    image[:, 3:5] = 255
    png = _with_damaged_chunk(cv2.imencode(".png", image)[1].tobytes())
    (tmp_path / "scan.png").write_bytes(png)
    for json in ([], ["--json"]):
        terminal = _run("predict", project, "scan.png", *json, data_dir=tmp_path)
        _only_the_app_speaks(terminal)
        assert "scan.png" in terminal and "vertical" in terminal
    log = _log(tmp_path)
    assert "libpng warning: tEXt: CRC error" in log and all(line in log for line in LIBRARY_LINES)


def test_import_weights_prints_its_own_lines_and_logs_what_the_layers_say(trained, tmp_path, cli):
    project, _, _ = trained
    assert cli("export", project, "--format", "safetensors", "--out", tmp_path / "bars.safetensors") == 0
    terminal = _run("import-weights", project, "bars.safetensors", "--out", "imported.safetensors",
                    data_dir=tmp_path)
    _only_the_app_speaks(terminal)
    assert (tmp_path / "imported.safetensors").exists()
    assert all(line in _log(tmp_path) for line in LIBRARY_LINES)

