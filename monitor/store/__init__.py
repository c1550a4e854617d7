"""The only package that speaks SQL.

SQLite through sqlite-utils 4, in WAL mode, with the schema kept as a history of
`Migrations` (migrations.py): each schema change is a new migration function, so an old
database file upgrades in place when it is opened. Times are stored as ISO 8601 strings in
UTC, which sort correctly as text, and are parsed back here: callers get `datetime`s.

Everything that must survive a crash is a row here before the next stage acts on it
(design.md): articles are committed before they are matched, and `matched_at` marks the
ones the matcher has finished, so an interrupted run picks up exactly the unmatched ones.

One connection owner (connection.py) and one module per entity, each a class with that
entity's SQL; `Store` combines them, so a caller holds one object:

    connection   Connection: open/upgrade, read-only, lock, transaction, backup; instance_lock
    feeds        FeedStore: settings and fetch state
    articles     ArticleStore: deduplicated storing, reading, remembered keys
    archive      ArchiveStore: the archive index (terms, postings, vocabulary)
    matches      MatchStore: stories, matches, alert planning
    subscribers  SubscriberStore: chats, subscriptions, /watch rules
    outbox       OutboxStore: queueing, due messages, send bookkeeping, notices
    digests      DigestStore: digest chats, a period's matches, recorded periods
    spikes       SpikeStore: a rule's matches over time, recorded spike alerts
    operations   OperationsStore: retention, admin checks, stats
"""

from __future__ import annotations

from monitor.store import articles, digests, matches, operations, spikes, subscribers
from monitor.store.connection import InstanceLocked, StoreError, instance_lock, utc_now
from monitor.store.feeds import MAX_INTERVAL_S, FeedConflict, FeedExists
from monitor.store.migrations import migrations

__all__ = [
    "MAX_INTERVAL_S",
    "FeedConflict",
    "FeedExists",
    "InstanceLocked",
    "Store",
    "StoreError",
    "instance_lock",
    "migrations",
    "utc_now",
]


class Store(articles.ArticleStore, matches.MatchStore, subscribers.SubscriberStore,
            digests.DigestStore, spikes.SpikeStore, operations.OperationsStore):
    """One SQLite database and everything stored in it. Safe to share between threads:
    access is serialised by a lock (connection.py)."""
