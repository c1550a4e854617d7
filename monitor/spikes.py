"""Spike alerts: when a rule's matches of the last hour are far above what is usual for that
hour, and what the alert says.

Pure functions over plain data; the pipeline reads the rule's activity from the store,
calls `detect`, and records the spike together with its outbox rows in one transaction
(Store.record_spike), which also checks the cool-down: a spike is alerted once, across
crashes and restarts. `monitor rules spikes` replays `detect` over the archive (`replay`).

What is counted: matching articles, by publication time. A story that ten sources carry is
ten reports, and ten reports are what makes a topic spike (as media-monitoring tools count
mentions); the alert then shows the hour's top stories, most sources first, so that one
syndicated story does not hide the others.

The hour is sliding, (now − 1h, now], evaluated every cycle. Its usual count is the mean
of the same hour on each of the previous BASELINE_DAYS days ((now − 1h − d, now − d]); it
is a spike when the count is at least the rule's `min` and above mean + k·σ (population
standard deviation, at least SIGMA_FLOOR: a rule that never matched at that hour and then
matches six times fires by `min`, not because six is infinitely many σ above zero). Days
before the rule's history began (its first match, or the archive's start) are unknown, not
quiet: with fewer than MIN_HISTORY_DAYS of them the rule does not fire at all. After an
alert the rule is quiet for its cool-down; a spike that lasts longer is told again.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from monitor.deliver import TEXTS, escape, linked, split_message
from monitor.models import SpikeArticle, SpikeSettings

WINDOW = timedelta(hours=1)
BASELINE_DAYS = 14
MIN_HISTORY_DAYS = 7
SIGMA_FLOOR = 1.0
TOP_STORIES = 3
MAX_TITLE = 300             # characters of a title or rule name shown (feeds send novels)


@dataclass(frozen=True)
class Spike:
    """A rule's matches spiked in the hour (end − 1h, end]."""

    end: datetime
    count: int                     # matching articles in the hour
    usual: float                   # their mean at that hour on the baseline days
    threshold: float               # mean + k·σ (σ at least SIGMA_FLOOR)
    days: int                      # baseline days known

    @property
    def start(self) -> datetime:
        return self.end - WINDOW


def _in(times: Sequence[datetime], start: datetime, end: datetime) -> int:
    """How many of the sorted `times` fall in (start, end]."""
    return bisect_right(times, end) - bisect_right(times, start)


def detect(times: Sequence[datetime], now: datetime, settings: SpikeSettings,
           history_start: datetime | None, last_spike: datetime | None = None) -> Spike | None:
    """The spike of the hour before `now`, or None. `times`: the publication times of the
    rule's matching articles, sorted, covering at least the baseline; `history_start`: where
    the rule's history begins (None: it has none); `last_spike`: the end of the hour of the
    last alert, from which the cool-down runs."""
    if history_start is None:
        return None
    if last_spike is not None and now - last_spike < timedelta(seconds=settings.cooldown_s):
        return None
    count = _in(times, now - WINDOW, now)
    if count < settings.min:
        return None
    baseline = [_in(times, now - WINDOW - timedelta(days=d), now - timedelta(days=d))
                for d in range(1, BASELINE_DAYS + 1)
                if now - timedelta(days=d) >= history_start]
    if len(baseline) < MIN_HISTORY_DAYS:
        return None
    mean = sum(baseline) / len(baseline)
    sigma = math.sqrt(sum((n - mean) ** 2 for n in baseline) / len(baseline))
    threshold = mean + settings.k * max(sigma, SIGMA_FLOOR)
    if count <= threshold:
        return None
    return Spike(now, count, mean, threshold, len(baseline))


def replay(times: Sequence[datetime], start: datetime, end: datetime, settings: SpikeSettings,
           history_start: datetime | None, step: timedelta = WINDOW) -> list[Spike]:
    """When `detect` would have fired in (start, end], with its cool-down: evaluated at every
    publication (the moment a service that fetched it at once could first count it) and every
    `step` in between, as the service's cycle does."""
    moments = {start + step * n for n in range(1, int((end - start) / step) + 1)}
    moments.update(t for t in times if start < t <= end)
    fired: list[Spike] = []
    for moment in sorted(moments):
        spike = detect(times, moment, settings, history_start,
                       fired[-1].end if fired else None)
        if spike is not None:
            fired.append(spike)
    return fired


def top_stories(articles: Sequence[SpikeArticle], count: int = TOP_STORIES
                ) -> list[SpikeArticle]:
    """The hour's top stories, each as its first article of the hour: most sources first,
    then most articles in the hour, then the earliest."""
    first: dict[int, SpikeArticle] = {}
    in_hour: dict[int, int] = {}
    for article in articles:
        first.setdefault(article.story_id, article)
        in_hour[article.story_id] = in_hour.get(article.story_id, 0) + 1
    return sorted(first.values(), key=lambda a: (-a.story_sources, -in_hour[a.story_id],
                                                 a.published, a.article_id))[:count]


def usual_text(usual: float, language: str) -> str:
    """The usual count as people write it: one decimal where it has one, a German comma."""
    text = f"{usual:.1f}".removesuffix(".0")
    return text.replace(".", ",") if language == "de" else text


def _cut(text: str) -> str:
    return text if len(text) <= MAX_TITLE else text[:MAX_TITLE - 1] + "…"


def render_spike(rule_name: str, spike: Spike, stories: Sequence[SpikeArticle],
                 language: str) -> str:
    """The alert in Telegram HTML, one message: the rule, the count against the usual one,
    and the hour's top stories as linked titles with their source."""
    texts = TEXTS[language if language in TEXTS else "de"]
    lines = [f"📈 <b>{escape(_cut(rule_name))}</b>",
             texts["spike_count"].format(count=spike.count,
                                         usual=usual_text(spike.usual, language))]
    for story in stories:
        more = (" " + texts["spike_more"].format(n=story.story_sources - 1)
                if story.story_sources > 1 else "")
        lines.append(f"• {linked(escape(_cut(story.title)), story.url)} "
                     f"<i>({escape(_cut(story.source))}{more})</i>")
    return split_message("\n".join(lines))[0]
