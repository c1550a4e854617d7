"""The daily digest: when it is due for a chat, and what it says.

Pure functions over plain data; the pipeline reads the matches from the store, calls these,
and records the digest together with its outbox rows in one transaction, so a digest is sent
once per period even across crashes and re-runs.

When: each chat has a local time and a timezone (default from `[digest]`). The digest for
a period ends at the latest scheduled local time that has passed; it covers the matches
since the end of the previous digest. A digest missed while the service was down is sent
when it comes back, once: only the latest missed slot is due, covering the whole gap.
Local times are turned into UTC with zoneinfo per day, so daylight-saving changes keep the
local time; a local time that does not exist on a spring-forward day is taken as the same
wall-clock time after the shift.

What: grouped by rule, one line per story (linked title, source, "+N more sources"), the top
stories with their summary, counts per rule, and a short line for a rule with nothing.
Split into several messages at story boundaries when needed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.deliver import (
    MAX_TEXT,
    bold_spans,
    escape,
    linked,
    local_time,
    markdown_bold,
    markdown_text,
    markdown_url,
    split_message,
    visible_length,
)
from monitor.models import DigestMatch
from monitor.summarize import Highlighter, summarize

TOP_STORIES = 3

LABELS = {
    "de": {"digest": "Tagesüberblick", "top": "Top-Themen", "more": "weitere Quellen",
           "nothing": "nichts Neues", "counts": "{articles} Artikel, {stories} Themen",
           "above": " ({n} davon oben)"},
    "en": {"digest": "Daily digest", "top": "Top stories", "more": "more sources",
           "nothing": "nothing new", "counts": "{articles} articles, {stories} stories",
           "above": " ({n} of them above)"},
}


def local_slot(day: date, at: str, tz: ZoneInfo) -> datetime:
    hour, minute = (int(part) for part in at.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)


def due_period(now: datetime, at: str, timezone: str, last_end: datetime | None,
               since: datetime | None = None) -> tuple[datetime, datetime] | None:
    """The (start, end] of the digest due now, or None when the latest slot was sent already
    or came before the chat subscribed (`since`): the first digest is the next scheduled
    one, not one sent at once about the day before the subscription."""
    tz = ZoneInfo(timezone)
    today = now.astimezone(tz).date()
    end = local_slot(today, at, tz)
    if end > now:
        end = local_slot(today - timedelta(days=1), at, tz)
    if last_end is not None and last_end >= end:
        return None
    if last_end is None and since is not None and end <= since:
        return None
    start = last_end if last_end is not None else local_slot(
        end.astimezone(tz).date() - timedelta(days=1), at, tz)
    return start, end


Spans = tuple[tuple[int, int], ...]      # character spans of matched words, to set in bold


@dataclass(frozen=True)
class DigestStory:
    story_id: int
    title: str
    url: str | None
    source: str
    sources: int                 # distinct sources of the story
    published: datetime          # its first report in the period: the item's time
    summary: list[str] = field(default_factory=list)
    last_seen: datetime | None = None    # its latest report in the period (recency)
    title_spans: Spans = ()      # the matched words in the title
    summary_spans: tuple[Spans, ...] = ()    # per summary sentence

    def rank(self) -> tuple[int, float]:
        """Most outlets first, then the most recently reported."""
        return -self.sources, -(self.last_seen or self.published).timestamp()


@dataclass(frozen=True)
class DigestSection:
    rule_id: str
    rule_name: str
    stories: list[DigestStory]
    matches: int                  # matching articles in the period
    shown_above: int = 0          # its stories listed under an earlier rule already


@dataclass(frozen=True)
class Digest:
    chat_id: int
    start: datetime
    end: datetime
    timezone: str
    sections: list[DigestSection]
    language: str = "de"          # of the labels; German unless the chat speaks English

    def label(self, key: str, **values: object) -> str:
        return LABELS.get(self.language, LABELS["de"])[key].format(**values)

    def counts(self, section: DigestSection) -> str:
        counts = self.label("counts", articles=section.matches,
                            stories=len(section.stories) + section.shown_above)
        if section.shown_above:
            counts += self.label("above", n=section.shown_above)
        return counts

    def title(self) -> str:
        return (f"{self.label('digest')} {local_time(self.start, self.timezone)} – "
                f"{local_time(self.end, self.timezone)}")

    def when(self, story: DigestStory) -> str:
        """The item's local time; with its day when that is not the digest's last day."""
        zone = ZoneInfo(self.timezone)
        moment = story.published.astimezone(zone)
        same_day = moment.date() == self.end.astimezone(zone).date()
        return moment.strftime("%H:%M" if same_day else "%d.%m. %H:%M")

    @property
    def empty(self) -> bool:
        return not any(section.stories for section in self.sections)

    def top_stories(self) -> list[tuple[DigestStory, DigestSection]]:
        """The TOP_STORIES highest ranked stories of the digest, each with the section that
        lists it (a story is listed once, under the first of its rules)."""
        listed = [(story, section) for section in self.sections for story in section.stories]
        return sorted(listed, key=lambda pair: pair[0].rank())[:TOP_STORIES]


# The words of a digest row's article that its rule matched (the rule engine's hits).
MatchedWords = Callable[[DigestMatch], list[str]]


def build_digest(chat_id: int, start: datetime, end: datetime, timezone: str,
                 rule_names: dict[str, str], rows: list[DigestMatch],
                 language: str = "de", matched_words: MatchedWords | None = None) -> Digest:
    """Group a period's matches (Store.matches_between) by rule and story, rank each rule's
    stories by outlets and recency, list every story once (under its first rule), and
    summarise the top stories; the matched words are set in bold.

    A story is shown as its earliest matching article in the period.
    """
    sections = []
    listed: set[int] = set()
    first_rows: dict[int, DigestMatch] = {}
    for rule_id, name in rule_names.items():
        mine = [row for row in rows if row.rule_id == rule_id]
        stories: dict[int, DigestStory] = {}
        for row in mine:                       # in the order the articles were published
            known = stories.get(row.story_id)
            if known is None:
                stories[row.story_id] = DigestStory(
                    story_id=row.story_id, title=row.title, url=row.url, source=row.source,
                    sources=max(1, len(set(row.story_sources))), published=row.published,
                    last_seen=row.published)
                first_rows.setdefault(row.story_id, row)
            else:
                stories[row.story_id] = replace(known, last_seen=row.published)
        shown = [story for story in stories.values() if story.story_id not in listed]
        listed.update(story.story_id for story in shown)
        sections.append(DigestSection(rule_id, name, sorted(shown, key=DigestStory.rank),
                                      len(mine), len(stories) - len(shown)))
    digest = Digest(chat_id, start, end, timezone, sections, language)
    top = {story.story_id for story, _ in digest.top_stories()}
    return replace(digest, sections=[
        replace(section, stories=[_with_words(story, first_rows[story.story_id],
                                              story.story_id in top, matched_words)
                                  for story in section.stories])
        for section in sections])


def _with_words(story: DigestStory, row: DigestMatch, summarised: bool,
                matched_words: MatchedWords | None) -> DigestStory:
    """The story with its matched words marked in its title, and for a top story its
    summary (sentences with those words preferred)."""
    words = matched_words(row) if matched_words else []
    title_spans = tuple(Highlighter([row.title], inflected=False).spans(words)[0]) \
        if words else ()
    if not summarised:
        return replace(story, title_spans=title_spans)
    sentences = summarize(row.title, row.text, row.language, highlight=words,
                          inflected=False).sentences
    spans = Highlighter(sentences, inflected=False).spans(words) if words else []
    return replace(story, title_spans=title_spans, summary=list(sentences),
                   summary_spans=tuple(tuple(sentence) for sentence in spans))


# Every piece of feed or rule text goes through the escaping function of its format
# (monitor.deliver.render): `escape` for Telegram's HTML and the page, `markdown_text` and
# `markdown_url` for Markdown; links only to http(s) URLs (`linked`, `markdown_url`).

def _story_line(digest: Digest, story: DigestStory) -> str:
    """`• 14:05 title (source +2 more sources)`, the matched words of the title in bold."""
    title = linked(bold_spans(story.title, story.title_spans), story.url)
    return (f"• {digest.when(story)} {title} "
            f"<i>({escape(story.source)}{_more(digest, story, ' ')})</i>")


def _more(digest: Digest, story: DigestStory, lead: str) -> str:
    if story.sources <= 1:
        return ""
    return f"{lead}+{story.sources - 1} {digest.label('more')}"


def _summary(story: DigestStory) -> str:
    spans = story.summary_spans or tuple(() for _ in story.summary)
    return " ".join(bold_spans(sentence, sentence_spans)
                    for sentence, sentence_spans in zip(story.summary, spans, strict=False))


def render_telegram(digest: Digest) -> list[str]:
    """Telegram HTML messages, each under the length limit, split only between stories.

    The top stories come first as pointers (their title, linked, and the rule they are listed
    under); each story is listed once, under its first rule, a top story with its summary."""
    head = f"📰 <b>{escape(digest.title())}</b>"
    blocks: list[str] = [head]
    top = digest.top_stories()
    if top:
        lines = [f"<b>{digest.label('top')}</b>"]
        lines += [f"{number}. {linked(escape(story.title), story.url)} → "
                  f"<i>{escape(section.rule_name)}</i>"
                  for number, (story, section) in enumerate(top, 1)]
        blocks.append("\n".join(lines))
    for section in digest.sections:
        name = escape(section.rule_name)
        if not section.stories and not section.shown_above:
            blocks.append(f"<b>{name}</b>: {digest.label('nothing')}.")
            continue
        blocks.append(f"<b>{name}</b> – {digest.counts(section)}")
        blocks.extend(_story_line(digest, story) + (f"\n{_summary(story)}" if story.summary
                                                     else "")
                      for story in section.stories)
    return _pack(blocks)


def _pack(blocks: list[str]) -> list[str]:
    # The blocks are complete, escaped HTML (no tag or entity crosses a block's end), so the
    # visible length of blocks joined by newlines is the sum of theirs plus the newlines.
    # A block longer than a message on its own (a feed title of 100,000 characters) is cut
    # by split_message, with its tags balanced in each part.
    messages: list[str] = []
    current = ""
    size = 0  # visible_length(current)
    pieces = (piece for block in blocks for piece in (
        split_message(block) if visible_length(block) > MAX_TEXT else [block]))
    for block in pieces:
        width = visible_length(block)
        if current and size + 1 + width > MAX_TEXT:
            messages.append(current)
            current, size = block, width
        elif current:
            current, size = f"{current}\n{block}", size + 1 + width
        else:
            current, size = block, width
    if current:
        messages.append(current)
    return messages


def render_markdown(digest: Digest) -> str:
    """A readable, self-contained Markdown file of the digest, to forward or archive."""
    lines = [f"# {digest.title()}", ""]
    top = digest.top_stories()
    if top:
        lines += [f"## {digest.label('top')}", ""]
        for number, (story, section) in enumerate(top, 1):
            lines.append(f"{number}. {_md_link(markdown_text(story.title), story.url)} → "
                         f"{markdown_text(section.rule_name)}")
        lines.append("")
    for section in digest.sections:
        lines += [f"## {markdown_text(section.rule_name)}", ""]
        if not section.stories and not section.shown_above:
            lines += [f"{digest.label('nothing').capitalize()}.", ""]
            continue
        lines += [digest.counts(section), ""]
        for story in section.stories:
            lines.append(_md_item(digest, story))
            if story.summary:
                spans = story.summary_spans or tuple(() for _ in story.summary)
                lines.append("  > " + " ".join(markdown_bold(sentence, sentence_spans) for
                                               sentence, sentence_spans in zip(
                                                   story.summary, spans, strict=False)))
        lines.append("")
    return "\n".join(lines)


def _md_link(text: str, url: str | None) -> str:
    """`[text](url)`; the text alone when the url is not http(s)."""
    target = markdown_url(url)
    return f"[{text}]({target})" if target else text


def _md_item(digest: Digest, story: DigestStory) -> str:
    """`- 14:05 [title](url) (source, +N more sources)`, matched words in bold."""
    title = _md_link(markdown_bold(story.title, story.title_spans), story.url)
    return (f"- {digest.when(story)} {title} "
            f"({markdown_text(story.source)}{_more(digest, story, ', ')})")


def render_html_page(digest: Digest) -> str:
    """A self-contained HTML page of the digest (no external resources); the top stories
    link to their place in the page."""
    title = digest.title()
    parts = [
        "<!doctype html>", f'<html lang="{escape(digest.language)}"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        "<style>body{font-family:system-ui,sans-serif;max-width:46em;margin:2em auto;"
        "line-height:1.5;padding:0 1em}h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}"
        "li{margin:.3em 0}.src{color:#666}blockquote{margin:.3em 0 .8em 1em;color:#333}</style>",
        "</head><body>", f"<h1>{escape(title)}</h1>",
    ]
    top = digest.top_stories()
    if top:
        parts.append(f"<h2>{digest.label('top')}</h2><ol>")
        parts.extend(f'<li><a href="#story-{story.story_id}">{escape(story.title)}</a> → '
                     f"{escape(section.rule_name)}</li>" for story, section in top)
        parts.append("</ol>")
    for section in digest.sections:
        parts.append(f"<h2>{escape(section.rule_name)}</h2>")
        if not section.stories and not section.shown_above:
            parts.append(f"<p>{digest.label('nothing').capitalize()}.</p>")
            continue
        parts.append(f"<p>{escape(digest.counts(section))}</p><ul>")
        for story in section.stories:
            parts.append(f'<li id="story-{story.story_id}">{_html_item(digest, story)}')
            if story.summary:
                parts.append(f"<blockquote>{_summary(story)}</blockquote>")
            parts.append("</li>")
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _html_item(digest: Digest, story: DigestStory) -> str:
    title = linked(bold_spans(story.title, story.title_spans), story.url)
    source = escape(story.source) + escape(_more(digest, story, ", "))
    return f'{escape(digest.when(story))} {title} <span class="src">({source})</span>'
