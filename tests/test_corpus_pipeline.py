"""The pipeline on the real corpus (../shared/corpus) finds what the engine finds article by
article, and alerts every subscribed story once.

The pipeline matches in batches, verifies without computing hits and writes only the
matches of followed rules as waiting for alerts; before that (issue #15) it matched every
article on its own with hits. Both must give the same matches: this runs the corpus as seed
documents through `Pipeline.run_once` with the shipped rules and rules generated from the
corpus's own words, and compares every article's stored matches with `Engine.match`.
"""

from __future__ import annotations

import asyncio
import json
import random
import shutil
from collections import defaultdict

import pytest

from monitor.config import load_config
from monitor.matching.analysis import analyse_field
from monitor.pipeline import Pipeline
from monitor.store import Store
from tests.conftest import CORPUS, REPO

ARTICLES = CORPUS / "articles.jsonl"
pytestmark = pytest.mark.skipif(not ARTICLES.exists(),
                                reason=f"corpus absent: {ARTICLES} (robustness runs need it)")


def generated_rules(records: list[dict], count: int) -> list[str]:
    """Queries of the common shapes over words of the corpus, so that they do match."""
    words = sorted({word for record in records[:300]
                    for field in (record.get("title") or "", record.get("text") or "")
                    for word in analyse_field(field).words
                    if word.isalpha() and 4 <= len(word) <= 12})
    pick = random.Random(15)
    shapes = ["{a} AND {b}", "({a} OR {b}) AND NOT {c}", '"{a} {b}" OR {c}', "{p}* AND {b}",
              "{a} NEAR/5 {b}", "title:{a} OR body:{b}", "{a} AND lang:de", '"{a}"', "{a}"]
    queries = []
    for number in range(count):
        a, b, c = pick.sample(words, 3)
        queries.append(shapes[number % len(shapes)].format(a=a, b=b, c=c, p=a[:4]))
    return queries


def test_the_pipeline_matches_and_alerts_the_corpus_as_the_engine_does(tmp_path):
    records = [json.loads(line) for line in ARTICLES.read_text(encoding="utf-8").splitlines()]
    (tmp_path / "seeds").mkdir()
    with (tmp_path / "seeds" / "corpus.jsonl").open("w", encoding="utf-8") as seeds:
        for number, record in enumerate(records):
            seeds.write(json.dumps({
                "title": record.get("title") or "", "text": record.get("text") or "",
                "url": record.get("url"), "language": record.get("lang"),
                "published": f"2026-11-{1 + number % 28:02d}T08:00:00+00:00",
                "source": record.get("sitename") or "corpus"}, ensure_ascii=False) + "\n")
    shutil.copytree(REPO / "rules", tmp_path / "rules")
    lines = []
    for number, query in enumerate(generated_rules(records, 45)):
        lines += ["[[rules]]", f'id = "g{number}"', f"query = {json.dumps(query)}", ""]
    (tmp_path / "rules" / "generated.toml").write_text("\n".join(lines), encoding="utf-8")
    (tmp_path / "config.toml").write_text('[database]\npath = "monitor.db"\n', encoding="utf-8")
    config = load_config(tmp_path / "config.toml")

    with Store(config.database_path) as store:
        pipeline = Pipeline(config, store)
        ruleset, engine = pipeline.engine()
        rule_ids = [rule.id for rule in ruleset]
        followed = {chat: random.Random(chat).sample(rule_ids, 12) for chat in (1, 2, 3)}
        for chat, rules in followed.items():
            store.upsert_subscriber(chat, "private", f"chat {chat}", "de")
            for rule_id in rules:
                store.subscribe(chat, rule_id, "instant")

        report = asyncio.run(pipeline.run_once())

        assert report.new_articles == store.count_articles() > len(records) * 0.95
        stories: dict[str, set[int]] = defaultdict(set)
        matched = 0
        for article in store.iter_articles():
            expected = sorted(match.rule_id for match in engine.match(article))
            assert store.matched_rules(article.id) == expected, article.url
            matched += bool(expected)
            for rule_id in expected:
                stories[rule_id].add(article.story_id)
        assert report.matches == sum(map(len, map(store.matched_rules,
                                                  (a.id for a in store.iter_articles()))))
        assert matched > 100 and len(stories) > 30      # the rules do match the corpus
        # One alert per followed (rule, story): a story reported twice is alerted once.
        assert report.alerts_queued == sum(len(stories[rule_id])
                                           for rules in followed.values() for rule_id in rules)
