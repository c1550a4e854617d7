"""Alert planning across a story, operator notices, and secrets kept out of the logs."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from monitor.config import Config, TelegramConfig
from monitor.logs import RedactSecrets
from monitor.models import MessageKind, OutboxMessage
from monitor.pipeline import Pipeline
from monitor.service import Service
from monitor.store import utc_now
from tests.queueing import queue_alerts, queue_message

TEXT = ("Kim Jong Un und Wladimir Putin trafen sich am Mittwoch im Weltraumbahnhof Wostotschny "
        "im Fernen Osten Russlands. Putin nahm eine Einladung nach Nordkorea an, meldete die "
        "staatliche Nachrichtenagentur KCNA am Donnerstag. Der Kreml hat den Besuch noch nicht "
        "bestätigt. Südkorea äußerte tiefe Besorgnis über die militärische Zusammenarbeit.")


def deployment(tmp_path: Path, db, admins=(900,)) -> Config:
    (tmp_path / "seeds").mkdir()
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "r.toml").write_text(
        '[[rules]]\nid = "kim-putin"\nname = "Kim und Putin"\nquery = "Kim AND Putin"\n',
        encoding="utf-8")
    return Config(path=None, database_path=db.path, seeds_dir=tmp_path / "seeds",
                  rules_dir=tmp_path / "rules", telegram=TelegramConfig(admins=admins))


def seed(folder: Path, name: str, items: list[dict]) -> None:
    (folder / "seeds" / name).write_text(json.dumps(items), encoding="utf-8")


def notices(db) -> list[OutboxMessage]:
    """The operator notices waiting in the outbox, in the order queued."""
    return [m for m in db.due_messages(utc_now()) if m.kind == MessageKind.NOTICE]


def test_a_later_article_of_an_alerted_story_sends_no_new_alert(tmp_path, db):
    config = deployment(tmp_path, db)
    db.upsert_subscriber(1, "private", "A", "de")
    db.subscribe(1, "kim-putin", "instant")
    pipeline = Pipeline(config, db)
    seed(tmp_path, "a.json", [{"title": "Putin nimmt Einladung an", "text": TEXT,
                               "source": "agentur"}])
    first = asyncio.run(pipeline.run_once())
    assert first.alerts_queued == 1
    seed(tmp_path, "b.json", [{"title": "Putin nimmt Einladung an",
                               "text": TEXT + " Mit Material von Reuters.", "source": "zeitung"}])
    second = asyncio.run(pipeline.run_once())
    assert (second.new_articles, second.matches, second.alerts_queued) == (1, 1, 0)
    first, later = db.matches_between(["kim-putin"], utc_now() - timedelta(days=1),
                                      utc_now() + timedelta(days=1))
    assert first.story_id == later.story_id
    assert sorted(first.story_sources) == ["agentur", "zeitung"]


def test_an_alert_bolds_the_words_its_rule_matched_and_only_those(tmp_path, db, dispatch):
    """The bold words are the engine's hits: an exact "Kim" bolds "Kim", not "Kims"; the
    stemmed Einladung bolds the forms it matched."""
    config = deployment(tmp_path, db)
    (tmp_path / "rules" / "r.toml").write_text(
        '[[rules]]\nid = "kim-einladung"\nquery = \'"Kim" AND Einladung\'\n', encoding="utf-8")
    db.upsert_subscriber(1, "private", "A", "de")
    db.subscribe(1, "kim-einladung", "instant")
    seed(tmp_path, "a.json", [{
        "title": "Kims Einladungen", "source": "agentur",
        "text": "Kims Gäste kamen am Mittwoch an. Kim verschickte die Einladungen selbst, "
                "hieß es in Pjöngjang. Die Einladung galt für drei Tage."}])

    pipeline = Pipeline(config, db)
    report = asyncio.run(pipeline.run_once())

    assert report.alerts_queued == 1
    [text] = [m.text for m in asyncio.run(dispatch(pipeline=pipeline)) if m.kind == "alert"]
    summary = text.split("\n\n", 1)[1]
    assert "<b>Kim</b> verschickte die <b>Einladungen</b> selbst" in summary
    assert "<b>Einladung</b> galt" in summary and "<b>Kims</b>" not in summary


def test_admins_hear_once_about_a_feed_failing_for_a_day(tmp_path, db):
    config = deployment(tmp_path, db)
    from monitor.models import Feed
    feed = db.upsert_feed(Feed(name="tot", url="https://tot.example/feed"))
    since = utc_now() - timedelta(days=1, minutes=5)
    db.save_feed_state(replace(feed, error_count=30, failing_since=since, last_fetched=utc_now(),
                               last_error="HTTP 410 Gone", last_status=410))
    service = Service(config, db)
    service._operations()
    service._operations()
    [notice] = notices(db)
    assert notice.chat_id == 900 and "tot" in notice.text and "HTTP 410 Gone" in notice.text


def test_admins_hear_once_about_rule_file_errors_and_a_backlog(tmp_path, db):
    config = deployment(tmp_path, db)
    config = replace(config, service=replace(config.service, backlog_alert=3))
    service = Service(config, db)
    service._rule_errors_notice(["rules/r.toml:3:9: unknown entity '@x'"])
    service._rule_errors_notice(["rules/r.toml:3:9: unknown entity '@x'"])
    queue_alerts(db, range(5))
    service._operations()
    service._operations()
    texts = [notice.text for notice in notices(db)]
    assert len(texts) == 2
    assert texts[0].startswith("⚠️ Die Regeldateien haben Fehler") and "unknown entity" in texts[0]
    assert texts[1].startswith("⚠️ Warteschlange: 6 Nachrichten warten (die älteste seit ")


def test_admins_hear_in_their_language_with_times_in_their_zone(tmp_path, db):
    config = deployment(tmp_path, db)
    config = replace(config, telegram=replace(config.telegram, admins=(900, 901)))
    db.upsert_subscriber(901, "private", "Ops", "en")
    db.set_digest_time(901, None, "Asia/Tokyo")
    service = Service(config, db)
    from monitor.models import Feed
    feed = db.upsert_feed(Feed(name="tot", url="https://tot.example/feed"))
    since = utc_now() - timedelta(days=2)
    db.save_feed_state(replace(feed, error_count=9, failing_since=since, last_fetched=utc_now(),
                               last_error="HTTP 503"))
    service._operations()
    service._operations()
    by_chat = {notice.chat_id: notice.text for notice in notices(db)}
    assert set(by_chat) == {900, 901}
    assert by_chat[900].startswith("⚠️ Feed <b>tot</b> ist gestört seit ")
    assert by_chat[900].endswith(" CET: HTTP 503") or by_chat[900].endswith(" CEST: HTTP 503")
    assert by_chat[901].startswith("⚠️ Feed <b>tot</b> fails since ")
    assert by_chat[901].endswith(" JST: HTTP 503")


def test_the_token_never_reaches_a_log_line():
    token = "123456:SECRET-token"
    record = logging.LogRecord("httpx", logging.INFO, __file__, 1,
                               "POST https://api.telegram.org/bot%s/sendMessage", (token,), None)
    try:
        raise RuntimeError(f"failed https://api.telegram.org/bot{token}/getMe")
    except RuntimeError:
        import sys
        record.exc_info = sys.exc_info()
    RedactSecrets([token]).filter(record)
    assert token not in record.getMessage() and "[token]" in record.getMessage()
    assert token not in record.exc_text


def test_an_edited_config_is_reloaded_and_a_broken_one_kept_out(tmp_path, db):
    from monitor.config import load_config
    path = tmp_path / "config.toml"
    path.write_text(f'[database]\npath = "{db.path}"\n[telegram]\nadmins = [900]\n',
                    encoding="utf-8")
    service = Service(load_config(path), db)
    path.write_text(f'[database]\npath = "{db.path}"\n[telegram]\nadmins = [900]\n'
                    '[[feeds]]\nname = "neu"\nurl = "https://neu.example/feed"\n', encoding="utf-8")
    service.reload_config()
    service.pipeline.sync_configured_feeds()
    assert [f.name for f in db.feeds()] == ["neu"]
    path.write_text("[[feeds]]\nname = 'kaputt'\n", encoding="utf-8")
    service.reload_config()
    assert [f.name for f in service.config.feeds] == ["neu"]
    [notice] = notices(db)
    assert "Konfiguration nicht neu geladen" in notice.text and "feeds[0].url" in notice.text


def test_admin_stats_show_feed_health_backlog_last_digest_and_matches_today(tmp_path, db):
    config = deployment(tmp_path, db)
    pipeline = Pipeline(config, db)
    seed(tmp_path, "a.json", [{"title": "Kim trifft Putin", "text": TEXT, "source": "agentur"}])
    asyncio.run(pipeline.run_once())
    from monitor.models import Feed
    feed = db.upsert_feed(Feed(name="tot", url="https://tot.example/feed"))
    db.save_feed_state(replace(feed, error_count=2, failing_since=utc_now(),
                               last_fetched=utc_now(), last_error="HTTP 503"))
    queue_message(db, 5, "x")
    text = Service(config, db).stats_text("en")
    assert "outbox pending: 1" in text and "last digest: -" in text
    assert "matches today: kim-putin 1" in text
    assert "0 ok, 1 failing" in text and "tot: since" in text and "HTTP 503" in text


def test_edited_rules_apply_on_the_next_cycle_and_a_broken_file_keeps_the_last_good_set(
        tmp_path, db):
    """`monitor run` reloads changed rule files between cycles, without a restart; a file
    with errors is reported and the rules that were active stay active."""
    config = deployment(tmp_path, db)
    added = []
    pipeline = Pipeline(config, db, on_article=added.append)
    rule_file = tmp_path / "rules" / "r.toml"

    def cycle(name: str, title: str):
        seed(tmp_path, name, [{"title": title, "text": TEXT, "source": name}])
        report = asyncio.run(pipeline.run_once())
        [article] = added
        added.clear()
        return report, db.matched_rules(article.id)

    report, fired = cycle("a.json", "Treffen in Wostotschny")
    assert fired == ["kim-putin"] and report.rule_errors == []

    rule_file.write_text(rule_file.read_text(encoding="utf-8") +
                         '[[rules]]\nid = "kreml"\nquery = "Kreml AND Besuch"\n',
                         encoding="utf-8")
    os.utime(rule_file, ns=(1, 1))          # a new mtime even within the clock's resolution
    report, fired = cycle("b.json", "Zweites Treffen")
    assert fired == ["kim-putin", "kreml"] and report.rule_errors == []

    rule_file.write_text('[[rules]]\nid = "kim-putin"\nquery = "Kim AND (Putin"\n',
                         encoding="utf-8")
    report, fired = cycle("c.json", "Drittes Treffen")
    assert [(e.file.name, e.line) for e in report.rule_errors] == [("r.toml", 3)]
    assert fired == ["kim-putin", "kreml"]       # the last good set is still the one in use


CHAIN_5 = "die NEAR/1000 der NEAR/1000 und NEAR/1000 das NEAR/1000 ein"


def test_a_rule_over_its_budget_is_told_to_its_owner_once_and_the_article_goes_on(
        tmp_path, db, caplog):
    """200 kB of five frequent words: the 5-term NEAR chain needs more than the engine's
    budget of steps. It does not match, the other rules still do, the analyst (admins) and
    the /watch owner hear once each, however many articles and cycles it takes."""
    config = deployment(tmp_path, db)
    (tmp_path / "rules" / "r.toml").write_text(
        '[[rules]]\nid = "kim-putin"\nname = "Kim und Putin"\nquery = "Kim AND Putin"\n\n'
        f'[[rules]]\nid = "chain"\nquery = "{CHAIN_5}"\n', encoding="utf-8")
    db.upsert_subscriber(1, "private", "A", "de")
    db.subscribe(1, "kim-putin", "instant")
    db.upsert_subscriber(2, "private", "B", "en")
    db.add_watch(2, CHAIN_5)
    hostile = "die der und das ein " * 10_000
    service = Service(config, db)
    for cycle in range(2):
        seed(tmp_path, f"{cycle}.json", [{"title": f"Kim und Putin {cycle}", "text": hostile,
                                          "source": f"quelle{cycle}"}])
        with caplog.at_level(logging.WARNING, logger="monitor.service"):
            report = asyncio.run(service.ingest())
        assert sorted({e.rule_id for e in report.over_budget}) == ["chain", "watch-1"]
        assert report.alerts_queued == 1          # kim-putin matched the same article
    watch_owner, admin = sorted(notices(db), key=lambda notice: notice.chat_id)
    assert (watch_owner.chat_id, admin.chat_id) == (2, 900)
    assert "Your rule <code>die NEAR/1000" in watch_owner.text
    assert "chain" in admin.text and "200,000 steps" in admin.text
    logged = [r.getMessage() for r in caplog.records if "over budget" in r.getMessage()]
    assert len(logged) == 4 and all("articles=1" in line for line in logged)
    assert [count.key for count in db.stats().matches_by_rule] == ["kim-putin"]


def test_an_archive_from_before_the_index_is_indexed_by_the_pipeline_newest_first(tmp_path, db):
    """After an upgrade (or an analyser change) the archive has no index entries: each
    cycle indexes at most INDEX_PER_CYCLE of them, and new articles are indexed as matched."""
    import monitor.pipeline as pipeline_module
    from monitor.matching.archive_index import INDEX_VERSION

    config = deployment(tmp_path, db)
    seed(tmp_path, "a.json", [{"title": f"Bericht {n}", "text": f"{TEXT} Nummer {n}.",
                               "source": "agentur"} for n in range(5)])
    pipeline = Pipeline(config, db)
    assert asyncio.run(pipeline.run_once()).indexed_articles == 0     # indexed when matched
    assert db.index_is_current(INDEX_VERSION) and db.unindexed_articles() == []
    db.reset_index(INDEX_VERSION + 1)          # as if built by an older analyser
    old_limit, pipeline_module.INDEX_PER_CYCLE = pipeline_module.INDEX_PER_CYCLE, 3
    try:
        first = asyncio.run(pipeline.run_once())
        assert first.indexed_articles == 3 and len(db.unindexed_articles()) == 2
        assert asyncio.run(pipeline.run_once()).indexed_articles == 2
    finally:
        pipeline_module.INDEX_PER_CYCLE = old_limit
    assert db.unindexed_articles() == [] and db.index_is_current(INDEX_VERSION)


def test_the_pipeline_keeps_a_large_rule_index_out_of_the_collectors_sight(tmp_path, db):
    """The pipeline owns its rules for as long as it runs: it, not the engine, freezes a
    large index once per rule set (a small one is not worth a full collection)."""
    import gc

    from monitor.matching.collector import FREEZE_FROM

    config = deployment(tmp_path, db)
    gc.unfreeze()
    try:
        Pipeline(config, db).engine()
        assert gc.get_freeze_count() == 0                       # one rule
        (tmp_path / "rules" / "many.toml").write_text("".join(
            f'[[rules]]\nid = "r{n}"\nquery = "wort{n}"\n' for n in range(FREEZE_FROM)),
            encoding="utf-8")
        pipeline = Pipeline(config, db)
        _, engine = pipeline.engine()
        assert len(engine.ruleset) == FREEZE_FROM + 1 and gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
