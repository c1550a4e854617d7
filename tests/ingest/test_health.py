"""next_feed_state: validators, health counters and exponential backoff with a cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from monitor.ingest.health import backoff_delay_s, next_feed_state
from monitor.models import Feed, FetchResult

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
