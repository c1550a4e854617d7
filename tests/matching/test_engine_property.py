"""The engine returns exactly what evaluating every rule on every article returns.

Hypothesis generates rule sets (words, exact words, phrases, wildcards, entities, fields,
lang:, source:, AND/OR/NOT/NEAR, rule languages, sources, enabled) and articles in German,
English, Russian and an unstemmed language, built from the same small vocabulary so that
rules do match; the presearching engine must agree with the straightforward evaluator.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.matching import Document, Engine, RuleSet, make_rule
from monitor.matching.evaluate import rule_matches

from .support import ENTITIES, article

ARTICLE_WORDS = [
    "Kim", "Kims", "KIM", "Jong", "Un", "Putin", "Putins", "Wladimir", "Einladung",
    "Einladungen", "Nordkorea", "Nord-Korea", "Südkorea", "Suedkorea", "Korea", "koreanische",
    "Путин", "Путина", "Ким", "Чен", "Ын", "КНДР", "Trump", "invitation", "invitations",
    "meeting", "Kim’s", "„Kim“", "«Путин»", "Gipfeltreffen", "Wostotschny", "die", "und",
    "russisch-nordkoreanischen", "Ukraine", "Kreml", "космодроме", "Восточный",
]
BARE = ["Kim", "Kims", "Putin", "Einladung", "Korea", "Nordkorea", "Nord-Korea", "Südkorea",
        "SUEDKOREA", "Путин", "Trump", "invitation", "meeting", "Kim’s", "Jong", "Ukraine",
        "nordkoreanischen", "космодром"]
EXACT = ['"Kim"', '"Kims"', '"Putin"', '"Путина"', '"Nordkorea"', '"KIM"']
PHRASES = ['"Kim Jong Un"', '"Kim Jong"', '"Putin Einladung"', '"die Nordkorea"',
           '"Nord Korea"', '"Ким Чен Ын"', '"russischnordkoreanischen Ukraine"', "„Kim Putin“"]
WILDCARDS = ["*korea", "*korea*", "Einl*", "Put*", "*ore*", "*adung", "Пут*", "*nisch*"]
ENTITY_REFS = ["@putin", "@kim-jong-un", "@north-korea", "@south-korea", "@vostochny"]
META = ["lang:de", "lang:en", "lang:ru", "source:tass", "source:tagesschau.de",
        "source:Tagesschau"]

positional_leaf = st.sampled_from(BARE + EXACT + PHRASES + WILDCARDS + ENTITY_REFS)
field = st.sampled_from(["", "", "", "title:", "body:"])


@st.composite
def fielded_leaf(draw) -> str:
    return draw(field) + draw(positional_leaf)


positional = st.recursive(
    fielded_leaf(),
    lambda inner: st.one_of(
        st.tuples(inner, inner).map(lambda p: f"({p[0]} OR {p[1]})"),
        st.tuples(inner, st.integers(1, 6), inner).map(
            lambda p: f"({p[0]} NEAR/{p[1]} {p[2]})"),
    ),
    max_leaves=4,
)

query = st.recursive(
    st.one_of(positional, st.sampled_from(META)),
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: "(" + " AND ".join(xs) + ")"),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: "(" + " ".join(xs) + ")"),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: "(" + " OR ".join(xs) + ")"),
        inner.map(lambda x: f"NOT ({x})"),
        inner.map(lambda x: f"-({x})"),
    ),
    max_leaves=6,
)


@st.composite
def rule_sets(draw) -> RuleSet:
    rules = []
    for number in range(draw(st.integers(1, 8))):
        rules.append(make_rule(
            f"r{number}", draw(query), ENTITIES,
            languages=frozenset(draw(st.sets(st.sampled_from(["de", "en", "ru"]), max_size=2))),
            sources=frozenset(draw(st.sets(st.sampled_from(["tass", "tagesschau.de"]),
                                           max_size=1))),
            enabled=draw(st.booleans().map(lambda b: b or draw(st.booleans()))),
        ))
    return RuleSet(tuple(rules), ENTITIES)


@st.composite
def articles(draw):
    text = st.lists(st.sampled_from(ARTICLE_WORDS), max_size=14).map(" ".join)
    source, url = draw(st.sampled_from([("tass", "https://tass.ru/x"),
                                        ("Tagesschau", "https://www.tagesschau.de/y"),
                                        ("seed.txt", None)]))
    return article(draw(text), draw(text), draw(st.sampled_from(["de", "en", "ru", "xx"])),
                   source=source, url=url)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rule_sets(), st.lists(articles(), min_size=1, max_size=6))
def test_engine_equals_evaluating_every_rule(ruleset, items):
    engine = Engine(ruleset)
    for item in items:
        document = Document.from_article(item)
        expected = [rule.id for rule in ruleset if rule_matches(rule, document)]
        found = [match.rule_id for match in engine.match(item)]
        assert found == expected, (item, [(r.id, r.query.text) for r in ruleset])


@settings(max_examples=100, deadline=None)
@given(query, articles())
def test_hits_are_real_occurrences(text, item):
    """Every position a hit reports holds one of the words the hit names."""
    rule = make_rule("q", text, ENTITIES)
    [*matches] = Engine(RuleSet((rule,), ENTITIES)).match(item)
    document = Document.from_article(item)
    for match in matches:
        for hit in match.hits:
            tokens = document.title.tokens if hit.field == "title" else document.body.tokens
            words_at = {t.first - document.fields(hit.field)[0].offset: t.raw.casefold()
                        for t in tokens if t.first == t.last}
            for position in hit.positions:
                assert position in words_at
            assert hit.words


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 12), st.integers(0, 12), st.integers(1, 8), st.booleans())
def test_near_distance_is_the_difference_of_positions(first, second, distance, phrase):
    """`a NEAR/n b` ⇔ |position(a) − position(b)| ≤ n, in either order; for a phrase operand
    the distance counts from its nearest word."""
    words = ["filler"] * 13
    words[first] = "Putin"
    if second == first:
        second = (first + 1) % 13
    words[second] = "Einladung"
    left = '"Putin"' if not phrase else '"Putin filler"'
    if phrase and (first == 12 or words[first + 1] != "filler"):
        return
    item = article(text=" ".join(words))
    rule = make_rule("q", f"{left} NEAR/{distance} Einladung", ENTITIES)
    engine_says = bool(Engine(RuleSet((rule,), ENTITIES)).match(item))
    gap = second - first - (1 if phrase and second > first else 0)
    assert engine_says == (abs(gap) <= distance)
    assert engine_says == rule_matches(rule, Document.from_article(item))
