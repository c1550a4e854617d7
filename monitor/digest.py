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

from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from monitor.deliver import (
    MAX_TEXT,
    escape,
    linked,
    local_time,
    markdown_text,
    markdown_url,
    split_message,
    visible_length,
)
from monitor.models import DigestMatch
from monitor.summarize import summarize

TOP_STORIES = 3

LABELS = {
    "de": {"digest": "Tagesüberblick", "top": "Top-Themen", "more": "weitere Quellen",
           "nothing": "nichts Neues", "counts": "{articles} Artikel, {stories} Themen"},
    "en": {"digest": "Daily digest", "top": "Top stories", "more": "more sources",
           "nothing": "nothing new", "counts": "{articles} articles, {stories} stories"},
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


@dataclass(frozen=True)
class DigestStory:
    story_id: int
    title: str
    url: str | None
    source: str
    sources: int                 # distinct sources of the story
    published: datetime
    summary: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class DigestSection:
    rule_id: str
    rule_name: str
    stories: list[DigestStory]
    matches: int                  # matching articles in the period


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
        return self.label("counts", articles=section.matches, stories=len(section.stories))

    def title(self) -> str:
        return (f"{self.label('digest')} {local_time(self.start, self.timezone)} – "
                f"{local_time(self.end, self.timezone)}")

    @property
    def empty(self) -> bool:
        return not any(section.stories for section in self.sections)

    def top_stories(self) -> list[DigestStory]:
        stories = {s.story_id: s for section in self.sections for s in section.stories}
        return sorted(stories.values(), key=lambda s: (-s.sources, s.published))[:TOP_STORIES]


def build_digest(chat_id: int, start: datetime, end: datetime, timezone: str,
                 rule_names: dict[str, str], rows: list[DigestMatch],
                 language: str = "de") -> Digest:
    """Group a period's matches (Store.matches_between) by rule and story; summarise the top
    stories.

    A story appears once per rule, as its earliest matching article in the period.
    """
    sections = []
    for rule_id, name in rule_names.items():
        mine = [row for row in rows if row.rule_id == rule_id]
        stories: dict[int, DigestStory] = {}
        for row in mine:
            if row.story_id in stories:
                continue
            stories[row.story_id] = DigestStory(
                story_id=row.story_id, title=row.title, url=row.url, source=row.source,
                sources=max(1, len(set(row.story_sources))), published=row.published)
        sections.append(DigestSection(rule_id, name, list(stories.values()), len(mine)))
    digest = Digest(chat_id, start, end, timezone, sections, language)
    texts = {row.story_id: row for row in rows}
    summarised = {s.story_id: replace(s, summary=summarize(
        texts[s.story_id].title, texts[s.story_id].text, texts[s.story_id].language).sentences)
        for s in digest.top_stories()}
    return replace(digest, sections=[
        replace(section, stories=[summarised.get(s.story_id, s) for s in section.stories])
        for section in sections])


# Every piece of feed or rule text goes through the escaping function of its format
# (monitor.deliver.render): `escape` for Telegram's HTML and the page, `markdown_text` and
# `markdown_url` for Markdown; links only to http(s) URLs (`linked`, `markdown_url`).

def _story_line(digest: Digest, story: DigestStory) -> str:
    title = linked(escape(story.title), story.url)
    return f"• {title} <i>({escape(story.source)}{_more(digest, story, ' ')})</i>"


def _more(digest: Digest, story: DigestStory, lead: str) -> str:
    if story.sources <= 1:
        return ""
    return f"{lead}+{story.sources - 1} {digest.label('more')}"


def render_telegram(digest: Digest) -> list[str]:
    """Telegram HTML messages, each under the length limit, split only between stories."""
    head = f"📰 <b>{escape(digest.title())}</b>"
    blocks: list[str] = [head]
    top = digest.top_stories()
    if top:
        lines = [f"<b>{digest.label('top')}</b>"]
        for story in top:
            lines.append(_story_line(digest, story))
            if story.summary:
                lines.append(escape(" ".join(story.summary)))
        blocks.append("\n".join(lines))
    for section in digest.sections:
        name = escape(section.rule_name)
        if not section.stories:
            blocks.append(f"<b>{name}</b>: {digest.label('nothing')}.")
            continue
        blocks.append(f"<b>{name}</b> – {digest.counts(section)}")
        blocks.extend(_story_line(digest, story) for story in section.stories)
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
        for story in top:
            lines.append(_md_item(digest, story))
            if story.summary:
                lines.append(f"  > {markdown_text(' '.join(story.summary))}")
        lines.append("")
    for section in digest.sections:
        lines += [f"## {markdown_text(section.rule_name)}", ""]
        if not section.stories:
            lines += [f"{digest.label('nothing').capitalize()}.", ""]
            continue
        lines += [digest.counts(section), ""]
        lines += [_md_item(digest, s) for s in section.stories]
        lines.append("")
    return "\n".join(lines)


def _md_item(digest: Digest, story: DigestStory) -> str:
    """`- [title](url) (source, +N more sources)`; the title alone when the url is not
    http(s)."""
    title, url = markdown_text(story.title), markdown_url(story.url)
    link = f"[{title}]({url})" if url else title
    return f"- {link} ({markdown_text(story.source)}{_more(digest, story, ', ')})"


def render_html_page(digest: Digest) -> str:
    """A self-contained HTML page of the digest (no external resources)."""
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
        parts.append(f"<h2>{digest.label('top')}</h2><ul>")
        for story in top:
            parts.append(f"<li>{_html_item(digest, story)}")
            if story.summary:
                parts.append(f"<blockquote>{escape(' '.join(story.summary))}</blockquote>")
            parts.append("</li>")
        parts.append("</ul>")
    for section in digest.sections:
        parts.append(f"<h2>{escape(section.rule_name)}</h2>")
        if not section.stories:
            parts.append(f"<p>{digest.label('nothing').capitalize()}.</p>")
            continue
        parts.append(f"<p>{digest.counts(section)}</p><ul>")
        parts.extend(f"<li>{_html_item(digest, s)}</li>" for s in section.stories)
        parts.append("</ul>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _html_item(digest: Digest, story: DigestStory) -> str:
    title = linked(escape(story.title), story.url)
    source = escape(story.source) + escape(_more(digest, story, ", "))
    return f'{title} <span class="src">({source})</span>'
