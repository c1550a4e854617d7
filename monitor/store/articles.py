"""Articles: stored once however often they arrive, read back by id, in id order or as the
next stage's input (`matched_at IS NULL`), and remembered after retention deleted them.

An article is identified by its GUID, canonical URL and text hash (unique indexes); the
keys of deleted articles stay in `seen_keys` as 12-byte digests, so nothing retention
deleted comes back as new; `counters.article_id` keeps ids from being reused (stories,
matches and alert claims refer to them).
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from monitor.models import Article
from monitor.store.connection import (
    Connection,
    chunks,
    from_db_time,
    marks,
    to_db_time,
    utc_now,
)


class ArticleStore(Connection):
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

    def _seen_before(self, articles: list[Article], now: datetime) -> set[str]:
        """Content hashes of the articles one of whose keys is remembered; their keys' time is
        renewed (at most daily), so what a source keeps repeating is never forgotten."""
        by_key = {key: a.content_hash for a in articles
                  for key in article_keys(a.guid, a.url, a.content_hash)}
        found: set[str] = set()
        stale = to_db_time(now - timedelta(days=1))
        conn = self.db.conn
        for chunk in chunks(list(by_key)):
            rows = conn.execute(
                f"SELECT key, last_seen FROM seen_keys WHERE key IN ({marks(chunk)})",
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
                for chunk in chunks(values):
                    rows = self.db.execute(
                        f"SELECT {column} FROM articles WHERE {column} IN ({marks(chunk)})",
                        chunk)
                    found.update(row[0] for row in rows)
        return found

    def article(self, article_id: int) -> Article | None:
        with self._lock:
            rows = list(self.db.query("SELECT * FROM articles WHERE id = ?", [article_id]))
        return article_from_row(rows[0]) if rows else None

    def articles_by_id(self, ids: Iterable[int]) -> dict[int, Article]:
        """Many articles in one query per 500 ids (not one query per article)."""
        found: dict[int, Article] = {}
        with self._lock:
            for chunk in chunks(sorted(ids)):
                rows = self.db.query(f"SELECT * FROM articles WHERE id IN ({marks(chunk)})",
                                     chunk)
                found.update((row["id"], article_from_row(row)) for row in rows)
        return found

    def unmatched_articles(self, limit: int = 1000) -> list[Article]:
        with self._lock:
            rows = self.db.query(
                "SELECT * FROM articles WHERE matched_at IS NULL ORDER BY id LIMIT ?", [limit]
            )
            return [article_from_row(r) for r in rows]

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
                yield article_from_row(row)
            last_id = rows[-1]["id"]

    def count_articles(self, since: datetime | None = None) -> int:
        with self._lock:
            return self.db.execute(
                "SELECT count(*) FROM articles WHERE published >= ?", [to_db_time(since) or ""]
            ).fetchone()[0]


def remember_keys(conn: sqlite3.Connection, keys: list[bytes], now: datetime) -> None:
    """Keep these article keys in `seen_keys` (retention, before it deletes the articles)."""
    conn.executemany(
        "INSERT INTO seen_keys (key, last_seen) VALUES (?, ?) "
        "ON CONFLICT(key) DO UPDATE SET last_seen = excluded.last_seen",
        [(key, to_db_time(now)) for key in keys])


def article_keys(guid: str | None, url: str | None, content_hash: str) -> list[bytes]:
    """Compact, fixed-size keys of what identifies an article: 12-byte digests of its GUID,
    canonical URL and text hash (a collision among 2^96 values is not a practical risk)."""
    return [hashlib.blake2b(f"{kind}\x1f{value}".encode(), digest_size=12).digest()
            for kind, value in (("g", guid), ("u", url), ("h", content_hash)) if value]


def article_from_row(row: dict[str, Any]) -> Article:
    return Article(
        id=row["id"], feed_id=row["feed_id"], source=row["source"], guid=row["guid"],
        url=row["url"], title=row["title"], text=row["text"], language=row["language"],
        published=from_db_time(row["published"]), fetched=from_db_time(row["fetched"]),
        content_hash=row["content_hash"], full_text_status=row["full_text_status"],
        story_id=row["story_id"],
    )
