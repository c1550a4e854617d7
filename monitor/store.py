"""The only module that speaks SQL.

SQLite through sqlite-utils 4, in WAL mode, with the schema kept as a history of
`Migrations`: each schema change is a new migration function, so an old database file
upgrades in place when it is opened. Times are stored as ISO 8601 strings in UTC, which
sort correctly as text.

Everything that must survive a crash is a row here before the next stage acts on it
(design.md): articles are committed before they are matched, and `matched_at` marks the
ones the matcher has finished, so an interrupted run picks up exactly the unmatched ones.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sqlite3
import threading
import zlib
from collections.abc import Container, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any, overload

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from monitor.errors import MonitorError
from monitor.models import Article, Feed, OutboxMessage, Subscriber, Subscription

migrations = Migrations("monitor")

# A stored feed never polls less often than this, whatever an older version let in.
MAX_INTERVAL_S = 30 * 86400
# Words this process wrote to the index vocabulary, so that each is written once: asking
# SQLite to insert-or-ignore every article's words again cost a tenth of a large ingest.
# Emptied when full, like the analyser's cache (a word then costs one more probe).
KNOWN_WORDS = 500_000


class StoreError(MonitorError):
    """The database cannot be used as asked; the message says why in one line (the tree of
    its kinds: monitor/errors.py)."""


class InstanceLocked(StoreError):
    pass


class FeedExists(StoreError):
    pass


class FeedConflict(StoreError):
    pass


@migrations()
def m0001_initial(db: Database) -> None:
    """Feeds with fetch state, articles with FTS5, and the tables the later stages fill."""
    db.execute(
        """
        CREATE TABLE feeds (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            url TEXT NOT NULL UNIQUE,
            interval_s INTEGER NOT NULL DEFAULT 600,
            language TEXT,
            full_text INTEGER NOT NULL DEFAULT 0,
            etag TEXT,
            last_modified TEXT,
            last_status INTEGER,
            last_error TEXT,
            error_count INTEGER NOT NULL DEFAULT 0,
            failing_since TEXT,
            last_fetched TEXT,
            last_ok TEXT,
            next_due TEXT,
            created TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            feed_id INTEGER REFERENCES feeds(id) ON DELETE SET NULL,
            source TEXT NOT NULL,
            guid TEXT,
            url TEXT,
            title TEXT NOT NULL,
            text TEXT NOT NULL,
            language TEXT NOT NULL,
            published TEXT NOT NULL,
            fetched TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            full_text_status TEXT,
            story_id INTEGER,
            matched_at TEXT
        )"""
    )
    # One row per article however it arrives: by GUID, by canonical URL, or by its text.
    db.execute("CREATE UNIQUE INDEX articles_guid ON articles(guid) WHERE guid IS NOT NULL")
    db.execute("CREATE UNIQUE INDEX articles_url ON articles(url) WHERE url IS NOT NULL")
    db.execute("CREATE UNIQUE INDEX articles_content_hash ON articles(content_hash)")
    db.execute("CREATE INDEX articles_published ON articles(published)")
    db.execute("CREATE INDEX articles_unmatched ON articles(id) WHERE matched_at IS NULL")
    db.table("articles").enable_fts(["title", "text"], fts_version="FTS5", create_triggers=True)

    db.execute(
        """
        CREATE TABLE matches (
            article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            rule_id TEXT NOT NULL,
            rule_version TEXT NOT NULL,
            matched TEXT NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (article_id, rule_id)
        )"""
    )
    db.execute("CREATE INDEX matches_rule ON matches(rule_id, created)")
    db.execute(
        """
        CREATE TABLE stories (
            id INTEGER PRIMARY KEY,
            first_article_id INTEGER NOT NULL,
            size INTEGER NOT NULL DEFAULT 1,
            sources TEXT NOT NULL DEFAULT '[]',
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE subscribers (
            chat_id INTEGER PRIMARY KEY,
            chat_type TEXT NOT NULL,
            title TEXT,
            language TEXT,
            active INTEGER NOT NULL DEFAULT 1,
            digest_time TEXT,
            digest_tz TEXT,
            last_digest_at TEXT,
            created TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE subscriptions (
            chat_id INTEGER NOT NULL REFERENCES subscribers(chat_id) ON DELETE CASCADE,
            rule_id TEXT NOT NULL,
            mode TEXT NOT NULL DEFAULT 'instant',
            muted_until TEXT,
            created TEXT NOT NULL,
            PRIMARY KEY (chat_id, rule_id)
        )"""
    )
    db.execute(
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL,
            kind TEXT NOT NULL,
            rule_id TEXT,
            story_id INTEGER,
            article_id INTEGER,
            text TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            message_id INTEGER,
            created TEXT NOT NULL,
            sent_at TEXT
        )"""
    )
    db.execute(
        "CREATE UNIQUE INDEX outbox_one_alert ON outbox(chat_id, rule_id, story_id) "
        "WHERE kind = 'alert'"
    )
    db.execute("CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status = 'pending'")
    db.execute(
        """
        CREATE TABLE digests (
            chat_id INTEGER NOT NULL,
            period_end TEXT NOT NULL,
            period_start TEXT,
            created TEXT NOT NULL,
            PRIMARY KEY (chat_id, period_end)
        )"""
    )


@migrations()
def m0002_outbox_buttons(db: Database) -> None:
    """Inline buttons travel with the outbox row, so a resend shows the same message."""
    db.execute("ALTER TABLE outbox ADD COLUMN buttons TEXT NOT NULL DEFAULT '[]'")


@migrations()
def m0003_watches(db: Database) -> None:
    """Personal rules typed in the chat with /watch."""
    db.execute(
        """
        CREATE TABLE watches (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL REFERENCES subscribers(chat_id) ON DELETE CASCADE,
            query TEXT NOT NULL,
            created TEXT NOT NULL
        )"""
    )


@migrations()
def m0004_story_fingerprints_and_alert_planning(db: Database) -> None:
    """Story grouping survives restarts; a match is turned into alerts exactly once."""
    db.execute(
        """
        CREATE TABLE story_fingerprints (
            article_id INTEGER PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
            story_id INTEGER NOT NULL,
            fingerprint BLOB NOT NULL,
            published TEXT NOT NULL,
            source TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX story_fingerprints_published ON story_fingerprints(published)")
    db.execute("CREATE INDEX articles_ungrouped ON articles(id) WHERE story_id IS NULL")
    db.execute("ALTER TABLE matches ADD COLUMN alerted INTEGER NOT NULL DEFAULT 0")
    db.execute("CREATE INDEX matches_unalerted ON matches(article_id) WHERE alerted = 0")


@migrations()
def m0005_notices(db: Database) -> None:
    """Operator notices already sent, so each is sent once (per failing streak, per error)."""
    db.execute("CREATE TABLE notices (key TEXT PRIMARY KEY, created TEXT NOT NULL)")


@migrations()
def m0006_cheaper_fts_sync(db: Database) -> None:
    """Keep the FTS index in sync at a fraction of the cost.

    sqlite-utils' triggers re-indexed an article on every UPDATE, including the bookkeeping
    ones (matched_at, story_id), and indexed inserts one row at a time. Now only a change
    of title or text re-indexes, and add_articles indexes each batch with one statement.
    """
    db.execute("DROP TRIGGER IF EXISTS articles_ai")
    db.execute("DROP TRIGGER IF EXISTS articles_au")
    db.execute(
        """
        CREATE TRIGGER articles_au AFTER UPDATE OF title, text ON articles BEGIN
          INSERT INTO articles_fts (articles_fts, rowid, title, text)
            VALUES ('delete', old.rowid, old.title, old.text);
          INSERT INTO articles_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
        END"""
    )


@migrations()
def m0007_articles_by_story(db: Database) -> None:
    """Count and prune stories without scanning the archive.

    save_story_assignments recounts each story it touches and retention deletes stories
    that no article belongs to any more; both looked articles up by story_id, which had no
    index (a full scan per story: 1.6 s per 500-article batch, 58 s of retention on 20,000
    articles; with the index 0.02 s and 0.01 s).
    """
    db.execute("CREATE INDEX articles_story ON articles(story_id) WHERE story_id IS NOT NULL")


@migrations()
def m0008_keys_outlive_articles(db: Database) -> None:
    """What the archive has seen and alerted outlives the articles themselves.

    `seen_keys` holds a short digest of every GUID, canonical URL and text hash of an article
    that retention deleted, so that a seed or feed repeating it never brings it back as new.
    `alerted` holds one row per (chat, rule, story) ever alerted, independent of the outbox
    rows that retention deletes.
    `counters` keeps the highest article id ever handed out: SQLite would give the next new
    article the id of a deleted newest one, and stories, matches and alert keys refer to ids.
    The console's stand-in chat 0 of earlier versions is removed with everything it queued,
    so that nothing meant for the console ever reaches Telegram.
    """
    db.execute("CREATE TABLE seen_keys (key BLOB PRIMARY KEY, last_seen TEXT NOT NULL) "
               "WITHOUT ROWID")
    db.execute("CREATE INDEX seen_keys_last_seen ON seen_keys(last_seen)")
    db.execute(
        """
        CREATE TABLE alerted (
            chat_id INTEGER NOT NULL,
            rule_id TEXT NOT NULL,
            story_id INTEGER NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (chat_id, rule_id, story_id)
        ) WITHOUT ROWID""")
    db.execute("CREATE INDEX alerted_created ON alerted(created)")
    db.execute(
        "INSERT OR IGNORE INTO alerted SELECT chat_id, rule_id, story_id, min(created) "
        "FROM outbox WHERE kind = 'alert' AND chat_id != 0 AND rule_id IS NOT NULL "
        "AND story_id IS NOT NULL GROUP BY chat_id, rule_id, story_id")
    db.execute("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    db.execute("INSERT INTO counters SELECT 'article_id', coalesce(max(id), 0) FROM articles")
    db.execute("DELETE FROM outbox WHERE chat_id = 0")
    db.execute("DELETE FROM watches WHERE chat_id = 0")
    db.execute("DELETE FROM subscriptions WHERE chat_id = 0")
    db.execute("DELETE FROM subscribers WHERE chat_id = 0")
    db.execute("UPDATE feeds SET interval_s = ? WHERE interval_s > ?",
               [MAX_INTERVAL_S, MAX_INTERVAL_S])
    db.execute("UPDATE feeds SET next_due = NULL WHERE next_due > '9000'")



@migrations()
def m0009_archive_index(db: Database) -> None:
    """Search through the analyser's terms, not SQLite's words.

    The FTS5 index of raw titles and texts could not answer the rule language (stems,
    folding, compounds) and was read by no command; every insert paid for it. Now
    `article_index` holds the terms the engine sees (matching/presearch.py), written when an
    article is matched; `article_terms` keeps each article's terms, compressed, because a
    contentless FTS5 table can only forget an entry when it is told what it held. The index
    of an existing archive is built by the pipeline in the background (`index_version`).
    """
    for trigger in ("articles_ai", "articles_ad", "articles_au"):
        db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    db.execute("DROP TABLE IF EXISTS articles_fts")
    db.execute("CREATE VIRTUAL TABLE article_index USING fts5(terms, content='', "
               "detail=none, tokenize='ascii')")
    db.execute("CREATE TABLE article_terms (article_id INTEGER PRIMARY KEY, terms BLOB NOT NULL)")
    db.execute("INSERT INTO counters VALUES ('index_version', 0)")


@migrations()
def m0010_unalerted_in_order(db: Database) -> None:
    """The alert planner reads unalerted matches by (article, rule), 500 at a time. The
    partial index had the article only, so every batch sorted all unalerted matches again:
    at 100k rules (393k matches of 1,571 articles) that was 24 s of a 74 s ingest. With the
    rule in the index, a batch is read in order, and what was planned has left the index."""
    db.execute("DROP INDEX IF EXISTS matches_unalerted")
    db.execute("CREATE INDEX matches_unalerted ON matches(article_id, rule_id) "
               "WHERE alerted = 0")


@migrations()
def m0011_subscriptions_by_rule(db: Database) -> None:
    """The alert planner asks for the instant subscribers of a batch's rules; the primary
    key begins with the chat, so every batch read all subscriptions (100k rules, 10k
    subscriptions: 3 s of alert planning)."""
    db.execute("CREATE INDEX IF NOT EXISTS subscriptions_rule ON subscriptions(rule_id)")


@migrations()
def m0012_alerts_rendered_when_sent(db: Database) -> None:
    """An alert is queued as a reference (chat, rule, story, article, the rule's name) and its
    text is made just before its first send: at 10k rules an ingest queues tens of thousands
    of alerts that Telegram takes at 30 a second, and rendering them all up front held up the
    matching of new articles (half of an ingest's time). An alert row with an empty text is
    one that was not rendered yet."""
    db.execute("ALTER TABLE outbox ADD COLUMN rule_name TEXT")


@migrations()
def m0013_matches_without_hits(db: Database) -> None:
    """A match is the fact that an article matched a rule (of a version); where its terms
    matched is worked out when an alert shows it (Engine.highlight). At 100k rules an
    ingest made and stored 393k hit lists (half of the matching time), of which only the
    alerts that are sent use the words."""
    db.execute("ALTER TABLE matches DROP COLUMN matched")


@migrations()
def m0014_index_vocabulary(db: Database) -> None:
    """The words of the archive index, reversed, for `*fix` and `*mid*`: a suffix is a
    range of this table's key, where FTS5's own vocabulary (fts5vocab) is a pass over every
    term's postings (2.3 s for `*schaftlich` on 100k articles). Filled as the index is, so
    a new index version (presearch.INDEX_FORMAT 3) has the pipeline build both again."""
    db.execute("CREATE TABLE index_words (reversed TEXT PRIMARY KEY) WITHOUT ROWID")


@migrations()
def m0015_matches_by_article(db: Database) -> None:
    """Matches kept in (article, rule) order whatever order they arrive in (WITHOUT ROWID):
    a batch's matches are written in rule order, which the index by rule takes at a third
    less cost, and the alert planner still reads them by article. A one-time copy of the
    table (about a second per million matches)."""
    db.execute("""
        CREATE TABLE matches_by_article (
            article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            rule_id TEXT NOT NULL,
            rule_version TEXT NOT NULL,
            created TEXT NOT NULL,
            alerted INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (article_id, rule_id)
        ) WITHOUT ROWID""")
    db.execute("INSERT INTO matches_by_article (article_id, rule_id, rule_version, created, "
               "alerted) SELECT article_id, rule_id, rule_version, created, alerted FROM matches")
    db.execute("DROP TABLE matches")
    db.execute("ALTER TABLE matches_by_article RENAME TO matches")
    db.execute("CREATE INDEX matches_rule ON matches(rule_id, created)")
    db.execute("CREATE INDEX matches_unalerted ON matches(article_id, rule_id) "
               "WHERE alerted = 0")


@overload
def to_db_time(moment: datetime) -> str: ...
@overload
def to_db_time(moment: None) -> None: ...
def to_db_time(moment: datetime | None) -> str | None:
    """UTC ISO 8601 to the second: sorts as text, reads back exactly."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@overload
def from_db_time(value: str) -> datetime: ...
@overload
def from_db_time(value: None) -> None: ...
def from_db_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def database_problem(path: Path, error: sqlite3.DatabaseError) -> str:
    """One line that says what is wrong with a database file, for the operator."""
    text = str(error)
    if "not a database" in text or "malformed" in text:
        return f"{path}: not a SQLite database, or a damaged one ({text})"
    if "readonly" in text or "read-only" in text:
        return f"{path}: the database is read-only here ({text})"
    if "unable to open" in text:
        return f"{path}: cannot open the database (missing folder or no permission)"
    return f"{path}: database error: {text}"


@contextmanager
def instance_lock(database: str | Path) -> Iterator[None]:
    """Hold the one-instance lock of a database for the duration of the block.

    Only one process may run pipeline stages on a database: two would both poll and both
    dispatch, and every message would go out twice. The lock is `flock` on a file beside the
    database (never on the database itself: closing any descriptor of a file drops a process's
    POSIX locks on it, SQLite's own included). The kernel releases it when the process dies, so
    a `kill -9` leaves no stale lock; the pid written into the file only names the holder.
    """
    path = Path(f"{database}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="ascii")  # noqa: SIM115 (held for the whole block)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise InstanceLocked(f"another monitor is running on {database} (pid {holder})") \
                from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


class Store:
    """One SQLite database. Safe to share between threads: access is serialised by a lock."""

    def __init__(self, path: str | Path, *, readonly: bool = False):
        """Open (and, unless `readonly`, create or upgrade) the database at `path`.

        Read-only commands open it read-only: they never create an empty database where an
        operator mistyped the path, and they work on a file they may not write. Every way the
        file can be unusable (missing, not SQLite, damaged, not writable, from an older
        version) is a StoreError of one line.
        """
        self.path = Path(path)
        self._lock = threading.RLock()
        self._known_words: set[str] = set()
        memory = str(path) == ":memory:"
        conn = None
        try:
            if readonly and not memory:
                if not self.path.is_file():
                    raise StoreError(f"{self.path}: no database here yet (`monitor ingest` or "
                                     "`monitor run` creates it)")
                conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                       check_same_thread=False, timeout=30)
            else:
                if not memory:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
            self.db = Database(conn)
            if readonly:
                self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()
                if migrations.pending(self.db):
                    raise StoreError(f"{self.path}: made by an older version; a command that "
                                     "writes (e.g. `monitor ingest`) upgrades it")
                return
            if not memory:
                self.db.enable_wal()
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA synchronous = NORMAL")
            migrations.apply(self.db)
        except sqlite3.DatabaseError as error:
            if conn is not None:
                conn.close()
            raise StoreError(database_problem(self.path, error)) from None
        except StoreError:
            if conn is not None:
                conn.close()
            raise

    def backup(self, target: str | Path) -> None:
        """A consistent copy of the live database (SQLite's online backup), safe while
        `monitor run` keeps writing. The database is checked first (`PRAGMA quick_check`, a
        read that never blocks the service's writes): a damaged one is not copied."""
        try:
            with self._lock:
                verdict = self.db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as error:
            verdict = str(error)
        if verdict != "ok":
            raise StoreError(f"{self.path}: the database is damaged ({verdict}); "
                             "no backup written")
        destination = sqlite3.connect(str(target))
        try:
            with self._lock:
                self.db.conn.backup(destination, pages=1024)
        finally:
            destination.close()

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all."""
        with self._lock, self.db.atomic():
            yield

    # ----------------------------------------------------------------- feeds

    def upsert_feed(self, feed: Feed) -> Feed:
        """Add a feed, or update the settings (not the fetch state) of the feed with this URL.

        Feeds are keyed by URL and named by the config: a new name for a known URL renames the
        feed, and its articles keep their history under the new name. FeedConflict when the
        name belongs to another URL.
        """
        with self.transaction():
            known = self.feed_by_url(feed.url)
            taken = self.feed_by_name(feed.name)
            if taken is not None and taken.url != feed.url:
                raise FeedConflict(f"feed name {feed.name!r} is taken by {taken.url}")
            interval = min(feed.interval_s, MAX_INTERVAL_S)
            if known is None:
                self.db.execute(
                    "INSERT INTO feeds (name, url, interval_s, language, full_text, created) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [feed.name, feed.url, interval, feed.language, int(feed.full_text),
                     to_db_time(utc_now())])
            elif (known.name, known.interval_s, known.language, known.full_text) != (
                    feed.name, interval, feed.language, feed.full_text):
                self.db.execute(
                    "UPDATE feeds SET name = ?, interval_s = ?, language = ?, full_text = ? "
                    "WHERE id = ?",
                    [feed.name, interval, feed.language, int(feed.full_text), known.id])
                if known.name != feed.name:
                    self.db.execute("UPDATE articles SET source = ? WHERE feed_id = ?",
                                    [feed.name, known.id])
                    # Their index entries name the old source: indexed again (index_archive).
                    self._unindex(self.db.conn, [row[0] for row in self.db.execute(
                        "SELECT id FROM articles WHERE feed_id = ?", [known.id])])
                    self._set_index_complete(self.db.conn, False)
            found = self.feed_by_url(feed.url)
            assert found is not None
            return found

    def add_feed(self, feed: Feed) -> Feed:
        """A new feed; FeedExists when its URL is stored already (under whatever name)."""
        with self.transaction():
            known = self.feed_by_url(feed.url)
            if known is not None:
                raise FeedExists(f"{feed.url} is already a feed, named {known.name!r}")
            return self.upsert_feed(feed)

    def remove_feed(self, name: str) -> Feed | None:
        """Forget a feed and its fetch state; its articles stay in the archive."""
        with self.transaction():
            feed = self.feed_by_name(name)
            if feed is not None:
                self.db.execute("DELETE FROM feeds WHERE id = ?", [feed.id])
            return feed

    def feed_by_url(self, url: str) -> Feed | None:
        with self._lock:
            rows = list(self.db.query("SELECT * FROM feeds WHERE url = ?", [url]))
        return _feed_from_row(rows[0]) if rows else None

    def feed_by_name(self, name: str) -> Feed | None:
        with self._lock:
            rows = list(self.db.query("SELECT * FROM feeds WHERE name = ?", [name]))
        return _feed_from_row(rows[0]) if rows else None

    def feeds(self) -> list[Feed]:
        with self._lock:
            return [_feed_from_row(r) for r in self.db.query("SELECT * FROM feeds ORDER BY name")]

    def due_feeds(self, now: datetime) -> list[Feed]:
        """Feeds never fetched or whose next due time has come."""
        with self._lock:
            rows = self.db.query(
                "SELECT * FROM feeds WHERE next_due IS NULL OR next_due <= ? ORDER BY next_due",
                [to_db_time(now)],
            )
            return [_feed_from_row(r) for r in rows]

    def save_feed_state(self, feed: Feed) -> None:
        """Record the fetch state and health of one feed after a poll."""
        with self._lock:
            self.db.execute(
                """
                UPDATE feeds SET etag = ?, last_modified = ?, last_status = ?, last_error = ?,
                    error_count = ?, failing_since = ?, last_fetched = ?, last_ok = ?, next_due = ?
                WHERE id = ?
                """,
                [feed.etag, feed.last_modified, feed.last_status, feed.last_error,
                 feed.error_count, to_db_time(feed.failing_since), to_db_time(feed.last_fetched),
                 to_db_time(feed.last_ok), to_db_time(feed.next_due), feed.id],
            )

    # -------------------------------------------------------------- articles

    def add_articles(self, articles: Iterable[Article],
                     now: datetime | None = None) -> list[Article]:
        """Store the articles not seen before, in one transaction; return them with their ids.

        An article already stored under the same GUID, canonical URL or text hash is skipped,
        so the same story arriving through two feeds, or with a changed GUID, is kept once; so
        is one that retention deleted (its keys are remembered in `seen_keys`).
        """
        articles = list(articles)
        added: list[Article] = []
        sql = (
            "INSERT OR IGNORE INTO articles (id, feed_id, source, guid, url, title, text, "
            "language, published, fetched, content_hash, full_text_status) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        with self.transaction():
            conn = self.db.conn
            forgotten = self._seen_before(articles, now or utc_now())
            next_id = self._next_article_id()
            for article in articles:
                if article.content_hash in forgotten:
                    continue
                cursor = conn.execute(
                    sql,
                    [next_id, article.feed_id, article.source, article.guid, article.url,
                     article.title, article.text, article.language,
                     to_db_time(article.published), to_db_time(article.fetched),
                     article.content_hash, article.full_text_status],
                )
                if cursor.rowcount == 1:
                    added.append(replace(article, id=cursor.lastrowid))
                    next_id = None      # SQLite counts on from here
            if added:
                conn.execute("UPDATE counters SET value = max(value, ?) WHERE name = 'article_id'",
                             [added[-1].id])
        return added

    def _remember_keys(self, keys: list[bytes], now: datetime) -> None:
        with self.transaction():
            self.db.conn.executemany(
                "INSERT INTO seen_keys (key, last_seen) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET last_seen = excluded.last_seen",
                [(key, to_db_time(now)) for key in keys])

    def _seen_before(self, articles: list[Article], now: datetime) -> set[str]:
        """Content hashes of the articles one of whose keys is remembered; their keys' time is
        renewed (at most daily), so what a source keeps repeating is never forgotten."""
        by_key = {key: a.content_hash for a in articles
                  for key in _article_keys(a.guid, a.url, a.content_hash)}
        found: set[str] = set()
        stale = to_db_time(now - timedelta(days=1))
        conn = self.db.conn
        for chunk in _chunks(list(by_key), 500):
            marks = ",".join("?" * len(chunk))
            rows = conn.execute(f"SELECT key, last_seen FROM seen_keys WHERE key IN ({marks})",
                                chunk).fetchall()
            found.update(by_key[key] for key, _ in rows)
            renew = [key for key, last_seen in rows if last_seen < stale]
            if renew:
                conn.executemany("UPDATE seen_keys SET last_seen = ? WHERE key = ?",
                                 [(to_db_time(now), key) for key in renew])
        return found

    def _next_article_id(self) -> int | None:
        """The id for the next new article when SQLite's own choice (max(id) + 1) would reuse
        the id of a deleted article; None when it would not."""
        floor = self.db.conn.execute(
            "SELECT value FROM counters WHERE name = 'article_id'").fetchone()[0]
        highest = self.db.conn.execute("SELECT max(id) FROM articles").fetchone()[0] or 0
        return floor + 1 if floor > highest else None

    def known_article_keys(self, guids: Iterable[str], urls: Iterable[str]) -> set[str]:
        """Which of these GUIDs and URLs are stored already (to skip full-text fetches)."""
        guids, urls = list(guids), list(urls)
        found: set[str] = set()
        with self._lock:
            for column, values in (("guid", guids), ("url", urls)):
                for chunk in _chunks(values, 500):
                    marks = ",".join("?" * len(chunk))
                    rows = self.db.execute(
                        f"SELECT {column} FROM articles WHERE {column} IN ({marks})", chunk
                    )
                    found.update(row[0] for row in rows)
        return found

    def article(self, article_id: int) -> Article | None:
        with self._lock:
            rows = list(self.db.query("SELECT * FROM articles WHERE id = ?", [article_id]))
        return _article_from_row(rows[0]) if rows else None

    def articles_by_id(self, ids: Iterable[int]) -> dict[int, Article]:
        """Many articles in one query per 500 ids (not one query per article)."""
        found: dict[int, Article] = {}
        with self._lock:
            for chunk in _chunks(sorted(ids), 500):
                rows = self.db.query(f"SELECT * FROM articles WHERE id IN "
                                     f"({','.join('?' * len(chunk))})", chunk)
                found.update((row["id"], _article_from_row(row)) for row in rows)
        return found

    def unmatched_articles(self, limit: int = 1000) -> list[Article]:
        with self._lock:
            rows = self.db.query(
                "SELECT * FROM articles WHERE matched_at IS NULL ORDER BY id LIMIT ?", [limit]
            )
            return [_article_from_row(r) for r in rows]

    def iter_articles(self, since: datetime | None = None, batch: int = 500) -> Iterator[Article]:
        """Every stored article (optionally published since a time), oldest first, in batches."""
        last_id = 0
        since_text = to_db_time(since) or ""
        while True:
            with self._lock:
                rows = list(self.db.query(
                    "SELECT * FROM articles WHERE id > ? AND published >= ? ORDER BY id LIMIT ?",
                    [last_id, since_text, batch],
                ))
            if not rows:
                return
            for row in rows:
                yield _article_from_row(row)
            last_id = rows[-1]["id"]

    def count_articles(self, since: datetime | None = None) -> int:
        with self._lock:
            return self.db.execute(
                "SELECT count(*) FROM articles WHERE published >= ?", [to_db_time(since) or ""]
            ).fetchone()[0]

    # --------------------------------------------------------- archive index

    def index_is_current(self, version: int) -> bool:
        """Whether the archive index was built by this version of the analyser's terms."""
        with self._lock:
            return self._index_version() == version

    def reset_index(self, version: int) -> bool:
        """Drop an index built under another version, to be built again; True when dropped."""
        with self.transaction():
            if self._index_version() == version:
                return False
            conn = self.db.conn
            conn.execute("INSERT INTO article_index (article_index) VALUES ('delete-all')")
            conn.execute("DELETE FROM article_terms")
            conn.execute("DELETE FROM index_words")
            conn.execute("UPDATE counters SET value = ? WHERE name = 'index_version'", [version])
            self._set_index_complete(conn, False)
            self._known_words.clear()
            return True

    def _index_version(self) -> int | None:
        """None in a database opened read-only before its upgrade (no index yet)."""
        try:
            row = self.db.conn.execute(
                "SELECT value FROM counters WHERE name = 'index_version'").fetchone()
        except sqlite3.OperationalError:
            return None
        return row[0] if row else None

    def unindexed_articles(self, limit: int = 1000) -> list[Article]:
        """Matched articles without an index entry (an archive from before the index, or
        after an index reset), newest first: searches in recent windows benefit first.
        When none is left, the store notes that every matched article is indexed, so that
        a search no longer looks through the whole window for the others."""
        with self.transaction():
            rows = self.db.query(
                "SELECT * FROM articles WHERE matched_at IS NOT NULL AND id NOT IN "
                "(SELECT article_id FROM article_terms) ORDER BY id DESC LIMIT ?", [limit])
            found = [_article_from_row(r) for r in rows]
            if not found and not self._index_complete(self.db.conn):
                self._set_index_complete(self.db.conn, True)
            return found

    @staticmethod
    def _set_index_complete(conn: sqlite3.Connection, complete: bool) -> None:
        """Whether every matched article has its index entry (`index_complete`): then the
        articles a search must verify beside the index's are just the unmatched ones."""
        conn.execute("INSERT OR REPLACE INTO counters VALUES ('index_complete', ?)",
                     [int(complete)])

    @staticmethod
    def _index_complete(conn: sqlite3.Connection) -> bool:
        row = conn.execute(
            "SELECT value FROM counters WHERE name = 'index_complete'").fetchone()
        return bool(row and row[0])

    def index_articles(self, terms: Iterable[tuple[int, str]], words: Iterable[str] = ()) -> None:
        with self._lock:            # no reset_index between the commit and the remembering
            with self.transaction():
                written = self._index(self.db.conn, terms, words)
            self._remember_words(written)

    def _index(self, conn: sqlite3.Connection, terms: Iterable[tuple[int, str]],
               words: Iterable[str]) -> set[str]:
        """(article id, its space-separated terms): replaces an article's entry; `words`
        (the exact forms among the terms) join the index's vocabulary. A word whose
        articles are all gone stays there: it costs a wildcard lookup one useless term.
        Returns the words written, to be remembered once the transaction is committed."""
        terms = list(terms)
        Store._unindex(conn, [article_id for article_id, _ in terms])
        conn.executemany("INSERT INTO article_index (rowid, terms) VALUES (?, ?)", terms)
        conn.executemany("INSERT INTO article_terms VALUES (?, ?)",
                         [(article_id, zlib.compress(text.encode(), 1))
                          for article_id, text in terms])
        new = set(words).difference(self._known_words)
        conn.executemany("INSERT OR IGNORE INTO index_words VALUES (?)",
                         [(word[::-1],) for word in new])
        return new

    def _remember_words(self, written: set[str]) -> None:
        """Called, under the lock, after the transaction that wrote them; not inside an
        outer one, which could still roll them back (they are then written again, which is
        harmless)."""
        if self.db.conn.in_transaction:
            return
        if len(self._known_words) + len(written) > KNOWN_WORDS:
            self._known_words.clear()
        self._known_words |= written

    @staticmethod
    def _unindex(conn: sqlite3.Connection, article_ids: list[int]) -> None:
        """A contentless FTS5 entry is removed by repeating what it was given."""
        for chunk in _chunks(article_ids, 500):
            rows = conn.execute(
                f"SELECT article_id, terms FROM article_terms WHERE article_id IN "
                f"({','.join('?' * len(chunk))})", chunk).fetchall()
            conn.executemany(
                "INSERT INTO article_index (article_index, rowid, terms) VALUES ('delete', ?, ?)",
                [(article_id, zlib.decompress(blob).decode()) for article_id, blob in rows])
            conn.executemany("DELETE FROM article_terms WHERE article_id = ?",
                             [(article_id,) for article_id, _ in rows])

    def index_words(self, kind: str, fixed: str, limit: int) -> list[str] | None:
        """The archive index's words that end with (kind "suffix") or contain ("infix")
        `fixed`, from its vocabulary: a range of its reversed words for a suffix, a pass
        over them for an infix; None when there are more than `limit`."""
        backwards = fixed[::-1]
        with self._lock:
            if kind == "suffix":
                rows = self.db.conn.execute(
                    "SELECT reversed FROM index_words WHERE reversed >= ? AND reversed < ? "
                    "LIMIT ?", [backwards, backwards + chr(0x10FFFF), limit + 1]).fetchall()
            else:
                rows = self.db.conn.execute(
                    "SELECT reversed FROM index_words WHERE instr(reversed, ?) > 0 LIMIT ?",
                    [backwards, limit + 1]).fetchall()
        return None if len(rows) > limit else [word[::-1] for word, in rows]

    def archive_candidates(self, query: str | None,
                           since: datetime | None = None) -> list[int] | None:
        """Ids of the articles published since `since`, newest first, that an index query
        (presearch.archive_query) finds, plus those not indexed yet; with no query, all of
        the window. None when FTS5 refuses the query (too deep): the caller scans."""
        since_text = to_db_time(since) or ""
        window = "SELECT published, id FROM articles WHERE published >= ?"
        with self._lock:
            conn = self.db.conn
            if query is None:
                rows = conn.execute(window, [since_text]).fetchall()
            else:
                try:
                    rows = conn.execute(
                        "SELECT a.published, a.id FROM article_index i "
                        "JOIN articles a ON a.id = i.rowid "
                        "WHERE article_index MATCH ? AND a.published >= ?",
                        [query, since_text]).fetchall()
                except sqlite3.OperationalError as error:
                    if "fts5" not in str(error) and "stack" not in str(error):
                        raise
                    return None
                if self._index_complete(conn):     # the few unmatched, by their index
                    unindexed = ("SELECT published, id FROM articles "
                                 "WHERE matched_at IS NULL AND +published >= ?")
                else:
                    unindexed = window + " AND id NOT IN (SELECT article_id FROM article_terms)"
                rows += conn.execute(unindexed, [since_text]).fetchall()
        return [article_id for _, article_id in sorted(rows, reverse=True)]

    # --------------------------------------------------------------- stories

    def ungrouped_articles(self, limit: int = 1000) -> list[Article]:
        with self._lock:
            rows = self.db.query(
                "SELECT * FROM articles WHERE story_id IS NULL ORDER BY id LIMIT ?", [limit])
            return [_article_from_row(r) for r in rows]

    def story_fingerprints_since(self, since: datetime
                                 ) -> list[tuple[int, int, bytes, datetime, str]]:
        """(article_id, story_id, fingerprint, published, source) inside the grouping window."""
        with self._lock:
            rows = self.db.execute(
                "SELECT article_id, story_id, fingerprint, published, source "
                "FROM story_fingerprints WHERE published >= ? ORDER BY article_id",
                [to_db_time(since)]).fetchall()
        return [(a, s, fp, from_db_time(p), src) for a, s, fp, p, src in rows]

    def save_story_assignments(
            self, assignments: list[tuple[int, int, bytes, datetime, str]]) -> None:
        """Each article's story and fingerprint; the touched stories' size and sources are
        recounted from the articles, so they stay right however often this runs."""
        with self.transaction():
            conn = self.db.conn
            for article_id, story_id, fingerprint, published, source in assignments:
                conn.execute("UPDATE articles SET story_id = ? WHERE id = ?",
                             [story_id, article_id])
                conn.execute(
                    "INSERT OR REPLACE INTO story_fingerprints VALUES (?, ?, ?, ?, ?)",
                    [article_id, story_id, fingerprint, to_db_time(published), source])
            for story_id in sorted({a[1] for a in assignments}):
                conn.execute(
                    """
                    INSERT INTO stories (id, first_article_id, size, sources, first_seen, last_seen)
                    SELECT ?, min(id), count(*), json_group_array(DISTINCT source),
                           min(published), max(published)
                    FROM articles WHERE story_id = ?
                    ON CONFLICT(id) DO UPDATE SET size = excluded.size,
                        sources = excluded.sources, last_seen = excluded.last_seen
                    """, [story_id, story_id])

    # --------------------------------------------------------------- matches

    def save_matches(self, article_ids: Iterable[int], matches: Iterable[dict[str, Any]],
                     now: datetime | None = None,
                     index_terms: Iterable[tuple[int, str]] = (), index_words: Iterable[str] = (),
                     alert_rules: Container[str] | None = None) -> None:
        """Store the matches of a batch, the articles' archive index entries and their words,
        and mark those articles matched, in one transaction. Only the matches of
        `alert_rules` (all when None) wait for the alert planner; the others are stored as
        planned already: at 100k rules nine in ten matches have nobody to alert, and the
        planner read every one."""
        stamp = to_db_time(now or utc_now())
        article_ids, index_terms = list(article_ids), list(index_terms)
        with self._lock:            # no reset_index between the commit and the remembering
            with self.transaction():
                conn = self.db.conn
                written = self._index(conn, index_terms, index_words)
                if not {article_id for article_id, _ in index_terms}.issuperset(article_ids):
                    self._set_index_complete(conn, False)    # matched without an entry
                # An upsert, not INSERT OR REPLACE: with foreign keys on, REPLACE checks every
                # row as a possible delete (7.0 s against 2.4 s for 393k matches). In rule
                # order, so that the index by rule takes each of its pages once per batch, not
                # once per row (393k matches: 2.7 s unsorted, 1.8 s sorted; m0015).
                conn.executemany(
                    "INSERT INTO matches (article_id, rule_id, rule_version, created, alerted) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (article_id, rule_id) DO UPDATE SET "
                    "rule_version = excluded.rule_version, created = excluded.created",
                    sorted(((match["article_id"], match["rule_id"], match["rule_version"], stamp,
                             int(alert_rules is not None and match["rule_id"] not in alert_rules))
                            for match in matches), key=itemgetter(1)))
                conn.executemany(
                    "UPDATE articles SET matched_at = ? WHERE id = ?",
                    [(stamp, article_id) for article_id in article_ids],
                )
            self._remember_words(written)

    def unalerted_matches(self, limit: int = 1000) -> list[dict[str, Any]]:
        """Matches not yet turned into alerts: article id, rule id and the article's story."""
        with self._lock:
            rows = self.db.conn.execute(
                "SELECT m.article_id, m.rule_id, a.story_id "
                "FROM matches m JOIN articles a ON a.id = m.article_id WHERE m.alerted = 0 "
                "ORDER BY m.article_id, m.rule_id LIMIT ?", [limit]).fetchall()
        return [{"article_id": article_id, "rule_id": rule_id, "story_id": story_id}
                for article_id, rule_id, story_id in rows]

    def plan_alerts(self, matches: Iterable[tuple[int, str]],
                    messages: Iterable[dict[str, Any]], now: datetime | None = None) -> int:
        """Queue the alerts of a batch of matches and mark those matches alerted, atomically.

        A (chat, rule, story) is alerted once in the archive's lifetime: the claim in `alerted`
        outlives both the outbox row and the articles. A later article of the same story is
        counted for the digest, not alerted again; of one batch's messages for the same
        (chat, rule, story), the first is queued. Returns the alerts queued.
        """
        stamp = to_db_time(now or utc_now())
        rows = [(m["chat_id"], m["rule_id"], m["story_id"], m["article_id"], m["rule_name"],
                 stamp, stamp, m["chat_id"], m["rule_id"], m["story_id"]) for m in messages]
        with self.transaction():
            conn = self.db.conn
            # Queued unless claimed before; outbox_one_alert keeps the first of a batch. The
            # text (and buttons) are empty until the alert is rendered, before its first send.
            queued = conn.executemany(
                "INSERT OR IGNORE INTO outbox (chat_id, kind, rule_id, story_id, article_id, "
                "rule_name, text, next_attempt_at, created) "
                "SELECT ?, 'alert', ?, ?, ?, ?, '', ?, ? WHERE NOT EXISTS (SELECT 1 FROM "
                "alerted WHERE chat_id = ? AND rule_id = ? AND story_id = ?)", rows).rowcount
            conn.executemany(
                "INSERT OR IGNORE INTO alerted (chat_id, rule_id, story_id, created) "
                "VALUES (?, ?, ?, ?)", [(*row[:3], stamp) for row in rows])
            conn.executemany("UPDATE matches SET alerted = 1 WHERE article_id = ? AND rule_id = ?",
                             list(matches))
        return queued

    @staticmethod
    def _queue(conn: sqlite3.Connection, chat_id: int, kind: str, text: str, now: str, *,
               rule_id: str | None = None, story_id: int | None = None,
               article_id: int | None = None, buttons: Iterable[tuple[str, str]] = (),
               due: str | None = None) -> int:
        """The INSERT of one message into the outbox (plan_alerts inserts a batch's alerts
        in one executemany); 0 when this (chat, rule, story) alert exists."""
        return conn.execute(
            "INSERT OR IGNORE INTO outbox (chat_id, kind, rule_id, story_id, article_id, text, "
            "buttons, next_attempt_at, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [chat_id, kind, rule_id, story_id, article_id, text,
             json.dumps([list(b) for b in buttons], ensure_ascii=False), due or now, now],
        ).rowcount

    def matches_for_article(self, article_id: int) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.db.query(
                "SELECT * FROM matches WHERE article_id = ? ORDER BY rule_id", [article_id]))

    # --------------------------------------------------- subscribers and their choices

    def upsert_subscriber(self, chat_id: int, chat_type: str, title: str | None,
                          language: str | None) -> None:
        """Remember a chat (again active, with its current title and language)."""
        with self._lock:
            self.db.execute(
                "INSERT INTO subscribers (chat_id, chat_type, title, language, created) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT(chat_id) DO UPDATE SET active = 1, "
                "chat_type = excluded.chat_type, title = excluded.title, "
                "language = coalesce(excluded.language, language)",
                [chat_id, chat_type, title, language, to_db_time(utc_now())],
            )

    def subscriber(self, chat_id: int) -> Subscriber | None:
        with self._lock:
            rows = list(self.db.query("SELECT * FROM subscribers WHERE chat_id = ?", [chat_id]))
        if not rows:
            return None
        row = rows[0]
        return Subscriber(
            chat_id=row["chat_id"], chat_type=row["chat_type"], title=row["title"],
            language=row["language"], digest_time=row["digest_time"],
            digest_tz=row["digest_tz"], last_digest_at=from_db_time(row["last_digest_at"]),
            active=bool(row["active"]))

    def forget_chat(self, chat_id: int) -> None:
        """/stop: everything about this chat goes, pending messages included."""
        with self.transaction():
            self.db.execute("DELETE FROM outbox WHERE chat_id = ? AND status = 'pending'",
                            [chat_id])
            self.db.execute("DELETE FROM subscribers WHERE chat_id = ?", [chat_id])

    def subscribe(self, chat_id: int, rule_id: str, mode: str) -> bool:
        """Subscribe or change the mode; True when the subscription is new."""
        with self._lock:
            existed = self.db.execute(
                "SELECT 1 FROM subscriptions WHERE chat_id = ? AND rule_id = ?", [chat_id, rule_id]
            ).fetchone()
            self.db.execute(
                "INSERT INTO subscriptions (chat_id, rule_id, mode, created) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(chat_id, rule_id) DO UPDATE SET mode = excluded.mode",
                [chat_id, rule_id, mode, to_db_time(utc_now())],
            )
            return existed is None

    def unsubscribe(self, chat_id: int, rule_id: str) -> bool:
        with self._lock:
            cursor = self.db.execute(
                "DELETE FROM subscriptions WHERE chat_id = ? AND rule_id = ?", [chat_id, rule_id])
            return cursor.rowcount == 1

    def subscriptions(self, chat_id: int) -> list[Subscription]:
        with self._lock:
            rows = self.db.execute(
                "SELECT rule_id, mode, muted_until FROM subscriptions WHERE chat_id = ? "
                "ORDER BY rule_id", [chat_id]).fetchall()
        return [Subscription(rule_id, mode, from_db_time(muted_until))
                for rule_id, mode, muted_until in rows]

    def mute(self, chat_id: int, rule_id: str, until: datetime) -> bool:
        with self._lock:
            cursor = self.db.execute(
                "UPDATE subscriptions SET muted_until = ? WHERE chat_id = ? AND rule_id = ?",
                [to_db_time(until), chat_id, rule_id])
            return cursor.rowcount == 1

    def set_digest_time(self, chat_id: int, time_of_day: str | None, timezone: str | None) -> None:
        with self._lock:
            self.db.execute(
                "UPDATE subscribers SET digest_time = ?, digest_tz = ? WHERE chat_id = ?",
                [time_of_day, timezone, chat_id])

    def chat_languages(self) -> dict[int, str]:
        with self._lock:
            return {r[0]: r[1] or "de" for r in self.db.execute(
                "SELECT chat_id, language FROM subscribers")}

    def instant_rules(self) -> set[str]:
        """The rules that some chat follows with instant delivery (muted or not)."""
        with self._lock:
            return {rule_id for rule_id, in self.db.conn.execute(
                "SELECT DISTINCT rule_id FROM subscriptions WHERE mode = 'instant'")}

    def instant_subscribers(self, rule_ids: Iterable[str], now: datetime) -> dict[str, list[int]]:
        """Active chats with instant delivery for each rule, in chat order, leaving out muted
        ones."""
        rule_ids = list(rule_ids)
        found: dict[str, list[int]] = {r: [] for r in rule_ids}
        with self._lock:
            for chunk in _chunks(rule_ids, 500):
                marks = ",".join("?" * len(chunk))
                rows = self.db.execute(
                    f"SELECT s.rule_id, s.chat_id FROM subscriptions s JOIN subscribers c "
                    f"ON c.chat_id = s.chat_id WHERE c.active = 1 AND s.mode = 'instant' "
                    f"AND (s.muted_until IS NULL OR s.muted_until <= ?) AND s.rule_id IN ({marks})",
                    [to_db_time(now), *chunk])
                for rule_id, chat_id in rows:
                    found[rule_id].append(chat_id)
        for chats in found.values():
            chats.sort()
        return found

    def add_watch(self, chat_id: int, query: str) -> int:
        with self._lock:
            added = self.db.execute(
                "INSERT INTO watches (chat_id, query, created) VALUES (?, ?, ?)",
                [chat_id, query, to_db_time(utc_now())]).lastrowid
            assert added is not None        # an INSERT's row
            return added

    def remove_watch(self, chat_id: int, watch_id: int) -> bool:
        with self._lock:
            return self.db.execute("DELETE FROM watches WHERE chat_id = ? AND id = ?",
                                   [chat_id, watch_id]).rowcount == 1

    def watches(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """One chat's personal rules, or everyone's (to build the engine)."""
        with self._lock:
            if chat_id is None:
                return list(self.db.query(
                    "SELECT w.* FROM watches w JOIN subscribers c ON c.chat_id = w.chat_id "
                    "WHERE c.active = 1 ORDER BY w.id"))
            return list(self.db.query(
                "SELECT * FROM watches WHERE chat_id = ? ORDER BY id", [chat_id]))

    # --------------------------------------------------------------- digests

    def digest_chats(self) -> list[dict[str, Any]]:
        """Active chats with a digest subscription and their digest time, zone and last period."""
        with self._lock:
            return list(self.db.query(
                """
                SELECT c.chat_id, c.digest_time, c.digest_tz, c.language,
                       (SELECT max(period_end) FROM digests d WHERE d.chat_id = c.chat_id)
                           AS last_end
                FROM subscribers c
                WHERE c.active = 1 AND coalesce(c.digest_time, '') != 'off'
                  AND EXISTS (SELECT 1 FROM subscriptions s
                              WHERE s.chat_id = c.chat_id AND s.mode = 'digest')
                ORDER BY c.chat_id
                """))

    def digest_rules(self, chat_id: int) -> list[str]:
        with self._lock:
            return [r[0] for r in self.db.execute(
                "SELECT rule_id FROM subscriptions WHERE chat_id = ? AND mode = 'digest' "
                "ORDER BY rule_id", [chat_id])]

    def matches_between(self, rule_ids: list[str], start: datetime,
                        end: datetime) -> list[dict[str, Any]]:
        """Matches of these rules recorded in (start, end], with article and story details."""
        if not rule_ids:
            return []
        marks = ",".join("?" * len(rule_ids))
        with self._lock:
            return list(self.db.query(
                f"""
                SELECT m.rule_id, a.id AS article_id, a.title, a.url, a.source, a.language,
                       a.published, a.text, coalesce(a.story_id, a.id) AS story_id,
                       coalesce(s.sources, json_array(a.source)) AS story_sources
                FROM matches m JOIN articles a ON a.id = m.article_id
                LEFT JOIN stories s ON s.id = a.story_id
                WHERE m.rule_id IN ({marks}) AND m.created > ? AND m.created <= ?
                ORDER BY m.rule_id, a.published
                """, [*rule_ids, to_db_time(start), to_db_time(end)]))

    def record_digest(self, chat_id: int, start: datetime, end: datetime,
                      messages: list[str], now: datetime | None = None) -> bool:
        """Record the digest of a period and queue its messages, atomically; False (and nothing
        queued) when that period was recorded before."""
        return self._claim_and_queue(
            "INSERT OR IGNORE INTO digests (chat_id, period_end, period_start, created) "
            "VALUES (?, ?, ?, ?)", [chat_id, to_db_time(end), to_db_time(start)],
            "digest", [(chat_id, text) for text in messages], now)

    def _claim_and_queue(self, claim_sql: str, claim: list[Any], kind: str,
                         messages: list[tuple[int, str]], now: datetime | None) -> bool:
        """Insert the claim row and queue the messages in one transaction; nothing at all
        when the claim exists already (the row's last parameter is the creation time)."""
        now_text = to_db_time(now or utc_now())
        with self.transaction():
            conn = self.db.conn
            if conn.execute(claim_sql, [*claim, now_text]).rowcount == 0:
                return False
            for chat, text in messages:
                self._queue(conn, chat, kind, text, now_text)
        return True

    # ---------------------------------------------------------------- outbox

    def enqueue(self, chat_id: int, kind: str, text: str, *, rule_id: str | None = None,
                story_id: int | None = None, article_id: int | None = None,
                buttons: Iterable[tuple[str, str]] = (), due: datetime | None = None) -> int | None:
        """Add a message to the outbox; None when this (chat, rule, story) alert exists already."""
        now = to_db_time(utc_now())
        with self._lock:
            conn = self.db.conn
            if not self._queue(conn, chat_id, kind, text, now, rule_id=rule_id,
                               story_id=story_id, article_id=article_id, buttons=buttons,
                               due=to_db_time(due)):
                return None
            return conn.execute("SELECT last_insert_rowid()").fetchone()[0]

    def due_messages(self, now: datetime, limit: int = 500) -> list[OutboxMessage]:
        """Pending messages whose time has come, oldest first (per chat in the order queued)."""
        with self._lock:
            rows = self.db.query(
                "SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? "
                "ORDER BY id LIMIT ?", [to_db_time(now), limit],
            )
            return [_message_from_row(r) for r in rows]

    def matched_rules(self, article_id: int) -> list[str]:
        """The ids of the rules an article matched, for rendering its alerts (whose summary
        prefers sentences with any of their words)."""
        with self._lock:
            return [rule_id for rule_id, in self.db.conn.execute(
                "SELECT rule_id FROM matches WHERE article_id = ? ORDER BY rule_id",
                [article_id])]

    def save_alert_text(self, message_id: int, text: str,
                        buttons: Iterable[tuple[str, str]] = ()) -> None:
        """Keep a rendered alert's text and buttons in its row, so that a retry sends the
        same message; a row rendered before keeps them."""
        with self._lock:
            self.db.execute(
                "UPDATE outbox SET text = ?, buttons = ? WHERE id = ? AND text = ''",
                [text, json.dumps([list(b) for b in buttons], ensure_ascii=False), message_id])

    def pending_count(self) -> int:
        with self._lock:
            return self.db.execute(
                "SELECT count(*) FROM outbox WHERE status = 'pending'").fetchone()[0]

    def mark_sent(self, message_id: int, telegram_message_id: int | None,
                  now: datetime | None = None) -> None:
        with self._lock:
            self.db.execute(
                "UPDATE outbox SET status = 'sent', message_id = ?, sent_at = ?, "
                "attempts = attempts + 1, last_error = NULL WHERE id = ?",
                [telegram_message_id, to_db_time(now or utc_now()), message_id],
            )

    def retry_later(self, message_id: int, due: datetime, error: str) -> None:
        with self._lock:
            self.db.execute(
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? "
                "WHERE id = ?", [to_db_time(due), error, message_id],
            )

    def mark_failed(self, message_id: int, error: str) -> None:
        """Telegram refused this message for good (not the chat): keep it, with the reason."""
        with self._lock:
            self.db.execute(
                "UPDATE outbox SET status = 'failed', attempts = attempts + 1, last_error = ? "
                "WHERE id = ?", [error, message_id],
            )

    def deactivate_chat(self, chat_id: int, reason: str) -> None:
        """The chat blocked the bot or is gone: stop sending, keep its pending rows as 'dropped'."""
        with self.transaction():
            self.db.execute("UPDATE subscribers SET active = 0 WHERE chat_id = ?", [chat_id])
            self.db.execute(
                "UPDATE outbox SET status = 'dropped', last_error = ? "
                "WHERE chat_id = ? AND status = 'pending'", [reason, chat_id],
            )

    def migrate_chat(self, old_chat_id: int, new_chat_id: int) -> None:
        """A group became a supergroup: everything of the old id moves to the new one."""
        with self.transaction():
            conn = self.db.conn
            conn.execute("PRAGMA defer_foreign_keys = ON")
            conn.execute("UPDATE OR IGNORE subscribers SET chat_id = ? WHERE chat_id = ?",
                         [new_chat_id, old_chat_id])
            conn.execute("UPDATE OR IGNORE subscriptions SET chat_id = ? WHERE chat_id = ?",
                         [new_chat_id, old_chat_id])
            conn.execute("UPDATE OR IGNORE outbox SET chat_id = ? WHERE chat_id = ? "
                         "AND status = 'pending'", [new_chat_id, old_chat_id])

    def notice_once(self, key: str, chat_ids: Iterable[int], text: str,
                    now: datetime | None = None) -> bool:
        """Queue an operator notice to these chats unless one with this key went out before."""
        return self._claim_and_queue(
            "INSERT OR IGNORE INTO notices (key, created) VALUES (?, ?)", [key], "notice",
            [(chat, text) for chat in chat_ids], now)

    # ------------------------------------------------------------- retention

    def apply_retention(self, articles_before: datetime, outbox_before: datetime,
                        keys_before: datetime | None = None,
                        now: datetime | None = None) -> dict[str, int]:
        """Delete old articles (their matches and fingerprints go with them), stories left
        without articles, and finished outbox rows. Pending messages are never touched.

        An article is old when both its publication and its arrival are before
        `articles_before`: an item that arrives already older than the window (an archive
        of seed documents) is kept until it ages out by its arrival, not deleted at once.
        The keys of every deleted article are remembered (`seen_keys`), so that a seed or feed
        repeating it never brings it back; remembered keys and alert keys are forgotten only
        after `keys_before`, a much longer window.
        """
        now = now or utc_now()
        with self.transaction():
            conn = self.db.conn
            doomed = ("FROM articles WHERE published < ? AND fetched < ? AND id NOT IN "
                      "(SELECT article_id FROM outbox WHERE status = 'pending' "
                      "AND article_id IS NOT NULL)")
            cutoff = [to_db_time(articles_before)] * 2
            self._remember_keys([key for row in conn.execute(
                f"SELECT guid, url, content_hash {doomed}", cutoff)
                for key in _article_keys(*row)], now)
            self._unindex(conn, [row[0] for row in conn.execute(f"SELECT id {doomed}", cutoff)])
            articles = conn.execute(f"DELETE {doomed}", cutoff).rowcount
            stories = conn.execute(
                "DELETE FROM stories WHERE NOT EXISTS "
                "(SELECT 1 FROM articles a WHERE a.story_id = stories.id)").rowcount
            outbox = conn.execute(
                "DELETE FROM outbox WHERE status != 'pending' AND created < ?",
                [to_db_time(outbox_before)]).rowcount
            keys = alert_keys = 0
            if keys_before is not None:
                keys = conn.execute("DELETE FROM seen_keys WHERE last_seen < ?",
                                    [to_db_time(keys_before)]).rowcount
                alert_keys = conn.execute("DELETE FROM alerted WHERE created < ?",
                                          [to_db_time(keys_before)]).rowcount
        return {"articles": articles, "stories": stories, "outbox": outbox, "keys": keys,
                "alert_keys": alert_keys}

    # ----------------------------------------------------------------- stats

    def operations(self) -> dict[str, Any]:
        """What the minutely admin checks watch: failing feeds and the outbox backlog."""
        with self._lock:
            return {
                "pending": self.pending_count(),
                "oldest_pending": self.db.execute(
                    "SELECT min(created) FROM outbox WHERE status = 'pending'").fetchone()[0],
                "failing_feeds": [f for f in self.feeds() if f.error_count],
            }

    def activity(self, now: datetime) -> dict[str, Any]:
        """For admin /stats only (it reads every match of the day): last digest, matches today."""
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        with self._lock:
            return {
                "last_digest": self.db.execute(
                    "SELECT max(created) FROM digests").fetchone()[0],
                "matches_today": list(self.db.query(
                    "SELECT rule_id, count(*) AS n FROM matches WHERE created >= ? "
                    "GROUP BY rule_id ORDER BY n DESC, rule_id", [to_db_time(day_start)])),
            }

    def stats(self) -> dict[str, Any]:
        """Counts for `monitor stats`: articles by language and source, feed health, outbox."""
        with self._lock:
            q = self.db.query
            return {
                "articles": self.db.execute("SELECT count(*) FROM articles").fetchone()[0],
                "by_language": list(q(
                    "SELECT language, count(*) AS n FROM articles GROUP BY language "
                    "ORDER BY n DESC, language"
                )),
                "by_source": list(q(
                    "SELECT source, count(*) AS n FROM articles GROUP BY source "
                    "ORDER BY n DESC, source"
                )),
                "matches": self.db.execute("SELECT count(*) FROM matches").fetchone()[0],
                "matches_by_rule": list(q(
                    "SELECT rule_id, count(*) AS n FROM matches GROUP BY rule_id "
                    "ORDER BY n DESC, rule_id"
                )),
                "outbox": list(q(
                    "SELECT status, count(*) AS n FROM outbox GROUP BY status ORDER BY status"
                )),
            }


def _article_keys(guid: str | None, url: str | None, content_hash: str) -> list[bytes]:
    """Compact, fixed-size keys of what identifies an article: 12-byte digests of its GUID,
    canonical URL and text hash (a collision among 2^96 values is not a practical risk)."""
    return [hashlib.blake2b(f"{kind}\x1f{value}".encode(), digest_size=12).digest()
            for kind, value in (("g", guid), ("u", url), ("h", content_hash)) if value]


def _chunks(values: list, size: int) -> Iterator[list]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def _feed_from_row(row: dict[str, Any]) -> Feed:
    return Feed(
        id=row["id"], name=row["name"], url=row["url"],
        interval_s=min(row["interval_s"], MAX_INTERVAL_S),
        language=row["language"], full_text=bool(row["full_text"]), etag=row["etag"],
        last_modified=row["last_modified"], last_status=row["last_status"],
        last_error=row["last_error"], error_count=row["error_count"],
        failing_since=from_db_time(row["failing_since"]),
        last_fetched=from_db_time(row["last_fetched"]), last_ok=from_db_time(row["last_ok"]),
        next_due=from_db_time(row["next_due"]),
    )


def _message_from_row(row: dict[str, Any]) -> OutboxMessage:
    return OutboxMessage(
        id=row["id"], chat_id=row["chat_id"], kind=row["kind"], text=row["text"],
        rule_id=row["rule_id"], story_id=row["story_id"], article_id=row["article_id"],
        buttons=tuple(tuple(b) for b in json.loads(row["buttons"])), attempts=row["attempts"],
        rule_name=row["rule_name"],
    )


def _article_from_row(row: dict[str, Any]) -> Article:
    return Article(
        id=row["id"], feed_id=row["feed_id"], source=row["source"], guid=row["guid"],
        url=row["url"], title=row["title"], text=row["text"], language=row["language"],
        published=from_db_time(row["published"]), fetched=from_db_time(row["fetched"]),
        content_hash=row["content_hash"], full_text_status=row["full_text_status"],
        story_id=row["story_id"],
    )
