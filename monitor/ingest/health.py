"""A feed's fetch state after one poll: validators for the next conditional GET, health
counters, and when to poll it next.

A failing feed is retried after its interval doubled for every consecutive failure
(interval × 2^errors), capped at `backoff_max_s`, so a dead feed costs a request every few hours
instead of every ten minutes, while one that comes back is noticed within that cap. The cap
never makes a failing feed poll more often than a healthy one.

A feed can also answer and still be dead: the same items for weeks, or a parking page where
the feed was. Each feed learns its rhythm from the gaps between the polls that brought new
articles (the last GAPS_KEPT); once MIN_GAPS are known, it is silent when nothing new came for
SILENT_AFTER_GAPS times its usual gap (the upper quartile, so one long pause does not stretch
it), and never sooner than the floor (half a day, and two polls), so that a feed that pauses
overnight is not silent every morning. A body that is no feed at all is a failed poll at first
(a maintenance page for an hour is not a lost feed) and the feed silent once it lasts for the
floor. New articles end a silence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from monitor.models import Feed, FeedHealth, FetchResult

_MAX_DOUBLINGS = 32          # far beyond any cap; keeps the numbers small

GAPS_KEPT = 20               # about a day of an hourly feed, a month of a daily one
MIN_GAPS = 5                 # fewer, and the rhythm is not known: a quiet feed is never silent
GAP_QUANTILE = 0.75          # of 5 gaps the 4th shortest: one outlier (an outage) is ignored
SILENT_AFTER_GAPS = 4        # k: nothing new for 4 usual gaps
SILENT_FLOOR = timedelta(hours=12)    # a night's pause of a news feed is no silence
SILENT_FLOOR_POLLS = 2       # nor are fewer than two polls of a slowly polled feed


def next_feed_state(feed: Feed, result: FetchResult, error: str | None, now: datetime,
                    backoff_max_s: int, *, not_a_feed: bool = False) -> Feed:
    """The feed after `result`; `error` is the reason it failed (fetch or parse), or None;
    `not_a_feed` when that reason is a body that is no feed at all (parse.FeedError).

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
            not_a_feed=False,
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
        not_a_feed=not_a_feed and result.ok,
    )


def backoff_delay_s(interval_s: int, error_count: int, backoff_max_s: int) -> int:
    """Seconds until the next try after `error_count` consecutive failures."""
    delay = interval_s * 2 ** min(error_count, _MAX_DOUBLINGS)
    return max(interval_s, min(delay, backoff_max_s))


def next_silence_state(feed: Feed, new_articles: int, now: datetime) -> Feed:
    """The feed (as next_feed_state left it) after a poll that stored `new_articles`: its
    rhythm learnt, and silent or not. A poll that got no answer says nothing about what the
    feed publishes and changes nothing here; a silence stays the one silence (its start kept)
    until new articles end it, through failures and parking pages in between."""
    if feed.error_count and not feed.not_a_feed:
        return feed
    if new_articles:
        gaps = feed.new_gaps_s
        if feed.last_new is not None:
            gaps = (*gaps, round((now - feed.last_new).total_seconds()))[-GAPS_KEPT:]
        return _ended(replace(feed, last_new=now, new_gaps_s=gaps), feed)
    if feed.not_a_feed:
        since = feed.failing_since or now
        if now - since >= timedelta(seconds=silence_floor_s(feed)):
            return replace(feed, silent_since=feed.silent_since or since)
        return feed
    limit = quiet_limit_s(feed)
    quiet = (feed.last_new is not None and limit is not None
             and now - feed.last_new >= timedelta(seconds=limit))
    if quiet:
        return replace(feed, silent_since=feed.silent_since or feed.last_new)
    return _ended(feed, feed)


def _ended(feed: Feed, before: Feed) -> Feed:
    """`feed` not silent; a silence that `before` was in is kept as the one that ended."""
    if before.silent_since is None:
        return feed
    return replace(feed, silent_since=None, silence_ended=before.silent_since)


def usual_gap_s(gaps: Sequence[int]) -> int | None:
    """A feed's usual gap between new articles: the upper quartile of `gaps` (nearest rank),
    robust to the odd long pause; None while fewer than MIN_GAPS are known."""
    if len(gaps) < MIN_GAPS:
        return None
    return sorted(gaps)[math.ceil(GAP_QUANTILE * len(gaps)) - 1]


def usual_gap_text(feed: Feed) -> str | None:
    """The usual gap as an interval is written in the config, rounded: '45m', '5h', '3d'."""
    usual = usual_gap_s(feed.new_gaps_s)
    if usual is None:
        return None
    if usual >= 2 * 86400:
        return f"{round(usual / 86400)}d"
    if usual >= 3600:
        return f"{round(usual / 3600)}h"
    return f"{max(1, round(usual / 60))}m"


def silence_floor_s(feed: Feed) -> int:
    """No feed is silent sooner than this, whatever its rhythm."""
    return max(int(SILENT_FLOOR.total_seconds()), SILENT_FLOOR_POLLS * feed.interval_s)


def quiet_limit_s(feed: Feed) -> int | None:
    """How long the feed may answer with nothing new before it is silent; None while its
    rhythm is not known."""
    usual = usual_gap_s(feed.new_gaps_s)
    return None if usual is None else max(SILENT_AFTER_GAPS * usual, silence_floor_s(feed))


def feed_health(feed: Feed) -> FeedHealth:
    """The word for the operator. A failure is "failing" even during a silence (it is the
    news); a body that is no feed is "failing" until it lasts, then "silent"."""
    if feed.last_fetched is None:
        return FeedHealth.NEW
    if feed.error_count and not feed.not_a_feed:
        return FeedHealth.FAILING
    if feed.silent_since is not None:
        return FeedHealth.SILENT
    return FeedHealth.FAILING if feed.error_count else FeedHealth.OK
