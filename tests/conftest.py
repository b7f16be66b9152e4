"""Test-wide setup: Qt without a screen, and private cache and data folders so tests never
touch the user's (downloads, generated digits, recovery files, logs, settings)."""
import os
import threading
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def private_user_folders(tmp_path_factory):
    folders = {"NETBUILDER_CACHE_DIR": tmp_path_factory.mktemp("netbuilder-cache"),
               "NETBUILDER_DATA_DIR": tmp_path_factory.mktemp("netbuilder-data")}
    patch = pytest.MonkeyPatch()
    for variable, folder in folders.items():
        patch.setenv(variable, str(folder))
    yield folders
    patch.undo()


@pytest.fixture
def unwritten_fifo():
    """Makes FIFOs nobody writes to. Should a reader block on one, it is opened and closed for
    writing after 2 s, which ends the wait: the test then fails on time instead of hanging."""
    watchdogs = []

    def make(path: Path) -> Path:
        os.mkfifo(path)
        # an O_RDWR open counts as a writer and never blocks; closing it leaves no writer: end of file
        watchdog = threading.Timer(2.0, lambda: os.close(os.open(path, os.O_RDWR | os.O_NONBLOCK)))
        watchdog.start()
        watchdogs.append(watchdog)
        return path

    yield make
    for watchdog in watchdogs:
        watchdog.cancel()


@pytest.fixture(autouse=True, scope="session")
def estimates_end_before_python():
    """A window times its network on a daemon thread (gui/epoch_estimate.py), and a training run
    prepares its data on one (training/session.py); one still inside torch when the test process
    exits aborts it ("terminate called without an active exception")."""
    yield
    for thread in threading.enumerate():
        if thread.daemon and thread.name in ("epoch-estimate", "netbuilder-prepare"):
            thread.join(timeout=60)


@pytest.fixture
def library_routing_restored(monkeypatch):
    """What the window's routing of library output changes for the whole process (run_gui sets it up
    at start), restored after the test, so that later tests print and warn as usual."""
    import sys
    import warnings

    import cv2

    from netbuilder.common import error_log

    for name in ("stdout", "stderr"):
        monkeypatch.setattr(sys, name, getattr(sys, name))
    monkeypatch.setattr(warnings, "showwarning", warnings.showwarning)
    monkeypatch.setattr(error_log, "_window_routes", error_log._window_routes)
    handlers = {handler: handler.stream for handler in error_log._library_stream_handlers()}
    opencv_level = cv2.utils.logging.getLogLevel()
    yield
    for handler, stream in handlers.items():
        handler.setStream(stream)
    cv2.utils.logging.setLogLevel(opencv_level)
