"""Spike alerts: the detector over generated histories, the alert's text, and the whole path
from `/spike RULE on` through the pipeline to exactly one message at the local Bot API
server, across restarts."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.config import Config, TelegramConfig
from monitor.deliver import MAX_TEXT, visible_length
from monitor.deliver.bot import MonitorBot
from monitor.deliver.catalog import RulesCatalog
from monitor.deliver.outbox import Dispatcher
from monitor.deliver.senders import telegram_sender
from monitor.matching import RuleWatcher
from monitor.models import SpikeArticle, SpikeSettings
from monitor.pipeline import Pipeline
from monitor.spikes import Spike, detect, render_spike, replay, top_stories
from monitor.store import Store
from tests.botapi_server import TOKEN

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SETTINGS = SpikeSettings(k=3.0, min=5, cooldown_s=6 * 3600)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def history(days: int = 14, per_day: tuple[int, ...] = (2, 3, 1, 2), end: datetime = NOW
            ) -> list[datetime]:
    """A rule's usual matches: at every hour of the `days` before `end`, a number that changes
    from day to day (`per_day`), spread evenly over the hour."""
    times = []
    for hour in range(1, days * 24 + 1):
        count = per_day[(hour // 24) % len(per_day)]
        times += [end - hour * HOUR + HOUR * (n + 0.5) / count for n in range(count)]
    return sorted(times)


def burst(count: int, end: datetime = NOW) -> list[datetime]:
    return [end - timedelta(minutes=2 + 4 * n) for n in range(count)]


# ------------------------------------------------------------------------------ detector

def test_a_burst_over_the_baseline_fires_once_and_says_count_and_usual():
    times = sorted(history(days=15) + burst(12))
    fired = replay(times, NOW - 3 * HOUR, NOW + 3 * HOUR, SETTINGS, times[0])
    assert len(fired) == 1
    [spike] = fired
    # It fires as the burst comes in, on the sixth article of the hour.
    assert (spike.end, spike.count, spike.days) == (NOW - timedelta(minutes=34), 6, 14)
    assert (spike.usual, spike.threshold) == (2.0, 5.0)
    # At the hour itself it would say: 2 + 12 against a mean of 2 (σ 0.76, floored at 1).
    assert detect(times, NOW, SETTINGS, times[0]) == Spike(NOW, 14, 2.0, 5.0, 14)


def test_a_count_below_min_does_not_fire_even_far_above_a_quiet_baseline():
    """A rule that never matched at this hour: σ is floored at 1, so four articles are four
    σ above zero, but fewer than `min`; five fire."""
    quiet = [NOW - 14 * DAY - HOUR]          # its history reaches back 14 days
    assert detect(sorted(quiet + burst(4)), NOW, SETTINGS, quiet[0]) is None
    spike = detect(sorted(quiet + burst(5)), NOW, SETTINGS, quiet[0])
    assert spike is not None and (spike.count, spike.usual, spike.threshold) == (5, 0.0, 3.0)


def test_a_busy_hour_that_is_usual_for_the_rule_does_not_fire():
    """Twelve in the hour would be a spike for a quiet rule; for one that has ten an hour it
    is not (10 + 3·1)."""
    times = sorted(history(per_day=(10,)) + burst(2))
    assert replay(times, NOW - 2 * HOUR, NOW + HOUR, SETTINGS, times[0]) == []
    assert detect(sorted(times + burst(2)), NOW, SETTINGS, times[0]).count == 14


def test_the_cool_down_holds_and_a_later_burst_fires_again():
    """Two bursts three hours apart: one alert in a six-hour cool-down; seven hours apart:
    two."""
    base = history(days=15)
    close = sorted(base + burst(12) + burst(12, NOW + 3 * HOUR))
    assert len(replay(close, NOW - HOUR, NOW + 5 * HOUR, SETTINGS, base[0])) == 1
    apart = sorted(base + burst(12) + burst(12, NOW + 7 * HOUR))
    fired = replay(apart, NOW - HOUR, NOW + 8 * HOUR, SETTINGS, base[0])
    assert len(fired) == 2 and fired[1].end - fired[0].end >= timedelta(hours=6)
    assert detect(close, NOW + 3 * HOUR, SETTINGS, base[0], last_spike=fired[0].end) is None


def test_without_a_week_of_history_nothing_fires():
    """Days before the rule's first match are unknown, not quiet: a rule added today would
    otherwise fire on its first busy hour."""
    assert detect(burst(20), NOW, SETTINGS, history_start=None) is None
    assert detect(burst(20), NOW, SETTINGS, history_start=NOW - 2 * HOUR) is None
    six = sorted(history(days=7) + burst(20))       # the seventh day is not complete
    assert detect(six, NOW, SETTINGS, six[0]) is None
    seven = sorted(history(days=8) + burst(20))
    assert detect(seven, NOW, SETTINGS, seven[0]).days == 7


# ---------------------------------------------------------------------------- the alert

def article(n: int, story: int, sources: int, title: str = "", url: str | None = None
            ) -> SpikeArticle:
    return SpikeArticle(n, title or f"Titel {n}", url or f"https://example.org/{n}",
                        f"quelle{n}", NOW - timedelta(minutes=60 - n), story, sources)


def test_the_top_stories_are_those_with_most_sources_then_most_articles():
    articles = [article(1, 10, 1), article(2, 20, 3), article(3, 30, 1), article(4, 30, 1),
                article(5, 20, 3), article(6, 40, 2)]
    assert [a.article_id for a in top_stories(articles)] == [2, 6, 3]


def test_the_alert_escapes_feed_text_and_stays_one_message():
    spike = Spike(NOW, 14, 1.25, 4.4, 14)
    stories = [article(1, 1, 4, title="<b>Vulkan</b> & Asche " * 2000,
                       url="https://example.org/a?b=1&c=2"),
               article(2, 2, 1, url="javascript:alert(1)")]
    german = render_spike("Vulkane <Island>", spike, stories, "de")
    assert german.startswith("📈 <b>Vulkane &lt;Island&gt;</b>\n"
                             "14 Meldungen in der letzten Stunde (üblich: 1,2)\n"
                             '• <a href="https://example.org/a?b=1&amp;c=2">&lt;b&gt;Vulkan')
    assert "…</a> <i>(quelle1 +3 weitere Quellen)</i>\n• Titel 2 <i>(quelle2)</i>" in german
    assert "javascript" not in german and visible_length(german) <= MAX_TEXT
    english = render_spike("Vulkane", Spike(NOW, 6, 0.0, 3.0, 7), [], "en")
    assert english == "📈 <b>Vulkane</b>\n6 reports in the last hour (usual: 0)"


# ------------------------------------------------------------------ end to end, restarts

CHAT = 4242
RULES = """
[[rules]]
id = "vulkan"
name = "Vulkane auf Island"
query = "Vulkan"

  [rules.spike]
  k = 3.0
  min = 6
  cooldown = "6h"
"""
WORDS = ("Lava Asche Beben Flug Hafen Straße Dorf Behörde Messung Forscher Nacht Morgen "
         "Warnung Gebiet Grindavík Reykjanes Spalte Magma Gas Rauch Himmel Küste").split()


def generated_articles(rng: random.Random) -> list[dict]:
    """Fourteen days of two or three Vulkan reports an hour (and other news), then a burst of
    fourteen in the last hour: four sources carrying one story, and ten others."""
    items = []

    def text(n: int) -> str:
        return " ".join(rng.choice(WORDS) for _ in range(40)) + f" Meldung {n}."

    for hour in range(1, 14 * 24 + 1):
        for n in range(rng.choice((2, 2, 3))):
            moment = NOW - hour * HOUR + timedelta(minutes=5 + 17 * n)
            items.append({"title": f"Vulkan: Lage am Abend {hour}-{n}", "text":
                          f"Der Vulkan bleibt ruhig. {text(hour * 10 + n)}",
                          "published": moment.isoformat(), "source": f"zeitung{n}"})
        items.append({"title": f"Wetter {hour}", "text": text(-hour), "source": "wetter",
                      "published": (NOW - hour * HOUR).isoformat()})
    eruption = ("Der Vulkan auf der Halbinsel Reykjanes ist am Mittag ausgebrochen. Lava "
                "fließt auf Grindavík zu, die Behörden räumen den Ort und sperren die Straßen.")
    for n, source in enumerate(("ruv", "mbl", "visir", "dpa")):
        items.append({"title": "Vulkan auf Island ausgebrochen", "text": f"{eruption} ({source})",
                      "url": f"https://{source}.example/ausbruch", "source": source,
                      "published": (NOW - timedelta(minutes=50 - n)).isoformat()})
    for n in range(10):
        items.append({"title": f"Vulkan: Neues um {11}:{n:02}", "text": f"Vulkan {text(n)}",
                      "url": f"https://ticker.example/{n}", "source": "ticker",
                      "published": (NOW - timedelta(minutes=30 - n)).isoformat()})
    return items


def deployment(tmp_path: Path, botapi) -> Config:
    for folder in ("seeds", "rules"):
        (tmp_path / folder).mkdir()
    (tmp_path / "rules" / "vulkan.toml").write_text(RULES, encoding="utf-8")
    (tmp_path / "seeds" / "archiv.json").write_text(
        json.dumps(generated_articles(random.Random(17))), encoding="utf-8")
    return Config(path=None, database_path=tmp_path / "monitor.db",
                  seeds_dir=tmp_path / "seeds", rules_dir=tmp_path / "rules",
                  telegram=TelegramConfig(api_url=botapi.url, allowed_chats=(CHAT,)))


def in_last_hour(config: Config) -> int:
    """The generated Vulkan reports published in the hour before NOW: the hour's usual two or
    three, and the burst."""
    items = json.loads((config.seeds_dir / "archiv.json").read_text(encoding="utf-8"))
    return sum(1 for item in items if "Vulkan" in item["title"]
               and NOW - HOUR < datetime.fromisoformat(item["published"]) <= NOW)


async def say(botapi, text: str) -> str:
    """Send as the user and wait for the bot's answer (the bot runs in this event loop)."""
    before = len(botapi.messages_to(CHAT))
    botapi.user_message(CHAT, text)
    for _ in range(200):
        if len(botapi.messages_to(CHAT)) > before:
            return botapi.messages_to(CHAT)[-1].plain
        await asyncio.sleep(0.05)
    raise AssertionError(f"no answer to {text!r}")


async def subscribe_with_spikes(config: Config, store: Store, botapi) -> None:
    """The chat subscribes (in digest mode: no alert per article) and asks for spikes, through
    the real bot."""
    watcher = RuleWatcher(config.rules_dir)
    watcher.reload()
    bot = MonitorBot(config.telegram, store, RulesCatalog(watcher, store),
                     default_digest=("08:00", "Europe/Berlin"),
                     stats_text=lambda language, zone: "", reload_rules=lambda language: "")
    application = bot.build(TOKEN)
    async with bot.running(application, poll_timeout=1):
        assert await say(botapi, "/spike vulkan on") == "vulkan ist nicht abonniert."
        assert await say(botapi, "/subscribe vulkan digest") == \
            "Abonniert: Vulkane auf Island (digest)."
        assert await say(botapi, "/spike vulkan on") == (
            "Vulkane auf Island: Sie werden gewarnt, wenn das Thema plötzlich viel häufiger "
            "vorkommt als üblich.")


async def cycle(config: Config, now: datetime, send: bool) -> tuple[int, int]:
    """One cycle of a freshly started process (a new store, pipeline and dispatcher on the
    same file); without `send` it stops after queueing, as a process killed before its
    dispatch would. Returns (spikes queued, messages sent)."""
    with Store(config.database_path) as store:
        if not send:
            report = await Pipeline(config, store, clock=lambda: now).run_once(now)
            return report.spikes_queued, 0
        async with telegram_sender(config.telegram, TOKEN) as sender:
            dispatcher = Dispatcher(store, sender, clock=lambda: now)
            pipeline = Pipeline(config, store, dispatcher=dispatcher, clock=lambda: now)
            report = await pipeline.run_once(now)
            assert report.delivery is not None
            return report.spikes_queued, report.delivery.sent


async def test_a_spike_is_sent_once_and_not_again_after_restarts(tmp_path, botapi):
    botapi.enforce_limits = False
    config = deployment(tmp_path, botapi)
    with Store(config.database_path) as store:
        await subscribe_with_spikes(config, store, botapi)
    replies = len(botapi.messages_to(CHAT))

    # Queued, then the process dies before sending: the next one sends it, once.
    assert await cycle(config, NOW, send=False) == (1, 0)
    assert await cycle(config, NOW + timedelta(minutes=1), send=True) == (0, 1)
    [alert] = botapi.messages_to(CHAT)[replies:]
    lines = alert.plain.split("\n")
    assert lines[0] == "📈 Vulkane auf Island"
    assert lines[1].startswith(f"{in_last_hour(config)} Meldungen in der letzten Stunde "
                               "(üblich: 2,")
    assert lines[2] == "• Vulkan auf Island ausgebrochen (ruv +3 weitere Quellen)"
    assert len(lines) == 5 and '<a href="https://ruv.example/ausbruch">' in alert.text

    # Restarts within the hour and the cool-down: the burst is still there, nothing is sent.
    for minutes in (2, 30, 59):
        assert await cycle(config, NOW + timedelta(minutes=minutes), send=True) == (0, 0)
    # After the cool-down the burst has left the hour: nothing either.
    assert await cycle(config, NOW + timedelta(hours=7), send=True) == (0, 0)
    assert botapi.messages_to(CHAT)[replies:] == [alert]
    with Store(config.database_path) as store:
        assert [m.kind for m in store.due_messages(NOW + DAY)] == []
        assert store.last_spike("vulkan") == NOW


def test_spike_on_needs_a_subscription_and_off_stops_the_alerts(db, tmp_path):
    db.upsert_subscriber(1, "private", "A", "de")
    assert not db.set_spike(1, "vulkan", True)
    db.subscribe(1, "vulkan", "instant")
    db.subscribe(1, "other", "digest")
    assert db.set_spike(1, "vulkan", True)
    assert db.spike_subscribers(NOW) == {"vulkan": [1]}
    db.mute(1, "vulkan", NOW + HOUR)
    assert db.spike_subscribers(NOW) == {}
    assert db.spike_subscribers(NOW + 2 * HOUR) == {"vulkan": [1]}
    assert db.set_spike(1, "vulkan", False)
    assert db.spike_subscribers(NOW + 2 * HOUR) == {}
    assert [s.spike for s in db.subscriptions(1)] == [False, False]
