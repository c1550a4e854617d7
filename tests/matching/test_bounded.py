"""Bounded work, whatever the query and the article (issue #14): the exact inputs that took
seconds, gigabytes or the service down, now done in work that the tests count (the engine's
verification steps and its wildcard lookups), never in wall-clock time.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.matching import (
    Budget,
    BudgetExceeded,
    Document,
    Engine,
    RuleSet,
    make_rule,
    match_batch,
)
from monitor.matching.evaluate import explain, rule_matches
from monitor.matching.query import MAX_WILDCARD_WORD
from monitor.matching.verify import VERIFY_BUDGET, WILDCARD_BUDGET
from monitor.rules_cli import rules_group, search_command
from monitor.store import Store

from .support import ENTITIES, RULES, article

CHAIN_4 = "die NEAR/1000 der NEAR/1000 und NEAR/1000 das"
CHAIN_5 = "die NEAR/1000 der NEAR/1000 und NEAR/1000 das NEAR/1000 ein"


def ruleset(**queries: str) -> RuleSet:
    return RuleSet(tuple(make_rule(rule_id, query, ENTITIES)
                         for rule_id, query in queries.items()), ENTITIES)


def repeated(words: str, size: int) -> str:
    """`words` repeated to `size` characters (32 kB: the real German article's length)."""
    text = (words + " ") * (size // (len(words) + 1) + 1)
    return text[:text.rfind(" ", 0, size)]


# ----------------------------------------------------------------------- NEAR chains

def test_a_chain_of_four_nears_over_a_long_article_is_linear_work():
    """Was 27 s and 2.5 GB on one 32 kB article: each NEAR multiplied the pairs."""
    text = repeated("die der und das", 32_000)
    positions = len(text.split())                     # 8,000 words, 2,000 of each
    item = article("Bericht", text, article_id=7)
    engine = Engine(ruleset(chain=CHAIN_4))
    report = engine.match_report(item)
    assert [m.rule_id for m in report.matches] == ["chain"] and report.exceeded == []
    work = engine.debug().verification_work(item)["chain"]
    assert 0 < work <= 4 * positions                  # each word's positions, a few times
    assert rule_matches(engine.ruleset.rules[0], Document.from_article(item))


def test_a_chain_of_five_nears_is_linear_work_too():
    """Was a MemoryError, or an ingest wedged for good."""
    text = repeated("die der und das ein", 32_000)
    item = article("", text, article_id=8)
    engine = Engine(ruleset(chain=CHAIN_5))
    assert [m.rule_id for m in engine.match(item)] == ["chain"]
    assert engine.debug().verification_work(item)["chain"] <= 4 * len(text.split())
    assert rule_matches(engine.ruleset.rules[0], Document.from_article(item))


def test_short_distances_keep_a_span_per_position_and_stay_linear():
    """NEAR/1 leaves one span per position at every level of a chain (NEAR/1000 collapses
    them): the most spans a chain can have, still linear."""
    text = repeated("die der und das", 32_000)
    item = article("", text)
    engine = Engine(ruleset(chain=" NEAR/1 ".join(["die", "der", "und", "das"] * 2)))
    assert engine.match(item)
    assert engine.debug().verification_work(item)["chain"] <= 8 * 3 * len(text.split())


def test_a_nested_chain_of_phrases_and_groups_is_bounded():
    text = repeated("die der und das", 32_000)
    item = article("", text)
    query = '("die der" NEAR/3 (und OR das)) NEAR/1000 ("und das" NEAR/2 (die NEAR/1 der))'
    engine = Engine(ruleset(nested=query))
    assert engine.match(item)
    assert engine.debug().verification_work(item)["nested"] <= 8 * 3 * len(text.split())


def test_a_rule_over_budget_does_not_match_is_reported_and_the_article_goes_on():
    item = article("Putin", repeated("die der und das", 32_000), article_id=7)
    engine = Engine(ruleset(chain=CHAIN_4, putin="Putin", phrase='"die der"'),
                    budget=Budget(verify=1_000))
    report = engine.match_report(item)
    assert [m.rule_id for m in report.matches] == ["putin"]
    [exceeded] = [e for e in report.exceeded if e.rule_id == "chain"]
    assert exceeded[:3] == ("chain", 7, "verify") and exceeded.limit == 1_000
    assert exceeded.work > 1_000
    assert "phrases and NEARs needed more than 1,000 steps" in exceeded.message
    # the phrase's words have 4,000 positions: over budget too, on its own
    assert [e.rule_id for e in report.exceeded] == ["chain", "phrase"]
    assert engine.match(item) == report.matches          # same again, cached positions or not
    assert engine.match_report(item).exceeded == report.exceeded


def test_a_negated_near_over_budget_does_not_match_either():
    """Running out is not 'absent': NOT (chain) does not turn true."""
    item = article("", repeated("die der und das", 32_000))
    engine = Engine(ruleset(negated=f"Bericht OR NOT ({CHAIN_4})"), budget=Budget(verify=100))
    report = engine.match_report(item)
    assert report.matches == [] and [e.rule_id for e in report.exceeded] == ["negated"]


def test_match_batch_gives_rows_and_what_ran_out():
    items = [article("", repeated("die der und das", 8_000), article_id=1),
             article("Putin", "kurz", article_id=2)]
    engine = Engine(ruleset(chain=CHAIN_4, putin="Putin"), budget=Budget(verify=500))
    batch = match_batch(engine, items)
    assert [(row.article_id, row.rule_id) for row in batch.rows] == [(2, "putin")]
    assert [(e.rule_id, e.article_id, e.reason) for e in batch.exceeded] == [
        ("chain", 1, "verify")]


def test_the_reference_evaluator_explains_a_long_chain_too():
    """`rules explain` uses it: polynomial as well (it has no budget: it says what the query
    means)."""
    text = repeated("die der und das", 32_000)
    rule = make_rule("q", CHAIN_5.replace("ein", "die"), ENTITIES)
    assert explain(rule.query.root, Document.from_article(article("", text))).matched


def test_phrase_hits_are_linear_in_the_occurrences():
    """Hits of a phrase that occurs thousands of times: each occurrence asks which word is
    at each of its positions (once quadratic); its first 50 positions are reported."""
    text = repeated("die der und das", 32_000)
    [match] = Engine(ruleset(p='"die der"')).match(article("", text))
    [hit] = match.hits
    assert hit.positions[:4] == (0, 1, 4, 5) and len(hit.positions) == 50
    assert hit.words == ("die", "der")


# ----------------------------------------------------------------------------- wildcards

class Lookups:
    count = 0


class CountingDict(dict):
    """One of the engine's dictionaries for *mid* wildcards, counting its lookups."""

    def __init__(self, table: dict, lookups: Lookups):
        super().__init__(table)
        self.lookups = lookups

    def get(self, key, default=None):
        self.lookups.count += 1
        return super().get(key, default)


def infix_rules(count: int = 55) -> dict[str, str]:
    """`count` *mid* wildcards of 55 different lengths (3 to 57 characters), 20 a query."""
    letters = "abcdefghijklmnopqrstuvwxyz" * 3
    parts = [f"*{letters[n % 26:n % 26 + 3 + n]}*" for n in range(count)]
    return {f"w{n}": " OR ".join(parts[n:n + 20]) for n in range(0, count, 20)}


def counting(engine: Engine) -> Lookups:
    """Counts the lookups *mid* wildcards make: their anchors and their fixed parts."""
    compiled, lookups = engine.index, Lookups()
    compiled.infixes = CountingDict(compiled.infixes, lookups)
    compiled.infix_anchors = CountingDict(compiled.infix_anchors, lookups)
    return lookups


def long_tokens(length: int, size: int, seed: int = 1) -> str:
    rng = random.Random(seed)
    alphabet = "abcdefghijklmnopqrstuvwxyz"
    tokens = []
    while sum(map(len, tokens)) + len(tokens) < size:
        tokens.append("abc" + "".join(rng.choice(alphabet) for _ in range(length - 3)))
    return " ".join(tokens)


def test_many_infix_wildcards_never_look_into_very_long_tokens():
    """Was 24-27 s per article: 55 *mid* wildcards against 1 MB of long tokens."""
    engine = Engine(ruleset(**infix_rules(), putin="Putin"))
    lookups = counting(engine)
    item = article("Putin", long_tokens(1_000, 1_000_000), article_id=3)
    report = engine.match_report(item)
    assert [m.rule_id for m in report.matches] == ["putin"]   # every token starts with "abc"
    assert report.exceeded == []
    # the title's "Putin" only: three starts ("put", "uti", "tin"), none begins a fixed part;
    # at most 3 + 6 (*abc*, *bcde* and *cdefg* could be in a word of 5 letters)
    assert lookups.count == 3
    assert engine.debug().wildcard_work(item) == 3 + 6


def test_infix_wildcards_still_match_words_up_to_the_cap():
    engine = Engine(ruleset(**infix_rules()))
    word = "x" * (MAX_WILDCARD_WORD - 3) + "abc"
    assert [m.rule_id for m in engine.match(article("", word))] == ["w0"]
    assert engine.match(article("", word + "y")) == []
    assert not rule_matches(engine.ruleset.rules[0], Document.from_article(article("", word + "y")))
    suffix = Engine(ruleset(s="*korea"))
    assert suffix.match(article("", "x" * 60 + "korea")) == []     # 65 characters
    assert suffix.match(article("", "x" * 59 + "korea"))


def test_an_article_over_the_wildcard_budget_skips_infix_rules_and_reports_them():
    """1 MB of distinct 64-character tokens (the longest that wildcards look into): the *mid*
    lookups it would cost are over the budget, so none are made; the rules with *mid*
    wildcards do not match it and are reported, the others match as always."""
    engine = Engine(ruleset(**infix_rules(), putin="Putin", prefix="abc*"))
    lookups = counting(engine)
    item = article("Putin", long_tokens(MAX_WILDCARD_WORD, 1_000_000), article_id=4)
    report = engine.match_report(item)
    assert [m.rule_id for m in report.matches] == ["putin", "prefix"]
    assert [(e.rule_id, e.article_id, e.reason) for e in report.exceeded] == [
        ("w0", 4, "wildcards"), ("w20", 4, "wildcards"), ("w40", 4, "wildcards")]
    work = report.exceeded[0].work
    assert work > WILDCARD_BUDGET and report.exceeded[0].limit == WILDCARD_BUDGET
    assert work == engine.debug().wildcard_work(item)
    assert lookups.count == 0
    assert "*mid* wildcards would have looked into too many words" in report.exceeded[0].message
    assert engine.match_report(item) == report             # the same answer every time


def test_wildcard_lookups_within_the_budget_are_what_the_article_costs():
    engine = Engine(ruleset(**infix_rules()))
    lookups = counting(engine)
    item = article("", long_tokens(MAX_WILDCARD_WORD, 5_000))
    report = engine.match_report(item)
    assert report.exceeded == [] and len(report.matches) == 1   # "abc…" matches *abc*
    # one lookup per start, one more where a fixed part begins ("abc" at 0): far below the
    # bound the budget counts with, which every start beginning a fixed part would reach
    words = len(item.text.split())
    assert 0.9 * words * (MAX_WILDCARD_WORD - 2) <= lookups.count
    assert lookups.count <= words * (MAX_WILDCARD_WORD + 2)
    estimate = engine.debug().wildcard_work(item)
    assert lookups.count <= estimate <= WILDCARD_BUDGET


# -------------------------------------------------------------------------- at the door

@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    shutil.copytree(RULES, tmp_path / "rules")
    (tmp_path / "config.toml").write_text(
        '[database]\npath = "data/monitor.db"\n[sources]\nrules = "rules"\n', encoding="utf-8")
    with Store(tmp_path / "data" / "monitor.db") as store:
        store.add_articles([article("Putin trifft Kim", "Putin und Kim.")])
    return tmp_path


def run(command, workspace: Path, *args: str):
    return CliRunner().invoke(command, [*args, "--config", str(workspace / "config.toml")])


def test_search_with_a_unicode_digit_is_a_syntax_error_with_a_caret(workspace):
    result = run(search_command, workspace, "Putin NEAR/² Kim")
    assert result.exit_code != 0 and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "VisitError" not in result.output
    assert "NEAR/n needs a distance n from 1 to 1000" in result.output
    assert "Putin NEAR/² Kim\n      ^" in result.output


def test_rules_check_reports_a_unicode_digit_with_file_line_and_column(workspace):
    (workspace / "rules" / "digit.toml").write_text(
        '[[rules]]\nid = "digit"\nquery = "Putin NEAR/² Kim"\n', encoding="utf-8")
    result = run(rules_group, workspace, "check")
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert "digit.toml:3:16: rule 'digit': NEAR/n needs a distance n from 1 to 1000" \
        in result.output


def test_a_budget_report_is_a_plain_record():
    record = BudgetExceeded("watch-3", 12, "verify", 200_001, 200_000)
    assert record._asdict() == {"rule_id": "watch-3", "article_id": 12, "reason": "verify",
                                "work": 200_001, "limit": 200_000}
    assert Budget() == Budget(VERIFY_BUDGET, WILDCARD_BUDGET)


# ------------------------------------------------------------------- the analysts' tools

def test_search_backtest_and_explain_say_where_the_budget_ran_out(tmp_path):
    from monitor.matching.tools import backtest, explain_article, search_archive

    huge = article("Groß", repeated("die der", 900_000))        # "die der" 225,000 times
    small = article("Klein", "die der Bericht")
    with Store(tmp_path / "monitor.db") as store:
        stored = store.add_articles([huge, small])
        rule = make_rule("phrase", '"die der"', ENTITIES)
        search = search_archive(store, rule, ENTITIES, limit=0)
        exceeded: list[BudgetExceeded] = search.exceeded
        assert [f.article.title for f in search.found] == ["Klein"] and search.complete
        assert [(e.rule_id, e.article_id, e.reason) for e in exceeded] == [
            ("phrase", stored[0].id, "verify")]
        assert backtest(store, rule, ENTITIES).exceeded == exceeded
    verdict = explain_article(rule, stored[0])
    assert verdict.matched                     # what the query means, without a budget …
    assert verdict.exceeded == exceeded[0]     # … and that the engine gave up on it
    assert explain_article(rule, stored[1]).exceeded is None
