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
from monitor.deliver import html_to_plain
from monitor.models import DigestMatch, MessageKind
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
    # once as a top story, once in the rule's list, with the words the rule matched in bold
    assert html_to_plain(text).count("Putin nimmt Kims Einladung an") == 2
    assert "<b>Putin</b> nimmt <b>Kims</b> Einladung an</a>" in text
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
    assert ('<a href="https://a.example/1"><b>Putin</b> nimmt <b>Kims</b> Einladung an</a>'
            in html)
    markdown = tmp_path / "digest.md"
    runner.invoke(main, ["digest", "--chat", str(CHAT), "--out", str(markdown), "--config",
                         str(toml)])
    assert "[**Putin** nimmt **Kims** Einladung an](https://a.example/1)" in \
        markdown.read_text()
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
    # every story line is whole, in one message (the top stories are pointers: "1. …")
    assert len(lines) == 120 and all(line.endswith("</i>") for line in lines)


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
                        "code_block", "em_open"}
    # the only bold is ours: the words the rule matched, never feed text's asterisks
    bold = {children[i + 1].content for t in tokens if (children := t.children or [])
            for i, c in enumerate(children) if c.type == "strong_open"}
    assert bold and bold <= {"Kim", "Kims", "Putin"}
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
        assert any(f" {one_line(title)} (" in line for line in shown), title


def digest_row(rule_id: str, article_id: int, story_id: int, hour: int, sources: int,
               title: str = "") -> DigestMatch:
    return DigestMatch(rule_id, article_id, title or f"Meldung {article_id} über Kim",
                       f"https://e.x/{article_id}", f"quelle-{article_id}", "de",
                       datetime(2026, 12, 3, hour, tzinfo=UTC),
                       f"Kim sagte etwas zu Meldung {article_id}. Mehr dazu später.", story_id,
                       tuple(f"s{n}" for n in range(sources)))


def test_stories_are_ranked_by_outlets_then_recency_each_listed_once_in_local_time():
    from monitor.digest import build_digest, render_html_page, render_markdown, render_telegram

    rows = [digest_row("a", 1, 1, 6, 1), digest_row("a", 2, 2, 7, 3),
            digest_row("a", 3, 3, 8, 1), digest_row("a", 4, 4, 5, 3),
            digest_row("a", 5, 4, 9, 3),                  # story 4 reported again, later
            digest_row("b", 3, 3, 8, 1), digest_row("b", 6, 6, 10, 1)]
    start, end = datetime(2026, 12, 2, 7, tzinfo=UTC), datetime(2026, 12, 3, 7, tzinfo=UTC)
    digest = build_digest(9, start, end + timedelta(hours=4), "Europe/Berlin",
                          {"a": "Regel A", "b": "Regel B"}, rows,
                          matched_words=lambda row: ["Kim"])
    a, b = digest.sections
    # three outlets first, the more recent of them first; then one outlet, recent first
    assert [s.story_id for s in a.stories] == [4, 2, 3, 1]
    assert [s.story_id for s in b.stories] == [6] and b.shown_above == 1
    assert [(s.story_id, section.rule_id) for s, section in digest.top_stories()] == [
        (4, "a"), (2, "a"), (6, "b")]
    [text] = render_telegram(digest)
    plain = html_to_plain(text)
    assert plain.count("Meldung 3 über Kim") == 1           # once, under its first rule
    assert "• 06:00 Meldung 4 über Kim (quelle-4 +2 weitere Quellen)" in plain   # Berlin time
    assert "1. Meldung 4 über Kim → Regel A" in plain
    assert "<b>Regel B</b> – 2 Artikel, 2 Themen (1 davon oben)" in text
    assert '<a href="https://e.x/4">Meldung 4 über <b>Kim</b></a>' in text
    assert "<b>Kim</b> sagte etwas zu Meldung 4." in text     # a top story's summary
    markdown = render_markdown(digest)
    assert "- 06:00 [Meldung 4 über **Kim**](https://e.x/4) (quelle\\-4, +2 weitere " \
        "Quellen)" in markdown
    assert "1. [Meldung 4 über Kim](https://e.x/4) → Regel A" in markdown
    page = render_html_page(digest)
    assert '<li><a href="#story-4">Meldung 4 über Kim</a> → Regel A</li>' in page
    assert '<li id="story-4">06:00 <a href="https://e.x/4">Meldung 4 über <b>Kim</b></a>' in page
