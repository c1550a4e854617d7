"""The outbox: every message to a chat is a row here before anything is sent, and is marked
sent only after Telegram accepted it (`outbox` table); operator notices are queued once per
key (`notices`).

What a queued row is, is written once (`QUEUE`, `queued_row`): digests (digests.py), notices
(here) and alerts (matches.py, a batch in one executemany) all queue through it. A row's
kind and status are models.MessageKind and models.OutboxStatus; the SQL spells them as
literals (`status = 'pending'`), which is what lets SQLite use the partial index outbox_due.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from monitor.models import MessageKind, OutboxMessage
from monitor.store.connection import Connection, to_db_time, utc_now

# Queue a message: the columns a queued row is given (the others keep their defaults:
# pending, no attempts, no error), in the order of `queued_row`. A (chat, rule, story) gets
# one alert row (the unique index outbox_one_alert), and none at all once it was claimed in
# `alerted` (an alert's claim outlives its row); a message without a rule and story (a
# digest, a notice) has no claim to look up.
QUEUE = (
    "INSERT OR IGNORE INTO outbox (chat_id, kind, rule_id, story_id, article_id, rule_name, "
    "text, buttons, next_attempt_at, created) SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "
    "WHERE NOT EXISTS (SELECT 1 FROM alerted WHERE chat_id = ?1 AND rule_id = ?3 "
    "AND story_id = ?4)")


def queued_row(chat_id: int, kind: MessageKind, text: str, now: str, *,
               rule_id: str | None = None, story_id: int | None = None,
               article_id: int | None = None, rule_name: str | None = None
               ) -> tuple[object, ...]:
    """The parameters of QUEUE for one message, due at once, without buttons. An alert is
    queued with an empty text: its text and buttons are made just before its first send
    (save_alert_text)."""
    return (chat_id, kind.value, rule_id, story_id, article_id, rule_name, text, "[]", now, now)


class OutboxStore(Connection):
    def due_messages(self, now: datetime, limit: int = 500) -> list[OutboxMessage]:
        """Pending messages whose time has come, oldest first (per chat in the order queued)."""
        with self._lock:
            rows = self.db.query(
                "SELECT * FROM outbox WHERE status = 'pending' AND next_attempt_at <= ? "
                "ORDER BY id LIMIT ?", [to_db_time(now), limit],
            )
            return [_message_from_row(r) for r in rows]

    def save_alert_text(self, message_id: int, text: str,
                        buttons: Iterable[tuple[str, str]] = ()) -> None:
        """Keep a rendered alert's text and buttons in its row, so that a retry sends the
        same message; a row rendered before keeps them."""
        with self._lock:
            self.db.execute(
                "UPDATE outbox SET text = ?, buttons = ? WHERE id = ? AND text = ''",
                [text, json.dumps([list(b) for b in buttons], ensure_ascii=False),
                 message_id])

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

    def notice_once(self, key: str, chat_ids: Iterable[int], text: str,
                    now: datetime | None = None) -> bool:
        """Queue an operator notice to these chats unless one with this key went out before."""
        with self.transaction():
            return claim_and_queue(
                self.db.conn, "INSERT OR IGNORE INTO notices (key, created) VALUES (?, ?)",
                [key], MessageKind.NOTICE, [(chat, text) for chat in chat_ids], now)


def claim_and_queue(conn: sqlite3.Connection, claim_sql: str, claim: list[Any],
                    kind: MessageKind, messages: list[tuple[int, str]],
                    now: datetime | None) -> bool:
    """Insert the claim row and queue the messages, inside the caller's transaction; nothing
    at all when the claim exists already (the row's last parameter is the creation time)."""
    now_text = to_db_time(now or utc_now())
    if conn.execute(claim_sql, [*claim, now_text]).rowcount == 0:
        return False
    conn.executemany(QUEUE, [queued_row(chat, kind, text, now_text) for chat, text in messages])
    return True


def _message_from_row(row: dict[str, Any]) -> OutboxMessage:
    return OutboxMessage(
        id=row["id"], chat_id=row["chat_id"], kind=MessageKind(row["kind"]), text=row["text"],
        rule_id=row["rule_id"], story_id=row["story_id"], article_id=row["article_id"],
        buttons=tuple(tuple(b) for b in json.loads(row["buttons"])), attempts=row["attempts"],
        rule_name=row["rule_name"],
    )
