"""Other libraries' output goes to the app's log file, never the terminal."""
import logging
import os
import sys
import warnings

import pytest

from netbuilder.common.error_log import library_output_to_log, log_file


def _make_noise() -> None:
    print("a print")
    warnings.warn("a library's warning", UserWarning)
    logging.getLogger("netbuilder-test-library").warning("a log line through a handler made before")
    os.write(2, b"a C library writing to the descriptor\n")


@pytest.fixture
def library_logger():
    """A logger whose handler holds the stderr of its creation, as torch's does."""
    handler = logging.StreamHandler(sys.stderr)
    logger = logging.getLogger("netbuilder-test-library")
    logger.addHandler(handler)
    logger.propagate = False
    yield handler
    logger.removeHandler(handler)


NOISE = ["a print", "a library's warning", "a log line through a handler made before",
         "a C library writing to the descriptor"]


def test_every_kind_of_library_output_goes_to_the_log_not_the_terminal(tmp_path, monkeypatch, capfd,
                                                                        library_logger):
    monkeypatch.setenv("NETBUILDER_DATA_DIR", str(tmp_path))
    with library_output_to_log("ONNX export"):
        _make_noise()
    print("the app's own line")
    terminal = capfd.readouterr()
    assert terminal.out == "the app's own line\n" and terminal.err == ""
    log = log_file().read_text()
    assert "ONNX export: what other libraries printed" in log
    assert all(line in log for line in NOISE)


def test_what_libraries_printed_before_a_failure_is_kept(tmp_path, monkeypatch, capfd, library_logger):
    monkeypatch.setenv("NETBUILDER_DATA_DIR", str(tmp_path))
    with pytest.raises(RuntimeError), library_output_to_log("TorchScript export"):
        _make_noise()
        raise RuntimeError("the exporter failed")
    assert capfd.readouterr().err == ""
    assert all(line in log_file().read_text() for line in NOISE)


def test_nothing_printed_writes_no_log(tmp_path, monkeypatch):
    monkeypatch.setenv("NETBUILDER_DATA_DIR", str(tmp_path))
    with library_output_to_log("code export"):
        pass
    assert not log_file().exists()
