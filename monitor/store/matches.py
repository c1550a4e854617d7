"""Stories, matches and alert planning: the stages between a stored article and an outbox row.

Stories: each article's story and MinHash fingerprint (`story_fingerprints`), the story's
size and sources recounted from its articles (`stories`). Matches: the fact that an article
matched a rule of a version (`matches`), with `alerted = 0` while the alert planner has not
seen it. Alert planning: one claim per (chat, rule, story) for the archive's lifetime
(`alerted`), and the alert's outbox row, in one transaction with the matches it plans.
Matches are saved with their articles' archive index entries (archive.py), in one
transaction too, hence `MatchStore(ArchiveStore)`.
"""

from __future__ import annotations

import json
from collections.abc import Container, Iterable
from datetime import datetime
from operator import itemgetter

from monitor.models import (
    AlertedStory,
    Article,
    MessageKind,
    NewMatch,
    PlannedAlert,
    PlannedFollowUp,
    StoredMatch,
    StoryAssignment,
    StorySource,
    UnalertedMatch,
)
from monitor.store.archive import ArchiveStore, set_index_complete
from monitor.store.articles import article_from_row
from monitor.store.connection import from_db_time, to_db_time, utc_now
from monitor.store.outbox import QUEUE, QUEUE_FOLLOW_UP, QUEUE_UPDATE, queued_row

# The "sources" follow-up (monitor/alerts.py, FOLLOW_SOURCES) claimed without a message, for
# a story that reaches a chat's /follow threshold before its first alert there.
_FOLLOWED_ALREADY = (
    "INSERT OR IGNORE INTO follow_ups (chat_id, rule_id, story_id, reason, created) "
    "SELECT ?1, ?2, ?3, 'sources', ?4 FROM subscriptions s JOIN stories t ON t.id = ?3 "
    "WHERE s.chat_id = ?1 AND s.rule_id = ?2 AND s.follow_sources IS NOT NULL "
    "AND json_array_length(t.sources) >= s.follow_sources AND NOT EXISTS (SELECT 1 FROM "
    "alerted WHERE chat_id = ?1 AND rule_id = ?2 AND story_id = ?3)")


class MatchStore(ArchiveStore):
    # --------------------------------------------------------------- stories

    def ungrouped_articles(self, limit: int = 1000) -> list[Article]:
        with self._lock:
            rows = self.db.query(
                "SELECT * FROM articles WHERE story_id IS NULL ORDER BY id LIMIT ?", [limit])
            return [article_from_row(r) for r in rows]

    def story_fingerprints_since(self, since: datetime) -> list[StoryAssignment]:
        """The articles' story assignments inside the grouping window, in article order."""
        with self._lock:
            rows = self.db.execute(
                "SELECT article_id, story_id, fingerprint, published, source "
                "FROM story_fingerprints WHERE published >= ? ORDER BY article_id",
                [to_db_time(since)]).fetchall()
        return [StoryAssignment(a, s, fp, from_db_time(p), src) for a, s, fp, p, src in rows]

    def save_story_assignments(self, assignments: list[StoryAssignment]) -> None:
        """Each article's story and fingerprint; the touched stories' size and sources are
        recounted from the articles, so they stay right however often this runs."""
        with self.transaction():
            conn = self.db.conn
            for article_id, story_id, fingerprint, published, source in assignments:
                conn.execute("UPDATE articles SET story_id = ? WHERE id = ?",
                             [story_id, article_id])
                conn.execute(
                    "INSERT OR REPLACE INTO story_fingerprints VALUES (?, ?, ?, ?, ?)",
                    [article_id, story_id, fingerprint, to_db_time(published), source])
            for story_id in sorted({a.story_id for a in assignments}):
                conn.execute(
                    """
                    INSERT INTO stories (id, first_article_id, size, sources, first_seen, last_seen)
                    SELECT ?, min(id), count(*), json_group_array(DISTINCT source),
                           min(published), max(published)
                    FROM articles WHERE story_id = ?
                    ON CONFLICT(id) DO UPDATE SET size = excluded.size,
                        sources = excluded.sources, last_seen = excluded.last_seen
                    """, [story_id, story_id])

    # --------------------------------------------------------------- matches

    def save_matches(self, article_ids: Iterable[int], matches: Iterable[NewMatch],
                     now: datetime | None = None,
                     index_terms: Iterable[tuple[int, str]] = (), index_words: Iterable[str] = (),
                     alert_rules: Container[str] | None = None) -> None:
        """Store the matches of a batch, the articles' archive index entries and their words,
        and mark those articles matched, in one transaction. Only the matches of
        `alert_rules` (all when None) wait for the alert planner; the others are stored as
        planned already: at 100k rules nine in ten matches have nobody to alert, and the
        planner read every one."""
        stamp = to_db_time(now or utc_now())
        article_ids, index_terms = list(article_ids), list(index_terms)
        with self._lock:            # no reset_index between the commit and the remembering
            with self.transaction():
                conn = self.db.conn
                written = self._index(conn, index_terms, index_words)
                if not {article_id for article_id, _ in index_terms}.issuperset(article_ids):
                    set_index_complete(conn, False)    # matched without an entry
                # An upsert, not INSERT OR REPLACE: with foreign keys on, REPLACE checks every
                # row as a possible delete (7.0 s against 2.4 s for 393k matches). In rule
                # order, so that the index by rule takes each of its pages once per batch, not
                # once per row (393k matches: 2.7 s unsorted, 1.8 s sorted; m0015).
                conn.executemany(
                    "INSERT INTO matches (article_id, rule_id, rule_version, created, alerted) "
                    "VALUES (?, ?, ?, ?, ?) ON CONFLICT (article_id, rule_id) DO UPDATE SET "
                    "rule_version = excluded.rule_version, created = excluded.created",
                    sorted(((match.article_id, match.rule_id, match.rule_version, stamp,
                             int(alert_rules is not None and match.rule_id not in alert_rules))
                            for match in matches), key=itemgetter(1)))
                conn.executemany(
                    "UPDATE articles SET matched_at = ? WHERE id = ?",
                    [(stamp, article_id) for article_id in article_ids],
                )
            self._remember_words(written)

    def matched_rules(self, article_id: int) -> list[str]:
        """The ids of the rules an article matched, for rendering its alerts (whose summary
        prefers sentences with any of their words)."""
        with self._lock:
            return [rule_id for rule_id, in self.db.conn.execute(
                "SELECT rule_id FROM matches WHERE article_id = ? ORDER BY rule_id",
                [article_id])]

    def matches_for_article(self, article_id: int) -> list[StoredMatch]:
        """An article's matches as stored, by rule id (matched_rules has just the ids)."""
        with self._lock:
            rows = self.db.execute(
                "SELECT article_id, rule_id, rule_version, created, alerted FROM matches "
                "WHERE article_id = ? ORDER BY rule_id", [article_id]).fetchall()
        return [StoredMatch(article, rule_id, version, from_db_time(created), bool(alerted))
                for article, rule_id, version, created, alerted in rows]

    def story_sources(self, story_id: int) -> list[StorySource]:
        """A story's articles, newest first: the outlets of its alerts' "+3 sources" line."""
        with self._lock:
            rows = self.db.execute(
                "SELECT source, url, published, id FROM articles WHERE story_id = ? "
                "ORDER BY published DESC, id DESC", [story_id]).fetchall()
        return [StorySource(source, url, from_db_time(published), article_id)
                for source, url, published, article_id in rows]

    # ------------------------------------------------------------ alert planning

    def unalerted_matches(self, limit: int = 1000) -> list[UnalertedMatch]:
        """Matches not yet turned into alerts, in (article, rule) order."""
        with self._lock:
            rows = self.db.conn.execute(
                "SELECT m.article_id, m.rule_id, a.story_id "
                "FROM matches m JOIN articles a ON a.id = m.article_id WHERE m.alerted = 0 "
                "ORDER BY m.article_id, m.rule_id LIMIT ?", [limit]).fetchall()
        return list(map(UnalertedMatch._make, rows))

    def alerted_stories(self, keys: Iterable[tuple[int, str, int]]
                        ) -> dict[tuple[int, str, int], AlertedStory]:
        """Of these (chat, rule, story) keys, those alerted before, with what deciding on a
        follow-up needs (the alert's article and headline must still be in the archive)."""
        found: dict[tuple[int, str, int], AlertedStory] = {}
        with self._lock:
            conn = self.db.conn
            for key in set(keys):
                titles = [title for _, title in conn.execute(
                    "SELECT o.id, a.title FROM outbox o JOIN articles a ON a.id = o.article_id "
                    "WHERE o.chat_id = ?1 AND o.rule_id = ?2 AND o.story_id = ?3 "
                    "AND o.kind = 'alert' UNION ALL "
                    "SELECT o.id, a.title FROM outbox o JOIN articles a ON a.id = o.article_id "
                    "WHERE o.chat_id = ?1 AND o.rule_id = ?2 AND o.story_id = ?3 "
                    "AND o.kind = 'follow_up' ORDER BY 1", key)]
                if not titles:
                    continue
                reasons = frozenset(reason for reason, in conn.execute(
                    "SELECT reason FROM follow_ups WHERE chat_id = ? AND rule_id = ? "
                    "AND story_id = ?", key))
                sources = conn.execute("SELECT sources FROM stories WHERE id = ?",
                                       [key[2]]).fetchone()
                threshold = conn.execute(
                    "SELECT follow_sources FROM subscriptions WHERE chat_id = ? AND rule_id = ?",
                    key[:2]).fetchone()
                found[key] = AlertedStory(
                    tuple(titles), reasons, tuple(json.loads(sources[0])) if sources else (),
                    threshold[0] if threshold else None)
        return found

    def plan_alerts(self, matches: Iterable[tuple[int, str]],
                    messages: Iterable[PlannedAlert], now: datetime | None = None,
                    follow_ups: Iterable[PlannedFollowUp] = ()) -> int:
        """Queue the alerts of a batch of matches and mark those matches alerted, atomically.

        `matches` are (article id, rule id) pairs. A (chat, rule, story) is alerted once in
        the archive's lifetime: the claim in `alerted` outlives both the outbox row and the
        articles. A later article of a story alerted before queues an update of that alert
        instead (one waiting update per alert: it shows the story as it is when sent), and
        the `follow_ups` given (answers that ping) once per reason. Of one batch's messages
        for the same (chat, rule, story), the first is queued; the others are in the story
        when its alert is rendered. Returns the alerts queued.
        """
        stamp = to_db_time(now or utc_now())
        messages = list(messages)
        with self.transaction():
            conn = self.db.conn
            # Before this batch's claims: only stories alerted earlier are updated. A story's
            # id is its first article's, so an article that starts a story has none to update.
            joined = [m for m in messages if m.story_id != m.article_id]
            conn.executemany(QUEUE_UPDATE, (
                (m.chat_id, m.rule_id, m.story_id, m.article_id, m.rule_name, stamp, stamp)
                for m in joined))
            # A story first alerted when it had the chat's /follow sources already: the
            # alert says so, and no "now N sources" answer follows it.
            conn.executemany(_FOLLOWED_ALREADY, ((m.chat_id, m.rule_id, m.story_id, stamp)
                                                 for m in joined))
            for f in follow_ups:
                if conn.execute("INSERT OR IGNORE INTO follow_ups (chat_id, rule_id, story_id, "
                                "reason, created) VALUES (?, ?, ?, ?, ?)",
                                [f.chat_id, f.rule_id, f.story_id, f.reason, stamp]).rowcount:
                    conn.execute(QUEUE_FOLLOW_UP, [f.chat_id, f.rule_id, f.story_id,
                                                   f.article_id, f.text, stamp, stamp])
            # Queued unless claimed before; outbox_one_alert keeps the first of a batch. The
            # rows are made as SQLite takes them: tens of thousands of tuples alive at once
            # would be promoted by the collector and bring on a full collection (80 ms).
            queued = conn.executemany(QUEUE, (
                queued_row(m.chat_id, MessageKind.ALERT, "", stamp, rule_id=m.rule_id,
                           story_id=m.story_id, article_id=m.article_id, rule_name=m.rule_name)
                for m in messages)).rowcount
            conn.executemany(
                "INSERT OR IGNORE INTO alerted (chat_id, rule_id, story_id, created) "
                "VALUES (?, ?, ?, ?)", ((m.chat_id, m.rule_id, m.story_id, stamp)
                                        for m in messages))
            conn.executemany("UPDATE matches SET alerted = 1 WHERE article_id = ? AND rule_id = ?",
                             list(matches))
        return queued
