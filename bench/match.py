"""Rule matching throughput: articles per second for 1,000, 10,000 and 100,000 rules.

The articles are the real corpus (../shared/corpus/articles.jsonl, 1,571 articles in German,
English, Russian and more). Rules are generated from that corpus's own vocabulary so that they
do match, in the mix analysts write: single words, ANDs (explicit and implicit), ORs of
synonyms, phrases taken from real word pairs, NOTs, NEARs, prefix and suffix wildcards (6+
fixed characters), title: and lang: restrictions, and entities with 2–4 aliases. Words are
drawn from those that occur in at least 3 articles and whose analysed forms occur in at most 5%
of them: what monitoring rules are made of (names, places, topics), neither function words nor
one-offs.

Measured in one process, each as the best of --repeat passes over all articles (the machine
is shared, so the best pass is the least disturbed one; the median pass is printed beside it).
The passes go in rounds over all rule counts, so that every row is timed across the same
stretch of time:

- analysis alone, as the issue defines text analysis: tokenising, the forms (exact and stem)
  of every word and their positions, i.e. the analysed token stream an index would take.
  Also, as a lower bound, tokenising and the forms of each distinct word without positions
  (the engine itself needs positions only for the few words phrases, NEAR and hits ask
  for). Both once at the start and again in each row right after the engine's passes, in
  the same process state; "vs analysis" compares with the row's own full analysis and, in
  brackets, with the lower bound;
- the engine at each rule count, after a first pass that builds the per-language indexes and
  warms the word caches (the "first pass" column shows that one separately);
- candidates and matches per article (rules verified / rules matched);
- naive evaluation: every rule on every article, with the reference evaluator (straight
  evaluation of the query tree on the article's tokens; timed on 500 rules, extrapolated) and
  with the engine's own compiled matchers but no presearch (all rules, on a few articles);
- a check that the engine and the reference evaluator agree (1,000 rules, 10 articles).

    .venv/bin/python bench/match.py [--rules 1000,10000,100000] [--repeat 5] [--seed 1]

Targets on the project machine: >= 3,000 articles/s at 1k rules, >= 1,500 at 10k, >= 300 at
100k, and at 10k rules at least half the throughput of analysis alone.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.matching import ANALYZER, Document, Engine, RuleSet, make_rule
from monitor.matching.analysis import analyse_field, profile_for
from monitor.matching.collector import FREEZE_FROM, out_of_collectors_sight
from monitor.matching.evaluate import rule_matches
from monitor.matching.rules import Entity
from monitor.models import Article

CORPUS = REPO.parent / "shared" / "corpus" / "articles.jsonl"
TARGETS = {1_000: 3_000, 10_000: 1_500, 100_000: 300}
NAIVE_RULES = 500          # naive evaluation is timed on this many rules and extrapolated
CHECKED_RULES = 1_000      # engine == reference is checked on this many rules, 10 articles


def load_articles() -> list[Article]:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    articles = []
    for number, line in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), 1):
        row = json.loads(line)
        url = row.get("url")
        source = row.get("sitename") or (urlsplit(url).hostname if url else None) or "corpus"
        articles.append(Article(
            title=row.get("title") or "", text=row.get("text") or "", url=url, guid=None,
            source=source, language=row.get("lang") or "und", published=now, fetched=now,
            content_hash=str(number), id=number))
    return articles


class Vocabulary:
    """Words and real word pairs of the corpus, by document frequency.

    Frequency is counted on the analysed forms (the folded word and its stem in each of the
    corpus's main languages), because that is what a rule term matches: "Uber" is rare as
    written but its folded form is the German "über".
    """

    def __init__(self, articles: list[Article], rng: random.Random):
        self.rng = rng
        self.languages = [code for code, _ in
                          Counter(a.language for a in articles).most_common(5)]
        profiles = {profile_for(code) for code in self.languages}
        surface: Counter[str] = Counter()
        analysed: Counter[str] = Counter()
        pairs: Counter[tuple[str, str]] = Counter()
        for article in articles:
            tokens = [t for t in analyse_field(article.text).tokens if t.isalpha()]
            words = set(tokens)
            surface.update({w.casefold() for w in words})
            profile = profile_for(article.language)
            analysed.update({form for w in words for form in ANALYZER.forms(profile, w)})
            pairs.update(set(pairwise(tokens)))
        limit = 0.05 * len(articles)

        def rare(word: str) -> bool:
            forms = {form for p in profiles for form in ANALYZER.forms(p, word)}
            return max(analysed[form] for form in forms) <= limit

        self.words = sorted(w for w, df in surface.items() if df >= 3 and len(w) >= 3 and rare(w))
        useful = set(self.words)
        self.pairs = sorted(p for p, n in pairs.items()
                            if n >= 2 and p[0].casefold() in useful and p[1].casefold() in useful)
        self.long_words = [w for w in self.words if len(w) >= 9]

    def word(self) -> str:
        return self.rng.choice(self.words)

    def phrase(self) -> str:
        first, second = self.rng.choice(self.pairs)
        return f'"{first} {second}"'

    def prefix(self) -> str:
        word = self.rng.choice(self.long_words)
        return word[:self.rng.randint(6, len(word) - 2)] + "*"

    def suffix(self) -> str:
        word = self.rng.choice(self.long_words)
        return "*" + word[-self.rng.randint(6, len(word) - 2):]


def make_entities(vocabulary: Vocabulary, count: int = 300) -> dict[str, Entity]:
    entities = {}
    for number in range(count):
        aliases = []
        for _ in range(vocabulary.rng.randint(2, 4)):
            if vocabulary.rng.random() < 0.5:
                aliases.append(" ".join(vocabulary.rng.choice(vocabulary.pairs)))
            else:
                aliases.append(vocabulary.word())
        entity_id = f"e{number}"
        entities[entity_id] = Entity(entity_id, entity_id, tuple(aliases))
    return entities


def make_query(v: Vocabulary, entities: list[str]) -> str:
    r = v.rng.random()
    if r < 0.15:
        return v.word()
    if r < 0.30:
        return f"{v.word()} AND {v.word()}"
    if r < 0.40:
        return f"{v.word()} {v.word()} {v.word()}"
    if r < 0.55:
        return f"({v.word()} OR {v.word()} OR {v.word()}) AND {v.word()}"
    if r < 0.68:
        return v.phrase() + (f" AND {v.word()}" if v.rng.random() < 0.5 else "")
    if r < 0.76:
        return f"{v.word()} AND NOT {v.word()}" if v.rng.random() < 0.5 else \
            f"{v.word()} {v.word()} -{v.word()}"
    if r < 0.81:
        return f"{v.word()} NEAR/{v.rng.randint(2, 10)} {v.word()}"
    if r < 0.86:
        return f"{v.prefix()} AND {v.word()}"
    if r < 0.89:
        return f"{v.suffix()} AND {v.word()}"
    if r < 0.95:
        return f"@{v.rng.choice(entities)} AND ({v.word()} OR {v.word()})"
    if r < 0.98:
        return f"title:{v.word()} AND {v.word()}"
    return f"lang:{v.rng.choice(v.languages)} AND {v.word()}"


def make_rules(count: int, vocabulary: Vocabulary, entities: dict[str, Entity]) -> RuleSet:
    ids = sorted(entities)
    rules = [make_rule(f"r{n}", make_query(vocabulary, ids), entities) for n in range(count)]
    return RuleSet(tuple(rules), entities)


def one_pass(function, articles: list[Article]) -> float:
    """Seconds of one pass of function over all articles."""
    start = time.perf_counter()
    for article in articles:
        function(article)
    return time.perf_counter() - start


def best_pass(function, articles: list[Article], repeat: int) -> float:
    """Seconds of the fastest of `repeat` passes of function over all articles."""
    return min(one_pass(function, articles) for _ in range(repeat))


def analysis_only(article: Article) -> None:
    """Analysis as the issue defines it: words, their forms and their positions, i.e. the
    forms of the word at every position and of every joined compound at its positions, as
    an analyser hands them to an index (rules-language.md: forms and positions)."""
    analyzed = ANALYZER.analyse(article)
    forms = ANALYZER.cache(analyzed.profile).__getitem__
    for text in (analyzed.title, analyzed.body):
        list(map(forms, text.tokens))
        [(forms(joined), first, last) for joined, first, last in text.joins]


def analysis_words_only(article: Article) -> None:
    """Tokenising and the forms of each distinct word, no positions (a lower bound)."""
    analyzed = ANALYZER.analyse(article)
    list(map(ANALYZER.cache(analyzed.profile).__getitem__,
             analyzed.title.words | analyzed.body.words))


def evaluate_all(ruleset: RuleSet, document: Document) -> list[bool]:
    return [rule_matches(rule, document) for rule in ruleset]


def per_article_seconds(function, articles: list[Article]) -> float:
    return best_pass(function, articles, 1) / len(articles)


@dataclass
class Row:
    """One rule count: its rules and engine, and the timed passes made over the articles."""

    count: int
    engine: Engine
    load_seconds: float
    first_pass: float
    naive_rate: float
    engine_passes: list[float] = field(default_factory=list)
    analysis_passes: list[float] = field(default_factory=list)
    words_passes: list[float] = field(default_factory=list)

    @classmethod
    def build(cls, count: int, vocabulary: Vocabulary, entities: dict[str, Entity],
              articles: list[Article], sample: list[Article], rng: random.Random) -> Row:
        """Rules, engine, first pass, the check against the reference evaluator and naive
        evaluation: everything but the timed passes (the same random draws, in the same
        order, as when rows were timed one after the other)."""
        start = time.perf_counter()
        ruleset = make_rules(count, vocabulary, entities)
        engine = Engine(ruleset)
        if count >= FREEZE_FROM:               # as the pipeline does with its rules
            out_of_collectors_sight()
        load_seconds = time.perf_counter() - start
        first_pass = one_pass(engine.match, articles)

        checked = {rule.id for rule in rng.sample(ruleset.rules, min(count, CHECKED_RULES))}
        for article in rng.sample(articles, 10):
            document = Document.from_article(article)
            expected = [r.id for r in ruleset if r.id in checked and rule_matches(r, document)]
            found = [m.rule_id for m in engine.match(article) if m.rule_id in checked]
            assert found == expected, article.id

        some_rules = RuleSet(ruleset.rules[:NAIVE_RULES], entities)
        pair_seconds = per_article_seconds(
            lambda a: evaluate_all(some_rules, Document.from_article(a)), sample
        ) / len(some_rules)
        print(f"  {count:,} rules built", file=sys.stderr)
        return cls(count, engine, load_seconds, first_pass,
                   1 / (pair_seconds * count))

    def line(self, articles: list[Article], sample: list[Article]) -> str:
        """The table row; counts candidates and matches, and times matching without the
        presearch (which compiles every rule's test), after all timed passes."""
        engine, n = self.engine, len(articles)
        rate = n / min(self.engine_passes)
        median = n / statistics.median(self.engine_passes)
        analysis_rate = n / min(self.analysis_passes)
        words_rate = n / min(self.words_passes)
        analysed = [ANALYZER.analyse(a) for a in articles]
        debug = engine.debug()
        candidates = sum(len(debug.candidates(a)) for a in analysed) / n
        matched = sum(len(engine.match_text(a).matches) for a in analysed) / n
        no_presearch_rate = 1 / per_article_seconds(debug.without_presearch, sample)
        target = TARGETS.get(self.count)
        verdict = "" if target is None else ("ok" if rate >= target else "MISSED")
        return (f"{self.count:>8,} {self.load_seconds:>7.1f} {n / self.first_pass:>9,.0f}/s "
                f"{rate:>11,.0f} {median:>7,.0f} "
                f"{(str(target) + ' ' + verdict) if target else '':>7} "
                f"{analysis_rate:>11,.0f} "
                f"{f'{rate / analysis_rate:.0%} ({rate / words_rate:.0%})':>16} "
                f"{candidates:>9.1f} {matched:>9.2f} "
                f"{self.naive_rate:>12.3g} {no_presearch_rate:>13.3g}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", default="1000,10000,100000")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--naive-sample", type=int, default=6,
                        help="articles used to time naive evaluation")
    args = parser.parse_args()
    if not CORPUS.exists():
        sys.exit(f"corpus not found: {CORPUS}")
    rng = random.Random(args.seed)
    articles = load_articles()
    vocabulary = Vocabulary(articles, rng)
    entities = make_entities(vocabulary)
    print(f"{len(articles)} corpus articles, {sum(len(a.text) for a in articles) // len(articles)}"
          f" characters on average; vocabulary {len(vocabulary.words)} words, "
          f"{len(vocabulary.pairs)} word pairs; {len(entities)} entities")

    best_pass(analysis_only, articles, 1)                       # warm the word-form cache
    analysis_seconds = best_pass(analysis_only, articles, args.repeat)
    analysis_rate = len(articles) / analysis_seconds
    words_rate = len(articles) / best_pass(analysis_words_only, articles, args.repeat)
    print(f"analysis alone: {analysis_rate:,.0f} articles/s "
          f"({analysis_seconds / len(articles) * 1e6:,.0f} µs per article); without "
          f"positions, forms of distinct words only: {words_rate:,.0f} articles/s\n")

    # The same articles for every rule count, so that naive rates compare (long articles cost
    # the reference evaluator far more than short ones).
    sample = rng.sample(articles, args.naive_sample)
    header = (f"{'rules':>8} {'load s':>7} {'first pass':>11} {'articles/s':>11} {'median':>7} "
              f"{'target':>7} {'analysis/s':>11} {'vs analysis':>16} {'cand/art':>9} "
              f"{'match/art':>9} "
              f"{'naive art/s':>12} {'no-presearch':>13}")
    # Every row is built first; then the timed passes go in rounds over all rows, so that
    # each row's passes are spread over the same stretch of time (the machine's speed swings
    # by up to 40% for minutes at a time: rows timed one after the other compared stretches).
    rows = [Row.build(int(n), vocabulary, entities, articles, sample, rng)
            for n in args.rules.split(",")]
    for _ in range(args.repeat):
        for row in rows:
            row.engine_passes.append(one_pass(row.engine.match, articles))
            row.analysis_passes.append(one_pass(analysis_only, articles))
            row.words_passes.append(one_pass(analysis_words_only, articles))
    lines = [row.line(articles, sample) for row in rows]
    print(header, *lines, sep="\n", end="\n\n")
    print(f"articles/s: best of {args.repeat} passes after the first, in rounds over the rows "
          "(wall clock, one process);\nmedian: the median pass; naive and no-presearch: sampled "
          "and extrapolated; the engine's\nresults equal the reference evaluator's on the rules "
          "and articles checked.")
    print("Target at 10k rules also: at least 50% of analysis alone ('vs analysis').")


if __name__ == "__main__":
    main()
