"""Other libraries' output goes to the app's log file, never the terminal."""
import logging
import os
import sys
import warnings

import pytest

from netbuilder.common.error_log import command_output_to_log, library_output_to_log, log_file


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


def test_a_command_keeps_its_own_lines_on_the_terminal_and_logs_what_libraries_say(tmp_path, monkeypatch, capfd):
    """For a whole command (`netbuilder-cli train`): its progress lines stay on the terminal in the
    order printed, while warnings, log lines and C code's writes around them go to the log."""
    monkeypatch.setenv("NETBUILDER_DATA_DIR", str(tmp_path))
    with command_output_to_log("train"):
        print("epoch 1", flush=True)
        warnings.warn("a layer's warning", UserWarning)
        logging.getLogger("onnxscript-like").warning("a log line with no handler of its own")
        os.write(1, b"C code on standard output\n")
        print("epoch 2", flush=True)
        os.write(2, b"C code on standard error\n")
        print("a problem", file=sys.stderr)
    terminal = capfd.readouterr()
    assert terminal.out == "epoch 1\nepoch 2\n" and terminal.err == "a problem\n"
    log = log_file().read_text()
    assert "netbuilder train: what other libraries printed" in log
    assert all(line in log for line in ("a layer's warning", "a log line with no handler of its own",
                                        "C code on standard output", "C code on standard error"))
