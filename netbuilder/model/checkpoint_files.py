"""Where a project's checkpoint is and which file is there now: torch-free, so that the runs of a
project can be listed (netbuilder.runs) without importing torch."""
from __future__ import annotations

import os
from pathlib import Path

FileVersion = tuple[int, int, int, int]  # device, inode, modification time (ns), size


def checkpoint_path(project_path: str | os.PathLike, folder: str | os.PathLike | None = None) -> Path:
    """The checkpoint file of a project; `folder` puts it elsewhere under the same name."""
    project_path = Path(project_path)
    return (Path(folder) if folder is not None else project_path.parent) / f"{project_path.stem}.safetensors"


def checkpoint_version(project_path: str | os.PathLike, folder: str | os.PathLike | None = None) -> FileVersion | None:
    """Which checkpoint file is there now (None: none). A run takes this when it starts and hands
    it to save_checkpoint, which then keeps a checkpoint that another run saved meanwhile."""
    try:
        status = checkpoint_path(project_path, folder).stat()
    except OSError:
        return None
    return status.st_dev, status.st_ino, status.st_mtime_ns, status.st_size
