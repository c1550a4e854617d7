"""Fixtures for ingest tests: a real HTTP server on 127.0.0.1 and small, fast fetch limits."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from monitor.config import FetchConfig
from monitor.ingest.fetch import Fetcher
from tests.feed_server import FeedServer

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FEEDS = FIXTURES / "feeds"
SEEDS = FIXTURES / "seeds"

# Limits small enough that the failure modes are hit in well under a second.
TEST_FETCH = FetchConfig(timeout_s=1.5, max_bytes=1024 * 1024, max_redirects=3,
                         concurrency=8, per_host=2, backoff_max_s=3600)


@pytest.fixture
def feed_server():
    with FeedServer(FEEDS) as server:
        yield server


@pytest.fixture
def closed_port() -> int:
    """A port that was free a moment ago: connecting to it is refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
async def fetcher():
    async with Fetcher(TEST_FETCH) as fetcher:
        yield fetcher
