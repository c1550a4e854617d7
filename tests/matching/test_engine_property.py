"""The engine returns exactly what evaluating every rule on every article returns.

Hypothesis generates rule sets (words, exact words, phrases, wildcards, entities, fields,
lang:, source:, AND/OR/NOT/NEAR, rule languages, sources, enabled) and articles in German,
English, Russian and an unstemmed language, built from the same small vocabulary so that
rules do match; the presearching engine must agree with the straightforward evaluator.
Adversarial shapes (long and nested NEAR chains, huge distances, many wildcards, articles of
a few words repeated) too, and the reference's NEAR agrees with NEAR defined by all pairs.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.matching import Document, Engine, RuleSet, make_rule
from monitor.matching.evaluate import maximal, near_spans, occurrences, rule_matches, spans
from monitor.matching.query import Near, Not, Or, Phrase, Term
from monitor.matching.verify import any_near as engine_near_any
from monitor.matching.verify import near_spans as engine_near

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


# ---------------------------------------------------------------- adversarial shapes
#
# NEAR chains up to the limit of operands, nested in groups and ORs, phrases and entities as
# operands, distances from 1 to 1000, many wildcards; articles of a few words repeated many
# times, where every operand has many positions. The engine still equals the reference, and
# the reference still equals what NEAR meant when it was defined by pairs (below).

REPEATED = ["die", "der", "und", "das", "Kim", "Putin", "Nord-Korea", "Einladung", "Kims"]
NEAR_LEAVES = ["die", "der", "und", "das", "Kim", '"Kim"', "Putin", '"die der"', '"und das die"',
               "Nordkorea", "*korea", "*die*", "Einl*", "@putin", "@north-korea", "title:die",
               "body:der", '"Nord Korea"']
distance = st.one_of(st.integers(1, 4), st.integers(5, 40), st.just(1000))


@st.composite
def near_chain(draw, depth: int = 0) -> str:
    """A chain `a NEAR/n b NEAR/m c …` whose operands are leaves, OR-groups, or (nested)
    chains in parentheses; at most MAX_NEAR_OPERANDS operands in all."""
    budget = draw(st.integers(2, 8))
    parts: list[str] = []
    used = 0
    while used < budget:
        room = budget - used
        kind = draw(st.sampled_from(["leaf", "leaf", "or", "nested"] if depth < 2 and room >= 2
                                    else ["leaf", "or"]))
        if kind == "nested":
            inner = draw(st.integers(2, room))
            parts.append("(" + draw(near_chain_of(inner, depth + 1)) + ")")
            used += inner
        elif kind == "or":
            parts.append("(" + " OR ".join(draw(st.lists(st.sampled_from(NEAR_LEAVES),
                                                         min_size=2, max_size=3))) + ")")
            used += 1
        else:
            parts.append(draw(st.sampled_from(NEAR_LEAVES)))
            used += 1
    text = parts[0]
    for part in parts[1:]:
        text += f" NEAR/{draw(distance)} {part}"
    return text


def near_chain_of(operands: int, depth: int):
    return st.lists(st.sampled_from(NEAR_LEAVES), min_size=operands, max_size=operands).flatmap(
        lambda leaves: st.tuples(*[distance] * (operands - 1)).map(
            lambda ds: leaves[0] + "".join(f" NEAR/{d} {leaf}"
                                           for d, leaf in zip(ds, leaves[1:], strict=True))))


WILDCARDS_MANY = ["*korea", "*korea*", "*ore*", "Einl*", "Put*", "*die*", "*der*", "*und",
                  "Nord*", "*ass*", "*ink*", "*ims", "Kim*", "*adung", "*nisch*", "*utin*",
                  "das*", "*nord*", "*tin", "*ung*"]


def wildcards(low: int, high: int):
    return st.lists(st.sampled_from(WILDCARDS_MANY), min_size=low, max_size=high,
                    unique=True).map(lambda xs: " OR ".join(xs))


def within_limits(query: str) -> bool:
    return sum("*" in word for word in query.split()) <= 20


adversarial_query = st.one_of(
    near_chain(),
    st.tuples(near_chain(), near_chain()).map(lambda p: f"({p[0]}) AND NOT ({p[1]})"),
    st.tuples(near_chain(), near_chain()).map(lambda p: f"({p[0]}) OR ({p[1]})"),
    wildcards(10, 20),
    st.tuples(wildcards(3, 8), near_chain()).map(lambda p: f"({p[0]}) AND ({p[1]})"),
).filter(within_limits)


@st.composite
def repetitive_articles(draw):
    """Few words, many times: every operand of a chain has dozens of positions."""
    pattern = draw(st.lists(st.sampled_from(REPEATED), min_size=1, max_size=6))
    times = draw(st.integers(1, 40))
    noise = draw(st.lists(st.sampled_from(ARTICLE_WORDS), max_size=6))
    words = pattern * times
    for word in noise:
        words.insert(draw(st.integers(0, len(words))), word)
    title = draw(st.lists(st.sampled_from(REPEATED), max_size=5))
    return article(" ".join(title), " ".join(words), draw(st.sampled_from(["de", "en", "xx"])))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(adversarial_query, min_size=1, max_size=4), repetitive_articles())
def test_engine_equals_the_reference_on_adversarial_queries(queries, item):
    ruleset = RuleSet(tuple(make_rule(f"r{n}", q, ENTITIES) for n, q in enumerate(queries)),
                      ENTITIES)
    report = Engine(ruleset).match_report(item)
    assert report.exceeded == []         # these articles are far below any budget
    document = Document.from_article(item)
    expected = [rule.id for rule in ruleset if rule_matches(rule, document)]
    assert [m.rule_id for m in report.matches] == expected, queries


def pairwise_spans(node, document) -> set[tuple[int, int]]:
    """NEAR as it was first defined: the combined span of EVERY pair of occurrences within
    the distance (a set here, which changes nothing but the size). Exponential in a chain."""
    if isinstance(node, (Term, Phrase)):
        return {(o.first, o.last) for o in occurrences(node, document)}
    if isinstance(node, Or):
        return set().union(*(pairwise_spans(child, document) for child in node.children))
    assert isinstance(node, Near)
    return {(min(a, c), max(b, d))
            for a, b in pairwise_spans(node.left, document)
            for c, d in pairwise_spans(node.right, document)
            if max(0, c - b, a - d) <= node.distance}


def near_nodes(node):
    if isinstance(node, Near):
        yield node
        yield from near_nodes(node.left)
        yield from near_nodes(node.right)
    for child in getattr(node, "children", ()):
        yield from near_nodes(child)
    if isinstance(node, Not):
        yield from near_nodes(node.child)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_chain().filter(within_limits),
       st.lists(st.sampled_from(REPEATED), max_size=24).map(" ".join))
def test_maximal_spans_are_those_of_every_pair(query, text):
    """The reference keeps only maximal spans; they are exactly the maximal ones of the
    definition by pairs, at every NEAR of the query (so every answer is the same)."""
    root = make_rule("q", query, ENTITIES).query.root
    document = Document.from_article(article("die der", text))
    for node in near_nodes(root):
        assert spans(node, document) == maximal(list(pairwise_spans(node, document))), query


@settings(max_examples=500, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 60), st.integers(0, 8)), max_size=25),
       st.lists(st.tuples(st.integers(0, 60), st.integers(0, 8)), max_size=25),
       st.integers(0, 30))
def test_near_of_maximal_spans_is_near_of_all_pairs(left, right, gap):
    """The engine's and the reference's NEAR on arbitrary span sets, against all pairs."""
    left = maximal([(s, s + n) for s, n in left])
    right = maximal([(s, s + n) for s, n in right])
    every = maximal([(min(a, c), max(b, d)) for a, b in left for c, d in right
                     if max(0, c - b, a - d) <= gap])
    assert near_spans(left, right, gap) == every
    assert engine_near(left, right, gap) == every
    assert engine_near_any(left, right, gap) == bool(every)
