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

An alert follows its story: its last paragraph names the story's other outlets ("+3 Quellen:
Spiegel, DW, BBC", newest first), and an update row edits the sent alert to the story as
it is when the update is sent. The update keeps that line in its row before the call, so
an edit repeated after a crash shows the same text (Telegram answers "message is not
modified", which counts as done). Follow-ups (a new message that pings) are made when
planned; here they only learn which message they answer.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Literal
from zoneinfo import ZoneInfo

from monitor.deliver.render import (
    MAX_TEXT,
    AlertContent,
    escape,
    linked,
    render_alert,
    sources_line,
    split_message,
    visible_length,
)
from monitor.deliver.texts import TEXTS, alert_buttons
from monitor.models import (
    WATCH_PREFIX,
    AlertThread,
    Article,
    MessageKind,
    OutboxMessage,
    OutboxStatus,
)
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


# What became of a row that the renderer did not make ready to send (see rendered).
Disposed = Literal["failed", "skipped", "postponed"]

FOLDED_SHOWN = 10       # alerts listed in a folded message; the rest are counted

# The paragraph of other outlets starts with this: article text is escaped (it never holds
# "<"), so an alert's own text is whatever comes before it.
SOURCES_MARK = "\n\n<i>+"


def with_sources(alert: str, line: str | None) -> str:
    """The alert's text with `line` as its sources paragraph (in place of the one it had),
    still one Telegram message: the summary is what gets shortened."""
    base = alert.split(SOURCES_MARK, 1)[0]
    if line is None:
        return base
    paragraph = f"\n\n<i>{line}</i>"
    room = MAX_TEXT - visible_length(paragraph)
    if visible_length(base) > room:
        base = split_message(base, room)[0]
    return base + paragraph


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


def follow_up_text(reason: str, rule_name: str, article: Article, sources: int,
                   language: str) -> str:
    """A follow-up's text (it answers the alert): the story's count of sources now, or its
    new headline."""
    texts = TEXTS.get(language, TEXTS["de"])
    title = linked(f"<b>{escape(article.title)}</b>", article.url)
    key = "follow_up_sources" if reason == "sources" else "follow_up_headline"
    return split_message(texts[key].format(rule=escape(rule_name), n=sources, title=title,
                                           source=escape(article.source)))[0]


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

    def rendered(self, message: OutboxMessage) -> OutboxMessage | Disposed:
        """The message ready to send, or what became of it instead: an alert whose article
        is gone is failed (retention keeps the articles of pending rows, so only a row that
        predates that rule can be one); an update or follow-up whose alert waits is
        postponed, and an update whose alert went out folded or is gone is skipped."""
        if message.kind == MessageKind.ALERT and not message.text:
            return self._alert(message)
        if message.kind == MessageKind.UPDATE:
            return self._update(message)
        if message.kind == MessageKind.FOLLOW_UP and message.target_message_id is None:
            return self._follow_up(message)
        return message

    def _alert(self, message: OutboxMessage) -> OutboxMessage | Disposed:
        found = self._article(message.article_id)
        if found is None:
            log.error("outbox row %s: the alert's article %s is gone", message.id,
                      message.article_id)
            self.store.mark_failed(message.id, "the article is no longer in the archive")
            return "failed"
        article, words, summary = found
        rule_id = message.rule_id or ""
        language = self._language(message.chat_id)
        text = with_sources(
            alert_text(article, summary, message.rule_name or rule_id, words.get(rule_id, []),
                       self.timezone),
            self._sources_line(message.story_id, article.source, language))
        buttons = () if rule_id.startswith(WATCH_PREFIX) else alert_buttons(rule_id, language)
        self.store.save_alert_text(message.id, text, buttons)
        return replace(message, text=text, buttons=buttons)

    def _update(self, message: OutboxMessage) -> OutboxMessage | Disposed:
        """The alert as its story is now; its sources line and the message it edits are
        kept in the row at the first try, so that every retry edits to the same text.

        The message edited is the alert; once an alert could not be edited (deleted, or in
        a group that became a supergroup, whose message ids start anew) the update answered
        it with one silent line, and later updates edit that answer instead."""
        thread = self.store.alert_thread(message.chat_id, message.rule_id or "",
                                         message.story_id or 0)
        if thread is None or thread.status != OutboxStatus.SENT:
            return self._without_alert(message, thread)
        if thread.shown_by is not None and thread.shown_by > message.id:
            # A later update went out while this one waited for its retry: it shows more.
            self.store.skip(message.id, "a later update was sent")
            return "skipped"
        line, target = message.text, message.target_message_id
        if not line:
            line = self._sources_line(message.story_id, self._source(thread.article_id),
                                      self._language(message.chat_id)) or ""
            if not line or line == thread.shown_sources or (
                    thread.shown_sources is None and with_sources(thread.text, line)
                    == thread.text):
                self.store.skip(message.id, "the alert shows these sources already")
                return "skipped"
            target = thread.answer_id or thread.message_id
            self.store.save_alert_text(message.id, line, thread.buttons, target)
        answer = f"↪ <b>{escape(message.rule_name or message.rule_id or '')}</b>: {line}"
        if target is not None and target == thread.message_id:
            return replace(message, text=with_sources(thread.text, line),
                           buttons=thread.buttons, target_message_id=target,
                           fallback_text=answer, answers_message_id=thread.message_id)
        return replace(message, text=answer, buttons=(), target_message_id=target,
                       fallback_text=answer, answers_message_id=thread.message_id)

    def _follow_up(self, message: OutboxMessage) -> OutboxMessage | Disposed:
        """A follow-up answers its alert (or stands alone when that one went out folded)."""
        thread = self.store.alert_thread(message.chat_id, message.rule_id or "",
                                         message.story_id or 0)
        if thread is not None and thread.status == OutboxStatus.PENDING:
            self.store.postpone(message.id, thread.next_attempt_at)
            return "postponed"
        if thread is not None and thread.message_id is not None:
            self.store.set_target(message.id, thread.message_id)
            return replace(message, target_message_id=thread.message_id)
        return message

    def _without_alert(self, message: OutboxMessage, thread: AlertThread | None) -> Disposed:
        if thread is not None and thread.status == OutboxStatus.PENDING:
            self.store.postpone(message.id, thread.next_attempt_at)
            return "postponed"
        self.store.skip(message.id, "its alert went out folded" if thread is not None
                        and thread.status == OutboxStatus.FOLDED else "its alert is gone")
        return "skipped"

    def _source(self, article_id: int | None) -> str:
        """The outlet of an alert's article ("" once retention deleted it)."""
        found = self.store.articles_by_id([article_id]) if article_id is not None else {}
        return found[article_id].source if article_id in found else ""

    def _sources_line(self, story_id: int | None, shown_source: str, language: str
                      ) -> str | None:
        if story_id is None:
            return None
        return sources_line(self.store.story_sources(story_id), shown_source,
                            TEXTS.get(language, TEXTS["de"]))

    def folded(self, chat_id: int, rule_name: str, messages: list[OutboxMessage],
               zone: str) -> str:
        """One message for a rule's alerts held during quiet hours: each a linked title with
        source and time (in the chat's zone), the first FOLDED_SHOWN of them."""
        texts = TEXTS.get(self._language(chat_id), TEXTS["de"])
        articles = self.store.articles_by_id(m.article_id for m in messages if m.article_id)
        lines = [texts["folded"].format(rule=escape(rule_name), n=len(messages))]
        shown = [articles[m.article_id] for m in messages if m.article_id in articles]
        for article in shown[:FOLDED_SHOWN]:
            when = article.published.astimezone(ZoneInfo(zone)).strftime("%H:%M")
            lines.append(f"• {linked(escape(article.title), article.url)} "
                         f"<i>({escape(article.source)}, {when})</i>")
        if len(shown) > FOLDED_SHOWN:
            lines.append(texts["folded_more"].format(n=len(shown) - FOLDED_SHOWN))
        return split_message("\n".join(lines))[0]

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
