"""The schema as a history: each change is a migration function, applied once, in order.

An old database file upgrades in place when a writer opens it (connection.py); a reader
refuses one with migrations pending. A migration is never edited once released: a new
schema change is a new function at the end, and the docstring says why it was made.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("monitor")

# The longest feed interval when m0008 clamped the stored ones (feeds.MAX_INTERVAL_S then).
_M0008_MAX_INTERVAL_S = 30 * 86400


@migrations()
def m0001_initial(db: Database) -> None:
    """Feeds with fetch state, articles with FTS5, and the tables the later stages fill."""
    db.execute(
        """
        CREATE TABLE feeds (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            url TEXT NOT NULL UNIQUE,
            interval_s INTEGER NOT NULL DEFAULT 600,
            language TEXT,
            full_text INTEGER NOT NULL DEFAULT 0,
            etag TEXT,
            last_modified TEXT,
            last_status INTEGER,
            last_error TEXT,
            error_count INTEGER NOT NULL DEFAULT 0,
            failing_since TEXT,
            last_fetched TEXT,
            last_ok TEXT,
            next_due TEXT,
            created TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE articles (
            id INTEGER PRIMARY KEY,
            feed_id INTEGER REFERENCES feeds(id) ON DELETE SET NULL,
            source TEXT NOT NULL,
            guid TEXT,
            url TEXT,
            title TEXT NOT NULL,
            text TEXT NOT NULL,
            language TEXT NOT NULL,
            published TEXT NOT NULL,
            fetched TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            full_text_status TEXT,
            story_id INTEGER,
            matched_at TEXT
        )"""
    )
    # One row per article however it arrives: by GUID, by canonical URL, or by its text.
    db.execute("CREATE UNIQUE INDEX articles_guid ON articles(guid) WHERE guid IS NOT NULL")
    db.execute("CREATE UNIQUE INDEX articles_url ON articles(url) WHERE url IS NOT NULL")
    db.execute("CREATE UNIQUE INDEX articles_content_hash ON articles(content_hash)")
    db.execute("CREATE INDEX articles_published ON articles(published)")
    db.execute("CREATE INDEX articles_unmatched ON articles(id) WHERE matched_at IS NULL")
    db.table("articles").enable_fts(["title", "text"], fts_version="FTS5", create_triggers=True)

    db.execute(
        """
        CREATE TABLE matches (
            article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            rule_id TEXT NOT NULL,
            rule_version TEXT NOT NULL,
            matched TEXT NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (article_id, rule_id)
        )"""
    )
    db.execute("CREATE INDEX matches_rule ON matches(rule_id, created)")
    db.execute(
        """
        CREATE TABLE stories (
            id INTEGER PRIMARY KEY,
            first_article_id INTEGER NOT NULL,
            size INTEGER NOT NULL DEFAULT 1,
            sources TEXT NOT NULL DEFAULT '[]',
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE subscribers (
            chat_id INTEGER PRIMARY KEY,
            chat_type TEXT NOT NULL,
            title TEXT,
            language TEXT,
            active INTEGER NOT NULL DEFAULT 1,
            digest_time TEXT,
            digest_tz TEXT,
            last_digest_at TEXT,
            created TEXT NOT NULL
        )"""
    )
    db.execute(
        """
        CREATE TABLE subscriptions (
            chat_id INTEGER NOT NULL REFERENCES subscribers(chat_id) ON DELETE CASCADE,
            rule_id TEXT NOT NULL,
            mode TEXT NOT NULL DEFAULT 'instant',
            muted_until TEXT,
            created TEXT NOT NULL,
            PRIMARY KEY (chat_id, rule_id)
        )"""
    )
    db.execute(
        """
        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL,
            kind TEXT NOT NULL,
            rule_id TEXT,
            story_id INTEGER,
            article_id INTEGER,
            text TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            message_id INTEGER,
            created TEXT NOT NULL,
            sent_at TEXT
        )"""
    )
    db.execute(
        "CREATE UNIQUE INDEX outbox_one_alert ON outbox(chat_id, rule_id, story_id) "
        "WHERE kind = 'alert'"
    )
    db.execute("CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE status = 'pending'")
    db.execute(
        """
        CREATE TABLE digests (
            chat_id INTEGER NOT NULL,
            period_end TEXT NOT NULL,
            period_start TEXT,
            created TEXT NOT NULL,
            PRIMARY KEY (chat_id, period_end)
        )"""
    )


@migrations()
def m0002_outbox_buttons(db: Database) -> None:
    """Inline buttons travel with the outbox row, so a resend shows the same message."""
    db.execute("ALTER TABLE outbox ADD COLUMN buttons TEXT NOT NULL DEFAULT '[]'")


@migrations()
def m0003_watches(db: Database) -> None:
    """Personal rules typed in the chat with /watch."""
    db.execute(
        """
        CREATE TABLE watches (
            id INTEGER PRIMARY KEY,
            chat_id INTEGER NOT NULL REFERENCES subscribers(chat_id) ON DELETE CASCADE,
            query TEXT NOT NULL,
            created TEXT NOT NULL
        )"""
    )


@migrations()
def m0004_story_fingerprints_and_alert_planning(db: Database) -> None:
    """Story grouping survives restarts; a match is turned into alerts exactly once."""
    db.execute(
        """
        CREATE TABLE story_fingerprints (
            article_id INTEGER PRIMARY KEY REFERENCES articles(id) ON DELETE CASCADE,
            story_id INTEGER NOT NULL,
            fingerprint BLOB NOT NULL,
            published TEXT NOT NULL,
            source TEXT NOT NULL
        )"""
    )
    db.execute("CREATE INDEX story_fingerprints_published ON story_fingerprints(published)")
    db.execute("CREATE INDEX articles_ungrouped ON articles(id) WHERE story_id IS NULL")
    db.execute("ALTER TABLE matches ADD COLUMN alerted INTEGER NOT NULL DEFAULT 0")
    db.execute("CREATE INDEX matches_unalerted ON matches(article_id) WHERE alerted = 0")


@migrations()
def m0005_notices(db: Database) -> None:
    """Operator notices already sent, so each is sent once (per failing streak, per error)."""
    db.execute("CREATE TABLE notices (key TEXT PRIMARY KEY, created TEXT NOT NULL)")


@migrations()
def m0006_cheaper_fts_sync(db: Database) -> None:
    """Keep the FTS index in sync at a fraction of the cost.

    sqlite-utils' triggers re-indexed an article on every UPDATE, including the bookkeeping
    ones (matched_at, story_id), and indexed inserts one row at a time. Now only a change
    of title or text re-indexes, and add_articles indexes each batch with one statement.
    """
    db.execute("DROP TRIGGER IF EXISTS articles_ai")
    db.execute("DROP TRIGGER IF EXISTS articles_au")
    db.execute(
        """
        CREATE TRIGGER articles_au AFTER UPDATE OF title, text ON articles BEGIN
          INSERT INTO articles_fts (articles_fts, rowid, title, text)
            VALUES ('delete', old.rowid, old.title, old.text);
          INSERT INTO articles_fts (rowid, title, text) VALUES (new.rowid, new.title, new.text);
        END"""
    )


@migrations()
def m0007_articles_by_story(db: Database) -> None:
    """Count and prune stories without scanning the archive.

    save_story_assignments recounts each story it touches and retention deletes stories
    that no article belongs to any more; both looked articles up by story_id, which had no
    index (a full scan per story: 1.6 s per 500-article batch, 58 s of retention on 20,000
    articles; with the index 0.02 s and 0.01 s).
    """
    db.execute("CREATE INDEX articles_story ON articles(story_id) WHERE story_id IS NOT NULL")


@migrations()
def m0008_keys_outlive_articles(db: Database) -> None:
    """What the archive has seen and alerted outlives the articles themselves.

    `seen_keys` holds a short digest of every GUID, canonical URL and text hash of an article
    that retention deleted, so that a seed or feed repeating it never brings it back as new.
    `alerted` holds one row per (chat, rule, story) ever alerted, independent of the outbox
    rows that retention deletes.
    `counters` keeps the highest article id ever handed out: SQLite would give the next new
    article the id of a deleted newest one, and stories, matches and alert keys refer to ids.
    The console's stand-in chat 0 of earlier versions is removed with everything it queued,
    so that nothing meant for the console ever reaches Telegram.
    """
    db.execute("CREATE TABLE seen_keys (key BLOB PRIMARY KEY, last_seen TEXT NOT NULL) "
               "WITHOUT ROWID")
    db.execute("CREATE INDEX seen_keys_last_seen ON seen_keys(last_seen)")
    db.execute(
        """
        CREATE TABLE alerted (
            chat_id INTEGER NOT NULL,
            rule_id TEXT NOT NULL,
            story_id INTEGER NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (chat_id, rule_id, story_id)
        ) WITHOUT ROWID""")
    db.execute("CREATE INDEX alerted_created ON alerted(created)")
    db.execute(
        "INSERT OR IGNORE INTO alerted SELECT chat_id, rule_id, story_id, min(created) "
        "FROM outbox WHERE kind = 'alert' AND chat_id != 0 AND rule_id IS NOT NULL "
        "AND story_id IS NOT NULL GROUP BY chat_id, rule_id, story_id")
    db.execute("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)")
    db.execute("INSERT INTO counters SELECT 'article_id', coalesce(max(id), 0) FROM articles")
    db.execute("DELETE FROM outbox WHERE chat_id = 0")
    db.execute("DELETE FROM watches WHERE chat_id = 0")
    db.execute("DELETE FROM subscriptions WHERE chat_id = 0")
    db.execute("DELETE FROM subscribers WHERE chat_id = 0")
    db.execute("UPDATE feeds SET interval_s = ? WHERE interval_s > ?",
               [_M0008_MAX_INTERVAL_S, _M0008_MAX_INTERVAL_S])
    db.execute("UPDATE feeds SET next_due = NULL WHERE next_due > '9000'")


@migrations()
def m0009_archive_index(db: Database) -> None:
    """Search through the analyser's terms, not SQLite's words.

    The FTS5 index of raw titles and texts could not answer the rule language (stems,
    folding, compounds) and was read by no command; every insert paid for it. Now
    `article_index` holds the terms the engine sees (matching/archive_index.py), written when an
    article is matched; `article_terms` keeps each article's terms, compressed, because a
    contentless FTS5 table can only forget an entry when it is told what it held. The index
    of an existing archive is built by the pipeline in the background (`index_version`).
    """
    for trigger in ("articles_ai", "articles_ad", "articles_au"):
        db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
    db.execute("DROP TABLE IF EXISTS articles_fts")
    db.execute("CREATE VIRTUAL TABLE article_index USING fts5(terms, content='', "
               "detail=none, tokenize='ascii')")
    db.execute("CREATE TABLE article_terms (article_id INTEGER PRIMARY KEY, terms BLOB NOT NULL)")
    db.execute("INSERT INTO counters VALUES ('index_version', 0)")


@migrations()
def m0010_unalerted_in_order(db: Database) -> None:
    """The alert planner reads unalerted matches by (article, rule), 500 at a time. The
    partial index had the article only, so every batch sorted all unalerted matches again:
    at 100k rules (393k matches of 1,571 articles) that was 24 s of a 74 s ingest. With the
    rule in the index, a batch is read in order, and what was planned has left the index."""
    db.execute("DROP INDEX IF EXISTS matches_unalerted")
    db.execute("CREATE INDEX matches_unalerted ON matches(article_id, rule_id) "
               "WHERE alerted = 0")


@migrations()
def m0011_subscriptions_by_rule(db: Database) -> None:
    """The alert planner asks for the instant subscribers of a batch's rules; the primary
    key begins with the chat, so every batch read all subscriptions (100k rules, 10k
    subscriptions: 3 s of alert planning)."""
    db.execute("CREATE INDEX IF NOT EXISTS subscriptions_rule ON subscriptions(rule_id)")


@migrations()
def m0012_alerts_rendered_when_sent(db: Database) -> None:
    """An alert is queued as a reference (chat, rule, story, article, the rule's name) and its
    text is made just before its first send: at 10k rules an ingest queues tens of thousands
    of alerts that Telegram takes at 30 a second, and rendering them all up front held up the
    matching of new articles (half of an ingest's time). An alert row with an empty text is
    one that was not rendered yet."""
    db.execute("ALTER TABLE outbox ADD COLUMN rule_name TEXT")


@migrations()
def m0013_matches_without_hits(db: Database) -> None:
    """A match is the fact that an article matched a rule (of a version); where its terms
    matched is worked out when an alert shows it (Engine.highlight). At 100k rules an
    ingest made and stored 393k hit lists (half of the matching time), of which only the
    alerts that are sent use the words."""
    db.execute("ALTER TABLE matches DROP COLUMN matched")


@migrations()
def m0014_index_vocabulary(db: Database) -> None:
    """The words of the archive index, reversed, for `*fix` and `*mid*`: a suffix is a
    range of this table's key, where FTS5's own vocabulary (fts5vocab) is a pass over every
    term's postings (2.3 s for `*schaftlich` on 100k articles). Filled as the index is, so
    a new index version (archive_index.INDEX_FORMAT 3) has the pipeline build both again."""
    db.execute("CREATE TABLE index_words (reversed TEXT PRIMARY KEY) WITHOUT ROWID")


@migrations()
def m0015_matches_by_article(db: Database) -> None:
    """Matches kept in (article, rule) order whatever order they arrive in (WITHOUT ROWID):
    a batch's matches are written in rule order, which the index by rule takes at a third
    less cost, and the alert planner still reads them by article. A one-time copy of the
    table (about a second per million matches)."""
    db.execute("""
        CREATE TABLE matches_by_article (
            article_id INTEGER NOT NULL REFERENCES articles(id) ON DELETE CASCADE,
            rule_id TEXT NOT NULL,
            rule_version TEXT NOT NULL,
            created TEXT NOT NULL,
            alerted INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (article_id, rule_id)
        ) WITHOUT ROWID""")
    db.execute("INSERT INTO matches_by_article (article_id, rule_id, rule_version, created, "
               "alerted) SELECT article_id, rule_id, rule_version, created, alerted FROM matches")
    db.execute("DROP TABLE matches")
    db.execute("ALTER TABLE matches_by_article RENAME TO matches")
    db.execute("CREATE INDEX matches_rule ON matches(rule_id, created)")
    db.execute("CREATE INDEX matches_unalerted ON matches(article_id, rule_id) "
               "WHERE alerted = 0")


@migrations()
def m0016_watch_numbers_per_chat(db: Database) -> None:
    """A chat's personal rules are numbered 1, 2, ... in that chat (a user's first /watch was
    "2" when another chat had one). The global id stays the rule's id (`watch-ID`), which
    matches and alerts refer to; existing watches are numbered in the order they were
    made."""
    db.execute("ALTER TABLE watches ADD COLUMN number INTEGER")
    db.execute("UPDATE watches SET number = (SELECT count(*) FROM watches w "
               "WHERE w.chat_id = watches.chat_id AND w.id <= watches.id)")
    db.execute("CREATE UNIQUE INDEX watches_by_chat ON watches(chat_id, number)")


@migrations()
def m0017_feed_silence(db: Database) -> None:
    """A feed that still answers but brings nothing new (or no feed at all) is silent: each
    feed keeps when a poll last brought new articles and the gaps between such polls (a JSON
    list of seconds, the last few), from which its usual rhythm is learnt, since when it is
    judged silent, whether its last answer was a body that is not a feed, and when the last
    silence that ended had begun."""
    db.execute("ALTER TABLE feeds ADD COLUMN last_new TEXT")
    db.execute("ALTER TABLE feeds ADD COLUMN new_gaps_s TEXT NOT NULL DEFAULT '[]'")
    db.execute("ALTER TABLE feeds ADD COLUMN silent_since TEXT")
    db.execute("ALTER TABLE feeds ADD COLUMN not_a_feed INTEGER NOT NULL DEFAULT 0")
    # The start of the last silence that ended, kept with the feed's state: its "back"
    # notice is told from it by the admins' checks, so no crash or `run --once` loses it.
    db.execute("ALTER TABLE feeds ADD COLUMN silence_ended TEXT")


@migrations()
def m0018_spike_alerts(db: Database) -> None:
    """Spike alerts (spikes.py): a subscription may also hear when its rule's matches spike
    (`/spike RULE on`), and each spike alert sent is a row in `spikes`, written in one
    transaction with its outbox rows, so that a restart neither loses nor repeats one and
    the cool-down is read back from it."""
    db.execute("ALTER TABLE subscriptions ADD COLUMN spike INTEGER NOT NULL DEFAULT 0")
    db.execute("CREATE INDEX subscriptions_spike ON subscriptions(rule_id) WHERE spike = 1")
    db.execute(
        """
        CREATE TABLE spikes (
            rule_id TEXT NOT NULL,
            window_end TEXT NOT NULL,
            count INTEGER NOT NULL,
            usual REAL NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (rule_id, window_end)
        ) WITHOUT ROWID""")


@migrations()
def m0019_alerts_follow_their_story(db: Database) -> None:
    """Alerts that follow their story, and quiet hours (issue #17).

    `update` rows edit a sent alert ("+3 sources"), at most one not yet rendered per (chat,
    rule, story): a later article joins the waiting edit, which renders the story as it is
    when sent; once it is rendered (and maybe retrying), a later article queues the next.
    `follow_up` rows are new messages that answer an alert (the story grew past the chat's
    `/follow` threshold, or got a new headline), each claimed once in `follow_ups`.
    `target_message_id` is the Telegram message an edit or answer refers to, kept with the
    rendered text so that a retry after a crash does the same. `held` marks alerts kept back
    by a chat's quiet hours, which are folded into one message per rule when many.
    """
    db.execute("ALTER TABLE outbox ADD COLUMN target_message_id INTEGER")
    db.execute("ALTER TABLE outbox ADD COLUMN held INTEGER NOT NULL DEFAULT 0")
    db.execute("CREATE UNIQUE INDEX outbox_one_update ON outbox(chat_id, rule_id, story_id) "
               "WHERE kind = 'update' AND status = 'pending' AND text = ''")
    # Partial, so that the tens of thousands of alert rows of an ingest at 10k rules are not
    # indexed again (an alert is found through outbox_one_alert).
    db.execute("CREATE INDEX outbox_updates ON outbox(chat_id, rule_id, story_id) "
               "WHERE kind = 'update'")
    db.execute("CREATE INDEX outbox_follow_ups ON outbox(chat_id, rule_id, story_id) "
               "WHERE kind = 'follow_up'")
    db.execute(
        """
        CREATE TABLE follow_ups (
            chat_id INTEGER NOT NULL,
            rule_id TEXT NOT NULL,
            story_id INTEGER NOT NULL,
            reason TEXT NOT NULL,
            created TEXT NOT NULL,
            PRIMARY KEY (chat_id, rule_id, story_id, reason)
        ) WITHOUT ROWID""")
    db.execute("ALTER TABLE subscriptions ADD COLUMN follow_sources INTEGER")
    db.execute("ALTER TABLE subscribers ADD COLUMN quiet_start TEXT")
    db.execute("ALTER TABLE subscribers ADD COLUMN quiet_end TEXT")
