"""Raw SQL on a database file, for the few checks that must look beneath the store's API.

Tests use `Store`'s public methods. This helper is for what those rightly do not offer:
building a database of an older schema (migration tests), reading what a process or the
dispatcher left in the file that production never reads back (an outbox row's status,
attempts and last error; the periods a digest recorded; remembered keys), and damage or
the passing of time that no public call makes (an article deleted behind the store's back,
rows made older). It opens its own connection to the file, never the store's, so no test
reaches into a Store's internals.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from monitor.store import Store, migrations


def _connect(database: Store | Path | str) -> sqlite3.Connection:
    """A connection of its own, with foreign keys on as the store has them (a deleted
    article takes its matches with it)."""
    conn = sqlite3.connect(database.path if isinstance(database, Store) else Path(database))
    conn.execute("PRAGMA foreign_keys = ON")
    return conn


def query(database: Store | Path | str, sql: str, *params: Any) -> list[dict[str, Any]]:
    """The rows of a SELECT, as dicts."""
    with closing(_connect(database)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(row) for row in conn.execute(sql, params)]


def value(database: Store | Path | str, sql: str, *params: Any) -> Any:
    """The first column of the first row of a SELECT (a count, a max)."""
    with closing(_connect(database)) as conn:
        return conn.execute(sql, params).fetchone()[0]


def execute(database: Store | Path | str, sql: str, *params: Any) -> int:
    """Run one statement, committed; the rows it changed."""
    with closing(_connect(database)) as conn, conn:
        return conn.execute(sql, params).rowcount


def old_database(path: Path, stop_before: str) -> Database:
    """A new database file as an earlier version left it: the migrations before
    `stop_before` applied (the store itself only ever opens the current schema)."""
    old = Database(sqlite3.connect(path))
    migrations.apply(old, stop_before=stop_before)
    return old
