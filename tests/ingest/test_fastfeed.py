"""The lxml fast path must give the same articles as feedparser, or step aside (None).

Checked three ways: on every fixture, on every corpus feed (it must also take most of them, or
it is no fast path), and on generated RSS/Atom items with the elements whose precedence rules
it mirrors, in random order."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.ingest.fastfeed import parse_fast
from monitor.ingest.normalize import normalize_item
from monitor.ingest.parse import (
    FeedError,
    _trust_valid_utf8,
    parse_feed,
    parse_with_feedparser,
)
from monitor.models import Article
from tests.conftest import CORPUS
from tests.ingest.conftest import FEEDS

FEED_URL = "https://feeds.example.com/news/feed.xml"
NOW = datetime(2024, 6, 1, tzinfo=UTC)


def articles(items) -> list[Article]:
    return [normalize_item(item, source="src", feed_id=None, language_hint=None, fetched=NOW)
            for item in items]


def both_paths(body: bytes, content_type: str | None = None):
    """(fast result or None, feedparser result or None) for the same prepared body."""
    if body.startswith(b"\x1f\x8b"):
        body = gzip.decompress(body)
    body, content_type = _trust_valid_utf8(body, content_type)
    fast = parse_fast(body, content_type, FEED_URL)
    try:
        reference = parse_with_feedparser(body, content_type, FEED_URL)
    except FeedError:
        reference = None
    return fast, reference


def assert_same(fast, reference, where: str) -> None:
    assert reference is not None, f"{where}: the fast path read a body feedparser rejects"
    kept = [i for i in fast.items if i.title.strip() or i.text.strip() or i.url]
    assert articles(kept) == articles(reference.items), where
    assert (fast.format, fast.language, fast.title or None) == (
        reference.format, reference.language, reference.title), where


@pytest.mark.parametrize("name", sorted(p.name for p in FEEDS.glob("*.xml")))
@pytest.mark.parametrize("content_type", [None, "text/xml", "application/rss+xml; charset=utf-8"])
def test_fixtures_read_the_same_on_both_paths(name, content_type):
    fast, reference = both_paths((FEEDS / name).read_bytes(), content_type)

    if fast is not None:
        assert_same(fast, reference, name)


def test_the_fast_path_takes_the_plain_fixtures_and_leaves_the_rest():
    taken = {p.name for p in FEEDS.glob("*.xml") if both_paths(p.read_bytes())[0] is not None}

    assert taken == {"atom.xml", "empty.xml", "html-in-titles.xml", "iso-8859-1.xml",
                     "koi8-r.xml", "no-links-no-dates.xml", "rdf.xml", "rss092.xml", "rss2.xml",
                     "windows-1251.xml"}
    # Left to feedparser: a DOCTYPE with entities, broken XML, bytes not in the declared charset.


def test_every_corpus_feed_reads_the_same_and_most_items_go_fast():
    folder = CORPUS / "feeds"
    if not folder.is_dir():
        pytest.skip(f"shared corpus not found at {folder}")
    fast_items = all_items = 0
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        fast, reference = both_paths(path.read_bytes())
        all_items += len(reference.items) if reference else 0
        if fast is not None:
            assert_same(fast, reference, str(path.relative_to(folder)))
            fast_items += len(reference.items)
    assert fast_items / all_items > 0.9


@pytest.mark.parametrize("body", [
    (b'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "b">]><rss version="2.0"><channel>'
     b"<item><title>&a;</title></item></channel></rss>"),
    b'<rss version="2.0"><channel><item><title>x</title>',
    b'<rss version="2.0"><channel><item><title>a &nbsp; b</title></item></channel></rss>',
    b'<rss version="2.0"><channel><item><source><title>x</title></source></item></channel></rss>',
    b'<rss version="2.0"><channel><item><guid>1</guid><guid>2</guid></item></channel></rss>',
    (b'<rss version="2.0"><channel><item><description><b>raw</b></description></item>'
     b"</channel></rss>"),
    (b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><content type="image/png">AAAA'
     b"</content></entry></feed>"),
    b'<note><to>someone</to></note>',
])
def test_documents_it_does_not_fully_understand_go_to_feedparser(body):
    assert parse_fast(body, None, FEED_URL) is None


def test_a_charset_header_contradicting_the_document_goes_to_feedparser():
    body = (FEEDS / "iso-8859-1.xml").read_bytes()

    assert parse_fast(body, "application/rss+xml; charset=iso-8859-1", FEED_URL) is not None
    assert parse_fast(body, "application/rss+xml; charset=windows-1251", FEED_URL) is None


def _dated_rss(pub_date: str, dc_date: str | None = None) -> bytes:
    extra = f"<dc:date>{escape(dc_date)}</dc:date>" if dc_date is not None else ""
    return ('<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
            f"<item><title>t</title><link>https://example.com/a</link>"
            f"<pubDate>{escape(pub_date)}</pubDate>{extra}</item></channel></rss>").encode()


@pytest.mark.parametrize("date", [
    "Wed, 13 Sep 2023 10:30:00 +0200", "Tue, 10 Jun 2003 04:00:00 PST", "13 Sep 23 10:30 EST",
    "Sat, 05 Oct 2024 10:00:00 GMT+02:00", "2024-03-01T09:30:00.5-05:00", "2024-03-01",
    "2024-03", "20240301T09:30:00Z", "2024061", "Sun Nov  6 08:49:37 1994",
    "Seg, 15 Set 2014 10:00:00 -0300", "not a date", "", "0000-01-01", "9999-12-31T23:59:59-01:00",
])
def test_dates_read_the_same_on_both_paths(date):
    fast, reference = both_paths(_dated_rss(date))

    assert fast is not None
    assert_same(fast, reference, date)


@pytest.mark.parametrize("date", ["2024/01/05", "Fri, 2006/09/15 08:19:53 EDT", "12:30"])
def test_a_date_feedparser_reads_from_the_clock_or_by_a_rare_handler_goes_to_it(date):
    assert parse_fast(_dated_rss(date), None, FEED_URL) is None
    # ... but only when it is the date that counts: a readable pubDate comes first.
    fast, reference = both_paths(_dated_rss("Wed, 13 Sep 2023 10:30:00 +0200", dc_date=date))
    assert fast is not None
    assert_same(fast, reference, date)


def test_parse_feed_uses_the_fast_path_transparently():
    body = (FEEDS / "rss2.xml").read_bytes()

    assert parse_feed(body, None, FEED_URL) == parse_with_feedparser(body, None, FEED_URL)


# ------------------------------------------------------------- generated items, random order

_texts = st.sampled_from([
    "Plain words", "Café crème", "Путин и Ким",
    "&lt;p&gt;Escaped &amp;amp; paragraph&lt;/p&gt;", "a &lt;b&gt;bold&lt;/b&gt; move",
    "<![CDATA[<p>In CDATA</p><p>two</p>]]>", "  spaced   out  ", "", "x &amp; y",
    "&lt;br&gt;line&lt;br&gt;&lt;br&gt;para", "AT&amp;T &lt;3",
])
_links = st.sampled_from([
    "https://example.com/a?utm_source=x&amp;id=1", "/relative/path", "post-7", "",
    "HTTPS://Example.com/B#frag",
])
_guids = st.sampled_from(["1", "https://example.com/g/1", "tag:example.com,2024:9",
                          "0123456789abcdef0123", ""])
_dates = st.sampled_from(["Wed, 13 Sep 2023 10:30:00 +0200", "2024-03-01T09:30:00Z",
                          "not a date", "Thu, 14 Sep 2023 08:00:00 GMT", "2024-03-01",
                          "20240301T09:30+01", "Sun Nov  6 08:49:37 1994",
                          "2024-03-01T09:30:00+0530", "Tue, 10 Jun 03 04:00:00 PDT"])


def _rss_element(kind: str, draw) -> str:
    text = draw(_texts)
    if kind == "guid":
        permalink = draw(st.sampled_from(["", ' isPermaLink="false"', ' isPermaLink="true"']))
        return f"<guid{permalink}>{escape(draw(_guids))}</guid>"
    if kind in ("link", "atom:link"):
        link = draw(_links)
        if kind == "link":
            return f"<link>{link}</link>"
        rel = draw(st.sampled_from(["", ' rel="alternate"', ' rel="self"']))
        return f"<atom:link{rel} href={quoteattr(link.replace('&amp;', '&'))}/>"
    if kind in ("pubDate", "dc:date"):
        return f"<{kind}>{draw(_dates)}</{kind}>"
    if kind == "media:group":
        return f"<media:group><media:title>{text}</media:title>" \
               f"<media:description>{draw(_texts)}</media:description></media:group>"
    return f"<{kind}>{text}</{kind}>"


@st.composite
def rss_documents(draw) -> bytes:
    kinds = ["title", "link", "atom:link", "guid", "description", "content:encoded",
             "itunes:summary", "media:description", "media:title", "dc:title", "pubDate",
             "dc:date", "media:group", "category", "dc:creator"]
    items = []
    for _ in range(draw(st.integers(1, 3))):
        chosen = draw(st.lists(st.sampled_from(kinds), max_size=7, unique=True))
        items.append("<item>" + "".join(_rss_element(k, draw) for k in chosen) + "</item>")
    language = draw(st.sampled_from(["", "<language>de-DE</language>",
                                     "<dc:language>fr</dc:language>"]))
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:atom="http://www.w3.org/2005/Atom" '
        'xmlns:media="http://search.yahoo.com/mrss/" '
        'xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd">'
        f"<channel><title>Generated</title>{language}{''.join(items)}</channel></rss>"
    ).encode()


@st.composite
def atom_documents(draw) -> bytes:
    entries = []
    for _ in range(draw(st.integers(1, 3))):
        parts = []
        for kind in draw(st.lists(st.sampled_from(
                ["title", "id", "link", "link-self", "summary", "content", "updated", "published"]),
                max_size=6, unique=True)):
            text = draw(_texts)
            kind_type = draw(st.sampled_from(["", ' type="text"', ' type="html"', "xhtml"]))
            if kind == "id":
                parts.append(f"<id>{escape(draw(_guids))}</id>")
            elif kind == "link":
                parts.append(f"<link href={quoteattr(draw(_links).replace('&amp;', '&'))}/>")
            elif kind == "link-self":
                parts.append('<link rel="self" href="https://example.com/self"/>')
            elif kind in ("updated", "published"):
                parts.append(f"<{kind}>{draw(_dates)}</{kind}>")
            elif kind_type == "xhtml":
                parts.append(f'<{kind} type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">'
                             f"<p>First &amp; <b>bold</b> {text}</p><p>Second</p></div></{kind}>")
            else:
                parts.append(f"<{kind}{kind_type}>{text}</{kind}>")
        lang = draw(st.sampled_from(["", ' xml:lang="de"', ' xml:lang=""']))
        entries.append(f"<entry{lang}>{''.join(parts)}</entry>")
    base = draw(st.sampled_from(["", ' xml:base="https://base.example.org/dir/"']))
    return ('<?xml version="1.0" encoding="utf-8"?>'
            f'<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en"{base}><title>Gen</title>'
            f"{''.join(entries)}</feed>").encode()


def _rss_needs_feedparser(body: bytes) -> bool:
    """The generated combinations the fast path leaves to feedparser on purpose: an RSS link
    next to an alternate Atom link, or two media:description (one inside media:group)."""
    both_links = b"<link>" in body and (b"<atom:link/>" in body or b"<atom:link href" in body
                                        or b'<atom:link rel="alternate"' in body)
    two_descriptions = body.count(b"<media:description>") > 1
    return both_links or two_descriptions


@settings(max_examples=150, deadline=None)
@given(rss_documents())
def test_generated_rss_reads_the_same_on_both_paths(body):
    fast, reference = both_paths(body)

    if fast is None:
        assert _rss_needs_feedparser(body)
    else:
        assert_same(fast, reference, body.decode())


@settings(max_examples=100, deadline=None)
@given(atom_documents())
def test_generated_atom_reads_the_same_on_both_paths(body):
    fast, reference = both_paths(body)

    assert fast is not None
    assert_same(fast, reference, body.decode())
