"""Writing files safely; Qt-, torch- and core-free, so every layer (core, data, training) can use it."""
from __future__ import annotations

import os
import stat
import tempfile
import time
from pathlib import Path

# A temporary file this old beside its target was left by a crash (a save takes seconds at most).
_STALE_TEMPORARY_SECONDS = 3600


def write_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file beside `path`, flush it to disk, then rename over `path`.

    A crash mid-save leaves the previous file intact. The file keeps its permissions (a new one
    gets the usual ones for the user's umask, not the temporary file's 0600), a symbolic link is
    written through to its target rather than replaced, and temporary files that an earlier crash
    left beside it are removed.
    """
    path = Path(os.path.realpath(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = _mode_for(path)
    _remove_stale_temporaries(path)
    fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _mode_for(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def _remove_stale_temporaries(path: Path) -> None:
    now = time.time()
    for leftover in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            if now - leftover.stat().st_mtime > _STALE_TEMPORARY_SECONDS:
                leftover.unlink()
        except OSError:
            pass  # gone already, or not ours to remove: it does no harm
