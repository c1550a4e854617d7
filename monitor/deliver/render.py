"""Telegram messages as text: alerts in Telegram's HTML, split to its length limit, and plain text.

Telegram accepts only a few tags (b, i, u, s, a, code, pre, blockquote, ...) and rejects
everything else with "can't parse entities"; every piece of article text is therefore
stripped of tags upstream and escaped here. The 4,096-character limit counts the text after
entity parsing in UTF-16 code units, so splitting measures that, never the markup.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from monitor.models import ConsoleAlert, StorySource

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


# What no output format may carry through: C0 controls but tab and newline, DEL, C1
# controls, the line and paragraph separators, and the bidi embeddings, overrides and
# isolates (a title could reverse the rest of a line). They become spaces (one each, so a
# caret under a line still points at the same column). Lone surrogates (undecodable input,
# Python's surrogateescape) cannot be encoded at all: they become U+FFFD.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_LINE_BREAKS = re.compile(r"[ \t\n]+")
CONSOLE_RULES_SHOWN = 5


def _clean(text: str) -> str:
    return _SURROGATE.sub("\ufffd", _CONTROL.sub(" ", text))


# ------------------------------------------------------------------ HTML (Telegram, pages)

def escape(text: str) -> str:
    """Text as HTML character data or a quoted attribute value (Telegram's HTML and the
    digest page): `& < > " '` escaped, control characters as in `terminal_safe`, lone
    surrogates as U+FFFD. Tab and newline stay."""
    return html.escape(_clean(text), quote=True)


# Percent-encoded in a link: controls, space, everything outside ASCII, and the ASCII
# characters that end or break out of a Markdown destination or an HTML attribute.
_URL_UNSAFE = re.compile(r"[^A-Za-z0-9\-._~:/?#\[\]@!$&*+,;=%]")
_URL_IGNORED = re.compile(r"[\t\n\r]")


def safe_url(url: str | None) -> str | None:
    """A link target, or None when it is not one to offer: only http and https URLs with a
    host; everything else (javascript:, data:, file:, relative, scheme-relative) is dropped.
    As a browser reads it (C0 and spaces at the ends and tabs and newlines anywhere are
    ignored), then percent-encoded: only `A-Za-z0-9-._~:/?#[]@!$&*+,;=%` stay as they are,
    so the result has no space, quote, bracket `( ) < >`, backslash or control character,
    and is ASCII. Existing %XX escapes are kept."""
    if not url:
        return None
    url = _URL_IGNORED.sub("", url.strip("".join(map(chr, range(0x21)))))
    if not re.match(r"https?://", url, re.IGNORECASE):
        return None
    url = _URL_UNSAFE.sub(lambda m: _percent(m.group()), url)
    try:
        if not urlsplit(url).hostname:
            return None
    except ValueError:          # an unclosed IPv6 bracket
        return None
    return url


def _percent(char: str) -> str:
    data = _SURROGATE.sub("\ufffd", char).encode("utf-8")
    return "".join(f"%{byte:02X}" for byte in data)


def linked(inner_html: str, url: str | None) -> str:
    """`inner_html` (markup already) as a link to `url`; as it is when there is no url or
    the url is not http(s) (see `safe_url`)."""
    target = safe_url(url)
    return f'<a href="{escape(target)}">{inner_html}</a>' if target else inner_html


# -------------------------------------------------------------------------------- Markdown

_MD_PUNCTUATION = re.compile(r"[\\`*_{}\[\]<>()#+\-.!|~]")
_MD_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")


def markdown_text(text: str) -> str:
    """Text as CommonMark inline content (a title, a link text, a summary, a heading).

    One line: tabs and newlines become spaces, runs of spaces one, the ends stripped.
    Control characters and lone surrogates as in `terminal_safe`. `&` is written `&amp;`,
    so an entity reference such as `&lt;script&gt;` stays text, and each of these gets a
    backslash: backslash, backtick, * _ { } [ ] < > ( ) # + - . ! | ~ -- so no emphasis,
    code span, link, image, raw HTML, autolink, heading, list or table can start inside
    it. Rendered, it shows exactly the cleaned one-line text.
    """
    text = _LINE_BREAKS.sub(" ", _clean(text)).strip()
    return _MD_PUNCTUATION.sub(r"\\\g<0>", text.replace("&", "&amp;"))


def markdown_bold(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """One line of Markdown text (markdown_text) with these character spans in bold. The
    spans are whole words, so each `**` stands next to a letter or digit and CommonMark
    takes it as emphasis."""
    return _marked(text, spans, _md_segment,
                   lambda word: f"**{markdown_text(word)}**").strip()


def _md_segment(text: str) -> str:
    """markdown_text of a piece between bold words, keeping the space at its ends."""
    if not text.strip():
        return " " if text else ""
    return (" " if text[0].isspace() else "") + markdown_text(text) + (
        " " if text[-1].isspace() else "")


def markdown_url(url: str | None) -> str | None:
    """A link destination for `[text](…)`, or None when the url is not http(s): `safe_url`
    (nothing left that ends the destination: no space, `(`, `)`, `<`, `>`, control), and an
    `&` that would start an entity reference written `&amp;`, so the link goes exactly to
    the url."""
    target = safe_url(url)
    return _MD_ENTITY.sub("&amp;", target) if target else None


# -------------------------------------------------------------------------------- terminal

def terminal_safe(text: str, *, single_line: bool = False) -> str:
    """Text from feeds, the archive or the command line as a terminal may print it: control
    characters (escape sequences, carriage returns, bell, C1, bidi overrides) become spaces,
    lone surrogates U+FFFD, so a title cannot rewrite the screen or crash the output.
    Newlines and tabs stay unless `single_line`: then they are spaces too and runs of
    spaces one (a title cannot forge a line). Not rich markup: escape that where rich
    prints (rich.markup.escape(terminal_safe(text)))."""
    text = _clean(text)
    return _LINE_BREAKS.sub(" ", text).strip() if single_line else text


_JSON_UNSAFE = re.compile(r"[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def terminal_json(data: object) -> str:
    """JSON for a terminal, lossless: json.dumps escapes C0 controls itself; DEL, C1, the
    separators, the bidi controls and lone surrogates are written as \\uXXXX escapes too
    (they can only occur inside strings, where that escape means the same character)."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def console_alert_line(alert: ConsoleAlert) -> str:
    """One line per matched article: its rules (at most CONSOLE_RULES_SHOWN, then a count),
    the title, the source and the link."""
    rules = ", ".join(alert.rules[:CONSOLE_RULES_SHOWN])
    if len(alert.rules) > CONSOLE_RULES_SHOWN:
        rules += f" +{len(alert.rules) - CONSOLE_RULES_SHOWN}"
    link = f" {alert.url}" if alert.url else ""
    line = f"🔔 [{rules}] {' '.join(alert.title.split())} ({alert.source}){link}"
    return terminal_safe(line)


def local_time(moment: datetime, tz: str | ZoneInfo, *, named: bool = False) -> str:
    """A moment as day and time in a timezone: "13.09.2023 14:05", or with the zone's
    abbreviation when `named` ("13.09.2023 14:05 CEST"), for a chat that reads times."""
    zone = tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)
    return moment.astimezone(zone).strftime("%d.%m.%Y %H:%M %Z" if named else "%d.%m.%Y %H:%M")


def bold_spans(sentence: str, spans: Iterable[tuple[int, int]]) -> str:
    """Escape a sentence and wrap the given character spans in <b>."""
    return _marked(sentence, spans, escape, lambda word: f"<b>{escape(word)}</b>")


def _marked(text: str, spans: Iterable[tuple[int, int]], plain: Callable[[str], str],
            marked: Callable[[str], str]) -> str:
    """`text` with its spans through `marked` and the pieces between through `plain` (an
    overlapping span is skipped): the one walk of bold_spans and markdown_bold."""
    out, pos = [], 0
    for start, end in sorted(spans):
        if start < pos:
            continue
        out.append(plain(text[pos:start]))
        out.append(marked(text[start:end]))
        pos = end
    out.append(plain(text[pos:]))
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


SOURCES_SHOWN = 5       # outlets named in a "+N sources" line; the rest are counted


def sources_line(sources: Iterable[StorySource], shown_source: str, texts: dict[str, str]
                 ) -> str | None:
    """"+3 Quellen: Spiegel, DW, BBC": the story's outlets other than `shown_source`, each
    once with its newest article linked, newest first; at most SOURCES_SHOWN named. None when
    no other outlet reported it. `texts` are the chat's (deliver/texts.py)."""
    newest: dict[str, str | None] = {}
    for item in sources:
        if item.source != shown_source and item.source not in newest:
            newest[item.source] = item.url
    if not newest:
        return None
    named = [linked(escape(source), url) for source, url in list(newest.items())[:SOURCES_SHOWN]]
    line = texts["sources_one" if len(newest) == 1 else "sources"].format(
        n=len(newest), names=", ".join(named))
    if len(newest) > SOURCES_SHOWN:
        line += " " + texts["sources_more"].format(n=len(newest) - SOURCES_SHOWN)
    return line


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
    # Every character is at most two UTF-16 units, and the visible text is never longer than
    # the markup: a short message fits without parsing it (most alerts are).
    if 2 * len(markup) <= limit or visible_length(markup) <= limit:
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
