"""next_feed_state: validators, health counters and exponential backoff with a cap;
next_silence_state: a feed's rhythm and its silence."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from monitor.ingest.health import (
    backoff_delay_s,
    feed_health,
    next_feed_state,
    next_silence_state,
    usual_gap_s,
)
from monitor.models import Feed, FeedHealth, FetchResult

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
FEED = Feed(name="news", url="https://example.com/rss", interval_s=600, id=1,
            etag='"old"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT")
OK = FetchResult(url=FEED.url, status=200, body=b"<rss/>", etag='"new"',
                 last_modified="Sat, 01 Jun 2024 11:00:00 GMT")
NOT_MODIFIED = FetchResult(url=FEED.url, status=304)
SERVER_ERROR = FetchResult(url=FEED.url, status=503, error="HTTP 503 Service Unavailable")
REFUSED = FetchResult(url=FEED.url, status=None, error="connection refused")


def fail_times(feed: Feed, count: int, result: FetchResult = REFUSED) -> list[Feed]:
    states, now = [], NOW
    for _ in range(count):
        feed = next_feed_state(feed, result, None, now, backoff_max_s=6 * 3600)
        states.append(feed)
        now = feed.next_due
    return states


def test_success_stores_validators_and_schedules_the_next_poll_one_interval_ahead():
    state = next_feed_state(FEED, OK, None, NOW, backoff_max_s=3600)

    assert state == Feed(
        name="news", url=FEED.url, interval_s=600, id=1, etag='"new"',
        last_modified="Sat, 01 Jun 2024 11:00:00 GMT", last_status=200, last_error=None,
        error_count=0, failing_since=None, last_fetched=NOW, last_ok=NOW,
        next_due=NOW + timedelta(seconds=600),
    )


def test_not_modified_is_healthy_and_keeps_the_validators():
    state = next_feed_state(FEED, NOT_MODIFIED, None, NOW, backoff_max_s=3600)

    assert (state.etag, state.last_modified) == (FEED.etag, FEED.last_modified)
    assert (state.last_status, state.error_count, state.last_ok) == (304, 0, NOW)
    assert state.next_due == NOW + timedelta(seconds=600)


def test_failure_records_the_reason_and_keeps_old_validators():
    state = next_feed_state(FEED, SERVER_ERROR, None, NOW, backoff_max_s=3600)

    assert state.last_status == 503
    assert state.last_error == "HTTP 503 Service Unavailable"
    assert (state.error_count, state.failing_since, state.last_fetched) == (1, NOW, NOW)
    assert state.last_ok is None
    assert (state.etag, state.last_modified) == (FEED.etag, FEED.last_modified)


def test_a_parse_error_after_a_200_counts_as_failure_and_does_not_take_the_new_etag():
    # Taking the etag would make the next poll a 304 that looks healthy while the feed is broken.
    state = next_feed_state(FEED, OK, "not a feed: the server sent an HTML page", NOW, 3600)

    assert state.last_status == 200
    assert state.last_error == "not a feed: the server sent an HTML page"
    assert state.error_count == 1
    assert state.etag == '"old"'


def test_backoff_doubles_per_consecutive_failure_up_to_the_cap():
    states = fail_times(FEED, 8)

    delays = [(s.next_due - s.last_fetched).total_seconds() for s in states]
    assert delays == [1200, 2400, 4800, 9600, 19200, 21600, 21600, 21600]
    assert [s.error_count for s in states] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert {s.failing_since for s in states} == {NOW}          # the first failure's time


def test_recovery_resets_the_error_count_and_the_interval():
    failing = fail_times(FEED, 5)[-1]

    recovered = next_feed_state(failing, OK, None, failing.next_due, backoff_max_s=21600)

    assert (recovered.error_count, recovered.last_error, recovered.failing_since) == (0, None, None)
    assert recovered.next_due == failing.next_due + timedelta(seconds=600)


def test_backoff_never_polls_a_failing_feed_more_often_than_a_healthy_one():
    assert backoff_delay_s(interval_s=86400, error_count=3, backoff_max_s=3600) == 86400
    assert backoff_delay_s(interval_s=600, error_count=10_000, backoff_max_s=3600) == 3600


# ------------------------------------------------------------------ silence

HOUR = 3600
HOURLY = replace(FEED, last_fetched=NOW, last_ok=NOW, last_new=NOW,
                 new_gaps_s=(HOUR, HOUR, HOUR, HOUR, HOUR))
HTML_PAGE = "not a feed: the server sent an HTML page"


def answered(feed: Feed, new_articles: int, now: datetime, result: FetchResult = OK,
             error: str | None = None) -> Feed:
    """One poll as the pipeline makes it: the fetch state, then the articles' count."""
    state = next_feed_state(feed, result, error, now, backoff_max_s=6 * HOUR,
                            not_a_feed=error == HTML_PAGE)
    return next_silence_state(state, new_articles, now)


def test_the_usual_gap_is_the_upper_quartile_and_ignores_one_long_outage():
    assert usual_gap_s([HOUR] * 4 + [30 * 24 * HOUR]) == HOUR
    assert usual_gap_s([HOUR, 2 * HOUR, HOUR, 3 * HOUR, HOUR, 2 * HOUR, HOUR, 9 * HOUR]) == (
        2 * HOUR)
    assert usual_gap_s([HOUR] * 4) is None              # four gaps are not a rhythm yet


def test_polls_with_new_articles_learn_the_gaps_and_keep_the_last_twenty():
    feed, now = replace(FEED, interval_s=600), NOW
    for _ in range(25):
        feed = answered(feed, 2, now)
        now += timedelta(hours=1)
    assert feed.last_new == now - timedelta(hours=1)
    assert feed.new_gaps_s == (HOUR,) * 20
    assert answered(feed, 0, now).new_gaps_s == (HOUR,) * 20   # nothing new: nothing learnt


def test_nothing_new_for_four_usual_gaps_is_silent_but_never_before_the_floor():
    hourly = replace(HOURLY, new_gaps_s=(HOUR,) * 5)          # 4 × 1 h is under the 12 h floor
    assert answered(hourly, 0, NOW + timedelta(hours=11, minutes=50)).silent_since is None
    assert answered(hourly, 0, NOW + timedelta(hours=12)).silent_since == NOW
    daily = replace(HOURLY, new_gaps_s=(24 * HOUR,) * 5)
    assert answered(daily, 0, NOW + timedelta(days=3, hours=23)).silent_since is None
    assert answered(daily, 0, NOW + timedelta(days=4)).silent_since == NOW
    slow = replace(HOURLY, interval_s=10 * HOUR)                # two polls: 20 h
    assert answered(slow, 0, NOW + timedelta(hours=19)).silent_since is None
    assert answered(slow, 0, NOW + timedelta(hours=20)).silent_since == NOW


def test_a_feed_whose_rhythm_is_not_known_is_never_silent_for_quiet_alone():
    young = replace(HOURLY, new_gaps_s=(HOUR,) * 4)
    assert answered(young, 0, NOW + timedelta(days=90)).silent_since is None
    assert answered(replace(HOURLY, last_new=None), 0, NOW + timedelta(days=90)).silent_since \
        is None


def test_a_304_is_nothing_new_and_new_articles_end_the_silence():
    silent = answered(HOURLY, 0, NOW + timedelta(hours=13), NOT_MODIFIED)
    assert silent.silent_since == NOW and feed_health(silent) == FeedHealth.SILENT
    still = answered(silent, 0, NOW + timedelta(days=2))
    assert still.silent_since == NOW                           # one silence, its start kept
    back = answered(still, 1, NOW + timedelta(days=3))
    assert (back.silent_since, back.last_new) == (None, NOW + timedelta(days=3))
    assert back.new_gaps_s[-1] == 3 * 24 * HOUR and feed_health(back) == FeedHealth.OK
    assert back.silence_ended == NOW                  # kept for its "back" notice
    assert answered(back, 1, NOW + timedelta(days=3, hours=1)).silence_ended == NOW
    assert silent.silence_ended is None and still.silence_ended is None


def test_a_failure_during_a_silence_is_failing_and_keeps_the_silence():
    silent = answered(HOURLY, 0, NOW + timedelta(hours=13))
    down = answered(silent, 0, NOW + timedelta(hours=14), SERVER_ERROR)
    assert (down.silent_since, feed_health(down)) == (NOW, FeedHealth.FAILING)
    up = answered(down, 0, NOW + timedelta(hours=15))
    assert (up.silent_since, feed_health(up)) == (NOW, FeedHealth.SILENT)
    assert answered(replace(HOURLY, new_gaps_s=()), 0, NOW + timedelta(hours=1),
                    SERVER_ERROR) == next_feed_state(replace(HOURLY, new_gaps_s=()),
                                                     SERVER_ERROR, None, NOW + timedelta(hours=1),
                                                     6 * HOUR)


def test_a_body_that_is_no_feed_fails_at_first_and_is_silent_once_it_lasts_the_floor():
    """Even without a known rhythm: a parking page is no quiet spell. The silence starts
    with the first page that was not a feed."""
    feed = replace(FEED, last_fetched=NOW, last_ok=NOW)
    first = answered(feed, 0, NOW, error=HTML_PAGE)
    assert (first.not_a_feed, first.error_count, first.silent_since) == (True, 1, None)
    assert feed_health(first) == FeedHealth.FAILING
    later = answered(first, 0, NOW + timedelta(hours=12), error=HTML_PAGE)
    assert (later.silent_since, later.error_count) == (NOW, 2)
    assert feed_health(later) == FeedHealth.SILENT and later.last_error == HTML_PAGE
    a_feed_again = answered(later, 0, NOW + timedelta(hours=13))
    assert (a_feed_again.silent_since, a_feed_again.not_a_feed) == (None, False)
    assert feed_health(a_feed_again) == FeedHealth.OK


def test_a_broken_feed_is_failing_not_silent():
    broken = answered(HOURLY, 0, NOW + timedelta(days=2), error="malformed XML, no entries")
    assert (broken.not_a_feed, broken.silent_since) == (False, None)
    assert feed_health(broken) == FeedHealth.FAILING
    assert feed_health(FEED) == FeedHealth.NEW
