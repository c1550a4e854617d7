"""`monitor run --once`, `ingest`, `stats` and `feeds` end to end: real config, SQLite file,
seed folder, rules and a feed server on 127.0.0.1; console delivery (no token)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import main
from monitor.store import Store
from tests.botapi_server import TOKEN
from tests.feed_server import FeedServer

REPO = Path(__file__).resolve().parent.parent
FEEDS = REPO / "tests" / "fixtures" / "feeds"
SEED_TITLE = "Putin hat laut Staatsmedien Kims Einladung nach Nordkorea „angenommen“"


@pytest.fixture
def server():
    with FeedServer(FEEDS) as server:
        yield server


@pytest.fixture
def workdir(tmp_path, server, monkeypatch):
    """A deployment folder: config.toml, the real seeds and rules, two good feeds, a broken one."""
    shutil.copytree(REPO / "seeds", tmp_path / "seeds")
    shutil.copytree(REPO / "rules", tmp_path / "rules")
    (tmp_path / "config.toml").write_text(f"""
[database]
path = "data/monitor.db"

[fetch]
timeout_s = 2

[[feeds]]
name = "world"
url = "{server.url('/files/rss2.xml')}"
interval = "10m"

[[feeds]]
name = "world-mirror"
url = "{server.url('/files/rss2.xml')}?mirror=1"

[[feeds]]
name = "broken"
url = "{server.url('/_status/503')}"
""", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TELEGRAM_BOT_TOKEN", raising=False)
    return tmp_path


def stored(workdir: Path, name: str = "data/monitor.db") -> Store:
    """What the commands left in the database, read as `monitor stats` reads it."""
    return Store(workdir / name, readonly=True)


def invoke(*args: str):
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result


def test_run_once_ingests_matches_and_alerts_on_the_console(workdir):
    first = invoke("run", "--once")
    assert first.exit_code == 0, first.output
    out = first.output.replace("\n", " ")
    assert SEED_TITLE in out
    assert "Kim Jong Un meets Putin at the Vostochny cosmodrome" in out
    shown = [line for line in first.output.splitlines() if line.startswith("🔔 ")]
    assert any("kim-putin" in line and SEED_TITLE in line for line in shown), first.output
    assert len(shown) == len({line for line in shown})          # one line per matched article
    assert "feed broken: HTTP 503" in first.output
    assert " articles checked against the rules, " in out and " matches, " in out

    again = invoke("run", "--once")
    assert again.exit_code == 0
    assert "0 new articles (" in again.output and " items already known, skipped)" in again.output
    assert "🔔" not in again.output


def test_console_first_then_a_token_sends_nothing_to_a_stand_in_chat(workdir, botapi):
    """Without a token the console shows the matches; no subscriber is invented for it, so
    when a token is set later nothing goes to chat 0 (or anywhere: nobody subscribed).
    Both runs are real processes, as an operator starts them."""
    monitor = Path(sys.executable).parent / "monitor"
    env = {k: v for k, v in os.environ.items() if k != "TELEGRAM_BOT_TOKEN"}
    first = subprocess.run([str(monitor), "run", "--once"], cwd=workdir, env=env,
                           capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "🔔 [" in first.stdout
    with stored(workdir) as db:
        assert db.chat_languages() == {} and db.stats().outbox == []   # no chat, no row
    config = (workdir / "config.toml").read_text(encoding="utf-8")
    (workdir / "config.toml").write_text(
        config + f'\n[telegram]\napi_url = "{botapi.url}"\n', encoding="utf-8")
    (workdir / "seeds" / "neu.txt").write_text("Putin trifft Kim erneut\n\nPutin und Kim.",
                                                 encoding="utf-8")
    second = subprocess.run([str(monitor), "run", "--once"], cwd=workdir,
                            env={**env, "TELEGRAM_BOT_TOKEN": TOKEN}, capture_output=True,
                            text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    assert "1 new articles" in second.stdout and "🔔" not in second.stdout
    assert botapi.sent == []


def test_a_rejected_token_is_one_line_naming_the_variable(workdir, botapi, monkeypatch):
    config = (workdir / "config.toml").read_text(encoding="utf-8")
    (workdir / "config.toml").write_text(
        config + f'\n[telegram]\napi_url = "{botapi.url}"\ntoken_env = "MONITOR_TOKEN"\n',
        encoding="utf-8")
    monkeypatch.setenv("MONITOR_TOKEN", "42:not-the-right-secret")
    for command in (["run", "--once"], ["run"]):
        result = CliRunner().invoke(main, command)
        assert result.exit_code == 1, result.output
        assert result.output == ("Error: Telegram rejected the bot token in $MONITOR_TOKEN; "
                                 "check that variable\n")


def test_an_unreachable_telegram_does_not_stop_ingest(workdir, monkeypatch):
    """`run --once` ingests and matches, says that delivery failed, and keeps the rows."""
    config = (workdir / "config.toml").read_text(encoding="utf-8")
    (workdir / "config.toml").write_text(
        config + '\n[telegram]\napi_url = "http://127.0.0.1:9"\naccess = "open"\n',
        encoding="utf-8")
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", TOKEN)
    with Store(workdir / "data/monitor.db") as store:
        store.upsert_subscriber(7, "private", "x", "de")
        store.subscribe(7, "kim-putin", "instant")
    result = invoke("run", "--once")
    assert result.exit_code == 0, result.output
    assert "4 new articles" in result.output
    assert "delivery: Telegram unreachable" in result.output
    assert "stay queued" in result.output
    with stored(workdir) as db:
        assert db.pending_count() >= 1


def test_feeds_are_keyed_by_url_rename_duplicate_add_and_remove(workdir):
    """Renaming a config block renames the feed; `feeds add` of a known URL is refused with
    one line; `feeds remove` forgets a feed; nothing wedges a later ingest."""
    assert invoke("ingest").exit_code == 0
    config = (workdir / "config.toml").read_text(encoding="utf-8")
    (workdir / "config.toml").write_text(config.replace('name = "world"', 'name = "welt"'),
                                         encoding="utf-8")
    again = invoke("ingest")
    assert again.exit_code == 0, again.output
    listing = CliRunner().invoke(main, ["feeds", "list"], env={"COLUMNS": "200"}).output
    assert "welt" in listing and "│ world " not in listing
    with stored(workdir) as db:
        sources = {article.source for article in db.iter_articles()}
        url = db.feed_by_name("welt").url
    assert "world" not in sources and "welt" in sources
    known = invoke("feeds", "add", url, "--name", "nochmal")
    assert known.exit_code == 1
    assert known.output == f"Error: {url} is already a feed, named 'welt'\n"
    assert invoke("feeds", "add", "https://example.org/x.xml").exit_code == 0
    removed = invoke("feeds", "remove", "example.org")
    assert removed.exit_code == 0 and "removed" in removed.output
    assert invoke("feeds", "remove", "example.org").exit_code == 1
    still = invoke("feeds", "remove", "welt")
    assert "still in" in still.output
    assert invoke("ingest").exit_code == 0


def test_a_url_twice_in_the_config_is_an_error_naming_both_blocks(workdir):
    config = (workdir / "config.toml").read_text(encoding="utf-8")
    (workdir / "config.toml").write_text(config.replace('?mirror=1', ''), encoding="utf-8")
    result = invoke("ingest")
    assert result.exit_code == 1
    assert "feeds[1] ('world-mirror') has the same url as feeds[0] ('world')" in result.output


def test_opml_import_skips_known_urls_and_reports_invalid_entries(workdir):
    invoke("ingest")
    with stored(workdir) as db:
        known = db.feed_by_name("world").url
    (workdir / "list.opml").write_text(f"""<?xml version="1.0"?>
<opml version="2.0"><body>
<outline text="Welt" xmlUrl="{known}"/>
<outline text="Neu" xmlUrl="https://neu.example/feed"/>
<outline text="Kaputt" xmlUrl="feed://kaputt.example/"/>
<outline text="Neu" xmlUrl="https://neu2.example/feed"/>
</body></opml>""", encoding="utf-8")
    result = invoke("feeds", "import-opml", "list.opml")
    assert result.exit_code == 0, result.output
    assert "list.opml:3: skipped, already a feed named 'world'" in result.output
    assert "list.opml:5:" in result.output and "http(s)" in result.output
    assert "2 feeds imported from list.opml, 1 already known, 1 invalid" in result.output
    with stored(workdir) as db:
        assert {"Neu", "Neu (2)"} <= {feed.name for feed in db.feeds()}


def test_same_items_through_two_feeds_are_stored_once(workdir):
    invoke("ingest")
    with stored(workdir) as db:
        articles = list(db.iter_articles())
    titles = [article.title for article in articles]
    assert titles.count("Kim Jong Un meets Putin at the Vostochny cosmodrome") == 1
    assert len(titles) == 4  # the seed and the feed's three items
    urls = [article.url for article in articles]
    assert "https://news.example.com/world/kim-putin-meeting?id=42" in urls


def test_stats_shows_counts_and_feed_health(workdir):
    invoke("ingest")
    result = CliRunner().invoke(main, ["stats"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "4 articles" in result.output
    broken = next(line for line in result.output.splitlines() if "broken" in line)
    assert "failing" in broken and "HTTP 503" in broken and "503" in broken
    health = result.output[result.output.index("Feeds"):]
    world = next(line for line in health.splitlines() if "│ world " in line)
    assert "ok" in world and "200" in world


def test_unreadable_seed_is_named_and_the_others_load(workdir):
    (workdir / "seeds" / "broken.json").write_text("{not json", encoding="utf-8")
    result = invoke("ingest")
    assert result.exit_code == 0
    assert "broken.json" in result.output
    assert SEED_TITLE in result.output.replace("\n", " ")


def test_malformed_config_is_a_clear_error(workdir):
    (workdir / "config.toml").write_text("[database]\npaht = 'x'\n", encoding="utf-8")
    result = invoke("run", "--once")
    assert result.exit_code == 1
    assert "unknown key 'database.paht'" in result.output


def test_feeds_list_fits_80_columns_and_shows_intervals_as_written(workdir):
    long_url = "https://www.example-news.org/" + "very/long/path/" * 4 + "rss.xml?lang=de"
    assert invoke("feeds", "add", long_url, "--name", "lang", "--interval", "90s").exit_code == 0
    listing = CliRunner().invoke(main, ["feeds", "list"], env={"COLUMNS": "80"}).output
    lines = listing.splitlines()
    assert max(map(len, lines)) <= 80
    row = [line for line in lines if "│ lang" in line][0]
    assert "90s" in row                                # not "1m"
    folded = "".join(line.split("│")[-2].strip() for line in lines[lines.index(row):]
                     if line.startswith("│"))
    assert long_url.removeprefix("https://") in folded


def test_feed_names_that_source_queries_cannot_use_are_refused(workdir):
    refused = invoke("feeds", "add", "https://example.org/a.xml", "--name", "Deutsche Welle")
    assert refused.exit_code == 2 and "a feed name is letters, digits" in refused.output


def test_feeds_add_list_and_opml_round_trip(workdir, tmp_path):
    assert invoke("feeds", "add", "https://example.org/feed.xml", "--name", "example",
                  "--interval", "30m", "--language", "de").exit_code == 0
    listing = CliRunner().invoke(main, ["feeds", "list"], env={"COLUMNS": "200"}).output
    assert "example" in listing and "30m" in listing and "world-mirror" in listing
    opml = invoke("feeds", "export-opml").output
    assert 'xmlUrl="https://example.org/feed.xml"' in opml
    other = tmp_path / "other"
    other.mkdir()
    (other / "feeds.opml").write_text(opml, encoding="utf-8")
    (other / "config.toml").write_text("[database]\npath = 'm.db'\n", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["feeds", "import-opml", "--config", str(other / "config.toml"),
               str(other / "feeds.opml")])
    assert result.exit_code == 0, result.output
    assert "4 feeds imported" in result.output


def test_console_script_runs_as_a_real_process(workdir):
    """What `make run` does, as a separate process with its own interpreter."""
    monitor = Path(sys.executable).parent / "monitor"
    done = subprocess.run([str(monitor), "run", "--once"], cwd=workdir, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert SEED_TITLE in done.stdout.replace("\n", " ")


def test_backup_is_a_consistent_copy(workdir):
    invoke("ingest")
    assert invoke("backup", "copy.db").exit_code == 0
    with stored(workdir, "copy.db") as copy:
        assert copy.count_articles() == 4
    assert invoke("backup", "copy.db").exit_code == 1  # never overwrites


def test_summarize_command_on_an_article_and_a_file(workdir):
    invoke("ingest")
    result = invoke("summarize", "1")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[0] == SEED_TITLE
    assert any("Putin" in line and "angenommen" in line for line in lines[2:])
    assert "beigetragen" not in result.output
    from_file = invoke("summarize", "--file", str(workdir / "seeds" / "putin-kim-einladung.txt"),
                       "--sentences", "2")
    assert len([line for line in from_file.output.splitlines()[2:] if line]) == 2
    assert invoke("summarize", "999").exit_code == 1


def test_a_broken_opml_file_is_a_clear_error(workdir):
    (workdir / "broken.opml").write_text("<opml><body><outline", encoding="utf-8")
    result = invoke("feeds", "import-opml", "broken.opml")
    assert result.exit_code == 1 and "broken.opml" in result.output
    assert "Traceback" not in result.output
    bad_interval = invoke("feeds", "import-opml", "broken.opml", "--interval", "soon")
    assert bad_interval.exit_code == 1 and "--interval" in bad_interval.output


@pytest.mark.parametrize("damage", ["garbage", "truncated", "missing"])
def test_an_unusable_database_is_one_line_for_every_command(workdir, damage):
    assert invoke("ingest").exit_code == 0
    db = workdir / "data" / "monitor.db"
    for leftover in (workdir / "data").glob("monitor.db-*"):
        leftover.unlink()
    if damage == "garbage":
        db.write_bytes(b"\x00garbage" * 4096)
    elif damage == "truncated":
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 3])
    else:
        db.unlink()
    for command in (["stats"], ["search", "Putin"], ["backup", "copy.db"], ["ingest"]):
        result = CliRunner().invoke(main, command)
        if damage == "missing" and command == ["ingest"]:
            assert result.exit_code == 0         # a writing command creates the database
            continue
        assert result.exit_code == 1, (command, result.output, result.exception)
        assert result.output.startswith("Error: ") and result.output.count("\n") == 1, \
            (command, result.output)
        assert "Traceback" not in result.output


def test_invalid_bytes_in_arguments_are_a_usage_error_not_a_traceback(workdir):
    monitor = Path(sys.executable).parent / "monitor"
    for args in ([b"feeds", b"add", b"https://e.x/\xff"], [b"feeds", b"remove", b"\xfe"],
                 [b"summarize", b"--file", b"seeds/putin-kim-einladung.txt", b"--language",
                  b"d\xffe"]):
        done = subprocess.run([str(monitor), *args], cwd=workdir, capture_output=True,
                              timeout=60)
        assert done.returncode == 2, (args, done.stderr)
        assert b"not valid UTF-8 text" in done.stderr and b"Traceback" not in done.stderr


def test_a_missing_rules_folder_is_an_error_and_a_missing_seeds_folder_is_said(workdir):
    shutil.rmtree(workdir / "seeds")
    result = invoke("ingest")
    assert result.exit_code == 0
    assert "note: no seeds folder at " in result.output and "only feeds are read" in result.output
    shutil.rmtree(workdir / "rules")
    for command in (["ingest"], ["run", "--once"]):
        refused = invoke(*command)
        assert refused.exit_code == 1
        assert "rules folder not found: " in refused.output and "[sources] rules" in refused.output


def test_a_seed_page_without_text_is_said_once_in_the_monitors_words(workdir):
    """trafilatura's own "discarding data: None" and the pipeline's warning would repeat what
    the report says; a user of `monitor ingest` reads one line about the page."""
    (workdir / "seeds" / "empty.html").write_text("<html><body></body></html>", encoding="utf-8")
    monitor = Path(sys.executable).parent / "monitor"
    result = subprocess.run([str(monitor), "ingest"], cwd=workdir, capture_output=True,
                            text=True, timeout=120, env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stderr
    lines = [line for line in (result.stdout + result.stderr).splitlines() if "empty.html" in line]
    assert lines == [f"seed {workdir / 'seeds' / 'empty.html'}: no main text found in the HTML "
                     "page"]
    assert "trafilatura" not in result.stderr
