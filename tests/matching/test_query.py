"""The query language: every row of the syntax table, precedence, errors with carets, limits."""

from __future__ import annotations

import pytest

from monitor.matching.query import (
    And,
    Lang,
    Near,
    Not,
    Or,
    Phrase,
    QuerySyntaxError,
    Source,
    Term,
    parse_query,
)

from .support import ENTITIES, article, matches


def tree(text: str):
    return parse_query(text, ENTITIES).root


def stem(word: str, field: str | None = None) -> Term:
    return Term("stem", word, field)


# ------------------------------------------------------- the syntax table, row by row

def test_word_matches_any_inflected_form():
    assert tree("Putin") == stem("putin")
    assert matches("Putin", article("Putins Besuch"))


def test_phrase_is_exact_and_consecutive():
    assert tree('"Kim Jong Un"') == Phrase((("exact", "kim"), ("exact", "jong"), ("exact", "un")))
    assert matches('"Kim Jong Un"', article(text="Kim Jong Un reiste an"))
    assert not matches('"Kim Jong Un"', article(text="Kim und Jong Un"))
    assert not matches('"Kims Einladung"', article(text="Kim Einladung"))


def test_quoted_word_is_exact():
    assert tree('"Kim"') == Term("exact", "kim")
    assert not matches('"Kim"', article(text="Kims Einladung"))
    assert matches("Kim", article(text="Kims Einladung"))


def test_and_and_juxtaposition():
    assert tree("Kim Putin") == tree("Kim AND Putin") == And((stem("kim"), stem("putin")))
    assert not matches("Kim Putin", article(text="Kim allein"))


def test_or():
    assert tree("Nordkorea OR DVRK") == Or((stem("nordkorea"), stem("dvrk")))
    assert matches("Nordkorea OR DVRK", article(text="die DVRK"))


def test_not_and_minus():
    expected = And((stem("putin"), Not(stem("trump"))))
    assert tree("Putin AND NOT Trump") == tree("Putin -Trump") == tree("Putin NOT Trump") \
        == expected
    assert not matches("Putin -Trump", article(text="Putin und Trump"))
    assert matches("Putin -Trump", article(text="Putin und Kim"))


def test_grouping():
    assert tree("(Kim OR Pjöngjang) AND Putin") == And(
        (Or((stem("kim"), stem("pjöngjang"))), stem("putin")))
    assert matches("(Kim OR Pjöngjang) AND Putin", article(text="Putin in Pjoengjang"))


def test_near():
    assert tree("Putin NEAR/5 Einladung") == Near(stem("putin"), stem("einladung"), 5)
    assert tree("Putin NEAR Einladung") == Near(stem("putin"), stem("einladung"), 10)
    text = article(text="Einladung a b c d Putin")           # positions differ by 5
    assert matches("Putin NEAR/5 Einladung", text)           # either order
    assert not matches("Putin NEAR/4 Einladung", text)
    assert matches("Putin NEAR/1 Einladung", article(text="Putins Einladung"))  # neighbours: 1


def test_prefix_wildcard():
    assert tree("Einladung*") == Term("prefix", "einladung")
    assert matches("Einladung*", article(text="Einladungsschreiben"))
    assert not matches("Einladung*", article(text="Ausladung"))


def test_suffix_wildcard_for_german_compounds():
    assert tree("*korea") == Term("suffix", "korea")
    assert matches("*korea", article(text="Nordkorea"))
    assert matches("*korea", article(text="Südkorea"))
    assert not matches("*korea", article(text="koreanische"))


def test_infix_wildcard():
    assert tree("*korea*") == Term("infix", "korea")
    assert matches("*korea*", article(text="nordkoreanischen"))
    assert matches("*korea*", article(text="Korea"))


def test_entity_matches_any_alias_with_the_last_word_inflected():
    node = tree("@putin")
    assert isinstance(node, Or) and Phrase((("exact", "wladimir"), ("stem", "putin"))) in \
        node.children
    assert matches("@putin", article(text="Wladimir Putins Rede"))
    assert matches("@putin", article(text="Путина", language="ru"))
    assert not matches("Putin", article(text="Путина", language="ru"))   # no cross-script


def test_title_and_body_fields():
    assert tree("title:(Kim AND Putin)") == And((stem("kim", "title"), stem("putin", "title")))
    both = article("Kim in Moskau", "Putin empfängt")
    assert not matches("title:(Kim AND Putin)", both)
    assert matches("title:Kim body:Putin", both)
    assert not matches("body:Kim", both)


def test_lang():
    assert tree("lang:de") == Lang("de") and tree("LANG:DE-at") == Lang("de")
    assert matches("lang:de AND Putin", article(text="Putin", language="de"))
    assert not matches("lang:de AND Putin", article(text="Putin", language="en"))


def test_source_is_the_feed_name_or_the_domain():
    assert tree("source:tagesschau") == Source("tagesschau")
    item = article(text="Putin", source="Tagesschau", url="https://www.tagesschau.de/a")
    assert matches("source:tagesschau", item)
    assert matches("source:tagesschau.de", item)
    assert matches("source:www.tagesschau.de", item)
    assert not matches("source:spiegel", item)
    assert tree('source:"Deutsche Welle"') == Source("deutsche welle")


# ------------------------------------------------------------------- operators, choices

def test_operators_are_upper_case_only():
    assert tree("Kim and Putin") == And((stem("kim"), stem("and"), stem("putin")))
    assert tree("ANDROID") == stem("android")
    assert tree("Kim or Putin") == And((stem("kim"), stem("or"), stem("putin")))


def test_precedence_not_near_and_or():
    assert tree("a OR b c") == Or((stem("a"), And((stem("b"), stem("c")))))
    assert tree("a b NEAR/2 c") == And((stem("a"), Near(stem("b"), stem("c"), 2)))
    assert tree("-a OR b") == Or((Not(stem("a")), stem("b")))
    assert tree("a NEAR/2 b NEAR/3 c") == Near(Near(stem("a"), stem("b"), 2), stem("c"), 3)
    assert tree("NOT a b") == And((Not(stem("a")), stem("b")))


def test_typographic_quotes_delimit_phrases():
    expected = Phrase((("exact", "kim"), ("exact", "jong"), ("exact", "un")))
    assert tree("„Kim Jong Un“") == tree("“Kim Jong Un”") == tree("«Kim Jong Un»") == expected


def test_bare_hyphenated_word_matches_parts_or_joined_word():
    for text in ("Nord-Korea", "Nord Korea", "Nordkorea"):
        assert matches("Nord-Korea", article(text=text)), text
    assert matches('"Nord-Korea"', article(text="Nord Korea"))
    assert not matches('"Nord-Korea"', article(text="Nordkorea"))


def test_bare_word_split_by_an_apostrophe_is_a_phrase():
    assert tree("Kim’s") == Phrase((("exact", "kim"), ("stem", "s")))


# --------------------------------------------------------------------------- errors

def error(text: str) -> QuerySyntaxError:
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(text, ENTITIES)
    return caught.value


@pytest.mark.parametrize("text, column, message", [
    ("(Kim OR Putin", 14, "expected ')' to close the '(' at column 1"),
    ("Kim AND", 8, "the query ends where a term is expected"),
    ("AND Kim", 1, "expected a term, found 'AND'"),
    ("Kim OR OR Putin", 8, "expected a term, found 'OR'"),
    ("Kim) Putin", 4, "')' without a matching '('"),
    ("()", 2, "expected a term, found ')'"),
    ("Kim - Putin", 5, "'-' must stand directly before a term"),
    ('Putin "Kim Jong', 7, "this quotation mark is never closed"),
    ("Putin AND @putn", 11, "unknown entity '@putn' (did you mean @putin?)"),
    ("Putin NEAR/0 Kim", 7, "NEAR/n needs a distance n from 1 to 1000"),
    ("Putin NEAR/x Kim", 7, "NEAR/n needs a distance"),
    ("Putin NEAR (Kim AND Jong)", 7, "NEAR needs words, phrases"),
    ("Putin NEAR lang:de", 7, "NEAR needs words, phrases"),
    ("Kim AND ab*", 9, "at least 3 letters or digits"),
    ("Kim AND a*b", 9, "'*' can only stand at the start or the end"),
    ("*Nord-Korea", 1, "a wildcard works within one word"),
    ("title:(body:Kim)", 1, "title: cannot contain another field"),
    ("NOT -Kim", 5, "a term cannot be negated twice"),
    ("title:body:Kim", 7, "a term can have only one field"),
    ("Kim lang:", 5, "lang: needs a language code"),
    ("Kim source:", 5, "source: needs a feed name"),
    ("Kim AND …", 9, "'…' has no letters or digits"),
    ("   ", 1, "the query is empty"),
    ("Putin NEAR/² Kim", 7, "NEAR/n needs a distance n from 1 to 1000, written with the "
                            "digits 0-9"),
    ("Putin NEAR/５ Kim", 7, "NEAR/n needs a distance"),
    ("Putin NEAR/1٠ Kim", 7, "NEAR/n needs a distance"),
    ("a NEAR b NEAR c NEAR d NEAR e NEAR f NEAR g NEAR h NEAR i", 52,
     "NEAR can join at most 8 operands, nested NEARs included"),
    ("(a NEAR b NEAR c) NEAR (d NEAR e NEAR f) NEAR (g NEAR h NEAR i)", 42,
     "NEAR can join at most 8 operands"),
    ("((a NEAR b) NEAR (c NEAR d)) NEAR ((e NEAR f) NEAR ((g NEAR h) NEAR i))", 30,
     "NEAR can join at most 8 operands"),
])
def test_error_message_and_caret_column(text, column, message):
    caught = error(text)
    assert caught.column == column
    assert message in caught.message
    lines = str(caught).split("\n")
    assert lines[1] == text
    assert lines[2] == " " * (column - 1) + "^"


def test_error_in_a_multiline_query_names_line_and_column():
    caught = error("Kim AND\n  (Putin OR")
    assert (caught.line, caught.column) == (2, 12)
    assert str(caught).split("\n")[1:] == ["  (Putin OR", " " * 11 + "^"]


def test_limit_characters():
    caught = error("Kim " * 500 + "x")
    assert "longer than 2000 characters" in caught.message and caught.column == 2001


def test_limit_terms():
    caught = error(" ".join(f"w{n}" for n in range(201)))
    assert "more than 200 terms" in caught.message
    assert caught.offset == len(" ".join(f"w{n}" for n in range(200))) + 1
    parse_query(" ".join(f"w{n}" for n in range(200)), ENTITIES)


def test_limit_nesting():
    parse_query("(" * 20 + "Kim" + ")" * 20, ENTITIES)
    caught = error("(" * 21 + "Kim" + ")" * 21)
    assert "more than 20 levels" in caught.message and caught.column == 21


def test_no_regular_expressions():
    """Regex syntax is never a pattern: brackets and dots split words, '.*' is refused."""
    assert "'*' can only stand" in error("Pu.*n").message
    assert tree("Pu[ti]n") == Phrase((("exact", "pu"), ("exact", "ti"), ("stem", "n")))
    assert not matches("Pu[ti]n", article(text="Putin"))


def test_limit_near_operands_counts_an_or_group_as_its_largest_branch():
    eight = " NEAR ".join(["x"] * 7)
    parse_query(f"{eight} NEAR (Kim OR Putin OR Trump)", ENTITIES)          # 8 operands
    parse_query(f"({' NEAR '.join(['x'] * 6)}) NEAR (a NEAR b OR c)", ENTITIES)
    caught = error(f"({' NEAR '.join(['x'] * 6)}) NEAR (a NEAR b NEAR c OR d)")
    assert "at most 8 operands" in caught.message


def test_limit_wildcards():
    twenty = " OR ".join(f"*korea{n}*" for n in range(20))
    parse_query(twenty, ENTITIES)
    caught = error(twenty + " OR Nord*")
    assert caught.message == "more than 20 wildcards"
    assert caught.offset == len(twenty) + 4


def test_a_query_with_a_lone_surrogate_is_a_syntax_error_that_can_be_printed():
    """A JSON client can send "\\ud800": never a UnicodeEncodeError, anywhere."""
    text = "Putin \ud800 Kim"
    caught = error(text)
    assert caught.message == "the query contains characters that are not valid text"
    assert caught.column == 7
    shown = str(caught)
    shown.encode("utf-8")                       # printable and sendable
    assert shown.split("\n")[1:] == ["Putin \ufffd Kim", " " * 6 + "^"]
    assert "\udc80" not in str(error("Kim AND \udc80"))


def test_near_distances_in_ascii_digits_still_work():
    assert tree("Putin NEAR/0007 Kim") == Near(stem("putin"), stem("kim"), 7)
    assert tree("Putin NEAR/1000 Kim").distance == 1000
