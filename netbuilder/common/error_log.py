"""The app's log file, shared by the window and the command line: Qt- and torch-free.

It holds the tracebacks of unexpected errors, and what other libraries (torch, onnx, onnxscript,
OpenCV, libpng) print while netbuilder runs them: their warnings and log lines mean nothing to a
user, so they go here, never to the terminal or a dialog (`library_output_to_log`).
"""
from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
import warnings
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from .app_dirs import app_data_dir

_LOG_LIMIT = 1_000_000  # bytes; one older log of about this size is kept beside it
_STANDARD_STREAMS = (1, 2)  # the file descriptors of standard output and standard error


def log_file() -> Path:
    return app_data_dir() / "logs" / "netbuilder.log"


def write_error_log(details: str, path: Path | None = None) -> Path | None:
    """Append a traceback to the log (by default log_file()); its path, or None when the log
    cannot be written (a read-only home, a full disk)."""
    return _append("unexpected error", details, path)


def _append(heading: str, details: str, path: Path | None = None) -> Path | None:
    path = path or log_file()
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

    The descriptors are process-wide, so the caller prints its own lines after the block."""
    with tempfile.TemporaryFile() as captured:
        try:
            with _descriptors_to(captured.fileno()), _text_onto(captured) as stream, \
                    contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream), warnings.catch_warnings():
                warnings.simplefilter("default")  # each warning once per place, into the log
                warnings.showwarning = _write_warning
                yield
        finally:  # kept after a failure too: then it is what a bug report needs
            captured.seek(0)
            output = captured.read().decode("utf-8", errors="backslashreplace").strip()
            if output:
                _append(f"{activity}: what other libraries printed", output)


@contextlib.contextmanager
def _text_onto(binary) -> Iterator[io.TextIOWrapper]:
    """A text stream onto the captured file, closed after without closing the file."""
    with io.TextIOWrapper(os.fdopen(os.dup(binary.fileno()), "wb"), encoding="utf-8", errors="backslashreplace",
                          write_through=True) as stream:
        yield stream


def _write_warning(message, category, filename, lineno, file=None, line=None) -> None:
    print(warnings.formatwarning(message, category, filename, lineno, line), end="", file=sys.stderr)


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
