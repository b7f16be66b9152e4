"""An exclusive lock beside a file, held by one process at a time: torch- and Qt-free.

The operating system releases the lock when its holder ends, however it ends, so a crash never
leaves a stale lock behind: there is nothing to detect or clean up.
"""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

if os.name == "nt":
    import msvcrt

    def _lock(handle: int) -> None:
        while True:
            try:
                msvcrt.locking(handle, msvcrt.LK_LOCK, 1)  # retries for about 10 s, then raises
                return
            except OSError:
                continue

    def _unlock(handle: int) -> None:
        msvcrt.locking(handle, msvcrt.LK_UNLCK, 1)
else:
    import fcntl

    def _lock(handle: int) -> None:
        fcntl.flock(handle, fcntl.LOCK_EX)

    def _unlock(handle: int) -> None:
        fcntl.flock(handle, fcntl.LOCK_UN)


def lock_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.lock")


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold the lock of `path` (a hidden `.NAME.lock` beside it) for the block; waits for another
    holder to finish. The lock file is removed afterwards (on Windows, where an open file cannot
    be removed, it stays): a waiter that locked the removed file notices and locks the new one."""
    lock = lock_path(path)
    while True:
        handle = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            _lock(handle)
            if _still_there(lock, handle):
                break
        except BaseException:
            os.close(handle)
            raise
        os.close(handle)  # it was removed by the holder before us: lock the one now there
    try:
        yield
    finally:
        if os.name != "nt":
            lock.unlink(missing_ok=True)
        _unlock(handle)
        os.close(handle)


def _still_there(lock: Path, handle: int) -> bool:
    if os.name == "nt":
        return True
    try:
        return os.stat(lock).st_ino == os.fstat(handle).st_ino
    except FileNotFoundError:
        return False
