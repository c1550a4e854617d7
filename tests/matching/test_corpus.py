"""Robustness on the real corpus (../shared/corpus): 1,571 web articles in many languages."""

from __future__ import annotations

import json

import pytest

from monitor.matching import Document, Engine
from monitor.matching.analysis import analyse_field, tokenize_with_offsets
from monitor.matching.evaluate import rule_matches
from tests.conftest import CORPUS

from .support import SHIPPED, article

ARTICLES = CORPUS / "articles.jsonl"


@pytest.fixture(scope="module")
def corpus():
    if not ARTICLES.exists():
        pytest.skip(f"corpus not found at {ARTICLES}: robustness runs need ../shared/corpus")
    rows = [json.loads(line) for line in ARTICLES.read_text(encoding="utf-8").splitlines()]
    return [article(row.get("title") or "", row.get("text") or "", row.get("lang") or "und",
                    source=row.get("sitename") or "corpus", url=row.get("url"), article_id=n)
            for n, row in enumerate(rows, 1)]


def test_fast_and_reference_tokenisers_agree_on_every_corpus_text(corpus):
    for item in corpus:
        for text in (item.title, item.text):
            fast = analyse_field(text)
            slow = tokenize_with_offsets(text)
            assert [t.raw for t in slow.tokens if t.first == t.last] == fast.tokens, item.id
            assert [(t.raw, t.first, t.last) for t in slow.tokens if t.first != t.last] == \
                fast.joins, item.id


def test_shipped_rules_on_the_corpus_agree_with_the_reference(corpus):
    engine = Engine(SHIPPED)
    fired = {item.id: [m.rule_id for m in engine.match(item)] for item in corpus}
    # Articles something fired on and a spread sample of the others (the reference is slow).
    hits = [item for item in corpus if fired[item.id]]
    assert hits                      # a few corpus articles are about Russia and Ukraine
    checked = hits[:10] + corpus[::120]
    for item in checked:
        document = Document.from_article(item)
        assert fired[item.id] == [r.id for r in SHIPPED if rule_matches(r, document)], item.id
