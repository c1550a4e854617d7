"""RawItem → Article: clean text, canonical URL, language, UTC time, content hash, GUID.

Everything downstream (matching, stories, summaries, alerts) reads only what this module
produces, so its output has one shape whatever the source looked like:

- titles are one line of plain text; bodies are plain text whose paragraphs are separated by
  exactly "\\n\\n" (summaries split on them later);
- URLs are canonical, so the same story reached through a tracking link is stored once;
- `content_hash` is over the folded title and text, so the same text arriving twice (a seed
  re-read, a feed re-publishing under a new GUID) is stored once.
"""

from __future__ import annotations

import hashlib
import html
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from monitor.language import LANGUAGE_SAMPLE_CHARS, detect_language, language_code
from monitor.models import Article, RawItem

# Elements whose content is never readable text.
_INVISIBLE = re.compile(
    r"<(script|style|noscript|template|iframe|object|svg|math|head)\b[^>]*>.*?(?:</\1\s*>|$)",
    re.IGNORECASE | re.DOTALL,
)
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.DOTALL)
_CDATA = re.compile(r"<!\[CDATA\[(.*?)(?:\]\]>|$)", re.DOTALL)
# Elements that end a paragraph.
_BLOCK = re.compile(
    r"</?(?:p|div|h[1-6]|ul|ol|li|dl|dt|dd|blockquote|pre|table|thead|tbody|tfoot|tr|section"
    r"|article|header|footer|aside|nav|main|figure|figcaption|address|details|summary|form"
    r"|fieldset|hr|center)\b[^>]*>",
    re.IGNORECASE,
)
_LINE_BREAK = re.compile(r"<br\b[^>]*>", re.IGNORECASE)
_CELL = re.compile(r"</?(?:td|th)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][^>]*>|<![^>]*>|<\?[^>]*>")
_PARAGRAPH_BREAK = re.compile(r"\n[^\S\n]*\n\s*")
# Invisible characters that would otherwise split or glue words: zero-width space, BOM, soft
# hyphen, and C0 controls other than tab and newline.
_INVISIBLE_CHARS = re.compile("[\u200b\ufeff\u00ad\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

# Query parameters that only track the reader and never select the content.
_TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
    "igshid", "mc_cid", "mc_eid", "_hsenc", "_hsmi", "mkt_tok", "oly_anon_id", "oly_enc_id",
    "rb_clickid", "s_cid", "vero_id", "vero_conv", "wickedid", "ncid", "ocid", "cmpid",
    "ref_src", "ref_url", "spm", "_ga", "_gl", "at_medium", "at_campaign", "sr_share",
})
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "piwik_", "itm_")
# A cheap first look: most queries carry none of these, and then need no parsing.
_MAY_TRACK = re.compile(
    r"(?:^|[&;])(?:" + "|".join(re.escape(p) for p in _TRACKING_PREFIXES)
    + "|" + "|".join(re.escape(n) + "=" for n in sorted(_TRACKING_PARAMS)) + r"|[^&;=]*%)",
    re.IGNORECASE,
)
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Already canonical unless the query tracks: lower-case scheme and host, no port, no user, a
# path, no fragment, no empty "?".
_SIMPLE_URL = re.compile(r"^https?://[a-z0-9.-]+(/[^?#\s]*)(?:\?([^#\s]+))?$")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
MIN_OPAQUE_GUID_LENGTH = 16
_TITLE_FROM_TEXT_CHARS = 120


def normalize_item(item: RawItem, *, source: str, feed_id: int | None,
                   language_hint: str | None, fetched: datetime,
                   full_text_status: str | None = None) -> Article:
    """One raw item as a storable Article.

    `source` is the feed's name (or e.g. "seeds"); an item that names its own source (a JSON
    seed) keeps it. Language: the operator's `language_hint` (feed config) wins over what the
    item or feed declares, which wins over detection. Missing publication time → `fetched`.
    """
    title = clean_title(item.title)
    text = clean_text(item.text) if item.text_is_html else clean_plain_text(item.text)
    if not title:
        title = title_from_text(text)
    source = (item.source or "").strip() or source
    language = (language_code(language_hint) or language_code(item.language)
                or detect_language(f"{title}\n{text[:LANGUAGE_SAMPLE_CHARS]}"))
    return Article(
        title=title,
        text=text,
        url=article_url(item.url),
        guid=global_guid(item.guid, source),
        source=source,
        language=language,
        published=as_utc(item.published) if item.published else as_utc(fetched),
        fetched=as_utc(fetched),
        content_hash=content_hash(title, text),
        feed_id=feed_id,
        full_text_status=full_text_status,
    )


def stored_keys(item: RawItem, source: str) -> tuple[str | None, str | None]:
    """(GUID, URL) exactly as normalize_item will store them, for Store.known_article_keys:
    raw GUIDs and links differ from the stored ones (source prefix, canonical URL)."""
    source = (item.source or "").strip() or source
    return global_guid(item.guid, source), article_url(item.url)


def clean_text(html_or_text: str) -> str:
    """HTML or text → plain text: tags and script/style contents gone, entities decoded,
    whitespace folded, paragraphs (block elements, blank lines, <br><br>) kept as "\\n\\n"."""
    if "<" in html_or_text:
        # One regex pass per kind of markup: each is a scan in C, cheaper than one combined
        # pattern with a Python callback per tag (measured: 58 µs against 100 µs an item).
        if "<!--" in html_or_text:
            html_or_text = _COMMENT.sub(" ", html_or_text)
        if "<![CDATA[" in html_or_text:
            html_or_text = _CDATA.sub(r"\1", html_or_text)
        html_or_text = _INVISIBLE.sub(" ", html_or_text)
        html_or_text = _BLOCK.sub("\n\n", html_or_text)
        html_or_text = _LINE_BREAK.sub("\n", html_or_text)
        html_or_text = _CELL.sub(" ", html_or_text)
        html_or_text = _TAG.sub("", html_or_text)
    if "&" in html_or_text:
        html_or_text = html.unescape(html_or_text)
    return clean_plain_text(html_or_text)


def clean_plain_text(text: str) -> str:
    """Plain text → folded paragraphs separated by "\\n\\n"; single line breaks become spaces
    (hard-wrapped lines belong to one paragraph). No tag stripping: "a <b" stays as it is."""
    text = _INVISIBLE_CHARS.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    paragraphs = (" ".join(part.split()) for part in _PARAGRAPH_BREAK.split(text))
    return "\n\n".join(p for p in paragraphs if p)


def paragraphs_without_title(extracted: str, title: str) -> str:
    """trafilatura's lines as "\n\n"-separated paragraphs, without a leading repeat of the
    title (the page's <h1>), which would otherwise open every summary."""
    paragraphs = [line.strip() for line in extracted.splitlines() if line.strip()]
    if paragraphs and title and " ".join(paragraphs[0].split()).casefold() == " ".join(
            title.split()).casefold():
        paragraphs = paragraphs[1:]
    return "\n\n".join(paragraphs)


def clean_title(title: str) -> str:
    """A title as one line of plain text (feeds put HTML, even scripts, into titles)."""
    return " ".join(clean_text(title).split())


def title_from_text(text: str) -> str:
    """A stand-in title for items that have none: the first words of the text."""
    first = text.split("\n\n", 1)[0]
    if len(first) <= _TITLE_FROM_TEXT_CHARS:
        return first
    cut = first[:_TITLE_FROM_TEXT_CHARS].rsplit(" ", 1)[0]
    return f"{cut}…"


def canonical_url(url: str) -> str:
    """One spelling per page: scheme and host lower-cased, default port, fragment and tracking
    parameters (utm_*, fbclid, gclid, ...) dropped; the other parameters keep their order.
    Anything that is not an http(s) URL comes back stripped but otherwise unchanged."""
    url = url.strip()
    simple = _SIMPLE_URL.match(url)
    if simple and not (simple.group(2) and _MAY_TRACK.search(simple.group(2))):
        return url
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return url
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    if port is not None and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    if parts.username or parts.password:
        credentials = parts.username or ""
        if parts.password:
            credentials += f":{parts.password}"
        host = f"{credentials}@{host}"
    query = parts.query
    if query and _MAY_TRACK.search(query):
        pairs = parse_qsl(query, keep_blank_values=True)
        kept = [(k, v) for k, v in pairs if not _is_tracking_param(k)]
        if len(kept) != len(pairs):
            query = urlencode(kept)
    return urlunsplit((scheme, host, parts.path or "/", query, ""))


def article_url(url: str | None) -> str | None:
    """The canonical link of an article, or None when it has no http(s) link to open."""
    if not url or not url.strip():
        return None
    canonical = canonical_url(url)
    return canonical if canonical.startswith(("http://", "https://")) else None


def _is_tracking_param(name: str) -> bool:
    lowered = name.lower()
    return lowered in _TRACKING_PARAMS or lowered.startswith(_TRACKING_PREFIXES)


def global_guid(guid: str | None, source: str) -> str | None:
    """The GUID as stored: as is when it is meaningful across feeds (a URL, a tag:/urn: URI, a
    long opaque id), else prefixed with the source, so feeds numbering items 1, 2, 3 do not
    collide on the store's UNIQUE guid index and lose each other's articles."""
    if guid is None or not guid.strip():
        return None
    guid = guid.strip()
    if (_URL_SCHEME.match(guid) or guid[:4].lower() in ("tag:", "urn:")
            or len(guid) >= MIN_OPAQUE_GUID_LENGTH):
        return guid
    return f"{source}:{guid}"


def as_utc(moment: datetime) -> datetime:
    """Aware UTC time; a naive time is taken to be UTC already (feedparser gives UTC)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_iso_time(value: Any) -> datetime | None:
    """ISO 8601 / RFC 3339 text as aware UTC (a date alone means midnight UTC; naive times are
    taken as UTC); None for anything that is not such a string."""
    if not isinstance(value, str):
        return None
    try:
        return as_utc(datetime.fromisoformat(value.strip()))
    except ValueError:
        return None


def fold_for_hash(text: str) -> str:
    return " ".join(text.casefold().split())


def content_hash(title: str, text: str) -> str:
    """Hash of the folded (case and whitespace) title and text: same words → same article."""
    folded = f"{fold_for_hash(title)}\n{fold_for_hash(text)}"
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()
