"""Polling many feeds at once, and fetching full-text pages for feeds that want them.

Every feed is its own task: fetch (bounded by the Fetcher's concurrency and deadline), parse in
a worker thread (feedparser is CPU-bound and would block the event loop), compute its next
state. One feed's failure, even a bug in our parsing, is recorded on that feed and never
reaches the others.

A feed's own URL is the operator's choice and fetched as trusted; the pages its items link to
are not: they (and any redirect) must resolve to public addresses unless [fetch]
allow_networks allows them (see monitor.ingest.fetch). A refusal is one more reason in the
item's full_text_status, like any other fetch failure.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import replace
from datetime import datetime
from urllib.parse import urlsplit

import trafilatura

from monitor.ingest.fetch import Fetcher, content_charset
from monitor.ingest.health import next_feed_state
from monitor.ingest.normalize import clean_title, paragraphs_without_title
from monitor.ingest.parse import FeedError, parse_feed
from monitor.models import Feed, FeedOutcome, FetchResult, RawItem

log = logging.getLogger(__name__)

# Politeness towards one site when fetching many article pages; the issue asks for 1–2.
MAX_PER_HOST = 2


async def poll_feeds(feeds: list[Feed], fetcher: Fetcher, now: datetime) -> list[FeedOutcome]:
    """Fetch and parse every feed given (the caller picks the due ones, Store.due_feeds),
    concurrently; one outcome per feed, in the same order. Never raises for one feed's trouble.
    """
    return list(await asyncio.gather(*(_poll_one(feed, fetcher, now) for feed in feeds)))


async def _poll_one(feed: Feed, fetcher: Fetcher, now: datetime) -> FeedOutcome:
    try:
        # The configured URL is trusted; a redirect off its host and port is not.
        result = await fetcher.fetch(feed.url, feed.etag, feed.last_modified, trusted=True)
        items: list[RawItem] = []
        error = result.error
        not_a_feed = False
        if result.ok:
            try:
                parsed = await asyncio.to_thread(
                    parse_feed, result.body, result.content_type, result.final_url or feed.url,
                    fetcher.config.max_bytes,
                )
                items = parsed.items
            except FeedError as exc:
                error, not_a_feed = str(exc), exc.not_a_feed
    except Exception as exc:  # a bug must cost one feed, not the whole poll
        log.exception("polling feed %r failed unexpectedly", feed.name)
        result = FetchResult(url=feed.url, status=None)
        items, error, not_a_feed = [], f"internal error: {type(exc).__name__}: {exc}", False
    state = next_feed_state(feed, result, error, now, fetcher.config.backoff_max_s,
                            not_a_feed=not_a_feed)
    return FeedOutcome(
        feed=state, items=items, error=error, not_modified=result.not_modified and not error,
        status=result.status, etag=state.etag, last_modified=state.last_modified,
    )


async def fill_full_text(items: list[RawItem],
                         fetcher: Fetcher) -> list[tuple[RawItem, str | None]]:
    """For feeds with full_text = true: each item's page fetched (at most MAX_PER_HOST at a
    time per site) and its main text extracted with trafilatura.

    Returns, in order, (item with the page text, None) or (the item unchanged, reason). Pass
    only new items (Store.known_article_keys): every item costs one page fetch. Item links
    are untrusted: a link (or a redirect) to a non-http(s) URL or to an internal address is
    not fetched, its reason starts with "refused:".
    `full_text_status(reason)` gives the value for Article.full_text_status.
    """
    per_host = max(1, min(MAX_PER_HOST, fetcher.config.per_host))
    host_slots: defaultdict[str, asyncio.Semaphore] = defaultdict(
        lambda: asyncio.Semaphore(per_host))

    async def one(item: RawItem) -> tuple[RawItem, str | None]:
        if not item.url:
            return item, "no link to fetch"
        try:
            async with host_slots[_host_of(item.url)]:
                result = await fetcher.fetch(item.url)
            if result.error:
                return item, result.error
            text = await asyncio.to_thread(extract_main_text, result.body, result.content_type,
                                           result.final_url or item.url, item.title)
        except Exception as exc:  # a bug in extraction must cost one item, not all
            log.exception("full text of %s failed unexpectedly", item.url)
            return item, f"internal error: {type(exc).__name__}: {exc}"
        if not text:
            return item, "no main text found on the page"
        return replace(item, text=text, text_is_html=False), None

    return list(await asyncio.gather(*(one(item) for item in items)))


def _host_of(url: str) -> str:
    """The host a per-host slot is keyed by; "" for a link too broken to have one (the fetch
    then reports why)."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def full_text_status(reason: str | None) -> str:
    """Article.full_text_status for a fill_full_text result: "ok" or "failed: <reason>"."""
    return "ok" if reason is None else f"failed: {reason}"


def extract_main_text(body: bytes, content_type: str | None, url: str,
                      title: str = "") -> str | None:
    """The article text of an HTML page (trafilatura), paragraphs separated by blank lines,
    without a leading repeat of `title`.

    The body is decoded with the charset the server declared; without one, trafilatura
    guesses from the bytes (meta tags, detection)."""
    charset = content_charset(content_type)
    document: bytes | str = body
    if charset:
        try:
            document = body.decode(charset, errors="replace")
        except LookupError:            # unknown charset name: let trafilatura guess
            document = body
    text = trafilatura.extract(document, url=url, include_comments=False, include_tables=True)
    if not text or not text.strip():
        return None
    return paragraphs_without_title(text, clean_title(title)) or None
