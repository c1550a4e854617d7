"""Feed lists in and out as OPML, the format every feed reader imports and exports.

Import (`parse_opml`) reads every outline with an `xmlUrl` at any depth of the <body>
(readers nest feeds in category folders; an outline without `xmlUrl` is such a folder and
is passed over). It returns an OpmlDocument: the usable feeds, and the outlines that could
not be used, each with its line in the file and the reason, so that the caller can tell the
user instead of dropping them silently: an `xmlUrl` that is not http(s), or a URL that an
earlier outline of the same file already has (URLs are compared as written, after trimming
whitespace).

Names come from `text`, else `title`, else the URL's host, with runs of whitespace collapsed
to one space. They are made unique, because feeds are stored by name: the second "Name"
becomes "Name (2)", the third "Name (3)", and names in `taken` (those of stored feeds) are
avoided too. A counter per name keeps this linear in the size of the file.

The parser is expat, for the line numbers; documents that declare entities (the vehicle of
expansion attacks) and documents whose root is not <opml> are refused with OpmlError.

Export writes OPML 2.0 that reads back to the same names, URLs and languages.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Set
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit
from xml.parsers import expat

from monitor.errors import IngestError
from monitor.models import Feed


class OpmlError(IngestError):
    """The data is not an OPML document we can read; the message says why."""


@dataclass(frozen=True)
class OpmlFeed:
    """One usable outline: its unique name, URL, language hint, and line in the file."""

    name: str
    url: str
    language: str | None
    line: int


@dataclass(frozen=True)
class OpmlProblem:
    """An outline with an `xmlUrl` that is not imported, and why."""

    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class OpmlDocument:
    """What an OPML file lists: the feeds to import, and the outlines that cannot be, both in
    document order."""

    feeds: list[OpmlFeed]
    invalid: list[OpmlProblem]


def parse_opml(data: bytes, taken: Set[str] = frozenset()) -> OpmlDocument:
    """The http(s) feeds listed in an OPML document, and the outlines that cannot be used.

    `taken`: names already in use (the stored feeds); no feed of the document gets one of them.
    """
    if b"<!ENTITY" in data:
        # Entity declarations have no use in OPML and are the vehicle of expansion attacks.
        raise OpmlError("OPML with entity declarations is not accepted")
    reader = _Reader(taken)
    parser = expat.ParserCreate()
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.EntityDeclHandler = _refuse_entity   # the same in encodings the test above misses
    reader.parser = parser
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise OpmlError(f"not well-formed XML: {exc}") from exc
    if not reader.body_seen:
        raise OpmlError("not an OPML document: no <body>")
    return OpmlDocument(feeds=reader.feeds, invalid=reader.invalid)


def export_opml(feeds: list[Feed], title: str = "media monitor feeds") -> str:
    """OPML 2.0 listing the feeds (name, URL, language when set)."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(datetime.now(UTC), usegmt=True)
    body = ET.SubElement(root, "body")
    for feed in feeds:
        attributes = {"type": "rss", "text": feed.name, "title": feed.name, "xmlUrl": feed.url}
        if feed.language:
            attributes["language"] = feed.language
        ET.SubElement(body, "outline", attributes)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _refuse_entity(*_: object) -> None:
    raise OpmlError("OPML with entity declarations is not accepted")


class _Reader:
    """expat callbacks: the outlines of the first <body> directly under <opml>."""

    def __init__(self, taken: Set[str]):
        self.parser: expat.XMLParserType | None = None
        self.depth = 0                  # elements open around the current one
        self.in_body = False
        self.body_seen = False
        self.feeds: list[OpmlFeed] = []
        self.invalid: list[OpmlProblem] = []
        self.url_lines: dict[str, int] = {}
        self.names = _UniqueNames(taken)

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        depth, self.depth = self.depth, self.depth + 1
        if depth == 0:
            if tag.lower() != "opml":
                raise OpmlError(f"not an OPML document: root element is <{tag}>")
        elif depth == 1 and tag == "body" and not self.body_seen:
            self.in_body = self.body_seen = True
        elif self.in_body and tag == "outline":
            self.outline(attributes)

    def end(self, tag: str) -> None:
        self.depth -= 1
        if self.depth == 1:
            self.in_body = False

    def outline(self, attributes: dict[str, str]) -> None:
        url = (attributes.get("xmlUrl") or attributes.get("xmlurl") or "").strip()
        if not url:
            return                      # a category folder (or a plain link)
        assert self.parser is not None
        line = self.parser.CurrentLineNumber
        if not _is_http_url(url):
            self.invalid.append(OpmlProblem(line, f"not an http(s) URL: {_shown(url)}"))
            return
        if url in self.url_lines:
            self.invalid.append(OpmlProblem(line, f"same URL as line {self.url_lines[url]}"))
            return
        self.url_lines[url] = line
        language = (attributes.get("language") or "").strip() or None
        name = self.names.claim(_name(attributes, url))
        self.feeds.append(OpmlFeed(name=name, url=url, language=language, line=line))


class _UniqueNames:
    """Hands out each name once: "Name", then "Name (2)", "Name (3)"…, never one in `taken`.

    The next number to try is kept per base name, so n outlines of one name cost O(n) set
    lookups in all, not O(n²). A candidate "Name (k)" is looked at for one base name only and
    at most once, because the counter of that base name only grows.
    """

    def __init__(self, taken: Set[str]):
        self.taken = taken              # not copied: it may be large, and is only read
        self.given: set[str] = set()
        self.next_number: dict[str, int] = {}

    def _free(self, name: str) -> bool:
        return name not in self.given and name not in self.taken

    def claim(self, base: str) -> str:
        if base not in self.next_number and self._free(base):
            self.next_number[base] = 2
            self.given.add(base)
            return base
        number = self.next_number.get(base, 2)
        while not self._free(candidate := f"{base} ({number})"):
            number += 1
        self.next_number[base] = number + 1
        self.given.add(candidate)
        return candidate


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:                  # e.g. an unclosed IPv6 bracket
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc)


def _name(attributes: dict[str, str], url: str) -> str:
    for key in ("text", "title"):
        value = " ".join((attributes.get(key) or "").split())
        if value:
            return value
    return urlsplit(url).hostname or url


def _shown(value: str) -> str:
    text = repr(value)
    return text if len(text) <= 120 else f"{text[:100]}…'"
