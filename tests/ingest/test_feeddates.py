"""monitor.ingest.feeddates must read every date string exactly as feedparser's `_parse_date`
does (the fast path and feedparser must give the same published times), or decline with
ValueError so that feedparser reads the feed.

Only tests may use feedparser's private names; the production code replays their rules."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import pytest
from feedparser.datetimes import _parse_date as feedparser_parse_date
from hypothesis import example, given, settings
from hypothesis import strategies as st

from monitor.ingest.feeddates import parse_date

# POSIX zone rules (no tz database needed), with summer time in both hemispheres: feedparser
# normalises compact ISO dates with time.mktime, i.e. in the local zone.
LOCAL_ZONES = ["UTC0", "EST5EDT,M3.2.0,M11.1.0", "CET-1CEST,M3.5.0,M10.5.0/3",
               "NZST-12NZDT,M9.5.0,M4.1.0/3", "IST-5:30"]


@contextmanager
def local_zone(zone: str) -> Iterator[None]:
    saved = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield
    finally:
        if saved is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = saved
        time.tzset()


def decided(text: str) -> tuple[int, ...] | None | str:
    """parse_date's answer as a comparable value, or "undecided"."""
    try:
        parsed = parse_date(text)
    except ValueError:
        return "undecided"
    return tuple(parsed) if parsed else None


def assert_same_as_feedparser(text: str) -> None:
    ours = decided(text)
    if ours == "undecided":
        return                      # the document goes to feedparser: nothing to compare
    expected = feedparser_parse_date(text)
    assert ours == (tuple(expected) if expected else None), repr(text)


# ------------------------------------------------------------------------- generated strings

def _number(low: int, high: int, width: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda n: f"{n:0{width}d}")


_day_names = st.sampled_from(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Monday",
                              "THURSDAY", "sun", "Seg", "Dom", "Mo", "Xyz"])
_month_names = st.sampled_from(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                                "Oct", "Nov", "Dec", "January", "June", "July", "Sept",
                                "august", "DEC"])
_odd_month_names = st.sampled_from(["Set", "Mai", "Okt", "Dez", "März", "Foo"])
_zone_names = st.sampled_from([
    "GMT", "UT", "UTC", "Z", "z", "EST", "EDT", "CST", "CDT", "MST", "MDT", "PST", "PDT", "AST",
    "ADT", "AT", "ET", "CT", "MT", "PT", "A", "N", "M", "Y", "B", "MET", "MEST", "CET", "CEST",
    "BST", "IST", "MSK", "Etc/GMT", "Etc/UTC", "GMT+01:00", "GMT-0500", "gmt+5", "GMT+",
    "GMT+5:30", "GMT-3", "GMT+01:00:00", "Etc/GMT+2",
    "+0000", "-0000", "+0100", "-0500", "+0530", "-0930", "+05:30", "-03:00", "+1", "+01",
    "+99", "+9999", "-", "XYZ", "(UTC)",
])
_seps = st.sampled_from([" ", " ", " ", "  ", "\t", " \n "])


def _mostly(valid: st.SearchStrategy[str], odd: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Usually a valid field, sometimes an odd one."""
    return st.one_of(valid, valid, valid, odd)


def _clock(draw, seconds: bool = True) -> str:
    hour = draw(_mostly(_number(0, 23, 2), st.one_of(_number(0, 9, 1), _number(24, 99, 2))))
    minute = draw(_mostly(_number(0, 59, 2), st.sampled_from(["60", "5", "99"])))
    clock = f"{hour}:{minute}"
    if seconds and draw(st.booleans()):
        clock += ":" + draw(_mostly(_number(0, 59, 2), st.sampled_from(["60", "61", "7"])))
    return clock


@st.composite
def rfc822_dates(draw, common: bool = False) -> str:
    """RFC 822/2822 as feeds write it, with the usual slips unless `common`."""
    sep = " " if common else draw(_seps)
    parts = []
    if draw(st.booleans()):
        day_name = draw(st.sampled_from(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"])
                        if common else _day_names)
        parts.append(day_name + draw(st.sampled_from([",", ",", ""])))
    day = draw(_number(1, 28, 2) if common else _mostly(
        st.one_of(_number(1, 31, 2), _number(1, 9, 1)), st.sampled_from(["0", "32", "x"])))
    month = draw(st.sampled_from(["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
                                  "Oct", "Nov", "Dec", "June", "July"])
                 if common else _mostly(_month_names, _odd_month_names))
    if not common and draw(st.integers(0, 5)) == 0:
        parts += [month, day]                       # swapped
    else:
        parts += [day, month]
    parts.append(draw(st.one_of(_number(1990, 2030, 4), _number(0, 99, 2))
                      if common else _mostly(st.one_of(_number(1, 9999, 4), _number(0, 99, 2)),
                                             st.one_of(_number(0, 999, 3), st.just("20245")))))
    if common or draw(st.integers(0, 4)):
        parts.append(_clock(draw) if not common else ":".join(
            [draw(_number(0, 23, 2)), draw(_number(0, 59, 2)), draw(_number(0, 59, 2))]))
        if common or draw(st.integers(0, 4)):
            parts.append(draw(st.sampled_from(["GMT", "UT", "UTC", "EST", "EDT", "PST", "PDT",
                                               "CST", "MST", "Z", "+0000", "+0200", "-0500",
                                               "+0530", "+05:30", "CET", "CEST", "BST", "IST",
                                               "MSK", "MET", "MEST", "GMT+2", "GMT+01:00"])
                              if common else _zone_names))
    return sep.join(parts)


@st.composite
def iso8601_dates(draw, common: bool = False) -> str:
    """W3CDTF (RFC 3339) and, unless `common`, the compact and reduced ISO 8601 forms."""
    if common:
        text = f"{draw(_number(1990, 2030, 4))}-{draw(_number(1, 12, 2))}-{draw(_number(1, 28, 2))}"
        if draw(st.booleans()):
            text += (f"{draw(st.sampled_from(['T', ' ']))}{draw(_number(0, 23, 2))}:"
                     f"{draw(_number(0, 59, 2))}:{draw(_number(0, 59, 2))}")
            text += draw(st.sampled_from(["", ".123", ".5", ".123456"]))
            text += draw(st.sampled_from(["Z", "+00:00", "+01:00", "-05:00", "+05:30", "-09:30",
                                          "+0100", ""]))
        return text
    dash = draw(st.sampled_from(["-", "-", ""]))
    year = draw(_mostly(_number(1, 9999, 4),
                        st.one_of(_number(0, 99, 2), _number(0, 999, 3), st.just(""))))
    month = draw(_mostly(_number(1, 12, 2), st.one_of(_number(0, 19, 2), _number(1, 9, 1))))
    day = draw(_mostly(_number(1, 31, 2), st.one_of(_number(0, 39, 2), _number(1, 9, 1))))
    shape = draw(st.sampled_from(["ymd", "ymd", "ymd", "ymd", "ym", "y", "ordinal", "md",
                                  "week"]))
    date = {"ymd": f"{year}{dash}{month}{dash}{day}", "ym": f"{year}-{month}", "y": year,
            "ordinal": f"{year}{dash}{draw(_number(0, 399, 3))}",
            "md": f"--{month}{dash}{day}", "week": f"{year}-W{draw(_number(1, 53, 2))}-3"}[shape]
    if draw(st.booleans()):
        return date
    separator = draw(st.sampled_from(["T", "T", " ", "t", ""]))
    clock = _clock(draw) if draw(st.integers(0, 3)) else draw(_number(0, 235959, 6))
    fraction = draw(st.sampled_from(["", "", ".123", ".5", ",5", ".123456789"]))
    zone = draw(st.sampled_from(["", "Z", "z", "+00:00", "+01:00", "-05:00", "+05:30", "+0100",
                                 "-0530", "+01", "-12", " +0100", " GMT", " EST", "+1",
                                 "+25:00"]))
    return f"{date}{separator}{clock}{fraction}{zone}"


@st.composite
def asctime_dates(draw) -> str:
    day = draw(st.one_of(_number(1, 31, 1).map(lambda d: f"{d:>2}"), _number(1, 31, 2)))
    zone = draw(st.sampled_from(["", " +0000", " -0500", " GMT", " EST"]))
    return (f"{draw(_day_names)} {draw(_month_names)} {day} {_clock(draw)}{zone} "
            f"{draw(_number(1970, 2030, 4))}")


_tokens = st.sampled_from([
    "Mon,", "Tue", "13", "1", "Sep", "September", "2023", "23", "10:30", "10:30:00", "+0200",
    "GMT", "EST", "2024-03-01", "2024-03-01T09:30:00Z", "T", "Z", "-", "/", ",", "am", "pm",
    "2006/09/15", "08:19:53", "EDT", "Fri,", "yesterday", "0", "00:00", "+05:30", "12", ":",
])
garbage = st.one_of(
    st.lists(_tokens, max_size=7).map(" ".join),
    st.text(alphabet="0123456789 :-+/.,TtZzWGMTESPDamp", max_size=30),
    st.text(max_size=20),
    st.sampled_from(["", " ", "not a date", "today", "12:30", "T12:30", "2024/01/05",
                     "2024/01/05 10:00", "Fri, 2006/09/15 08:19:53 EDT", "20", "-05", "---12",
                     "Κυρ, 11 Ιούλ 2004 12:00:00 EST", "2004-július-13T9:15-05:00",
                     "2004년 05월 28일  01:31:15", "2004-05-25 오후 11:23:17",
                     "Sun Nov  6 08:49:37 1994", "Sunday, 06-Nov-94 08:49:37 GMT",
                     "1994-11-06T08:49:37.5Z", "٢٠٢٤-٠٣-٠١", "2024-03-01T09:30:nan",
                     "2024-03-01T09:30:inf", "0000-01-01", "9999-12-31T23:59:59-01:00",
                     "0001-01-01T00:00:00+01:00", "Mon, 01 Jan 0001 00:00:00 +0100"]),
)
common_date = st.one_of(rfc822_dates(common=True), iso8601_dates(common=True))
any_date = st.one_of(common_date, rfc822_dates(), iso8601_dates(), asctime_dates(), garbage)


@settings(max_examples=3000, deadline=None)
@given(any_date)
@example("Wed, 13 Sep 2023 10:30:00 +0200")
@example("2024-03-01T09:30:00+0530")
@example("Tue, 10 Jun 2003 04:00:00 PST")
@example("Seg, 15 Set 2014 10:00:00 -0300")
@example("Sat, 05 Oct 2024 10:00:00 GMT+5:30")                  # read as +53 hours
def test_parse_date_agrees_with_feedparser(text):
    assert_same_as_feedparser(text)


@settings(max_examples=800, deadline=None)
@given(any_date, st.sampled_from(LOCAL_ZONES))
@example("20240310T023000", "EST5EDT,M3.2.0,M11.1.0")          # in the spring-forward gap
@example("2024-03-31T01:30:00+03:00", "CET-1CEST,M3.5.0,M10.5.0/3")
@example("20241103T0130-0400", "EST5EDT,M3.2.0,M11.1.0")        # an hour that comes twice
def test_parse_date_agrees_with_feedparser_in_any_local_time_zone(text, zone):
    with local_zone(zone):
        assert_same_as_feedparser(text)


@settings(max_examples=1000, deadline=None)
@given(common_date)
def test_the_formats_feeds_use_never_need_feedparser(text):
    assert decided(text) != "undecided"
    assert_same_as_feedparser(text)


# ------------------------------------------------------------------------------ known cases

def utc(*fields: int) -> datetime:
    return datetime(*fields, tzinfo=UTC)


def as_utc(text: str) -> datetime | None:
    parsed = parse_date(text)
    return datetime(*parsed[:6], tzinfo=UTC) if parsed else None


@pytest.mark.parametrize(("text", "expected"), [
    ("Wed, 13 Sep 2023 10:30:00 +0200", utc(2023, 9, 13, 8, 30)),
    ("Thu, 14 Sep 2023 08:00:00 GMT", utc(2023, 9, 14, 8)),
    ("Tue, 10 Jun 2003 04:00:00 PST", utc(2003, 6, 10, 12)),
    ("Fri, 1 Dec 2023 09:00:00 MEST", utc(2023, 12, 1, 7)),
    ("Fri 9 Dec 2016 10:00:00 GMT", utc(2016, 12, 9, 10)),
    ("Sun, 05 August 2012 10:00:00 EST", utc(2012, 8, 5, 15)),
    ("05 Oct 2024 10:00 Etc/GMT", utc(2024, 10, 5, 10)),
    ("Sat, 05 Oct 2024 10:00:00 GMT+02:00", utc(2024, 10, 5, 8)),
    ("Thu, 14 Dec 89 10:00:00 -0500", utc(2089, 12, 14, 15)),     # below 90: 20xx
    ("Thu, 14 Dec 95 10:00:00 -0500", utc(1995, 12, 14, 15)),
    ("Oct 05 2024 10:00:00 +0000", utc(2024, 10, 5, 10)),         # day and month swapped
    ("Sat, 05 Oct 2024", utc(2024, 10, 5)),
    ("Sat, 05 Oct 2024 10:00:00 CEST", utc(2024, 10, 5, 10)),     # a zone it does not know
    ("2024-03-01T09:30:00Z", utc(2024, 3, 1, 9, 30)),
    ("2024-03-01T09:30:00.123-05:00", utc(2024, 3, 1, 14, 30)),
    ("2024-03-01T09:30:00+0530", utc(2024, 3, 1, 4, 30)),         # feedparser drops the :30
    ("2024-03-01 09:30:00 +0100", utc(2024, 3, 1, 8, 30)),
    ("2024-03-01", utc(2024, 3, 1)),
    ("2024-03", utc(2024, 3, 1)),
    ("20240301T09:30:00Z", utc(2024, 3, 1, 9, 30)),
    ("20240301T093000Z", utc(2024, 3, 1)),           # a time without colons is ignored
    ("2024-03-01T09:30+01", utc(2024, 3, 1, 8, 30)),
    ("2024061", utc(2024, 3, 1)),                    # day 61 of the year
    ("2024-061", utc(2024, 6, 1)),                   # ... but with a dash read as "2024-06"
    ("Sun Nov  6 08:49:37 1994", utc(1994, 11, 6, 8, 49, 37)),
    ("not a date", None),
    ("Seg, 15 Set 2014 10:00:00 -0300", None),
    ("", None),
])
def test_known_dates(text, expected):
    assert as_utc(text) == expected
    assert_same_as_feedparser(text)


@pytest.mark.parametrize("text", [
    "2024/01/05",                          # feedparser: 2024, the current month, the 1st
    "240105",                              # two-digit year: the current century
    "12:30",                               # today at 12:30
    "Fri, 2006/09/15 08:19:53 EDT",        # feedparser's Perforce handler
    "Κυρ, 11 Ιούλ 2004 12:00:00 EST",      # feedparser's Greek handler
])
def test_dates_only_feedparser_reads_are_left_to_it(text):
    with pytest.raises(ValueError, match="not replayed"):
        parse_date(text)
