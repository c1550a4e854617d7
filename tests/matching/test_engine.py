"""The engine: rule limits, hits, rows for the store, presearch behaviour."""

from __future__ import annotations

import dataclasses

from monitor.matching import (
    Analyzer,
    Engine,
    Hit,
    RuleSet,
    is_negative_only,
    make_rule,
    match_batch,
)
from monitor.matching.presearch import clauses

from .support import ENTITIES, SHIPPED, article, seed_article


def rules(*queries: str, **limits) -> RuleSet:
    return RuleSet(tuple(make_rule(f"r{n}", q, ENTITIES, **limits)
                         for n, q in enumerate(queries)), ENTITIES)


def fired(ruleset: RuleSet, item) -> list[str]:
    return [m.rule_id for m in Engine(ruleset).match(item)]


def test_rule_languages_restrict_matching():
    ruleset = rules("Putin", languages=frozenset({"de", "ru"}))
    assert fired(ruleset, article(text="Putin", language="de")) == ["r0"]
    assert fired(ruleset, article(text="Putin", language="de-AT")) == ["r0"]
    assert fired(ruleset, article(text="Putin", language="en")) == []


def test_rule_sources_restrict_by_feed_name_or_domain():
    ruleset = rules("Putin", sources=frozenset({"Tagesschau"}))
    assert fired(ruleset, article(text="Putin", source="tagesschau")) == ["r0"]
    assert fired(ruleset, article(text="Putin", source="spiegel")) == []
    by_domain = rules("Putin", sources=frozenset({"tagesschau.de"}))
    assert fired(by_domain, article(text="Putin", source="ard",
                                    url="https://www.tagesschau.de/a")) == ["r0"]


def test_disabled_rules_never_match():
    ruleset = rules("Putin", "NOT Trump", enabled=False)
    assert fired(ruleset, article(text="Putin")) == []


def test_negative_only_rules_are_always_checked():
    ruleset = rules("NOT Trump", "Kim OR NOT Putin", "Kim")
    assert [is_negative_only(r) for r in ruleset] == [True, True, False]
    assert fired(ruleset, article(text="Merkel")) == ["r0", "r1"]
    assert fired(ruleset, article(text="Trump Putin")) == []


def test_hits_say_which_term_matched_where():
    ruleset = rules('title:Kim AND "Kim Jong Un" AND -Trump AND *korea')
    [match] = Engine(ruleset).match(seed_article())
    assert match.rule_id == "r0" and match.rule_version == ruleset.rules[0].version
    by_term = {(h.term, h.field): h for h in match.hits}
    assert by_term["title:Kim", "title"] == Hit("title:Kim", "title", (4,), ("kims",))
    assert by_term['"Kim Jong Un"', "body"].positions[:3] == (11, 12, 13)
    assert by_term['"Kim Jong Un"', "body"].words == ("kim", "jong", "un")
    assert set(by_term["*korea", "body"].words) == {"nordkorea", "südkorea"}
    assert by_term["*korea", "title"].words == ("nordkorea",)
    assert not any(h.term == "-Trump" or h.term == "Trump" for h in match.hits)


def test_phrase_hits_name_the_words_that_matched_at_each_position():
    ruleset = rules('"Nordkorea Raketen"', '"Nord Korea"', '"Kim Jong Un"')
    text = "Die Nord-Korea Raketen. KIM Jong-Un sprach. Nord-Korea Raketen."
    found = {m.rule_id: m.hits for m in Engine(ruleset).match(article(text=text))}
    # The joined compound sits at its last part's position when the phrase goes on from it.
    assert found["r0"] == (Hit('"Nordkorea Raketen"', "body", (2, 3, 9, 10),
                               ("nordkorea", "raketen")),)
    assert found["r1"] == (Hit('"Nord Korea"', "body", (1, 2, 8, 9), ("nord", "korea")),)
    assert found["r2"] == (Hit('"Kim Jong Un"', "body", (4, 5, 6), ("kim", "jong", "un")),)


def test_hits_name_the_joined_compound_that_matched():
    [match] = Engine(rules("Nordkorea")).match(article(text="die Nord-Korea Krise"))
    assert match.hits == (Hit("Nordkorea", "body", (1, 2), ("nordkorea",)),)


def test_match_rows_are_stored_and_read_back(db):
    [stored] = db.add_articles([seed_article()])
    rows = match_batch(Engine(SHIPPED), [stored]).rows
    assert {r.rule_id for r in rows} >= {"kim-putin", "vostochny"}
    db.save_matches([stored.id], rows)
    saved = {m.rule_id: m for m in db.matches_for_article(stored.id)}
    assert saved["kim-putin"].rule_version == SHIPPED.get("kim-putin").version
    assert db.matched_rules(stored.id) == sorted(r.rule_id for r in rows)


def test_verify_finds_the_rules_that_match_finds_without_their_hits():
    engine = Engine(SHIPPED)
    text = engine.analyzer.analyse(seed_article())
    verified = engine.verify(text, 7)
    assert [r.id for r in verified.rules] == [m.rule_id for m in engine.match(seed_article())]
    assert verified.exceeded == []


def test_highlight_gives_the_hits_of_the_rules_asked_for_that_match():
    engine = Engine(SHIPPED)
    every = {m.rule_id: m for m in engine.match(seed_article())}
    assert "kim-putin" in every
    found = engine.highlight(seed_article(), ["kim-putin", "no-such-rule", "kim-putin"])
    assert found == [every["kim-putin"]]
    assert "putin" in found[0].words
    unmatched = next(r.id for r in SHIPPED if r.enabled and r.id not in every)
    assert engine.highlight(seed_article(), [unmatched]) == []


def test_presearch_verifies_only_rules_sharing_a_term():
    queries = [f"word{n} AND other{n}" for n in range(200)] + ["Putin AND Kim", "NOT zzz"]
    ruleset = rules(*queries)
    engine = Engine(ruleset)
    item = article(text="Putin traf Kim und word7")
    candidates = {r.id for r in engine.debug().candidates(engine.analyzer.analyse(item))}
    # the AND is indexed under one of its words only (the longer one, "other7" for r7)
    assert candidates == {"r200", "r201"}
    assert fired(ruleset, item) == ["r200", "r201"]


def test_engines_over_the_same_rule_set_share_their_index():
    first, second = Engine(SHIPPED), Engine(SHIPPED)
    assert first.index is second.index
    reloaded = dataclasses.replace(SHIPPED)
    assert Engine(reloaded).index is not first.index


def test_articles_in_languages_without_a_stemmer_match_exactly():
    ruleset = rules("Putin", '"Kim"')
    assert fired(ruleset, article(text="Putin", language="zh")) == ["r0"]
    assert fired(ruleset, article(text="Putins Kims", language="xx")) == []


def test_without_presearch_the_result_is_the_same():
    engine = Engine(SHIPPED)
    item = seed_article()
    assert engine.debug().without_presearch(item) == engine.match(item)


def test_clauses_say_what_every_match_contains_and_when_that_is_enough():
    def summary(query: str) -> tuple[list[tuple[str, ...]], bool]:
        found, enough = clauses(make_rule("q", query, ENTITIES).query.root)
        return [tuple(form for _, form in clause) for clause in found], enough

    assert summary("Putin") == ([("putin",)], True)
    assert summary("Kim AND Putin") == ([("kim",), ("putin",)], True)
    assert summary("(Kim OR Putin) AND lang:de") == ([("kim", "putin"), ("de",)], True)
    assert summary("title:Putin") == ([("putin",)], False)          # the field is not checked
    assert summary('"Kim Jong"') == ([("kim",), ("jong",)], False)  # nor the word order
    assert summary("Kim AND NOT Putin") == ([("kim",)], False)
    assert summary("Kim OR NOT Putin") == ([], False)
    assert summary("Kim NEAR/3 Putin") == ([("kim",), ("putin",)], False)


def test_rules_their_clauses_decide_match_without_a_test():
    ruleset = rules("Putin", "Kim AND Putin", "(Kim OR Trump) AND Putin",
                    "Kim AND Putin AND Einladung", '"Kim Jong"')
    item = article(text="Kim Jong Un, Putin und die Einladung")
    engine = Engine(ruleset)
    assert [m.rule_id for m in engine.match(item)] == ["r0", "r1", "r2", "r3", "r4"]
    presearched = engine.debug().presearch(engine.analyzer.analyse(item))
    # one or two clauses that are enough: matched by the presearch alone; a third clause or
    # the word order of a phrase needs the rule's test
    assert [rule.id for rule in presearched.passed] == ["r0", "r1", "r2", "r3", "r4"]
    assert [rule.id for rule in presearched.decided] == ["r0", "r1", "r2"]
    assert [test is None for test in engine.index.tests] == [True, True, True, False, False]
    assert fired(ruleset, article(text="Kim und Trump")) == []


def test_a_language_limit_is_a_clause_of_its_own():
    ruleset = rules("Putin", "Kim OR Putin", languages=frozenset({"de", "ru"}))
    assert fired(ruleset, article(text="Putin", language="de")) == ["r0", "r1"]
    assert fired(ruleset, article(text="Putin", language="en")) == []
    assert fired(ruleset, article(text="Kim", language="ru")) == ["r1"]


def test_bounded_word_tables_never_lose_a_match():
    """The word tables are emptied when full, between articles only: an article whose words
    overflow them is still matched with all its words, and its hits name them all."""
    ruleset = rules('"Kim Jong Un"', "Putin NEAR/3 Einladung", "Nordkorea", "*korea AND Kim")
    small, large = Engine(ruleset, Analyzer(cache_limit=3)), Engine(ruleset, Analyzer())
    texts = ["Kim Jong Un nimmt die Einladung von Putin an, sagt Nordkorea",
             "Putin und die Einladung an Kim Jong Un aus Nord-Korea", "Südkorea und Kim"] * 3
    for text in texts:
        item = article(text=text)
        found = small.match(item)
        assert [m.rule_id for m in found] == fired(ruleset, item)
        assert found == large.match(item)
    table = small.index.profile("german").word_postings
    assert len(table) <= 3 + len(set(texts[1].split()))


def test_hit_positions_are_in_text_order_when_a_chunk_holds_several_words():
    """A joined compound is found after the other words of its chunk; its positions are
    still reported in order."""
    [match] = Engine(rules("kimjong")).match(article(text="x kim-jong·kimjong y"))
    assert [hit.positions for hit in match.hits] == [(1, 2, 3)]


def test_matching_leaves_no_reference_cycles_and_the_collector_as_it_was():
    """Matching pauses the cycle collector for each article; that is only sound if it makes
    no cycles (refcounting must free everything), and it must hand the collector back."""
    import gc

    engine = Engine(rules('"Kim Jong Un" AND title:Kim', "Putin OR Moskau*", "NOT Trump"))
    seed = seed_article()
    assert engine.match(seed)
    gc.collect()
    gc.disable()
    try:
        for _ in range(3):
            engine.match(seed)
        assert gc.collect() == 0          # nothing unreachable: no cycles were made
        engine.match(seed)
        assert not gc.isenabled()         # a caller's choice to keep it off is respected
    finally:
        gc.enable()
    engine.match(seed)
    assert gc.isenabled()


def test_an_engine_leaves_the_collector_alone_and_a_frozen_index_is_freed_when_dropped():
    """Building an engine has no process-wide effect (the pipeline, which keeps its rules,
    is who freezes them: test_pipeline). A frozen index is never freed by the collector, so
    an index must have no reference cycles: reference counting alone frees a replaced one."""
    import gc
    import weakref

    from monitor.matching.collector import FREEZE_FROM, out_of_collectors_sight
    
    def large(word: str) -> RuleSet:
        return RuleSet(tuple(make_rule(f"r{n}", f"{word}{n} OR Putin", ENTITIES)
                             for n in range(FREEZE_FROM)), ENTITIES)

    gc.unfreeze()
    try:
        first = large("alpha")
        assert Engine(first).match(article(text="Putin"))
        assert gc.get_freeze_count() == 0 and gc.isenabled()
        out_of_collectors_sight()
        compiled = Engine(first).index
        old = [weakref.ref(compiled), *map(weakref.ref, compiled.profiles.values())]
        del first, compiled
        assert [ref() for ref in old] == [None] * len(old)    # freed by refcounting alone
        smaller = rules("Putin")
        assert fired(smaller, article(text="Putin")) == ["r0"]
    finally:
        gc.unfreeze()
