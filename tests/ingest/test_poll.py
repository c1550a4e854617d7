"""poll_feeds and fill_full_text against a real HTTP server: many feeds at once, every bad
input recorded on its own feed, conditional GET, and full-text pages."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from monitor.config import FetchConfig
from monitor.ingest.fetch import Fetcher
from monitor.ingest.normalize import normalize_item
from monitor.ingest.poll import fill_full_text, full_text_status, poll_feeds
from monitor.models import Feed, RawItem
from tests.ingest.conftest import FEEDS, TEST_FETCH

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def feed(name: str, url: str, **fields) -> Feed:
    return Feed(name=name, url=url, id=abs(hash(name)) % 10_000, **fields)


async def test_every_format_is_polled_at_once(feed_server, fetcher):
    feeds = [feed(name, feed_server.url(f"/files/{name}"))
             for name in ("rss2.xml", "rss092.xml", "atom.xml", "rdf.xml", "jsonfeed10.json",
                          "jsonfeed11.json", "empty.xml")]

    outcomes = await poll_feeds(feeds, fetcher, NOW)

    assert [o.feed.name for o in outcomes] == [f.name for f in feeds]
    assert [len(o.items) for o in outcomes] == [3, 1, 2, 2, 2, 2, 0]
    for outcome in outcomes:
        assert outcome.error is None and outcome.status == 200
        assert outcome.feed.error_count == 0 and outcome.feed.last_ok == NOW
        assert outcome.feed.next_due == NOW + timedelta(seconds=600)
        assert outcome.feed.etag and outcome.etag == outcome.feed.etag


async def test_bad_feeds_are_recorded_and_never_stall_the_good_ones(feed_server, fetcher,
                                                                   closed_port):
    feed_server.publish_file("/html.xml", "notafeed.html", "text/html; charset=utf-8")
    feed_server.publish_file("/broken.xml", "malformed.xml")
    good = feed("good", feed_server.url("/files/rss2.xml"))
    bad = {
        "refused": (f"http://127.0.0.1:{closed_port}/feed.xml", "connection refused"),
        "gone": (feed_server.url("/_status/404"), "HTTP 404 Not Found"),
        "broken server": (feed_server.url("/_status/500"), "HTTP 500 Internal Server Error"),
        "drip": (feed_server.url("/_drip"), "timed out after 1.5s"),
        "stall": (feed_server.url("/_stall"), "timed out after 1.5s"),
        "huge": (feed_server.url("/_huge?mb=100"),
                 "body too large: 104,857,600 bytes announced, limit 1,048,576"),
        "bomb": (feed_server.url("/_gzip-bomb"),
                 "body too large: more than 1,048,576 bytes after decompression"),
        "loop": (feed_server.url("/_redirect-loop"), "too many redirects (more than 3)"),
        "html": (feed_server.url("/html.xml"), "not a feed: the server sent an HTML page"),
        "malformed": (feed_server.url("/broken.xml"),
                      "malformed XML, no entries found: not well-formed (invalid token) (line 2)"),
        "laughs": (feed_server.url("/files/billion-laughs.xml"),
                   "refused: the document declares XML entities (an entity-expansion attack?)"),
    }
    feeds = [feed(name, url) for name, (url, _) in bad.items()] + [good]

    started = time.monotonic()
    outcomes = await poll_feeds(feeds, fetcher, NOW)
    elapsed = time.monotonic() - started

    by_name = {o.feed.name: o for o in outcomes}
    for name, (_, reason) in bad.items():
        outcome = by_name[name]
        assert (outcome.error, outcome.feed.last_error) == (reason, reason), name
        assert outcome.items == [] and outcome.feed.error_count == 1
        assert outcome.feed.next_due == NOW + timedelta(seconds=1200)
    assert by_name["good"].error is None and len(by_name["good"].items) == 3
    # The two slow feeds (drip, stall) ran side by side: one deadline, not one each.
    assert elapsed < 2 * TEST_FETCH.timeout_s


async def test_conditional_get_means_no_work_until_the_feed_changes(feed_server, fetcher):
    url = feed_server.publish_file("/live.xml", "rss2.xml")

    first, = await poll_feeds([feed("live", url)], fetcher, NOW)
    second, = await poll_feeds([first.feed], fetcher, NOW + timedelta(minutes=10))

    assert len(first.items) == 3
    assert second.not_modified and second.items == [] and second.error is None
    assert second.feed.last_status == 304 and second.feed.etag == first.feed.etag
    assert feed_server.hits("/live.xml")[1].headers["if-none-match"] == first.feed.etag

    feed_server.publish_file("/live.xml", "atom.xml")
    third, = await poll_feeds([second.feed], fetcher, NOW + timedelta(minutes=20))
    assert not third.not_modified and len(third.items) == 2
    assert third.feed.etag != first.feed.etag


async def test_a_failing_feed_backs_off_and_recovers(feed_server, fetcher):
    url = feed_server.url("/flaky.xml")                      # nothing published yet: 404
    state, now, delays = feed("flaky", url), NOW, []
    for _ in range(4):
        outcome, = await poll_feeds([state], fetcher, now)
        state = outcome.feed
        delays.append((state.next_due - now).total_seconds())
        now = state.next_due
    assert delays == [1200, 2400, 3600, 3600]                 # capped at backoff_max_s
    assert (state.error_count, state.last_error, state.failing_since) == (
        4, "HTTP 404 Not Found", NOW)

    feed_server.publish_file("/flaky.xml", "rss2.xml")
    outcome, = await poll_feeds([state], fetcher, now)
    assert (outcome.feed.error_count, outcome.feed.last_error) == (0, None)
    assert len(outcome.items) == 3


async def test_feed_state_round_trips_through_the_store(db, feed_server, fetcher):
    stored = db.upsert_feed(Feed(name="store", url=feed_server.url("/files/rss2.xml")))
    assert [f.name for f in db.due_feeds(NOW)] == ["store"]

    outcome, = await poll_feeds(db.due_feeds(NOW), fetcher, NOW)
    db.save_feed_state(outcome.feed)

    assert db.due_feeds(NOW) == []
    assert db.feed_by_name("store") == outcome.feed
    assert outcome.feed.id == stored.id


async def test_legacy_charsets_over_http_come_out_readable(feed_server, fetcher):
    # The header lies (utf-8) or says nothing; the XML prolog is right.
    lying = feed_server.publish_file("/cp1251.xml", "windows-1251.xml",
                                     "application/rss+xml; charset=utf-8")
    silent = feed_server.publish_file("/koi8.xml", "koi8-r.xml", "text/xml")

    outcomes = await poll_feeds([feed("cp1251", lying), feed("koi8", silent)], fetcher, NOW)

    for outcome in outcomes:
        article = normalize_item(outcome.items[0], source=outcome.feed.name, feed_id=None,
                                 language_hint=None, fetched=NOW)
        assert article.title == "Путин встретился с Ким Чен Ыном"
        assert article.language == "ru"


# -------------------------------------------------------------------------------- full text
# Item links are untrusted and the test server is on 127.0.0.1: these tests allow loopback,
# as an operator would with [fetch] allow_networks. Refusals: test_fetch_policy.py.

LOOPBACK = ("127.0.0.0/8",)


@pytest.fixture
async def page_fetcher():
    async with Fetcher(replace(TEST_FETCH, allow_networks=LOOPBACK)) as fetcher:
        yield fetcher


def teaser(url: str | None) -> RawItem:
    return RawItem(title="Kim and Putin sign a cooperation agreement", text="Short teaser.",
                   url=url, guid="tag:example.com,2024:kim")


async def test_full_text_replaces_the_teaser_with_the_pages_main_text(feed_server, page_fetcher):
    [(item, reason)] = await fill_full_text([teaser(feed_server.url("/files/article.html"))],
                                            page_fetcher)

    assert reason is None
    assert not item.text_is_html
    assert item.title == "Kim and Putin sign a cooperation agreement"
    paragraphs = item.text.split("\n\n")
    assert any(p.startswith("North Korean leader Kim Jong Un and Russian President")
               for p in paragraphs)
    assert paragraphs[-1] == ("The Kremlin said further meetings would follow later this year, "
                              "without giving dates.")
    for boilerplate in ("Buy our newspaper", "All rights reserved", "Ten tips"):
        assert boilerplate not in item.text

    article = normalize_item(item, source="news", feed_id=1, language_hint=None, fetched=NOW,
                             full_text_status=full_text_status(reason))
    assert article.full_text_status == "ok"
    assert "satellite technology" in article.text


async def test_full_text_failures_keep_the_teaser_and_say_why(feed_server, page_fetcher):
    feed_server.publish("/empty.html", "<html><body></body></html>", "text/html")
    items = [teaser(feed_server.url("/_status/404")), teaser(None),
             teaser(feed_server.url("/empty.html")), teaser(feed_server.url("/_drip"))]

    results = await fill_full_text(items, page_fetcher)

    assert [(item.text, reason) for item, reason in results] == [
        ("Short teaser.", "HTTP 404 Not Found"),
        ("Short teaser.", "no link to fetch"),
        ("Short teaser.", "no main text found on the page"),
        ("Short teaser.", "timed out after 1.5s"),
    ]
    assert full_text_status(results[0][1]) == "failed: HTTP 404 Not Found"
    assert full_text_status(None) == "ok"


async def test_full_text_pages_in_a_legacy_charset_are_decoded(feed_server, page_fetcher):
    page = (FEEDS / "article.html").read_text(encoding="utf-8").replace(
        "North Korean leader", "Лидер КНДР").replace('charset="utf-8"', "")
    url = feed_server.publish("/ru.html", page.encode("cp1251", errors="replace"),
                              "text/html; charset=windows-1251")

    [(item, reason)] = await fill_full_text([teaser(url)], page_fetcher)

    assert reason is None and "Лидер КНДР" in item.text


async def test_full_text_is_polite_to_one_host(feed_server, page_fetcher):
    # Six slow pages on one host: never more than two requests at once, yet all fetched.
    items = [teaser(feed_server.url(f"/_delay/200/files/article.html?n={n}")) for n in range(6)]

    started = time.monotonic()
    results = await fill_full_text(items, page_fetcher)

    assert all(reason is None for _, reason in results)
    assert feed_server.max_in_flight == 2
    assert time.monotonic() - started >= 0.6                   # three rounds of two


@pytest.mark.parametrize("per_host, expected", [(1, 1), (5, 2)])
async def test_per_host_limit_follows_the_config_within_one_to_two(feed_server, per_host,
                                                                   expected):
    items = [teaser(feed_server.url(f"/_delay/100/files/article.html?n={n}")) for n in range(4)]
    config = FetchConfig(timeout_s=5, per_host=per_host, allow_networks=LOOPBACK)
    async with Fetcher(config) as fetcher:
        await fill_full_text(items, fetcher)

    assert feed_server.max_in_flight == expected
