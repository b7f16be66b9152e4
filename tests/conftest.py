"""Test-wide setup: Qt without a screen, and a private cache folder so tests never touch the user's."""
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def private_cache_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("netbuilder-cache")
    previous = os.environ.get("NETBUILDER_CACHE_DIR")
    os.environ["NETBUILDER_CACHE_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("NETBUILDER_CACHE_DIR", None)
    else:
        os.environ["NETBUILDER_CACHE_DIR"] = previous
