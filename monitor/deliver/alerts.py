"""One alert message for one (chat, rule, story): what the subscriber reads in Telegram.

The summary sentences are chosen and tokenized once per article (preferring sentences with
any of the words its rules matched), and only the bold words differ between the rules: an
article that matches a thousand rules is summarised once, not a thousand times.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from monitor.deliver.render import AlertContent, render_alert, split_message
from monitor.models import Article
from monitor.summarize import Highlighter, summarize


def alert_summary(article: Article, matched_words: Iterable[str]) -> Highlighter:
    """The 2–3 sentences every alert of this article shows, ready to be highlighted for
    each rule. `matched_words` are the article's words in the matches' hits: they are marked
    where they occur, as they are."""
    return Highlighter(summarize(article.title, article.text, article.language,
                                 highlight=sorted(set(matched_words)), inflected=False).sentences,
                       inflected=False)


def alert_text(article: Article, summary: Highlighter, rule_name: str,
               matched_words: Sequence[str], timezone: str) -> str:
    """Rule name, linked title, source, time, language, and the summary with this rule's
    matched words in bold. Kept to one Telegram message: the summary is what gets shortened."""
    content = AlertContent(
        rule_name=rule_name, title=article.title, url=article.url, source=article.source,
        published=article.published, language=article.language, summary=list(summary.sentences),
        highlights=summary.spans(matched_words),
    )
    return split_message(render_alert(content, timezone=timezone))[0]
