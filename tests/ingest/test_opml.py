"""OPML import (nested folders, missing names, duplicates) and export that reads back."""

from __future__ import annotations

import pytest

from monitor.config import FeedConfig
from monitor.ingest.opml import OpmlError, export_opml, parse_opml
from monitor.models import Feed
from tests.ingest.conftest import FEEDS


def test_import_reads_nested_outlines_and_makes_names_unique():
    feeds = parse_opml((FEEDS / "subscriptions.opml").read_bytes())

    assert feeds == [
        FeedConfig(name="Tagesschau", url="https://www.tagesschau.de/index~rss2.xml",
                   language="de"),
        FeedConfig(name="Only a title", url="https://feeds.example.com/only-title.xml"),
        FeedConfig(name="Tagesschau (2)", url="https://www.tagesschau.de/other~rss2.xml"),
        FeedConfig(name="heise.example.de", url="http://heise.example.de/rss/heise-atom.xml"),
    ]


def test_export_reads_back_to_the_same_feeds():
    feeds = [
        Feed(name="Tagesschau", url="https://www.tagesschau.de/index~rss2.xml", language="de"),
        Feed(name='Quotes "&" <angles>', url="https://example.com/feed?a=1&b=2"),
    ]

    document = export_opml(feeds)

    assert document.startswith("<?xml")
    assert '<opml version="2.0">' in document
    assert [(f.name, f.url, f.language) for f in parse_opml(document.encode("utf-8"))] == [
        ("Tagesschau", "https://www.tagesschau.de/index~rss2.xml", "de"),
        ('Quotes "&" <angles>', "https://example.com/feed?a=1&b=2", None),
    ]


def test_export_of_no_feeds_is_valid_opml():
    assert parse_opml(export_opml([]).encode()) == []


@pytest.mark.parametrize("data, reason", [
    (b"<opml><body><outline", "not well-formed XML"),
    (b"<rss version='2.0'/>", "not an OPML document: root element is <rss>"),
    (b"<opml version='2.0'><head/></opml>", "not an OPML document: no <body>"),
    (b'<?xml version="1.0"?><!DOCTYPE opml [<!ENTITY a "aaaa">]><opml><body/></opml>',
     "OPML with entity declarations is not accepted"),
])
def test_bad_opml_is_an_error_with_the_reason(data, reason):
    with pytest.raises(OpmlError) as error:
        parse_opml(data)
    assert str(error.value).startswith(reason)
