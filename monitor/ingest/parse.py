"""Feed bytes → ParsedFeed: RSS 0.9x/1.0/2.0, Atom and RDF through feedparser, JSON Feed 1.0/1.1
by hand (feedparser does not read it).

The parser only ever sees bytes the fetcher already capped in size; feedparser gets them as
`io.BytesIO` (a bare str/bytes argument would first be tried as a URL or a file path).

Two feedparser settings are deliberate:

- `sanitize_html=False, resolve_relative_uris=False`: we never render feed HTML, normalisation
  turns it into plain text (dropping script/style contents), so sanitising is wasted work:
  it was about 40% of the parse time on the corpus.
- no `content-location` header: feedparser would resolve every GUID without
  isPermaLink="false" against it, turning junk GUIDs such as "1" into feed-specific URLs
  (two feeds on one host would then share "https://host/1" and lose each other's items).
  GUIDs stay as the feed wrote them; links are resolved against the feed URL here instead.
"""

from __future__ import annotations

import calendar
import io
import json
import re
import time
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax import SAXException

import feedparser

from monitor.errors import IngestError
from monitor.ingest.fastfeed import ABSOLUTE_HTTP, absolute_link, parse_fast
from monitor.ingest.normalize import parse_iso_time
from monitor.models import RawItem

GZIP_MAGIC = b"\x1f\x8b"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
_JSON_FEED_VERSION = re.compile(r"^https?://jsonfeed\.org/version/1(\.\d+)?/?$")
_XML_ENCODING = re.compile(rb"""^(\s*<\?xml[^>]*?\bencoding\s*=\s*["'])([^"']*)(["'])""")
_CHARSET_PARAMETER = re.compile(r";\s*charset\s*=\s*[^;]*", re.IGNORECASE)
_PROLOG_BYTES = 64 * 1024
_DECLARES_ENTITIES = re.compile(rb"<!DOCTYPE[^>\[]*\[[^\]]*<!ENTITY", re.IGNORECASE)
_LOOKS_LIKE_HTML = re.compile(rb"^\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b",
                              re.IGNORECASE | re.DOTALL)


class FeedError(IngestError):
    """Nothing usable came out of a body; the message is the reason a feed's last_error shows.

    `not_a_feed`: the body is no feed at all (an HTML page, an empty body, JSON that is no
    JSON Feed), as when a site dropped its feed; not a feed that is broken (malformed XML, a
    corrupt or oversized body). Such a feed is silent once it lasts (ingest.health).
    """

    def __init__(self, message: str, *, not_a_feed: bool = False):
        super().__init__(message)
        self.not_a_feed = not_a_feed


@dataclass(frozen=True)
class ParsedFeed:
    items: list[RawItem]
    title: str | None
    language: str | None
    format: str = ""          # feedparser's version ("rss20", "atom10", ...) or "json1"/"json1.1"


def parse_feed(body: bytes, content_type: str | None, url: str,
               max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedFeed:
    """Parse a feed body; `url` (where it came from) resolves relative links.

    An empty feed is a valid result (no items); FeedError when the body is not a feed at all
    (an HTML page, JSON that is not a JSON Feed, XML too broken to yield any entry).
    """
    if body.startswith(GZIP_MAGIC):
        body = gunzip_capped(body, max_bytes)
    if not body.strip():
        raise FeedError("empty response body", not_a_feed=True)
    if _looks_like_json(body, content_type):
        return _parse_json_feed(body, url)
    return _parse_xml_feed(body, content_type, url)


def gunzip_capped(body: bytes, max_bytes: int) -> bytes:
    """Gunzip a body stored compressed (served without Content-Encoding), refusing to inflate
    it past `max_bytes` so a gzip bomb costs nothing."""
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    try:
        data = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise FeedError(f"corrupt gzip body: {exc}") from exc
    if len(data) > max_bytes:
        raise FeedError(f"body larger than {max_bytes:,} bytes after decompression")
    return data


def _looks_like_json(body: bytes, content_type: str | None) -> bool:
    if content_type and "json" in content_type.lower():
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"{"


# ------------------------------------------------------------------ RSS, Atom, RDF (feedparser)

def _parse_xml_feed(body: bytes, content_type: str | None, url: str) -> ParsedFeed:
    if _DECLARES_ENTITIES.search(body[:_PROLOG_BYTES]):
        # Feeds have no use for them; they are how billion-laughs attacks work. expat and
        # feedparser would survive it, but the feed's record should say what happened.
        raise FeedError("refused: the document declares XML entities (an entity-expansion "
                        "attack?)")
    body, content_type = _trust_valid_utf8(body, content_type)
    fast = parse_fast(body, content_type, url)
    if fast is not None:
        return ParsedFeed(items=_with_content(fast.items), title=fast.title,
                          language=fast.language, format=fast.format)
    return parse_with_feedparser(body, content_type, url)


def parse_with_feedparser(body: bytes, content_type: str | None, url: str) -> ParsedFeed:
    """The reference path: every XML feed parse_fast does not take, and the oracle its tests
    compare against."""
    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers,
                              sanitize_html=False, resolve_relative_uris=False)
    feed = parsed.feed
    language = _str_or_none(feed.get("language"))
    items = _with_content(_item_from_entry(entry, url, language) for entry in parsed.entries)
    if not items:
        _raise_unless_empty_feed(parsed, body)
    return ParsedFeed(
        items=items,
        title=_str_or_none(feed.get("title")),
        language=language,
        format=parsed.version or "unknown",
    )


def _trust_valid_utf8(body: bytes, content_type: str | None) -> tuple[bytes, str | None]:
    """Bytes that are valid UTF-8 and not plain ASCII are UTF-8, whatever the XML prolog or the
    HTTP header claims: text in a legacy charset (windows-1251, KOI8-R, ISO-8859-1) practically
    never forms valid UTF-8, while UTF-8 mislabelled as one of them is a common server mistake
    that would otherwise turn "über" into "Гјber"."""
    if body.isascii():
        return body, content_type
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return body, content_type
    if content_type:
        content_type = _CHARSET_PARAMETER.sub("", content_type)
    return _XML_ENCODING.sub(rb"\g<1>utf-8\g<3>", body, count=1), content_type


def _raise_unless_empty_feed(parsed: Any, body: bytes) -> None:
    """A recognised feed with no entries is empty, not broken; anything else is an error."""
    problem = parsed.get("bozo_exception")
    broken_xml = isinstance(problem, SAXException)
    if parsed.version and not broken_xml:
        return
    if b"<" not in body[:4096]:
        raise FeedError("not a feed: the body is neither XML nor JSON", not_a_feed=True)
    if _LOOKS_LIKE_HTML.match(body[:4096]):
        raise FeedError("not a feed: the server sent an HTML page", not_a_feed=True)
    if broken_xml:
        raise FeedError(f"malformed XML, no entries found: {_sax_reason(problem)}")
    raise FeedError("not a feed: no RSS, Atom or RDF document found", not_a_feed=True)


def _with_content(items: Iterable[RawItem]) -> list[RawItem]:
    """Drop entries with no title, text or link (broken nesting leaves such husks): there is
    nothing in them to match or to show."""
    return [item for item in items if item.title.strip() or item.text.strip() or item.url]


def _sax_reason(problem: Exception) -> str:
    line = getattr(problem, "getLineNumber", lambda: None)()
    message = problem.getMessage() if hasattr(problem, "getMessage") else str(problem)
    return f"{message} (line {line})" if line else message


def _item_from_entry(entry: Any, feed_url: str, feed_language: str | None) -> RawItem:
    """One entry; its language is what it declares itself (Atom xml:lang), else the feed's."""
    text, text_is_html, language = _entry_body(entry)
    return RawItem(
        title=_str_or_none(_field(entry, "title")) or "",
        text=text,
        text_is_html=text_is_html,
        url=_entry_link(entry, feed_url),
        guid=_str_or_none(_field(entry, "id")),
        published=_entry_time(entry),
        language=language or _detail_language(_field(entry, "title_detail")) or feed_language,
    )


def _entry_body(entry: Any) -> tuple[str, bool, str | None]:
    """The longest of the entry's contents and summary, with its type and declared language."""
    candidates = [c for c in _field(entry, "content") or [] if isinstance(c, dict)]
    summary = _field(entry, "summary_detail")
    if isinstance(summary, dict):
        candidates.append(summary)
    elif _field(entry, "summary"):
        candidates.append({"value": _field(entry, "summary"), "type": "text/html"})
    if not candidates:
        return "", True, None
    best = max(candidates, key=lambda c: len(c.get("value") or ""))
    is_html = (best.get("type") or "text/html") != "text/plain"
    return best.get("value") or "", is_html, _detail_language(best)


def _entry_link(entry: Any, feed_url: str) -> str | None:
    """The entry's web page. feedparser copies a permalink GUID into `link` when there is no
    <link>; when that GUID is no URL ("1"), it is no link either."""
    link = _str_or_none(_field(entry, "link"))
    if not link:
        return None
    copied_from_guid = _field(entry, "guidislink") and link == _field(entry, "id")
    if copied_from_guid and not ABSOLUTE_HTTP.match(link):
        return None
    return absolute_link(feed_url, link)


def _entry_time(entry: Any) -> datetime | None:
    """feedparser's *_parsed values are UTC struct_time: calendar.timegm, never mktime."""
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = _field(entry, key)
        if isinstance(value, time.struct_time):
            try:
                return datetime.fromtimestamp(calendar.timegm(value), UTC)
            except (OverflowError, ValueError, OSError):
                continue
    return None


def _field(entry: Any, key: str) -> Any:
    """An entry field by its canonical name. Plain dict access skips FeedParserDict's alias
    mapping, which is slow and warns when `updated_parsed` falls back to `published_parsed`."""
    return dict.get(entry, key)


def _detail_language(detail: Any) -> str | None:
    return _str_or_none(detail.get("language")) if isinstance(detail, dict) else None


def _str_or_none(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value
    return None


# ----------------------------------------------------------------------------- JSON Feed

def _parse_json_feed(body: bytes, url: str) -> ParsedFeed:
    """JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1): UTF-8 JSON with `items`."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise FeedError(f"JSON Feed is not valid UTF-8: {exc.reason} at byte {exc.start}") from exc
    except json.JSONDecodeError as exc:
        raise FeedError(f"invalid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from exc
    if not isinstance(document, dict):
        raise FeedError("not a JSON Feed: the document is not a JSON object", not_a_feed=True)
    version = document.get("version")
    if not isinstance(version, str) or not _JSON_FEED_VERSION.match(version):
        raise FeedError(f"not a JSON Feed: unknown version {version!r}", not_a_feed=True)
    entries = document.get("items")
    if not isinstance(entries, list):
        raise FeedError("not a JSON Feed: 'items' is missing or not a list", not_a_feed=True)
    feed_language = _str_or_none(document.get("language"))
    items = _with_content(_item_from_json(entry, url, feed_language)
                          for entry in entries if isinstance(entry, dict))
    return ParsedFeed(
        items=items,
        title=_str_or_none(document.get("title")),
        language=feed_language,
        format="json1.1" if version.rstrip("/").endswith("1.1") else "json1",
    )


def _item_from_json(entry: dict[str, Any], feed_url: str, feed_language: str | None) -> RawItem:
    if _str_or_none(entry.get("content_html")):
        text, is_html = entry["content_html"], True
    else:
        text = _str_or_none(entry.get("content_text")) or _str_or_none(entry.get("summary")) or ""
        is_html = False
    guid = entry.get("id")
    if isinstance(guid, (int, float)) and not isinstance(guid, bool):
        guid = str(guid)              # 1.0 says string; some publishers write numbers
    link = _str_or_none(entry.get("url")) or _str_or_none(entry.get("external_url"))
    return RawItem(
        title=_str_or_none(entry.get("title")) or "",
        text=text,
        text_is_html=is_html,
        url=absolute_link(feed_url, link) if link else None,
        guid=_str_or_none(guid),
        published=(parse_iso_time(entry.get("date_published"))
                   or parse_iso_time(entry.get("date_modified"))),
        language=_str_or_none(entry.get("language")) or feed_language,
    )

