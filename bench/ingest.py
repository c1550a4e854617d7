"""Ingest throughput: articles per second through parse → normalise → store.

Real feed files from the shared corpus are parsed over and over until at least --items items
have gone through; each copy's items get their own GUID, link and title, so the store keeps
them all instead of deduplicating. Stored in batches with Store.add_articles into a real
SQLite file (WAL) in a temporary folder.

    .venv/bin/python bench/ingest.py [--items 50000] [--batch 500] [--profile]

Numbers on a shared 2-core machine are noisy: run it twice, and read the CPU columns when
other work is running. Target: 2,000 articles/s.

Where the time went, and what was done (per item, CPU, on this corpus mix):
- parse: feedparser costs ~0.5-1 ms an item in Python SAX callbacks even with its sanitiser
  off, alone capping ingest near 1,000/s. monitor/ingest/fastfeed.py reads well-formed feeds
  with lxml (~0.06-0.12 ms an item) with feedparser's rules (its dates: ingest/feeddates.py),
  proven equal by tests/ingest/test_fastfeed.py and test_feeddates.py; 96% of the corpus
  items take it.
- normalise: py3langid walks every byte in Python (~0.5 µs a byte): detection reads the title
  and the first 300 characters only. Text cleaning is a few regex passes in C.
- store: Store.add_articles had spent most of its time in FTS5 triggers on the raw text
  (~135 of ~170 µs an article); migration m0009 dropped them: the archive's search index
  holds the analyser's terms and is written when an article is matched (bench/pipeline.py
  measures that). Batch size (100-2,000) makes no difference.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from monitor.ingest.normalize import normalize_item
from monitor.ingest.parse import FeedError, parse_feed
from monitor.models import RawItem
from monitor.store import Store

REPO = Path(__file__).resolve().parent.parent
CORPUS_FEEDS = REPO.parent / "shared" / "corpus" / "feeds"
TARGET_PER_SECOND = 2000


@dataclass
class Stage:
    """Wall-clock and CPU time of one stage; CPU time shows what the code costs when other
    work shares the two cores."""

    name: str
    items: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.items / self.seconds if self.seconds else float("inf")

    @property
    def cpu_rate(self) -> float:
        return self.items / self.cpu_seconds if self.cpu_seconds else float("inf")

    def timed(self) -> _Timer:
        return _Timer(self)


class _Timer:
    def __init__(self, stage: Stage):
        self.stage = stage

    def __enter__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc: object) -> None:
        self.stage.seconds += time.perf_counter() - self.wall
        self.stage.cpu_seconds += time.process_time() - self.cpu


def load_feeds(folder: Path) -> list[tuple[str, bytes, int]]:
    """(name, body, item count) of every corpus file that parses to at least one item."""
    feeds = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        body = path.read_bytes()
        try:
            count = len(parse_feed(body, None, f"https://bench.example/{path.name}").items)
        except FeedError:
            continue
        if count:
            feeds.append((path.relative_to(folder).as_posix(), body, count))
    return feeds


def vary(item: RawItem, copy: str) -> RawItem:
    """A distinct article per copy: its own GUID, link and title (so its own content hash)."""
    return replace(
        item,
        title=f"{item.title} [{copy}]",
        guid=f"{item.guid}#copy-{copy}" if item.guid else None,
        url=f"{item.url}{'&' if '?' in item.url else '?'}copy={copy}" if item.url else None,
    )


def run(feeds: list[tuple[str, bytes, int]], target: int, batch: int,
        store: Store) -> tuple[Stage, Stage, Stage, int]:
    parse, normalise, save = Stage("parse"), Stage("normalise"), Stage("store")
    fetched = datetime.now(UTC)
    stored = 0
    copy = 0
    while parse.items < target:
        for number, (name, body, _) in enumerate(feeds):
            with parse.timed():
                items = parse_feed(body, None, f"https://bench.example/{name}").items
            parse.items += len(items)
            # Corpus files repeat each other and items repeat inside files: vary each one.
            items = [vary(item, f"{copy}.{number}.{index}") for index, item in enumerate(items)]

            with normalise.timed():
                articles = [normalize_item(item, source=name.split("/")[0], feed_id=None,
                                           language_hint=None, fetched=fetched)
                            for item in items]
            normalise.items += len(articles)

            with save.timed():
                for start in range(0, len(articles), batch):
                    stored += len(store.add_articles(articles[start:start + batch]))
            save.items += len(articles)
        copy += 1
    return parse, normalise, save, stored


def print_table(stages: list[Stage]) -> None:
    print(f"{'stage':<31}{'items':>8}{'seconds':>9}{'items/s':>9}{'cpu s':>8}{'items/cpu s':>13}")
    for s in stages:
        print(f"{s.name:<31}{s.items:>8,}{s.seconds:>9.2f}{s.rate:>9,.0f}"
              f"{s.cpu_seconds:>8.2f}{s.cpu_rate:>13,.0f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--feeds", type=Path, default=CORPUS_FEEDS)
    parser.add_argument("--profile", action="store_true", help="print the top functions")
    args = parser.parse_args()
    if not args.feeds.is_dir():
        print(f"corpus not found at {args.feeds}: nothing to measure", file=sys.stderr)
        return 2

    feeds = load_feeds(args.feeds)
    per_round = sum(count for _, _, count in feeds)
    print(f"{len(feeds)} corpus feeds, {per_round:,} items a round, "
          f"replicated to at least {args.items:,} items, stored in batches of {args.batch}")

    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "bench.db")
        profiler = cProfile.Profile() if args.profile else None
        if profiler:
            profiler.enable()
        parse, normalise, save, stored = run(feeds, args.items, args.batch, store)
        if profiler:
            profiler.disable()
        total = Stage("total (parse+normalise+store)", parse.items,
                      parse.seconds + normalise.seconds + save.seconds,
                      parse.cpu_seconds + normalise.cpu_seconds + save.cpu_seconds)
        count = store.count_articles()
        store.close()

    print_table([parse, normalise, save, total])
    print(f"stored {stored:,} new articles ({count:,} rows); target {TARGET_PER_SECOND:,}/s "
          f"wall-clock: {'met' if total.rate >= TARGET_PER_SECOND else 'NOT met'}; "
          f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    return 0


if __name__ == "__main__":
    sys.exit(main())
