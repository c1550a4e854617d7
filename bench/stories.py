"""Benchmark: story grouping (speed, precision, recall) and summaries (speed) on the real corpus.

    .venv/bin/python bench/stories.py [--articles 100000] [--sweep 20000] [--seed 7]

Story grouping. Every corpus article is replicated up to --articles articles: the original once,
then copies with light edits, as agencies' texts look on different sites: 2–5 words changed,
dropped or inserted; one sentence dropped (texts of three sentences or more) or two neighbouring
sentences swapped; in a third of the copies one word of the title changed; another source name.
All are published within two days, so all stay inside the 3-day window, and they arrive
shuffled. The time of fingerprint() + StoryIndex.add() is measured, nothing else.

Precision and recall are pairwise: a pair of articles is "predicted" when both got the same story
id, and "true" when both come from the same original. The corpus itself holds a few real
near-duplicates (the same page in two test suites, boilerplate-only pages); originals whose exact
Jaccard similarity on shingles reaches the threshold are taken as one group in the "adjusted"
truth, and the table says how many there were. Originals too short to fingerprint (fewer than
MIN_SHINGLES shingles) are left out: by design each of them is a story of its own.

The threshold sweep regroups the first --sweep articles at other thresholds, and the Jaccard
table shows the data the threshold was chosen from: exact similarity of copies to their
original, and of every original to its nearest other original. The window table feeds add()
alone a stream spread over 3 and over 30 days: over 30 days the index holds a tenth of it, so
memory and lookups stay bounded by the window (each add then also evicts an older article).

Summaries: summarize() on every corpus article, one at a time.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.stories import (
    DEFAULT_THRESHOLD,
    MIN_SHINGLES,
    StoryIndex,
    fingerprint,
    fingerprint_from_bytes,
    fingerprint_to_bytes,
    shingles,
)
from monitor.summarize import split_sentences, summarize

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
START = datetime(2024, 3, 1, tzinfo=UTC)
SWEEP_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--sweep", type=int, default=20_000,
                        help="articles for the threshold sweep")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    path = args.corpus / "articles.jsonl"
    if not path.exists():
        print(f"corpus not found at {path}: nothing to measure", file=sys.stderr)
        return 2
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    bench_summaries(records)
    bench_stories(records, args.articles, args.sweep, random.Random(args.seed))
    return 0


# --- summaries ------------------------------------------------------------------------------------

def bench_summaries(records: list[dict]) -> None:
    timings = []
    lengths: Counter[int] = Counter()
    for record in records:
        started = time.perf_counter()
        summary = summarize(record["title"] or "", record["text"] or "", record["lang"] or "")
        timings.append(time.perf_counter() - started)
        lengths[len(summary.sentences)] += 1
    total = sum(timings)
    timings.sort()
    print_table("Summaries: summarize() on every corpus article",
                ["articles", "seconds", "articles/s", "p50 ms", "p99 ms", "max ms",
                 "sentences 0/1/2/3"],
                [[len(records), f"{total:.2f}", f"{len(records) / total:,.0f}",
                  f"{timings[len(timings) // 2] * 1e3:.2f}",
                  f"{timings[int(len(timings) * 0.99)] * 1e3:.2f}",
                  f"{timings[-1] * 1e3:.1f}", "/".join(str(lengths[n]) for n in range(4))]])


# --- stories --------------------------------------------------------------------------------------

def bench_stories(records: list[dict], total: int, sweep: int, rng: random.Random) -> None:
    originals = [r for r in records if fingerprint(r["title"] or "", r["text"] or "")]
    left_out = len(records) - len(originals)
    sentences = [split_sentences(r["text"], r["lang"] or "") for r in originals]
    vocabulary = sorted({w for r in originals[:200] for w in r["text"].split() if w.isalpha()})
    order = list(range(total))
    rng.shuffle(order)

    index = StoryIndex(threshold=DEFAULT_THRESHOLD)
    truth: list[int] = [0] * total
    predicted: list[int] = [0] * total
    kept: list[bytes] = []
    copy_jaccard: list[float] = []
    seconds = 0.0
    for article_id, slot in enumerate(order):
        original = slot % len(originals)
        record = originals[original]
        if slot < len(originals):
            title, text = record["title"] or "", record["text"]
        else:
            title, text = edited_copy(rng, record["title"] or "", sentences[original], vocabulary)
        published = START + timedelta(seconds=rng.uniform(0, 2 * 86400))
        source = f"site{rng.randrange(1000)}.example"
        started = time.perf_counter()
        fp = fingerprint(title, text)
        story_id = index.add(article_id, fp, published, source)
        seconds += time.perf_counter() - started
        truth[article_id] = original
        predicted[article_id] = story_id
        if article_id < sweep:
            kept.append(fingerprint_to_bytes(fp))
        if slot >= len(originals) and len(copy_jaccard) < 3000:
            original_shingles = shingles(record["title"] or "", record["text"])
            copy_jaccard.append(jaccard(shingles(title, text), original_shingles))

    similar = similar_originals([shingles(r["title"] or "", r["text"]) for r in originals])
    near = near_duplicate_groups(similar, DEFAULT_THRESHOLD)
    adjusted = [near[t] for t in truth]
    precision, recall = pairwise(predicted, truth)
    adjusted_precision, adjusted_recall = pairwise(predicted, adjusted)
    merged = len(originals) - len(set(near))
    print_table(
        f"Story grouping: fingerprint + add, threshold {DEFAULT_THRESHOLD}, 3-day window "
        f"({len(originals)} originals; {left_out} with fewer than {MIN_SHINGLES} shingles "
        "left out)",
        ["articles", "seconds", "articles/s", "precision", "recall", "stories", "true stories"],
        [[total, f"{seconds:.1f}", f"{total / seconds:,.0f}", f"{precision:.4f}", f"{recall:.4f}",
          len(set(predicted)), len(set(truth))],
         [f"adjusted: {merged} originals near-identical to another", "", "",
          f"{adjusted_precision:.4f}", f"{adjusted_recall:.4f}", "", len(set(adjusted))]],
    )
    threshold_sweep(kept, truth[:len(kept)], similar)
    jaccard_table(similar, copy_jaccard)
    sliding_window(kept, total)


def edited_copy(rng: random.Random, title: str, sentences: list[str],
                vocabulary: list[str]) -> tuple[str, str]:
    """A lightly edited copy: a sentence dropped or two swapped, a few words changed."""
    sentences = list(sentences)
    if len(sentences) >= 3 and rng.random() < 0.5:
        del sentences[rng.randrange(len(sentences))]
    elif len(sentences) >= 2:
        at = rng.randrange(len(sentences) - 1)
        sentences[at], sentences[at + 1] = sentences[at + 1], sentences[at]
    words = " ".join(sentences).split()
    for _ in range(rng.randint(2, 5)):
        at = rng.randrange(len(words))
        edit = rng.choice(("change", "drop", "insert"))
        if edit == "change":
            words[at] = rng.choice(vocabulary)
        elif edit == "drop" and len(words) > 1:
            del words[at]
        else:
            words.insert(at, rng.choice(vocabulary))
    title_words = title.split()
    if title_words and rng.random() < 1 / 3:
        title_words[rng.randrange(len(title_words))] = rng.choice(vocabulary)
    return " ".join(title_words), " ".join(words)


def sliding_window(kept: list[bytes], total: int) -> None:
    """add() alone over a stream ten times longer than the window: the index stays window-sized."""
    fps = [fingerprint_from_bytes(fp) for fp in kept]
    rows = []
    for days in (3, 30):
        index = StoryIndex(window_days=3)
        step = timedelta(days=days) / total
        peak = 0
        started = time.perf_counter()
        for article_id in range(total):
            index.add(article_id, fps[article_id % len(fps)], START + article_id * step, "s")
            peak = max(peak, len(index))
        seconds = time.perf_counter() - started
        rows.append([total, days, f"{seconds:.1f}", f"{total / seconds:,.0f}", peak, len(index)])
    print_table("Window: add() alone, the kept fingerprints over and over, 3-day window",
                ["articles", "over days", "seconds", "adds/s", "peak in window",
                 "in window at end"], rows)


def threshold_sweep(kept: list[bytes], truth: list[int], similar: list[dict[int, float]]) -> None:
    rows = []
    for threshold in SWEEP_THRESHOLDS:
        index = StoryIndex(threshold=threshold)
        published = [START + timedelta(seconds=i) for i in range(len(kept))]
        predicted = [index.add(i, fingerprint_from_bytes(fp), published[i], "s")
                     for i, fp in enumerate(kept)]
        near = near_duplicate_groups(similar, threshold)
        adjusted = [near[t] for t in truth]
        precision, recall = pairwise(predicted, truth)
        adjusted_precision, adjusted_recall = pairwise(predicted, adjusted)
        rows.append([threshold, len(kept), f"{precision:.4f}", f"{recall:.4f}",
                     f"{adjusted_precision:.4f}", f"{adjusted_recall:.4f}", len(set(predicted)),
                     len(set(adjusted))])
    print_table("Threshold sweep (the same articles regrouped; adjusted: "
                "near-identical originals joined)",
                ["threshold", "articles", "precision", "recall", "adj. precision", "adj. recall",
                 "stories", "adj. true stories"], rows)


def jaccard_table(similar: list[dict[int, float]], copy_jaccard: list[float]) -> None:
    nearest = [max(others.values(), default=0.0) for others in similar]
    rows = [
        ["copy vs its original", len(copy_jaccard), *percentiles(copy_jaccard)],
        ["original vs nearest other original", len(nearest), *percentiles(nearest)],
    ]
    print_table("Exact Jaccard similarity of shingle sets (the data behind the threshold)",
                ["pairs", "n", "min", "p1", "p5", "p50", "p95", "p99", "max"], rows)
    for bound in (0.2, 0.3, 0.5):
        print(f"originals whose nearest other original has Jaccard >= {bound}: "
              f"{sum(1 for j in nearest if j >= bound)}")


# --- helpers --------------------------------------------------------------------------------------

def jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def similar_originals(sets: list[set[int]]) -> list[dict[int, float]]:
    """For every original, the others sharing a shingle with it, and their exact Jaccard."""
    postings: dict[int, list[int]] = defaultdict(list)
    for number, hashes in enumerate(sets):
        for h in hashes:
            postings[h].append(number)
    result = []
    for number, hashes in enumerate(sets):
        shared: Counter[int] = Counter()
        for h in hashes:
            shared.update(postings[h])
        del shared[number]
        result.append({other: count / (len(hashes) + len(sets[other]) - count)
                       for other, count in shared.items()})
    return result


def near_duplicate_groups(similar: list[dict[int, float]], threshold: float) -> list[int]:
    """Group number per original: originals with exact Jaccard >= threshold share one."""
    parent = list(range(len(similar)))

    def root(n: int) -> int:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for number, others in enumerate(similar):
        for other, j in others.items():
            if j >= threshold:
                parent[root(number)] = root(other)
    return [root(n) for n in range(len(similar))]


def pairwise(predicted: list[int], truth: list[int]) -> tuple[float, float]:
    """Pairwise precision and recall of a grouping against the true groups."""
    def pairs(counts: Counter) -> int:
        return sum(n * (n - 1) // 2 for n in counts.values())

    both = pairs(Counter(zip(predicted, truth, strict=True)))
    in_predicted, in_truth = pairs(Counter(predicted)), pairs(Counter(truth))
    return (both / in_predicted if in_predicted else 1.0), (both / in_truth if in_truth else 1.0)


def percentiles(values: list[float]) -> list[str]:
    ordered = sorted(values)
    inner = [ordered[min(len(ordered) - 1, int(len(ordered) * q))]
             for q in (0.01, 0.05, 0.5, 0.95, 0.99)]
    return [f"{v:.3f}" for v in [ordered[0], *inner, ordered[-1]]]


def print_table(title: str, header: list[str], rows: list[list]) -> None:
    cells = [header] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    print(f"\n{title}")
    for number, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        if number == 0:
            print("  ".join("-" * w for w in widths))


if __name__ == "__main__":
    sys.exit(main())
