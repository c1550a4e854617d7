"""One alert message for one (chat, rule, story): what the subscriber reads in Telegram.

Alerts are queued as references and rendered here just before their first send, a batch
of due rows at a time: Telegram takes about 30 messages a second, so rendering at the pace
of sending costs nothing that matching new articles waits for, and an alert that is never
sent (its chat left) is never rendered. The text is kept in the row, so a retry sends the
same message.

The summary sentences are chosen and tokenized once per article (preferring sentences with
any of the words its rules matched), and only the bold words differ between the rules: an
article that matches a thousand rules is summarised once, not a thousand times. Which words
a rule matched is not stored with the match: the renderer asks for them (`MatchedWords`,
the rule engine's highlighting, wired in by the pipeline) once per article it renders.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace

from monitor.deliver.render import AlertContent, render_alert, split_message
from monitor.deliver.texts import alert_buttons
from monitor.models import WATCH_PREFIX, Article, OutboxMessage
from monitor.store import Store
from monitor.summarize import Highlighter, summarize

log = logging.getLogger(__name__)

# (article, ids of the rules it matched) -> rule id -> the article's words its terms matched
MatchedWords = Callable[[Article, Sequence[str]], dict[str, list[str]]]


def no_words(article: Article, rule_ids: Sequence[str]) -> dict[str, list[str]]:
    """Alerts without bold words: for a dispatcher that no rule engine was wired into."""
    return {}


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


class AlertRenderer:
    """Renders the alerts of one dispatch pass as they are sent, so that rendering keeps
    the pace of sending, and keeps each text in its row before the send, so that a retry
    sends the same message. An article is summarised once in the pass, also when several
    chats' alerts of it are rendered at the same time (in worker threads)."""

    def __init__(self, store: Store, timezone: str, matched_words: MatchedWords = no_words):
        self.store = store
        self.timezone = timezone
        self.matched_words = matched_words
        # article id → (the article, its rules' matched words, its summary); None when gone
        self._articles: dict[int, tuple[Article, dict[str, list[str]], Highlighter] | None] = {}
        self._languages: dict[int, str] | None = None
        self._lock = threading.Lock()

    def rendered(self, message: OutboxMessage) -> OutboxMessage | None:
        """The message ready to send; None for an alert whose article is gone, which is
        failed (retention keeps the articles of pending rows, so only a row that predates
        that rule can be one)."""
        if message.kind != "alert" or message.text:
            return message
        found = self._article(message.article_id)
        if found is None:
            log.error("outbox row %s: the alert's article %s is gone", message.id,
                      message.article_id)
            self.store.mark_failed(message.id, "the article is no longer in the archive")
            return None
        article, words, summary = found
        rule_id = message.rule_id or ""
        text = alert_text(article, summary, message.rule_name or rule_id,
                          words.get(rule_id, []), self.timezone)
        buttons = () if rule_id.startswith(WATCH_PREFIX) else alert_buttons(
            rule_id, self._language(message.chat_id))
        self.store.save_alert_text(message.id, text, buttons)
        return replace(message, text=text, buttons=buttons)

    def _language(self, chat_id: int) -> str:
        """The chat's language for its buttons (read once per dispatch pass)."""
        with self._lock:
            if self._languages is None:
                self._languages = self.store.chat_languages()
            return self._languages.get(chat_id, "de")

    def _article(self, article_id: int | None
                 ) -> tuple[Article, dict[str, list[str]], Highlighter] | None:
        if article_id is None:
            return None
        with self._lock:
            return self._summarised(article_id)

    def _summarised(self, article_id: int
                    ) -> tuple[Article, dict[str, list[str]], Highlighter] | None:
        if article_id not in self._articles:
            article = self.store.articles_by_id([article_id]).get(article_id)
            if article is None:
                self._articles[article_id] = None
            else:
                words = self.matched_words(article, self.store.matched_rules(article_id))
                self._articles[article_id] = (article, words, alert_summary(
                    article, (w for found in words.values() for w in found)))
        return self._articles[article_id]
