"""The seed folder: documents an analyst drops into `seeds/`, read again on every run.

- `.txt`, `.md`: the first non-empty line is the title (a Markdown "# " is dropped), the rest
  the body;
- `.html`, `.htm`: main text and title extracted with trafilatura;
- `.json`: one object, or a list of objects; `.jsonl`: one object a line. Each object has
  `title` and `text`, optionally `url`, `published` (ISO 8601), `language`, `source`.

Reading is idempotent by design: seeds usually have no URL or GUID, so the store's content
hash recognises a seed it has seen. A file (or one record of a JSON file) that cannot be used
becomes a SeedError naming the file and the reason; everything else still loads.
Hidden files (".gitkeep") are skipped.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import trafilatura
from trafilatura.settings import Document

from monitor.ingest.normalize import paragraphs_without_title, parse_iso_time
from monitor.models import RawItem

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm")
JSON_SUFFIXES = (".json", ".jsonl")
MAX_SEED_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class SeedError:
    """One seed file (or record in it) that could not be read, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class _Unreadable(Exception):
    """Internal: the reason one file or record is unusable."""


@dataclass(frozen=True)
class SeedFile:
    """What one seed file holds: its items, and its records (or the file) that are unusable."""

    path: Path
    items: list[RawItem]
    errors: list[SeedError]


# A file's (modification time, size) and when it was last read to the end.
SeedCache = dict[Path, tuple[tuple[int, int], datetime]]

# An unchanged file is read again after this long: seeing its articles again renews the keys
# that retention remembers for the deleted ones (store.add_articles), which would otherwise
# be forgotten after `keys_days` while the file still lies there.
REREAD_AFTER = timedelta(days=1)


def seed_files(folder: Path, cache: SeedCache | None = None,
               now: datetime | None = None) -> Iterator[SeedFile]:
    """The seed files under `folder` (sorted, subfolders included), one at a time, so that
    memory holds one file (at most MAX_SEED_BYTES), not the folder. A missing folder is no
    error: there are simply no seeds.

    With a `cache` (kept by the caller between runs) and the time `now`, a file unchanged
    since it was last read (modification time and size) is skipped until REREAD_AFTER has
    passed; a file counts as read once the caller asks for the next one, so a caller that
    stops in the middle of a file gets all of it again next time.
    """
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if not path.is_file() or any(part.startswith(".") for part in relative.parts):
            continue
        try:
            stat = path.stat()
            stamp: tuple[int, int] | None = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        if cache is not None and now is not None and stamp is not None:
            seen = cache.get(path)
            if seen is not None and seen[0] == stamp and now - seen[1] < REREAD_AFTER:
                continue
        yield _read(path)
        if cache is not None and now is not None and stamp is not None:
            cache[path] = (stamp, now)


def _read(path: Path) -> SeedFile:
    items: list[RawItem] = []
    errors: list[SeedError] = []
    try:
        for item_or_error in read_seed_file(path):
            if isinstance(item_or_error, SeedError):
                errors.append(item_or_error)
            else:
                items.append(item_or_error)
    except _Unreadable as exc:
        items, errors = [], [SeedError(path, str(exc))]
    return SeedFile(path, items, errors)


def read_seed_file(path: Path) -> Iterator[RawItem | SeedError]:
    """The items in one seed file; a bad record of a JSON file is yielded as a SeedError,
    a file that cannot be read at all raises _Unreadable."""
    suffix = path.suffix.lower()
    if suffix not in TEXT_SUFFIXES + HTML_SUFFIXES + JSON_SUFFIXES:
        raise _Unreadable(f"unsupported file type {suffix or '(none)'!r}; use .txt, .md, "
                          ".html, .json or .jsonl")
    data = _read_bytes(path)
    if suffix in HTML_SUFFIXES:
        yield _html_item(data)
    elif suffix in TEXT_SUFFIXES:
        yield _text_item(_decode(data), markdown=suffix != ".txt")
    elif suffix == ".jsonl":
        yield from _jsonl_items(path, data)
    else:
        yield from _json_items(path, _decode(data))


def _read_bytes(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_SEED_BYTES:
            raise _Unreadable(f"file too large ({size:,} bytes, limit {MAX_SEED_BYTES:,})")
        data = path.read_bytes()
    except OSError as exc:
        raise _Unreadable(f"cannot read: {exc.strerror or exc}") from exc
    if not data.strip():
        raise _Unreadable("empty file")
    return data


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise _Unreadable(f"not valid UTF-8: byte 0x{data[exc.start]:02x} at offset "
                          f"{exc.start} (line {line}); save the file as UTF-8") from exc


def _text_item(content: str, *, markdown: bool) -> RawItem:
    lines = content.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip()), None)
    if start is None:
        raise _Unreadable("empty file")
    title = lines[start].strip()
    if markdown:
        title = title.lstrip("#").strip()
    body = "\n".join(lines[start + 1:]).strip()
    if not body:
        raise _Unreadable("no text after the title line (the first line is the title)")
    return RawItem(title=title, text=body, text_is_html=False)


def _html_item(data: bytes) -> RawItem:
    document = trafilatura.bare_extraction(data, with_metadata=True, include_comments=False)
    # A Document, or None when nothing was extracted (a dict only with as_dict=True).
    if not isinstance(document, Document) or not (text := (document.text or "").strip()):
        raise _Unreadable("no main text found in the HTML page")
    title = (document.title or "").strip()
    published = None
    if document.date:
        published = parse_iso_time(document.date)
    return RawItem(
        title=title,
        text=paragraphs_without_title(text, title),
        text_is_html=False,
        url=document.url or None,
        published=published,
        language=document.language or None,
    )


def _jsonl_items(path: Path, data: bytes) -> Iterator[RawItem | SeedError]:
    """One record per line; a line that is not UTF-8 or not JSON is reported by its number
    and the others are read."""
    unknown = _UnknownKeys()
    for number, raw in enumerate(data.removeprefix(b"\xef\xbb\xbf").split(b"\n"), start=1):
        if not raw.strip():
            continue
        where = f"line {number}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield SeedError(path, f"{where}: not valid UTF-8 (byte 0x{raw[exc.start]:02x} at "
                                  f"column {exc.start + 1}); save the file as UTF-8")
            continue
        try:
            yield _json_record(json.loads(line), where, unknown)
        except json.JSONDecodeError as exc:
            yield SeedError(path, f"{where}: invalid JSON: {exc.msg} (column {exc.colno})")
        except _Unreadable as exc:
            yield SeedError(path, str(exc))
    yield from unknown.errors(path)


def _json_items(path: Path, content: str) -> Iterator[RawItem | SeedError]:
    try:
        document = json.loads(content)
    except json.JSONDecodeError as exc:
        raise _Unreadable(f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
                          ) from exc
    if isinstance(document, dict):
        records, single = [document], True
    elif isinstance(document, list):
        records, single = document, False
    else:
        raise _Unreadable("JSON must be an object or a list of objects")
    unknown = _UnknownKeys()
    for number, record in enumerate(records, start=1):
        where = "" if single else f"item {number}"
        try:
            yield _json_record(record, where, unknown)
        except _Unreadable as exc:
            if single:
                raise
            yield SeedError(path, str(exc))
    yield from unknown.errors(path)


RECORD_KEYS = ("title", "text", "url", "language", "source", "published")
# Keys other formats use for ours (trafilatura's JSON, common exports): named in the message.
_KNOWN_AS = {"lang": "language", "date": "published", "sitename": "source", "link": "url",
             "content": "text", "body": "text", "headline": "title", "pubdate": "published"}


class _UnknownKeys:
    """Keys of a file's records that the seed format does not have, each reported once per
    file with how many records have it and where it first appears: a file of exported
    articles (`lang`, `date`, `sitename`) would otherwise lose its dates without a word."""

    def __init__(self) -> None:
        self.seen: dict[str, tuple[int, str]] = {}       # key → (records, first where)

    def add(self, record: dict[str, Any], where: str) -> None:
        for key in record:
            if key not in RECORD_KEYS:
                count, first = self.seen.get(key, (0, where))
                self.seen[key] = (count + 1, first)

    def errors(self, path: Path) -> Iterator[SeedError]:
        for key, (count, first) in self.seen.items():
            nearest = _KNOWN_AS.get(str(key).lower()) or next(
                iter(difflib.get_close_matches(str(key), RECORD_KEYS, n=1)), None)
            hint = f"; did you mean {nearest!r}?" if nearest else ""
            at = f" (first: {first})" if first else ""
            yield SeedError(path, f"unknown key {key!r} in {count:,} record"
                                  f"{'' if count == 1 else 's'}{at}, ignored{hint} "
                                  f"(known: {', '.join(RECORD_KEYS)})")


def _json_record(record: Any, where: str, unknown: _UnknownKeys | None = None) -> RawItem:
    prefix = f"{where}: " if where else ""
    if not isinstance(record, dict):
        raise _Unreadable(f"{prefix}expected an object with 'title' and 'text'")
    if unknown is not None:
        unknown.add(record, where)
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise _Unreadable(f"{prefix}no 'text' (a non-empty string is required)")
    fields = {}
    for key in ("title", "url", "language", "source", "published"):
        value = record.get(key)
        if value is not None and not isinstance(value, str):
            raise _Unreadable(f"{prefix}'{key}' must be a string")
        fields[key] = value.strip() if value else None
    published = None
    if fields["published"]:
        published = parse_iso_time(fields["published"])
        if published is None:
            raise _Unreadable(f"{prefix}'published' is not an ISO 8601 time: "
                              f"{fields['published']!r}")
    return RawItem(
        title=fields["title"] or "",
        text=text,
        text_is_html=False,
        url=fields["url"],
        published=published,
        language=fields["language"],
        source=fields["source"],
    )
