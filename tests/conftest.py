"""Shared test set-up: keep every test's downloads and caches out of the user's real cache."""
import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def isolated_cache_dir(tmp_path_factory):
    previous = os.environ.get("NETBUILDER_CACHE_DIR")
    os.environ["NETBUILDER_CACHE_DIR"] = str(tmp_path_factory.mktemp("netbuilder-cache"))
    yield
    if previous is None:
        os.environ.pop("NETBUILDER_CACHE_DIR", None)
    else:
        os.environ["NETBUILDER_CACHE_DIR"] = previous
