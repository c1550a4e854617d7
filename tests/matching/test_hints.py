"""Hints where queries are written: lower-case operators, words mostly inside compounds."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.matching import load_rules, make_rule
from monitor.matching.archive_index import INDEX_VERSION
from monitor.matching.hints import operator_hints
from monitor.matching.tools import compound_hints
from monitor.store import Store

from .support import article
from .test_archive_index import store_and_index


@pytest.mark.parametrize(("query", "expected"), [
    ("Putin and Kim", [("and", 7, "AND")]),
    ("Klima or Wetter", [("or", 7, "OR")]),
    ("Putin Not Trump", [("Not", 7, "NOT")]),
    ("Putin near/3 Kim", [("near/3", 7, "NEAR/3")]),
    ("(Kim) and (Putin)", [("and", 7, "AND")]),
    ("Putin AND Kim", []),                 # the operator itself
    ('"Kim and Putin"', []),               # inside a phrase it is a word, as meant
    ("and Putin", []),                     # not between two terms
    ("Putin and", []),
    ("Andere AND Putin", []),
    ("Putin (", []),                       # does not lex: the syntax error says more
])
def test_lower_case_operators_between_terms_get_a_hint(query, expected):
    assert [(h.word, h.column, h.fix) for h in operator_hints(query)] == expected


def test_the_hint_says_what_happens_and_the_fix():
    [hint] = operator_hints("Putin and Kim")
    assert hint.message == ("'and' is searched as a word (operators are upper case): "
                            "did you mean AND?")


def test_rule_files_carry_the_hints_as_warnings_at_file_line_and_column(tmp_path: Path):
    (tmp_path / "r.toml").write_text(
        '[[rules]]\nid = "kim-putin"\nquery = "Putin and Kim"\n\n'
        '[[rules]]\nid = "fine"\nquery = "Putin AND Kim"\n', encoding="utf-8")
    ruleset = load_rules(tmp_path)
    assert len(ruleset) == 2                     # a warning, not an error
    [warning] = ruleset.warnings
    assert (warning.line, warning.column) == (3, 16)
    assert str(warning).startswith(
        f"{tmp_path / 'r.toml'}:3:16: warning: rule 'kim-putin': 'and' is searched as a word")
    assert str(warning).endswith('query = "Putin and Kim"\n                   ^')


@pytest.fixture
def compounds(tmp_path: Path) -> Store:
    store = Store(tmp_path / "a.db")
    store.reset_index(INDEX_VERSION)
    texts = (["Der Klimawandel und der Klimaschutz"] * 4 + ["Klimaschutz jetzt"] * 3
             + ["Das Klima ist rau"] + ["Putin und Kim"] * 3)
    store_and_index(store, [article(f"t{n}", text) for n, text in enumerate(texts)])
    return store


def test_a_word_mostly_inside_compounds_gets_the_counts_and_the_wildcard(compounds):
    [hint] = compound_hints(compounds, make_rule("r", "Klima AND NOT Putin", {}))
    assert (hint.word, hint.column, hint.alone, hint.inside) == ("Klima", 1, 1, 7)
    assert hint.examples == ("klimaschutz", "klimawandel")      # the commoner first
    assert hint.fix == "*klima*"
    assert hint.message == ("'Klima' stands alone in 1 article and inside longer words in 7 "
                            "(klimaschutz, klimawandel): *klima* finds those too")


def test_words_that_stand_alone_as_often_get_no_compound_hint(compounds):
    assert compound_hints(compounds, make_rule("r", "Putin AND Kim", {})) == []
    assert compound_hints(compounds, make_rule("r", "Klimaschutz", {})) == []   # no longer word
    assert compound_hints(compounds, make_rule("r", "NOT Klima", {})) == []     # negated
