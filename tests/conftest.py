"""Test-wide setup: Qt without a screen, and private cache and data folders so tests never
touch the user's (downloads, generated digits, recovery files, logs, settings)."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def private_user_folders(tmp_path_factory):
    folders = {"NETBUILDER_CACHE_DIR": tmp_path_factory.mktemp("netbuilder-cache"),
               "NETBUILDER_DATA_DIR": tmp_path_factory.mktemp("netbuilder-data")}
    patch = pytest.MonkeyPatch()
    for variable, folder in folders.items():
        patch.setenv(variable, str(folder))
    yield folders
    patch.undo()
