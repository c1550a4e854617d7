"""Shared fixtures: every test gets its own real SQLite file in a temporary folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.store import Store
from tests.botapi_server import FakeBotAPI

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture
def db(tmp_path: Path):
    store = Store(tmp_path / "monitor.db")
    yield store
    store.close()


@pytest.fixture
def botapi():
    """The local stand-in for the Telegram Bot API, on 127.0.0.1, Telegram's limits on."""
    server = FakeBotAPI().serve()
    yield server
    server.close()
