"""The analysts' commands, run through click against real rule files and a real archive."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.rules_cli import rules_group, search_command
from monitor.store import Store

from .support import RULES, article, seed_article

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A config, a copy of the shipped rules and an archive of four articles."""
    shutil.copytree(RULES, tmp_path / "rules")
    (tmp_path / "config.toml").write_text(
        '[database]\npath = "data/monitor.db"\n[sources]\nrules = "rules"\n', encoding="utf-8")
    with Store(tmp_path / "data" / "monitor.db") as store:
        store.add_articles([
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
        "delivery, description, enabled, examples, id, languages, name, query, sources)"
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
