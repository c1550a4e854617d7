"""The one owner of the database connection: opening (and upgrading), read-only mode, the
instance lock, transactions, backup and close, and how times are stored.

Every entity module's class derives from `Connection` and reaches SQLite only through
`self.db` under `self._lock` (or inside `transaction()`), so a `Store` shared between the
event loop's worker threads serialises its statements in one place.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Self, TypeVar, overload

from sqlite_utils import Database

from monitor.errors import MonitorError
from monitor.store.migrations import migrations

T = TypeVar("T")


class StoreError(MonitorError):
    """The database cannot be used as asked; the message says why in one line (the tree of
    its kinds: monitor/errors.py)."""


class InstanceLocked(StoreError):
    pass


@overload
def to_db_time(moment: datetime) -> str: ...
@overload
def to_db_time(moment: None) -> None: ...
def to_db_time(moment: datetime | None) -> str | None:
    """UTC ISO 8601 to the second: sorts as text, reads back exactly."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@overload
def from_db_time(value: str) -> datetime: ...
@overload
def from_db_time(value: None) -> None: ...
def from_db_time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def chunks(values: Sequence[T], size: int = 500) -> Iterator[Sequence[T]]:
    """`values` in slices of `size`: SQLite takes a bounded number of `?` per statement."""
    for start in range(0, len(values), size):
        yield values[start:start + size]


def marks(values: Sequence[object]) -> str:
    """The `?, ?, ?` of an `IN (...)` over these values."""
    return ",".join("?" * len(values))


def database_problem(path: Path, error: sqlite3.DatabaseError) -> str:
    """One line that says what is wrong with a database file, for the operator."""
    text = str(error)
    if "not a database" in text or "malformed" in text:
        return f"{path}: not a SQLite database, or a damaged one ({text})"
    if "readonly" in text or "read-only" in text:
        return f"{path}: the database is read-only here ({text})"
    if "unable to open" in text:
        return f"{path}: cannot open the database (missing folder or no permission)"
    return f"{path}: database error: {text}"


@contextmanager
def instance_lock(database: str | Path) -> Iterator[None]:
    """Hold the one-instance lock of a database for the duration of the block.

    Only one process may run pipeline stages on a database: two would both poll and both
    dispatch, and every message would go out twice. The lock is `flock` on a file beside the
    database (never on the database itself: closing any descriptor of a file drops a process's
    POSIX locks on it, SQLite's own included). The kernel releases it when the process dies, so
    a `kill -9` leaves no stale lock; the pid written into the file only names the holder.
    """
    path = Path(f"{database}.lock")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="ascii")  # noqa: SIM115 (held for the whole block)
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "?"
            raise InstanceLocked(f"another monitor is running on {database} (pid {holder})") \
                from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()


class Connection:
    """One SQLite database. Safe to share between threads: access is serialised by a lock."""

    def __init__(self, path: str | Path, *, readonly: bool = False):
        """Open (and, unless `readonly`, create or upgrade) the database at `path`.

        Read-only commands open it read-only: they never create an empty database where an
        operator mistyped the path, and they work on a file they may not write. Every way the
        file can be unusable (missing, not SQLite, damaged, not writable, from an older
        version) is a StoreError of one line.
        """
        self.path = Path(path)
        self._lock = threading.RLock()
        memory = str(path) == ":memory:"
        conn = None
        try:
            if readonly and not memory:
                if not self.path.is_file():
                    raise StoreError(f"{self.path}: no database here yet (`monitor ingest` or "
                                     "`monitor run` creates it)")
                conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                       check_same_thread=False, timeout=30)
            else:
                if not memory:
                    self.path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
            self.db = Database(conn)
            if readonly:
                self.db.execute("SELECT count(*) FROM sqlite_master").fetchone()
                if migrations.pending(self.db):
                    raise StoreError(f"{self.path}: made by an older version; a command that "
                                     "writes (e.g. `monitor ingest`) upgrades it")
                return
            if not memory:
                self.db.enable_wal()
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA synchronous = NORMAL")
            migrations.apply(self.db)
        except sqlite3.DatabaseError as error:
            if conn is not None:
                conn.close()
            raise StoreError(database_problem(self.path, error)) from None
        except StoreError:
            if conn is not None:
                conn.close()
            raise

    def backup(self, target: str | Path) -> None:
        """A consistent copy of the live database (SQLite's online backup), safe while
        `monitor run` keeps writing. The database is checked first (`PRAGMA quick_check`, a
        read that never blocks the service's writes): a damaged one is not copied."""
        try:
            with self._lock:
                verdict = self.db.execute("PRAGMA quick_check").fetchone()[0]
        except sqlite3.DatabaseError as error:
            verdict = str(error)
        if verdict != "ok":
            raise StoreError(f"{self.path}: the database is damaged ({verdict}); "
                             "no backup written")
        destination = sqlite3.connect(str(target))
        try:
            with self._lock:
                self.db.conn.backup(destination, pages=1024)
        finally:
            destination.close()

    def close(self) -> None:
        with self._lock:
            self.db.conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside commit together or not at all."""
        with self._lock, self.db.atomic():
            yield
