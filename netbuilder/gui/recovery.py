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
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QLockFile

from ..app_dirs import app_data_dir
from ..core.project import Project, ProjectFileError, project_from_dict, project_to_dict, write_atomic

FORMAT = "netbuilder-recovery"
AUTOSAVE_INTERVAL_MS = 30_000
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


def find_recoveries(folder: Path) -> list[Recovery]:
    """Recovery files of sessions that are no longer running, newest first.

    A damaged recovery file cannot be offered; it is removed (and logged) so it is not found again.
    """
    found = []
    for file in folder.glob("autosave-*.json"):
        lock = QLockFile(str(_lock_path(file)))
        if not lock.tryLock(0):
            continue  # a running netbuilder owns it
        lock.unlock()
        try:
            found.append(_read(file))
        except (OSError, ValueError, ProjectFileError) as error:
            _log.warning("removing unreadable recovery file %s: %s", file, error)
            file.unlink(missing_ok=True)
    return sorted(found, key=lambda r: r.saved_at, reverse=True)


def _read(file: Path) -> Recovery:
    data = json.loads(file.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ValueError("not a netbuilder recovery file")
    original = data.get("original_path")
    return Recovery(file, project_from_dict(data.get("project"), "recovered project"),
                    Path(original) if isinstance(original, str) else None,
                    datetime.fromisoformat(str(data.get("saved_at"))))
