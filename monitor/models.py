"""Plain data passed between the stages. No behaviour, no I/O: every stage takes and returns
these."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal, NamedTuple


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


# How a chat receives a rule's matches: an alert each, or once a day in its digest.
DeliveryMode = Literal["instant", "digest"]

# Telegram's kinds of chat (python-telegram-bot hands them over as plain strings).
ChatType = Literal["private", "group", "supergroup", "channel"]


@dataclass(frozen=True)
class Subscriber:
    """A chat that uses the bot, as the store keeps it."""

    chat_id: int
    chat_type: ChatType
    title: str | None
    language: str | None             # the user's language code when the chat was last used
    digest_time: str | None          # "HH:MM", "off", or None for the configured default
    digest_tz: str | None            # an IANA zone, or None for the configured default
    active: bool = True              # False once the chat blocked the bot or was deleted
    quiet_start: str | None = None   # quiet hours, local "HH:MM" in the chat's zone
    quiet_end: str | None = None


@dataclass(frozen=True)
class Subscription:
    """A chat's subscription to a rule."""

    rule_id: str
    mode: DeliveryMode
    muted_until: datetime | None = None
    follow_sources: int | None = None    # /follow: answer an alert again at this many sources
    spike: bool = False              # the chat also hears when the rule's matches spike


class QuietHours(NamedTuple):
    """A chat's quiet hours: local "HH:MM" start and end, in its zone (None: the default)."""

    start: str
    end: str
    zone: str | None


# The rule id of a chat's personal rule (`/watch`) is this prefix and the watch's number.
WATCH_PREFIX = "watch-"


@dataclass(frozen=True)
class Watch:
    """A chat's personal rule, typed with /watch."""

    id: int                          # unique: the rule's id is watch-ID
    number: int                      # the number the chat sees (/unwatch N), per chat
    chat_id: int
    query: str

    @property
    def rule_id(self) -> str:
        """The id of the rule the engine makes of it."""
        return f"{WATCH_PREFIX}{self.id}"


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
    # Silence (monitor.ingest.health): when a poll last brought new articles, the seconds
    # between the last polls that did (oldest first), since when the feed is judged silent,
    # and whether its last answer was 2xx with a body that is not a feed.
    last_new: datetime | None = None
    new_gaps_s: tuple[int, ...] = ()
    silent_since: datetime | None = None
    not_a_feed: bool = False
    silence_ended: datetime | None = None   # the start of the last silence that ended


class FeedHealth(StrEnum):
    """The one word `monitor stats` and /stats show for a feed (health.feed_health)."""

    NEW = "new"                    # never polled
    OK = "ok"
    FAILING = "failing"            # its last poll failed: no answer, an error status, a broken body
    SILENT = "silent"              # it answers, but nothing new for far longer than usual, or
                                   # for hours no feed at all (an HTML page)


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


class MessageKind(StrEnum):
    """What an outbox row carries."""

    ALERT = "alert"                # one (chat, rule, story); rendered just before it is sent
    UPDATE = "update"              # an edit of a sent alert: the story's further sources
    FOLLOW_UP = "follow_up"        # an answer to an alert: the story grew, or a new headline
    FOLDED = "folded"              # the alerts of one rule held in quiet hours, in one message
    DIGEST = "digest"              # a part of a chat's daily digest
    NOTICE = "notice"              # an operator notice (admins), or a /watch owner's
    SPIKE = "spike"                # a rule's matches spiked (spikes.py); rendered when queued


class OutboxStatus(StrEnum):
    """Where an outbox row stands. Only `pending` rows are ever sent; the others are kept
    (for `monitor stats`) until retention deletes them."""

    PENDING = "pending"            # queued, or waiting for a retry
    SENT = "sent"                  # Telegram accepted it
    FAILED = "failed"              # Telegram refused the message itself, for good
    DROPPED = "dropped"            # its chat blocked the bot or is gone
    SKIPPED = "skipped"            # nothing left to send: an update of an alert that is gone
    FOLDED = "folded"              # went out inside another message (held alerts, or an
                                   # edit of an alert that went out folded)


@dataclass(frozen=True)
class OutboxMessage:
    """One message waiting to be delivered (a pending row of the outbox)."""

    id: int
    chat_id: int
    kind: MessageKind
    text: str                      # Telegram HTML
    rule_id: str | None = None
    story_id: int | None = None
    article_id: int | None = None
    buttons: tuple[tuple[str, str], ...] = ()   # (label, callback data)
    attempts: int = 0
    rule_name: str | None = None   # an alert's heading; its text is "" until rendered
    held: bool = False             # kept back by the chat's quiet hours
    target_message_id: int | None = None   # the message an update edits or a follow-up answers
    fallback_text: str | None = None       # an update's answer when it cannot edit any more
    answers_message_id: int | None = None  # the alert that answer replies to


class PlannedAlert(NamedTuple):
    """An alert the planner queues: a reference that the dispatcher renders before its first
    send (Store.plan_alerts; a NamedTuple: an ingest at 10k rules plans tens of thousands)."""

    chat_id: int
    rule_id: str
    story_id: int | None
    article_id: int | None
    rule_name: str                 # the alert's heading


class PlannedFollowUp(NamedTuple):
    """An answer to a chat's alert that pings again (Store.plan_alerts): its story now has
    as many sources as the chat's `/follow` threshold, or a materially new headline. Queued
    once per (chat, rule, story, reason)."""

    chat_id: int
    rule_id: str
    story_id: int
    article_id: int                # the article that brought it
    reason: str                    # "sources" or "headline"
    text: str                      # Telegram HTML


class AlertedStory(NamedTuple):
    """What the planner knows of a (chat, rule, story) that was alerted before: the alert's
    headline, the headlines its follow-ups showed, the story's sources, the chat's threshold."""

    titles: tuple[str, ...]        # the alert's, then each follow-up's
    reasons: frozenset[str]        # follow-ups claimed already
    sources: tuple[str, ...]       # the story's distinct sources, first reporter first
    follow_sources: int | None     # /follow RULE N: ping when N sources report it


class AlertThread(NamedTuple):
    """A sent (or waiting) alert, as its updates and follow-ups need it."""

    outbox_id: int
    status: OutboxStatus
    message_id: int | None         # Telegram's, once sent
    text: str                      # as first sent
    buttons: tuple[tuple[str, str], ...]
    article_id: int | None
    next_attempt_at: datetime
    shown_sources: str | None      # the sources line of its last sent update
    answer_id: int | None          # the answer that shows them, when the alert could not
                                   # be edited (later updates edit that answer)
    shown_by: int | None           # the outbox row of that last sent update


class StorySource(NamedTuple):
    """One outlet's article of a story, for the "+3 sources" line of its alerts."""

    source: str
    url: str | None
    published: datetime
    article_id: int


# How one delivery attempt ended: sent; to be retried (429, 5xx, network); Telegram is
# unreachable (the pass ends); the chat blocked the bot or is gone; the group became a
# supergroup (new_chat_id); Telegram refused the message itself.
SendOutcome = Literal["sent", "retry", "unavailable", "chat_gone", "chat_moved", "rejected"]


@dataclass(frozen=True)
class SendResult:
    """How one delivery attempt ended, in the dispatcher's terms rather than Telegram's."""

    outcome: SendOutcome
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


class StoryAssignment(NamedTuple):
    """An article's place in a story, with the fingerprint that put it there (kept, so that
    grouping survives restarts)."""

    article_id: int
    story_id: int
    fingerprint: bytes
    published: datetime
    source: str


class UnalertedMatch(NamedTuple):
    """A match the alert planner has not looked at yet (a NamedTuple: an ingest at 10k
    rules reads tens of thousands)."""

    article_id: int
    rule_id: str
    story_id: int | None           # the article's story (None until it is grouped)


class NewMatch(NamedTuple):
    """A match the matching stage found, as the store takes it (a NamedTuple: a batch at
    100,000 rules has hundreds of thousands)."""

    article_id: int
    rule_id: str
    rule_version: str


@dataclass(frozen=True)
class StoredMatch:
    """The fact that an article matched a rule of a version, as the store keeps it."""

    article_id: int
    rule_id: str
    rule_version: str
    created: datetime
    alerted: bool                  # the alert planner has seen it


@dataclass(frozen=True)
class DigestChat:
    """A chat that gets a digest: its own time and zone (None: the configured default) and
    where its last digest ended."""

    chat_id: int
    digest_time: str | None        # "HH:MM"
    digest_tz: str | None
    language: str | None
    last_end: datetime | None      # None before its first digest
    since: datetime | None = None  # its first digest subscription (the first slot after it)


@dataclass(frozen=True)
class DigestMatch:
    """A match of a digest's period with its article and the article's story."""

    rule_id: str
    article_id: int
    title: str
    url: str | None
    source: str
    language: str
    published: datetime
    text: str
    story_id: int                  # the article's own id while it has no story
    story_sources: tuple[str, ...]  # the story's distinct sources


@dataclass(frozen=True)
class SpikeSettings:
    """When a rule's matches count as a spike (the rule file's `[rules.spike]`, spikes.py):
    the last hour's count is at least `min` and above the usual count by more than `k`
    standard deviations; after a spike alert the rule stays quiet for `cooldown_s`."""

    k: float = 3.0
    min: int = 5
    cooldown_s: int = 6 * 3600


class SpikeArticle(NamedTuple):
    """A matching article of a spike's hour, with its story's distinct sources: the spike
    alert shows the hour's top stories."""

    article_id: int
    title: str
    url: str | None
    source: str
    published: datetime
    story_id: int                  # the article's own id while it has no story
    story_sources: int             # distinct sources of the story


class Count(NamedTuple):
    """One line of a count by something: a language, a source, a rule, an outbox status."""

    key: str
    n: int


@dataclass(frozen=True)
class Stats:
    """The counts of `monitor stats` and /stats."""

    articles: int
    matches: int
    by_language: list[Count]
    by_source: list[Count]
    matches_by_rule: list[Count]
    outbox: list[Count]            # rows by OutboxStatus


@dataclass(frozen=True)
class Operations:
    """What the minutely admin checks watch."""

    pending: int                   # outbox rows waiting
    oldest_pending: datetime | None
    failing_feeds: list[Feed]


@dataclass(frozen=True)
class Activity:
    """For /stats: the last digest recorded, and today's matches by rule."""

    last_digest: datetime | None
    matches_today: list[Count]


@dataclass(frozen=True)
class Retention:
    """What one retention pass deleted."""

    articles: int
    stories: int
    outbox: int
    keys: int                      # remembered article keys forgotten
    alert_keys: int                # alert claims forgotten
