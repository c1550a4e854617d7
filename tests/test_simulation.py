"""Two months of operation in seconds: a test clock drives the service's own jobs.

The current time is passed in (`Service(clock=...)`), never read from the wall, so 60 days of
polls every six hours, daily digests, retention and a restart every week run in one test
against a real SQLite file, a real feed server and the local Bot API server on 127.0.0.1.
Feeds publish every day and keep their last five days of items, as real feeds do; the seed
folder holds an archive older than the retention window.

At the end: every matching item was alerted exactly once per instant subscriber and listed
in exactly one digest of the digest subscriber; the digests cover the days without gap or
overlap; the archive holds only what retention allows; nothing deleted came back.
"""

from __future__ import annotations

import io
import json
import random
import re
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from itertools import pairwise
from pathlib import Path

import pytest
from telegram import Bot

from monitor.config import load_config
from monitor.deliver.outbox import Dispatcher, NoLimit
from monitor.deliver.senders import TelegramSender
from monitor.service import Service
from monitor.store import Store
from tests import rawdb
from tests.botapi_server import TOKEN, FakeBotAPI
from tests.feed_server import FeedServer
from tests.test_service import story

START = datetime(2027, 1, 4, 0, 0, tzinfo=UTC)     # after the wall clock: nothing may read it
DAYS = 60
STEP = timedelta(hours=6)
RESTART_EVERY = timedelta(days=7)
ARTICLES_DAYS = 14
INSTANT_CHATS = (101, 102)
DIGEST_CHAT = 201
JOINED = datetime(2027, 1, 3, 7, 0, tzinfo=UTC)   # the digest chat's last digest when it joined
FEED_KEEPS_DAYS = 5
ARCHIVE_ITEMS = 6


@pytest.fixture
def botapi():
    server = FakeBotAPI(enforce_limits=False).serve()
    yield server
    server.close()


def feed_items(day: int, n: int) -> tuple[str, bool, datetime]:
    """Item n of a day: its URL, whether it matches the rule, and when it was published."""
    return (f"https://news.example/{day}/{n}", n < 2,
            START + timedelta(days=day, hours=5 + n))


def feed_body(now: datetime) -> str:
    """The feed at `now`: what was published in the last FEED_KEEPS_DAYS days."""
    today = (now - START).days
    entries = []
    for day in range(max(0, today - FEED_KEEPS_DAYS + 1), today + 1):
        for n in range(3):
            url, matching, published = feed_items(day, n)
            if published > now:
                continue
            text = story(day * 10 + n) if matching else story(day * 10 + n).replace("Putin", "")
            entries.append(
                f"<item><title>Tag {day} Meldung {n}</title><link>{url}</link><guid>{url}</guid>"
                f"<pubDate>{format_datetime(published)}</pubDate>"
                f"<description>{text}</description></item>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Sim</title><link>https://news.example/</link>{''.join(entries)}"
            f"</channel></rss>")


def deployment(tmp_path: Path, feeds: FeedServer, botapi: FakeBotAPI) -> Path:
    (tmp_path / "seeds").mkdir()
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "putin.toml").write_text(
        '[[rules]]\nid = "putin"\nname = "Putin"\nquery = "Putin"\n', encoding="utf-8")
    archive = [json.dumps({
        "title": f"Archiv {n}", "text": story(1000 + n), "url": f"https://archive.example/{n}",
        "published": (START - timedelta(days=100 + n)).isoformat()}) for n in range(ARCHIVE_ITEMS)]
    (tmp_path / "seeds" / "archive.jsonl").write_text("\n".join(archive) + "\n",
                                                      encoding="utf-8")
    (tmp_path / "config.toml").write_text(f"""
[database]
path = "monitor.db"
[[feeds]]
name = "news"
url = "{feeds.url('/news.xml')}"
interval = "6h"
[telegram]
api_url = "{botapi.url}"
access = "open"
[digest]
time = "08:00"
timezone = "Europe/Berlin"
[service]
jitter = 0.01
[retention]
articles_days = {ARTICLES_DAYS}
outbox_days = 7
keys_days = 30
""", encoding="utf-8")
    return tmp_path / "config.toml"


def subscribe(store: Store, now: datetime) -> None:
    for chat in (*INSTANT_CHATS, DIGEST_CHAT):
        store.upsert_subscriber(chat, "private", f"chat {chat}", "de")
    for chat in INSTANT_CHATS:
        store.subscribe(chat, "putin", "instant")
    store.subscribe(DIGEST_CHAT, "putin", "digest")
    # The digest subscriber joined at the start: its first digest covers the day before.
    store.record_digest(DIGEST_CHAT, JOINED - timedelta(days=1), JOINED, [], now)


URL = re.compile(r'href="(https://(?:news|archive)\.example/[^"]+)"')


async def test_sixty_days_every_item_once_and_the_archive_within_retention(tmp_path, feeds,
                                                                         botapi):
    random.seed(20270104)
    async with Bot(TOKEN, base_url=f"{botapi.url}/bot") as bot:
        config = load_config(deployment(tmp_path, feeds, botapi))
        now = START
        clock = lambda: now  # noqa: E731 (the simulated time, read by every stage)
        digests: list[set[str]] = []        # the URLs of each digest, as delivered
        store = Store(config.database_path)
        subscribe(store, now)
        service = last_restart = None
        retention_counts = Counter()
        while now < START + timedelta(days=DAYS):
            if service is None or now - last_restart >= RESTART_EVERY:
                if service is not None:        # a restart: new store, pipeline, story index
                    store.close()
                    store = Store(config.database_path)
                service = Service(config, store, out=io.StringIO(), clock=clock)
                service.dispatcher = Dispatcher(store, TelegramSender(bot), limiter=NoLimit(),
                                                clock=clock)
                last_restart = now
                retention_counts.update(asdict(await service.retention()))  # runs at start
            feeds.publish("/news.xml", feed_body(now))
            await service.ingest()
            before = len(botapi.messages_to(DIGEST_CHAT))
            await service.dispatch()
            delivered = botapi.messages_to(DIGEST_CHAT)[before:]
            if delivered:
                digests.append({url for m in delivered for url in URL.findall(m.text)})
            if now.hour == 0 and now.day % 2 == 0:
                retention_counts.update(asdict(await service.retention()))
            now += STEP
        await service.dispatch()

        expected = {feed_items(day, n)[0] for day in range(DAYS) for n in range(2)}
        expected |= {f"https://archive.example/{n}" for n in range(ARCHIVE_ITEMS)}
        for chat in INSTANT_CHATS:
            alerted = Counter(url for m in botapi.messages_to(chat) for url in URL.findall(m.text))
            assert set(alerted) == expected
            assert set(alerted.values()) == {1}, [u for u, c in alerted.items() if c > 1]
        listed = Counter(url for urls in digests for url in urls)
        assert set(listed) == expected
        assert set(listed.values()) == {1}

        # the periods recorded (no public call reads them back: tests/rawdb.py)
        periods = [(r["period_start"], r["period_end"]) for r in rawdb.query(
            store, "SELECT period_start, period_end FROM digests WHERE chat_id = ? "
            "AND period_end > ? ORDER BY period_end", DIGEST_CHAT, JOINED.isoformat())]
        assert len(periods) == DAYS
        assert all(later[0] == earlier[1] for earlier, later in pairwise(periods))
        assert len(digests) == DAYS

        cutoff = now - timedelta(days=ARTICLES_DAYS + 2)   # retention every 2 days
        kept = [(a.url, a.published, a.fetched) for a in store.iter_articles()]
        assert all(max(published, fetched) >= cutoff for _, published, fetched in kept)
        assert not any(url.startswith("https://archive.example/") for url, _, _ in kept)
        assert len(kept) <= 3 * (ARTICLES_DAYS + 2)
        assert retention_counts["articles"] == 3 * DAYS + ARCHIVE_ITEMS - len(kept)
        assert retention_counts["keys"] > 0      # keys of items no source repeats expire
        store.close()
