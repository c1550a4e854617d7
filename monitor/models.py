"""Plain data passed between the stages. No behaviour, no I/O: every stage takes and returns
these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class RawItem:
    """One entry as a parser or seed reader found it, before normalisation.

    Text fields may still hold HTML, entities and odd whitespace; `published` may be missing.
    """

    title: str
    text: str
    url: str | None = None
    guid: str | None = None
    published: datetime | None = None
    language: str | None = None
    source: str | None = None
    text_is_html: bool = True


@dataclass(frozen=True)
class Article:
    """A normalised article, ready to be stored (id is None until it is)."""

    title: str
    text: str
    url: str | None
    guid: str | None
    source: str
    language: str
    published: datetime
    fetched: datetime
    content_hash: str
    feed_id: int | None = None
    id: int | None = None
    full_text_status: str | None = None
    story_id: int | None = None     # set by the store once the article is grouped

    @property
    def stored_id(self) -> int:
        """The id of an article read from the store (the stages after ingest get only those)."""
        if self.id is None:
            raise ValueError(f"article not stored yet: {self.title[:60]!r}")
        return self.id


DeliveryMode = Literal["instant", "digest"]


@dataclass(frozen=True)
class Subscriber:
    """A chat that uses the bot, as the store keeps it."""

    chat_id: int
    chat_type: str                   # Telegram's: private, group, supergroup, channel
    title: str | None
    language: str | None             # the user's language code when the chat was last used
    digest_time: str | None          # "HH:MM", "off", or None for the configured default
    digest_tz: str | None            # an IANA zone, or None for the configured default
    last_digest_at: datetime | None
    active: bool = True              # False once the chat blocked the bot or was deleted


@dataclass(frozen=True)
class Subscription:
    """A chat's subscription to a rule."""

    rule_id: str
    mode: DeliveryMode
    muted_until: datetime | None = None


# The rule id of a chat's personal rule (`/watch`) is this prefix and the watch's number.
WATCH_PREFIX = "watch-"


@dataclass(frozen=True)
class Feed:
    """A configured feed with its fetch state and health, as the store keeps it."""

    name: str
    url: str
    interval_s: int = 600
    language: str | None = None
    full_text: bool = False
    id: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    last_status: int | None = None
    last_error: str | None = None
    error_count: int = 0
    failing_since: datetime | None = None
    last_fetched: datetime | None = None
    last_ok: datetime | None = None
    next_due: datetime | None = None


@dataclass(frozen=True)
class FetchResult:
    """What one HTTP fetch gave: a body to parse, a 304, or an error with its reason."""

    url: str
    status: int | None
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    error: str | None = None
    final_url: str | None = None

    @property
    def not_modified(self) -> bool:
        return self.status == 304

    @property
    def ok(self) -> bool:
        return self.error is None and self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class FeedOutcome:
    """The result of polling one feed: the new feed state and the items it gave."""

    feed: Feed
    items: list[RawItem] = field(default_factory=list)
    error: str | None = None
    not_modified: bool = False
    status: int | None = None
    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class OutboxMessage:
    """One message waiting to be delivered (a row of the outbox)."""

    id: int
    chat_id: int
    kind: str                      # "alert", "digest", "notice"
    text: str                      # Telegram HTML
    rule_id: str | None = None
    story_id: int | None = None
    article_id: int | None = None
    buttons: tuple[tuple[str, str], ...] = ()   # (label, callback data)
    attempts: int = 0
    rule_name: str | None = None   # an alert's heading; its text is "" until rendered


@dataclass(frozen=True)
class SendResult:
    """How one delivery attempt ended, in the dispatcher's terms rather than Telegram's."""

    outcome: str   # "sent" | "retry" | "unavailable" | "chat_gone" | "chat_moved" | "rejected"
    message_id: int | None = None
    retry_after_s: float = 0.0
    new_chat_id: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class ConsoleAlert:
    """One matched article as the console shows it when there is no Telegram token: one line
    with the rules it matched. The console is a way of showing, not a chat: nothing is queued
    for it and no subscriber stands behind it."""

    article_id: int
    title: str
    source: str
    url: str | None
    rules: tuple[str, ...]
