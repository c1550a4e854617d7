"""The analysts' commands, run through click against real rule files and a real archive."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.matching import Engine, RuleSet, match_batch
from monitor.matching.archive_index import INDEX_VERSION
from monitor.rules_cli import rules_group, search_command
from monitor.store import Store
from tests.hostile import HOSTILE, UNSAFE, one_line

from .support import RULES, article, seed_article

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A config, a copy of the shipped rules and an archive of four articles."""
    shutil.copytree(RULES, tmp_path / "rules")
    (tmp_path / "config.toml").write_text(
        '[database]\npath = "data/monitor.db"\n[sources]\nrules = "rules"\n', encoding="utf-8")
    with Store(tmp_path / "data" / "monitor.db") as store:
        index_as_the_pipeline_does(store, [
            seed_article(),
            article("Putin empfängt Kim Jong Un", "Das Treffen fand im Kreml statt.", "de",
                    source="tagesschau", url="https://www.tagesschau.de/kim",
                    published=NOW - timedelta(days=2)),
            article("Putin receives Kim", "Kim Jong Un arrived by train in Russia.", "en",
                    source="reuters", url="https://www.reuters.com/kim",
                    published=NOW - timedelta(days=1)),
            article("Wetter", "Sonne und Regen.", "de", source="tagesschau",
                    url="https://www.tagesschau.de/wetter", published=NOW),
        ])
    return tmp_path


def index_as_the_pipeline_does(store: Store, items) -> list:
    """Store, match (no rules) and index the articles, as `monitor ingest` leaves them."""
    store.reset_index(INDEX_VERSION)
    stored = store.add_articles(items)
    batch = match_batch(Engine(RuleSet((), {})), stored)
    store.save_matches([a.id for a in stored], batch.rows, NOW, batch.terms, batch.words)
    return stored


def run(command, workspace: Path, *args: str):
    return CliRunner().invoke(command, [*args, "--config", str(workspace / "config.toml")])


# --------------------------------------------------------------------------------- check

def test_check_passes_on_the_shipped_rules_and_warns_about_unused_aliases(workspace):
    result = run(rules_group, workspace, "check")
    assert result.exit_code == 0, result.output
    assert "ok: 6 rules, 10 entities in 2 file(s)" in result.output
    assert ("warning: entity 'putin': alias 'Путин' has not matched any of the 4 archived "
            "articles") in result.output
    assert "alias 'Wladimir Putin'" not in result.output      # the seed has it


def test_check_warns_about_negative_only_rules(workspace):
    (workspace / "rules" / "extra.toml").write_text(
        '[[rules]]\nid = "no-weather"\nquery = "NOT Wetter"\n', encoding="utf-8")
    result = run(rules_group, workspace, "check")
    assert result.exit_code == 0
    assert "extra.toml:2: warning: rule 'no-weather' has only negative terms" in result.output


def test_check_hints_at_lower_case_operators_and_words_mostly_inside_compounds(workspace):
    with Store(workspace / "data" / "monitor.db") as store:
        index_as_the_pipeline_does(store, [
            article(f"Umwelt {n}", text, "de", published=NOW) for n, text in enumerate(
                ["Der Klimawandel und der Klimaschutz"] * 4 + ["Klimaschutz jetzt"] * 2)])
    (workspace / "rules" / "extra.toml").write_text(
        '[[rules]]\nid = "lower"\nquery = "Putin and Kim"\n\n'
        '[[rules]]\nid = "klima"\nquery = "Klima OR Wetter"\n', encoding="utf-8")
    result = run(rules_group, workspace, "check")
    assert result.exit_code == 0, result.output
    assert ("extra.toml:3:16: warning: rule 'lower': 'and' is searched as a word (operators "
            "are upper case): did you mean AND?") in result.output
    assert ("extra.toml:6: warning: rule 'klima': 'Klima' stands alone in 0 articles and "
            "inside longer words in 6 (klimaschutz, klimawandel): *klima* finds those too"
            ) in result.output
    assert "Wetter" not in result.output.split("ok:")[0].split("'klima'", 1)[1]


def test_check_lists_every_error_with_file_line_column_and_caret(workspace, tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text(
        '[[rules]]\n'
        'id = "kim-putin"\n'
        'query = "(Kim OR @kim) AND Putin"\n'
        'langauges = ["de"]\n'
        '\n'
        '[[rules]]\n'
        'id = "second"\n'
        'query = "Putin NEAR/5 (Kim"\n',
        encoding="utf-8")
    result = run(rules_group, workspace, "check", str(broken))
    assert result.exit_code == 1
    lines = result.output.splitlines()
    name = str(broken)
    assert lines[0] == f"{name}:4:1: rule 'kim-putin': unknown key 'langauges' (known: " \
        "delivery, description, enabled, examples, id, languages, name, query, sources, spike)"
    assert lines[1:3] == ['    langauges = ["de"]', "    ^"]
    assert lines[3] == f"{name}:3:18: rule 'kim-putin': unknown entity '@kim' " \
        "(did you mean @kim-jong-un?)"
    assert lines[4:6] == ['    query = "(Kim OR @kim) AND Putin"', " " * 21 + "^"]
    assert lines[6] == f"{name}:2:1: rule 'kim-putin' is defined twice: in " \
        f"{workspace}/rules/korea-russia.toml:5 and here"
    assert lines[9] == f"{name}:8:27: rule 'second': expected ')' to close the '(' at column 14"
    assert lines[10:12] == ['    query = "Putin NEAR/5 (Kim"', " " * 30 + "^"]
    assert lines[12:] == ["4 error(s) in 1 file(s)"]


# ---------------------------------------------------------------------------------- test

def test_rules_test_passes_on_the_shipped_rules(workspace):
    result = run(rules_group, workspace, "test")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "23 examples in 6 rules: 23 passed, 0 failed"


def test_rules_test_prints_each_failure_with_its_explanation(workspace):
    (workspace / "rules" / "extra.toml").write_text(
        '[[rules]]\nid = "trump"\nquery = "Trump"\n\n'
        '  [[rules.examples]]\n  text = "Trump trifft Putin"\n  language = "de"\n'
        '  match = false\n', encoding="utf-8")
    result = run(rules_group, workspace, "test", "trump")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        (f"FAIL {workspace}/rules/extra.toml:5: rule 'trump' example 1: expected no match, "
         "it matched"),
        "    MATCH",
        '    ✓ Trump  [word "trump"]  body @ 0 (Trump)',
        "    title: ",
        "    body: **Trump** trifft Putin",
        "1 examples in 1 rules: 0 passed, 1 failed",
    ]


def test_rules_test_of_an_unknown_rule(workspace):
    result = run(rules_group, workspace, "test", "nope")
    assert result.exit_code == 1 and "no rule 'nope'" in result.output


# ------------------------------------------------------------------------------- explain

def test_explain_a_rule_on_an_archived_article(workspace):
    result = run(rules_group, workspace, "explain", "kim-putin", "--article", "1")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("rule 'kim-putin' (version ")
    assert lines[1] == "article 1: [de] putin-kim-einladung.txt"
    assert lines[2] == "MATCH"
    assert lines[3] == "✓ (Kim OR @kim-jong-un) AND @putin  [AND]"
    assert '    ✓ Kim  [word "kim"]  title @ 4 (Kims); body @ 11, 51,' in result.output
    assert "title: **Putin** hat laut Staatsmedien **Kims** Einladung nach Nordkorea " \
        "„angenommen“" in lines
    assert "Präsident **Wladimir** **Putin** eine Einladung von **Kim** **Jong** **Un**" in \
        result.output


def test_explain_a_query_that_does_not_match(workspace):
    result = run(rules_group, workspace, "explain", "--query", "Putin NEAR/1 Einladung",
                 "--article", "1")
    assert result.exit_code == 0
    assert result.output.splitlines()[2:5] == [
        "NO MATCH", "✗ Putin NEAR/1 Einladung  [NEAR]",
        ("  ✓ Putin  [word \"putin\"]  title @ 0 (Putin); body @ 7, 55, 76, 114, 179, 240, "
         "247, 321 (Putin, PUTIN, Putins)"),
    ]


def test_explain_a_file_and_the_rules_language_limit(workspace, tmp_path):
    path = tmp_path / "draft.txt"
    path.write_text("Kim rencontre Poutine\nKim Jong Un et Putin à Vostochny.", encoding="utf-8")
    result = run(rules_group, workspace, "explain", "kim-putin", "--file", str(path),
                 "--language", "fr")
    assert result.exit_code == 0
    assert "NO MATCH" in result.output
    assert "the rule is limited to languages de, en, ru; the article is [fr] from draft.txt" \
        in result.output


def test_explain_usage_errors(workspace):
    assert run(rules_group, workspace, "explain", "--article", "1").exit_code == 2
    assert run(rules_group, workspace, "explain", "kim-putin").exit_code == 2
    missing = run(rules_group, workspace, "explain", "kim-putin", "--article", "99")
    assert missing.exit_code == 1 and "no article 99" in missing.output
    bad = run(rules_group, workspace, "explain", "--query", "Kim AND", "--article", "1")
    assert bad.exit_code == 1
    assert bad.output.splitlines() == [
        "the query ends where a term is expected (column 8)", "Kim AND", "       ^"]


# -------------------------------------------------------------------------------- search

def test_search_newest_first(workspace):
    result = run(search_command, workspace, "Kim AND Putin")
    assert result.exit_code == 0, result.output
    titles = [line for line in result.output.splitlines() if line.startswith("  2")]
    assert ["Putin receives Kim" in titles[0], "Putin empfängt Kim" in titles[1],
            "Staatsmedien" in titles[2]] == [True, True, True]
    assert result.output.splitlines()[-1] == "3 matching article(s)"


def test_search_says_when_it_stopped_at_the_limit_and_when_it_had_to_scan(workspace):
    limited = run(search_command, workspace, "Kim", "--limit", "1")
    assert limited.stdout.splitlines()[-1] == (
        "the newest 1 matching article(s); more may match (--limit 0 shows all)")
    assert "note:" not in limited.output
    scanned = run(search_command, workspace, "NOT Wetter")
    assert scanned.stdout.splitlines()[-1] == "3 matching article(s)"
    assert "no word the archive index can look up" in scanned.stderr
    with Store(workspace / "data" / "monitor.db") as store:
        store.reset_index(INDEX_VERSION + 1)          # as after an analyser upgrade
    unbuilt = run(search_command, workspace, "Kim AND Putin")
    assert unbuilt.stdout.splitlines()[-1] == "3 matching article(s)"
    assert "the archive index is not built yet" in unbuilt.stderr


def test_search_json_limit_and_since(workspace):
    result = run(search_command, workspace, "@kim-jong-un", "--json", "--limit", "1")
    [found] = json.loads(result.output)
    assert set(found) >= {"id", "url", "title", "published", "language", "source", "matched"}
    assert found["title"] == "Putin receives Kim" and found["language"] == "en"
    assert found["matched"] == ["jong", "kim", "un"]
    assert datetime.fromisoformat(found["published"]) == NOW - timedelta(days=1)

    everything = json.loads(run(search_command, workspace, "Kim", "--json", "--limit", "0")
                            .output)
    assert len(everything) == 3
    recent = json.loads(run(search_command, workspace, "Kim", "--json", "--since", "30d").output)
    assert [f["source"] for f in recent] == ["reuters", "tagesschau"]
    by_source = json.loads(run(search_command, workspace, "source:tagesschau.de", "--json")
                           .output)
    assert [f["title"] for f in by_source] == ["Wetter", "Putin empfängt Kim Jong Un"]


def test_search_query_errors(workspace):
    result = run(search_command, workspace, "(Kim")
    assert result.exit_code == 1
    assert "expected ')' to close the '(' at column 1 (column 5)" in result.output


def test_search_hints_at_a_lower_case_operator_before_its_results(workspace):
    result = CliRunner().invoke(search_command, ["Putin and Kim", "--config",
                                                 str(workspace / "config.toml")])
    assert result.exit_code == 0
    assert result.stderr.startswith("hint: 'and' is searched as a word (operators are upper "
                                    "case): did you mean AND?\n")
    assert "hint:" not in result.stdout


# ------------------------------------------------------------------------------ backtest

def test_backtest_shows_hits_per_day_stories_and_samples(workspace):
    result = run(rules_group, workspace, "backtest", "kim-putin")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "rule 'kim-putin': 3 of 4 articles in the whole archive, " \
        "3 distinct stories"
    assert lines[1] == "hits per month:"         # September 2023 … now: too many days
    assert any(line.endswith(("█ 1", "█ 2")) for line in lines)
    assert "sample titles:" in lines
    recent = run(rules_group, workspace, "backtest", "kim-putin", "--since", "30d")
    lines = recent.output.splitlines()
    assert lines[0] == "rule 'kim-putin': 2 of 3 articles in the last 30d, 2 distinct stories"
    assert lines[1] == "hits per day:"
    day = (NOW - timedelta(days=2)).date().isoformat()
    assert lines[2] == f"  {day}  {'█' * 40} 1"


# -------------------------------------------------------------------------------- spikes

@pytest.fixture
def volcano(tmp_path: Path) -> tuple[Path, datetime]:
    """An archive of twelve days with a Vulkan report every two hours (at :50) and, three
    days ago, eight in twenty-five minutes; a rule `vulkan` with `min = 4`. Returns the
    workspace and the burst's first minute (an odd hour, ten minutes after a usual report)."""
    shutil.copytree(RULES, tmp_path / "rules")
    (tmp_path / "rules" / "vulkan.toml").write_text(
        '[[rules]]\nid = "vulkan"\nquery = "Vulkan"\n\n  [rules.spike]\n  min = 4\n',
        encoding="utf-8")
    (tmp_path / "config.toml").write_text(
        '[database]\npath = "monitor.db"\n[sources]\nrules = "rules"\n', encoding="utf-8")
    burst = (NOW - timedelta(days=3)).replace(minute=0, second=0)
    burst -= timedelta(hours=burst.hour % 2 == 0)
    usual = [burst - timedelta(minutes=10) + timedelta(hours=2 * k) for k in range(-144, 24)]
    times = usual + [burst + timedelta(minutes=5 * n) for n in range(8)]
    with Store(tmp_path / "monitor.db") as store:
        index_as_the_pipeline_does(store, [
            article(f"Vulkan {n}", f"Bericht {n} über den Vulkan.", published=when,
                    url=f"https://example.org/{n}") for n, when in enumerate(sorted(times))])
    return tmp_path, burst


def test_spikes_replays_the_detector_over_the_archive(volcano):
    workspace, burst = volcano
    result = run(rules_group, workspace, "spikes", "vulkan")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    first, last = burst - timedelta(days=12, minutes=10), burst + timedelta(hours=45, minutes=50)
    assert lines[:3] == [
        f"rule 'vulkan': 176 matching articles in the archive ({first:%Y-%m-%d %H:%M} – "
        f"{last:%Y-%m-%d %H:%M} UTC)",
        "a spike: at least 4 in an hour and more than the mean + 3·σ of that hour on the 14 "
        "days before (with at least 7 days of history); then quiet for 6h",
        "matches per day (⚡ a spike alert):"]
    marked = [line for line in lines if line.endswith("⚡")]
    assert [line.split()[0] for line in marked] == [burst.date().isoformat()]
    # It fires at the fourth report of the burst: five in the hour against one, every day.
    assert lines[-2:] == [
        "1 spike alert(s) would have fired:",
        f"  {burst + timedelta(minutes=15):%Y-%m-%d %H:%M} UTC  5 in the hour before (usual "
        "1.0, threshold 4.0, 12 days)"]


def test_spikes_since_reads_the_baseline_before_it_and_says_when_none_fired(volcano):
    workspace, _ = volcano
    result = run(rules_group, workspace, "spikes", "vulkan", "--since", "2d")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "no spike alert would have fired"
    with Store(workspace / "monitor.db") as store:
        newest = store.archive_span()[1]
    assert run(rules_group, workspace, "spikes", "vulkan", "--since", "1d").output == (
        f"rule 'vulkan': the archive has nothing in the last 1d (its newest article is from "
        f"{newest:%Y-%m-%d %H:%M} UTC)\n")
    missing = run(rules_group, workspace, "spikes", "volcano")
    assert missing.exit_code == 1 and "no rule 'volcano'" in missing.output


# ----------------------------------------------------------- hostile text, invalid input

HOSTILE_SGR = re.compile(r"\x1b\[1m\x1b\[7m|\x1b\[0m")    # the highlight on a terminal


@pytest.fixture
def hostile(workspace: Path) -> tuple[Path, list]:
    """The workspace with one archived article per storable hostile string as its title,
    source and URL (and in its body), each matching `Kim`; a rule `kim` for backtests."""
    storable = [text for text in HOSTILE if not re.search(r"[\ud800-\udfff]", text)]
    with Store(workspace / "data" / "monitor.db") as store:
        added = store.add_articles([
            article(f"Kim {text}", f"Kim trifft Putin. {text} Ende {n}.", "de", source=text,
                    url=text, published=NOW - timedelta(hours=n + 1))
            for n, text in enumerate(storable)])
    assert len(added) == len(storable)
    (workspace / "rules" / "kim.toml").write_text(
        '[[rules]]\nid = "kim"\nquery = "Kim"\n', encoding="utf-8")
    return workspace, added


def run_color(command, workspace: Path, *args: str):
    """As on a terminal: click strips CSI sequences from output that is not one, a
    terminal does not (nor OSC, C1, carriage returns or bidi overrides on either)."""
    return CliRunner().invoke(command, [*args, "--config", str(workspace / "config.toml")],
                              color=True)


def test_search_prints_hostile_titles_sources_and_urls_as_one_safe_line_each(hostile):
    workspace, added = hostile
    result = run_color(search_command, workspace, "Kim", "--limit", "0")
    assert result.exit_code == 0, result.output
    assert not UNSAFE.search(result.output)
    lines = result.output.splitlines()
    assert lines[-1] == f"{len(added) + 3} matching article(s)"
    # no title forged a line: three per article (two for the seed, which has no url)
    assert len(lines) == 3 * (len(added) + 3) - 1 + 1
    for found in added:
        assert (f"[de] {one_line(found.title)}  ({one_line(found.source)}, #{found.id})"
                in result.output)
        assert f"      {one_line(found.url)}\n" in result.output


def test_search_json_is_lossless_and_terminal_safe(hostile):
    workspace, added = hostile
    result = run_color(search_command, workspace, "Kim", "--limit", "0", "--json")
    assert result.exit_code == 0
    assert not UNSAFE.search(result.output)
    by_id = {item["id"]: item for item in json.loads(result.output)}
    for found in added:
        assert (by_id[found.id]["title"], by_id[found.id]["source"], by_id[found.id]["url"]) \
            == (found.title, found.source, found.url)


@pytest.mark.parametrize("terminal", [False, True], ids=["pipe", "terminal"])
def test_explain_prints_hostile_articles_safely(hostile, monkeypatch, terminal):
    workspace, added = hostile
    monkeypatch.setattr("monitor.rules_cli._stdout_is_terminal", lambda: terminal)
    for found in added:
        result = run_color(rules_group, workspace, "explain", "kim", "--article",
                           str(found.id))
        assert result.exit_code == 0, result.output
        shown = HOSTILE_SGR.sub("", result.output)
        assert not UNSAFE.search(shown), found.title[:40]
        lines = result.output.splitlines()
        assert lines[1] == f"article {found.id}: [de] {one_line(found.source)}"
        highlight = "\x1b[1m\x1b[7mKim\x1b[0m" if terminal else "**Kim**"
        assert lines[4].startswith(f"title: {highlight} ")
        assert lines[5].startswith(f"body: {highlight} trifft Putin.")


def test_backtest_samples_hostile_titles_safely(hostile):
    workspace, added = hostile
    result = run_color(rules_group, workspace, "backtest", "kim")
    assert result.exit_code == 0, result.output
    assert not UNSAFE.search(result.output)
    samples = result.output.split("sample titles:\n")[1].splitlines()
    assert samples and all(line.startswith("  2") for line in samples)


def test_query_and_rule_file_errors_with_control_characters_are_printed_safely(workspace):
    bad = run_color(search_command, workspace, "Kim \x1b[2J\u202e AND")
    assert bad.exit_code == 1
    assert not UNSAFE.search(bad.output)
    # one space per control character: the caret still points under the end
    assert bad.output.splitlines()[1:] == ["Kim  [2J  AND", " " * 13 + "^"]
    (workspace / "rules" / "extra.toml").write_text(
        '[[rules]]\nid = "x"\nquery = "Kim \x1b]0;pwned\x07 AND"\n', encoding="utf-8")
    check = run_color(rules_group, workspace, "check")
    assert check.exit_code == 1
    assert not UNSAFE.search(check.output) and "]0;pwned " in check.output


@pytest.mark.parametrize(("args", "message"), [
    (["search", "\udcff"], "Invalid value for 'QUERY': not valid UTF-8 text: byte 0xFF at "
                           "character 1"),
    (["search", "Kim\udce4x"], "Invalid value for 'QUERY': not valid UTF-8 text: byte 0xE4 "
                               "at character 4"),
    (["search", "\ud800"], "Invalid value for 'QUERY': not valid UTF-8 text: lone surrogate "
                           "U+D800 at character 1"),
    (["search", "Kim", "--since", "3\udcffd"], "Invalid value for '--since': not valid UTF-8 "
                                                "text: byte 0xFF at character 2"),
    (["rules", "explain", "--query", "Kim \udcff", "--article", "1"],
     "Invalid value for '--query': not valid UTF-8 text: byte 0xFF at character 5"),
    (["rules", "explain", "\udcff", "--article", "1"],
     "Invalid value for '[RULE_ID]': not valid UTF-8 text: byte 0xFF at character 1"),
    (["rules", "explain", "kim-putin", "--article", "1", "--language", "d\udcff"],
     "Invalid value for '--language': not valid UTF-8 text: byte 0xFF at character 2"),
    (["rules", "test", "kim-putin", "\udcff"],
     "Invalid value for '[RULE_IDS]...': not valid UTF-8 text: byte 0xFF at character 1"),
    (["rules", "backtest", "\udcff"],
     "Invalid value for 'RULE_ID': not valid UTF-8 text: byte 0xFF at character 1"),
    (["rules", "backtest", "kim-putin", "--since", "\udcff"],
     "Invalid value for '--since': not valid UTF-8 text: byte 0xFF at character 1"),
], ids=lambda value: " ".join(value) if isinstance(value, list) else "")
def test_invalid_utf8_arguments_are_usage_errors(workspace, args, message):
    from monitor.cli import main
    result = CliRunner().invoke(main, [*args, "--config", str(workspace / "config.toml")])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)       # not a UnicodeEncodeError
    assert message in result.output
    assert "Traceback" not in result.output


def test_an_explained_file_must_be_utf8(workspace, tmp_path):
    path = tmp_path / "draft.txt"
    path.write_bytes(b"Kim\xff Putin\nKim Jong Un und Putin.")
    result = run(rules_group, workspace, "explain", "kim-putin", "--file", str(path))
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert (f"Invalid value for '--file': {path}: not valid UTF-8 text: byte 0xFF at offset 3"
            in result.output)
    path.write_bytes("\ufeffKim und Putin\nKim Jong Un und Putin.".encode())
    result = run(rules_group, workspace, "explain", "kim-putin", "--file", str(path))
    assert result.exit_code == 0 and "title: **Kim** und **Putin**" in result.output


def test_an_explained_file_with_an_undecodable_name(workspace, tmp_path):
    path = Path(os.fsdecode(bytes(tmp_path) + b"/\xff.txt"))
    path.write_text("Kim und Putin\nKim Jong Un und Putin.", encoding="utf-8")
    result = run(rules_group, workspace, "explain", "kim-putin", "--file", str(path))
    assert result.exit_code == 0, result.output
    assert "article " in result.output and "\ufffd.txt: [de] \ufffd.txt" in result.output


@pytest.mark.parametrize("locale", ["C.UTF-8", "C"])
def test_monitor_search_with_an_invalid_byte_in_a_real_process(workspace, locale):
    """`monitor search $'\\xff'` as a shell runs it: the byte reaches Python as U+DCFF."""
    monitor = Path(sys.executable).with_name("monitor")
    env = {**os.environ, "LC_ALL": locale, "LANG": locale}
    for args, hint in (([b"search", b"\xff"], "'QUERY'"),
                       ([b"rules", b"explain", b"--query", b"Kim\xff", b"--article", b"1"],
                        "'--query'")):
        done = subprocess.run([monitor, *args, b"--config", bytes(workspace / "config.toml")],
                              capture_output=True, env=env, timeout=60)
        stderr = done.stderr.decode("utf-8", "replace")
        assert done.returncode == 2, stderr
        assert f"Invalid value for {hint}: not valid UTF-8 text: byte 0xFF" in stderr
        assert "Traceback" not in stderr and done.stdout == b""
