"""Shared fixtures: the real data sets beside the repo and the bundled spaces, loaded once."""

from __future__ import annotations

from pathlib import Path

import pytest

import embscope

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.fail(f"the shared data sets are missing: expected them at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def glove() -> embscope.EmbeddingSpace:
    return embscope.load("glove-6b-50d")


@pytest.fixture(scope="session")
def minilm() -> embscope.EmbeddingSpace:
    return embscope.load("minilm")


@pytest.fixture(scope="session")
def minilm_dir() -> Path:
    from embscope.sources.bundled import minilm_path

    return minilm_path()
