"""Feeds: their settings from the config (keyed by URL, named by the config) and their fetch
state, health and silence after each poll (`feeds` table).

A feed's name is also its articles' `source`, so a rename reaches the articles and their
archive index entries here, in the same transaction.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from monitor.models import Feed
from monitor.store.archive import set_index_complete, unindex
from monitor.store.connection import Connection, StoreError, from_db_time, to_db_time, utc_now

# A stored feed never polls less often than this, whatever an older version let in.
MAX_INTERVAL_S = 30 * 86400


class FeedExists(StoreError):
    pass


class FeedConflict(StoreError):
    pass


class FeedStore(Connection):
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
                    unindex(self.db.conn, [row[0] for row in self.db.execute(
                        "SELECT id FROM articles WHERE feed_id = ?", [known.id])])
                    set_index_complete(self.db.conn, False)
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
                    error_count = ?, failing_since = ?, last_fetched = ?, last_ok = ?, next_due = ?,
                    last_new = ?, new_gaps_s = ?, silent_since = ?, not_a_feed = ?,
                    silence_ended = ?
                WHERE id = ?
                """,
                [feed.etag, feed.last_modified, feed.last_status, feed.last_error,
                 feed.error_count, to_db_time(feed.failing_since), to_db_time(feed.last_fetched),
                 to_db_time(feed.last_ok), to_db_time(feed.next_due), to_db_time(feed.last_new),
                 json.dumps(list(feed.new_gaps_s)), to_db_time(feed.silent_since),
                 int(feed.not_a_feed), to_db_time(feed.silence_ended), feed.id],
            )


def _feed_from_row(row: dict[str, Any]) -> Feed:
    return Feed(
        id=row["id"], name=row["name"], url=row["url"],
        interval_s=min(row["interval_s"], MAX_INTERVAL_S),
        language=row["language"], full_text=bool(row["full_text"]), etag=row["etag"],
        last_modified=row["last_modified"], last_status=row["last_status"],
        last_error=row["last_error"], error_count=row["error_count"],
        failing_since=from_db_time(row["failing_since"]),
        last_fetched=from_db_time(row["last_fetched"]), last_ok=from_db_time(row["last_ok"]),
        next_due=from_db_time(row["next_due"]), last_new=from_db_time(row["last_new"]),
        new_gaps_s=tuple(json.loads(row["new_gaps_s"])),
        silent_since=from_db_time(row["silent_since"]), not_a_feed=bool(row["not_a_feed"]),
        silence_ended=from_db_time(row["silence_ended"]),
    )
