"""Subscribers (the chats that use the bot), their subscriptions to rules (mode, mute) and
their personal `/watch` rules; and what happens to a chat as a whole: it stops (`/stop`),
blocks the bot, or becomes a supergroup, which reaches its pending outbox rows too.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from monitor.models import ChatType, DeliveryMode, QuietHours, Subscriber, Subscription, Watch
from monitor.store.connection import Connection, chunks, from_db_time, marks, to_db_time, utc_now


class SubscriberStore(Connection):
    def upsert_subscriber(self, chat_id: int, chat_type: ChatType, title: str | None,
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
            digest_tz=row["digest_tz"], active=bool(row["active"]),
            quiet_start=row["quiet_start"], quiet_end=row["quiet_end"])

    def chat_languages(self) -> dict[int, str]:
        with self._lock:
            return {r[0]: r[1] or "de" for r in self.db.execute(
                "SELECT chat_id, language FROM subscribers")}

    def set_digest_time(self, chat_id: int, time_of_day: str | None, timezone: str | None) -> None:
        with self._lock:
            self.db.execute(
                "UPDATE subscribers SET digest_time = ?, digest_tz = ? WHERE chat_id = ?",
                [time_of_day, timezone, chat_id])

    def set_quiet_hours(self, chat_id: int, start: str | None, end: str | None,
                        now: datetime | None = None) -> None:
        """The chat's quiet hours as local "HH:MM" (in its digest's zone), or none. What the
        old window held is due at once: the dispatcher holds it again if the new one is on."""
        with self.transaction():
            self.db.execute(
                "UPDATE subscribers SET quiet_start = ?, quiet_end = ? WHERE chat_id = ?",
                [start, end, chat_id])
            self.db.execute(
                "UPDATE outbox SET next_attempt_at = ? WHERE chat_id = ? AND held = 1 "
                "AND status = 'pending'", [to_db_time(now or utc_now()), chat_id])

    def quiet_hours(self) -> dict[int, QuietHours]:
        """Every chat with quiet hours: their start, end and the chat's zone (None: the
        configured default)."""
        with self._lock:
            rows = self.db.execute(
                "SELECT chat_id, quiet_start, quiet_end, digest_tz FROM subscribers "
                "WHERE quiet_start IS NOT NULL").fetchall()
        return {chat: QuietHours(start, end, zone) for chat, start, end, zone in rows}

    # ------------------------------------------------------------ the chat as a whole

    def forget_chat(self, chat_id: int) -> None:
        """/stop: everything about this chat goes, pending messages included."""
        with self.transaction():
            self.db.execute("DELETE FROM outbox WHERE chat_id = ? AND status = 'pending'",
                            [chat_id])
            self.db.execute("DELETE FROM subscribers WHERE chat_id = ?", [chat_id])

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
            # All its rows and claims: a story alerted in the group is not alerted again in
            # the supergroup, and its updates answer there. A supergroup numbers its messages
            # anew, so the ids of the group's messages are forgotten: an update must not edit
            # whatever message has that number there.
            conn.execute("UPDATE outbox SET message_id = NULL, target_message_id = NULL "
                         "WHERE chat_id = ? AND status != 'pending'", [old_chat_id])
            conn.execute("UPDATE outbox SET target_message_id = NULL WHERE chat_id = ? "
                         "AND status = 'pending' AND kind IN ('update', 'follow_up')",
                         [old_chat_id])
            for table in ("outbox", "alerted", "follow_ups"):
                conn.execute(f"UPDATE OR IGNORE {table} SET chat_id = ? WHERE chat_id = ?",
                             [new_chat_id, old_chat_id])

    # ------------------------------------------------------------ subscriptions

    def subscribe(self, chat_id: int, rule_id: str, mode: DeliveryMode) -> bool:
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
                "SELECT rule_id, mode, muted_until, follow_sources, spike FROM subscriptions "
                "WHERE chat_id = ? ORDER BY rule_id", [chat_id]).fetchall()
        return [Subscription(rule_id, mode, from_db_time(muted_until), follow_sources,
                             bool(spike))
                for rule_id, mode, muted_until, follow_sources, spike in rows]

    def mute(self, chat_id: int, rule_id: str, until: datetime) -> bool:
        with self._lock:
            cursor = self.db.execute(
                "UPDATE subscriptions SET muted_until = ? WHERE chat_id = ? AND rule_id = ?",
                [to_db_time(until), chat_id, rule_id])
            return cursor.rowcount == 1

    def follow(self, chat_id: int, rule_id: str, sources: int | None) -> bool:
        """/follow RULE N: answer an alert of this rule again once its story has N sources
        (None: never); False when the chat does not subscribe to the rule."""
        with self._lock:
            return self.db.execute(
                "UPDATE subscriptions SET follow_sources = ? WHERE chat_id = ? AND rule_id = ?",
                [sources, chat_id, rule_id]).rowcount > 0

    def set_spike(self, chat_id: int, rule_id: str, on: bool) -> bool:
        """/spike RULE on|off: whether a subscription also hears of the rule's spikes; False
        when the chat does not subscribe to the rule."""
        with self._lock:
            cursor = self.db.execute(
                "UPDATE subscriptions SET spike = ? WHERE chat_id = ? AND rule_id = ?",
                [int(on), chat_id, rule_id])
            return cursor.rowcount == 1

    def spike_subscribers(self, now: datetime) -> dict[str, list[int]]:
        """Per rule, the active chats that hear of its spikes (whatever their delivery mode),
        in chat order, leaving out muted ones: the rules the spike planner looks at."""
        found: dict[str, list[int]] = {}
        with self._lock:
            rows = self.db.execute(
                "SELECT s.rule_id, s.chat_id FROM subscriptions s JOIN subscribers c "
                "ON c.chat_id = s.chat_id WHERE s.spike = 1 AND c.active = 1 "
                "AND (s.muted_until IS NULL OR s.muted_until <= ?) ORDER BY s.rule_id, s.chat_id",
                [to_db_time(now)]).fetchall()
        for rule_id, chat_id in rows:
            found.setdefault(rule_id, []).append(chat_id)
        return found

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
            for chunk in chunks(rule_ids):
                rows = self.db.execute(
                    f"SELECT s.rule_id, s.chat_id FROM subscriptions s JOIN subscribers c "
                    f"ON c.chat_id = s.chat_id WHERE c.active = 1 AND s.mode = 'instant' "
                    f"AND (s.muted_until IS NULL OR s.muted_until <= ?) "
                    f"AND s.rule_id IN ({marks(chunk)})",
                    [to_db_time(now), *chunk])
                for rule_id, chat_id in rows:
                    found[rule_id].append(chat_id)
        for chats in found.values():
            chats.sort()
        return found

    # ------------------------------------------------------------ personal rules

    def add_watch(self, chat_id: int, query: str) -> int:
        """A chat's new personal rule; its number in the chat (1 + the highest there)."""
        with self.transaction():
            number: int = self.db.execute(
                "SELECT coalesce(max(number), 0) + 1 FROM watches WHERE chat_id = ?",
                [chat_id]).fetchone()[0]
            self.db.execute(
                "INSERT INTO watches (chat_id, number, query, created) VALUES (?, ?, ?, ?)",
                [chat_id, number, query, to_db_time(utc_now())])
            return number

    def remove_watch(self, chat_id: int, number: int) -> bool:
        with self._lock:
            return self.db.execute("DELETE FROM watches WHERE chat_id = ? AND number = ?",
                                   [chat_id, number]).rowcount == 1

    def watches(self, chat_id: int | None = None) -> list[Watch]:
        """One chat's personal rules, or every active chat's (to build the engine)."""
        with self._lock:
            if chat_id is None:
                rows = self.db.execute(
                    "SELECT w.id, w.number, w.chat_id, w.query FROM watches w JOIN subscribers c "
                    "ON c.chat_id = w.chat_id WHERE c.active = 1 ORDER BY w.id").fetchall()
            else:
                rows = self.db.execute(
                    "SELECT id, number, chat_id, query FROM watches WHERE chat_id = ? "
                    "ORDER BY number",
                    [chat_id]).fetchall()
        return [Watch(*row) for row in rows]
