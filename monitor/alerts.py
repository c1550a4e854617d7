"""What is due for whom after an alert: answers to a story that grew, and quiet hours.

Pure functions over store data (the pipeline and the dispatcher ask them):

- A story that a chat was alerted about keeps being followed: its later sources edit the
  alert in place without a ping (deliver/alerts.py renders the edit). A new message that does
  ping follows only when the story reaches the chat's `/follow RULE N` sources, or when an
  article brings a materially new headline: one whose words overlap those of every headline
  the chat saw of the story by less than `[service] new_headline_below` (Jaccard similarity
  of the sets of words). The same agency text under another outlet's headline mostly shares
  its key words ("Kim trifft Putin in Wladiwostok" / "Putin empfängt Kim in Wladiwostok":
  0.67); a turn of the story does not ("Russland und Nordkorea unterzeichnen
  Beistandspakt": 0.0).
- Quiet hours: a chat's window of local time in which instant messages wait; the end of the
  window is when they go out.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.config import parse_clock
from monitor.models import AlertedStory, QuietHours

FOLLOW_SOURCES = "sources"
NEW_HEADLINE = "headline"

_WORD = re.compile(r"\w+")


def headline_words(title: str) -> set[str]:
    return set(_WORD.findall(title.casefold()))


def headline_similarity(a: str, b: str) -> float:
    """Jaccard similarity of two headlines' sets of words (1.0 for two empty ones)."""
    words_a, words_b = headline_words(a), headline_words(b)
    if not words_a and not words_b:
        return 1.0
    return len(words_a & words_b) / len(words_a | words_b)


def follow_up_reasons(story: AlertedStory, title: str, new_headline_below: float) -> list[str]:
    """Why an article of an alerted story pings the chat again (none: it only edits the
    alert). Each reason pings once per story (the store keeps the claims)."""
    reasons = []
    if (FOLLOW_SOURCES not in story.reasons and story.follow_sources is not None
            and len(story.sources) >= story.follow_sources):
        reasons.append(FOLLOW_SOURCES)
    if (NEW_HEADLINE not in story.reasons and new_headline_below > 0
            and all(headline_similarity(title, seen) < new_headline_below
                    for seen in story.titles)):
        reasons.append(NEW_HEADLINE)
    return reasons


def parse_quiet_hours(text: str) -> tuple[str, str] | None:
    """'22:00-07:00' (also '22-7', '22:00–07:00') as ('22:00', '07:00'); None when not."""
    parts = re.split(r"\s*[-–]\s*", text.strip())
    if len(parts) != 2:
        return None
    start, end = (parse_clock(part if ":" in part else f"{part}:00") for part in parts)
    if start is None or end is None or start == end:
        return None
    return start, end


def quiet_until(now: datetime, quiet: QuietHours, default_zone: str) -> datetime | None:
    """The end of the chat's quiet window that `now` is in (UTC), or None outside it.

    A window may cross midnight (22:00-07:00). The end is computed on its own local day, so
    that a change to or from summer time keeps the local time.
    """
    zone = ZoneInfo(quiet.zone or default_zone)
    local = now.astimezone(zone)
    start, end = time.fromisoformat(quiet.start), time.fromisoformat(quiet.end)
    clock = local.time().replace(tzinfo=None)
    if start < end:
        inside = start <= clock < end
        end_day = local.date()
    else:
        inside = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not inside:
        return None
    until = datetime.combine(end_day, end, tzinfo=zone).astimezone(UTC)
    # The night summer time ends, a window ending inside the repeated hour has ended once
    # already: the second pass through it is not quiet again.
    return until if until > now else None
