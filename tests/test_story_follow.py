"""Alerts that follow their story, and quiet hours (issue #17), against the local Bot API.

The real pipeline and dispatcher on a SQLite file, python-telegram-bot talking HTTP to the
local stand-in for Telegram (which answers edits as Telegram does), and a clock passed in:
a story reported by more outlets edits its alert in place, pings again only past the chat's
threshold or with a new headline, answers the alert when it can no longer be edited, and a
chat's quiet hours hold its alerts until the window ends.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from telegram import Bot

from monitor.config import Config, ServiceConfig, TelegramConfig
from monitor.deliver.outbox import Dispatcher, NoLimit
from monitor.deliver.senders import TelegramSender
from monitor.pipeline import Pipeline
from tests import rawdb
from tests.botapi_server import TOKEN, FakeBotAPI
from tests.feed_server import FeedServer
from tests.test_lifetime import Running, deployment

CHAT = 1
TEXT = ("Kim Jong Un und Wladimir Putin trafen sich am Mittwoch im Weltraumbahnhof Wostotschny "
        "im Fernen Osten Russlands. Putin nahm eine Einladung nach Nordkorea an, meldete die "
        "staatliche Nachrichtenagentur KCNA am Donnerstag. Der Kreml hat den Besuch noch nicht "
        "bestätigt. Südkorea äußerte tiefe Besorgnis über die militärische Zusammenarbeit.")
TITLE = "Putin nimmt Einladung nach Nordkorea an"
START = datetime(2026, 12, 1, 9, tzinfo=UTC)


@pytest.fixture
def botapi():
    """Telegram's answers without its pacing: these tests are about what is sent."""
    server = FakeBotAPI(enforce_limits=False).serve()
    yield server
    server.close()


class Deployment:
    """A folder with seeds and a rule, the store, a pipeline and a dispatcher to Telegram,
    all on one clock that the test moves."""

    def __init__(self, tmp_path: Path, db, bot: Bot, *, new_headline_below: float = 0.2):
        (tmp_path / "seeds").mkdir()
        (tmp_path / "rules").mkdir()
        (tmp_path / "rules" / "r.toml").write_text(
            '[[rules]]\nid = "kim-putin"\nname = "Kim und Putin"\nquery = "Kim AND Putin"\n',
            encoding="utf-8")
        self.folder, self.db, self.now = tmp_path, db, START
        config = Config(path=None, database_path=db.path, seeds_dir=tmp_path / "seeds",
                        rules_dir=tmp_path / "rules", telegram=TelegramConfig(),
                        service=ServiceConfig(new_headline_below=new_headline_below))
        self.dispatcher = Dispatcher(db, TelegramSender(bot), NoLimit(), clock=lambda: self.now)
        self.pipeline = Pipeline(config, db, dispatcher=self.dispatcher, clock=lambda: self.now)
        db.upsert_subscriber(CHAT, "private", "A", "de")
        db.subscribe(CHAT, "kim-putin", "instant")

    def report(self, source: str, title: str = TEXT and TITLE, minutes: int = 0,
               text: str = TEXT) -> None:
        """`source` publishes the story (as a seed file of its own)."""
        published = START + timedelta(minutes=minutes)
        (self.folder / "seeds" / f"{source}.json").write_text(json.dumps([{
            "title": title, "text": text, "source": source,
            "url": f"https://{source}.example/{minutes}", "published": published.isoformat(),
        }]), encoding="utf-8")

    async def cycle(self, minutes: int = 1) -> None:
        """Time passes, then one run of the pipeline and a dispatch of what is due."""
        self.now += timedelta(minutes=minutes)
        await self.pipeline.run_once(self.now)
        await self.dispatcher.dispatch_due()


@pytest.fixture
async def bot(botapi):
    async with Bot(TOKEN, base_url=f"{botapi.url}/bot") as bot:
        yield bot


def statuses(db) -> list[tuple[str, str]]:
    return [(r["kind"], r["status"]) for r in rawdb.query(
        db, "SELECT kind, status FROM outbox ORDER BY id")]


async def test_a_story_from_three_outlets_is_one_alert_edited_twice(tmp_path, db, bot,
                                                                     botapi):
    site = Deployment(tmp_path, db, bot)
    site.report("agentur")
    await site.cycle()
    [alert] = botapi.messages_to(CHAT)
    assert "Quelle" not in alert.plain and alert.reply_markup

    site.report("spiegel", minutes=10, text=TEXT + " Mit Material von dpa.")
    await site.cycle()
    assert alert.plain.endswith("+1 Quelle: spiegel")
    site.report("dw", minutes=20, text=TEXT + " Mit Material von Reuters.")
    await site.cycle()

    assert botapi.messages_to(CHAT) == [alert]        # no new message, no ping
    assert len(alert.edits) == 2
    assert alert.plain.endswith("+2 Quellen: dw, spiegel")      # newest first
    assert '<a href="https://dw.example/20">dw</a>' in alert.text
    assert alert.plain.startswith("🔔 Kim und Putin\n" + TITLE)
    assert alert.reply_markup                          # the buttons stay with the edit
    assert statuses(db) == [("alert", "sent"), ("update", "sent"), ("update", "sent")]


async def test_an_edit_repeated_after_a_crash_shows_the_same_text_and_sends_nothing(
        tmp_path, db, bot, botapi):
    site = Deployment(tmp_path, db, bot)
    site.report("agentur")
    await site.cycle()
    site.report("spiegel", minutes=10, text=TEXT + " Mit Material von dpa.")
    await site.cycle()
    [alert] = botapi.messages_to(CHAT)
    edited = alert.text
    # The crash: Telegram took the edit, the process died before the row was marked.
    rawdb.execute(db, "UPDATE outbox SET status = 'pending' WHERE kind = 'update'")
    site.report("dw", minutes=20, text=TEXT + " Mit Material von Reuters.")  # not yet polled
    await site.dispatcher.dispatch_due()

    assert botapi.messages_to(CHAT) == [alert] and alert.text == edited
    assert len(alert.edits) == 1                       # "message is not modified": done
    assert statuses(db) == [("alert", "sent"), ("update", "sent")]


async def test_an_alert_that_cannot_be_edited_any_more_is_answered_instead(tmp_path, db, bot,
                                                                           botapi):
    site = Deployment(tmp_path, db, bot)
    site.report("agentur")
    await site.cycle()
    [alert] = botapi.messages_to(CHAT)
    botapi.delete_message(CHAT, alert.message_id)      # the user deleted it
    site.report("spiegel", minutes=10, text=TEXT + " Mit Material von dpa.")
    await site.cycle()

    answer = botapi.messages_to(CHAT)[-1]
    assert answer is not alert and alert.edits == []
    assert answer.plain == "↪ Kim und Putin: +1 Quelle: spiegel"
    assert answer.reply_to == alert.message_id and answer.silent
    site.report("dw", minutes=20, text=TEXT + " Mit Material von Reuters.")
    await site.cycle()                                 # later sources edit the answer
    assert botapi.messages_to(CHAT) == [alert, answer]
    assert answer.plain == "↪ Kim und Putin: +2 Quellen: dw, spiegel"
    botapi.uneditable.add((CHAT, answer.message_id))   # e.g. too old to be edited
    site.report("bbc", minutes=30, text=TEXT + " Mit Material von AP.")
    await site.cycle()
    again = botapi.messages_to(CHAT)[-1]
    assert again.plain == "↪ Kim und Putin: +3 Quellen: bbc, dw, spiegel"
    assert again.reply_to == alert.message_id and again.silent
    assert statuses(db) == [("alert", "sent")] + [("update", "sent")] * 3


async def test_a_story_pings_again_once_at_the_chats_follow_threshold(tmp_path, db, bot,
                                                                      botapi):
    site = Deployment(tmp_path, db, bot)
    assert db.follow(CHAT, "kim-putin", 3)
    for minutes, source in enumerate(("agentur", "spiegel", "dw", "bbc")):
        site.report(source, minutes=10 * minutes, text=TEXT + f" Quelle: {source}.")
        await site.cycle()

    alert, ping = botapi.messages_to(CHAT)
    assert ping.reply_to == alert.message_id
    assert ping.plain == f"🧵 Kim und Putin: jetzt 3 Quellen\n{TITLE}"
    assert alert.plain.endswith("+3 Quellen: bbc, dw, spiegel")   # the 4th only edits
    assert not db.follow(CHAT, "no-such-rule", 3)


async def test_a_materially_new_headline_pings_once(tmp_path, db, bot, botapi):
    site = Deployment(tmp_path, db, bot)
    site.report("agentur")
    await site.cycle()
    site.report("spiegel", "Putin nimmt Einladung von Kim nach Nordkorea an", 10,
                TEXT + " Mit Material von dpa.")
    await site.cycle()
    assert len(botapi.messages_to(CHAT)) == 1          # the same headline in other words
    site.report("dw", "Russland und Nordkorea schließen Beistandspakt", 20,
                TEXT + " Mit Material von Reuters.")
    await site.cycle()
    site.report("bbc", "Moskau und Pjöngjang vereinbaren Militärhilfe", 30,
                TEXT + " Mit Material von AP.")
    await site.cycle()

    alert, ping = botapi.messages_to(CHAT)               # once a story
    assert ping.plain == ("🆕 Kim und Putin: neue Schlagzeile\n"
                          "Russland und Nordkorea schließen Beistandspakt (dw)")
    assert ping.reply_to == alert.message_id
    assert alert.plain.endswith("+3 Quellen: bbc, dw, spiegel")


async def test_without_a_headline_threshold_a_new_headline_only_edits(tmp_path, db, bot,
                                                                      botapi):
    site = Deployment(tmp_path, db, bot, new_headline_below=0)
    site.report("agentur")
    await site.cycle()
    site.report("dw", "Russland und Nordkorea schließen Beistandspakt", 20,
                TEXT + " Mit Material von Reuters.")
    await site.cycle()
    [alert] = botapi.messages_to(CHAT)
    assert alert.plain.endswith("+1 Quelle: dw")


def berlin(day: int, hour: int, minute: int = 0) -> datetime:
    """A December moment in Berlin (UTC+1) as UTC."""
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC) - timedelta(hours=1)


async def test_quiet_hours_hold_alerts_until_the_window_ends_folded_per_rule(tmp_path, db, bot,
                                                                             botapi):
    site = Deployment(tmp_path, db, bot)
    db.set_quiet_hours(CHAT, "22:00", "07:00")
    db.upsert_subscriber(2, "private", "B", "de")
    db.subscribe(2, "kim-putin", "instant")              # a chat without quiet hours
    site.now = berlin(1, 22, 30)
    (tmp_path / "seeds" / "night.json").write_text(json.dumps([{
        "title": f"Nachtmeldung {n}: Kim und Putin", "source": "agentur",
        "text": f"Meldung {n} der Nacht. " + " ".join(f"{word}{n}" for word in TEXT.split()),
        "url": f"https://agentur.example/{n}", "published": berlin(1, 22, n).isoformat(),
    } for n in range(5)]), encoding="utf-8")
    await site.cycle()
    assert botapi.messages_to(CHAT) == [] and len(botapi.messages_to(2)) == 5

    site.now = berlin(2, 6, 58)
    await site.dispatcher.dispatch_due()
    assert botapi.messages_to(CHAT) == []
    site.now = berlin(2, 7, 0)
    await site.dispatcher.dispatch_due()               # folds the held alerts
    await site.dispatcher.dispatch_due()               # and sends the folded message

    [folded] = botapi.messages_to(CHAT)
    lines = folded.plain.splitlines()
    assert lines[0] == "🌙 Kim und Putin: 5 Meldungen während der Ruhezeit"
    assert lines[1:] == [f"• Nachtmeldung {n}: Kim und Putin (agentur, 22:{n:02d})"
                         for n in range(5)]
    assert [kind for kind, status in statuses(db) if status == "folded"] == ["alert"] * 5


async def test_a_few_held_alerts_go_out_one_by_one_and_quiet_off_ends_the_hold(tmp_path, db,
                                                                              bot, botapi):
    site = Deployment(tmp_path, db, bot)
    db.set_quiet_hours(CHAT, "22:00", "07:00")
    site.now = berlin(1, 23)
    site.report("agentur", "Kim und Putin in der Nacht")
    await site.cycle()
    assert botapi.messages_to(CHAT) == []
    site.now = berlin(2, 7, 5)
    await site.dispatcher.dispatch_due()
    [alert] = botapi.messages_to(CHAT)
    assert alert.plain.startswith("🔔 Kim und Putin\nKim und Putin in der Nacht")

    site.now = berlin(2, 23)
    db.set_quiet_hours(CHAT, None, None)
    site.report("dw", "Ein anderes Thema mit Kim und Putin", 5,
                "Kim und Putin " + " ".join(f"x{n}" for n in range(60)))
    await site.cycle()
    assert len(botapi.messages_to(CHAT)) == 2


async def test_an_update_waits_for_its_held_alert(tmp_path, db, bot, botapi):
    site = Deployment(tmp_path, db, bot)
    db.set_quiet_hours(CHAT, "22:00", "07:00")
    site.now = berlin(1, 22, 10)
    site.report("agentur")
    await site.cycle()                                 # the alert is held
    site.report("spiegel", minutes=10, text=TEXT + " Mit Material von dpa.")
    await site.cycle()                                 # its update waits for it
    assert botapi.messages_to(CHAT) == []
    assert statuses(db) == [("alert", "pending"), ("update", "pending")]
    site.now = berlin(2, 7)
    for _ in range(2):
        await site.dispatcher.dispatch_due()
    [alert] = botapi.messages_to(CHAT)
    assert alert.plain.endswith("+1 Quelle: spiegel")   # the update had nothing left to add
    assert statuses(db) == [("alert", "sent"), ("update", "skipped")]


def story_feed(source: str, minutes: int | None) -> str:
    """An RSS feed of `source`: empty, or with its report of the story."""
    item = "" if minutes is None else (
        f"<item><title>{TITLE}</title><link>https://{source}.example/story</link>"
        f"<guid>https://{source}.example/story</guid>"
        f"<pubDate>{format_datetime(datetime.now(UTC) - timedelta(hours=1, minutes=-minutes))}"
        f"</pubDate><description>{TEXT} Quelle: {source}.</description></item>")
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>{source}</title><link>https://{source}.example/</link>{item}"
            f"</channel></rss>")


def test_three_feeds_in_turn_edit_one_message_twice_across_a_sigkill(tmp_path):
    """`monitor run` as a process: the first feed's report is alerted, the second edits the
    alert, the process is killed with SIGKILL, the third is polled by the next process and
    edits it again: one message, its final text right."""
    limited = FakeBotAPI().serve()                       # Telegram's limits on
    try:
        with FeedServer() as feeds:
            sources = ("agentur", "spiegel", "dw")
            for source in sources:
                feeds.publish(f"/{source}.xml", story_feed(source, None))
            workdir = deployment(tmp_path, feeds, limited.url, [CHAT])
            config = workdir / "config.toml"
            config.write_text(config.read_text(encoding="utf-8").replace(
                '[[feeds]]\nname = "news"', "".join(
                    f'[[feeds]]\nname = "{source}"\nurl = "{feeds.url(f"/{source}.xml")}"\n'
                    f'interval = "1s"\n' for source in sources) + '[[feeds]]\nname = "news"'),
                encoding="utf-8")
            first = Running(workdir)
            first.wait_for("service started")
            feeds.publish("/agentur.xml", story_feed("agentur", 0))
            assert limited.wait_for(lambda api: len(api.messages_to(CHAT)) == 1, timeout=30)
            [alert] = limited.messages_to(CHAT)
            feeds.publish("/spiegel.xml", story_feed("spiegel", 10))
            assert limited.wait_for(lambda api: len(alert.edits) == 1, timeout=30)
            first.process.kill()                         # SIGKILL: no shutdown at all
            first.process.wait(timeout=10)
            first.process.stdout.close()

            feeds.publish("/dw.xml", story_feed("dw", 20))
            second = Running(workdir)
            second.wait_for("service started")
            assert limited.wait_for(lambda api: len(alert.edits) == 2, timeout=30)
            time.sleep(2)                                # a second message would come now
            assert second.stop() == 0
    finally:
        limited.close()
    assert limited.messages_to(CHAT) == [alert]
    assert alert.plain.startswith(f"🔔 Putin\n{TITLE}")
    assert alert.plain.endswith("+2 Quellen: dw, spiegel")


async def test_a_group_that_became_a_supergroup_gets_the_update_as_an_answer(tmp_path, db, bot,
                                                                             botapi):
    site = Deployment(tmp_path, db, bot)
    group, supergroup = -5, -1000000000005
    db.upsert_subscriber(group, "group", "G", "de")
    db.subscribe(group, "kim-putin", "instant")
    site.report("agentur")
    await site.cycle()
    [alert] = botapi.messages_to(group)
    botapi.migrated[group] = supergroup
    site.report("spiegel", minutes=10, text=TEXT + " Mit Material von dpa.")
    await site.cycle()                                 # the edit learns of the move
    await site.dispatcher.dispatch_due()               # and answers in the supergroup
    site.report("dw", minutes=20, text=TEXT + " Mit Material von Reuters.")
    await site.cycle()

    # the group's message ids mean nothing in the supergroup: one answer there, edited
    assert alert.edits == []
    [answer] = botapi.messages_to(supergroup)
    assert answer.reply_to is None and answer.silent and len(answer.edits) == 1
    assert answer.plain == "↪ Kim und Putin: +2 Quellen: dw, spiegel"


async def test_a_later_source_is_not_lost_in_an_update_that_waits_for_a_retry(tmp_path, db,
                                                                             bot, botapi):
    site = Deployment(tmp_path, db, bot)
    site.report("agentur")
    await site.cycle()
    [alert] = botapi.messages_to(CHAT)
    botapi.inject("429", 1)                            # the first edit meets flood control
    site.report("spiegel", minutes=10, text=TEXT + " Mit Material von dpa.")
    await site.cycle()
    assert alert.edits == []
    site.report("dw", minutes=20, text=TEXT + " Mit Material von Reuters.")
    await site.pipeline.run_once(site.now)             # queued beside the rendered one
    site.now += timedelta(minutes=5)
    for _ in range(2):
        await site.dispatcher.dispatch_due()
    assert alert.plain.endswith("+2 Quellen: dw, spiegel")
    assert botapi.messages_to(CHAT) == [alert] and len(alert.edits) == 1
    # the older update, retried after the newer one went out, does not take it back
    assert statuses(db) == [("alert", "sent"), ("update", "skipped"), ("update", "sent")]


async def test_a_story_that_had_the_threshold_when_first_alerted_does_not_ping_again(
        tmp_path, db, bot, botapi):
    site = Deployment(tmp_path, db, bot)
    assert db.follow(CHAT, "kim-putin", 2)
    db.mute(CHAT, "kim-putin", site.now + timedelta(minutes=15))
    site.report("agentur")
    site.report("spiegel", minutes=1, text=TEXT + " Mit Material von dpa.")
    await site.cycle()                                 # muted: a story of two, no alert
    site.now += timedelta(minutes=20)
    site.report("dw", minutes=20, text=TEXT + " Mit Material von Reuters.")
    await site.cycle()                                 # alerted with its sources
    site.report("bbc", minutes=30, text=TEXT + " Mit Material von AP.")
    await site.cycle()
    [alert] = botapi.messages_to(CHAT)
    assert alert.plain.endswith("+3 Quellen: bbc, spiegel, agentur")


async def test_quiet_off_releases_what_the_window_held(tmp_path, db, bot, botapi):
    site = Deployment(tmp_path, db, bot)
    db.set_quiet_hours(CHAT, "22:00", "07:00")
    site.now = berlin(1, 23)
    site.report("agentur", "Kim und Putin in der Nacht")
    await site.cycle()
    assert botapi.messages_to(CHAT) == []
    db.set_quiet_hours(CHAT, None, None, now=site.now)
    await site.dispatcher.dispatch_due()
    [alert] = botapi.messages_to(CHAT)
    assert alert.plain.startswith("🔔 Kim und Putin\nKim und Putin in der Nacht")
