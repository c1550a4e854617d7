"""Shared fixtures: every test gets its own real SQLite file in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.store import Store

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture
def db(tmp_path: Path):
    store = Store(tmp_path / "monitor.db")
    yield store
    store.close()
