"""The hostile corpus (tests/hostile.py) through every output format but Telegram's alerts
(tests/deliver/test_render.py): the digest as Markdown (checked with a real CommonMark
renderer, markdown-it-py), as an HTML page (checked with an HTML parser) and as Telegram
messages, and text for the terminal (plain, rich, JSON)."""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from urllib.parse import unquote

import pytest
from markdown_it import MarkdownIt
from rich.console import Console
from rich.markup import escape as rich_escape

from monitor.deliver.render import (
    escape,
    markdown_text,
    markdown_url,
    safe_url,
    terminal_json,
    terminal_safe,
)
from monitor.digest import (
    Digest,
    DigestSection,
    DigestStory,
    render_html_page,
    render_markdown,
    render_telegram,
)
from tests.botapi_server import parse_html, utf16_len
from tests.deliver.test_render import expected_href
from tests.hostile import HOSTILE, UNSAFE, cleaned, is_web_url, one_line

WHEN = datetime(2026, 11, 28, 7, tzinfo=UTC)
SHOWN_AT = "08:00"      # WHEN in Berlin: the time each digest item shows
ids = {"ids": lambda t: repr(t[:40])}


def hostile_digest(text: str, language: str = "en") -> Digest:
    """One rule named `text` with one story whose title, URL, source and summary are
    `text`; it is also the top story."""
    story = DigestStory(1, text, text, text, 2, WHEN, summary=[text])
    return Digest(1, WHEN, WHEN, "Europe/Berlin", [DigestSection("r", text, [story], 1)],
                  language)


# ----------------------------------------------------------------------------- Markdown

FORBIDDEN = {"html_block", "html_inline", "image", "code_inline", "code_block", "fence",
             "em_open", "strong_open", "s_open", "hr", "table_open", "hardbreak",
             "softbreak", "lheading"}


def commonmark(*enable: str) -> MarkdownIt:
    md = MarkdownIt("commonmark").enable(list(enable)) if enable else MarkdownIt("commonmark")
    md.validateLink = lambda url: True    # check our escaping, not markdown-it's own filter
    return md


def inline_view(token) -> tuple[str, list[tuple[str, str]]]:
    """The visible text of an inline token and its links as (text, href)."""
    text, links, link_text, href = [], [], None, None
    for child in token.children:
        if child.type == "link_open":
            href, link_text = child.attrs["href"], []
        elif child.type == "link_close":
            links.append(("".join(link_text), href))
            link_text = None
        elif child.type == "text":
            text.append(child.content)
            if link_text is not None:
                link_text.append(child.content)
    return "".join(text), links


@pytest.mark.parametrize("md", [commonmark(), commonmark("table", "strikethrough")],
                         ids=["commonmark", "with-gfm-table-strikethrough"])
@pytest.mark.parametrize("text", HOSTILE, **ids)
def test_markdown_digest_shows_hostile_text_as_text(text, md):
    source = render_markdown(hostile_digest(text))
    source.encode("utf-8")                      # writable: no lone surrogate left
    assert not UNSAFE.search(source)
    tokens = md.parse(source)
    types = {t.type for t in tokens} | {c.type for t in tokens for c in t.children or []}
    assert not types & FORBIDDEN, types & FORBIDDEN
    assert [t.tag for t in tokens if t.type == "heading_open"] == ["h1", "h2", "h2"]
    inlines = [inline_view(t) for t in tokens if t.type == "inline"]
    assert len(inlines) == 7, [i[0][:60] for i in inlines]
    shown = one_line(text)
    top, rule, counts, item, summary = inlines[2:7]
    assert inlines[1][0] == "Top stories" and counts[0] == "1 articles, 1 stories"
    assert rule == (shown, []) and summary == (shown, [])
    assert top[0] == f"{shown} → {shown}"
    assert item[0] == f"{SHOWN_AT} {shown} ({shown}, +1 more sources)"
    if is_web_url(text):
        for _, links in (top, item):
            [(link_text, href)] = links
            assert link_text == shown and unquote(href) == expected_href(text)
    else:
        assert top[1] == item[1] == []
    rendered = md.render(source)
    assert "<script" not in rendered and "<img" not in rendered and "<b>" not in rendered
    hrefs = re.findall(r'href="([^"]*)"', rendered)
    assert all(re.match(r"https?://", h, re.I) for h in hrefs)
    assert len(hrefs) == (2 if is_web_url(text) else 0)


def test_markdown_escaping_in_the_file():
    assert markdown_text("<script>alert(1)</script>") == r"\<script\>alert\(1\)\</script\>"
    assert markdown_text("&lt;script&gt;") == "&amp;lt;script&amp;gt;"
    assert markdown_text("](javascript:alert(1))") == r"\]\(javascript:alert\(1\)\)"
    assert markdown_text("a\n# b  \\") == r"a \# b \\"
    assert markdown_text("Putin nimmt Kims Einladung an") == "Putin nimmt Kims Einladung an"
    assert markdown_url("https://example.com/?a=1&b=2&lt;x&gt;") == \
        "https://example.com/?a=1&b=2&amp;lt;x&amp;gt;"
    assert markdown_url("javascript:alert(1)") is None
    # a story whose url is not http(s) is its title, unlinked
    source = render_markdown(hostile_digest("javascript:alert(1)"))
    assert f"- {SHOWN_AT} javascript:alert\\(1\\) (javascript:alert\\(1\\), +1 more sources)" \
        in source


def test_the_reported_case_entity_title_is_not_a_script_tag():
    """Issue #14: a feed title `&lt;script&gt;` became a live <script> tag."""
    digest = hostile_digest("&lt;script&gt;alert(1)&lt;/script&gt;")
    story = DigestStory(2, "<script>alert(2)</script>", "https://a.example/1", "feed", 1, WHEN)
    digest = Digest(1, WHEN, WHEN, "Europe/Berlin",
                    [*digest.sections, DigestSection("s", "second", [story], 1)], "en")
    rendered = commonmark().render(render_markdown(digest))
    assert "<script" not in rendered
    assert "&amp;lt;script&amp;gt;alert(1)&amp;lt;/script&amp;gt;" in rendered
    assert '<a href="https://a.example/1">&lt;script&gt;alert(2)&lt;/script&gt;</a>' in rendered


# ---------------------------------------------------------------------------- HTML page

PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "ol", "ul", "li",
             "a", "span", "blockquote", "p"}


class Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.texts: dict[str, list[str]] = {}

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag != "meta":
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack)
        self.stack.pop()

    def handle_data(self, data):
        if self.stack:
            self.texts.setdefault(self.stack[-1], []).append(data)

    def handle_comment(self, data):
        raise AssertionError(f"a comment in the page: {data!r}")

    def handle_pi(self, data):
        raise AssertionError(f"a processing instruction in the page: {data!r}")

    def unknown_decl(self, data):
        raise AssertionError(f"a declaration in the page: {data!r}")


@pytest.mark.parametrize("text", HOSTILE, **ids)
def test_html_page_shows_hostile_text_as_text(text):
    page_source = render_html_page(hostile_digest(text, language=text))
    page_source.encode("utf-8")
    assert not UNSAFE.search(page_source)
    page = Page()
    page.feed(page_source)
    page.close()
    assert page.stack == []
    assert {tag for tag, _ in page.tags} <= PAGE_TAGS
    assert dict(page.tags)["html"] == {"lang": cleaned(text)}
    shown = cleaned(text)
    assert page.texts["h2"][1] == shown and page.texts["blockquote"] == [shown]
    hrefs = [attrs["href"] for tag, attrs in page.tags if tag == "a"]
    assert hrefs[0] == "#story-1"                  # the top story points to its item
    if is_web_url(text):
        assert [unquote(h) for h in hrefs[1:]] == [expected_href(text)]
        assert page.texts["a"] == [shown, shown]
    else:
        assert hrefs[1:] == [] and page.texts["a"] == [shown]
        assert page.texts["li"][1].startswith(f"{SHOWN_AT} {shown}")
    for _tag, attrs in page.tags:
        assert set(attrs) <= {"lang", "charset", "href", "class", "id"}


# ---------------------------------------------------------------------- Telegram digest

@pytest.mark.parametrize("text", HOSTILE, **ids)
def test_telegram_digest_shows_hostile_text_as_text(text):
    messages = render_telegram(hostile_digest(text))
    plain = [parse_html(m) for m in messages]       # Telegram accepts every message
    assert all(utf16_len(p) <= 4096 for p in plain)
    hrefs = [h for m in messages for h in re.findall(r'<a href="([^"]*)">', m)]
    assert all(re.match(r"https?://", h, re.I) for h in hrefs)
    assert len(hrefs) == (2 if is_web_url(text) else 0)
    joined = "\n".join(plain)
    assert not UNSAFE.search(joined)
    if len(messages) < 3:
        assert f"• {SHOWN_AT} {cleaned(text)} ({cleaned(text)} +1 more sources)" in joined
    else:   # the long one, cut between words: all of it is there, 6 times (the top story's
        #       title and rule, the rule, the item's title and source, its summary)
        squeezed = re.sub(r"\s", "", joined)
        assert squeezed.count(re.sub(r"\s", "", cleaned(text))) == 6


def test_escape_is_html_with_controls_cleaned():
    assert escape("<b>&amp;\"'") == "&lt;b&gt;&amp;amp;&quot;&#x27;"
    assert escape("a\x1b[2J\u202eb\udcff\nc\td") == "a [2J b\ufffd\nc\td"


# ------------------------------------------------------------------------------ terminal

@pytest.mark.parametrize("text", HOSTILE, **ids)
def test_terminal_text_has_no_control_characters(text):
    assert terminal_safe(text) == cleaned(text)
    assert terminal_safe(text, single_line=True) == one_line(text)
    assert "\n" not in terminal_safe(text, single_line=True)
    terminal_safe(text).encode("utf-8")
    # through rich, as cli.py prints: markup escaped, control characters gone
    out = io.StringIO()
    Console(file=out, force_terminal=True, color_system=None, soft_wrap=True).print(
        rich_escape(terminal_safe(text, single_line=True)), highlight=False)
    assert not UNSAFE.search(out.getvalue()) and "\x1b" not in out.getvalue()
    # (rich.markup.escape doubles a trailing backslash, so that what follows stays markup)
    doubled = "\\" if one_line(text).endswith("\\") else ""
    assert out.getvalue() == one_line(text) + doubled + "\n"


@pytest.mark.parametrize("text", HOSTILE, **ids)
def test_terminal_json_is_lossless_and_has_no_control_characters(text):
    dumped = terminal_json([{"title": text}])
    assert not UNSAFE.search(dumped)
    assert json.loads(dumped) == [{"title": text}]


def test_safe_url_contract():
    assert safe_url("https://example.com/a b)c<d>\"e'f`g\\h") == \
        "https://example.com/a%20b%29c%3Cd%3E%22e%27f%60g%5Ch"
    assert safe_url(" https://e.x/a\tb\n ") == "https://e.x/ab"
    assert safe_url("HTTP://EXAMPLE.COM/UPPER") == "HTTP://EXAMPLE.COM/UPPER"
    assert safe_url("https://e.x/%28already%29?a=1&b=2#f") == "https://e.x/%28already%29?a=1&b=2#f"
    assert safe_url("https://bücher.example/ä") == "https://b%C3%BCcher.example/%C3%A4"
    for text in HOSTILE:
        target = safe_url(text)
        assert (target is not None) == is_web_url(text), text
        if target is not None:
            assert re.fullmatch(r"[A-Za-z0-9\-._~:/?#\[\]@!$&*+,;=%]+", target)
            assert unquote(target) == expected_href(text)
