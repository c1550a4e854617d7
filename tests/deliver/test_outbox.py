"""The dispatcher against the local Bot API server: limits, errors, and nothing lost or sent
twice."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest

from monitor.config import TelegramConfig
from monitor.deliver.outbox import Dispatcher, RateLimiter
from monitor.deliver.senders import TelegramSender, TokenRejected, telegram_sender
from monitor.models import NewMatch, PlannedAlert, Subscription
from monitor.store import utc_now
from tests import rawdb
from tests.botapi_server import TOKEN
from tests.queueing import queue_alerts, queue_message


async def drain(db, dispatcher, timeout=20.0):
    """Dispatch until the outbox has nothing pending (rows rescheduled by retries included)."""
    deadline = time.monotonic() + timeout
    while db.pending_count() and time.monotonic() < deadline:
        await dispatcher.dispatch_due()
        await asyncio.sleep(0.2)
    return db.pending_count()


def rows(db):
    """What the dispatcher recorded on each row (status, attempts, last error): production
    never reads these back, so the file is read beneath the store (tests/rawdb.py)."""
    return rawdb.query(db, "SELECT chat_id, status, attempts, last_error FROM outbox ORDER BY id")


def later(hours=2):
    """A dispatcher's clock this much ahead: every retry scheduled until then is due."""
    return lambda: utc_now() + timedelta(hours=hours)


async def test_due_rows_are_sent_once_and_marked(db, botapi, bot):
    for chat in (1, 2, 3):
        queue_message(db, chat, f"<b>Alarm</b> für {chat}")
    dispatcher = Dispatcher(db, TelegramSender(bot))
    report = await dispatcher.dispatch_due()
    assert report.sent == 3
    assert (await dispatcher.dispatch_due()).sent == 0
    assert [s.plain for s in botapi.messages_to(2)] == ["Alarm für 2"]
    assert {r["status"] for r in rows(db)} == {"sent"}


async def test_429_storm_delays_but_loses_nothing(db, botapi, bot):
    for chat in range(1, 6):
        queue_message(db, chat, f"Nachricht {chat}")
    botapi.inject("429", 1, times=4)
    dispatcher = Dispatcher(db, TelegramSender(bot))
    assert await drain(db, dispatcher) == 0
    delivered = sorted(s.chat_id for s in botapi.sent)
    assert delivered == [1, 2, 3, 4, 5]          # every one, none twice
    assert botapi.rejected_429 == 4
    assert any(r["attempts"] > 1 for r in rows(db))


async def test_server_errors_are_retried_with_backoff(db, botapi, bot):
    queue_message(db, 1, "x")
    botapi.inject("500")
    dispatcher = Dispatcher(db, TelegramSender(bot))
    report = await dispatcher.dispatch_due()
    assert (report.sent, report.retried) == (0, 1)
    row = rows(db)[0]
    assert row["status"] == "pending" and "Internal Server Error" in row["last_error"]
    assert botapi.sent == []


async def test_blocked_chat_is_marked_inactive_and_its_rows_dropped(db, botapi, bot):
    db.upsert_subscriber(9, "private", None, None)
    queue_message(db, 9, "a")
    queue_message(db, 9, "b")
    queue_message(db, 10, "c")
    botapi.blocked.add(9)
    report = await Dispatcher(db, TelegramSender(bot)).dispatch_due()
    assert (report.sent, report.dropped_chats) == (1, 1)
    assert db.subscriber(9).active is False
    assert [r["status"] for r in rows(db)] == ["dropped", "dropped", "sent"]


async def test_rejected_markup_falls_back_to_plain_text(db, botapi, bot):
    queue_message(db, 1, "<p>kaputt</p> &amp; gut")
    await Dispatcher(db, TelegramSender(bot)).dispatch_due()
    [sent] = botapi.messages_to(1)
    assert (sent.text, sent.parse_mode) == ("kaputt & gut", None)


async def test_group_migrated_to_supergroup_follows_the_new_id(db, botapi, bot):
    db.upsert_subscriber(-5, "group", "Gruppe", None)
    db.subscribe(-5, "r", "instant")
    queue_message(db, -5, "Gruppe")
    botapi.migrated[-5] = -1005
    dispatcher = Dispatcher(db, TelegramSender(bot))
    await dispatcher.dispatch_due()
    await dispatcher.dispatch_due()
    assert [s.plain for s in botapi.messages_to(-1005)] == ["Gruppe"]
    assert db.subscriptions(-1005) == [Subscription("r", "instant")]
    assert db.subscriber(-5) is None


async def test_an_unreachable_telegram_ends_the_pass_early_and_keeps_every_row(db):
    """Connection refused: one attempt per chat in flight at most, not one per chat, and
    every row stays pending for the next pass."""
    for chat in range(1, 41):
        queue_message(db, chat, f"Alarm {chat}")
    settings = TelegramConfig(api_url="http://127.0.0.1:9")   # discard port: nothing listens
    async with telegram_sender(settings, TOKEN) as sender:
        report = await Dispatcher(db, sender, max_in_flight=4).dispatch_due()
    assert report.sent == 0 and report.unavailable.startswith("Telegram unreachable")
    assert report.retried <= 4
    assert db.pending_count() == 40


async def test_a_refused_token_is_one_line_without_the_token(botapi):
    settings = TelegramConfig(api_url=botapi.url, token_env="MY_BOT_TOKEN")
    with pytest.raises(TokenRejected) as caught:
        async with telegram_sender(settings, "123456:wrong-secret"):
            pass
    assert str(caught.value) == ("Telegram rejected the bot token in $MY_BOT_TOKEN; "
                                 "check that variable")
    assert "wrong-secret" not in repr(caught.value)


async def test_rate_limiter_spaces_sends_per_chat_and_overall():
    now = [0.0]
    slept = []

    async def fake_sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(overall_per_s=10, clock=lambda: now[0], sleep=fake_sleep)
    for _ in range(3):
        await limiter.wait(1)          # private chat: one per second
    assert now[0] == 2.0
    await limiter.wait(-100)           # a group, free: only the overall spacing applies
    await limiter.wait(-100)           # 3 s apart for groups
    assert now[0] == pytest.approx(5.1)  # overall spacing 0.1 s, then 3 s per group
    limiter.pause(10)
    await limiter.wait(2)
    assert now[0] == pytest.approx(15.1)


async def test_a_send_that_times_out_is_retried_and_may_arrive_twice(db, botapi):
    from telegram import Bot
    from telegram.request import HTTPXRequest

    from tests.botapi_server import TOKEN

    queue_message(db, 1, "langsam")
    botapi.inject("slow", 1.5)
    request = HTTPXRequest(read_timeout=0.5, write_timeout=0.5, connect_timeout=0.5)
    async with Bot(TOKEN, base_url=f"{botapi.url}/bot", request=request) as slow_bot:
        dispatcher = Dispatcher(db, TelegramSender(slow_bot))
        report = await dispatcher.dispatch_due()
        assert (report.sent, report.retried) == (0, 1)
        assert "timed out (may have been delivered)" in rows(db)[0]["last_error"]
        assert botapi.wait_for(lambda api: len(api.sent) == 1, timeout=5)  # it did arrive
        dispatcher.clock = later()         # the retry is due
        await asyncio.sleep(1.1)   # Telegram's 1/s per chat
        assert (await dispatcher.dispatch_due()).sent == 1
    # the documented window
    assert [s.plain for s in botapi.messages_to(1)] == ["langsam", "langsam"]


async def test_an_alert_is_rendered_before_its_first_send_and_retried_as_it_was(db, botapi,
                                                                               bot):
    article = queue_alerts(db, [1])
    [queued] = db.due_messages(utc_now())
    assert (queued.text, queued.buttons) == ("", ())     # a reference until it is due
    botapi.inject("500")
    asked = []

    def matched_words(found, rule_ids):                  # the engine's highlighting
        asked.append((found.id, list(rule_ids)))
        return {"r": ["Kim"]}

    dispatcher = Dispatcher(db, TelegramSender(bot), matched_words=matched_words)
    assert (await dispatcher.dispatch_due()).retried == 1 and botapi.sent == []
    dispatcher.clock = later()                           # the retry is due
    [kept] = db.due_messages(dispatcher.clock())
    assert "Kim-Reisen" in kept.text and "<b>Kim</b> traf Putin" in kept.text
    assert asked == [(article.id, ["r"])]                # the rules the article matched
    # the retry sends as before, whatever became of the article (rawdb: no public call
    # changes a stored article's title)
    rawdb.execute(db, "UPDATE articles SET title = 'changed since'")
    assert (await dispatcher.dispatch_due()).sent == 1
    [sent] = botapi.messages_to(1)
    assert sent.text == kept.text and "changed since" not in sent.text


async def test_an_alert_whose_article_is_gone_fails_with_the_reason_and_the_rest_go_out(
        db, botapi, bot):
    gone = queue_alerts(db, [1, 2], title="Alt")
    queue_alerts(db, [1], title="Neu")
    # Retention keeps the article of a pending alert: only damage (or a row older than
    # that rule) takes it away, so it is deleted beneath the store.
    rawdb.execute(db, "DELETE FROM articles WHERE id = ?", gone.id)
    report = await Dispatcher(db, TelegramSender(bot)).dispatch_due()
    assert (report.sent, report.failed) == (1, 2)
    assert [s.plain.split("\n")[1] for s in botapi.sent] == ["Neu"]
    assert [(r["status"], r["last_error"]) for r in rows(db) if r["status"] == "failed"] == [
        ("failed", "the article is no longer in the archive")] * 2


async def test_an_article_is_summarised_once_for_all_its_alerts_in_a_pass(db, botapi, bot,
                                                                          monkeypatch):
    import monitor.deliver.alerts as alerts
    calls = []
    summarise = alerts.alert_summary

    def slow_summary(article, words):       # slow enough for the chats' renders to overlap
        calls.append(article.id)
        time.sleep(0.2)
        return summarise(article, words)

    monkeypatch.setattr(alerts, "alert_summary", slow_summary)
    article = queue_alerts(db, range(1, 21))
    assert (await Dispatcher(db, TelegramSender(bot), max_in_flight=8).dispatch_due()).sent == 20
    assert calls == [article.id]


async def test_an_alerts_buttons_are_made_with_it_in_the_chats_language(db, botapi, bot):
    """The planner queues references; the buttons come with the rendering, in the language
    of the chat (English here), and a personal /watch rule's alert has none."""
    from monitor.deliver.texts import TEXTS

    db.upsert_subscriber(1, "private", "Anna", "en")
    article = queue_alerts(db, [1, 2])
    db.save_matches([article.id], [NewMatch(article.stored_id, "watch-4", "1")])
    db.plan_alerts([], [PlannedAlert(2, "watch-4", article.id, article.id, "🔎 Kim")])
    assert {m.buttons for m in db.due_messages(utc_now())} == {()}
    assert await drain(db, Dispatcher(db, TelegramSender(bot))) == 0
    [english] = botapi.messages_to(1)
    assert [b["text"] for b in english.reply_markup["inline_keyboard"][0]] == [
        TEXTS["en"]["button_mute"], TEXTS["en"]["button_unsub"]]
    german, watch = sorted(botapi.messages_to(2), key=lambda m: "🔎" in m.plain)
    assert german.reply_markup["inline_keyboard"][0][0]["callback_data"] == "mute:r:1d"
    assert "🔎 Kim" in watch.plain and not watch.reply_markup
