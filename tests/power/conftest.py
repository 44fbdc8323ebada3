"""Power-study tests write their default study folders under a temporary cache, never into the user's."""
import pytest


@pytest.fixture(autouse=True)
def temporary_cache(tmp_path_factory, monkeypatch):
    folder = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("ALLIANCESTATS_CACHE_DIR", str(folder))
    return folder
