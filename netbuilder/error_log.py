"""The log of unexpected errors, shared by the window and the command line: Qt- and torch-free."""
from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from .app_dirs import app_data_dir

_LOG_LIMIT = 1_000_000  # bytes; one older log of about this size is kept beside it


def log_file() -> Path:
    return app_data_dir() / "logs" / "netbuilder.log"


def write_error_log(details: str, path: Path | None = None) -> Path | None:
    """Append a traceback to the log (by default log_file()); its path, or None when the log
    cannot be written (a read-only home, a full disk)."""
    path = path or log_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() and path.stat().st_size > _LOG_LIMIT:
            os.replace(path, path.with_name(path.name + ".1"))
        with path.open("a", encoding="utf-8", errors="backslashreplace") as log:
            log.write(f"{datetime.now():%Y-%m-%d %H:%M:%S} unexpected error\n{details}\n")
    except OSError:
        return None
    return path
