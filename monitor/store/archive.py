"""The archive index: each matched article's analyser terms in a contentless FTS5 table
(`article_index`, postings only), the terms themselves compressed (`article_terms`: a
contentless entry is removed by repeating what it held), and the index's words reversed
(`index_words`, for `*suffix` and `*infix*` lookups). What the terms are is
matching/archive_index.py's business; this module stores and queries them.

`counters.index_version` names the analyser version the index was built by (another one is
dropped and rebuilt by the pipeline), and `counters.index_complete` says that every matched
article has its entry, so a search need only add the unmatched ones to the index's answer.
"""

from __future__ import annotations

import sqlite3
import zlib
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path

from monitor.models import Article
from monitor.store.articles import article_from_row
from monitor.store.connection import Connection, chunks, marks, to_db_time

# Words this process wrote to the index vocabulary, so that each is written once: asking
# SQLite to insert-or-ignore every article's words again cost a tenth of a large ingest.
# Emptied when full, like the analyser's cache (a word then costs one more probe).
KNOWN_WORDS = 500_000


class ArchiveStore(Connection):
    def __init__(self, path: str | Path, *, readonly: bool = False):
        self._known_words: set[str] = set()
        super().__init__(path, readonly=readonly)

    def index_is_current(self, version: int) -> bool:
        """Whether the archive index was built by this version of the analyser's terms."""
        with self._lock:
            return self._index_version() == version

    def reset_index(self, version: int) -> bool:
        """Drop an index built under another version, to be built again; True when dropped."""
        with self.transaction():
            if self._index_version() == version:
                return False
            conn = self.db.conn
            conn.execute("INSERT INTO article_index (article_index) VALUES ('delete-all')")
            conn.execute("DELETE FROM article_terms")
            conn.execute("DELETE FROM index_words")
            conn.execute("UPDATE counters SET value = ? WHERE name = 'index_version'", [version])
            set_index_complete(conn, False)
            self._known_words.clear()
            return True

    def _index_version(self) -> int | None:
        """None in a database opened read-only before its upgrade (no index yet)."""
        try:
            row = self.db.conn.execute(
                "SELECT value FROM counters WHERE name = 'index_version'").fetchone()
        except sqlite3.OperationalError:
            return None
        return row[0] if row else None

    def unindexed_articles(self, limit: int = 1000) -> list[Article]:
        """Matched articles without an index entry (an archive from before the index, or
        after an index reset), newest first: searches in recent windows benefit first.
        When none is left, the store notes that every matched article is indexed, so that
        a search no longer looks through the whole window for the others."""
        with self.transaction():
            rows = self.db.query(
                "SELECT * FROM articles WHERE matched_at IS NOT NULL AND id NOT IN "
                "(SELECT article_id FROM article_terms) ORDER BY id DESC LIMIT ?", [limit])
            found = [article_from_row(r) for r in rows]
            if not found and not index_complete(self.db.conn):
                set_index_complete(self.db.conn, True)
            return found

    def index_articles(self, terms: Iterable[tuple[int, str]], words: Iterable[str] = ()) -> None:
        with self._lock:            # no reset_index between the commit and the remembering
            with self.transaction():
                written = self._index(self.db.conn, terms, words)
            self._remember_words(written)

    def _index(self, conn: sqlite3.Connection, terms: Iterable[tuple[int, str]],
               words: Iterable[str]) -> set[str]:
        """(article id, its space-separated terms): replaces an article's entry; `words`
        (the exact forms among the terms) join the index's vocabulary. A word whose
        articles are all gone stays there: it costs a wildcard lookup one useless term.
        Returns the words written, to be remembered once the transaction is committed."""
        terms = list(terms)
        unindex(conn, [article_id for article_id, _ in terms])
        conn.executemany("INSERT INTO article_index (rowid, terms) VALUES (?, ?)", terms)
        conn.executemany("INSERT INTO article_terms VALUES (?, ?)",
                         [(article_id, zlib.compress(text.encode(), 1))
                          for article_id, text in terms])
        new = set(words).difference(self._known_words)
        conn.executemany("INSERT OR IGNORE INTO index_words VALUES (?)",
                         [(word[::-1],) for word in new])
        return new

    def _remember_words(self, written: set[str]) -> None:
        """Called, under the lock, after the transaction that wrote them; not inside an
        outer one, which could still roll them back (they are then written again, which is
        harmless)."""
        if self.db.conn.in_transaction:
            return
        if len(self._known_words) + len(written) > KNOWN_WORDS:
            self._known_words.clear()
        self._known_words |= written

    def index_words(self, kind: str, fixed: str, limit: int) -> list[str] | None:
        """The archive index's words that end with (kind "suffix") or contain ("infix")
        `fixed`, from its vocabulary: a range of its reversed words for a suffix, a pass
        over them for an infix; None when there are more than `limit`."""
        backwards = fixed[::-1]
        with self._lock:
            if kind == "suffix":
                rows = self.db.conn.execute(
                    "SELECT reversed FROM index_words WHERE reversed >= ? AND reversed < ? "
                    "LIMIT ?", [backwards, backwards + chr(0x10FFFF), limit + 1]).fetchall()
            else:
                rows = self.db.conn.execute(
                    "SELECT reversed FROM index_words WHERE instr(reversed, ?) > 0 LIMIT ?",
                    [backwards, limit + 1]).fetchall()
        return None if len(rows) > limit else [word[::-1] for word, in rows]

    def archive_candidates(self, query: str | None,
                           since: datetime | None = None) -> list[int] | None:
        """Ids of the articles published since `since`, newest first, that an index query
        (archive_index.archive_query) finds, plus those not indexed yet; with no query, all of
        the window. None when FTS5 refuses the query (too deep): the caller scans."""
        since_text = to_db_time(since) or ""
        window = "SELECT published, id FROM articles WHERE published >= ?"
        with self._lock:
            conn = self.db.conn
            if query is None:
                rows = conn.execute(window, [since_text]).fetchall()
            else:
                try:
                    rows = conn.execute(
                        "SELECT a.published, a.id FROM article_index i "
                        "JOIN articles a ON a.id = i.rowid "
                        "WHERE article_index MATCH ? AND a.published >= ?",
                        [query, since_text]).fetchall()
                except sqlite3.OperationalError as error:
                    if "fts5" not in str(error) and "stack" not in str(error):
                        raise
                    return None
                if index_complete(conn):     # the few unmatched, by their index
                    unindexed = ("SELECT published, id FROM articles "
                                 "WHERE matched_at IS NULL AND +published >= ?")
                else:
                    unindexed = window + " AND id NOT IN (SELECT article_id FROM article_terms)"
                rows += conn.execute(unindexed, [since_text]).fetchall()
        return [article_id for _, article_id in sorted(rows, reverse=True)]


def set_index_complete(conn: sqlite3.Connection, complete: bool) -> None:
    """Whether every matched article has its index entry (`index_complete`): then the
    articles a search must verify beside the index's are just the unmatched ones."""
    conn.execute("INSERT OR REPLACE INTO counters VALUES ('index_complete', ?)",
                 [int(complete)])


def index_complete(conn: sqlite3.Connection) -> bool:
    row = conn.execute(
        "SELECT value FROM counters WHERE name = 'index_complete'").fetchone()
    return bool(row and row[0])


def unindex(conn: sqlite3.Connection, article_ids: list[int]) -> None:
    """A contentless FTS5 entry is removed by repeating what it was given."""
    for chunk in chunks(article_ids):
        rows = conn.execute(
            f"SELECT article_id, terms FROM article_terms WHERE article_id IN ({marks(chunk)})",
            chunk).fetchall()
        conn.executemany(
            "INSERT INTO article_index (article_index, rowid, terms) VALUES ('delete', ?, ?)",
            [(article_id, zlib.decompress(blob).decode()) for article_id, blob in rows])
        conn.executemany("DELETE FROM article_terms WHERE article_id = ?",
                         [(article_id,) for article_id, _ in rows])
