"""The product's lifetime promises, as operators run it: `monitor run` as real processes on a
real SQLite file, a feed server and the local Bot API server on 127.0.0.1.

Nothing twice: not after restarts over an archive older than retention, not with a second
instance started beside the first. Nothing lost or stalled: a rate-limited backlog never
delays a poll, an unreachable Telegram never stops ingest, and a broken rule file reaches
the admins even when a user's /rules read the folder first.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.models import Count
from monitor.store import Store
from tests import rawdb
from tests.botapi_server import TOKEN
from tests.feed_server import FeedServer
from tests.test_service import RULE, rss, stored

MONITOR = Path(sys.executable).parent / "monitor"
ADMIN = 99


def deployment(tmp_path: Path, feeds: FeedServer, botapi_url: str, chats: list[int],
               extra: str = "", poll_every_s: int = 1) -> Path:
    """A deployment folder whose chats subscribed to the rule `putin` (made by the bot
    before; written here directly)."""
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
api_url = "{botapi_url}"
access = "open"
admins = [{ADMIN}]
[service]
poll_every_s = {poll_every_s}
dispatch_every_s = 1
jitter = 0.01
{extra}
""", encoding="utf-8")
    subprocess.run([str(MONITOR), "feeds", "list"], cwd=tmp_path, check=True,
                   capture_output=True)   # creates the database
    with Store(tmp_path / "monitor.db") as store:
        for chat in [*chats, ADMIN]:
            store.upsert_subscriber(chat, "group" if chat < 0 else "private", None, None)
        for chat in chats:
            store.subscribe(chat, "putin", "instant")
    return tmp_path


class Running:
    """One `monitor run` process whose log lines are read as they come."""

    def __init__(self, workdir: Path, *args: str, token: str = TOKEN):
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": token}
        self.process = subprocess.Popen([str(MONITOR), "run", *args], cwd=workdir, env=env,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True)
        self.lines: list[str] = []

    def wait_for(self, text: str, timeout: float = 30, after: int = 0) -> str:
        """The first log line from index `after` on that contains `text`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in self.lines[after:]:
                if text in line:
                    return line
            after = len(self.lines)
            line = self.process.stdout.readline()
            if not line:
                raise AssertionError(f"exited before {text!r}:\n{''.join(self.lines)}")
            self.lines.append(line)
        raise AssertionError(f"no {text!r} within {timeout}s:\n{''.join(self.lines)}")

    def cycles(self, count: int, timeout: float = 30) -> None:
        """Wait until `count` more ingest cycles have finished."""
        for _ in range(count):
            line = self.wait_for("cycle new_articles=", timeout, after=len(self.lines))
            self.lines.append("(seen) " + line)

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=15)
        self.process.stdout.close()
        return code


def monitor(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN}
    return subprocess.run([str(MONITOR), *args], cwd=workdir, env=env, capture_output=True,
                          text=True, timeout=60)


def test_a_second_instance_is_refused_and_every_message_goes_once(tmp_path, feeds, botapi):
    chats = [1, 2, 3]
    workdir = deployment(tmp_path, feeds, botapi.url, chats)
    feeds.publish("/news.xml", rss([(n, f"Putin Nummer {n}") for n in range(4)]))
    first = Running(workdir)
    first.wait_for("service started")
    pid = first.process.pid
    for command in (["run"], ["run", "--once"], ["ingest"], ["digest", "--all"]):
        refused = monitor(workdir, *command)
        assert refused.returncode == 1, (command, refused.stdout, refused.stderr)
        assert f"another monitor is running on {workdir / 'monitor.db'} (pid {pid})" \
            in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr
    # read-only and feed commands keep working beside the service
    for command in (["stats"], ["search", "Putin"], ["feeds", "list"],
                    ["feeds", "add", "https://extra.example/feed.xml", "--name", "extra"],
                    ["backup", str(tmp_path / "copy.db")], ["rules", "check"]):
        done = monitor(workdir, *command)
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    assert botapi.wait_for(lambda api: len(api.sent) >= 12, timeout=60)
    time.sleep(2)                                   # anything sent twice would arrive now
    assert first.stop() == 0
    copies = Counter((s.chat_id, s.text) for s in botapi.sent)
    assert len(copies) == 12 and set(copies.values()) == {1}
    with stored(workdir) as db:
        assert [feed.name for feed in db.feeds()] == ["extra", "news"]

    killed = Running(workdir)          # kill -9 leaves no stale lock behind
    killed.wait_for("service started")
    killed.process.kill()
    killed.process.wait(timeout=10)
    killed.process.stdout.close()
    again = Running(workdir)
    again.wait_for("service started")
    assert again.stop() == 0


def seed_archive(workdir: Path, count: int, days_old: int) -> None:
    """`count` seed articles (JSON lines) published `days_old` days ago, each its own story."""
    published = datetime.now(UTC) - timedelta(days=days_old)
    topics = ("Gas", "Hafen", "Rakete", "Vertrag", "Streik", "Gericht", "Wahl", "Klinik",
              "Zoll", "Bahn", "Rente", "Drohne")
    lines = [json.dumps({
        "title": f"Archiv {n}: Putin und {topics[n % len(topics)]}",
        "text": f"Putin sprach über {topics[n % len(topics)]} " * 5 + f"Ausgabe {n} des Archivs.",
        "url": f"https://archive.example/{n}",
        "published": (published - timedelta(hours=n)).isoformat(),
    }, ensure_ascii=False) for n in range(count)]
    (workdir / "seeds" / "archive.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_restarts_over_an_archive_older_than_retention_alert_once_and_never_refill(
        tmp_path, feeds, botapi):
    """12 seed articles published 400 days ago, retention of 30 days, three restarts: the
    archive is kept while it is young in the archive, deleted once it aged out there, and
    never ingested again, and each item is alerted once per subscriber."""
    chats = [21, 22]
    workdir = deployment(tmp_path, feeds, botapi.url, chats,
                         extra="[retention]\narticles_days = 30\n")
    feeds.publish("/news.xml", rss([]))
    seed_archive(workdir, 12, days_old=400)
    service = Running(workdir)
    service.wait_for("service started")
    service.cycles(2)
    assert botapi.wait_for(lambda api: len(api.sent) >= 24, timeout=60)
    assert service.stop() == 0
    counts = []
    for restart in range(3):
        if restart == 1:   # the archive has now been stored for 31 days (times only rawdb moves)
            rawdb.execute(workdir / "monitor.db", "UPDATE articles SET fetched = ?",
                          (datetime.now(UTC) - timedelta(days=31)).isoformat(timespec="seconds"))
        service = Running(workdir)
        service.wait_for("service started")
        service.cycles(3)                  # retention ran at start; seeds read three times
        time.sleep(1.5)
        assert service.stop() == 0
        with stored(workdir) as db:
            counts.append(db.count_articles())
    assert counts == [12, 0, 0]
    copies = Counter((s.chat_id, s.text) for s in botapi.sent)
    assert len(copies) == 24 and set(copies.values()) == {1}
    # each deleted article is remembered by its URL and its text hash (seeds have no GUID)
    # (no public call reads the remembered keys back: tests/rawdb.py)
    assert rawdb.value(workdir / "monitor.db", "SELECT count(*) FROM seen_keys") == 12 * 2


def test_a_broken_rule_file_reaches_the_admin_while_users_read_rules(tmp_path, feeds, botapi):
    workdir = deployment(tmp_path, feeds, botapi.url, [31])
    feeds.publish("/news.xml", rss([]))
    service = Running(workdir)
    service.wait_for("bot serving commands")
    notices = []
    for broken in ('[[rules]]\nid = "x"\nquery = "Putin AND ("\n',
                   "x = " + "[" * 3000 + "\n"):
        (workdir / "rules" / "broken.toml").write_text(broken, encoding="utf-8")
        for _ in range(4):                 # a user keeps reading the catalog meanwhile
            botapi.user_message(31, "/rules")
            time.sleep(0.2)
        seen = len(notices)
        assert botapi.wait_for(lambda api, seen=seen: len(api.messages_to(ADMIN)) > seen,
                               timeout=30)
        notices = botapi.messages_to(ADMIN)
        assert "Die Regeldateien haben Fehler" in notices[-1].plain
        assert "broken.toml" in notices[-1].plain
    service.cycles(3)                      # still broken: not told again
    assert service.stop() == 0
    assert len(botapi.messages_to(ADMIN)) == 2
    assert "nested too deeply" in botapi.messages_to(ADMIN)[1].plain
    assert "RecursionError" not in "".join(service.lines)
    catalog = botapi.messages_to(31)
    assert len(catalog) == 8 and all("putin" in s.plain for s in catalog), \
        [s.plain for s in catalog]          # every /rules answered, from the last good rules


def test_a_backlog_to_one_group_does_not_delay_a_new_item(tmp_path, feeds, botapi):
    """30 alerts to one group take 90 s at Telegram's 20 per minute. An item published
    meanwhile is stored within a poll, not after the backlog."""
    group = -1001
    workdir = deployment(tmp_path, feeds, botapi.url, [group])
    items = [(n, f"Putin Meldung {n}") for n in range(30)]
    feeds.publish("/news.xml", rss(items))
    service = Running(workdir)
    service.wait_for("service started")
    assert botapi.wait_for(lambda api: len(api.messages_to(group)) >= 2, timeout=30)
    feeds.publish("/news.xml", rss([*items, (99, "Putin neu")]))
    published_at = time.monotonic()
    deadline = published_at + 10

    def stored_new_item() -> bool:
        with stored(workdir) as db:
            return bool(db.known_article_keys([], ["https://news.example/99"]))

    while time.monotonic() < deadline and not stored_new_item():
        time.sleep(0.2)
    stored_after = time.monotonic() - published_at
    with stored(workdir) as db:
        pending = db.pending_count()
    assert service.stop() == 0
    assert stored_after < 10, "the new item waited for the backlog"
    assert pending > 10                    # the backlog really was still being sent


def test_an_unreachable_telegram_does_not_stop_the_service_from_ingesting(tmp_path, feeds):
    workdir = deployment(tmp_path, feeds, "http://127.0.0.1:9", [41])
    feeds.publish("/news.xml", rss([(1, "Putin spricht")]))
    service = Running(workdir)
    service.wait_for("service started")
    service.wait_for("bot cannot reach Telegram")
    service.cycles(2)
    assert service.stop() == 0
    with stored(workdir) as db:
        assert db.count_articles() == 1
        assert db.stats().outbox == [Count("pending", 1)]


def test_a_rejected_token_at_start_is_one_line_without_the_token(tmp_path, feeds, botapi):
    workdir = deployment(tmp_path, feeds, botapi.url, [])
    secret = "42:the-secret-part"
    done = subprocess.run([str(MONITOR), "run"], cwd=workdir, capture_output=True, text=True,
                          env={**os.environ, "TELEGRAM_BOT_TOKEN": secret}, timeout=60)
    assert done.returncode == 1
    assert secret not in done.stdout + done.stderr
    assert "Error: Telegram rejected the bot token in $TELEGRAM_BOT_TOKEN" in done.stderr
    assert "Traceback" not in done.stderr
