"""The digest through the pipeline: stories from several sources, one line each; a period is
sent once; a missed digest comes once after a downtime; the command's outputs."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.config import Config, DigestConfig
from monitor.models import MessageKind
from monitor.pipeline import CycleReport, Pipeline
from monitor.store import utc_now

CHAT = 4242
STORY = ("Kim Jong Un und Wladimir Putin trafen sich am Mittwoch im Weltraumbahnhof Wostotschny "
         "im Fernen Osten Russlands. Putin nahm eine Einladung nach Nordkorea an, meldete die "
         "staatliche Nachrichtenagentur KCNA am Donnerstag. Der Kreml hat den Besuch noch nicht "
         "bestätigt. Südkorea äußerte tiefe Besorgnis über die militärische Zusammenarbeit der "
         "beiden Länder und warnte vor Waffenlieferungen.")
OTHER = ("Kim Jong Un hat nach Angaben aus Seoul erneut Raketen getestet. Putin äußerte sich "
         "dazu nicht. Die Regierung in Tokio berief eine Sondersitzung ein, und die Vereinten "
         "Nationen kündigten Beratungen im Sicherheitsrat für die kommende Woche an.")


@pytest.fixture
def setup(tmp_path, db):
    seeds, rules = tmp_path / "seeds", tmp_path / "rules"
    seeds.mkdir()
    rules.mkdir()
    (rules / "r.toml").write_text(
        '[[rules]]\nid = "kim-putin"\nname = "Kim und Putin"\nquery = "Kim AND Putin"\n'
        'delivery = "digest"\n', encoding="utf-8")
    items = [
        {"title": "Putin nimmt Kims Einladung an", "text": STORY, "source": "agentur-a",
         "url": "https://a.example/1"},
        {"title": "Putin nimmt Kims Einladung an", "text": STORY + " (dpa)", "source": "zeitung-b",
         "url": "https://b.example/1"},
        {"title": "Putin nimmt Kims Einladung an",
         "text": STORY.replace("Mittwoch", "Mittwochabend"),
         "source": "portal-c", "url": "https://c.example/1"},
        {"title": "Kim testet wieder Raketen", "text": OTHER, "source": "agentur-a",
         "url": "https://a.example/2"},
    ]
    (seeds / "news.json").write_text(json.dumps(items), encoding="utf-8")
    config = Config(path=None, database_path=db.path, seeds_dir=seeds, rules_dir=rules,
                    digest=DigestConfig(time="08:00", timezone="Europe/Berlin"))
    db.upsert_subscriber(CHAT, "private", "Analyst", "de")
    db.subscribe(CHAT, "kim-putin", "digest")
    # the previous digest went out at its time, the last 08:00 in Berlin (an hour ago would
    # make today's due at once whenever the tests run between 08:00 and 09:00 there)
    last = last_digest_time()
    db.record_digest(CHAT, last - timedelta(days=1), last, [])
    return config, Pipeline(config, db)


def last_digest_time() -> datetime:
    berlin = utc_now().astimezone(ZoneInfo("Europe/Berlin"))
    last = berlin.replace(hour=8, minute=0, second=0, microsecond=0)
    return (last if last <= berlin else last - timedelta(days=1)).astimezone(UTC)


def digests(db):
    """The texts of the digest messages queued (none of them is sent here)."""
    return [m.text for m in db.due_messages(utc_now() + timedelta(days=3650))
            if m.kind == MessageKind.DIGEST]


async def test_one_line_per_story_with_its_sources(setup, db):
    """(An identical copy would be stored once at ingest; copies differ by a word or a credit.)"""
    config, pipeline = setup
    await pipeline.run_once()
    report = CycleReport()
    pipeline.plan_digests(report, utc_now() + timedelta(days=1, hours=1))
    assert report.digests_queued == 1
    [text] = digests(db)
    assert "<b>Kim und Putin</b> – 4 Artikel, 2 Themen" in text
    assert text.count("Putin nimmt Kims Einladung an") == 2   # top stories and the rule's list
    assert "+2 weitere Quellen" in text
    assert "Kim testet wieder Raketen" in text
    assert "Top-Themen" in text and "Einladung nach Nordkorea" in text  # a summary sentence


async def test_a_period_is_sent_once_and_a_missed_digest_comes_once(setup, db):
    config, pipeline = setup
    await pipeline.run_once()
    later = utc_now() + timedelta(days=1, hours=1)
    for _ in range(3):
        pipeline.plan_digests(CycleReport(), later)
    assert len(digests(db)) == 1
    # down for three days: one digest when back, covering the gap
    report = CycleReport()
    pipeline.plan_digests(report, later + timedelta(days=3))
    pipeline.plan_digests(report, later + timedelta(days=3, minutes=5))
    assert report.digests_queued == 1
    assert "nichts Neues" in digests(db)[-1]


def test_digest_command_dry_run_and_files(setup, db, tmp_path, monkeypatch):
    config, pipeline = setup
    import asyncio
    asyncio.run(pipeline.run_once())
    toml = tmp_path / "config.toml"
    toml.write_text(f'[database]\npath = "{db.path}"\n[sources]\nseeds = "{config.seeds_dir}"\n'
                    f'rules = "{config.rules_dir}"\n', encoding="utf-8")
    runner = CliRunner()
    dry = runner.invoke(main, ["digest", "--chat", str(CHAT), "--dry-run", "--config", str(toml)])
    assert dry.exit_code == 0, dry.output
    assert "Kim und Putin – 4 Artikel, 2 Themen" in dry.output
    assert digests(db) == []                       # a dry run records and sends nothing
    page = tmp_path / "digest.html"
    result = runner.invoke(main, ["digest", "--all", "--out", str(page), "--config", str(toml)])
    assert result.exit_code == 0, result.output
    html = page.read_text(encoding="utf-8")
    assert html.startswith("<!doctype html>") and "https://b.example/1" not in html
    assert '<a href="https://a.example/1">Putin nimmt Kims Einladung an</a>' in html
    markdown = tmp_path / "digest.md"
    runner.invoke(main, ["digest", "--chat", str(CHAT), "--out", str(markdown), "--config",
                         str(toml)])
    assert "[Putin nimmt Kims Einladung an](https://a.example/1)" in markdown.read_text()
    queued = runner.invoke(main, ["digest", "--chat", str(CHAT), "--config", str(toml)])
    assert "queued" in queued.output and len(digests(db)) == 1
    again = runner.invoke(main, ["digest", "--chat", str(CHAT), "--config", str(toml)])
    assert again.exit_code == 0 and "nothing new since" in again.output
    assert len(digests(db)) == 1                   # the second run queues nothing
    unknown = runner.invoke(main, ["digest", "--chat", "1", "--config", str(toml)])
    assert unknown.exit_code == 1 and "no digest subscription" in unknown.output


def test_the_first_digest_after_subscribing_is_the_next_scheduled_one():
    from monitor.digest import due_period

    berlin = ZoneInfo("Europe/Berlin")
    subscribed = datetime(2026, 12, 3, 22, 39, tzinfo=berlin)     # digest time 08:00
    assert due_period(subscribed, "08:00", "Europe/Berlin", None, subscribed) is None
    assert due_period(subscribed + timedelta(hours=9), "08:00", "Europe/Berlin", None,
                      subscribed) is None                          # 07:39: not yet
    start, end = due_period(subscribed + timedelta(hours=10), "08:00", "Europe/Berlin", None,
                            subscribed)
    assert end == datetime(2026, 12, 4, 8, 0, tzinfo=berlin)
    assert start == end - timedelta(days=1)
    # without a subscription time (older databases): the latest slot, as before
    assert due_period(subscribed, "08:00", "Europe/Berlin", None) is not None


def test_a_new_digest_subscriber_gets_nothing_until_the_next_slot(setup, db):
    config, pipeline = setup
    db.upsert_subscriber(77, "private", "Neu", "de")
    db.subscribe(77, "kim-putin", "digest")
    report = CycleReport()
    pipeline.plan_digests(report, utc_now())
    assert report.digests_queued == 0


def test_a_long_digest_is_split_between_stories():
    from datetime import UTC, datetime

    from monitor.digest import Digest, DigestSection, DigestStory, render_telegram
    from tests.botapi_server import parse_html, utf16_len

    when = datetime(2026, 11, 28, 7, tzinfo=UTC)
    stories = [DigestStory(n, f"Meldung {n}: " + "Überschrift " * 12, f"https://e.x/{n}",
                           "quelle", 1 + n % 3, when) for n in range(120)]
    digest = Digest(1, when, when, "Europe/Berlin",
                    [DigestSection("r", "Regel", stories, 130)])
    messages = render_telegram(digest)
    assert len(messages) > 1
    lines = []
    for message in messages:
        assert utf16_len(parse_html(message)) <= 4096
        lines += [line for line in message.split("\n") if line.startswith("• ")]
    # every story line is whole, in one message (3 top stories + 120 in the rule's list)
    assert len(lines) == 123 and all(line.endswith("</i>") for line in lines)


async def test_an_english_speaking_chat_gets_english_labels(setup, db):
    config, pipeline = setup
    db.upsert_subscriber(CHAT, "private", "Analyst", "en")
    await pipeline.run_once()
    pipeline.plan_digests(CycleReport(), utc_now() + timedelta(days=1, hours=1))
    [text] = digests(db)
    assert text.startswith("📰 <b>Daily digest")
    assert "<b>Kim und Putin</b> – 4 articles, 2 stories" in text and "+2 more sources" in text


def test_a_markdown_digest_file_of_hostile_feed_items_renders_as_text(setup, db, tmp_path):
    """Issue #14: `monitor digest --out FILE.md` wrote titles and URLs raw, so a feed title
    `&lt;script&gt;` (unescaped at ingest) became a live <script> once the file was rendered.
    Every hostile string of the corpus as a title and a URL, through the real pipeline and
    command, then through a CommonMark renderer."""
    import asyncio
    import re

    from markdown_it import MarkdownIt

    from tests.hostile import HOSTILE, UNSAFE, one_line

    config, pipeline = setup
    storable = [t for t in HOSTILE if not re.search(r"[\ud800-\udfff]", t)]
    items = json.loads((config.seeds_dir / "news.json").read_text(encoding="utf-8"))
    items += [{"title": text, "url": text, "source": f"quelle-{n}",
               "text": f"Kim und Putin, Meldung {n}: " + " ".join(f"w{n}x{i}" for i in range(40))}
              for n, text in enumerate(storable)]
    (config.seeds_dir / "news.json").write_text(json.dumps(items), encoding="utf-8")
    asyncio.run(pipeline.run_once())
    toml = tmp_path / "config.toml"
    toml.write_text(f'[database]\npath = "{db.path}"\n[sources]\nseeds = "{config.seeds_dir}"\n'
                    f'rules = "{config.rules_dir}"\n', encoding="utf-8")
    markdown = tmp_path / "digest.md"
    result = CliRunner().invoke(main, ["digest", "--chat", str(CHAT), "--out", str(markdown),
                                       "--config", str(toml)])
    assert result.exit_code == 0, result.output
    source = markdown.read_text(encoding="utf-8")
    assert not UNSAFE.search(source)
    md = MarkdownIt("commonmark")
    md.validateLink = lambda url: True      # our escaping is under test, not markdown-it's
    tokens = md.parse(source)
    kinds = {t.type for t in tokens} | {c.type for t in tokens for c in t.children or []}
    assert not kinds & {"html_block", "html_inline", "image", "code_inline", "fence",
                        "code_block", "em_open", "strong_open"}
    rendered = md.render(source)
    assert "<script" not in rendered.lower() and "<img" not in rendered.lower()
    hrefs = re.findall(r'href="([^"]*)"', rendered)
    assert hrefs and all(re.match(r"https?://", h, re.I) for h in hrefs)
    # each stored title is shown as its text, control characters as spaces (links or not)
    shown = {"".join(c.content for c in t.children if c.type == "text")
             for t in tokens if t.type == "inline"}
    stored = [a.title for a in db.iter_articles() if a.source.startswith("quelle-")]
    assert "<script>alert(1)</script>" in stored    # the entity title, unescaped at ingest
    for title in stored:
        assert any(line.startswith(f"{one_line(title)} (") for line in shown), title
