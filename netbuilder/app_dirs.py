"""Where netbuilder keeps the user's own files. Qt-free and light, so the data layer and the
window share one answer."""
from __future__ import annotations

import os
from pathlib import Path


def app_data_dir() -> Path:
    """Where netbuilder keeps recovery files, logs and the personal handwriting set;
    NETBUILDER_DATA_DIR overrides it (tests use that)."""
    override = os.environ.get("NETBUILDER_DATA_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir("netbuilder", appauthor=False))
