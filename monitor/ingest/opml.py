"""Feed lists in and out as OPML, the format every feed reader imports and exports.

Import reads every outline with an `xmlUrl` at any depth (readers nest feeds in category
folders); names come from `text`, else `title`, else the URL's host, made unique because the
config requires unique feed names. Export writes OPML 2.0 that reads back to the same names,
URLs and languages.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit

from monitor.config import FeedConfig
from monitor.models import Feed


class OpmlError(Exception):
    """The data is not an OPML document we can read; the message says why."""


def parse_opml(data: bytes) -> list[FeedConfig]:
    """The http(s) feeds listed in an OPML document, in document order, without duplicate
    URLs."""
    if b"<!ENTITY" in data:
        # Entity declarations have no use in OPML and are the vehicle of expansion attacks.
        raise OpmlError("OPML with entity declarations is not accepted")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise OpmlError(f"not well-formed XML: {exc}") from exc
    if root.tag.lower() != "opml":
        raise OpmlError(f"not an OPML document: root element is <{root.tag}>")
    body = root.find("body")
    if body is None:
        raise OpmlError("not an OPML document: no <body>")
    feeds: list[FeedConfig] = []
    names: set[str] = set()
    urls: set[str] = set()
    for outline in body.iter("outline"):
        url = (outline.get("xmlUrl") or outline.get("xmlurl") or "").strip()
        if not url.lower().startswith(("http://", "https://")) or url in urls:
            continue
        urls.add(url)
        name = _unique(_name(outline, url), names)
        names.add(name)
        language = (outline.get("language") or "").strip() or None
        feeds.append(FeedConfig(name=name, url=url, language=language))
    return feeds


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


def _name(outline: ET.Element, url: str) -> str:
    for key in ("text", "title"):
        value = " ".join((outline.get(key) or "").split())
        if value:
            return value
    return urlsplit(url).hostname or url


def _unique(name: str, taken: set[str]) -> str:
    candidate, number = name, 2
    while candidate in taken:
        candidate = f"{name} ({number})"
        number += 1
    return candidate
