"""`monitor run` as a real process, with a feed server and the local Bot API server:
SIGTERM mid-dispatch exits 0 quickly and loses nothing; SIGKILL at random points across
ingest, match and dispatch loses no article, match or alert."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from monitor.store import Store
from tests.botapi_server import TOKEN, FakeBotAPI
from tests.feed_server import FeedServer

REPO = Path(__file__).resolve().parent.parent
MONITOR = Path(sys.executable).parent / "monitor"
RULE = '[[rules]]\nid = "putin"\nname = "Putin"\nquery = "Putin"\n'


WORDS = ("Regierung Haushalt Wahl Kanzler Minister Gipfel Handel Zoll Energie Gas Strom Bahn "
         "Streik Tarif Klima Hitze Flut Hafen Werft Kredit Zins Bank Export Import Grenze "
         "Armee Panzer Drohne Satellit Rakete Vertrag Botschaft Konsul Reise Besuch Rede Kritik "
         "Protest Gericht Urteil Klage Gesetz Reform Schule Klinik Pflege Rente Steuer").split()


def story(n: int) -> str:
    """A text of its own for item n, so that no two items look like copies of one story."""
    rng = random.Random(n)
    return " ".join(rng.choice(WORDS) for _ in range(40)) + " Putin."


def rss(items: list[tuple[int, str]]) -> str:
    base = datetime(2026, 11, 1, tzinfo=UTC)
    entries = "".join(
        f"<item><title>Meldung {n}: {title}</title><link>https://news.example/{n}</link>"
        f"<guid>https://news.example/{n}</guid>"
        f"<pubDate>{format_datetime(base + timedelta(minutes=n))}</pubDate>"
        f"<description>{story(n)}</description></item>"
        for n, title in items)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Test</title><link>https://news.example/</link>{entries}</channel></rss>")


def deployment(tmp_path: Path, feeds: FeedServer, botapi: FakeBotAPI, chats: list[int]) -> Path:
    (tmp_path / "seeds").mkdir()
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "putin.toml").write_text(RULE, encoding="utf-8")
    (tmp_path / "config.toml").write_text(f"""
[database]
path = "monitor.db"
[[feeds]]
name = "news"
url = "{feeds.url('/news.xml')}"
interval = "1s"
[telegram]
api_url = "{botapi.url}"
access = "open"
[service]
poll_every_s = 1
dispatch_every_s = 1
jitter = 0.01
""", encoding="utf-8")
    subprocess.run([str(MONITOR), "feeds", "list"], cwd=tmp_path, check=True,
                   capture_output=True)   # creates the database
    with Store(tmp_path / "monitor.db") as store:
        for chat in chats:
            store.upsert_subscriber(chat, "private", None, None)
            store.subscribe(chat, "putin", "instant")
    return tmp_path


_STARTED: list[subprocess.Popen] = []


@pytest.fixture(autouse=True)
def _processes_ended():
    """Every `monitor run` a test started is ended and its pipe closed when the test ends."""
    yield
    while _STARTED:
        process = _STARTED.pop()
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def start(workdir: Path) -> subprocess.Popen:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN}
    process = subprocess.Popen([str(MONITOR), "run"], cwd=workdir, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _STARTED.append(process)
    return process


def wait_started(process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    for line in process.stderr:
        if "service started" in line:
            return
        assert time.monotonic() < deadline, "service did not start"
    raise AssertionError("service exited before it started")


def stored(workdir: Path) -> Store:
    """What the processes left in the database, read as `monitor stats` reads it (also
    while one runs)."""
    return Store(workdir / "monitor.db", readonly=True)


def test_sigterm_mid_dispatch_exits_0_quickly_and_loses_nothing(tmp_path, feeds, botapi):
    chats = list(range(1, 41))
    workdir = deployment(tmp_path, feeds, botapi, chats)
    feeds.publish("/news.xml", rss([(1, "Putin empfängt Gäste")]))
    botapi.delay_s = 0.3          # a slow Bot API: the dispatch takes a while
    process = start(workdir)
    wait_started(process)
    assert botapi.wait_for(lambda api: len(api.sent) >= 3, timeout=30)
    stopped_at = time.monotonic()
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    assert time.monotonic() - stopped_at < 5
    sent_before = Counter(s.chat_id for s in botapi.sent)
    assert 0 < len(sent_before) < len(chats)   # it really was stopped mid-dispatch
    with stored(workdir) as db:
        states = dict(db.stats().outbox)
    assert states.get("sent", 0) + states.get("pending", 0) == len(chats)

    botapi.delay_s = 0
    process = start(workdir)
    wait_started(process)
    assert botapi.wait_for(lambda api: len({s.chat_id for s in api.sent}) == len(chats),
                           timeout=60)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0
    delivered = Counter(s.chat_id for s in botapi.sent)
    assert set(delivered) == set(chats)
    # a second copy only where the stop fell between Telegram accepting and the row's mark
    assert sum(delivered.values()) - len(chats) <= 8
    # rendered as sent, with the word the rule matched in bold in the summary
    assert all("<b>Putin</b>" in s.text.split("\n\n", 1)[1] for s in botapi.sent)


def test_sigkill_at_random_points_loses_nothing(tmp_path, feeds, botapi):
    rounds = 20
    chats = [11, 12, 13]
    workdir = deployment(tmp_path, feeds, botapi, chats)
    rng = random.Random(20261128)
    published: list[tuple[int, str]] = []
    for _ in range(rounds):
        for n in range(len(published), len(published) + 3):
            published.append((n, rng.choice(["Putin reist", "Putin spricht", "Putin schweigt"])))
        feeds.publish("/news.xml", rss(published))
        process = start(workdir)
        wait_started(process)
        time.sleep(rng.uniform(0.0, 1.5))
        process.kill()
        process.wait(timeout=10)

    process = start(workdir)
    wait_started(process)
    expected = {(chat, f"https://news.example/{n}") for n, _ in published for chat in chats}

    def delivered(api: FakeBotAPI) -> set[tuple[int, str]]:
        return {(s.chat_id, url) for s in api.sent for url in
                [f"https://news.example/{n}" for n in range(len(published))]
                if f'href="{url}"' in s.text}

    def settled(api: FakeBotAPI) -> bool:
        # every alert arrived and nothing waits in the outbox any more (a row whose first
        # copy arrived just before a kill may still wait out a 429 before its resend)
        if not expected <= delivered(api):
            return False
        with stored(workdir) as db:
            return db.pending_count() == 0

    assert botapi.wait_for(settled, timeout=120), \
        f"missing alerts: {sorted(expected - delivered(botapi))[:5]}"
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=10) == 0

    with stored(workdir) as db:
        urls = [article.url for article in db.iter_articles()]
        assert db.unmatched_articles() == []
        stats = db.stats()
    assert sorted(urls) == sorted(f"https://news.example/{n}" for n, _ in published)
    assert stats.matches == len(published)
    assert [status for status, _ in stats.outbox] == ["sent"]
    copies = Counter((s.chat_id, s.text) for s in botapi.sent)
    duplicates = sum(n - 1 for n in copies.values())
    # each kill can catch at most the messages in flight between Telegram and the mark
    assert duplicates <= rounds
