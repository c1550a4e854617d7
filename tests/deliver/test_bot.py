"""The real python-telegram-bot Application against the local Bot API server: commands,
access rules, flood control, and the whole path from a subscription to exactly one alert."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from monitor.config import Config, TelegramConfig
from monitor.deliver.bot import MAX_WATCHES, MonitorBot
from monitor.deliver.catalog import RulesCatalog
from monitor.deliver.outbox import Dispatcher
from monitor.deliver.senders import TelegramSender
from monitor.deliver.texts import TEXTS
from monitor.matching import RuleWatcher
from monitor.pipeline import Pipeline
from tests.botapi_server import TOKEN

REPO = Path(__file__).resolve().parents[2]
ALLOWED, OTHER, GROUP, ADMIN, CHANNEL = 100, 555, -200, 100, -1001300


@pytest.fixture
def settings(botapi):
    return TelegramConfig(api_url=botapi.url, access="allowlist",
                          allowed_chats=(ALLOWED, GROUP, CHANNEL, 101, 102), admins=(ADMIN,))


@pytest.fixture
async def app(db, botapi, settings):
    botapi.enforce_limits = False  # commands come faster than people type; limits tested below
    watcher = RuleWatcher(REPO / "rules")
    watcher.reload()                      # the owner (the pipeline) loads; the catalog reads
    catalog = RulesCatalog(watcher, db)
    monitor_bot = MonitorBot(settings, db, catalog, default_digest=("08:00", "Europe/Berlin"),
                             stats_text=lambda language, zone: f"1 articles {language} {zone}",
                             reload_rules=lambda language: f"6 rules {language}")
    application = monitor_bot.build(TOKEN)
    async with monitor_bot.running(application, poll_timeout=1):
        yield application


async def say(botapi, chat_id: int, text: str, replies: int = 1, **kwargs) -> list[str]:
    """Send as a user and wait for the bot's answers; returns their plain texts."""
    before = len(botapi.messages_to(chat_id))
    botapi.user_message(chat_id, text, **kwargs)
    for _ in range(100):
        sent = botapi.messages_to(chat_id)
        if len(sent) >= before + replies:
            return [s.plain for s in sent[before:]]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no answer to {text!r} in chat {chat_id}")


async def test_commands_menu_is_registered_at_start(app, botapi):
    names = [c["command"] for c in botapi.commands]
    assert {"start", "help", "rules", "subscribe", "unsubscribe", "list", "digest", "watch",
            "unwatch", "search", "mute", "stop"} <= set(names)


async def test_subscription_to_exactly_one_alert(app, botapi, db, settings):
    assert "Willkommen" in (await say(botapi, ALLOWED, "/start"))[0]
    assert (await say(botapi, ALLOWED, "/subscribe kim-putin"))[0] == \
        "Abonniert: Kim and Putin (instant)."
    config = Config(path=None, database_path=db.path, seeds_dir=REPO / "seeds",
                    rules_dir=REPO / "rules", telegram=settings)
    pipeline = Pipeline(config, db, dispatcher=Dispatcher(db, TelegramSender(app.bot)))
    before = len(botapi.messages_to(ALLOWED))
    report = await pipeline.run_once()
    assert report.delivery.sent == 1
    [alert] = botapi.messages_to(ALLOWED)[before:]
    assert alert.plain.startswith("🔔 Kim and Putin\nPutin hat laut Staatsmedien Kims Einladung")
    assert "<b>Putin</b>" in alert.text and "<b>Kim</b>" in alert.text
    assert "angenommen" in alert.plain and "beigetragen" not in alert.plain
    buttons = alert.reply_markup["inline_keyboard"][0]
    assert [b["callback_data"] for b in buttons] == ["mute:kim-putin:1d", "unsub:kim-putin"]
    assert [b["text"] for b in buttons] == [TEXTS["de"]["button_mute"],
                                            TEXTS["de"]["button_unsub"]]

    again = await pipeline.run_once()           # the same article again: nothing
    assert again.delivery.sent == 0 and len(botapi.messages_to(ALLOWED)) == before + 1

    botapi.press_button(alert, "mute:kim-putin:1d")
    for _ in range(100):
        if botapi.callback_answers:
            break
        await asyncio.sleep(0.05)
    assert "stumm bis" in botapi.callback_answers[-1]["text"]   # a notice; the alert stays
    assert alert.edits == [] and "Einladung" in alert.plain
    [muted] = db.subscriptions(ALLOWED)
    assert muted.muted_until is not None and muted.muted_until > datetime.now(UTC)
    assert "kim-putin Kim and Putin (instant) 🔇" in (await say(botapi, ALLOWED,
                                                            "/list"))[0]
    db.mute(ALLOWED, "kim-putin", datetime.now(UTC) - timedelta(minutes=1))    # it passed
    assert "🔇" not in (await say(botapi, ALLOWED, "/list"))[0]


async def test_allowlist_refuses_politely_and_stores_nothing(app, botapi, db):
    [answer] = await say(botapi, OTHER, "/subscribe kim-putin")
    assert "nicht freigeschaltet" in answer and str(OTHER) in answer
    [answer] = await say(botapi, OTHER, "/watch Putin", language_code="en")
    assert "not enabled" in answer
    assert db.subscriber(OTHER) is None and db.watches(OTHER) == []


async def test_unknown_rule_id_with_html_is_escaped(app, botapi):
    [answer] = await say(botapi, ALLOWED, "/subscribe <b>x</b>&")
    assert answer == "Das Thema <b>x</b>& gibt es nicht. /rules zeigt alle."
    sent = botapi.messages_to(ALLOWED)[-1]
    assert "&lt;b&gt;x&lt;/b&gt;&amp;" in sent.text


async def test_watch_shows_the_caret_and_list_shows_watches(app, botapi, db):
    [answer] = await say(botapi, ALLOWED, "/watch Putin AND (Kim", language_code="en")
    assert "The query has an error" in answer
    assert "Putin AND (Kim\n              ^" in answer
    [answer] = await say(botapi, ALLOWED, "/watch Putin AND (Kim")
    assert "Die Anfrage ist fehlerhaft:\n')' fehlt zur '(' in Spalte 11 (Spalte 15)\n" \
        "Putin AND (Kim\n              ^" in answer
    [answer] = await say(botapi, ALLOWED, "/watch Putin NEAR/5 Einladung")
    assert answer.startswith("Eigene Regel 1 gespeichert")
    await say(botapi, ALLOWED, "/subscribe vostochny digest")
    [listing] = await say(botapi, ALLOWED, "/list")
    assert "vostochny" in listing and "(digest)" in listing
    assert "1. Putin NEAR/5 Einladung" in listing
    assert "Tagesüberblick: 08:00 (Europe/Berlin)" in listing
    [answer] = await say(botapi, ALLOWED, "/unwatch 1")
    assert answer == "Eigene Regel 1 gelöscht."


async def test_spike_warnings_are_switched_per_subscription(app, botapi, db):
    """/spike RULE on|off needs a subscription (the warnings are for what the chat follows);
    /list marks it; /unsubscribe ends both."""
    assert (await say(botapi, ALLOWED, "/spike kim-putin"))[0] == \
        "Bitte so: /spike THEMA on oder /spike THEMA off"
    assert (await say(botapi, ALLOWED, "/spike kim-putin on"))[0] == \
        "kim-putin ist nicht abonniert."
    await say(botapi, ALLOWED, "/subscribe kim-putin digest")
    [answer] = await say(botapi, ALLOWED, "/spike kim-putin ON", language_code="en")
    assert answer == ("Kim and Putin: you will be warned when the topic suddenly comes up far "
                      "more often than usual.")
    assert "kim-putin Kim and Putin (digest) 📈" in (await say(botapi, ALLOWED, "/list"))[0]
    assert db.spike_subscribers(datetime.now(UTC)) == {"kim-putin": [ALLOWED]}
    assert (await say(botapi, ALLOWED, "/spike kim-putin off"))[0] == \
        "Kim and Putin: keine Warnungen bei Häufungen mehr."
    assert "📈" not in (await say(botapi, ALLOWED, "/list"))[0]
    assert "/spike THEMA on|off" in (await say(botapi, ALLOWED, "/help"))[0]


async def test_usage_errors_get_a_clear_answer(app, botapi):
    assert "Bitte so: /subscribe" in (await say(botapi, ALLOWED, "/subscribe"))[0]
    assert "Bitte so: /subscribe" in (await say(botapi, 101, "/subscribe kim-putin weekly"))[0]
    assert "Bitte so: /mute" in (await say(botapi, 102, "/mute kim-putin soon"))[0]
    assert "Bitte so: /mute" in (await say(botapi, ALLOWED, "/mute kim-putin 99999999999d"))[0]
    assert "Unbekannte Zeitzone" in (await say(botapi, ALLOWED, "/digest 07:30 Mars/Base"))[0]
    # a chat that is not allowed is refused before its arguments are looked at
    assert "nicht freigeschaltet" in (await say(botapi, 103, "/mute kim-putin soon"))[0]


async def test_the_access_check_stops_updates_before_any_handler(app, botapi, db):
    """One check in group -1 for every command and button: /help and the rule pages in a
    chat that is not allowed, a button pressed there, and a command for another bot."""
    for text in ("/help", "/rules", "/list"):
        assert "nicht freigeschaltet" in (await say(botapi, OTHER, text))[0]
    before = len(botapi.messages_to(OTHER))
    botapi.user_message(OTHER, "/help@SomeOtherBot")          # not ours: no answer at all
    await say(botapi, OTHER, "/help")
    await asyncio.sleep(0.2)
    assert len(botapi.messages_to(OTHER)) == before + 1
    assert "Befehle" in (await say(botapi, ALLOWED, "/help@monitor_test_bot"))[0]
    assert db.subscriber(OTHER) is None


async def test_digest_time_and_off(app, botapi, db):
    await say(botapi, ALLOWED, "/start")
    assert (await say(botapi, ALLOWED, "/digest 7:30 Asia/Tokyo"))[0] == \
        "Ihr Tagesüberblick kommt um 07:30 (Asia/Tokyo)."
    assert db.subscriber(ALLOWED).digest_tz == "Asia/Tokyo"
    await say(botapi, ALLOWED, "/digest off")
    assert db.subscriber(ALLOWED).digest_time == "off"


async def test_in_groups_only_admins_change_subscriptions(app, botapi, db):
    botapi.group_admins[GROUP].add(7)
    [answer] = await say(botapi, GROUP, "/subscribe kim-putin", user_id=8, chat_type="group")
    assert answer == "In Gruppen dürfen nur Administratoren Abos ändern."
    assert db.subscriptions(GROUP) == []
    await say(botapi, GROUP, "/subscribe kim-putin", user_id=7, chat_type="group")
    assert [s.rule_id for s in db.subscriptions(GROUP)] == ["kim-putin"]


async def test_rules_are_paged_with_buttons(app, botapi):
    [listing] = await say(botapi, ALLOWED, "/rules")
    assert "kim-putin – Kim and Putin" in listing
    page = botapi.messages_to(ALLOWED)[-1]
    assert page.reply_markup["inline_keyboard"][0][0]["callback_data"] == "sub:kim-putin"
    botapi.press_button(page, "sub:vostochny")
    for _ in range(100):
        if botapi.callback_answers:
            break
        await asyncio.sleep(0.05)
    assert botapi.callback_answers[-1]["text"] == "Abonniert: Vostochny Cosmodrome (instant)."


async def test_admin_commands_only_for_admins(app, botapi):
    assert (await say(botapi, ADMIN, "/stats"))[0] == "1 articles de Europe/Berlin"
    assert (await say(botapi, ADMIN, "/stats", language_code="en"))[0] == \
        "1 articles en Europe/Berlin"
    assert "Betreibern vorbehalten" in (await say(botapi, 101, "/stats", user_id=101))[0]
    assert (await say(botapi, ADMIN, "/reload"))[0] == "Regeln neu geladen: 6 rules de"


async def test_flood_of_commands_is_limited_per_user_and_others_are_served(app, botapi):
    for _ in range(12):
        botapi.user_message(101, "/help")
    await asyncio.sleep(1.5)
    answers = [s.plain for s in botapi.messages_to(101)]
    assert answers.count("Zu viele Befehle – bitte einen Moment warten.") == 1
    assert sum(a.startswith("Befehle") for a in answers) == 8
    assert (await say(botapi, 102, "/help"))[0].startswith("Befehle")


async def test_stop_forgets_the_chat(app, botapi, db):
    await say(botapi, ALLOWED, "/subscribe kim-putin")
    await say(botapi, ALLOWED, "/stop")
    assert db.subscriber(ALLOWED) is None and db.subscriptions(ALLOWED) == []


async def test_an_answer_survives_a_429(app, botapi):
    botapi.inject("429", 1)
    [answer] = await say(botapi, ALLOWED, "/help")
    assert answer.startswith("Befehle") and botapi.rejected_429 == 1


async def test_a_channel_subscribes_through_a_channel_post(app, botapi, db):
    [answer] = await say(botapi, CHANNEL, "/subscribe kim-putin digest", chat_type="channel")
    assert answer == "Abonniert: Kim and Putin (digest)."
    assert db.subscriber(CHANNEL).chat_type == "channel"
    assert db.subscriptions(CHANNEL)[0].mode == "digest"


async def test_rules_pages_with_more_rules_than_fit(db, botapi, settings, tmp_path):
    botapi.enforce_limits = False
    rules = "".join(f'[[rules]]\nid = "thema-{n:02d}"\nname = "Thema {n}"\nquery = "Wort{n}"\n\n'
                    for n in range(11))
    (tmp_path / "many.toml").write_text(rules, encoding="utf-8")
    watcher = RuleWatcher(tmp_path)
    watcher.reload()
    monitor_bot = MonitorBot(settings, db, RulesCatalog(watcher, db),
                             default_digest=("08:00", "Europe/Berlin"),
                             stats_text=lambda language, zone: "", reload_rules=str)
    async with monitor_bot.running(monitor_bot.build(TOKEN), poll_timeout=1):
        [first] = await say(botapi, ALLOWED, "/rules")
        assert "Seite 1/2" in first and "thema-07" in first and "thema-08" not in first
        page = botapi.messages_to(ALLOWED)[-1]
        assert page.reply_markup["inline_keyboard"][-1] == [{"text": "▶",
                                                             "callback_data": "rules:2"}]
        botapi.press_button(page, "rules:2")
        for _ in range(100):
            if page.edits:
                break
            await asyncio.sleep(0.05)
        assert "Seite 2/2" in page.plain and "thema-10" in page.plain   # edited in place


async def test_limits_at_the_door_get_a_clear_reply(app, botapi, db):
    """What any user can type is bounded before it is parsed, stored or searched, and the
    refusal of a stranger never becomes a handler error sent to the admins."""
    [answer] = await say(botapi, OTHER, "/watch " + "Putin AND " * 300 + "Kim")
    assert "nicht freigeschaltet" in answer
    [answer] = await say(botapi, 101, "/watch " + "x" * 501, language_code="en")
    assert answer == "The query is too long (501 characters, at most 500)."
    [answer] = await say(botapi, 101, "/watch Putin \ud800 Kim", language_code="en")
    assert answer == "The message contains characters that are not valid text."
    [answer] = await say(botapi, 102, "/unwatch 99999999999999999999999")
    assert answer.startswith("Bitte so: /unwatch")
    assert db.watches(101) == [] and db.watches(OTHER) == []
    assert [s for s in botapi.messages_to(ADMIN) if "Bot error" in s.plain] == []


async def test_personal_rules_per_chat_are_limited(app, botapi, db):
    db.upsert_subscriber(ALLOWED, "private", "x", "de")
    for number in range(MAX_WATCHES):
        db.add_watch(ALLOWED, f"Putin NEAR/{number + 1} Kim")
    [answer] = await say(botapi, ALLOWED, "/watch Putin", language_code="en")
    assert answer.startswith(f"This chat has {MAX_WATCHES} personal rules already")
    assert len(db.watches(ALLOWED)) == MAX_WATCHES


async def test_search_is_rate_limited_per_chat(app, botapi):
    await say(botapi, 101, "/search Putin")
    [answer] = await say(botapi, 101, "/search Kim", language_code="en")
    assert answer.startswith("Please wait") and "seconds before the next search" in answer
    [other] = await say(botapi, 102, "/search Kim")          # another chat is not held up
    assert "Bitte" not in other


async def test_a_slow_search_does_not_hold_up_other_chats(db, botapi, settings):
    """/search runs the engine in a worker thread; while it runs, other chats are answered
    (python-telegram-bot handles updates one after another unless a handler says not to)."""
    import threading

    release = threading.Event()

    class SlowCatalog(RulesCatalog):
        def search(self, query: str, limit: int):
            release.wait(10)                      # a search of a large archive
            return super().search(query, limit)

    botapi.enforce_limits = False
    watcher = RuleWatcher(REPO / "rules")
    watcher.reload()
    monitor_bot = MonitorBot(settings, db, SlowCatalog(watcher, db),
                             default_digest=("08:00", "Europe/Berlin"),
                             stats_text=lambda language, zone: f"1 articles {language} {zone}",
                             reload_rules=lambda language: f"6 rules {language}")
    application = monitor_bot.build(TOKEN)
    async with monitor_bot.running(application, poll_timeout=1):
        botapi.user_message(101, "/search Putin")
        await asyncio.sleep(0.3)
        [other] = await say(botapi, 102, "/rules")         # answered while the search runs
        assert "Kim" in other and botapi.messages_to(101) == []
        release.set()
        for _ in range(100):
            if botapi.messages_to(101):
                break
            await asyncio.sleep(0.05)
        assert botapi.messages_to(101)[0].plain.startswith("Keine Treffer")


async def test_search_through_the_index_and_a_termless_search_of_the_last_days(app, botapi, db):
    """A query with a word to look up finds the whole archive through the index; one without
    (only NOT) would read every article, so from a chat it reads the last days and says so."""
    from datetime import timedelta

    from monitor.matching import Engine, RuleSet, match_batch
    from monitor.matching.archive_index import INDEX_VERSION
    from monitor.store import utc_now
    from tests.matching.support import ENTITIES, article

    now = utc_now()
    stored = db.add_articles([
        article("Путин встретился с Кимом", "Путин и Ким говорили о сотрудничестве.", "ru",
                url="https://ru.example/new", published=now - timedelta(days=1)),
        article("Путин в Пекине", "Путин прилетел в Пекин.", "ru", url="https://ru.example/old",
                published=now - timedelta(days=30)),
    ])
    db.reset_index(INDEX_VERSION)
    batch = match_batch(Engine(RuleSet((), ENTITIES)), stored)
    db.save_matches([a.id for a in stored], batch.rows, now, batch.terms, batch.words)

    [by_word] = await say(botapi, 101, "/search Путин", language_code="en")
    assert by_word.startswith("Archive matches")
    assert "Путин встретился с Кимом" in by_word and "Путин в Пекине" in by_word
    assert "were searched" not in by_word
    shown = (now - timedelta(days=1)).astimezone(ZoneInfo("Europe/Berlin"))
    assert f"{shown:%d.%m.%Y %H:%M})" in by_word           # in the chat's (default) zone

    [termless] = await say(botapi, 102, "/search NOT Trump")
    assert "Путин встретился с Кимом" in termless and "Путин в Пекине" not in termless
    assert termless.endswith("durchsucht wurden nur die neuesten Artikel der letzten 7 Tage.)")


async def test_buttons_with_forged_data_are_answered_not_crashed(app, botapi):
    await say(botapi, ALLOWED, "/rules")
    message = botapi.messages_to(ALLOWED)[-1]
    for data in ("mute:kim-putin:99999999999d", "mute:kim-putin:soon", "rules:99999999999999999",
                 "nonsense", ""):
        before = len(botapi.callback_answers)
        botapi.press_button(message, data)
        for _ in range(100):
            if len(botapi.callback_answers) > before or len(botapi.messages_to(ALLOWED)) > 1:
                break
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)
    assert [s for s in botapi.messages_to(ADMIN) if "Bot error" in s.plain] == []


def test_every_text_is_there_in_german_and_english():
    """A key added in one language only would fail in the chats of the other."""
    assert TEXTS["de"].keys() == TEXTS["en"].keys()


async def test_a_slow_reload_leaves_the_event_loop_free(db, botapi, settings):
    """Store, catalog and rule calls run in worker threads: reloading 100k rules takes
    seconds, and the service's other jobs (dispatch, ingest) share the bot's event loop."""
    import threading

    began, release = threading.Event(), threading.Event()

    def slow_reload(language: str) -> str:
        began.set()
        release.wait(10)
        return "6 rules"

    watcher = RuleWatcher(REPO / "rules")
    watcher.reload()
    monitor_bot = MonitorBot(settings, db, RulesCatalog(watcher, db),
                             default_digest=("08:00", "Europe/Berlin"),
                             stats_text=lambda language, zone: "", reload_rules=slow_reload)
    application = monitor_bot.build(TOKEN)
    async with monitor_bot.running(application, poll_timeout=1):
        started = time.monotonic()
        botapi.user_message(ADMIN, "/reload")
        while not began.is_set() and time.monotonic() - started < 5:
            await asyncio.sleep(0.05)                 # the loop turns while the reload runs
        await asyncio.sleep(0.2)
        assert began.is_set() and time.monotonic() - started < 5
        release.set()
        for _ in range(100):
            if botapi.messages_to(ADMIN):
                break
            await asyncio.sleep(0.05)
        assert botapi.messages_to(ADMIN)[-1].plain == "Regeln neu geladen: 6 rules"


async def test_unknown_commands_and_free_text_get_a_pointer_to_help(app, botapi):
    assert (await say(botapi, ALLOWED, "/subscirbe kim-putin"))[0] == \
        "Diesen Befehl kenne ich nicht. /help zeigt alle Befehle."
    assert (await say(botapi, 101, "hello?", language_code="en"))[0] == \
        "I only understand commands. /help lists them, /rules the topics."
    before = len(botapi.messages_to(GROUP))
    botapi.user_message(GROUP, "hallo zusammen", user_id=8, chat_type="group")
    await say(botapi, GROUP, "/help", user_id=8, chat_type="group")
    assert len(botapi.messages_to(GROUP)) == before + 1        # free text in a group: quiet


async def test_help_shows_operators_their_commands(app, botapi):
    assert "/stats" not in (await say(botapi, 101, "/help"))[0]
    [answer] = await say(botapi, ADMIN, "/help", language_code="en")
    assert "For operators" in answer and "/stats" in answer and "/reload" in answer


async def test_times_are_shown_in_the_chats_time_zone(app, botapi):
    await say(botapi, ALLOWED, "/digest 07:30 Asia/Tokyo")
    await say(botapi, ALLOWED, "/subscribe kim-putin")
    [muted] = await say(botapi, ALLOWED, "/mute kim-putin 2h")
    assert muted.endswith(" JST.")
    [listed] = await say(botapi, ALLOWED, "/list")
    assert "🔇 bis " in listed and " JST" in listed


async def test_watch_and_search_hint_at_lower_case_operators_in_the_users_language(app, botapi):
    [answer] = await say(botapi, ALLOWED, "/watch Putin and Kim")
    assert answer.startswith("Eigene Regel")
    assert "💡 „and“ wird als Wort gesucht (Operatoren schreibt man groß): meinten Sie AND?" \
        in answer
    [answer] = await say(botapi, 101, "/search Putin or Kim", language_code="en")
    assert "💡 'or' is searched as a word (operators are upper case): did you mean OR?" in answer


async def test_personal_rules_are_numbered_per_chat(app, botapi):
    assert (await say(botapi, ALLOWED, "/watch Putin"))[0].startswith("Eigene Regel 1 ")
    assert (await say(botapi, 101, "/watch Kim"))[0].startswith("Eigene Regel 1 ")
    assert (await say(botapi, 101, "/watch Moskau"))[0].startswith("Eigene Regel 2 ")
    assert (await say(botapi, 101, "/unwatch 1"))[0] == "Eigene Regel 1 gelöscht."
    assert "2. Moskau" in (await say(botapi, 101, "/list"))[0]


async def test_a_group_speaks_its_own_language_a_private_chat_its_users(app, botapi, db):
    botapi.group_admins[GROUP].add(7)
    [answer] = await say(botapi, GROUP, "/language en", user_id=7, chat_type="group")
    assert answer == "This chat speaks English now."
    for user, language in ((8, "de"), (9, "en")):        # every member reads English there
        [answer] = await say(botapi, GROUP, "/help", user_id=user, chat_type="group",
                             language_code=language)
        assert answer.startswith("Commands")
    assert db.subscriber(GROUP).language == "en"
    [answer] = await say(botapi, GROUP, "/language de", user_id=8, chat_type="group")
    assert answer == "In groups only administrators can change subscriptions."
    assert (await say(botapi, ALLOWED, "/help"))[0].startswith("Befehle")   # private: the user's
    assert "Bitte so: /language" in (await say(botapi, ALLOWED, "/language fr"))[0]


async def test_follow_is_set_shown_and_ended_from_the_chat(app, botapi, db):
    await say(botapi, ALLOWED, "/subscribe kim-putin")
    assert (await say(botapi, ALLOWED, "/follow kim-putin 5"))[0].startswith(
        "Kim and Putin: eine neue Meldung, sobald ein Thema 5 Quellen hat")
    assert db.subscriptions(ALLOWED)[0].follow_sources == 5
    assert (await say(botapi, ALLOWED, "/follow kim-putin 1"))[0].startswith("Bitte so: /follow")
    assert (await say(botapi, ALLOWED, "/follow nordkorea 5"))[0] == \
        "nordkorea ist nicht abonniert."
    listed = (await say(botapi, ALLOWED, "/list"))[0].splitlines()
    assert listed[1].endswith("(instant) 🧵 ab 5 Quellen")
    await say(botapi, ALLOWED, "/follow kim-putin off")
    assert db.subscriptions(ALLOWED)[0].follow_sources is None


async def test_quiet_hours_are_set_shown_and_ended_from_the_chat(app, botapi, db):
    chat = 101
    await say(botapi, chat, "/subscribe kim-putin")
    await say(botapi, chat, "/digest 08:00 Asia/Tokyo")
    assert (await say(botapi, chat, "/quiet 22-7"))[0] == (
        "Ruhezeit 22:00–07:00 (Asia/Tokyo): Meldungen aus dieser Zeit kommen um 07:00, "
        "mehrere zu einem Thema in einer Nachricht.")
    assert (await say(botapi, chat, "/quiet 22:00-22:00"))[0].startswith("Bitte so: /quiet")
    assert (await say(botapi, chat, "/list"))[0].splitlines()[-1] == \
        "Ruhezeit: 22:00–07:00 (Asia/Tokyo)"
    assert (await say(botapi, chat, "/quiet off"))[0] == "Keine Ruhezeit mehr."
    assert db.quiet_hours() == {}
    assert (await say(botapi, chat, "/quiet 22:00-07:00", language_code="en"))[0].startswith(
        "Quiet hours 22:00–07:00 (Asia/Tokyo): alerts of that time arrive at 07:00")
    assert db.quiet_hours()[chat].start == "22:00"
