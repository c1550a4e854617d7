"""Spike alerts: what the detector reads (when a rule's matched articles were published,
the articles of a spike's hour) and the record of each spike alert (`spikes`), written in
one transaction with its outbox rows. The cool-down is checked by that same statement, so
a spike is alerted once, across crashes and restarts, and never twice within a cool-down.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from monitor.models import MessageKind, SpikeArticle
from monitor.store.connection import Connection, from_db_time, to_db_time
from monitor.store.outbox import claim_and_queue

# The claim: a spike row unless one of the rule ended within the cool-down (?5); the
# parameters are those of record_spike, the creation time last (claim_and_queue).
_CLAIM = ("INSERT OR IGNORE INTO spikes (rule_id, window_end, count, usual, created) "
          "SELECT ?1, ?2, ?3, ?4, ?6 WHERE NOT EXISTS (SELECT 1 FROM spikes "
          "WHERE rule_id = ?1 AND window_end > ?5)")


class SpikeStore(Connection):
    def rule_activity(self, rule_id: str, since: datetime
                      ) -> tuple[list[datetime], datetime | None]:
        """When the rule's matched articles were published, for those matched since `since`
        (an article is matched after it is published, so that is every one published since,
        read through the index by rule and match time), and where the rule's history begins:
        `since` when it matched anything before, else its earliest article's publication
        (None: no matches at all). Days before that are unknown, not days without matches."""
        with self._lock:
            conn = self.db.conn
            rows = conn.execute(
                "SELECT a.published FROM matches m JOIN articles a ON a.id = m.article_id "
                "WHERE m.rule_id = ? AND m.created >= ?", [rule_id, to_db_time(since)]).fetchall()
            earlier = conn.execute(
                "SELECT 1 FROM matches WHERE rule_id = ? AND created < ? LIMIT 1",
                [rule_id, to_db_time(since)]).fetchone()
        times = sorted(from_db_time(published) for published, in rows)
        start = since if earlier else (times[0] if times else None)
        return times, start

    def matched_since(self, rule_id: str, since: datetime) -> int:
        """How many articles the rule matched since then (through the index by rule and
        match time): at least as many as were published since and matched."""
        with self._lock:
            return self.db.execute(
                "SELECT count(*) FROM matches WHERE rule_id = ? AND created > ?",
                [rule_id, to_db_time(since)]).fetchone()[0]

    def archive_span(self) -> tuple[datetime, datetime] | None:
        """The publication times of the archive's oldest and newest article (None: empty):
        a replay over the archive (`monitor rules spikes`) knows every rule's history from
        its start."""
        with self._lock:
            first, last = self.db.execute(
                "SELECT min(published), max(published) FROM articles").fetchone()
        return (from_db_time(first), from_db_time(last)) if first and last else None

    def window_articles(self, rule_id: str, start: datetime, end: datetime
                        ) -> list[SpikeArticle]:
        """The rule's matched articles published in (start, end], with their stories' number
        of sources, in the order they were published."""
        with self._lock:
            rows = self.db.execute(
                "SELECT a.id, a.title, a.url, a.source, a.published, "
                "coalesce(a.story_id, a.id), coalesce(json_array_length(s.sources), 1) "
                "FROM matches m JOIN articles a ON a.id = m.article_id "
                "LEFT JOIN stories s ON s.id = a.story_id "
                "WHERE m.rule_id = ? AND m.created > ? AND a.published > ? AND a.published <= ? "
                "ORDER BY a.published, a.id",
                [rule_id, to_db_time(start), to_db_time(start), to_db_time(end)]).fetchall()
        return [SpikeArticle(article_id, title, url, source, from_db_time(published), story,
                             sources)
                for article_id, title, url, source, published, story, sources in rows]

    def last_spike(self, rule_id: str) -> datetime | None:
        """The end of the hour of the rule's last spike alert (the cool-down runs from it)."""
        with self._lock:
            value = self.db.execute("SELECT max(window_end) FROM spikes WHERE rule_id = ?",
                                    [rule_id]).fetchone()[0]
        return from_db_time(value)

    def record_spike(self, rule_id: str, window_end: datetime, count: int, usual: float,
                     cooldown_s: int, messages: list[tuple[int, str]], now: datetime) -> bool:
        """Record a spike alert and queue its messages, atomically; False (nothing queued)
        when the rule had one within the cool-down before `window_end`."""
        quiet_since = window_end - timedelta(seconds=cooldown_s)
        with self.transaction():
            return claim_and_queue(
                self.db.conn, _CLAIM,
                [rule_id, to_db_time(window_end), count, usual, to_db_time(quiet_since)],
                MessageKind.SPIKE, messages, now)
