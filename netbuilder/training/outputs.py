"""Checking where a command will write before it starts working: torch- and Qt-free.

A training run or an export that can only fail when it saves should fail in the first second,
not after an hour: each path a command writes to is checked here first, with the reasons a
user can fix (a folder where a file belongs, a missing or unwritable folder, a read-only file,
a device, a name too long, the very file being read).
"""
from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

from netbuilder.common.text import byte_size, shown

from .control import TrainingError


class OutputError(TrainingError):
    """A path a command would write to cannot take the file; the message says why and what to do."""


def check_output_file(path: str | os.PathLike, *, reads: Iterable[str | os.PathLike] = (),
                      create_folders: bool = False) -> Path:
    """`path` as a file this process can create or replace, or OutputError.

    `reads`: files the command reads (the project, its data), which it must not overwrite.
    `create_folders`: a missing folder is created when writing (train's --out); otherwise it is
    refused, since a mistyped folder name is the likelier cause.
    """
    text = os.fspath(path)
    if not text.strip():
        raise OutputError("The output file name is empty: give a file name.")
    if "\0" in text:  # every system call would raise ValueError on it
        raise OutputError(f"{shown(text)} is not a file name: it holds a NUL character.")
    path = Path(text)
    try:
        status = path.stat()
    except FileNotFoundError:
        status = None
    except OSError as error:
        raise OutputError(_cannot_write(path, error)) from None
    if status is not None:
        if stat.S_ISDIR(status.st_mode):
            raise OutputError(f"{shown(path)} is a folder: give a file name inside it.")
        if not stat.S_ISREG(status.st_mode):
            raise OutputError(f"{shown(path)} is not a regular file (a device or a pipe): give a file name.")
        if not status.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
            raise OutputError(f"{shown(path)} is read-only: make it writable or choose another file.")
        for read in reads:
            if _same_file(path, read):
                raise OutputError(f"{shown(path)} is also the file this command reads: choose another file "
                                  "to write.")
    folder = path.parent
    if create_folders:
        folder = _nearest_existing(folder)
    _check_folder(folder, path)
    _check_name_length(path, folder)
    return path


def check_output_folder(folder: str | os.PathLike, file_name: str, *,
                        reads: Iterable[str | os.PathLike] = (), size: int = 0) -> Path:
    """The file `file_name` in `folder` (created when missing) as check_output_file sees it, on
    a disk with room for its `size` bytes (a full disk found now, not when the run saves)."""
    folder = Path(os.fspath(folder) or ".")
    try:
        if folder.exists() and not folder.is_dir():
            raise OutputError(f"{shown(folder)} is a file, not a folder: give a folder for the output.")
    except OSError as error:
        raise OutputError(_cannot_write(folder, error)) from None
    path = check_output_file(folder / file_name, reads=reads, create_folders=True)
    free = shutil.disk_usage(_nearest_existing(folder)).free
    if size > free:
        raise OutputError(f"{shown(path)} will need about {byte_size(size)}, but its disk has {byte_size(free)} "
                          "free: free some space or choose another folder.")
    return path


def check_json_lines_file(path: str | os.PathLike, *, reads: Iterable[str | os.PathLike] = ()) -> Path:
    """A file that JSON lines are appended to: new, empty, or already holding JSON lines (never
    a picture or a script that a mistyped name pointed at)."""
    path = check_output_file(path, reads=reads)
    try:
        with path.open("rb") as existing:
            start = existing.read(1)
    except FileNotFoundError:
        return path
    except OSError as error:
        raise OutputError(_cannot_write(path, error)) from None
    if start not in (b"", b"{"):
        raise OutputError(f"{shown(path)} holds something other than JSON lines: choose a new file for the "
                          "events.")
    return path


def _check_folder(folder: Path, path: Path) -> None:
    """The folder exists and takes a new file: tried, since permissions alone do not tell (a
    read-only mount, /proc, an administrator's account)."""
    if not folder.exists():
        raise OutputError(f"The folder {shown(folder)} does not exist: create it first or choose another "
                          f"place for {shown(path.name)}.")
    if not folder.is_dir():
        raise OutputError(f"{shown(folder)} is a file, not a folder: choose another place for {shown(path.name)}.")
    try:
        handle, probe = tempfile.mkstemp(prefix=".netbuilder-write-test.", dir=folder)
    except OSError as error:
        raise OutputError(_cannot_write(path, error)) from None
    os.close(handle)
    os.unlink(probe)


def _check_name_length(path: Path, folder: Path) -> None:
    try:
        limit = os.pathconf(folder, "PC_NAME_MAX")
    except (OSError, ValueError, AttributeError):  # not known here (Windows, some file systems)
        return
    if len(os.fsencode(path.name)) > limit:
        raise OutputError(_cannot_write(path, OSError(errno.ENAMETOOLONG, os.strerror(errno.ENAMETOOLONG))))


def _nearest_existing(folder: Path) -> Path:
    """`folder` or the nearest folder above it that exists (where the missing ones will be made)."""
    folder = folder.absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return folder


def _same_file(path: Path, other: str | os.PathLike) -> bool:
    try:
        return os.path.samefile(path, other)
    except (OSError, ValueError):
        return False


def _cannot_write(path: Path, error: OSError) -> str:
    return f"Cannot write {shown(path)}: {error.strerror or error}."
