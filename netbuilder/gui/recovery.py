"""Autosave and crash recovery.

While a project has unsaved changes, the window writes it every 30 s to its own recovery file.
A clean save or a normal close removes the file, so a file left behind means netbuilder did not
exit normally; the next start offers to recover it. Each running window holds a QLockFile beside
its recovery file so that a second netbuilder started meanwhile does not offer a live session's
file as a crash leftover (QLockFile sees through the locks of dead processes).
"""
from __future__ import annotations

import json
import logging
import os
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QLockFile

from ..common.app_dirs import app_data_dir
from ..core.project import MAX_PROJECT_BYTES, Project, ProjectFileError, project_from_dict, project_to_dict
from ..common.files import FileReadError, parse_json, read_bounded, write_atomic
from ..common.text import shown

FORMAT = "netbuilder-recovery"
AUTOSAVE_INTERVAL_MS = 30_000
DAMAGED_SUFFIX = ".damaged"
_DAMAGED_NAMED = 3  # a message box naming a hundred files helps nobody
_log = logging.getLogger(__name__)


def default_recovery_dir() -> Path:
    return app_data_dir() / "recovery"


@dataclass
class Recovery:
    """A recovery file left by a session that did not close normally."""

    file: Path
    project: Project
    original_path: Path | None  # the project file it was edited from, None for a never-saved project
    saved_at: datetime

    @property
    def title(self) -> str:
        return self.original_path.name if self.original_path else self.project.name

    def discard(self) -> None:
        self.file.unlink(missing_ok=True)


class AutosaveSession:
    """This window's recovery file, locked for as long as the window lives."""

    def __init__(self, folder: Path):
        self.folder = folder
        token = uuid.uuid4().hex
        self.file = folder / f"autosave-{token}.json"
        folder.mkdir(parents=True, exist_ok=True)
        self._lock = QLockFile(str(_lock_path(self.file)))
        self._lock.tryLock(0)

    def save(self, project: Project, original_path: Path | None) -> None:
        """Write atomically, so a crash while autosaving leaves the previous recovery file intact."""
        data = {"format": FORMAT, "original_path": str(original_path) if original_path else None,
                "saved_at": datetime.now().isoformat(timespec="seconds"), "project": project_to_dict(project)}
        write_atomic(self.file, json.dumps(data, ensure_ascii=False).encode("utf-8"))

    def discard(self) -> None:
        self.file.unlink(missing_ok=True)

    def close(self) -> None:
        """The window closed normally: nothing is left to recover."""
        self.discard()
        self._lock.unlock()


def _lock_path(recovery_file: Path) -> Path:
    return recovery_file.with_suffix(".lock")


class RecoveryFileError(Exception):
    """A recovery file cannot be read or is not one; the message says why."""


@dataclass
class Recoveries:
    """What a start finds: the crash leftovers to offer, newest first, and one message for each
    damaged recovery file that was set aside instead (the window shows them once)."""

    offers: list[Recovery] = field(default_factory=list)
    set_aside: list[str] = field(default_factory=list)

    @property
    def set_aside_message(self) -> str:
        """What the window says about the damaged files, a few of them by name."""
        shown_here = self.set_aside[:_DAMAGED_NAMED]
        more = len(self.set_aside) - len(shown_here)
        if more:
            shown_here = [*shown_here, f"{more} more damaged recovery files were kept the same way."]
        return "\n\n".join(shown_here)


def find_recoveries(folder: Path) -> Recoveries:
    """Recovery files of sessions that are no longer running, and those that are damaged.

    A damaged recovery file cannot be offered, but it may hold the user's only copy of their
    work: it is renamed to `*.json.damaged` (not deleted), so it is not found again.
    """
    found = Recoveries()
    for file in folder.glob("autosave-*.json"):
        lock = QLockFile(str(_lock_path(file)))
        if not lock.tryLock(0):
            continue  # a running netbuilder owns it
        lock.unlock()
        try:
            found.offers.append(read_recovery(file))
        except RecoveryFileError as error:
            found.set_aside.append(_set_aside(file, error))
    found.offers.sort(key=lambda r: r.saved_at, reverse=True)
    return found


def _set_aside(file: Path, error: RecoveryFileError) -> str:
    kept = file.with_name(file.name + DAMAGED_SUFFIX)
    try:
        os.replace(file, kept)
    except OSError as failure:
        _log.warning("cannot set aside the damaged recovery file %s: %s", file, failure)
        return f"A damaged recovery file could not be offered ({error}); it stays at {shown(str(file))}."
    return f"A damaged recovery file could not be offered ({error}); it was kept as {shown(str(kept))}."


def read_recovery(file: Path) -> Recovery:
    """The recovery in `file`, read with the same bounds and checks as a project file."""
    try:
        data = parse_json(read_bounded(file, MAX_PROJECT_BYTES, "recovery file"), file.name)
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise RecoveryFileError(f"{shown(file.name)} is not a netbuilder recovery file")
        original, saved_at = data.get("original_path"), data.get("saved_at")
        if original is not None and (not isinstance(original, str) or not original or "\0" in original):
            raise RecoveryFileError(f"{shown(file.name)}: the project's path is damaged")
        return Recovery(file, project_from_dict(data.get("project"), f"the project in {file.name}"),
                        Path(original) if original else None, _time(saved_at, file))
    except (FileReadError, ProjectFileError) as error:
        raise RecoveryFileError(str(error)) from None


def _time(saved_at: object, file: Path) -> datetime:
    try:
        if isinstance(saved_at, str):
            return datetime.fromisoformat(saved_at)
    except ValueError:
        pass
    raise RecoveryFileError(f"{shown(file.name)}: the time it was saved is damaged ({shown(repr(saved_at), 40)})")
