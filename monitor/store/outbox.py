"""The outbox: every message to a chat is a row here before anything is sent, and is marked
sent only after Telegram accepted it (`outbox` table); operator notices are queued once per
key (`notices`).

What a queued row is, is written once (`QUEUE`, `queued_row`): digests (digests.py), notices
(here) and alerts (matches.py, a batch in one executemany) all queue through it; the updates
and follow-ups of alerted stories have theirs beside it (`QUEUE_UPDATE`, `QUEUE_FOLLOW_UP`). A row's
kind and status are models.MessageKind and models.OutboxStatus; the SQL spells them as
literals (`status = 'pending'`), which is what lets SQLite use the partial index outbox_due.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from monitor.models import AlertThread, MessageKind, OutboxMessage, OutboxStatus
from monitor.store.connection import Connection, from_db_time, to_db_time, utc_now

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


# An update of a sent alert (a later article of its story): one waiting per (chat, rule,
# story) (the partial index outbox_one_update, over rows not rendered yet), and only for an
# alert claimed before. Its text, the story's further sources, is made when it is sent, like
# an alert's; an update already rendered (in flight, or retrying after a 429) keeps its text,
# so a later article queues the next one rather than being lost in it.
QUEUE_UPDATE = (
    "INSERT OR IGNORE INTO outbox (chat_id, kind, rule_id, story_id, article_id, rule_name, "
    "text, buttons, next_attempt_at, created) SELECT ?, 'update', ?, ?, ?, ?, '', '[]', ?, ? "
    "WHERE EXISTS (SELECT 1 FROM alerted WHERE chat_id = ?1 AND rule_id = ?2 "
    "AND story_id = ?3)")

# An answer to an alert that pings (the story grew past the chat's threshold, a new
# headline): queued with its text, after its claim in `follow_ups` (Store.plan_alerts).
QUEUE_FOLLOW_UP = (
    "INSERT INTO outbox (chat_id, kind, rule_id, story_id, article_id, text, buttons, "
    "next_attempt_at, created) VALUES (?, 'follow_up', ?, ?, ?, ?, '[]', ?, ?)")


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
                        buttons: Iterable[tuple[str, str]] = (),
                        target_message_id: int | None = None) -> None:
        """Keep a rendered alert's (or update's) text, buttons and the message it edits in its
        row, so that a retry sends the same; a row rendered before keeps them."""
        with self._lock:
            self.db.execute(
                "UPDATE outbox SET text = ?, buttons = ?, target_message_id = ? "
                "WHERE id = ? AND text = ''",
                [text, json.dumps([list(b) for b in buttons], ensure_ascii=False),
                 target_message_id, message_id])

    def set_target(self, message_id: int, target_message_id: int) -> None:
        """The alert that a follow-up answers (its text was made when it was planned)."""
        with self._lock:
            self.db.execute("UPDATE outbox SET target_message_id = ? WHERE id = ?",
                            [target_message_id, message_id])

    def alert_thread(self, chat_id: int, rule_id: str, story_id: int) -> AlertThread | None:
        """A (chat, rule, story)'s alert row, and the sources line its last sent update
        showed: what an update or follow-up of that alert is made from."""
        with self._lock:
            row = self.db.execute(
                "SELECT id, status, message_id, text, buttons, article_id, next_attempt_at "
                "FROM outbox WHERE chat_id = ? AND rule_id = ? AND story_id = ? "
                "AND kind = 'alert'", [chat_id, rule_id, story_id]).fetchone()
            if row is None:
                return None
            shown = self.db.execute(
                "SELECT text, message_id, id FROM outbox WHERE chat_id = ? AND rule_id = ? "
                "AND story_id = ? AND kind = 'update' AND status = 'sent' "
                "ORDER BY sent_at DESC, id DESC LIMIT 1", [chat_id, rule_id, story_id]).fetchone()
        alert_id, status, telegram_id, text, buttons, article_id, due = row
        shown_line, shown_in, shown_by = shown if shown else (None, None, None)
        return AlertThread(alert_id, OutboxStatus(status), telegram_id, text,
                           tuple((label, data) for label, data in json.loads(buttons)),
                           article_id, from_db_time(due), shown_line,
                           shown_in if shown_in != telegram_id else None, shown_by)

    def postpone(self, message_id: int, due: datetime) -> None:
        """Wait for something else (an update for its alert): not an attempt."""
        with self._lock:
            self.db.execute("UPDATE outbox SET next_attempt_at = ? WHERE id = ?",
                            [to_db_time(due), message_id])

    def hold(self, message_ids: Iterable[int], until: datetime) -> None:
        """Keep messages back until the end of their chat's quiet hours."""
        with self.transaction():
            self.db.conn.executemany(
                "UPDATE outbox SET held = 1, next_attempt_at = ? WHERE id = ?",
                [(to_db_time(until), message_id) for message_id in message_ids])

    def fold(self, chat_id: int, rule_id: str | None, message_ids: list[int], text: str,
             now: datetime | None = None) -> None:
        """Replace held alerts of one rule by one message with all of them, atomically."""
        stamp = to_db_time(now or utc_now())
        with self.transaction():
            conn = self.db.conn
            conn.executemany("UPDATE outbox SET status = 'folded' WHERE id = ? "
                             "AND status = 'pending'", [(m,) for m in message_ids])
            conn.execute("INSERT INTO outbox (chat_id, kind, rule_id, text, buttons, "
                         "next_attempt_at, created) VALUES (?, 'folded', ?, ?, '[]', ?, ?)",
                         [chat_id, rule_id, text, stamp, stamp])

    def skip(self, message_id: int, reason: str) -> None:
        """Nothing to send any more: an update of an alert that went out folded or is gone."""
        with self._lock:
            self.db.execute("UPDATE outbox SET status = 'skipped', last_error = ? WHERE id = ?",
                            [reason, message_id])

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

    def noticed(self, prefix: str) -> bool:
        """Whether a notice with a key starting with `prefix` was queued (by its primary key:
        a range, not LIKE, whose _ and % a feed's name may hold)."""
        with self._lock:
            return self.db.execute(
                "SELECT 1 FROM notices WHERE key >= ? AND key < ? LIMIT 1",
                [prefix, prefix + "\U0010ffff"]).fetchone() is not None

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
        rule_name=row["rule_name"], held=bool(row["held"]),
        target_message_id=row["target_message_id"],
    )
