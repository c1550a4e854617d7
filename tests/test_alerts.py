"""monitor/alerts.py: when an alerted story pings again, and quiet-hour windows."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.alerts import follow_up_reasons, headline_similarity, parse_quiet_hours, quiet_until
from monitor.models import AlertedStory, QuietHours


def story(*titles: str, sources: int = 2, threshold: int | None = None,
          reasons: frozenset[str] = frozenset()) -> AlertedStory:
    return AlertedStory(titles, reasons, tuple(f"s{n}" for n in range(sources)), threshold)


def test_the_same_report_under_another_headline_is_not_new_and_a_turn_is():
    alerted = story("Kim trifft Putin in Wladiwostok")
    assert follow_up_reasons(alerted, "Putin empfängt Kim in Wladiwostok", 0.2) == []
    assert follow_up_reasons(alerted, "Russland und Nordkorea schließen Beistandspakt",
                             0.2) == ["headline"]
    assert follow_up_reasons(alerted, "Russland und Nordkorea schließen Beistandspakt",
                             0) == []                   # turned off
    # compared with every headline the chat saw, and once a story
    seen = story("Kim trifft Putin", "Russland und Nordkorea schließen Beistandspakt")
    assert follow_up_reasons(seen, "Beistandspakt: Russland und Nordkorea schließen ihn",
                             0.2) == []
    assert follow_up_reasons(story("A b c", reasons=frozenset({"headline"})), "x y z",
                             0.2) == []
    assert headline_similarity("", "") == 1.0


def test_the_follow_threshold_counts_the_storys_sources_and_pings_once():
    assert follow_up_reasons(story("T", sources=2, threshold=3), "T", 0.2) == []
    assert follow_up_reasons(story("T", sources=3, threshold=3), "T", 0.2) == ["sources"]
    assert follow_up_reasons(story("T", sources=9, threshold=3,
                                   reasons=frozenset({"sources"})), "T", 0.2) == []
    assert follow_up_reasons(story("T", sources=9), "T", 0.2) == []     # no threshold


@pytest.mark.parametrize(("text", "window"), [
    ("22:00-07:00", ("22:00", "07:00")), ("22-7", ("22:00", "07:00")),
    ("9:30 – 12:00", ("09:30", "12:00")), ("22:00-22:00", None), ("25:00-07:00", None),
    ("22:00", None), ("abends", None), ("", None)])
def test_quiet_hours_are_read_as_users_type_them(text, window):
    assert parse_quiet_hours(text) == window


NIGHT = QuietHours("22:00", "07:00", "Europe/Berlin")


@pytest.mark.parametrize(("now", "until"), [
    (datetime(2026, 12, 1, 20, 59, tzinfo=UTC), None),                           # 21:59 CET
    (datetime(2026, 12, 1, 21, 0, tzinfo=UTC), datetime(2026, 12, 2, 6, tzinfo=UTC)),
    (datetime(2026, 12, 2, 5, 59, tzinfo=UTC), datetime(2026, 12, 2, 6, tzinfo=UTC)),
    (datetime(2026, 12, 2, 6, 0, tzinfo=UTC), None),                             # 07:00 CET
    # the night summer time ends: 07:00 CET is 06:00 UTC, an hour later than the CEST evening
    (datetime(2026, 10, 24, 21, 0, tzinfo=UTC), datetime(2026, 10, 25, 6, tzinfo=UTC)),
])
def test_a_window_across_midnight_ends_at_its_local_time(now, until):
    assert quiet_until(now, NIGHT, "UTC") == until


def test_a_window_within_a_day_and_the_default_zone():
    lunch = QuietHours("12:00", "13:30", None)
    assert quiet_until(datetime(2026, 12, 1, 12, 15, tzinfo=UTC), lunch, "UTC") == \
        datetime(2026, 12, 1, 13, 30, tzinfo=UTC)
    assert quiet_until(datetime(2026, 12, 1, 13, 30, tzinfo=UTC), lunch, "UTC") is None


def test_the_second_pass_through_the_repeated_hour_is_not_quiet_again():
    """The night summer time ends, 02:00-03:00 comes twice: a window ending at 02:30 ended
    at the first 02:30 (00:30 UTC); at the second (01:30 UTC) it is not quiet again."""
    early = QuietHours("22:00", "02:30", "Europe/Berlin")
    assert quiet_until(datetime(2026, 10, 25, 0, 15, tzinfo=UTC), early, "UTC") == \
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert quiet_until(datetime(2026, 10, 25, 1, 15, tzinfo=UTC), early, "UTC") is None
