"""Silent feeds, end to end: a feed that still answers but brings nothing new (or no feed at
all) is told to the admins once, shown silent by /stats and `monitor stats`, and its
recovery told once; restarts in between repeat nothing.

The service's own jobs run against a real SQLite file, the feed server and the local Bot API
server on 127.0.0.1, driven hour by hour by a test clock.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from telegram import Bot

from monitor.cli import main
from monitor.config import Config, load_config
from monitor.deliver.outbox import Dispatcher, NoLimit
from monitor.deliver.senders import TelegramSender
from monitor.service import Service
from monitor.store import Store
from tests.botapi_server import TOKEN, FakeBotAPI
from tests.feed_server import FeedServer
from tests.test_service import rss

START = datetime(2027, 3, 1, 6, 0, tzinfo=UTC)     # after the wall clock: nothing may read it
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
ADMIN = 900
PARKING_PAGE = ("<!DOCTYPE html><html><head><title>Domain for sale</title></head>"
                "<body><h1>This domain is for sale</h1></body></html>")


@pytest.fixture
def botapi():
    server = FakeBotAPI(enforce_limits=False).serve()
    yield server
    server.close()


def deployment(tmp_path: Path, feeds: FeedServer, botapi: FakeBotAPI) -> Path:
    (tmp_path / "seeds").mkdir()
    (tmp_path / "rules").mkdir()
    (tmp_path / "config.toml").write_text(f"""
[database]
path = "monitor.db"
[[feeds]]
name = "news"
url = "{feeds.url('/news.xml')}"
interval = "1h"
[telegram]
api_url = "{botapi.url}"
access = "open"
admins = [{ADMIN}]
[service]
jitter = 0
""", encoding="utf-8")
    return tmp_path / "config.toml"


class Deployment:
    """The service as `monitor run` builds it, with the test's clock; `restart()` makes a new
    store and service on the same database, as a new process would."""

    def __init__(self, config: Config, bot: Bot, clock: Callable[[], datetime]):
        self.config, self.bot, self.clock = config, bot, clock
        self.store = Store(config.database_path)
        self.service = self._service()

    def _service(self) -> Service:
        service = Service(self.config, self.store, out=io.StringIO(), clock=self.clock)
        service.dispatcher = Dispatcher(self.store, TelegramSender(self.bot), limiter=NoLimit(),
                                        clock=self.clock)
        return service

    def restart(self) -> None:
        self.store.close()
        self.store = Store(self.config.database_path)
        self.service = self._service()

    async def run_jobs(self) -> None:
        """What the scheduler runs in an hour: ingest, the admins' checks, delivery."""
        await self.service.ingest()
        await self.service.operations()
        await self.service.dispatch()


def told(botapi: FakeBotAPI, words: str) -> list[str]:
    return [m.plain for m in botapi.messages_to(ADMIN) if words in m.plain]


def stats_health(config_path: Path) -> str:
    """The health cell of the feed in `monitor stats`."""
    result = CliRunner().invoke(main, ["stats", "--config", str(config_path)],
                                env={"COLUMNS": "200"}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    feed_table = result.output[result.output.index("Feeds"):]
    return next(line for line in feed_table.splitlines() if "│ news " in line)


async def test_a_feed_that_goes_silent_is_told_once_and_its_recovery_once(tmp_path, feeds,
                                                                        botapi):
    config_path = deployment(tmp_path, feeds, botapi)
    now = START
    async with Bot(TOKEN, base_url=f"{botapi.url}/bot") as bot:
        run = Deployment(load_config(config_path), bot, lambda: now)
        # Ten hours of one new item an hour: the feed's rhythm (upper quartile of 9 gaps: 1 h)
        # and so its limit: 4 × 1 h is under the floor, 12 h.
        for n in range(10):
            feeds.publish("/news.xml", rss([(i, f"Meldung {i}") for i in range(n + 1)]))
            await run.run_jobs()
            now += HOUR
        last_new = now - HOUR
        # Then the same items (answered with 304) for a day, and a restart in the middle.
        for hour in range(24):
            if hour == 16:
                run.restart()
            await run.run_jobs()
            if now - last_new < timedelta(hours=12):
                assert told(botapi, "verstummt") == []
            now += HOUR
        [silent] = told(botapi, "verstummt")
        assert silent.startswith("⚠️ Feed news ist verstummt: er antwortet, bringt aber nichts "
                                 "Neues seit ")
        assert silent.endswith("(sonst etwa alle 1h).")
        assert told(botapi, "gestört") == []
        stats = run.service.stats_text("en", "UTC")
        assert "feeds: 0 ok, 0 failing, 1 silent" in stats
        assert "  news: silent since 01.03.2027 15:00 UTC – nothing new" in stats
        assert "silent since 03-01 15:00, nothing new (usually every 1h)" in stats_health(
            config_path)

        # New items end the silence: told once, also across a restart.
        feeds.publish("/news.xml", rss([(i, f"Meldung {i}") for i in range(11)]))
        for hour in range(4):
            if hour == 2:
                run.restart()
            await run.run_jobs()
            now += HOUR
        [back] = told(botapi, "liefert wieder")
        assert back.startswith("✅ Feed news liefert wieder (verstummt seit ")
        assert len(told(botapi, "verstummt")) == 2            # the first notice, and this one
        assert "feeds: 1 ok, 0 failing, 0 silent" in run.service.stats_text("en", "UTC")
        assert "│ ok" in stats_health(config_path)
        run.store.close()


async def test_a_feed_whose_address_answers_with_no_feed_is_silent_not_failing(tmp_path, feeds,
                                                                              botapi):
    """A parking page with status 200: a failed poll at first (a maintenance page for an hour
    is no lost feed), silent once it lasts half a day, told once as that and never as a
    failing feed; a feed again, and its recovery is told."""
    config_path = deployment(tmp_path, feeds, botapi)
    now = START
    async with Bot(TOKEN, base_url=f"{botapi.url}/bot") as bot:
        run = Deployment(load_config(config_path), bot, lambda: now)
        feeds.publish("/news.xml", rss([(1, "Meldung 1")]))
        await run.run_jobs()
        now += HOUR
        feeds.publish("/news.xml", PARKING_PAGE, "text/html; charset=utf-8")
        page_since = now
        await run.run_jobs()
        assert "failing" in stats_health(config_path)
        assert "0 ok, 1 failing, 0 silent" in run.service.stats_text("en", "UTC")
        for hour in range(40):                    # backed off like any failing feed
            if hour == 20:
                run.restart()
            now += HOUR
            await run.run_jobs()
        [silent] = told(botapi, "verstummt")
        assert silent.startswith("⚠️ Feed news ist verstummt: seine Adresse liefert seit ")
        assert silent.endswith(" keinen Feed mehr: not a feed: the server sent an HTML page")
        assert told(botapi, "gestört") == []          # a day of it, and no "failing" notice
        feed = run.store.feed_by_name("news")
        assert feed is not None and feed.silent_since == page_since
        health = stats_health(config_path)
        assert "silent since 03-01 07:00, HTTP 200: not a feed: the server sent an" in health
        assert "0 ok, 0 failing, 1 silent" in run.service.stats_text("en", "UTC")

        feeds.publish("/news.xml", rss([(1, "Meldung 1"), (2, "Meldung 2")]))
        for _ in range(8):                        # the next try is at most 6 h away
            now += HOUR
            await run.run_jobs()
        assert len(told(botapi, "liefert wieder")) == 1
        assert "│ ok" in stats_health(config_path)
        run.store.close()


async def test_a_silence_that_ended_without_the_service_is_told_by_its_next_checks(
        tmp_path, feeds, botapi):
    """The end of a silence is kept with the feed's state: a `monitor ingest` (or a crash
    before the notice) that ended it loses no "back" notice; one whose start was never told
    is news to nobody."""
    config_path = deployment(tmp_path, feeds, botapi)
    now = START
    async with Bot(TOKEN, base_url=f"{botapi.url}/bot") as bot:
        run = Deployment(load_config(config_path), bot, lambda: now)
        feeds.publish("/news.xml", rss([(1, "Meldung 1")]))
        await run.run_jobs()
        [feed] = run.store.feeds()
        quiet_since = START - 2 * DAY
        run.store.save_feed_state(replace(feed, silent_since=quiet_since))
        await run.service.operations()
        await run.service.dispatch()
        assert len(told(botapi, "verstummt")) == 1
        # what a `monitor ingest` leaves when new articles end the silence
        run.store.save_feed_state(replace(feed, silent_since=None, silence_ended=quiet_since))
        run.restart()
        for _ in range(3):
            await run.service.operations()
            await run.service.dispatch()
        [back] = told(botapi, "liefert wieder")
        assert back.startswith("✅ Feed news liefert wieder")
        # a silence that began and ended while nothing told it
        run.store.save_feed_state(replace(feed, silent_since=None,
                                          silence_ended=START - DAY))
        await run.service.operations()
        await run.service.dispatch()
        assert len(told(botapi, "liefert wieder")) == 1
        run.store.close()
