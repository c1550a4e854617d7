"""Worst-case queries against the longest articles: time, memory and the work budget.

The queries are the hostile shapes of issue #14 and of the property tests
(tests/matching/test_engine_property.py, tests/matching/test_bounded.py): chains of NEAR up
to the limit of operands, with huge and with tiny distances, nested chains of phrases and
OR-groups, OR-groups of phrases, entities, and as many `*mid*` wildcards as a query may have
(and 55 of them over three rules). Each runs, as a rule set of its own with a fresh engine,
over the longest articles of the corpus (../shared/corpus/articles.jsonl), and then over
synthetic articles made to hurt: 32 kB of "die der und das", 1 MB of it, and 1 MB of long
tokens.

Per query: milliseconds per article for the engine (analysis included, the engine's word tables
cold: each article is the first the engine sees with its words; the analyser's word forms
warm, as in a running service), max and median; the reference evaluator's max
(`rules explain` uses it); the peak of memory allocated while matching (tracemalloc, a
separate pass); the verification steps of the hungriest article; and on how many articles
the budget ran out (those rules do not match those articles and are reported).

    .venv/bin/python bench/adversarial.py [--articles 10] [--no-synthetic] [--no-reference]

Targets on the project machine: every query <= 50 ms per corpus article and <= 200 MB.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.matching import (  # noqa: E402
    ANALYZER,
    Document,
    Engine,
    RuleSet,
    load_rules,
    make_rule,
)
from monitor.matching.evaluate import rule_matches  # noqa: E402
from monitor.matching.query import MAX_WILDCARD_WORD  # noqa: E402
from monitor.models import Article  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "articles.jsonl"
TARGET_MS = 50.0
TARGET_MB = 200.0

LETTERS = "abcdefghijklmnopqrstuvwxyz" * 3
INFIX_55 = [f"*{LETTERS[n % 26:n % 26 + 3 + n]}*" for n in range(55)]


def chain(words: list[str], distance: int) -> str:
    return f" NEAR/{distance} ".join(words)


QUERIES: dict[str, list[str]] = {
    "4 NEAR/1000 (issue)": [chain(["die", "der", "und", "das"], 1000)],
    "5 NEAR/1000 (issue)": [chain(["die", "der", "und", "das", "ein"], 1000)],
    "8 NEAR/1000, en": [chain(["the", "of", "and", "to", "a", "in", "is", "that"], 1000)],
    "8 NEAR/1": [chain(["die", "der", "und", "das"] * 2, 1)],
    "8 NEAR/1000 of OR-groups": [chain(["(die OR der OR the)", "(und OR and OR das)",
                                        "(in OR of OR zu)", "(ein OR eine OR a)"] * 2, 1000)],
    "nested chain of phrases": ['("die der" NEAR/3 (und OR das)) NEAR/1000 '
                                '("und das" NEAR/2 die) NEAR/1000 '
                                '("of the" NEAR/5 (and OR to)) NEAR/1000 ("in the" NEAR/9 a)'],
    "entities chained": ["@putin NEAR/1000 @russia NEAR/1000 @kim-jong-un NEAR/1000 "
                         "@north-korea NEAR/1000 @ukraine"],
    "OR of 100 phrases": [" OR ".join(f'"{a} {b}"' for a in ("die", "der", "und", "das", "the",
                                                             "of", "and", "to", "in", "a")
                                      for b in ("die", "der", "und", "das", "the", "of", "and",
                                                "to", "in", "a"))],
    "20 *mid* wildcards": [" OR ".join(INFIX_55[:20])],
    "55 *mid* over 3 rules (issue)": [" OR ".join(INFIX_55[n:n + 20]) for n in (0, 20, 40)],
    "20 wildcards AND a chain": [" OR ".join(["*ung*", "*heit", "*lich*", "*tion*", "*ing",
                                              "*sch*", "*ver*", "*ent*", "*ier*", "*and*"]
                                             + INFIX_55[:10])
                                 + " AND " + chain(["die", "der", "und", "das"] * 2, 10)],
}


def load_corpus(count: int) -> list[Article]:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    rows.sort(key=lambda row: len(row.get("text") or ""), reverse=True)
    return [Article(title=row.get("title") or "", text=row.get("text") or "", url=row.get("url"),
                    guid=None, source=row.get("sitename") or "corpus",
                    language=row.get("lang") or "und", published=now, fetched=now,
                    content_hash=str(number), id=number)
            for number, row in enumerate(rows[:count], 1)]


def repeated(words: str, size: int) -> str:
    text = (words + " ") * (size // (len(words) + 1) + 1)
    return text[:text.rfind(" ", 0, size)]


def long_tokens(length: int, size: int) -> str:
    rng = random.Random(1)
    tokens: list[str] = []
    total = 0
    while total < size:
        tokens.append("abc" + "".join(rng.choices("abcdefghijklmnopqrstuvwxyz", k=length - 3)))
        total += length + 1
    return " ".join(tokens)


def synthetic() -> list[Article]:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    texts = {
        "32 kB 'die der und das'": repeated("die der und das", 32_000),
        "1 MB 'die der und das ein'": repeated("die der und das ein", 1_000_000),
        "1 MB tokens of 1000 chars": long_tokens(1_000, 1_000_000),
        f"1 MB tokens of {MAX_WILDCARD_WORD} chars": long_tokens(MAX_WILDCARD_WORD, 1_000_000),
    }
    return [Article(title=name, text=text, url=None, guid=None, source="synthetic",
                    language="de", published=now, fetched=now, content_hash=name, id=-n)
            for n, (name, text) in enumerate(texts.items(), 1)]


@dataclass
class Result:
    name: str
    times: list[float]
    reference: list[float]
    peak_mb: float
    steps: int
    over: int
    articles: int

    def line(self, targets: bool) -> str:
        worst, median = max(self.times), statistics.median(self.times)
        reference = f"{max(self.reference):>9,.0f}" if self.reference else f"{'-':>9}"
        verdict = ""
        if targets:
            verdict = "ok" if worst <= TARGET_MS and self.peak_mb <= TARGET_MB else "MISSED"
        budget = f"{self.over}/{self.articles}" if self.over else "no"
        return (f"{self.name:<30} {worst:>8.1f} {median:>8.1f} {reference} "
                f"{self.peak_mb:>8.1f} {self.steps:>9,} {budget:>7} {verdict:>6}")


def run(name: str, queries: list[str], articles: list[Article], entities: dict,
        reference: bool) -> Result:
    def fresh() -> Engine:
        rules = tuple(make_rule(f"q{n}", q, entities) for n, q in enumerate(queries))
        return Engine(RuleSet(rules, entities))

    for article in articles:     # the analyser's word forms are warm in a running service
        analyzed = ANALYZER.analyse(article)
        list(map(ANALYZER.cache(analyzed.profile).__getitem__,
                 analyzed.title.words | analyzed.body.words))

    engine = fresh()
    times, over = [], 0
    for article in articles:
        start = time.perf_counter()
        report = engine.match_report(article)
        times.append((time.perf_counter() - start) * 1000)
        over += bool(report.exceeded)
    steps = max(max(fresh().debug().verification_work(article).values()) for article in articles)
    references = []
    if reference:
        for article in articles:
            start = time.perf_counter()
            document = Document.from_article(article)
            for rule in engine.ruleset:
                rule_matches(rule, document)
            references.append((time.perf_counter() - start) * 1000)
    peak = measure_peak(lambda: [fresh().match_report(article) for article in articles])
    return Result(name, times, references, peak, steps, over, len(articles))


def measure_peak(function: Callable[[], object]) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        function()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 1e6


HEADER = (f"{'query':<30} {'max ms':>8} {'median':>8} {'ref max':>9} {'peak MB':>8} "
          f"{'steps':>9} {'budget':>7} {'target':>6}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--articles", type=int, default=10, help="longest corpus articles")
    parser.add_argument("--no-synthetic", action="store_true")
    parser.add_argument("--no-reference", action="store_true",
                        help="skip timing the reference evaluator")
    args = parser.parse_args()
    entities = dict(load_rules(REPO / "rules").entities)
    reference = not args.no_reference
    if CORPUS.exists():
        articles = load_corpus(args.articles)
        sizes = sorted(len(a.text) for a in articles)
        print(f"{len(articles)} longest corpus articles: {sizes[0]:,} to {sizes[-1]:,} "
              f"characters")
        print(HEADER)
        results = [run(name, queries, articles, entities, reference)
                   for name, queries in QUERIES.items()]
        for result in results:
            print(result.line(targets=True))
        missed = [r.name for r in results
                  if max(r.times) > TARGET_MS or r.peak_mb > TARGET_MB]
        print(f"target: <= {TARGET_MS:.0f} ms per article and <= {TARGET_MB:.0f} MB: "
              + ("all met" if not missed else f"MISSED by {', '.join(missed)}"))
    else:
        print(f"corpus not found at {CORPUS}: the corpus table is skipped "
              f"(the synthetic articles below need no corpus)")
    if not args.no_synthetic:
        made = synthetic()
        print(f"\nsynthetic articles (no target; 1 MB takes longer to analyse alone): "
              f"{', '.join(a.title for a in made)}")
        print(HEADER)
        for name, queries in QUERIES.items():
            print(run(name, queries, made, entities, reference).line(targets=False))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nms: engine.match_report per article, analysis included, word tables cold; ref "
          f"max: the reference evaluator\n(rules explain); peak MB: tracemalloc while "
          f"matching; steps: the most verification steps one\nrule took on one article "
          f"(budget {Engine(RuleSet((), {})).budget.verify:,}); budget: articles a rule ran "
          f"out on. Process peak RSS {peak:,.0f} MB.")


if __name__ == "__main__":
    main()
