"""Alert rendering: escaping, bold words, and splitting to Telegram's limit with balanced tags."""

from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from urllib.parse import unquote

import pytest

from monitor.deliver.render import (
    AlertContent,
    html_to_plain,
    render_alert,
    split_message,
)
from tests.botapi_server import parse_html, utf16_len
from tests.hostile import HOSTILE, UNSAFE, cleaned, is_web_url


def test_article_text_is_escaped_and_matched_words_are_bold():
    alert = AlertContent(
        rule_name="Kim & Putin", title="<script>x</script> Putin & Kim", url="https://e.x/?a=1&b=2",
        source="feed <b>", published=datetime(2023, 9, 14, 8, 0, tzinfo=UTC), language="de",
        summary=["Putin trifft Kim <i>heute</i>."], highlights=[[(0, 5), (13, 16)]])
    text = render_alert(alert)
    assert parse_html(text)  # Telegram would accept it
    assert "<b>Putin</b> trifft <b>Kim</b> &lt;i&gt;heute&lt;/i&gt;." in text
    assert '<a href="https://e.x/?a=1&amp;b=2"><b>&lt;script&gt;x&lt;/script&gt; Putin &amp; Kim' \
        in text
    assert "14.09.2023 10:00" in text  # Berlin time


def test_long_messages_split_on_lines_with_balanced_tags():
    lines = [f"<b>Zeile {n}</b> " + "ä" * 150 for n in range(60)]
    markup = "<i>" + "\n".join(lines) + "</i>"
    parts = split_message(markup)
    assert len(parts) > 1
    for part in parts:
        plain = parse_html(part)                 # balanced and valid for Telegram
        assert utf16_len(plain) <= 4096
        assert part.startswith("<i>") and part.endswith("</i>")
    assert "".join(html_to_plain(p) for p in parts).replace("\n", "") == \
        html_to_plain(markup).replace("\n", "")


def test_a_single_overlong_line_is_cut_between_words():
    markup = "<b>" + " ".join(["Wort"] * 2000) + "</b>"
    parts = split_message(markup)
    assert len(parts) == 3
    assert all(utf16_len(parse_html(p)) <= 4096 for p in parts)
    assert all("Wor\n" not in html_to_plain(p) for p in parts)


def test_length_counts_utf16_units_after_entities():
    emoji_line = "😀" * 2040                   # 4,080 UTF-16 units
    assert split_message(emoji_line) == [emoji_line]
    assert len(split_message(emoji_line + "😀" * 20)) == 2
    entities = "&amp;" * 4000                   # 4,000 characters once parsed
    assert split_message(entities) == [entities]


# ------------------------------------------------------------------ the hostile corpus

_TAG_NAME = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>")
_HREF = re.compile(r'<a href="([^"]*)">')


def expected_href(url: str) -> str:
    """The link as a browser reads the corpus URL: ends and tabs/newlines ignored, a lone
    surrogate as U+FFFD."""
    url = re.sub(r"[\t\n\r]", "", url.strip("".join(map(chr, range(0x21)))))
    return re.sub(r"[\ud800-\udfff]", "\ufffd", url)


def hostile_alert(text: str) -> AlertContent:
    return AlertContent(rule_name=text, title=text, url=text, source=text,
                        published=datetime(2023, 9, 14, 8, 0, tzinfo=UTC), language=text,
                        summary=[text, "Putin trifft Kim."], highlights=[[(0, 3)], [(0, 5)]])


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t[:40]))
def test_hostile_text_stays_text_in_telegram_html(text):
    markup = render_alert(hostile_alert(text))
    markup.encode("utf-8")                         # sendable: no lone surrogate left
    assert not UNSAFE.search(markup)
    # only our tags, only http(s) links, each to exactly the URL
    assert {m.group(2) for m in _TAG_NAME.finditer(markup)} <= {"a", "b", "i"}
    hrefs = [html.unescape(h) for h in _HREF.findall(markup)]
    if is_web_url(text):
        assert [unquote(h) for h in hrefs] == [expected_href(text)]
        assert all(re.fullmatch(r"https?://[\x21-\x7e]+", h, re.I) for h in hrefs)
        assert not re.search(r"[\s()<>\"'`\\]", hrefs[0])
    else:
        assert hrefs == []
    parts = split_message(markup)
    plain = []
    for part in parts:
        plain.append(parse_html(part))             # Telegram accepts every part
        assert utf16_len(plain[-1]) <= 4096
    shown = cleaned(text)
    if len(parts) == 1:
        assert plain[0].startswith(f"🔔 {shown}\n{shown}\n")
        assert plain[0].endswith(f"{shown}\nPutin trifft Kim.")
    else:                  # the long one, cut between words: all of it is there, 5 times
        # (rule, title, source, language, summary)
        squeezed = re.sub(r"\s", "", "".join(plain))
        assert squeezed.count(re.sub(r"\s", "", shown)) == 5


def test_bold_spans_of_hostile_text_stay_balanced():
    text = "<b>&lt;Kim\x1b[2J</b>"
    alert = AlertContent("r", "t", None, "s", datetime(2023, 9, 14, tzinfo=UTC), "de",
                         [text], [[(0, 7), (7, 14)]])
    plain = parse_html(render_alert(alert))
    assert plain.endswith(cleaned(text))
