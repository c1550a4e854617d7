"""Fetcher against a real HTTP server: happy path, conditional GET, and every failure mode
ending as a short reason in FetchResult.error, never as an exception.

The server is on 127.0.0.1, so these fetches are made as for a configured feed URL
(`trusted=True`); what untrusted URLs may reach is tested in test_fetch_policy.py."""

from __future__ import annotations

import asyncio
import gzip
import time
import zlib

import pytest

from monitor.config import FetchConfig
from monitor.ingest.fetch import Fetcher
from tests.ingest.conftest import FEEDS, TEST_FETCH


async def test_fetch_returns_body_headers_and_sends_a_clear_user_agent(feed_server, fetcher):
    url = feed_server.publish_file("/news.xml", "rss2.xml")

    result = await fetcher.fetch(url, trusted=True)

    assert result.ok and result.error is None
    assert result.status == 200
    assert result.body == (FEEDS / "rss2.xml").read_bytes()
    assert result.content_type == "application/xml"
    assert result.etag and result.etag.startswith('"')
    assert result.last_modified == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert result.final_url == url
    sent = feed_server.hits("/news.xml")[0].headers
    assert sent["user-agent"] == TEST_FETCH.user_agent
    assert "media-monitor" in sent["user-agent"]
    assert sent["accept-encoding"] == "gzip, deflate"


async def test_conditional_get_gives_304_until_the_content_changes(feed_server, fetcher):
    url = feed_server.publish("/cond.xml", "<rss version='2.0'><channel/></rss>")
    first = await fetcher.fetch(url, trusted=True)

    again = await fetcher.fetch(url, etag=first.etag, last_modified=first.last_modified,
                                trusted=True)
    assert again.not_modified and again.status == 304 and again.body == b""
    assert again.error is None and not again.ok

    by_date_only = await fetcher.fetch(url, last_modified=first.last_modified, trusted=True)
    assert by_date_only.not_modified

    feed_server.publish("/cond.xml",
                        "<rss version='2.0'><channel><title>new</title></channel></rss>",
                        last_modified="Thu, 02 Jan 2025 00:00:00 GMT")
    changed = await fetcher.fetch(url, etag=first.etag, last_modified=first.last_modified,
                                  trusted=True)
    assert changed.status == 200 and b"new" in changed.body
    assert changed.etag != first.etag

    sent = feed_server.hits("/cond.xml")[1].headers
    assert sent["if-none-match"] == first.etag
    assert sent["if-modified-since"] == first.last_modified


@pytest.mark.parametrize("code, reason", [
    (404, "HTTP 404 Not Found"),
    (410, "HTTP 410 Gone"),
    (500, "HTTP 500 Internal Server Error"),
    (503, "HTTP 503 Service Unavailable"),
])
async def test_http_errors_are_reported_with_status_and_reason(feed_server, fetcher, code, reason):
    result = await fetcher.fetch(feed_server.url(f"/_status/{code}"), trusted=True)

    assert result.status == code
    assert result.error == reason
    assert not result.ok and result.body == b""


async def test_connection_refused_is_reported(fetcher, closed_port):
    result = await fetcher.fetch(f"http://127.0.0.1:{closed_port}/feed.xml", trusted=True)

    assert result.error == "connection refused"
    assert result.status is None


async def test_a_server_that_never_answers_times_out(feed_server, fetcher):
    started = time.monotonic()
    result = await fetcher.fetch(feed_server.url("/_stall"), trusted=True)

    assert result.error is not None and result.error.startswith("timed out after 1.5s")
    assert time.monotonic() - started < TEST_FETCH.timeout_s + 5      # ended, did not hang


async def test_a_server_dripping_bytes_forever_is_cut_off_by_the_overall_deadline(
        feed_server, fetcher):
    # Each byte arrives well within the read timeout; only the overall deadline ends this.
    started = time.monotonic()
    result = await fetcher.fetch(feed_server.url("/_drip"), trusted=True)

    assert result.error == "timed out after 1.5s"
    assert time.monotonic() - started < TEST_FETCH.timeout_s + 5      # ended, did not hang
    assert not result.ok


async def test_an_announced_huge_body_is_refused_before_downloading(feed_server, fetcher):
    result = await fetcher.fetch(feed_server.url("/_huge?mb=100"), trusted=True)

    assert result.error == "body too large: 104,857,600 bytes announced, limit 1,048,576"
    assert result.body == b""


async def test_an_unannounced_huge_body_stops_at_the_cap(feed_server, fetcher):
    result = await fetcher.fetch(feed_server.url("/_huge-unannounced?mb=100"), trusted=True)

    assert result.error == "body too large: more than 1,048,576 bytes"
    assert result.body == b""


async def test_a_gzip_bomb_stops_at_the_cap_after_decompression(feed_server, fetcher):
    result = await fetcher.fetch(feed_server.url("/_gzip-bomb"), trusted=True)

    assert result.error == "body too large: more than 1,048,576 bytes after decompression"
    assert result.body == b""


async def test_gzip_and_deflate_bodies_are_decoded(feed_server, fetcher):
    xml = (FEEDS / "rss2.xml").read_bytes()
    gz = feed_server.publish("/gz.xml", gzip.compress(xml), "application/rss+xml",
                             headers={"Content-Encoding": "gzip"})
    zl = feed_server.publish("/zlib.xml", zlib.compress(xml), "application/rss+xml",
                             headers={"Content-Encoding": "deflate"})
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = feed_server.publish("/raw.xml", raw_deflate.compress(xml) + raw_deflate.flush(),
                              "application/rss+xml", headers={"Content-Encoding": "deflate"})

    for url in (gz, zl, raw):
        result = await fetcher.fetch(url, trusted=True)
        assert result.ok, result.error
        assert result.body == xml


async def test_a_corrupt_gzip_body_is_reported(feed_server, fetcher):
    url = feed_server.publish("/corrupt.xml", b"\x1f\x8b\x08\x00 this is not gzip",
                              "application/rss+xml", headers={"Content-Encoding": "gzip"})

    result = await fetcher.fetch(url, trusted=True)

    assert result.error is not None and result.error.startswith("corrupt gzip body:")


async def test_redirects_are_followed_up_to_the_cap(feed_server, fetcher):
    feed_server.publish_file("/target.xml", "rss2.xml")

    allowed = await fetcher.fetch(feed_server.url("/_redirect/3/target.xml"), trusted=True)
    assert allowed.ok
    assert allowed.final_url == feed_server.url("/target.xml")

    too_many = await fetcher.fetch(feed_server.url("/_redirect/4/target.xml"), trusted=True)
    assert too_many.error == "too many redirects (more than 3)"


async def test_a_redirect_loop_ends_with_a_clear_error(feed_server, fetcher):
    result = await fetcher.fetch(feed_server.url("/_redirect-loop"), trusted=True)

    assert result.error == "too many redirects (more than 3)"
    assert len(feed_server.hits("/_redirect-loop")) <= 3


async def test_a_connection_closed_without_answer_is_reported(feed_server, fetcher):
    result = await fetcher.fetch(feed_server.url("/_close"), trusted=True)

    assert result.error is not None and result.error.startswith("server broke the connection")


@pytest.mark.parametrize("url, reason", [
    ("ftp://example.com/feed.xml",
     "refused: ftp://example.com/feed.xml uses the ftp: scheme; only http and https are fetched"),
    ("not a url", "refused: not a url is not an absolute http:// or https:// URL"),
    ("http://[::1", "invalid URL"),
])
@pytest.mark.parametrize("trusted", [True, False])
async def test_bad_urls_are_reported(fetcher, url, reason, trusted):
    result = await fetcher.fetch(url, trusted=trusted)

    assert result.error is not None and result.error.startswith(reason)


async def test_concurrency_is_bounded_by_the_config(feed_server):
    # Two slots, three slow answers: the third request waits for a free slot.
    url = feed_server.url("/_delay/300/files/rss2.xml")
    async with Fetcher(FetchConfig(timeout_s=5, concurrency=2)) as fetcher:
        started = time.monotonic()
        results = await asyncio.gather(*(fetcher.fetch(url, trusted=True) for _ in range(3)))
    elapsed = time.monotonic() - started

    assert all(r.ok for r in results)
    assert elapsed >= 0.6                          # two rounds of 300 ms, not one
