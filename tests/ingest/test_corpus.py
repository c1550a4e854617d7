"""Robustness over every real-world feed file in the shared corpus: nothing crashes, feeds
yield clean articles, legacy charsets come out readable, titles agree with rss-parser's
expected results. Skipped (with the reason) where the corpus is absent."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.ingest.normalize import clean_title, normalize_item
from monitor.ingest.parse import FeedError, ParsedFeed, parse_feed
from monitor.models import Article
from tests.conftest import CORPUS

FEEDS_DIR = CORPUS / "feeds"
NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)

# Files in the corpus that are no feed (HTML pages, XML of another kind); plus rss-parser's
# expected-output JSON files, which are JSON but no JSON Feed.
NOT_FEEDS = {
    "danmactough+node-feedparser/notafeed.html",
    "miniflux+v2/encoding/iso-8859-1-meta-after-1024.html",
    "miniflux+v2/encoding/iso-8859-1.html",
    "miniflux+v2/encoding/utf8-meta-after-1024.html",
    "miniflux+v2/encoding/utf8.html",
    "miniflux+v2/xml/iso88591.xml",
    "miniflux+v2/xml/iso88591_utf8_mismatch.xml",
    "rbren+rss-parser/input/unrecognized.rss",
}
# Feeds whose entries carry a title only (RDF without descriptions, minimal test files).
TITLE_ONLY_FEEDS = {
    "danmactough+node-feedparser/atom-with-tag-uri-links.xml",
    "danmactough+node-feedparser/rss-with-trailing-meta.xml",
    "miniflux+v2/encoding/invalid-prolog.xml",
    "miniflux+v2/encoding/utf8-incorrect-prolog.xml",
    "miniflux+v2/encoding/utf8.xml",
    "rbren+rss-parser/input/rss-1.rss",
    "rbren+rss-parser/input/xml2js-options.rss",
}
MOJIBAKE = re.compile("[\ufffd]|Ã[\u0080-\u00bf]|Ð[\u0080-\u00bf]|Ñ[\u0080-\u00bf]|â€|Гј")


def corpus_files() -> list[Path]:
    if not FEEDS_DIR.is_dir():
        return []
    return sorted(p for p in FEEDS_DIR.rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def parsed() -> dict[str, ParsedFeed | FeedError]:
    if not FEEDS_DIR.is_dir():
        pytest.skip(f"shared corpus not found at {FEEDS_DIR}")
    results: dict[str, ParsedFeed | FeedError] = {}
    for path in corpus_files():
        name = path.relative_to(FEEDS_DIR).as_posix()
        try:
            results[name] = parse_feed(path.read_bytes(), None, f"https://corpus.example/{name}")
        except FeedError as error:
            results[name] = error
    return results


def articles(feed: ParsedFeed, source: str = "corpus") -> list[Article]:
    return [normalize_item(item, source=source, feed_id=None, language_hint=None, fetched=NOW)
            for item in feed.items]


def test_the_corpus_is_there_and_nothing_in_it_crashes_the_parser(parsed):
    # Reaching this point means every file gave a ParsedFeed or a FeedError, nothing else.
    assert len(parsed) >= 100


def test_exactly_the_non_feeds_are_rejected_with_a_reason(parsed):
    rejected = {name for name, result in parsed.items() if isinstance(result, FeedError)}

    expected_json = {n for n in parsed if n.startswith("rbren+rss-parser/expected_output/")}
    assert rejected == NOT_FEEDS | expected_json
    for name in NOT_FEEDS:
        assert str(parsed[name]).startswith("not a feed:"), name


def test_feeds_yield_articles_with_titles_and_text(parsed):
    total = with_text = 0
    for name, result in parsed.items():
        if isinstance(result, FeedError):
            continue
        found = articles(result)
        total += len(found)
        with_text += sum(bool(a.text) for a in found)
        for article in found:
            assert article.title and "\n" not in article.title, name
            assert "<" not in article.title or not re.search(r"</?[a-z]+[ >]", article.title), name
            assert article.language and article.content_hash, name
            assert article.published.tzinfo is UTC, name
            assert article.text == article.text.strip() and "\n\n\n" not in article.text, name
        if found and name not in TITLE_ONLY_FEEDS:
            assert any(a.text for a in found), f"{name}: no article has text"
    assert total > 1500
    assert with_text / total > 0.9


def test_no_mojibake_anywhere(parsed):
    for name, result in parsed.items():
        if isinstance(result, FeedError):
            continue
        for article in articles(result):
            assert not MOJIBAKE.search(article.title + article.text), (name, article.title)


@pytest.mark.parametrize("name, first_title", [
    ("miniflux+v2/parser/encoding_WINDOWS-1251.xml", "Цитата #17703"),
    ("danmactough+node-feedparser/iconv.xml",
     "В Бузулуке главные стройплощадки – детсад и Ледовый дворец"),
    ("danmactough+node-feedparser/compressed.xml",          # gzipped windows-1251
     "В Бузулуке главные стройплощадки – детсад и Ледовый дворец"),
    ("miniflux+v2/xml/koi8r.xml", "Первая новость"),
    ("miniflux+v2/encoding/koi8r.xml", "Первая новость"),
])
def test_cyrillic_feeds_decode_to_readable_russian(parsed, name, first_title):
    found = articles(parsed[name])

    assert found[0].title.startswith(first_title)
    assert all(a.language == "ru" for a in found)
    assert all(re.search("[а-яё]", a.title + a.text, re.IGNORECASE) for a in found)


@pytest.mark.parametrize("name, words", [
    ("miniflux+v2/parser/encoding_ISO-8859-1.xml", ["wünschen"]),
    ("miniflux+v2/parser/no_encoding_ISO-8859-1.xml", ["études", "répandue", "diffère"]),
    ("miniflux+v2/encoding/iso-8859-1.xml", []),
    ("rbren+rss-parser/input/encoding.rss", ["Mãe"]),
])
def test_latin1_feeds_keep_their_accents(parsed, name, words):
    text = " ".join(a.title + " " + a.text for a in articles(parsed[name]))

    for word in words:
        assert word in text, word


def test_channel_titles_in_declared_and_mislabelled_charsets(parsed):
    assert parsed["miniflux+v2/encoding/iso-8859-1.xml"].title == "Café"
    assert parsed["miniflux+v2/encoding/windows-1252.xml"].title == "Euro €"
    # UTF-8 bytes behind a windows-1252 prolog.
    assert parsed["miniflux+v2/encoding/windows-1252-incorrect-prolog.xml"].title == "Euro €"
    assert parsed["miniflux+v2/encoding/utf8-incorrect-prolog.xml"].title == "테스트 피드"


def _expected_titles(path: Path) -> list[str]:
    raw = path.read_bytes()
    try:
        document = json.loads(raw)
    except UnicodeDecodeError:
        document = json.loads(raw.decode("latin-1"))
    return [clean_title(item.get("title") or "") for item in document["feed"]["items"]]


def test_titles_agree_with_rss_parsers_expected_output(parsed):
    expected_dir = FEEDS_DIR / "rbren+rss-parser" / "expected_output"
    compared = 0
    for expected in sorted(expected_dir.glob("*.json")):
        inputs = sorted((FEEDS_DIR / "rbren+rss-parser" / "input").glob(expected.stem + ".*"))
        want = _expected_titles(expected)
        if not inputs or not any(want):
            continue      # items with no title at all: we drop such husks, rss-parser keeps them
        name = inputs[0].relative_to(FEEDS_DIR).as_posix()
        got = [clean_title(item.title) for item in parsed[name].items]
        if expected.stem == "uolNoticias":
            # rss-parser's own output has U+FFFD where the Portuguese accents were.
            assert "simulações de 2º turno" in got[0]
            continue
        assert got == want, name
        compared += len(got)
    assert compared > 1200
