"""A feed's fetch state after one poll: validators for the next conditional GET, health
counters, and when to poll it next.

A failing feed is retried after its interval doubled for every consecutive failure
(interval × 2^errors), capped at `backoff_max_s`, so a dead feed costs a request every few hours
instead of every ten minutes, while one that comes back is noticed within that cap. The cap
never makes a failing feed poll more often than a healthy one.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from monitor.models import Feed, FetchResult

_MAX_DOUBLINGS = 32          # far beyond any cap; keeps the numbers small


def next_feed_state(feed: Feed, result: FetchResult, error: str | None, now: datetime,
                    backoff_max_s: int) -> Feed:
    """The feed after `result`; `error` is the reason it failed (fetch or parse), or None.

    On success (2xx or 304) the error count resets and the new validators are kept. On failure
    the old validators stay: a body that failed to parse must not be answered with 304 and
    then count as healthy.
    """
    error = error or result.error
    if error is None and (result.ok or result.not_modified):
        return replace(
            feed,
            etag=result.etag or feed.etag,
            last_modified=result.last_modified or feed.last_modified,
            last_status=result.status,
            last_error=None,
            error_count=0,
            failing_since=None,
            last_fetched=now,
            last_ok=now,
            next_due=now + timedelta(seconds=feed.interval_s),
        )
    error_count = feed.error_count + 1
    return replace(
        feed,
        last_status=result.status,
        last_error=error or f"unexpected HTTP status {result.status}",
        error_count=error_count,
        failing_since=feed.failing_since or now,
        last_fetched=now,
        next_due=now + timedelta(seconds=backoff_delay_s(feed.interval_s, error_count,
                                                         backoff_max_s)),
    )


def backoff_delay_s(interval_s: int, error_count: int, backoff_max_s: int) -> int:
    """Seconds until the next try after `error_count` consecutive failures."""
    delay = interval_s * 2 ** min(error_count, _MAX_DOUBLINGS)
    return max(interval_s, min(delay, backoff_max_s))
