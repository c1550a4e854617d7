"""When a digest is due: local times, timezones, daylight saving, missed slots."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.digest import due_period


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_due_after_the_local_time_and_not_before():
    # 08:00 in Berlin is 07:00 UTC in winter
    assert due_period(utc(2026, 11, 28, 6, 59), "08:00", "Europe/Berlin", utc(2026, 11, 27, 7)) \
        is None
    assert due_period(utc(2026, 11, 28, 7, 0), "08:00", "Europe/Berlin", utc(2026, 11, 27, 7)) \
        == (utc(2026, 11, 27, 7), utc(2026, 11, 28, 7))


def test_sent_period_is_not_due_again():
    assert due_period(utc(2026, 11, 28, 12), "08:00", "Europe/Berlin", utc(2026, 11, 28, 7)) \
        is None


def test_first_digest_covers_the_day_before_the_slot():
    assert due_period(utc(2026, 11, 28, 9), "08:00", "Europe/Berlin", None) == (
        utc(2026, 11, 27, 7), utc(2026, 11, 28, 7))


def test_timezone_across_the_date_line():
    # 07:30 in Tokyo (UTC+9) is 22:30 UTC of the previous day
    assert due_period(utc(2026, 11, 27, 22, 31), "07:30", "Asia/Tokyo", None)[1] == \
        utc(2026, 11, 27, 22, 30)
    # New York 20:00 (UTC-5) on 27 Nov is 01:00 UTC on the 28th
    assert due_period(utc(2026, 11, 28, 1, 0), "20:00", "America/New_York",
                      utc(2026, 11, 27, 1)) == (utc(2026, 11, 27, 1), utc(2026, 11, 28, 1))


def test_daylight_saving_keeps_the_local_time():
    # Berlin switches to summer time on 29 March 2026: 08:00 is 07:00 UTC before, 06:00 after
    before = due_period(utc(2026, 3, 28, 7, 0), "08:00", "Europe/Berlin", None)
    assert before[1] == utc(2026, 3, 28, 7, 0)
    after = due_period(utc(2026, 3, 29, 6, 0), "08:00", "Europe/Berlin", before[1])
    assert after == (utc(2026, 3, 28, 7, 0), utc(2026, 3, 29, 6, 0))  # a 23-hour day
    # and back on 25 October: a 25-hour day
    autumn = due_period(utc(2026, 10, 25, 7, 0), "08:00", "Europe/Berlin", utc(2026, 10, 24, 6))
    assert autumn == (utc(2026, 10, 24, 6), utc(2026, 10, 25, 7))


def test_missed_days_give_one_digest_covering_the_gap():
    # down from the 25th to the 28th: one digest, from the last one sent to the latest slot
    assert due_period(utc(2026, 11, 28, 9), "08:00", "Europe/Berlin", utc(2026, 11, 25, 7)) == (
        utc(2026, 11, 25, 7), utc(2026, 11, 28, 7))
