"""What keeps the database small and what the operator sees: retention (articles, stories,
finished outbox rows, and, after a much longer window, remembered keys and alert claims),
the admins' minutely checks, and the counts of `monitor stats` and `/stats`.
"""

from __future__ import annotations

from datetime import datetime

from monitor.models import Activity, Count, Operations, OutboxStatus, Retention, Stats
from monitor.store.archive import unindex
from monitor.store.articles import article_keys, remember_keys
from monitor.store.connection import from_db_time, to_db_time, utc_now
from monitor.store.feeds import FeedStore
from monitor.store.outbox import OutboxStore


class OperationsStore(FeedStore, OutboxStore):
    def apply_retention(self, articles_before: datetime, outbox_before: datetime,
                        keys_before: datetime | None = None,
                        now: datetime | None = None) -> Retention:
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
            remember_keys(conn, [key for row in conn.execute(
                f"SELECT guid, url, content_hash {doomed}", cutoff)
                for key in article_keys(*row)], now)
            unindex(conn, [row[0] for row in conn.execute(f"SELECT id {doomed}", cutoff)])
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
                # claims of the same kind: answers to alerts, spikes told (no index on
                # created: small tables, read every six hours)
                conn.execute("DELETE FROM follow_ups WHERE created < ?",
                             [to_db_time(keys_before)])
                conn.execute("DELETE FROM spikes WHERE created < ?", [to_db_time(keys_before)])
        return Retention(articles, stories, outbox, keys, alert_keys)

    def operations(self) -> Operations:
        """What the minutely admin checks watch: failing feeds and the outbox backlog."""
        with self._lock:
            return Operations(
                pending=self.pending_count(),
                oldest_pending=from_db_time(self.db.execute(
                    "SELECT min(created) FROM outbox WHERE status = 'pending'").fetchone()[0]),
                failing_feeds=[f for f in self.feeds() if f.error_count],
            )

    def activity(self, now: datetime) -> Activity:
        """For admin /stats only (it reads every match of the day): last digest, matches today."""
        day_start = now.replace(hour=0, minute=0, second=0, microsecond=0)
        with self._lock:
            return Activity(
                last_digest=from_db_time(self.db.execute(
                    "SELECT max(created) FROM digests").fetchone()[0]),
                matches_today=self._counts(
                    "SELECT rule_id, count(*) AS n FROM matches WHERE created >= ? "
                    "GROUP BY rule_id ORDER BY n DESC, rule_id", to_db_time(day_start)),
            )

    def stats(self) -> Stats:
        """Counts for `monitor stats`: articles by language and source, matches, outbox."""
        with self._lock:
            return Stats(
                articles=self.db.execute("SELECT count(*) FROM articles").fetchone()[0],
                matches=self.db.execute("SELECT count(*) FROM matches").fetchone()[0],
                by_language=self._counts(
                    "SELECT language, count(*) AS n FROM articles GROUP BY language "
                    "ORDER BY n DESC, language"),
                by_source=self._counts(
                    "SELECT source, count(*) AS n FROM articles GROUP BY source "
                    "ORDER BY n DESC, source"),
                matches_by_rule=self._counts(
                    "SELECT rule_id, count(*) AS n FROM matches GROUP BY rule_id "
                    "ORDER BY n DESC, rule_id"),
                outbox=[Count(OutboxStatus(status), n) for status, n in self._counts(
                    "SELECT status, count(*) AS n FROM outbox GROUP BY status ORDER BY status")],
            )

    def _counts(self, sql: str, *params: object) -> list[Count]:
        return [Count(key, n) for key, n in self.db.execute(sql, params).fetchall()]
