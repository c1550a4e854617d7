"""One alert message for one (chat, rule, story): what the subscriber reads in Telegram."""

from __future__ import annotations

from collections.abc import Sequence

from monitor.deliver.render import AlertContent, render_alert, split_message
from monitor.models import Article
from monitor.summarize import highlight_spans, summarize


def alert_text(article: Article, rule_name: str, matched_words: Sequence[str],
               timezone: str) -> str:
    """Rule name, linked title, source, time, language, and a 2–3 sentence summary with the
    matched words in bold. Kept to one Telegram message: the summary is what gets shortened."""
    summary = summarize(article.title, article.text, article.language, highlight=matched_words)
    content = AlertContent(
        rule_name=rule_name, title=article.title, url=article.url, source=article.source,
        published=article.published, language=article.language, summary=summary.sentences,
        highlights=[highlight_spans(s, matched_words) for s in summary.sentences],
    )
    return split_message(render_alert(content, timezone=timezone))[0]
