"""Alert rendering: escaping, bold words, and splitting to Telegram's limit with balanced tags."""

from __future__ import annotations

from datetime import UTC, datetime

from monitor.deliver.render import (
    AlertContent,
    html_to_plain,
    render_alert,
    split_message,
)
from tests.botapi_server import parse_html, utf16_len


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
