"""Shared fixtures: every test gets its own real SQLite file in a temporary folder."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest

from monitor.deliver.outbox import Dispatcher
from monitor.models import OutboxMessage, SendResult
from monitor.store import Store, utc_now
from tests.botapi_server import FakeBotAPI
from tests.feed_server import FeedServer

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus"


@pytest.fixture
def db(tmp_path: Path):
    store = Store(tmp_path / "monitor.db")
    yield store
    store.close()


@pytest.fixture
def feeds():
    """A feed server on 127.0.0.1: `feeds.publish(path, body)` serves a feed there."""
    with FeedServer() as server:
        yield server


@pytest.fixture
def botapi():
    """The local stand-in for the Telegram Bot API, on 127.0.0.1, Telegram's limits on."""
    server = FakeBotAPI().serve()
    yield server
    server.close()


class RecordingSender:
    """Accepts every message and keeps it: for tests about what is sent, not how."""

    rate_limited = False

    def __init__(self) -> None:
        self.sent: list[OutboxMessage] = []

    async def send(self, message: OutboxMessage) -> SendResult:
        self.sent.append(message)
        return SendResult("sent", message_id=len(self.sent))


@pytest.fixture
def dispatch(db) -> Callable[..., Awaitable[list[OutboxMessage]]]:
    """Send what is due (now, or at a given time) through the real dispatcher, which
    renders alerts on the way (with the bold words of `pipeline`'s rules, when given, as
    the service wires it); returns the messages sent."""
    async def run(now: datetime | None = None, pipeline=None) -> list[OutboxMessage]:
        sender = RecordingSender()
        dispatcher = Dispatcher(db, sender, clock=lambda: now or utc_now())
        if pipeline is not None:
            dispatcher.matched_words = pipeline.matched_words
        await dispatcher.dispatch_due()
        return sender.sent
    return run
