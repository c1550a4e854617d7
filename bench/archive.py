"""Search and backtest over archives of 1k, 10k and 100k articles: through the index, and
by the scan they replaced.

The archive is the corpus (../shared/corpus/articles.jsonl) replicated. The first copy is the
real corpus; in every further copy each word of four or more letters carries the copy's tag
("putin" → "putinqb"), so copies are new articles with a vocabulary of their own, as a large
archive has, and a query in real words keeps the hits it has on the real corpus: a
*selective* query, whose cost should not grow with the archive. A *common* query ("die",
which every copy has in its short words) has hits everywhere: `search` stops at its limit,
`backtest` verifies them all and must grow. A query with no term to look up is scanned
either way, and says so.

Each archive is built once (store + the match stage's index entries, as the pipeline writes
them) and kept in the cache folder for later runs. Times are the best of `--rounds` runs of
each, index and scan alternating; the scan is skipped at 100k unless `--scan-100k` (~2 min
per query).

    .venv/bin/python bench/archive.py [--sizes 1000,10000,100000] [--rounds 3]
                                      [--cache /tmp/monitor-bench-archive] [--scan-100k]

Targets (issue #15): on 100k articles, search and backtest of a selective query <= 1 s and
<= 3x their time on 1k.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from monitor.matching import Engine, RuleSet, load_rules, make_rule, match_batch  # noqa: E402
from monitor.matching.archive_index import INDEX_VERSION  # noqa: E402
from monitor.matching.tools import (  # noqa: E402
    Candidates,
    backtest,
    search_archive,
)
from monitor.models import Article  # noqa: E402
from monitor.store import Store  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "articles.jsonl"
START = datetime(2026, 1, 1, tzinfo=UTC)
LONG_WORD = re.compile(r"\b(\w{4,})\b")
QUERIES = {
    "selective: Berlin AND Polizei": "Berlin AND Polizei",
    'selective: "Bundesregierung"': '"Bundesregierung"',
    "selective: Kinder* AND Test": "Kinder* AND Test",
    "selective: *schaftlich AND Berlin": "*schaftlich AND Berlin",
    "selective: *schaftlich alone": "*schaftlich",
    "common: die": "die",
    "no term: NOT die": "NOT die",
}


def tag(copy: int) -> str:
    letters = ""
    while copy:
        copy, digit = divmod(copy, 26)
        letters += chr(ord("a") + digit)
    return "q" + letters


def corpus_articles(size: int) -> list[Article]:
    rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    items = []
    for number in range(size):
        copy, row = divmod(number, len(rows))
        row = rows[row]
        mark = (lambda text: LONG_WORD.sub(r"\g<1>" + tag(copy), text)) if copy else str
        when = START + timedelta(minutes=number * 5)      # a year of articles at 100k
        items.append(Article(
            title=mark(row.get("title") or ""), text=mark(row.get("text") or ""),
            url=f"{row['url']}#copy{copy}" if row.get("url") else None, guid=None,
            source=row.get("sitename") or "corpus", language=row.get("lang"),
            published=when, fetched=when, content_hash=f"{number}"))
    return items


def build(path: Path, size: int) -> None:
    """The archive as the pipeline leaves it: stored, matched, indexed."""
    engine = Engine(RuleSet((), {}))
    with Store(path) as store:
        store.reset_index(INDEX_VERSION)
        items = corpus_articles(size)
        for start in range(0, size, 500):
            stored = store.add_articles(items[start:start + 500])
            batch = match_batch(engine, stored)
            store.save_matches([a.id for a in stored], batch.rows, START, batch.terms, batch.words)
        store.unindexed_articles()      # as the next index_archive: notes that none is left


def best(rounds: int, run) -> tuple[float, object]:
    times, result = [], None
    for _ in range(rounds):
        started = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/monitor-bench-archive"))
    parser.add_argument("--scan-100k", action="store_true")
    args = parser.parse_args()
    if not CORPUS.exists():
        print(f"skipped: the corpus is not at {CORPUS}")
        return 0
    args.cache.mkdir(parents=True, exist_ok=True)
    entities = dict(load_rules(REPO / "rules").entities)
    sizes = [int(size) for size in args.sizes.split(",")]
    results: dict[tuple[str, int], dict[str, float]] = {}
    print(f"{'archive':>8} {'query':32} {'cands':>7} {'hits':>6} {'search ms':>10} "
          f"{'backtest ms':>12} {'scan search ms':>15} {'scan backtest ms':>17}")
    for size in sizes:
        path = args.cache / f"archive-{size}-{INDEX_VERSION}.db"
        if not path.exists():
            started = time.perf_counter()
            build(path.with_suffix(".tmp"), size)
            path.with_suffix(".tmp").rename(path)
            print(f"(built {size:,} articles in {time.perf_counter() - started:.0f} s: {path})")
        Store(path).close()         # a cached archive of an older schema is upgraded first
        with Store(path, readonly=True) as store:
            for label, text in QUERIES.items():
                rule = make_rule("q", text, entities)
                row: dict[str, float] = {}
                row["search"], search = best(args.rounds, lambda: search_archive(
                    store, rule, entities, limit=50))
                row["backtest"], result = best(args.rounds, lambda: backtest(
                    store, rule, entities))
                scan = size < 100_000 or args.scan_100k
                if scan:
                    everything = Candidates(store.archive_candidates(None), True)
                    rounds = 1 if size >= 10_000 else args.rounds
                    row["scan_search"], scanned = best(rounds, lambda: search_archive(
                        store, rule, entities, limit=50, candidates=everything))
                    row["scan_backtest"], full = best(rounds, lambda: backtest(
                        store, rule, entities, candidates=everything))
                    assert [f.article.id for f in full.hits] == [
                        f.article.id for f in result.hits], label
                results[label, size] = row
                kind = "scan" if result.candidates.scanned else f"{len(result.candidates):,}"
                cells = [f"{row[key] * 1000:,.0f}" if key in row else "-"
                         for key in ("search", "backtest", "scan_search", "scan_backtest")]
                print(f"{size:>8,} {label:32} {kind:>7} {len(result.hits):>6,} {cells[0]:>10} "
                      f"{cells[1]:>12} {cells[2]:>15} {cells[3]:>17}", flush=True)
    if len(sizes) > 1:
        first, last = sizes[0], sizes[-1]
        print(f"\ngrowth {first:,} -> {last:,} articles ({last // first}x), through the index:")
        for label in QUERIES:
            a, b = results[label, first], results[label, last]
            print(f"  {label:32} search {b['search'] / a['search']:5.1f}x   "
                  f"backtest {b['backtest'] / a['backtest']:5.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
