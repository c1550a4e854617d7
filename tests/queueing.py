"""Messages in the outbox, queued through the store's public calls as production queues
them: a message of given text as an operator notice (Store.notice_once), and alerts as the
pipeline plans them (an article, its match, Store.plan_alerts), to be rendered when sent."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import UTC, datetime

from monitor.models import Article, NewMatch, PlannedAlert
from monitor.store import Store

_keys = itertools.count()


def queue_message(db: Store, chat_id: int, text: str) -> None:
    """One message with this text (Telegram HTML) to one chat, due now."""
    assert db.notice_once(f"test-message-{next(_keys)}", [chat_id], text)


def queue_alerts(db: Store, chats: Iterable[int], title: str = "Kim reist nach Moskau",
                 rule_id: str = "r", rule_name: str = "Kim-Reisen") -> Article:
    """An article, its match of `rule_id`, and one unrendered alert per chat, as the pipeline
    queues them; returns the article."""
    now = datetime(2026, 11, 30, 8, tzinfo=UTC)
    [article] = db.add_articles([Article(
        title=title, text="Kim traf Putin in Moskau. Die Gespräche dauerten zwei Tage.",
        url=f"https://example.org/{len(title)}-{title}", guid=None, source="agentur",
        language="de", published=now, fetched=now, content_hash=title)])
    db.save_matches([article.stored_id], [NewMatch(article.stored_id, rule_id, "1")])
    db.plan_alerts([], [PlannedAlert(chat, rule_id, article.id, article.id, rule_name)
                        for chat in chats])
    return article
