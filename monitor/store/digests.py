"""Digests: which chats get one and when their last period ended, the matches of a period
with their articles and stories, and the record of a period sent (`digests`), which is
written in one transaction with the digest's outbox rows, so a period is sent once.
"""

from __future__ import annotations

import json
from datetime import datetime

from monitor.models import DigestChat, DigestMatch, MessageKind
from monitor.store.connection import Connection, from_db_time, marks, to_db_time
from monitor.store.outbox import claim_and_queue


class DigestStore(Connection):
    def digest_chats(self) -> list[DigestChat]:
        """Active chats with a digest subscription and their digest time, zone and last period."""
        with self._lock:
            rows = self.db.execute(
                """
                SELECT c.chat_id, c.digest_time, c.digest_tz, c.language,
                       (SELECT max(period_end) FROM digests d WHERE d.chat_id = c.chat_id)
                           AS last_end,
                       (SELECT min(created) FROM subscriptions s
                        WHERE s.chat_id = c.chat_id AND s.mode = 'digest') AS since
                FROM subscribers c
                WHERE c.active = 1 AND coalesce(c.digest_time, '') != 'off'
                  AND EXISTS (SELECT 1 FROM subscriptions s
                              WHERE s.chat_id = c.chat_id AND s.mode = 'digest')
                ORDER BY c.chat_id
                """).fetchall()
        return [DigestChat(chat_id, digest_time, digest_tz, language, from_db_time(last_end),
                           from_db_time(since))
                for chat_id, digest_time, digest_tz, language, last_end, since in rows]

    def digest_rules(self, chat_id: int) -> list[str]:
        with self._lock:
            return [r[0] for r in self.db.execute(
                "SELECT rule_id FROM subscriptions WHERE chat_id = ? AND mode = 'digest' "
                "ORDER BY rule_id", [chat_id])]

    def matches_between(self, rule_ids: list[str], start: datetime,
                        end: datetime) -> list[DigestMatch]:
        """Matches of these rules recorded in (start, end], with article and story details,
        by rule and then in the order the articles were published."""
        if not rule_ids:
            return []
        with self._lock:
            rows = self.db.execute(
                f"""
                SELECT m.rule_id, a.id AS article_id, a.title, a.url, a.source, a.language,
                       a.published, a.text, coalesce(a.story_id, a.id) AS story_id,
                       coalesce(s.sources, json_array(a.source)) AS story_sources
                FROM matches m JOIN articles a ON a.id = m.article_id
                LEFT JOIN stories s ON s.id = a.story_id
                WHERE m.rule_id IN ({marks(rule_ids)}) AND m.created > ? AND m.created <= ?
                ORDER BY m.rule_id, a.published
                """, [*rule_ids, to_db_time(start), to_db_time(end)]).fetchall()
        return [DigestMatch(rule_id, article_id, title, url, source, language,
                            from_db_time(published), text, story_id,
                            tuple(json.loads(sources)) if sources else ())
                for (rule_id, article_id, title, url, source, language, published, text,
                     story_id, sources) in rows]

    def record_digest(self, chat_id: int, start: datetime, end: datetime,
                      messages: list[str], now: datetime | None = None) -> bool:
        """Record the digest of a period and queue its messages, atomically; False (and nothing
        queued) when that period was recorded before."""
        with self.transaction():
            return claim_and_queue(
                self.db.conn,
                "INSERT OR IGNORE INTO digests (chat_id, period_end, period_start, created) "
                "VALUES (?, ?, ?, ?)", [chat_id, to_db_time(end), to_db_time(start)],
                MessageKind.DIGEST, [(chat_id, text) for text in messages], now)
