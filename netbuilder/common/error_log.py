"""The app's log file, shared by the window and the command line: Qt- and torch-free.

It holds the tracebacks of unexpected errors, and what other libraries (torch, onnx, onnxscript,
OpenCV, libpng) print while netbuilder runs them: their warnings and log lines mean nothing to a
user, so they go here, never to the terminal or a dialog: around one piece of library work
(`library_output_to_log`), for a whole command-line command (`command_output_to_log`), and for the
window's whole life (`window_library_output_to_log`).
"""
from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from .app_dirs import app_data_dir

_LOG_LIMIT = 1_000_000  # bytes; one older log of about this size is kept beside it
_STANDARD_STREAMS = (1, 2)  # the file descriptors of standard output and standard error
_appending = threading.Lock()  # the window's threads append warnings and log lines concurrently
_window_routes = False
LIBRARY_LOGGERS = ("torch", "onnx", "onnxscript", "onnx_ir")  # the top loggers of the libraries that log  # the window routes library output for its whole life (window_library_output_to_log)


def log_file() -> Path:
    return app_data_dir() / "logs" / "netbuilder.log"


def write_error_log(details: str, path: Path | None = None) -> Path | None:
    """Append a traceback to the log (by default log_file()); its path, or None when the log
    cannot be written (a read-only home, a full disk)."""
    return _append("unexpected error", details, path)


def _append(heading: str, details: str, path: Path | None = None) -> Path | None:
    path = path or log_file()
    with _appending:
        return _append_locked(heading, details, path)


def _append_locked(heading: str, details: str, path: Path) -> Path | None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > _LOG_LIMIT:
            os.replace(path, path.with_name(path.name + ".1"))
        with path.open("a", encoding="utf-8", errors="backslashreplace") as log:
            log.write(f"{datetime.now():%Y-%m-%d %H:%M:%S} {heading}\n{details}\n")
    except OSError:
        return None
    return path


@contextlib.contextmanager
def library_output_to_log(activity: str) -> Iterator[None]:
    """While other libraries work for `activity` ("ONNX export"), everything written to standard
    output and error goes to the log file instead of the terminal: Python's warnings and prints, the
    log handlers torch set up at import (they hold the original stderr, so redirecting sys.stderr
    alone misses them) and C libraries writing to the file descriptors themselves (OpenCV, libpng).

    The descriptors are process-wide, so the caller prints its own lines after the block. In the
    window, which routes library output for its whole life instead, this redirects nothing: a
    redirect made on one worker thread would catch the other threads' output, and two overlapping
    ones, restored out of order, would leave the descriptors pointing at a deleted file."""
    if _window_routes:
        yield
        return
    with _captured(activity) as (captured, stream), _descriptors_to(captured.fileno()), \
            contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
        yield


@contextlib.contextmanager
def command_output_to_log(command: str) -> Iterator[None]:
    """For a whole command-line command: the app's own lines reach the terminal, in the order they
    are printed, and everything other libraries say goes to the log file.

    Standard output and error's descriptors point at the capture for the whole command, while
    sys.stdout and sys.stderr, which the app prints through, become streams onto copies of the
    terminal's descriptors. So C libraries (libpng's warnings on a damaged PNG, OpenCV), child
    processes (DataLoader workers, the data generation's), torch's log handlers (made at import,
    they hold the original sys.stderr), Python's warnings and any other logging reach the log.
    A stream that is not the descriptor already (a test's capture) is left as it is."""
    with _captured(f"netbuilder {command}") as (captured, stream):
        terminal = {descriptor: _terminal_copy(name, descriptor) for name, descriptor in
                    (("stdout", 1), ("stderr", 2))}
        copies = [copy for copy in terminal.values() if copy is not None]
        root = logging.getLogger()
        handler = logging.StreamHandler(stream)
        root.addHandler(handler)  # instead of logging's last resort, which prints to sys.stderr
        try:
            with _descriptors_to(captured.fileno()), \
                    contextlib.redirect_stdout(terminal[1] or sys.stdout), \
                    contextlib.redirect_stderr(terminal[2] or sys.stderr):
                try:
                    yield
                finally:  # what the app printed last reaches the terminal before the descriptors return
                    for copy in copies:
                        with contextlib.suppress(OSError, ValueError):  # the reader went away (`| head`)
                            copy.flush()
        finally:
            root.removeHandler(handler)
            for copy in copies:
                with contextlib.suppress(OSError, ValueError):
                    copy.close()


def _terminal_copy(name: str, descriptor: int) -> io.TextIOWrapper | None:
    """sys.stdout or sys.stderr (`name`) onto a copy of `descriptor`, kept when the descriptor is
    redirected; None when the stream is not that descriptor (a test's capture, no console)."""
    stream = getattr(sys, name)
    try:
        if stream.fileno() != descriptor:
            return None
        copy = os.dup(descriptor)
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None
    return io.TextIOWrapper(os.fdopen(copy, "wb"), encoding=stream.encoding, errors=stream.errors,
                            line_buffering=stream.line_buffering)


@contextlib.contextmanager
def _captured(activity: str) -> Iterator[tuple]:
    """A temporary file and a text stream onto it, with Python's warnings written there; what it
    holds at the end goes to the log under `activity`, also after a failure (then it is what a bug
    report needs)."""
    with tempfile.TemporaryFile() as captured:
        try:
            with _text_onto(captured) as stream, warnings.catch_warnings():
                warnings.simplefilter("default")  # each warning once per place, into the log
                warnings.showwarning = functools.partial(_write_warning, stream)
                yield captured, stream
        finally:  # at most the end of it: a library repeating a line every batch of a long run
            captured.seek(max(0, os.fstat(captured.fileno()).st_size - _LOG_LIMIT))
            output = captured.read().decode("utf-8", errors="backslashreplace").strip()
            if output:
                _append(f"{activity}: what other libraries printed", output)


@contextlib.contextmanager
def _text_onto(binary) -> Iterator[io.TextIOWrapper]:
    """A text stream onto the captured file, closed after without closing the file."""
    with io.TextIOWrapper(os.fdopen(os.dup(binary.fileno()), "wb"), encoding="utf-8", errors="backslashreplace",
                          write_through=True) as stream:
        yield stream


def _write_warning(stream, message, category, filename, lineno, file=None, line=None) -> None:
    stream.write(warnings.formatwarning(message, category, filename, lineno, line))


@contextlib.contextmanager
def _descriptors_to(target: int) -> Iterator[None]:
    """Standard output and error's file descriptors pointed at `target`, and restored after. Where
    the process has none (a windowed app on Windows), only the Python streams are redirected."""
    for stream in (sys.__stdout__, sys.__stderr__, sys.stdout, sys.stderr):
        with contextlib.suppress(AttributeError, OSError, ValueError):
            stream.flush()
    try:
        saved = [os.dup(descriptor) for descriptor in _STANDARD_STREAMS]
    except OSError:
        yield
        return
    try:
        for descriptor in _STANDARD_STREAMS:
            os.dup2(target, descriptor)
        yield
    finally:
        for stream in (sys.__stdout__, sys.__stderr__):
            with contextlib.suppress(AttributeError, OSError, ValueError):
                stream.flush()
        for descriptor, original in zip(_STANDARD_STREAMS, saved):
            os.dup2(original, descriptor)
            os.close(original)


def window_library_output_to_log() -> None:
    """For the window's whole life: other libraries' Python-level output goes to the log file, as it
    comes. sys.stdout and sys.stderr become the log, so that Python's warnings, logging's last resort
    (onnxscript's loggers have no handler) and the log handlers torch makes when the window first
    imports it (they take the sys.stderr of that moment) all write there; OpenCV's own log is off,
    its failures reach the app as errors. The window's own few lines for a terminal (a log file that
    cannot be written) go to sys.__stderr__.

    Descriptors are left alone (docs/decisions.md, "Other libraries' output in the window"): C
    libraries writing to them directly reach the terminal the window was started from, if any,
    never the window. Exports inside the window then redirect nothing (library_output_to_log)."""
    global _window_routes
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    sys.stdout = sys.stderr = log = _LogStream()
    warnings.showwarning = _log_warning
    for handler in _library_stream_handlers():  # made before now, they hold the terminal
        handler.setStream(log)
    _window_routes = True


def _library_stream_handlers() -> list[logging.StreamHandler]:
    """The handlers writing to a stream that torch, onnx and onnxscript have put on their loggers."""
    loggers = [logger for name, logger in logging.Logger.manager.loggerDict.items()
               if isinstance(logger, logging.Logger) and name.split(".")[0] in LIBRARY_LOGGERS]
    return [handler for logger in loggers for handler in logger.handlers
            if type(handler) is logging.StreamHandler]


class _LogStream(io.TextIOBase):
    """A text stream appending to the log file, each line stamped with its time."""

    def __init__(self):
        super().__init__()
        self._line_start = True

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if text:
            with _appending:
                self._write_locked(text)
        return len(text)

    def _write_locked(self, text: str) -> None:
        stamp = f"{datetime.now():%Y-%m-%d %H:%M:%S} "
        stamped = "".join((stamp if self._line_start or index else "") + line
                          for index, line in enumerate(text.splitlines(keepends=True)))
        self._line_start = text.endswith("\n")
        path = log_file()
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8", errors="backslashreplace") as log:
                log.write(stamped)


def _log_warning(message, category, filename, lineno, file=None, line=None) -> None:
    _append("a library's warning", warnings.formatwarning(message, category, filename, lineno, line).rstrip())
