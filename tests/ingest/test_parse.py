"""parse_feed on fixture bytes: every feed format, charsets, and bodies that are no feed."""

from __future__ import annotations

import gzip
import json
import resource
import time
from datetime import UTC, datetime

import pytest

from monitor.ingest.parse import (
    FeedError,
    ParsedFeed,
    parse_feed,
    parse_with_feedparser,
)
from monitor.models import RawItem
from tests.ingest.conftest import FEEDS

FEED_URL = "https://feeds.example.com/path/feed"


def parse_fixture(name: str, content_type: str | None = None) -> ParsedFeed:
    return parse_feed((FEEDS / name).read_bytes(), content_type, FEED_URL)


def test_rss_2_0():
    feed = parse_fixture("rss2.xml", "application/rss+xml")

    assert (feed.format, feed.title, feed.language) == ("rss20", "Example World News", "en-us")
    first, second, third = feed.items
    assert first == RawItem(
        title="Kim Jong Un meets Putin at the Vostochny cosmodrome",
        text=("<p>North Korean leader Kim Jong Un met Russian President Vladimir Putin on "
              "Wednesday.</p><script>trackReader();</script><p>The two leaders discussed "
              "&quot;military cooperation&quot; &amp; satellites.</p>"),
        url=("https://News.Example.com/world/kim-putin-meeting?utm_source=rss&utm_medium=feed"
             "&id=42#comments"),
        guid="1",
        published=datetime(2023, 9, 13, 8, 30, tzinfo=UTC),
        language="en-us",
    )
    # content:encoded is longer than the description, so it is the text.
    assert second.text.startswith("<div><p>Stocks rose sharply on Thursday after the central")
    assert second.guid == "https://news.example.com/business/markets-rally"
    assert third.guid == "weather-2023-09-15-storms"
    assert third.published == datetime(2023, 9, 15, 6, 15, tzinfo=UTC)


def test_rss_0_92():
    feed = parse_fixture("rss092.xml")

    assert feed.format == "rss092"
    assert [(i.title, i.url) for i in feed.items] == [
        ("First item of an old feed", "http://old.example.com/first")]


def test_atom_with_relative_links_and_declared_language():
    feed = parse_fixture("atom.xml", "application/atom+xml")

    assert (feed.format, feed.title, feed.language) == ("atom10", "Beispiel Nachrichten", "de-DE")
    first, second = feed.items
    assert first.title == "Bundestag beschließt <em>neues</em> Gesetz"
    assert first.url == "https://feeds.example.com/politik/gesetz"      # resolved against the feed
    assert first.guid == "tag:nachrichten.example.de,2024:artikel-1"
    assert first.published == datetime(2024, 3, 1, 8, 30, tzinfo=UTC)   # +01:00 → UTC
    assert first.text_is_html and first.language == "de-DE"
    # type="text" stays plain text; only <updated> → published falls back to it.
    assert not second.text_is_html
    assert second.published == datetime(2024, 3, 2, 7, 0, tzinfo=UTC)


def test_rdf_rss_1_0():
    feed = parse_fixture("rdf.xml")

    assert (feed.format, feed.language) == ("rss10", "fr")
    assert [(i.title, i.guid, i.published) for i in feed.items] == [
        ("Le gouvernement présente son budget", "https://rdf.example.org/a",
         datetime(2024, 5, 2, 12, 0, tzinfo=UTC)),
        ("Grève dans les transports lundi", "https://rdf.example.org/b",
         datetime(2024, 5, 3, 8, 0, tzinfo=UTC)),
    ]


def test_json_feed_1_0():
    feed = parse_fixture("jsonfeed10.json", "application/json")

    assert (feed.format, feed.title, feed.language) == ("json1", "JSON Feed One", None)
    assert feed.items == [
        RawItem(title="", text="This is a second item. It has plain text content and no title.",
                url="https://json.example.com/2?fbclid=abc123", guid="2", text_is_html=False),
        RawItem(title="First post on the JSON feed",
                text="<p>Hello, <strong>world</strong>!</p><p>Second paragraph &amp; more.</p>",
                url="https://feeds.example.com/posts/1", guid="1",
                published=datetime(2010, 2, 7, 19, 4, tzinfo=UTC)),
    ]


def test_json_feed_1_1_is_recognised_without_a_json_content_type():
    feed = parse_fixture("jsonfeed11.json", "text/plain")

    assert (feed.format, feed.language) == ("json1.1", "de-DE")
    german, english = feed.items
    assert german.language == "de-DE"             # the feed's language
    assert english.language == "en"               # the item's own
    assert not english.text_is_html and english.text.startswith("A new bridge")
    assert english.published == datetime(2024, 6, 3, 8, 0, tzinfo=UTC)   # date_modified


@pytest.mark.parametrize("body, reason", [
    (b'{"version": "1", "items": []}', "not a JSON Feed: unknown version '1'"),
    (b'{"version": "https://jsonfeed.org/version/1.1"}',
     "not a JSON Feed: 'items' is missing or not a list"),
    (b'[1, 2]', "not a JSON Feed: the document is not a JSON object"),
    (b'{"version": ', "invalid JSON: Expecting value (line 1, column 13)"),
])
def test_json_that_is_no_json_feed_is_a_feed_error(body, reason):
    with pytest.raises(FeedError) as error:
        parse_feed(body, "application/json", FEED_URL)
    assert str(error.value) == reason
    assert error.value.not_a_feed == reason.startswith("not a JSON Feed")   # broken JSON: failing


@pytest.mark.parametrize("fixture", ["windows-1251.xml", "koi8-r.xml"])
@pytest.mark.parametrize("content_type", [None, "text/xml", "application/rss+xml; charset=utf-8"])
def test_cyrillic_legacy_charsets_decode_to_readable_text(fixture, content_type):
    # Declared in the XML prolog; a missing or wrong charset in the HTTP header must not win.
    feed = parse_fixture(fixture, content_type)

    assert feed.title == "Новости дня"
    assert [i.title for i in feed.items] == ["Путин встретился с Ким Чен Ыном",
                                              "Ёлки и ёжики: зима в Сибири"]
    assert "космодроме Восточный" in feed.items[0].text


@pytest.mark.parametrize("fixture", ["iso-8859-1.xml", "latin1-undeclared.xml"])
@pytest.mark.parametrize("content_type", [None, "text/xml; charset=utf-8"])
def test_latin1_with_and_without_declaration(fixture, content_type):
    feed = parse_fixture(fixture, content_type)

    assert feed.title == "Nachrichten für Bürger"
    assert feed.items[0].title == "Größere Brücken für Düsseldorf"
    assert "äußern" in feed.items[0].text


def test_an_empty_feed_is_valid_and_has_no_items():
    feed = parse_fixture("empty.xml")

    assert feed == ParsedFeed(items=[], title="Nothing here yet", language=None, format="rss20")


def test_items_without_links_dates_or_guids():
    feed = parse_fixture("no-links-no-dates.xml")

    assert [(i.url, i.guid, i.published) for i in feed.items] == [
        (None, None, None),
        (None, None, None),
        # feedparser treats <guid>7</guid> as a permalink; "7" is no URL, so no link either.
        (None, "7", None),
    ]
    assert feed.items[1].title == ""


def test_html_and_scripts_in_titles_are_passed_on_for_normalisation():
    feed = parse_fixture("html-in-titles.xml")

    assert feed.items[0].title == ('<script>alert("pwned")</script>Breaking: <b>bold</b> news')


def test_a_billion_laughs_is_refused_with_a_clear_reason():
    with pytest.raises(FeedError) as error:
        parse_fixture("billion-laughs.xml")
    assert str(error.value) == ("refused: the document declares XML entities "
                                "(an entity-expansion attack?)")


def test_feedparser_alone_would_not_expand_a_billion_laughs_either():
    # The second line of defence, should a declaration slip past the check (e.g. beyond 64 kB).
    body = (FEEDS / "billion-laughs.xml").read_bytes()
    usage_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()

    feed = parse_with_feedparser(body, None, FEED_URL)

    assert time.monotonic() - started < 10                   # ended, did not hang
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - usage_before
    assert grown_kib < 50_000
    assert all("lollol" not in item.title + item.text for item in feed.items)
    assert "lollol" not in (feed.title or "")


@pytest.mark.parametrize("fixture, reason", [
    ("notafeed.html", "not a feed: the server sent an HTML page"),
    ("article.html", "not a feed: the server sent an HTML page"),
    ("malformed.xml", "malformed XML, no entries found: not well-formed (invalid token) (line 2)"),
])
def test_bodies_without_a_feed_raise_feed_error_with_the_reason(fixture, reason):
    with pytest.raises(FeedError) as error:
        parse_fixture(fixture, "text/html" if fixture.endswith(".html") else None)
    assert str(error.value) == reason
    # an HTML page is no feed (the feed may be silent); malformed XML is a broken one (failing)
    assert error.value.not_a_feed == fixture.endswith(".html")


@pytest.mark.parametrize("body, reason", [
    (b"", "empty response body"),
    (b"  \n ", "empty response body"),
    (b"<?xml version='1.0'?><note><to>someone</to></note>",
     "not a feed: no RSS, Atom or RDF document found"),
    (b"just some text, no markup at all", "not a feed: the body is neither XML nor JSON"),
])
def test_other_non_feeds(body, reason):
    with pytest.raises(FeedError) as error:
        parse_feed(body, None, FEED_URL)
    assert str(error.value) == reason
    assert error.value.not_a_feed


def test_a_gzipped_body_served_without_content_encoding_is_unpacked():
    body = gzip.compress((FEEDS / "rss2.xml").read_bytes())

    feed = parse_feed(body, "application/x-gzip", FEED_URL)

    assert len(feed.items) == 3


def test_a_gzip_bomb_inside_the_body_stops_at_the_cap():
    bomb = gzip.compress(b"\0" * (8 * 1024 * 1024))

    with pytest.raises(FeedError) as error:
        parse_feed(bomb, None, FEED_URL, max_bytes=1024 * 1024)
    assert str(error.value) == "body larger than 1,048,576 bytes after decompression"
    assert not error.value.not_a_feed


def test_json_feed_items_of_odd_types_are_skipped_or_coerced():
    document = {"version": "https://jsonfeed.org/version/1.1", "items": [
        None, "text", {"id": 17, "title": 5, "content_text": "Numeric id."},
        {"id": "x", "content_text": "Bad date.", "date_published": "yesterday"},
    ]}

    feed = parse_feed(json.dumps(document).encode(), None, FEED_URL)

    assert [(i.guid, i.title, i.text, i.published) for i in feed.items] == [
        ("17", "", "Numeric id.", None),
        ("x", "", "Bad date.", None),
    ]


@pytest.mark.parametrize("prolog, content_type", [
    ("utf-8", "application/atom+xml; charset=windows-1251"),
    ("windows-1251", None),
    ("ISO-8859-1", "text/xml; charset=iso-8859-1"),
])
def test_utf8_mislabelled_as_a_legacy_charset_is_read_as_utf8(prolog, content_type):
    body = (FEEDS / "atom.xml").read_bytes().replace(b'encoding="utf-8"',
                                                      f'encoding="{prolog}"'.encode())

    feed = parse_feed(body, content_type, FEED_URL)

    assert feed.items[1].title == "Wetter: Sturm über Norddeutschland"
