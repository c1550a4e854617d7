"""The outbox dispatcher: sends due outbox rows within Telegram's limits and loses nothing.

A row is marked sent only after the sender reports that Telegram accepted it. Between the
two there is one unavoidable window: a crash after Telegram accepted a message and before
the row is marked sends it again on restart. Outcomes:

    sent        → mark sent
    retry       → 429 (honour retry_after, pause everything), 5xx, network error, timeout:
                  reschedule with backoff; never given up
    chat_moved  → group became a supergroup: move the chat's rows and subscriptions, resend
    chat_gone   → 403 (blocked, kicked): chat inactive, its pending rows dropped
    rejected    → 400 that plain text could not fix either: row failed, with the reason
    unavailable → Telegram cannot be reached at all (refused connection, 5xx, token refused):
                  reschedule, and end this pass at once instead of trying every chat

An alert is rendered just before its first send (deliver/alerts.py), and its text kept;
so is an update of a sent alert (an edit: the story's further sources). A chat's quiet hours
hold its alerts and follow-ups until the window ends; then a rule's held alerts go out as
one folded message when there are more than a few.
Messages to one chat go out one after another, in the order they were queued; different
chats are served concurrently. Store calls run in worker threads: a long ingest transaction
delays a send, never the event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from monitor.alerts import quiet_until
from monitor.config import DigestConfig
from monitor.deliver.alerts import AlertRenderer, MatchedWords, no_words
from monitor.models import MessageKind, OutboxMessage, QuietHours, SendResult
from monitor.store import Store, utc_now

log = logging.getLogger(__name__)

BACKOFF_BASE_S = 5.0
BACKOFF_MAX_S = 3600.0
FOLD_ABOVE = 3          # a rule's alerts held in quiet hours go out in one message above this
# What quiet hours hold back: whatever notifies about the news (not edits, digests, notices).
PINGS = (MessageKind.ALERT, MessageKind.FOLLOW_UP, MessageKind.SPIKE)


class Sender(Protocol):
    async def send(self, message: OutboxMessage) -> SendResult: ...


def is_group(chat_id: int) -> bool:
    """Groups, supergroups and channels have negative ids; private chats positive ones."""
    return chat_id < 0


class NoLimit:
    """For senders without limits (the console)."""

    async def wait(self, chat_id: int) -> None:
        return None

    def pause(self, seconds: float) -> None:
        return None


class RateLimiter:
    """Spaces sends to stay under Telegram's limits rather than run into its 429s.

    Overall about 30 messages/s, one per second to a private chat, 20 per minute to a group.
    A 429 pauses every send for its retry_after, as Telegram asks.
    """

    def __init__(self, overall_per_s: float = 29.0, private_interval_s: float = 1.0,
                 group_interval_s: float = 3.0,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep):
        self.overall_interval = 1.0 / overall_per_s
        self.private_interval = private_interval_s
        self.group_interval = group_interval_s
        self.clock, self.sleep = clock, sleep
        self._next_overall = 0.0
        self._next_chat: dict[int, float] = defaultdict(float)

    async def wait(self, chat_id: int) -> None:
        now = self.clock()
        slot = max(now, self._next_overall, self._next_chat[chat_id])
        self._next_overall = max(self._next_overall, slot) + self.overall_interval
        interval = self.group_interval if is_group(chat_id) else self.private_interval
        self._next_chat[chat_id] = slot + interval
        if slot > now:
            await self.sleep(slot - now)

    def pause(self, seconds: float) -> None:
        self._next_overall = max(self._next_overall, self.clock() + seconds)


@dataclass
class DispatchReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped_chats: int = 0
    unavailable: str | None = None     # why the pass stopped early, when Telegram is unreachable


class Dispatcher:
    """Sends what is due in the outbox through one sender (Telegram or the console)."""

    def __init__(self, store: Store, sender: Sender, limiter: RateLimiter | NoLimit | None = None,
                 max_in_flight: int = 8, clock: Callable[[], datetime] = utc_now,
                 timezone: str = DigestConfig.timezone, matched_words: MatchedWords = no_words):
        self.store = store
        self.sender = sender
        self.clock = clock
        self.timezone = timezone       # of the times that alerts show
        self.matched_words = matched_words    # the bold words of an alert (Pipeline wires it)
        # Set at shutdown: the sends in flight finish and are marked; no new one starts.
        self.stopping = False
        if limiter is None:
            limiter = RateLimiter() if getattr(sender, "rate_limited", True) else NoLimit()
        self.limiter = limiter
        self.max_in_flight = max_in_flight
        self._one_at_a_time = asyncio.Lock()

    async def dispatch_due(self, limit: int = 1000) -> DispatchReport:
        """Send every due row (up to `limit`); returns what happened.

        Calls are serialised: two overlapping passes would pick the same due rows and
        send them twice.
        """
        async with self._one_at_a_time:
            return await self._dispatch_due(limit)

    async def _dispatch_due(self, limit: int) -> DispatchReport:
        report = DispatchReport()
        due = await asyncio.to_thread(self.store.due_messages, self.clock(), limit)
        by_chat: dict[int, list[OutboxMessage]] = defaultdict(list)
        for message in due:
            by_chat[message.chat_id].append(message)
        renderer = AlertRenderer(self.store, self.timezone, self.matched_words)
        quiet = await asyncio.to_thread(self.store.quiet_hours) if by_chat else {}
        slots = asyncio.Semaphore(self.max_in_flight)

        async def one_chat(messages: list[OutboxMessage]) -> None:
            if messages[0].chat_id in quiet:
                messages = await self._quiet_hours(messages, quiet[messages[0].chat_id],
                                                   renderer)
            for message in messages:
                async with slots:
                    if report.unavailable or self.stopping:
                        return
                    ready = await asyncio.to_thread(renderer.rendered, message)
                    if ready == "failed":
                        report.failed += 1
                    elif isinstance(ready, OutboxMessage) and not await self._deliver(
                            ready, report):
                        return  # the chat is gone, moved, or must wait: keep its order

        await asyncio.gather(*(one_chat(msgs) for msgs in by_chat.values()))
        return report

    async def _quiet_hours(self, messages: list[OutboxMessage], quiet: QuietHours,
                           renderer: AlertRenderer) -> list[OutboxMessage]:
        """The messages to send now: inside the chat's quiet hours, alerts, follow-ups and
        spike alerts are held until the window ends (edits are silent and go on); after it, a rule's
        held alerts are folded into one message when there are more than FOLD_ABOVE."""
        until = quiet_until(self.clock(), quiet, self.timezone)
        if until is not None:
            held = [m for m in messages if m.kind in PINGS]
            if held:
                await asyncio.to_thread(self.store.hold, [m.id for m in held], until)
            return [m for m in messages if m.kind not in PINGS]
        by_rule: dict[str | None, list[OutboxMessage]] = defaultdict(list)
        for message in messages:
            if message.held and message.kind == MessageKind.ALERT and not message.text:
                by_rule[message.rule_id].append(message)
        folded = {m.id for alerts in by_rule.values() if len(alerts) > FOLD_ABOVE
                  for m in alerts}
        for alerts in by_rule.values():
            if len(alerts) > FOLD_ABOVE:
                text = await asyncio.to_thread(renderer.folded, alerts[0].chat_id,
                                               alerts[0].rule_name or alerts[0].rule_id or "",
                                               alerts, quiet.zone or self.timezone)
                await asyncio.to_thread(self.store.fold, alerts[0].chat_id, alerts[0].rule_id,
                                        [m.id for m in alerts], text, self.clock())
        return [m for m in messages if m.id not in folded]  # the folded ones go next pass

    async def _deliver(self, message: OutboxMessage, report: DispatchReport) -> bool:
        """One attempt; True when the next message to this chat may follow now."""
        await self.limiter.wait(message.chat_id)
        result = await self.sender.send(message)
        store = self.store
        if result.outcome == "sent":
            await asyncio.to_thread(store.mark_sent, message.id, result.message_id, self.clock())
            report.sent += 1
            return True
        if result.outcome in ("retry", "unavailable"):
            if result.outcome == "unavailable" and not report.unavailable:
                report.unavailable = result.error or "Telegram unreachable"
            await self._retry(message, result, report)
            return False
        if result.outcome == "chat_moved" and result.new_chat_id is not None:
            log.info("chat %s moved to %s", message.chat_id, result.new_chat_id)
            await asyncio.to_thread(store.migrate_chat, message.chat_id, result.new_chat_id)
            report.retried += 1
            return False  # the next dispatch sends its rows to the new id
        if result.outcome == "chat_gone":
            log.warning("chat %s: %s; marked inactive", message.chat_id, result.error)
            await asyncio.to_thread(store.deactivate_chat, message.chat_id,
                                    result.error or "chat gone")
            report.dropped_chats += 1
            return False
        log.error("outbox row %s to chat %s rejected: %s", message.id, message.chat_id,
                  result.error)
        await asyncio.to_thread(store.mark_failed, message.id, result.error or "rejected")
        report.failed += 1
        return True

    async def _retry(self, message: OutboxMessage, result: SendResult,
                     report: DispatchReport) -> None:
        if result.retry_after_s:
            self.limiter.pause(result.retry_after_s)
            delay = result.retry_after_s
        else:
            delay = min(BACKOFF_BASE_S * 2 ** message.attempts, BACKOFF_MAX_S)
        log.warning("outbox row %s to chat %s: %s; retry in %.0fs", message.id, message.chat_id,
                    result.error, delay)
        await asyncio.to_thread(self.store.retry_later, message.id,
                                self.clock() + timedelta(seconds=delay), result.error or "retry")
        report.retried += 1
