"""Normalisation: clean text with paragraphs, canonical URLs, language, time, hash, GUIDs;
and what the store makes of the result (deduplication across feeds)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.ingest.normalize import (
    canonical_url,
    clean_plain_text,
    clean_text,
    clean_title,
    content_hash,
    global_guid,
    normalize_item,
    stored_keys,
)
from monitor.ingest.parse import parse_feed
from monitor.models import Article, RawItem
from tests.ingest.conftest import FEEDS

FETCHED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def normalize(item: RawItem, source: str = "feed-a", hint: str | None = None) -> Article:
    return normalize_item(item, source=source, feed_id=None, language_hint=hint, fetched=FETCHED)


# ------------------------------------------------------------------------------ clean text

@pytest.mark.parametrize("raw, clean", [
    ("<p>One.</p><p>Two.</p>", "One.\n\nTwo."),
    ("<div>Block<div>nested</div></div>after", "Block\n\nnested\n\nafter"),
    ("line one<br>still one<br/><br />new paragraph", "line one still one\n\nnew paragraph"),
    ("<script>var x = '<p>';</script>Visible<style>p {}</style> text", "Visible text"),
    ("<SCRIPT type='text/javascript'>alert(1)</SCRIPT>ok", "ok"),
    ("unclosed <script>alert(1)", "unclosed"),
    ("<!-- a <p> comment -->kept", "kept"),
    ("Tom &amp; Jerry &quot;&#8220;&#x201D;&quot; caf&eacute;&nbsp;bar",
     'Tom & Jerry "“”" café bar'),
    ("<b>bold</b>and<i>italic</i> glued as written", "boldanditalic glued as written"),
    ("<ul><li>one</li><li>two</li></ul>", "one\n\ntwo"),
    ("<table><tr><td>a</td><td>b</td></tr></table>", "a b"),
    ("  lots   of \t\n spaces  ", "lots of spaces"),
    ("zero\u200bwidth\ufeff and soft\u00adhyphen", "zerowidth and softhyphen"),
    ("x < y and y > z", "x < y and y > z"),
    ("<![CDATA[inside cdata]]>", "inside cdata"),
    ("", ""),
])
def test_clean_text(raw, clean):
    assert clean_text(raw) == clean


def test_plain_text_keeps_blank_line_paragraphs_and_folds_hard_wraps():
    text = "First paragraph\nwrapped here.\r\n\r\n  \n\nSecond <b>not a tag</b>.\n"

    assert clean_plain_text(text) == "First paragraph wrapped here.\n\nSecond <b>not a tag</b>."


@pytest.mark.parametrize("raw, title", [
    ('<script>alert("x")</script>Breaking: <b>bold</b> news', "Breaking: bold news"),
    ("<p>Two</p><p>blocks</p>", "Two blocks"),
    ("Line\nbreaks\r\nand\ttabs", "Line breaks and tabs"),
    ("Fish &amp; Chips", "Fish & Chips"),
])
def test_titles_are_one_line_of_plain_text(raw, title):
    assert clean_title(raw) == title


_html_pieces = st.sampled_from([
    "<p>", "</p>", "<br>", "<div class='x'>", "</div>", "<script>", "</script>", "<style>",
    "&amp;", "&nbsp;", "&#x41;", "\n", "\n\n", " ", "\t", "<b>", "</b>", "<!--", "-->", "<",
    ">", "&", "word", "Wort", "слово", "\u200b",
])


@given(st.lists(st.one_of(_html_pieces, st.text(max_size=8)), max_size=40).map("".join))
def test_clean_text_output_is_always_in_normal_form(raw):
    text = clean_text(raw)

    assert text == text.strip()
    assert "\n\n\n" not in text
    for paragraph in text.split("\n\n") if text else []:
        assert paragraph and paragraph == " ".join(paragraph.split())
    assert clean_plain_text(text) == text            # already normal: nothing left to fold


# ---------------------------------------------------------------------------- canonical URLs

@pytest.mark.parametrize("url, canonical", [
    ("HTTPS://News.Example.COM/a/b?utm_source=rss&utm_medium=feed&id=42#comments",
     "https://news.example.com/a/b?id=42"),
    ("https://example.com/x?fbclid=abc&gclid=def&page=2&mc_cid=1",
     "https://example.com/x?page=2"),
    ("https://example.com/x?b=2&a=1", "https://example.com/x?b=2&a=1"),       # order kept
    ("http://example.com:80/x", "http://example.com/x"),
    ("https://example.com:443", "https://example.com/"),
    ("https://example.com:8443/x", "https://example.com:8443/x"),
    ("https://example.com/Case/Path?Q=Keep", "https://example.com/Case/Path?Q=Keep"),
    ("  https://example.com/x#top  ", "https://example.com/x"),
    ("https://example.com/?utm_campaign=x", "https://example.com/"),
    ("tag:example.com,2024:1", "tag:example.com,2024:1"),
    ("http://[::1", "http://[::1"),
])
def test_canonical_url(url, canonical):
    assert canonical_url(url) == canonical


def test_language_precedence_hint_then_declared_then_detected():
    german = RawItem(title="Neues Gesetz beschlossen",
                     text="Der Bundestag hat am Freitag ein neues Gesetz beschlossen.")

    assert normalize(german).language == "de"                                    # detected
    declared = replace(german, language="en-GB")
    assert normalize(declared).language == "en"                                  # declared
    assert normalize(declared, hint="fr").language == "fr"                       # hint


def test_language_is_detected_on_a_bounded_prefix_of_long_texts():
    long_german = "Der Bundestag hat ein neues Gesetz beschlossen. " * 5000 + "English " * 50000

    assert normalize(RawItem(title="Gesetz", text=long_german)).language == "de"


# ------------------------------------------------------------------------- times and hashes

def test_published_is_converted_to_utc_and_falls_back_to_fetch_time():
    plus_two = timezone(timedelta(hours=2))
    item = RawItem(title="t", text="x", published=datetime(2024, 5, 1, 10, 0, tzinfo=plus_two))

    assert normalize(item).published == datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
    assert normalize(RawItem(title="t", text="x")).published == FETCHED
    naive = RawItem(title="t", text="x", published=datetime(2024, 5, 1, 10, 0))
    assert normalize(naive).published == datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def test_content_hash_ignores_case_whitespace_and_markup_but_not_words():
    plain = normalize(RawItem(title="Kim meets Putin", text="They met.\n\nThey talked.",
                              text_is_html=False))
    html = normalize(RawItem(title="<b>KIM</b>  meets putin",
                             text="<p>They   met.</p><p>They talked.</p>"))
    other = normalize(RawItem(title="Kim meets Putin", text="They met. They argued."))

    assert plain.content_hash == html.content_hash
    assert plain.content_hash != other.content_hash
    assert content_hash("a", "b c") != content_hash("a b", "c")


# ------------------------------------------------------------------------------------ GUIDs

@pytest.mark.parametrize("guid, stored", [
    ("https://example.com/a/1", "https://example.com/a/1"),
    ("tag:example.com,2024:1", "tag:example.com,2024:1"),
    ("urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a",
     "urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a"),
    ("a1b2c3d4e5f6a7b8", "a1b2c3d4e5f6a7b8"),                   # 16 characters: opaque id
    ("1", "feed-a:1"),
    ("post-123", "feed-a:post-123"),
    ("  42 ", "feed-a:42"),
    ("", None),
    (None, None),
])
def test_global_guid(guid, stored):
    assert global_guid(guid, "feed-a") == stored


def test_normalize_item_gives_a_complete_article():
    feed = parse_feed((FEEDS / "rss2.xml").read_bytes(), "application/rss+xml",
                      "https://news.example.com/rss")

    article = normalize_item(feed.items[0], source="example", feed_id=7, language_hint=None,
                             fetched=FETCHED, full_text_status=None)

    assert article == Article(
        title="Kim Jong Un meets Putin at the Vostochny cosmodrome",
        text=("North Korean leader Kim Jong Un met Russian President Vladimir Putin on "
              'Wednesday.\n\nThe two leaders discussed "military cooperation" & satellites.'),
        url="https://news.example.com/world/kim-putin-meeting?id=42",
        guid="example:1",
        source="example",
        language="en",
        published=datetime(2023, 9, 13, 8, 30, tzinfo=UTC),
        fetched=FETCHED,
        content_hash=article.content_hash,
        feed_id=7,
    )
    assert len(article.content_hash) == 64


def test_items_without_title_get_one_from_their_text():
    long_text = "A sentence that goes on " + "and on " * 40 + "until the end."

    assert normalize(RawItem(title="", text="Short text. Second.")).title == "Short text. Second."
    title = normalize(RawItem(title="  ", text=long_text)).title
    assert title.endswith("…") and len(title) <= 121 and long_text.startswith(title[:-1])


def test_an_item_declaring_its_own_source_keeps_it():
    reuters = RawItem(title="t", text="x", source="Reuters")
    assert normalize(reuters, source="seeds").source == "Reuters"
    assert normalize(RawItem(title="t", text="x"), source="seeds").source == "seeds"


def test_links_that_are_not_http_are_not_article_urls():
    assert normalize(RawItem(title="t", text="x", url="tag:example.com,2024:1")).url is None
    assert normalize(RawItem(title="t", text="x", url="  ")).url is None


def test_stored_keys_match_what_normalize_item_stores():
    item = RawItem(title="t", text="x", guid="3", url="https://Example.com/a?utm_source=x")
    article = normalize(item, source="feed-b")

    assert stored_keys(item, "feed-b") == (article.guid, article.url) == (
        "feed-b:3", "https://example.com/a")


# ------------------------------------------------------------- deduplication in the store

def _articles(source: str, items: list[RawItem]) -> list[Article]:
    return [normalize(item, source=source) for item in items]


def test_junk_guids_from_two_feeds_do_not_collide(db):
    feed_a = _articles("feed-a", [RawItem(title="Alpha news", text="About alpha.", guid="1")])
    feed_b = _articles("feed-b", [RawItem(title="Beta news", text="About beta.", guid="1")])

    assert len(db.add_articles(feed_a)) == 1
    assert len(db.add_articles(feed_b)) == 1


def test_the_same_global_guid_through_two_feeds_is_stored_once(db):
    guid = "tag:agency.example,2024:story-991"
    first = _articles("feed-a", [RawItem(title="Agency story", text="Wire text.", guid=guid)])
    second = _articles("feed-b", [RawItem(title="Agency story (updated)", text="Wire text, edited.",
                                          guid=guid)])

    assert len(db.add_articles(first)) == 1
    assert db.add_articles(second) == []


def test_the_same_page_through_a_tracking_link_is_stored_once(db):
    clean = _articles("feed-a", [RawItem(title="Page", text="Text one.",
                                         url="https://example.com/story")])
    tracked = _articles("feed-b", [RawItem(title="Page!", text="Text two.",
                                           url="https://EXAMPLE.com/story?utm_source=x#top")])

    assert len(db.add_articles(clean)) == 1
    assert db.add_articles(tracked) == []


def test_the_same_text_arriving_twice_is_stored_once(db):
    first = _articles("feed-a", [RawItem(title="Same words", text="<p>Identical   body.</p>",
                                         guid="tag:a,2024:1", url="https://a.example/1")])
    again = _articles("feed-b", [RawItem(title="SAME words", text="Identical body.",
                                         guid="tag:b,2024:9", url="https://b.example/9",
                                         text_is_html=False)])

    assert len(db.add_articles(first)) == 1
    assert db.add_articles(again) == []
