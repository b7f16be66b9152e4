"""Where netbuilder keeps the user's own files and its downloaded data. Qt-free and light, so the
data layer and the window share one answer."""
from __future__ import annotations

import os
from pathlib import Path
from types import ModuleType
from typing import Callable


def app_data_dir() -> Path:
    """Where netbuilder keeps recovery files, logs and the personal handwriting set;
    NETBUILDER_DATA_DIR overrides it (tests use that)."""
    return _user_folder("NETBUILDER_DATA_DIR", lambda dirs: dirs.user_data_dir("netbuilder", appauthor=False))


def cache_dir() -> Path:
    """Where downloaded and generated data is kept, created when missing; NETBUILDER_CACHE_DIR
    overrides it (tests use that)."""
    path = _user_folder("NETBUILDER_CACHE_DIR", lambda dirs: dirs.user_cache_dir("netbuilder"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def _user_folder(override_variable: str, platform_folder: Callable[[ModuleType], str]) -> Path:
    """The folder the environment variable names, else the system's place for it (platformdirs,
    imported only then: the window starts without it)."""
    override = os.environ.get(override_variable)
    if override:
        return Path(override)
    import platformdirs

    return Path(platform_folder(platformdirs))
