"""Backend tests share one on-disk cache directory per session (compiled code is reused)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def symdiff_cache_dir(tmp_path_factory) -> str:
    """Point SYMDIFF_CACHE_DIR at a fresh directory for the whole session."""
    path = str(tmp_path_factory.mktemp("symdiff-cache"))
    previous = os.environ.get("SYMDIFF_CACHE_DIR")
    os.environ["SYMDIFF_CACHE_DIR"] = path
    yield path
    if previous is None:
        os.environ.pop("SYMDIFF_CACHE_DIR", None)
    else:
        os.environ["SYMDIFF_CACHE_DIR"] = previous
