"""OPML import (nested folders, missing names, duplicates, problems with their line) and
export that reads back."""

from __future__ import annotations

import pytest

from monitor.ingest.opml import (
    OpmlDocument,
    OpmlError,
    OpmlFeed,
    OpmlProblem,
    export_opml,
    parse_opml,
)
from monitor.models import Feed
from tests.ingest.conftest import FEEDS


def opml(*outlines: str) -> bytes:
    """An OPML document whose <body> starts on line 3, one outline a line from line 4."""
    body = "\n".join(outlines)
    return ('<?xml version="1.0"?>\n<opml version="2.0"><head/>\n<body>\n'
            f'{body}\n</body></opml>').encode()


def test_import_reads_nested_outlines_and_makes_names_unique():
    document = parse_opml((FEEDS / "subscriptions.opml").read_bytes())

    assert document.feeds == [
        OpmlFeed(name="Tagesschau", url="https://www.tagesschau.de/index~rss2.xml",
                 language="de", line=6),
        OpmlFeed(name="Only a title", url="https://feeds.example.com/only-title.xml",
                 language=None, line=7),
        OpmlFeed(name="Tagesschau (2)", url="https://www.tagesschau.de/other~rss2.xml",
                 language=None, line=8),
        OpmlFeed(name="heise.example.de", url="http://heise.example.de/rss/heise-atom.xml",
                 language=None, line=11),
    ]


def test_outlines_that_cannot_be_imported_are_reported_with_their_line():
    document = parse_opml((FEEDS / "subscriptions.opml").read_bytes())

    # Lines 5 and 10 are category folders and line 14 a plain link: no xmlUrl, no problem.
    assert document.invalid == [
        OpmlProblem(line=12, reason="same URL as line 7"),
        OpmlProblem(line=13, reason="not an http(s) URL: 'feed://example.com/rss'"),
    ]
    assert [str(p) for p in document.invalid] == [
        "line 12: same URL as line 7",
        "line 13: not an http(s) URL: 'feed://example.com/rss'",
    ]


def test_bad_urls_of_every_kind_are_reported_and_folders_are_not():
    document = parse_opml(opml(
        '<outline text="folder"><outline text="empty url" xmlUrl="  "/></outline>',
        '<outline text="ftp" xmlUrl="ftp://example.com/rss"/>',
        '<outline text="no host" xmlUrl="https://"/>',
        '<outline text="relative" xmlUrl="/rss.xml"/>',
        '<outline text="bad ipv6" xmlUrl="http://[::1/rss"/>',
        '<outline text="ok" xmlUrl=" HTTPS://Example.com/rss "/>',
        '<outline text="again" xmlUrl="HTTPS://Example.com/rss"/>',
        '<outline text="not the same" xmlUrl="https://example.com/rss"/>',
    ))

    assert [(f.name, f.url, f.line) for f in document.feeds] == [
        ("ok", "HTTPS://Example.com/rss", 9),
        ("not the same", "https://example.com/rss", 11),         # compared as written
    ]
    assert [str(p) for p in document.invalid] == [
        "line 5: not an http(s) URL: 'ftp://example.com/rss'",
        "line 6: not an http(s) URL: 'https://'",
        "line 7: not an http(s) URL: '/rss.xml'",
        "line 8: not an http(s) URL: 'http://[::1/rss'",
        "line 10: same URL as line 9",
    ]


def test_the_line_is_where_the_outline_starts():
    document = parse_opml(opml('<outline\n  text="wrapped"\n  xmlUrl="feed://x"/>',
                               '<outline text="after" xmlUrl="https://a.example/"/>'))
    assert document.invalid == [OpmlProblem(4, "not an http(s) URL: 'feed://x'")]
    assert document.feeds[0].line == 7


def test_names_collapse_whitespace_and_fall_back_to_title_then_host():
    document = parse_opml(opml(
        '<outline text="  Der \t Spiegel\n " xmlUrl="https://spiegel.example/rss"/>',
        '<outline text=" " title="Die  Zeit" xmlUrl="https://zeit.example/rss"/>',
        '<outline xmlUrl="https://taz.example:8080/rss"/>',
    ))
    assert [f.name for f in document.feeds] == ["Der Spiegel", "Die Zeit", "taz.example"]


def test_names_taken_by_stored_feeds_are_avoided():
    document = parse_opml(opml(
        '<outline text="zeit" xmlUrl="https://a.example/"/>',
        '<outline text="zeit" xmlUrl="https://b.example/"/>',
        '<outline text="taz" xmlUrl="https://c.example/"/>',
        '<outline text="zeit (2)" xmlUrl="https://d.example/"/>',
    ), taken={"zeit", "zeit (3)", "other"})
    assert [f.name for f in document.feeds] == ["zeit (2)", "zeit (4)", "taz", "zeit (2) (2)"]


class CountingSet(frozenset):
    """The `taken` names, counting how often the parser looks one up."""

    lookups = 0

    def __contains__(self, name: object) -> bool:
        CountingSet.lookups += 1
        return super().__contains__(name)


def test_twenty_thousand_outlines_of_one_name_get_unique_names_in_linear_work():
    n = 20_000
    taken = CountingSet({"N", "N (5)", "N (7)"})
    CountingSet.lookups = 0
    data = opml(*(f'<outline text="N" xmlUrl="https://example.com/{i}"/>' for i in range(n)))

    document = parse_opml(data, taken=taken)

    expected = [f"N ({k})" for k in range(2, n + 4) if k not in (5, 7)]
    assert [f.name for f in document.feeds] == expected
    assert len(set(expected)) == n
    # Each outline looks up its name once, plus once per taken name skipped: a quadratic
    # search (try "N", "N (2)", … for every outline) would make some 2·10⁸ lookups.
    assert CountingSet.lookups <= n + len(taken)


def test_document_is_a_frozen_value():
    document = parse_opml(opml())
    assert document == OpmlDocument(feeds=[], invalid=[])
    with pytest.raises(AttributeError):
        document.feeds = []  # type: ignore[misc]


def test_export_reads_back_to_the_same_feeds():
    feeds = [
        Feed(name="Tagesschau", url="https://www.tagesschau.de/index~rss2.xml", language="de"),
        Feed(name='Quotes "&" <angles>', url="https://example.com/feed?a=1&b=2"),
    ]

    document = export_opml(feeds)

    assert document.startswith("<?xml")
    assert '<opml version="2.0">' in document
    parsed = parse_opml(document.encode("utf-8"))
    assert [(f.name, f.url, f.language) for f in parsed.feeds] == [
        ("Tagesschau", "https://www.tagesschau.de/index~rss2.xml", "de"),
        ('Quotes "&" <angles>', "https://example.com/feed?a=1&b=2", None),
    ]
    assert parsed.invalid == []


def test_export_of_no_feeds_is_valid_opml():
    assert parse_opml(export_opml([]).encode()) == OpmlDocument(feeds=[], invalid=[])


@pytest.mark.parametrize("data, reason", [
    (b"<opml><body><outline", "not well-formed XML"),
    (b"", "not well-formed XML"),
    (b"<rss version='2.0'/>", "not an OPML document: root element is <rss>"),
    (b"<opml version='2.0'><head/></opml>", "not an OPML document: no <body>"),
    (b"<opml version='2.0'><head><body/></head></opml>", "not an OPML document: no <body>"),
    (b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa">]><opml><body/></opml>',
     "OPML with entity declarations is not accepted"),
    ('<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE opml [<!ENTITY a "aaaa">]>'
     '<opml><body/></opml>'.encode("utf-16"),
     "OPML with entity declarations is not accepted"),
])
def test_bad_opml_is_an_error_with_the_reason(data, reason):
    with pytest.raises(OpmlError) as error:
        parse_opml(data)
    assert str(error.value).startswith(reason)
