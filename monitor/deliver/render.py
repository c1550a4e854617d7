"""Telegram messages as text: alerts in Telegram's HTML, split to its length limit, and plain text.

Telegram accepts only a few tags (b, i, u, s, a, code, pre, blockquote, ...) and rejects
everything else with "can't parse entities"; every piece of article text is therefore
stripped of tags upstream and escaped here. The 4,096-character limit counts the text after
entity parsing in UTF-16 code units, so splitting measures that, never the markup.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

MAX_TEXT = 4096

_TAG = re.compile(r"<(/?)([a-z-]+)([^>]*)>")
_ENTITY = re.compile(r"&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);")


@dataclass(frozen=True)
class AlertContent:
    """Everything an alert shows, as plain text; rendering escapes it."""

    rule_name: str
    title: str
    url: str | None
    source: str
    published: datetime
    language: str
    summary: list[str]            # sentences
    highlights: list[list[tuple[int, int]]]  # per sentence: character spans to bold


def escape(text: str) -> str:
    return html.escape(text, quote=True)


def bold_spans(sentence: str, spans: Iterable[tuple[int, int]]) -> str:
    """Escape a sentence and wrap the given character spans in <b>."""
    out, pos = [], 0
    for start, end in sorted(spans):
        if start < pos:
            continue
        out.append(escape(sentence[pos:start]))
        out.append(f"<b>{escape(sentence[start:end])}</b>")
        pos = end
    out.append(escape(sentence[pos:]))
    return "".join(out)


def render_alert(alert: AlertContent, *, timezone: str = "Europe/Berlin") -> str:
    """The alert in Telegram HTML: rule, linked title, source · time · language, summary."""
    when = alert.published.astimezone(ZoneInfo(timezone)).strftime("%d.%m.%Y %H:%M")
    title = f"<b>{escape(alert.title)}</b>"
    if alert.url:
        title = f'<a href="{escape(alert.url)}">{title}</a>'
    lines = [
        f"🔔 <b>{escape(alert.rule_name)}</b>",
        title,
        f"<i>{escape(alert.source)} · {when} · {escape(alert.language)}</i>",
        "",
    ]
    spans = alert.highlights or [[] for _ in alert.summary]
    lines.extend(bold_spans(s, sp) for s, sp in zip(alert.summary, spans, strict=False))
    return "\n".join(lines).rstrip()


def visible_length(markup: str) -> int:
    """Length Telegram counts: text after entity parsing, in UTF-16 code units."""
    text = html_to_plain(markup)
    return len(text.encode("utf-16-le")) // 2


def html_to_plain(markup: str) -> str:
    """What the reader sees, without markup: the fallback when Telegram rejects the HTML."""
    return html.unescape(_TAG.sub("", markup))


def split_message(markup: str, limit: int = MAX_TEXT) -> list[str]:
    """Split on line boundaries so each part fits; tags open at a cut are closed and reopened.

    A single line longer than the limit is cut between words (or, failing that, anywhere
    outside a tag or entity) as a last resort.
    """
    if visible_length(markup) <= limit:
        return [markup]
    parts: list[str] = []
    current: list[str] = []
    open_tags: list[tuple[str, str]] = []   # (name, full opening tag) open at the start of `current`
    size = 0
    for line in _fit_lines(markup.split("\n"), limit):
        line_size = visible_length(line) + (1 if current else 0)
        if current and size + line_size > limit:
            parts.append(_close("\n".join(current), open_tags))
            open_tags = _tags_open_after("\n".join(current), open_tags)
            current, size = ["".join(tag for _, tag in open_tags) + line], visible_length(line)
            continue
        current.append(line)
        size += line_size
    if current:
        parts.append(_close("\n".join(current), open_tags))
    return [p for p in parts if html_to_plain(p).strip()]


def _fit_lines(lines: list[str], limit: int) -> Iterable[str]:
    budget = limit - 64  # room for reopened tags' text (none) and safety with entities
    for line in lines:
        while visible_length(line) > budget:
            cut = _cut_point(line, budget)
            yield line[:cut]
            line = line[cut:].lstrip(" ")
        yield line


def _cut_point(line: str, budget: int) -> int:
    """Index to cut at so the head shows at most `budget` characters, outside tags and entities."""
    visible, index, last_space = 0, 0, 0
    while index < len(line) and visible < budget:
        tag = _TAG.match(line, index) or _ENTITY.match(line, index)
        if tag:
            index = tag.end()
            visible += 0 if tag.re is _TAG else 1
            continue
        if line[index] == " ":
            last_space = index
        visible += 1
        index += 1
    return last_space if last_space > index // 2 else index


def _tags_open_after(markup: str, open_before: list[tuple[str, str]]) -> list[tuple[str, str]]:
    stack = list(open_before)
    for match in _TAG.finditer(markup):
        closing, name = match.group(1), match.group(2)
        if closing:
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][0] == name:
                    del stack[i]
                    break
        else:
            stack.append((name, match.group(0)))
    return stack


def _close(markup: str, open_before: list[tuple[str, str]]) -> str:
    still_open = _tags_open_after(markup, open_before)
    return markup + "".join(f"</{name}>" for name, _ in reversed(still_open))
