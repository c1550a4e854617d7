"""Feed dates read exactly as feedparser reads them, without its private `_parse_date`.

fastfeed must give the dates feedparser gives, and feedparser has no public date parser
(only `registerDateHandler`, to add one). So this module replays the rules of the date
handlers of feedparser 6.0.x (feedparser/datetimes/), in the order feedparser tries them:

1. W3CDTF / ISO 8601 with separators ("2024-03-01T09:30:00+01:00", "2024-03-01",
   "2024-03-01 09:30:00 +0100", "2024-03"),
2. RFC 822/2822 and its usual variants (two-digit years, day and month swapped, no day name,
   full month names, no time or zone, named zones such as GMT, EST, PDT, MEST, Etc/GMT,
   GMT+01:00, military letters),
3. compact ISO 8601 ("20240301T09:30Z", "2024061" for day 61; a time without colons is
   ignored),
4. asctime ("Sun Nov  6 08:49:37 1994").

The quirks are kept on purpose, because the other path is feedparser itself: a W3CDTF zone
without a colon keeps only its hours ("+0530" is read as +05:00); two-digit RFC 822 years
below 90 are 20xx; unknown zone names count as UTC; out-of-range fields of compact ISO dates
roll over, in the local time zone, as time.mktime does. That is also why
`email.utils.parsedate_to_datetime` and `datetime.fromisoformat` are not used: they read
these strings differently (another two-digit-year pivot, "+0530" as +05:30, fewer zone
names, no W3CDTF reduced forms).

Where feedparser's answer cannot be replayed, `parse_date` raises ValueError and the caller
leaves the document to feedparser: compact ISO dates that take the year, month or day from
the clock ("2024/01/05" is read by feedparser as the 1st of the *current* month of 2024), the
Perforce and Greek handlers' formats, and a compact ISO date time.mktime cannot take.
(feedparser's Hungarian and Korean handlers need four leading digits, which the compact ISO
handler, tried before them, always claims.) A plain ValueError, as monitor/errors.py keeps
internal signals out of its tree. Garbage that none of the handlers reads gives None, as in
feedparser.

tests/ingest/test_feeddates.py compares `parse_date` with feedparser's `_parse_date` on
generated strings of all these kinds.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

__all__ = ["parse_date"]

# feedparser's zone names (datetimes/rfc822.py; w3dtf.py has the same without met/mest).
_RFC822_ZONES = {
    "ut": 0, "gmt": 0, "z": 0,
    "adt": -3, "ast": -4, "at": -4,
    "edt": -4, "est": -5, "et": -5,
    "cdt": -5, "cst": -6, "ct": -6,
    "mdt": -6, "mst": -7, "mt": -7,
    "pdt": -7, "pst": -8, "pt": -8,
    "a": -1, "n": 1,
    "m": -12, "y": 12,
    "met": 1, "mest": 2,
}
_W3DTF_ZONES = {name: hours for name, hours in _RFC822_ZONES.items()
                if name not in ("met", "mest")}
_DAY_NAMES = frozenset({"mon", "tue", "wed", "thu", "fri", "sat", "sun"})
_MONTHS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6,
           "jul": 7, "aug": 8, "sep": 9, "oct": 10, "nov": 11, "dec": 12}
# What feedparser's _parse_date catches from a handler before it tries the next one.
_HANDLER_ERRORS = (KeyError, OverflowError, ValueError, AttributeError)


def parse_date(value: str) -> time.struct_time | None:
    """The UTC time feedparser's `_parse_date` gives for `value` (a struct_time; None when no
    handler reads it). Raises ValueError where that answer is not replayed here."""
    if not value:
        return None
    for handler in (_w3dtf, _rfc822):
        try:
            parsed = handler(value)
        except _HANDLER_ERRORS:
            parsed = None
        if parsed:
            return parsed
    parsed = _compact_iso8601(value)
    if parsed:
        return parsed
    try:
        parsed = _asctime(value)
    except _HANDLER_ERRORS:
        parsed = None
    if parsed:
        return parsed
    if _PERFORCE.search(value) or (not value.isascii() and _GREEK.match(value)):
        raise _undecided(value)
    return None


def _undecided(text: str) -> ValueError:
    return ValueError(f"feedparser reads the date {text!r} in a way not replayed here")


def _w3dtf(text: str) -> time.struct_time | None:
    """feedparser's W3CDTF handler, which also takes MSSQL's "2024-03-01 09:30:00 +0100"."""
    if not text.strip():
        return None
    parts = text.lower().split("t")
    if len(parts) == 1:
        parts = parts[0].split()
        if len(parts) == 1:
            parts.append("00:00:00z")          # a date without time
    elif len(parts) > 2:
        return None
    date = parts[0].split("-", 2)
    if not date or len(date[0]) != 4:
        return None
    date.extend(["1"] * (3 - len(date)))        # "2024" and "2024-03" are the 1st
    try:
        year, month, day = [int(field) for field in date]
    except ValueError:
        return None
    if parts[1].endswith("z"):
        parts[1] = parts[1][:-1]
        parts.append("z")
    # The numeric zone, if any, moves from the time to the end of `parts`; in the MSSQL form
    # parts[2] is the zone already and stays the one read.
    at = parts[1].find("-") + 1 or parts[1].find("+") + 1 or len(parts[1]) + 1
    at -= 1
    parts.append(parts[1][at:])
    parts[1] = parts[1][:at]
    clock = parts[1].split(":", 2)
    clock.extend(["0"] * (3 - len(clock)))
    zone = parts[2]
    if zone[:1] in ("-", "+"):
        try:
            zone_hours, zone_minutes = int(zone[1:3]), int(zone[4:])
        except ValueError:
            return None
        if zone.startswith("-"):
            zone_hours, zone_minutes = -zone_hours, -zone_minutes
    else:
        zone_hours, zone_minutes = _W3DTF_ZONES.get(zone, 0), 0
    try:
        hour, minute, second = [int(float(field)) for field in clock]
    except ValueError:
        return None
    return _utc(year, month, day, hour, minute, second, zone_hours, zone_minutes)


def _rfc822(text: str) -> time.struct_time | None:
    """feedparser's RFC 822 handler: two- or four-digit years, day and month in either order,
    a missing time or zone taken as midnight UTC, more zone names than RFC 822 has."""
    parts = text.lower().split()
    if len(parts) < 5:
        parts.extend(("00:00:00", "0000"))
    if parts[0][:3] in _DAY_NAMES:
        parts = parts[1:]
    if len(parts) < 5:
        return None
    month = _MONTHS.get(parts[1][:3])
    try:
        day = int(parts[0])
    except ValueError:
        if not _MONTHS.get(parts[0][:3]):
            return None
        try:
            day = int(parts[1])
        except ValueError:
            return None
        month = _MONTHS.get(parts[0][:3])
    if not month:
        return None
    try:
        year = int(parts[2])
    except ValueError:
        return None
    if len(parts[2]) <= 2:
        year += 2000 if year < 90 else 1900
    clock = parts[3].split(":")
    clock.extend(("0",) * (3 - len(clock)))
    try:
        hour, minute, second = [int(field) for field in clock]
    except ValueError:
        return None
    zone = parts[4]
    if zone.startswith("etc/"):
        zone = zone[4:]
    if zone.startswith("gmt"):
        zone = "".join(zone[3:].split(":")) or "gmt"      # GMT-05:00 → -0500
    if zone and zone[0] in ("-", "+"):
        try:
            zone_hours = int(zone[1:3])
            zone_minutes = int(zone[4:]) if ":" in zone else int(zone[3:])
        except ValueError:
            return None
        if zone.startswith("-"):
            zone_hours, zone_minutes = -zone_hours, -zone_minutes
    else:
        zone_hours, zone_minutes = _RFC822_ZONES.get(zone, 0), 0
    return _utc(year, month, day, hour, minute, second, zone_hours, zone_minutes)


def _utc(year: int, month: int, day: int, hour: int, minute: int, second: int,
         zone_hours: int, zone_minutes: int) -> time.struct_time | None:
    try:
        stamp = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    try:
        # timedelta(days, seconds, microseconds, milliseconds, minutes, hours): positional
        # arguments are measurably cheaper than keywords, and this runs once an item.
        return (stamp - timedelta(0, 0, 0, 0, zone_minutes, zone_hours)).utctimetuple()
    except (OverflowError, ValueError):
        return None


def _asctime(text: str) -> time.struct_time | None:
    """"Sun Nov  6 08:49:37 1994" (optionally with a numeric zone before the year), reordered
    for the RFC 822 handler as feedparser does."""
    parts = text.split()
    if len(parts) == 5:
        parts.insert(4, "+0000")
    if len(parts) != 6:
        return None
    return _rfc822(" ".join([parts[0], parts[2], parts[1], parts[5], parts[3], parts[4]]))


# feedparser's ISO 8601 templates, most specific first: the first one that matches the start
# of the string is used, whatever follows it.
_ISO8601_TEMPLATES = ["YYYY-?MM-?DD", "YYYY-0MM?-?DD", "YYYY-MM", "YYYY-?OOO", "YY-?MM-?DD",
                      "YY-?OOO", "YYYY", "-YY-?MM", "-OOO", "-YY", "--MM-?DD", "--MM", "---DD",
                      "CC", ""]
_ISO8601_MATCHERS = [
    re.compile(
        template.replace("YYYY", r"(?P<year>\d{4})")
        .replace("YY", r"(?P<year>\d\d)")
        .replace("MM", r"(?P<month>[01]\d)")
        .replace("DD", r"(?P<day>[0123]\d)")
        .replace("OOO", r"(?P<ordinal>[0123]\d\d)")
        .replace("CC", r"(?P<century>\d\d$)")
        + r"(T?(?P<hour>\d{2}):(?P<minute>\d{2})"
        + r"(:(?P<second>\d{2}))?"
        + r"(\.(?P<fracsecond>\d+))?"
        + r"(?P<tz>[+-](?P<tzhour>\d{2})(:(?P<tzmin>\d{2}))?|Z)?)?"
    ).match
    for template in _ISO8601_TEMPLATES
]


def _compact_iso8601(text: str) -> time.struct_time | None:
    """feedparser's ISO 8601 handler, for what the W3CDTF one rejects ("20240301T09:30Z",
    "2024061", a zone of hours only). feedparser normalises the fields through time.mktime
    and time.localtime, i.e. in the machine's local time zone (an hour off around its
    summer-time changes); the same calls here give the same result in any zone. Raises
    ValueError where feedparser takes a field from the clock."""
    found = None
    for match in _ISO8601_MATCHERS:
        found = match(text)
        if found:
            break
    if not found or found.span() == (0, 0):
        return None
    fields = found.groupdict()
    ordinal = int(fields.get("ordinal") or 0)
    century = fields.get("century")
    year_text = fields.get("year")
    if century:
        year = (int(century) - 1) * 100 + 1
    elif year_text and len(year_text) == 4:
        year = int(year_text)
    else:                          # no year, or two digits in the current century
        raise _undecided(text)
    month_text = fields.get("month")
    if month_text:
        month = int(month_text)
    elif ordinal:
        month = 1                  # mktime rolls day N of January over into the right month
    else:
        raise _undecided(text)     # the current month
    day_text = fields.get("day")
    day = int(day_text) if day_text else (ordinal or 1)
    hour = int(fields.get("hour") or 0)
    minute = int(fields.get("minute") or 0)
    second = int(float(fields.get("second") or 0))
    zone = fields.get("tz")
    if zone and zone != "Z":
        sign = 1 if zone[0] == "-" else -1
        hour += sign * int(fields.get("tzhour") or 0)
        minute += sign * int(fields.get("tzmin") or 0)
    try:
        return time.localtime(time.mktime((year, month, day, hour, minute, second, 0,
                                           ordinal, -1)))
    except (OverflowError, ValueError, OSError) as exc:
        raise _undecided(text) from exc


# The shape feedparser's Perforce handler looks for anywhere in the string
# ("Fri, 2006/09/15 08:19:53 EDT"); a month over 12 makes it raise IndexError.
_PERFORCE = re.compile(
    r"(\w{,3}), (\d{,4})/(\d{,2})/(\d{2}) (\d{,2}):(\d{2}):(\d{2}) (\w{,3})")
# The shape feedparser's Greek handler reads; it only succeeds with Greek day and month names.
_GREEK = re.compile(
    r"([^,]+),\s+(\d{2})\s+([^\s]+)\s+(\d{4})\s+(\d{2}):(\d{2}):(\d{2})\s+([^\s]+)")
