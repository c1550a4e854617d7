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

from monitor.models import ConsoleAlert

MAX_TEXT = 4096

_TAG = re.compile(r"<(/?)([a-z-]+)([^>]*)>")


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


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
CONSOLE_RULES_SHOWN = 5


def terminal_safe(text: str) -> str:
    """Text from feeds as a terminal may print it: control characters (escape sequences,
    carriage returns, bidi overrides) become spaces, so a title cannot rewrite the screen."""
    return _CONTROL.sub(" ", text)


def console_alert_line(alert: ConsoleAlert) -> str:
    """One line per matched article: its rules (at most CONSOLE_RULES_SHOWN, then a count),
    the title, the source and the link."""
    rules = ", ".join(alert.rules[:CONSOLE_RULES_SHOWN])
    if len(alert.rules) > CONSOLE_RULES_SHOWN:
        rules += f" +{len(alert.rules) - CONSOLE_RULES_SHOWN}"
    link = f" {alert.url}" if alert.url else ""
    line = f"🔔 [{rules}] {' '.join(alert.title.split())} ({alert.source}){link}"
    return terminal_safe(line)


def linked(inner_html: str, url: str | None) -> str:
    """`inner_html` (markup already) as a link to `url`; as it is when there is no url."""
    return f'<a href="{escape(url)}">{inner_html}</a>' if url else inner_html


def local_time(moment: datetime, tz: str) -> str:
    """A moment as day and time in a timezone: "13.09.2023 14:05"."""
    return moment.astimezone(ZoneInfo(tz)).strftime("%d.%m.%Y %H:%M")


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
    when = local_time(alert.published, timezone)
    lines = [
        f"🔔 <b>{escape(alert.rule_name)}</b>",
        linked(f"<b>{escape(alert.title)}</b>", alert.url),
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
    """Split so that each part fits: between lines where possible, else between words, else
    between characters. Tags open at a cut are closed at the end of the part and reopened at
    the start of the next, so every part is balanced HTML on its own."""
    if visible_length(markup) <= limit:
        return [markup]
    packer = _Packer(limit)
    for number, line in enumerate(markup.split("\n")):
        packer.add(line, "\n" if number else "")
    return packer.finish()


_ATOM = re.compile(r"<[^>]*>|&(?:#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);|.", re.S)


class _Packer:
    """Greedy packing of pieces into parts, tracking which tags are open."""

    def __init__(self, limit: int):
        self.limit = limit
        self.parts: list[str] = []
        self.prefix = ""                 # tags reopened at the start of the current part
        self.body: list[str] = []
        self.size = 0
        self.stack: list[tuple[str, str]] = []   # (name, opening tag) open at the end

    def add(self, piece: str, separator: str) -> None:
        width = visible_length(piece)
        joined = separator if self.body else ""
        if self.size + visible_length(joined) + width <= self.limit:
            self._append(joined + piece, width + visible_length(joined))
            return
        if self.body:
            self._flush()
            if width <= self.limit:
                self._append(piece, width)
                return
        words = piece.split(" ")
        finer, glue = (words, " ") if len(words) > 1 else (_ATOM.findall(piece), "")
        for number, sub in enumerate(finer):
            self.add(sub, glue if number else "")

    def _append(self, text: str, width: int) -> None:
        self.body.append(text)
        self.size += width
        for match in _TAG.finditer(text):
            closing, name = match.group(1), match.group(2)
            if not closing:
                self.stack.append((name, match.group(0)))
                continue
            for index in range(len(self.stack) - 1, -1, -1):
                if self.stack[index][0] == name:
                    del self.stack[index]
                    break

    def _flush(self) -> None:
        closing = "".join(f"</{name}>" for name, _ in reversed(self.stack))
        self.parts.append(self.prefix + "".join(self.body) + closing)
        self.prefix = "".join(opening for _, opening in self.stack)
        self.body, self.size = [], 0

    def finish(self) -> list[str]:
        if self.body:
            self._flush()
        return [part for part in self.parts if html_to_plain(part).strip()]
