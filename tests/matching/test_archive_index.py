"""Searching through the archive index finds exactly what scanning the archive finds.

The index holds the analyser's terms (archive_index.py) and is only a filter: the engine verifies
every candidate. If the index ever missed an article the engine would match (folding,
transcriptions, compounds, stems across languages, wildcards, lang:, source:), a search
through it would find less than a scan of the whole window. Hypothesis generates queries
of every shape and articles in four languages; the corpus test runs the shipped rules and
generated ones over real articles. Same matches, same order, every time.
"""

from __future__ import annotations

import json
import random
from dataclasses import replace
from datetime import timedelta
from itertools import count
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.deliver.catalog import RulesCatalog
from monitor.matching import Engine, RuleSet, make_rule, match_batch, tools
from monitor.matching.analysis import analyse_field
from monitor.matching.archive_index import INDEX_VERSION, archive_query
from monitor.matching.query import And, Or, Query, Term
from monitor.matching.rules import Rule
from monitor.matching.tools import Candidates, archive_candidates, backtest, search_archive
from monitor.store import Store

from .support import ENTITIES, SHIPPED, WHEN, article
from .test_engine_property import articles, query

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "articles.jsonl"
_serial = count()


def store_and_index(store: Store, items) -> list[int]:
    """Store articles as ingest does and index them as the match stage does."""
    stored = store.add_articles(items)
    batch = match_batch(Engine(RuleSet((), ENTITIES)), stored)
    store.save_matches([a.id for a in stored], batch.rows, WHEN, batch.terms, batch.words)
    return [a.id for a in stored]


def found(search) -> list[tuple[int, str]]:
    return [(f.article.id, f.match.rule_id) for f in search.found]


def same_as_a_scan(store: Store, rule, since=None) -> tuple[Candidates, list]:
    indexed = archive_candidates(store, rule, since)
    everything = Candidates(store.archive_candidates(None, since), True)
    through_index = search_archive(store, rule, ENTITIES, since, limit=0, candidates=indexed)
    by_scan = search_archive(store, rule, ENTITIES, since, limit=0, candidates=everything)
    assert found(through_index) == found(by_scan), (rule.query.text, archive_query(rule))
    assert set(indexed.ids) <= set(everything.ids)
    for limit in (1, 3):
        first = search_archive(store, rule, ENTITIES, since, limit=limit, candidates=indexed)
        assert found(first) == found(by_scan)[:limit]
    return indexed, found(by_scan)


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    with Store(tmp_path_factory.mktemp("archive") / "monitor.db") as store:
        assert store.reset_index(INDEX_VERSION)
        yield store


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(query, st.lists(articles(), min_size=1, max_size=6),
       st.sampled_from(["de", "en", "ru"]), st.sets(st.sampled_from(["tass", "tagesschau.de"]),
                                                      max_size=1))
def test_the_index_and_a_scan_find_the_same(archive, text, items, language, sources):
    """The archive grows with every example (a few thousand articles by the end)."""
    dated = [replace(item, published=WHEN + timedelta(minutes=next(_serial) % 500),
                     content_hash=f"{item.content_hash}|{next(_serial)}") for item in items]
    store_and_index(archive, dated)
    rule = make_rule("q", text, ENTITIES,
                     languages=frozenset({language}) if next(_serial) % 5 == 0 else frozenset(),
                     sources=frozenset(sources))
    same_as_a_scan(archive, rule)
    same_as_a_scan(archive, rule, since=WHEN + timedelta(minutes=250))


def test_what_only_the_analyser_knows_is_in_the_index(tmp_path):
    """Folding, German transcriptions, compounds and stems: none of them is an FTS5 token."""
    with Store(tmp_path / "monitor.db") as store:
        store.reset_index(INDEX_VERSION)
        ids = store_and_index(store, [
            article("Gipfel", "Die Südkoreaner warnten vor dem Treffen.", "de"),
            article("Gipfel", "Suedkorea und die Nord-Korea Politik.", "de"),
            article("Встреча", "Путина встретили на космодроме Восточный.", "ru"),
            article("Meeting", "The invitations were continued.", "en", source="tass",
                    url="https://tass.com/x"),
            article("Wetter", "Regen und Wind.", "de"),
        ])
        cases = {"Südkorea*": [ids[1], ids[0]], "Südkorea": [ids[1]],
                 '"Nord Korea"': [ids[1]], "nordkorea": [ids[1]], "Путин": [ids[2]],
                 "космодром": [ids[2]], "continue AND invitation": [ids[3]],
                 "source:tass": [ids[3]], "lang:ru": [ids[2]]}
        for text, expected in cases.items():
            rule = make_rule("q", text, ENTITIES)
            indexed, matches = same_as_a_scan(store, rule)
            assert [article_id for article_id, _ in matches] == expected, text
            assert not indexed.scanned and ids[4] not in indexed.ids, text
        # *fix and *mid* through the index's vocabulary: the words that fit them.
        for text, expected in {"*korea": [ids[1]], "*ore*": [ids[1], ids[0]],
                               "*schmetterling": [], "*etterlin*": []}.items():
            indexed, matches = same_as_a_scan(store, make_rule("q", text, ENTITIES))
            assert [article_id for article_id, _ in matches] == expected, text
            assert not indexed.scanned and ids[4] not in indexed.ids, text
        indexed, _ = same_as_a_scan(store, make_rule("q", "NOT Regen", ENTITIES))
        assert indexed.scanned                  # nothing to look up: the window is scanned


def test_a_conjunction_with_a_plain_word_does_not_expand_its_wildcards(tmp_path):
    """Expanding `*fix` reads the whole vocabulary; beside a word that can be looked up it
    is left to the engine, which verifies the word's candidates (and finds the same)."""
    asked = []

    def words(kind, fixed):
        asked.append((kind, fixed))
        return ["nordkorea"]

    assert archive_query(make_rule("q", "*korea AND Gipfel", ENTITIES), words=words) \
        == archive_query(make_rule("q", "Gipfel", ENTITIES))
    assert asked == []
    assert archive_query(make_rule("q", "*korea AND (Gipfel OR Treffen)", ENTITIES),
                         words=words) is not None and asked == []
    assert archive_query(make_rule("q", "*korea AND *reffen", ENTITIES), words=words)
    assert asked == [("suffix", "korea"), ("suffix", "reffen")]
    with Store(tmp_path / "monitor.db") as store:
        store.reset_index(INDEX_VERSION)
        ids = store_and_index(store, [
            article("Gipfel", "Nordkorea und Südkorea beim Gipfel.", "de"),
            article("Gipfel", "Ein Gipfel ohne Streit.", "de", url="https://x/2"),
            article("Wetter", "Regen.", "de", url="https://x/3")])
        indexed, matches = same_as_a_scan(store, make_rule("q", "*korea AND Gipfel", ENTITIES))
        assert [article_id for article_id, _ in matches] == [ids[0]]
        assert sorted(indexed.ids) == ids[:2] and not indexed.scanned


def test_wildcards_find_their_words_in_the_vocabulary_until_the_index_is_rebuilt(tmp_path):
    """A suffix is a range of the reversed words, an infix a pass over them; both find
    exact forms only (folded, compounds joined), and a new index version starts empty."""
    with Store(tmp_path / "monitor.db") as store:
        store.reset_index(INDEX_VERSION)
        store_and_index(store, [article("Nordkorea und Südkorea", "Koreaner im Korea-Krieg",
                                        "de")])
        assert sorted(store.index_words("suffix", "korea", 10)) == [
            "korea", "nordkorea", "sudkorea"]
        assert sorted(store.index_words("infix", "orea", 10)) == [
            "korea", "koreakrieg", "koreaner", "nordkorea", "sudkorea"]
        assert store.index_words("suffix", "koreas", 10) == []
        assert store.index_words("infix", "orea", 4) is None
        assert store.reset_index(INDEX_VERSION + 1)
        assert store.index_words("infix", "orea", 10) == []
        store_and_index(store, [article("Nordkorea", "", "de", url="https://x/2")])
        assert store.index_words("suffix", "korea", 10) == ["nordkorea"]   # written again


def test_vocabulary_words_rolled_back_are_written_again(tmp_path):
    """The store writes each word once per process, and remembers it only once committed."""
    with Store(tmp_path / "monitor.db") as store:
        store.reset_index(INDEX_VERSION)
        with pytest.raises(RuntimeError), store.transaction():
            store_and_index(store, [article("Nordkorea", "", "de", url="https://x/1")])
            raise RuntimeError("rolled back")
        assert store.index_words("suffix", "korea", 10) == []
        store_and_index(store, [article("Nordkorea", "", "de", url="https://x/2")])
        assert store.index_words("suffix", "korea", 10) == ["nordkorea"]


def test_a_wildcard_that_fits_too_many_words_scans_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(tools, "WILDCARD_WORDS", 1)
    with Store(tmp_path / "monitor.db") as store:
        store.reset_index(INDEX_VERSION)
        store_and_index(store, [article("Gipfel", "Nordkorea und Südkorea", "de"),
                                article("Wetter", "Regen", "de", url="https://x/2")])
        assert store.index_words("suffix", "korea", 1) is None
        assert sorted(store.index_words("suffix", "korea", 2)) == ["nordkorea", "sudkorea"]
        indexed, matches = same_as_a_scan(store, make_rule("q", "*korea", ENTITIES))
        assert indexed.scanned and indexed.why == "no terms" and len(matches) == 1


def test_articles_not_indexed_yet_are_found_by_a_scan_of_them(tmp_path):
    """An archive from before the index (or after a reset): searches still find everything
    while the pipeline builds the index."""
    with Store(tmp_path / "monitor.db") as store:
        store.reset_index(INDEX_VERSION)
        old = store.add_articles([article("Putin", "Putin in Moskau", "de")])
        store.save_matches([old[0].id], [], WHEN)                    # matched, no entry
        new = store_and_index(store, [article("Kim", "Kim und Putin", "de", url="https://x/1")])
        rule = make_rule("q", "Putin", ENTITIES)
        indexed, matches = same_as_a_scan(store, rule)
        assert sorted(id for id, _ in matches) == sorted([old[0].id, *new])
        assert [a.id for a in store.unindexed_articles()] == [old[0].id]
        assert backtest(store, rule, ENTITIES).candidates == indexed
        store.reset_index(INDEX_VERSION + 1)      # an index of other terms is not used
        assert archive_candidates(store, rule).scanned


def test_once_the_index_is_complete_searches_still_find_what_it_lacks(tmp_path):
    """When the backfill finds nothing left, a search verifies only the unmatched articles
    beside the index's candidates (not the window); an article matched without an entry
    since then, or one whose entry was dropped, is looked for again."""
    with Store(tmp_path / "monitor.db") as store:
        store.reset_index(INDEX_VERSION)
        [indexed] = store_and_index(store, [article("Putin", "Putin in Moskau", "de")])
        assert store.unindexed_articles() == []                 # the backfill is done
        [waiting] = [a.id for a in store.add_articles(
            [article("Putin", "Putin und Kim", "de", url="https://x/2")])]
        rule = make_rule("q", "Putin", ENTITIES)
        assert sorted(archive_candidates(store, rule).ids) == [indexed, waiting]
        store.save_matches([waiting], [], WHEN)                  # matched, but no entry
        [late] = [a.id for a in store.add_articles(
            [article("Putin", "Putin in Wladiwostok", "de", url="https://x/3")])]
        indexed_now, matches = same_as_a_scan(store, rule)
        assert sorted(id for id, _ in matches) == [indexed, waiting, late]
        assert sorted(indexed_now.ids) == [indexed, waiting, late]


def test_a_query_deeper_than_fts5_allows_falls_back_to_a_scan(tmp_path):
    """The query language's nesting limit keeps rules far from FTS5's parser stack; a tree
    built past it (not parseable from text) still gets its articles, by a scan."""
    node = Term("stem", "Putin")
    for n in range(40):
        node = Or((Term("stem", f"Kim{n}"), And((node, Term("stem", f"Moskau{n}")))))
    rule = Rule(id="deep", query=Query("deep", node, frozenset(), 1))
    with Store(tmp_path / "monitor.db") as store:
        store.reset_index(INDEX_VERSION)
        store_and_index(store, [article("Kim39", "Kim39", "de")])
        assert store.archive_candidates(archive_query(rule)) is None     # FTS5 refuses it
        indexed, matches = same_as_a_scan(store, rule)
        assert indexed.scanned and len(matches) == 1


@pytest.mark.skipif(not CORPUS.exists(), reason=f"corpus absent: {CORPUS}")
def test_on_the_corpus_with_the_shipped_and_generated_rules(tmp_path):
    """`search`, `backtest` and `/search` (its catalog) through the index give the matches
    of a scan of every article, in the same order (newest first)."""
    items = []
    for number, line in enumerate(CORPUS.read_text(encoding="utf-8").splitlines()):
        record = json.loads(line)
        items.append(replace(article(record.get("title") or "", record.get("text") or "",
                                     record.get("lang") or "und",
                                     source=record.get("sitename") or "corpus",
                                     url=record.get("url")),
                             published=WHEN + timedelta(hours=number % 700)))
    words = sorted({word for item in items[:300]
                    for word in analyse_field(item.title).words | analyse_field(item.text).words
                    if word.isalpha() and 4 <= len(word) <= 12})
    pick = random.Random(15)
    generated = []
    for number in range(60):
        a, b, c = pick.sample(words, 3)
        generated.append([f"{a} AND {b}", f"({a} OR {b}) AND NOT {c}", f'"{a} {b}" OR {c}',
                          f"{a[:4]}* AND {b}", f"{a} NEAR/5 {b}", f"title:{a} OR body:{b}",
                          f"{a} AND lang:de", f'"{a}"'][number % 8])
    rules = [replace(rule, enabled=True) for rule in SHIPPED] + [
        make_rule(f"g{n}", text, ENTITIES) for n, text in enumerate(generated)]
    with Store(tmp_path / "monitor.db") as store:
        store.reset_index(INDEX_VERSION)
        store_and_index(store, items)
        # The scan, once for all rules: every article of the window through the engine.
        newest_first = store.archive_candidates(None)
        stored = store.articles_by_id(newest_first)
        engine = Engine(RuleSet(tuple(rules), ENTITIES))
        by_scan: dict[str, list[int]] = {rule.id: [] for rule in rules}
        for article_id in newest_first:
            for match in engine.match(stored[article_id]):
                by_scan[match.rule_id].append(article_id)
        catalog = RulesCatalog(SimpleNamespace(ruleset=RuleSet(tuple(rules), ENTITIES)), store)
        looked_up = 0
        for rule in rules:
            indexed = archive_candidates(store, rule)
            search = search_archive(store, rule, ENTITIES, limit=0, candidates=indexed)
            assert [f.article.id for f in search.found] == by_scan[rule.id], rule.query.text
            first = search_archive(store, rule, ENTITIES, limit=5)   # as /search asks
            assert [f.article.id for f in first.found] == by_scan[rule.id][:5]
            tested = backtest(store, rule, ENTITIES)
            assert [f.article.id for f in tested.hits] == by_scan[rule.id], rule.query.text
            if not rule.languages and not rule.sources:      # what /search is given: a query
                chat = catalog.search(rule.query.text, 5)
                assert [a.id for a in chat.articles] == by_scan[rule.id][:5], rule.query.text
            looked_up += not indexed.scanned
        assert looked_up >= len(rules) * 3 // 4
        assert sum(map(len, by_scan.values())) > len(rules)      # the rules do match
