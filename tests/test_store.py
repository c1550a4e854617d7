"""The store on real SQLite files: schema history, deduplication, FTS, feed state."""

from __future__ import annotations

import os
import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.models import Article, Feed, NewMatch, PlannedAlert, StoredMatch, StoryAssignment
from monitor.store import (
    MAX_INTERVAL_S,
    FeedConflict,
    FeedExists,
    InstanceLocked,
    Store,
    StoreError,
    instance_lock,
    migrations,
)
from tests import rawdb
from tests.queueing import queue_alerts

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)


def article(n: int, **changes) -> Article:
    base = Article(
        title=f"Titel {n}", text=f"Text des Artikels Nummer {n}.", url=f"https://example.org/{n}",
        guid=f"https://example.org/guid/{n}", source="example", language="de",
        published=NOW + timedelta(minutes=n), fetched=NOW, content_hash=f"hash-{n}",
    )
    return replace(base, **changes)


def test_wal_and_every_migration_applied_once(tmp_path):
    path = tmp_path / "m.db"
    Store(path).close()
    with Store(path):  # reopening applies nothing again
        pass
    # the file itself: its journal mode, the migrations recorded in it, its tables
    assert rawdb.value(path, "PRAGMA journal_mode") == "wal"
    applied = [r["name"] for r in rawdb.query(path, "SELECT name FROM _sqlite_migrations")]
    assert applied == [m.name for m in migrations._migrations]
    tables = {r["name"] for r in rawdb.query(path, "SELECT name FROM sqlite_master")}
    assert {"feeds", "articles", "article_index", "article_terms", "matches", "stories",
            "subscribers", "subscriptions", "outbox", "digests"} <= tables


def test_data_survives_reopening(tmp_path):
    path = tmp_path / "m.db"
    with Store(path) as store:
        store.add_articles([article(1)])
    with Store(path) as store:
        assert [a.title for a in store.iter_articles()] == ["Titel 1"]


def test_same_article_by_guid_url_or_text_is_stored_once(db):
    first = db.add_articles([article(1)])
    assert [a.id for a in first] == [1]
    again = [
        article(1),                                                  # identical
        article(1, url="https://example.org/other", content_hash="x"),  # same GUID
        article(1, guid="tag:changed", content_hash="y"),            # same canonical URL
        article(1, guid=None, url=None),                             # same text
    ]
    assert db.add_articles(again) == []
    assert db.count_articles() == 1
    assert [a.id for a in db.add_articles([article(2), article(2)])] == [2]


def test_the_archive_index_takes_its_terms_with_the_matches_and_finds_by_them(db):
    db.add_articles([article(1, title="Putin empfängt Kim"), article(2), article(3)])
    assert db.reset_index(7) and db.index_is_current(7) and not db.reset_index(7)
    db.save_matches([1, 2], [], NOW, [(1, "putin kim"), (2, "wetter")])
    # 3 is not matched yet, so not indexed: every search gets it as a candidate
    assert db.archive_candidates('"kim"') == [3, 1]
    assert db.archive_candidates('"kim" AND "wetter"') == [3]
    assert db.archive_candidates(None) == [3, 2, 1]
    assert db.archive_candidates("(((") is None        # FTS5 refuses it: the caller scans
    assert [a.id for a in db.unindexed_articles()] == []
    assert db.reset_index(8) and [a.id for a in db.unindexed_articles()] == [2, 1]


def test_articles_are_unmatched_until_their_matches_are_saved(db):
    db.add_articles([article(1), article(2)])
    assert [a.id for a in db.unmatched_articles()] == [1, 2]
    db.save_matches([1], [NewMatch(1, "r", "v1")])
    assert [a.id for a in db.unmatched_articles()] == [2]
    [match] = db.matches_for_article(1)
    assert (match.rule_id, match.rule_version, match.alerted) == ("r", "v1", False)
    assert db.matched_rules(1) == ["r"]


def test_only_the_matches_of_followed_rules_wait_for_the_alert_planner(db):
    db.add_articles([article(1), article(2)])
    db.upsert_subscriber(7, "private", "A", "de")
    db.subscribe(7, "followed", "digest")
    db.subscribe(7, "instant", "instant")
    assert db.instant_rules() == {"instant"}
    rows = [NewMatch(a, r, "v1") for a in (1, 2) for r in ("followed", "instant", "nobody")]
    db.save_matches([1, 2], rows, alert_rules=db.instant_rules())
    assert [(m.article_id, m.rule_id) for m in db.unalerted_matches()] == [
        (1, "instant"), (2, "instant")]
    assert db.matched_rules(1) == ["followed", "instant", "nobody"]   # all are matches
    db.save_matches([1], rows[:3])        # matched again: an upsert keeps each match's state
    assert len(db.unalerted_matches()) == 2


def test_feed_state_round_trip_and_due_feeds(db):
    feed = db.upsert_feed(Feed(name="a", url="https://a.example/feed", interval_s=300))
    assert [f.name for f in db.due_feeds(NOW)] == ["a"]
    failing = replace(feed, last_status=503, last_error="HTTP 503", error_count=2,
                      failing_since=NOW, last_fetched=NOW, next_due=NOW + timedelta(minutes=20))
    db.save_feed_state(failing)
    assert db.feed_by_name("a") == failing
    assert db.due_feeds(NOW) == []
    assert [f.name for f in db.due_feeds(NOW + timedelta(minutes=20))] == ["a"]
    # changing settings keeps the fetch state
    db.upsert_feed(Feed(name="a", url="https://a.example/feed", interval_s=60))
    kept = db.feed_by_name("a")
    assert (kept.url, kept.interval_s, kept.error_count) == ("https://a.example/feed", 60, 2)


def test_a_feeds_silence_round_trips_and_survives_a_settings_change(db):
    feed = db.upsert_feed(Feed(name="a", url="https://a.example/feed"))
    assert (feed.last_new, feed.new_gaps_s, feed.silent_since, feed.not_a_feed) == (
        None, (), None, False)
    silent = replace(feed, last_fetched=NOW, last_new=NOW - timedelta(days=3),
                     new_gaps_s=(3600, 7200, 3600), silent_since=NOW - timedelta(days=3),
                     not_a_feed=True, error_count=4, failing_since=NOW - timedelta(hours=20))
    db.save_feed_state(silent)
    assert db.feed_by_name("a") == silent
    db.upsert_feed(Feed(name="a", url="https://a.example/feed", interval_s=60))
    assert db.feed_by_name("a") == replace(silent, interval_s=60)


def test_feeds_from_before_m0017_upgrade_with_nothing_learnt_yet(tmp_path):
    path = tmp_path / "old.db"
    old = rawdb.old_database(path, stop_before="m0017_feed_silence")
    old.execute("INSERT INTO feeds (name, url, interval_s, error_count, created) "
                "VALUES ('a', 'https://a.example/feed', 600, 2, '2020-01-01')")
    old.conn.commit()
    old.conn.close()
    with Store(path) as store:
        feed = store.feed_by_name("a")
    assert feed is not None and feed.error_count == 2
    assert (feed.last_new, feed.new_gaps_s, feed.silent_since, feed.not_a_feed) == (
        None, (), None, False)


def test_feeds_are_keyed_by_url_and_named_by_the_config(db):
    """A new name for a known URL renames the feed: one row, its fetch state and its
    articles' source follow. A name held by another URL is refused, never a crash."""
    feed = db.upsert_feed(Feed(name="old", url="https://a.example/feed"))
    db.save_feed_state(replace(feed, error_count=3, last_fetched=NOW))
    db.add_articles([replace(article(1), feed_id=feed.id, source="old")])
    renamed = db.upsert_feed(Feed(name="new", url="https://a.example/feed"))
    assert (renamed.id, renamed.error_count) == (feed.id, 3)
    assert [f.name for f in db.feeds()] == ["new"]
    assert db.article(1).source == "new"
    db.upsert_feed(Feed(name="other", url="https://b.example/feed"))
    with pytest.raises(FeedConflict, match="'new' is taken by https://a.example/feed"):
        db.upsert_feed(Feed(name="new", url="https://b.example/feed"))
    with pytest.raises(FeedExists, match="already a feed, named 'new'"):
        db.add_feed(Feed(name="third", url="https://a.example/feed"))
    assert db.remove_feed("other").url == "https://b.example/feed"
    assert db.remove_feed("other") is None
    assert [f.name for f in db.feeds()] == ["new"]


def test_an_absurd_stored_interval_is_read_back_within_bounds(db):
    db.upsert_feed(Feed(name="a", url="https://a.example/feed"))
    # as an older version let it in (upsert_feed clamps it)
    rawdb.execute(db, "UPDATE feeds SET interval_s = 8639999999999913600")
    assert db.feed_by_name("a").interval_s == MAX_INTERVAL_S


def test_the_archive_index_forgets_deleted_articles_and_renamed_sources(db):
    feed = db.upsert_feed(Feed(name="alt", url="https://a.example/feed"))
    db.add_articles([article(1, title="Putin empfängt Kim", feed_id=feed.id, source="alt"),
                     article(2, title="Wetter")])
    db.save_matches([1, 2], [], NOW, [(1, "kim source:alt"), (2, "kim")])
    db.save_story_assignments([StoryAssignment(1, 1, b"", NOW, "example")])
    assert db.archive_candidates('"kim"') == [2, 1]
    db.upsert_feed(Feed(name="neu", url="https://a.example/feed"))
    # article 1's entry named the old source: gone, to be indexed again; found meanwhile
    assert [a.id for a in db.unindexed_articles()] == [1]
    assert db.archive_candidates('"nothing"') == [1]
    db.index_articles([(1, "kim source:neu")])
    deleted = db.apply_retention(NOW + timedelta(minutes=1, seconds=30), NOW)
    assert deleted.articles == 1
    assert db.archive_candidates('"kim"') == [2]
    # The contentless index holds no trace of article 1: only its own check can tell.
    assert rawdb.value(db, "SELECT count(*) FROM article_terms") == 1
    rawdb.execute(db, "INSERT INTO article_index (article_index) VALUES ('integrity-check')")
    assert db.stats().matches == 0


def test_an_old_database_upgrades_in_place(tmp_path):
    """A database made by the first schema version gains every later migration, data kept."""
    path = tmp_path / "old.db"
    old = rawdb.old_database(path, stop_before="m0002_outbox_buttons")
    old.execute("INSERT INTO articles (source, title, text, language, published, fetched, "
                "content_hash) VALUES ('s', 'Alt', 'Text', 'de', '2020-01-01', '2020-01-01', 'h')")
    old.conn.close()
    with Store(path) as store:
        assert [a.title for a in store.iter_articles()] == ["Alt"]
        assert store.unalerted_matches() == []
        queue_alerts(store, [1])
        [alert] = store.due_messages(NOW + timedelta(days=3650))
        store.save_alert_text(alert.id, "x", [("a", "b")])
        assert store.due_messages(NOW + timedelta(days=3650))[0].buttons == (("a", "b"),)


def test_personal_rules_are_numbered_per_chat_also_those_made_before(tmp_path):
    """m0016 numbers the watches of each chat 1, 2, ... in the order they were made, keeping
    their ids (the rules' ids); new ones continue each chat's numbers."""
    path = tmp_path / "old.db"
    old = rawdb.old_database(path, stop_before="m0016_watch_numbers_per_chat")
    for chat in (7, 8):
        old.execute("INSERT INTO subscribers (chat_id, chat_type, title, active, created) "
                    "VALUES (?, 'private', 'x', 1, '2020-01-01')", [chat])
    old.conn.executemany("INSERT INTO watches (id, chat_id, query, created) VALUES "
                         "(?, ?, ?, '2020-01-01')", [(1, 7, "A"), (2, 8, "B"), (3, 7, "C")])
    old.conn.commit()
    old.conn.close()
    with Store(path) as store:
        assert [(w.number, w.id, w.query) for w in store.watches(7)] == [(1, 1, "A"), (2, 3, "C")]
        assert [(w.number, w.id) for w in store.watches(8)] == [(1, 2)]
        assert store.add_watch(8, "D") == 2
        store.upsert_subscriber(9, "private", "Neu", "de")
        assert store.add_watch(9, "E") == 1            # a chat's first is 1, whatever others have
        assert store.remove_watch(7, 1) and not store.remove_watch(8, 3)
        assert [w.query for w in store.watches(7)] == ["C"]
        assert [w.rule_id for w in store.watches(8)] == ["watch-2", "watch-4"]


def test_matches_move_into_article_order_with_their_state(tmp_path):
    """m0015 rebuilds the matches as a table in (article, rule) order: every match keeps its
    version, time and alerted mark, the planner still finds the unalerted ones, and deleting
    an article still deletes its matches."""
    path = tmp_path / "old.db"
    old = rawdb.old_database(path, stop_before="m0015_matches_by_article")
    for number in (1, 2):
        old.execute("INSERT INTO articles (id, source, title, text, language, published, "
                    "fetched, content_hash) VALUES (?, 's', 't', 'x', 'de', '2020-01-01', "
                    "'2020-01-01', ?)", [number, f"h{number}"])
    old.conn.executemany(
        "INSERT INTO matches (article_id, rule_id, rule_version, created, alerted) "
        "VALUES (?, ?, 'v1', '2020-01-01T00:00:00+00:00', ?)",
        [(2, "b", 0), (1, "b", 1), (1, "a", 0)])
    old.conn.commit()
    old.conn.close()
    with Store(path) as store:
        assert "WITHOUT ROWID" in rawdb.value(
            path, "SELECT sql FROM sqlite_master WHERE name = 'matches'")
        assert store.matches_for_article(1) == [
            StoredMatch(1, "a", "v1", datetime(2020, 1, 1, tzinfo=UTC), False),
            StoredMatch(1, "b", "v1", datetime(2020, 1, 1, tzinfo=UTC), True)]
        assert [(m.article_id, m.rule_id) for m in store.unalerted_matches()] == [
            (1, "a"), (2, "b")]
        rawdb.execute(path, "DELETE FROM articles WHERE id = 2")   # the foreign key's work
        assert store.matches_for_article(2) == []


def test_what_retention_deleted_never_comes_back_as_new(db):
    """Its GUID, URL and text hash are remembered: the same item again, or a copy of it
    under another URL or GUID, is skipped."""
    db.add_articles([article(1), article(2)])
    assert db.apply_retention(NOW + timedelta(minutes=1, seconds=30), NOW,
                              NOW - timedelta(days=3650), NOW).articles == 1
    assert db.add_articles([article(1)]) == []
    assert db.add_articles([article(1, url="https://other.example/1", guid=None)]) == []
    assert db.add_articles([article(1, content_hash="new", guid=None)]) == []
    assert [a.title for a in db.add_articles([article(3)])] == ["Titel 3"]


def test_remembered_keys_are_forgotten_only_when_nothing_repeats_them(db):
    db.add_articles([article(1)])
    db.apply_retention(NOW + timedelta(days=1), NOW, NOW - timedelta(days=3650), NOW)
    later = NOW + timedelta(days=100)
    assert db.add_articles([article(1)], later) == []       # seen again: its keys renewed
    forgotten = db.apply_retention(NOW, NOW, later - timedelta(days=10), later)
    assert forgotten.keys == 0
    forgotten = db.apply_retention(NOW, NOW, later + timedelta(days=1), later)
    assert forgotten.keys == 3                               # GUID, URL, text hash
    assert len(db.add_articles([article(1)], later)) == 1


def test_an_item_older_than_the_window_ages_out_by_its_arrival(db):
    """An archive of old seed documents is kept for the window after it arrived, then goes
    (and is remembered) like everything else: no delete-and-reingest churn on every start."""
    old = article(1, published=NOW - timedelta(days=900), fetched=NOW)
    db.add_articles([old])
    assert db.apply_retention(NOW - timedelta(days=365), NOW).articles == 0
    assert db.count_articles() == 1
    later = NOW + timedelta(days=366)
    assert db.apply_retention(later - timedelta(days=365), later, now=later).articles == 1
    assert db.add_articles([old], later) == []


def test_article_ids_are_never_reused_after_retention(db):
    """Stories, matches and alert keys refer to article ids: the newest article's id, once
    deleted, must not be handed to the next new article."""
    db.add_articles([article(1), article(2, published=NOW - timedelta(days=400))])
    db.apply_retention(NOW - timedelta(days=1), NOW)
    [new] = db.add_articles([article(3)])
    assert new.id == 3
    with Store(db.path) as reopened:
        db.apply_retention(NOW + timedelta(days=1), NOW)
        assert [a.id for a in reopened.add_articles([article(4)])] == [4]


def test_a_chat_story_and_rule_is_alerted_once_even_after_the_outbox_row_is_gone(db):
    message = PlannedAlert(chat_id=5, rule_id="r", story_id=1, article_id=1, rule_name="x")
    assert db.plan_alerts([], [message], NOW) == 1
    [queued] = db.due_messages(NOW)
    db.mark_sent(queued.id, 1, NOW)
    db.apply_retention(NOW, NOW + timedelta(days=1), NOW - timedelta(days=3650), NOW)
    assert db.stats().outbox == []
    assert db.plan_alerts([], [message], NOW) == 0


def test_a_batch_queues_one_alert_per_chat_rule_and_story(db):
    def message(chat, rule, story):
        return PlannedAlert(chat, rule, story, story, f"{chat} {rule} {story}")

    assert db.plan_alerts([], [message(5, "r", 1), message(5, "r", 1), message(6, "r", 1)],
                          NOW) == 2
    assert db.plan_alerts([], [message(5, "r", 1), message(5, "q", 1), message(5, "r", 2)],
                          NOW) == 2
    assert [(m.rule_name, m.text) for m in db.due_messages(NOW)] == [
        ("5 r 1", ""), ("6 r 1", ""), ("5 q 1", ""), ("5 r 2", "")]   # rendered when sent


def test_the_console_chat_of_earlier_versions_is_removed_by_the_upgrade(tmp_path):
    path = tmp_path / "old.db"
    old = rawdb.old_database(path, stop_before="m0008_keys_outlive_articles")
    old.execute("INSERT INTO subscribers (chat_id, chat_type, title, created) "
                "VALUES (0, 'console', 'console', '2026-01-01'), (7, 'private', 'x', '2026-01-01')")
    old.execute("INSERT INTO subscriptions (chat_id, rule_id, created) VALUES (0, 'r', '2026'), "
                "(7, 'r', '2026')")
    for chat in (0, 7):
        old.execute("INSERT INTO outbox (chat_id, kind, rule_id, story_id, text, "
                    "next_attempt_at, created) VALUES (?, 'alert', 'r', 1, 't', '2026', '2026')",
                    [chat])
    old.conn.commit()
    old.conn.close()
    with Store(path) as store:
        assert [m.chat_id for m in store.due_messages(NOW)] == [7]
        assert store.subscriber(0) is None and store.subscriptions(0) == []
        assert store.plan_alerts([], [PlannedAlert(7, "r", 1, None, "again")], NOW) == 0


def test_one_instance_per_database(tmp_path):
    path = tmp_path / "m.db"
    with instance_lock(path):
        with pytest.raises(InstanceLocked, match=rf"another monitor is running on .*m\.db "
                                                 rf"\(pid {os.getpid()}\)"):
            with instance_lock(path):
                pass
    with instance_lock(path):   # released when the block ends
        pass


def test_an_unusable_database_file_is_one_clear_line(tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is no database at all " * 200)
    with pytest.raises(StoreError, match="not a SQLite database"):
        Store(garbage)
    with pytest.raises(StoreError, match="not a SQLite database"):
        Store(garbage, readonly=True)
    with pytest.raises(StoreError, match="no database here yet"):
        Store(tmp_path / "missing.db", readonly=True)
    assert not (tmp_path / "missing.db").exists()        # a read-only command creates nothing


def test_read_only_opening_reads_and_never_writes(tmp_path):
    path = tmp_path / "m.db"
    with Store(path) as store:
        store.add_articles([article(1)])
    with Store(path, readonly=True) as store:
        assert store.count_articles() == 1
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store.add_articles([article(2)])


def test_a_database_of_an_older_version_is_not_upgraded_by_a_reader(tmp_path):
    path = tmp_path / "old.db"
    rawdb.old_database(path, stop_before="m0008_keys_outlive_articles").conn.close()
    with pytest.raises(StoreError, match="made by an older version"):
        Store(path, readonly=True)
    Store(path).close()
    Store(path, readonly=True).close()
