"""The store on real SQLite files: schema history, deduplication, FTS, feed state."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from sqlite_utils import Database

from monitor.models import Article, Feed
from monitor.store import Store, migrations

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
    db = Database(sqlite3.connect(path))
    assert db.journal_mode == "wal"
    applied = [r["name"] for r in db["_sqlite_migrations"].rows]
    assert applied == [m.name for m in migrations._migrations]
    assert {"feeds", "articles", "articles_fts", "matches", "stories", "subscribers",
            "subscriptions", "outbox", "digests"} <= set(db.table_names())


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


def test_fts_index_follows_inserts(db):
    db.add_articles([article(1, title="Putin empfängt Kim"), article(2)])
    assert [a.title for a in db.search_text("Kim")] == ["Putin empfängt Kim"]
    assert db.search_text('"unbalanced') == []  # user input is quoted, never a syntax error


def test_articles_are_unmatched_until_their_matches_are_saved(db):
    db.add_articles([article(1), article(2)])
    assert [a.id for a in db.unmatched_articles()] == [1, 2]
    db.save_matches([1], [{"article_id": 1, "rule_id": "r", "rule_version": "v1",
                           "matched": {"words": ["Kim"]}}])
    assert [a.id for a in db.unmatched_articles()] == [2]
    assert db.matches_for_article(1)[0]["matched"] == {"words": ["Kim"]}


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
    db.upsert_feed(Feed(name="a", url="https://a.example/feed2", interval_s=60))
    kept = db.feed_by_name("a")
    assert (kept.url, kept.interval_s, kept.error_count) == ("https://a.example/feed2", 60, 2)


def test_fts_stays_in_sync_through_bookkeeping_edits_and_retention(db):
    db.add_articles([article(1, title="Putin empfängt Kim"), article(2, title="Wetter")])
    db.save_matches([1, 2], [])
    db.save_story_assignments([(1, 1, b"", NOW, "example")])
    assert [a.id for a in db.search_text("Kim")] == [1]
    db.db.execute("UPDATE articles SET title = 'Kim besucht Moskau' WHERE id = 2")
    assert sorted(a.id for a in db.search_text("Kim")) == [1, 2]
    deleted = db.apply_retention(NOW + timedelta(minutes=1, seconds=30), NOW)
    assert deleted["articles"] == 1
    assert [a.id for a in db.search_text("Kim")] == [2]
    assert db.db.execute("SELECT count(*) FROM matches").fetchone()[0] == 0


def test_an_old_database_upgrades_in_place(tmp_path):
    """A database made by the first schema version gains every later migration, data kept."""
    path = tmp_path / "old.db"
    old = Database(sqlite3.connect(path))
    migrations.apply(old, stop_before="m0002_outbox_buttons")
    old.execute("INSERT INTO articles (source, title, text, language, published, fetched, "
                "content_hash) VALUES ('s', 'Alt', 'Text', 'de', '2020-01-01', '2020-01-01', 'h')")
    old.conn.close()
    with Store(path) as store:
        assert [a.title for a in store.iter_articles()] == ["Alt"]
        assert store.unalerted_matches() == []
        store.enqueue(1, "alert", "x", buttons=[("a", "b")])
        assert store.due_messages(NOW + timedelta(days=3650))[0].buttons == (("a", "b"),)
