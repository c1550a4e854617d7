"""The matching step against two published embedded percolators: perq and mokaccino.

    .venv/bin/python bench/peers.py [--rules 1000,10000,100000] [--rounds 5]

perq (pure Python, PyPI `perq`) and mokaccino (Rust through PyO3, PyPI `mokaccino`) are not
dependencies of the project: this script makes a throwaway virtual environment outside the
repository (/tmp/monitor-peers-venv, or $MONITOR_PEERS_VENV; no system site-packages),
installs the two pinned peers and the project's runtime dependencies into it (once: a stamp
file records what was installed), and runs itself again in it, with the repository on
sys.path, so that the engine measured is this checkout's.

What is compared: the boolean subset all three share, exact words, AND and OR. Rules are
generated from the corpus's own vocabulary (exact forms that occur in at least 3 articles and
at most 5% of them, as in bench/match.py), in our rule language, e.g.
`"putin" AND ("kim" OR "moskau")`, in these shapes: one word; a AND b; a b c (juxtaposition);
(a OR b OR c) AND d; a OR b; (a OR b) AND (c OR d); (a AND b) OR c; a AND (b OR (c AND d)).
Each rule is parsed by our parser, and each peer's query is made from that parsed tree, so
all three mean the same thing by construction:

- perq: Query(n, clauses), a conjunction of OR clauses (its only form): the tree in
  conjunctive normal form, ORs over ANDs distributed (`(a AND b) OR c` = (a|c) & (b|c));
- mokaccino: Query.from_kv("w", form) for each word, combined with Query.from_and / from_or
  as in the tree (mokaccino normalises to CNF itself); percolator.optimized() after adding.

Words are normalised identically because no engine tokenises: the corpus is analysed once,
before any timing, by our analyser, and every peer gets each article as the exact forms
(`ANALYZER.forms(profile, raw)[0]`: NFKC, case folding, diacritics and German transcriptions
folded) of its distinct words, title and body together, hyphenated compounds' parts and
joined words included: the same word set our engine looks its terms up in. A rule word is its
exact form from our parser (`Term.form`), which is the same function of the word.

What each timing includes (per article; analysis excluded for all three):

- ours: Engine.verify(AnalyzedText) -> Verified(rules, exceeded), the pipeline's matching
  step: from the tokenised article (distinct raw words per field; their forms come from the
  analyser's per-word cache) to the matching rules, as the peers return them; a second row,
  "ours with hits", times Engine.match_text, which also works out every match's hits
  (field, positions and words of every matched term: what `highlight` does later for the
  matches that are shown);
- perq: perq.Document(exact forms) (which validates every term and makes a frozenset) and
  list(QueryMatcher(MemoryStore).matches(document)) -> query ids;
- mokaccino: a mokaccino.Document with one add_value("w", form) per exact form (its only
  way in: it has no bulk constructor and does not tokenise) and percolate_list -> query ids.

Every engine first makes one untimed pass over the articles (warming caches; the check that
all three return the same rule ids for every article is made on it), then the timed passes
go in rounds: each round times one pass of each engine over the same articles, the engines'
order rotating from round to round, so that all three are timed across the same stretch of
time on a shared, noisy machine; the rate shown is the median pass. Index build time is
timed separately, from the parsed rules for all three (parsing our rule language, which the
peers' queries are made from, is printed beside it): ours makes the Engine and builds the
index of every stemmer profile the corpus has (one per article language, each by matching
one article of it; the peers have one index for all); perq makes its Query objects and
builds a MemoryStore; mokaccino makes its queries, adds them and optimises. After building,
the process's objects are frozen out of the cycle collector's sight (gc.freeze), for all three
alike (our engine does it for itself anyway). Timed passes keep no results.

--profile adds, through our engine's internal modules and in the same rounds, the presearch
view alone (the article's term ids and candidate postings); and runs cProfile over one pass
of our engine at each rule count of 10,000 and more, printing its top functions.
--subset-from/--subset-step time every n-th article only from some rule count on (the whole
corpus by default).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import random
import statistics
import subprocess
import sys
import time
import tomllib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
VENV = Path(os.environ.get("MONITOR_PEERS_VENV", "/tmp/monitor-peers-venv"))
PEERS = ("perq==0.2.1", "mokaccino==0.9.1")


# ------------------------------------------------------------------ the throwaway venv

def requirements() -> list[str]:
    """The peers and the project's runtime dependencies (the project itself is imported from
    this checkout, not installed)."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    return [*PEERS, *project["project"]["dependencies"]]


def in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


def enter_venv() -> None:
    """Make or update the venv, then replace this process by this script running in it."""
    python = VENV / "bin" / "python"
    if not python.exists():
        print(f"making {VENV}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    wanted = requirements()
    stamp = VENV / "monitor-peers.json"
    digest = hashlib.sha256(json.dumps(wanted).encode()).hexdigest()
    if not stamp.exists() or json.loads(stamp.read_text()).get("digest") != digest:
        print(f"installing into {VENV}: {' '.join(PEERS)} and the project's dependencies",
              file=sys.stderr)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet",
                        "--disable-pip-version-check", *wanted], check=True)
        stamp.write_text(json.dumps({"digest": digest, "requirements": wanted}))
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])


# ------------------------------------------------------------------------- the bench

def run(args: argparse.Namespace) -> None:       # noqa: C901 (one script, read top down)
    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "bench"))
    import mokaccino
    import perq
    from match import CORPUS, load_articles

    from monitor.matching import ANALYZER, Engine, RuleSet, make_rule
    from monitor.matching.analysis import AnalyzedText, FieldText
    from monitor.matching.query import And, Node, Or, Term

    if not CORPUS.exists():
        sys.exit(f"corpus not found: {CORPUS}")
    rng = random.Random(args.seed)
    articles = load_articles()
    texts = [ANALYZER.analyse(article) for article in articles]
    forms: list[list[str]] = []        # what the peers get: the exact forms of distinct words
    for text in texts:
        cache = ANALYZER.cache(text.profile)
        exact = {cache[word][0] for word in text.title.words | text.body.words}
        exact.discard("")              # a word of combining marks only folds to nothing
        forms.append(sorted(exact))

    # Vocabulary: exact forms by document frequency, each with one word that has it.
    frequency: Counter[str] = Counter()
    spelling: dict[str, str] = {}
    for text, exact in zip(texts, forms, strict=True):
        frequency.update(exact)
        cache = ANALYZER.cache(text.profile)
        for word in text.body.words:
            if word.isalpha():
                spelling.setdefault(cache[word][0], word)
    limit = 0.05 * len(articles)
    vocabulary = sorted(form for form, df in frequency.items()
                        if 3 <= df <= limit and len(form) >= 3 and form in spelling)

    def word() -> str:
        return f'"{spelling[rng.choice(vocabulary)]}"'

    def query_text() -> str:
        w, r = word, rng.random()
        if r < 0.15:
            return w()
        if r < 0.35:
            return f"{w()} AND {w()}"
        if r < 0.45:
            return f"{w()} {w()} {w()}"
        if r < 0.65:
            return f"({w()} OR {w()} OR {w()}) AND {w()}"
        if r < 0.75:
            return f"{w()} OR {w()}"
        if r < 0.85:
            return f"({w()} OR {w()}) AND ({w()} OR {w()})"
        if r < 0.95:
            return f"({w()} AND {w()}) OR {w()}"
        return f"{w()} AND ({w()} OR ({w()} AND {w()}))"

    def cnf(node: Node) -> list[frozenset[str]]:
        """The node as a conjunction of OR clauses of exact forms (perq's query form)."""
        if isinstance(node, Term):
            assert node.kind == "exact" and node.field is None, node
            return [frozenset((node.form,))]
        if isinstance(node, And):
            return list(dict.fromkeys(c for child in node.children for c in cnf(child)))
        assert isinstance(node, Or), node
        clauses = [frozenset()]
        for child in node.children:
            clauses = list(dict.fromkeys(a | b for a in clauses for b in cnf(child)))
        return clauses

    def moka_query(node: Node) -> mokaccino.Query:
        if isinstance(node, Term):
            assert node.kind == "exact" and node.field is None, node
            return mokaccino.Query.from_kv("w", node.form)
        make = mokaccino.Query.from_and if isinstance(node, And) else mokaccino.Query.from_or
        assert isinstance(node, (And, Or)), node
        return make([moka_query(child) for child in node.children])

    def fresh(text: AnalyzedText) -> AnalyzedText:
        """The same analysed article without what an earlier match cached on it."""
        return AnalyzedText(FieldText(text.title.chunks, text.title.impure, text.title.words),
                            FieldText(text.body.chunks, text.body.impure, text.body.words),
                            text.language, text.profile, text.sources)

    print(f"{len(articles)} corpus articles, {statistics.mean(map(len, forms)):.0f} distinct "
          f"exact forms per article on average; vocabulary {len(vocabulary):,} exact forms; "
          f"perq {perq_version()}, mokaccino {moka_version()}; {args.rounds} rounds\n",
          flush=True)

    rows = []
    profiles = []
    for count in map(int, args.rules.split(",")):
        chosen = range(0, len(articles), args.subset_step if count >= args.subset_from else 1)
        texts_n = [texts[i] for i in chosen]
        forms_n = [forms[i] for i in chosen]
        queries = [query_text() for _ in range(count)]

        # --- builds
        start = time.perf_counter()
        ruleset = RuleSet(tuple(make_rule(f"r{n}", q, {}) for n, q in enumerate(queries)), {})
        parse_ours = time.perf_counter() - start
        start = time.perf_counter()
        engine = Engine(ruleset)
        seen_profiles = {}
        for text in texts:
            seen_profiles.setdefault(text.profile, text)
        for text in seen_profiles.values():
            engine.match_text(fresh(text))          # builds that profile's index
        build_ours = time.perf_counter() - start
        roots = [rule.query.root for rule in ruleset.rules]

        start = time.perf_counter()
        store = perq.MemoryStore()
        perq.index((perq.Query(n, [tuple(sorted(c)) for c in cnf(root)])
                    for n, root in enumerate(roots)), store)
        matcher = perq.QueryMatcher(store)
        build_perq = time.perf_counter() - start

        start = time.perf_counter()
        percolator = mokaccino.Percolator()
        for n, root in enumerate(roots):
            percolator.add_query_id(moka_query(root), n)
        percolator = percolator.optimized()
        build_moka = time.perf_counter() - start
        gc.collect()
        gc.freeze()
        print(f"{count:,} rules built: ours {build_ours:.1f} s ({len(seen_profiles)} "
              f"profiles; parsing the rules before: {parse_ours:.1f} s), "
              f"perq {build_perq:.1f} s, mokaccino {build_moka:.1f} s", flush=True)

        # --- what each engine does with one article; a pass keeps none of the results
        doc, matches, Moka = perq.Document, matcher.matches, mokaccino.Document
        percolate = percolator.percolate_list

        def ours_one(text: AnalyzedText) -> list:
            return engine.verify(text).rules

        def ours_with_hits(text: AnalyzedText) -> list:
            return engine.match_text(text).matches

        def perq_one(terms: list[str]) -> list:
            return list(matches(doc(terms)))

        def moka_one(terms: list[str]) -> list:
            document = Moka()
            add = document.add_value
            for term in terms:
                add("w", term)
            return percolate(document)

        engines: dict[str, tuple[Callable, Callable]] = {
            "ours": (ours_one, lambda: [fresh(t) for t in texts_n]),
            "ours with hits": (ours_with_hits, lambda: [fresh(t) for t in texts_n]),
            "perq": (perq_one, lambda: forms_n),
            "mokaccino": (moka_one, lambda: forms_n),
        }
        if args.profile:
            for name, function in internals(engine).items():
                engines[name] = (function, engines["ours"][1])

        def one_pass(one: Callable, prepared: list) -> float:
            start = time.perf_counter()
            for item in prepared:
                one(item)
            return time.perf_counter() - start

        # --- first pass: warm-up and the check
        ours_ids = [{int(r.id[1:]) for r in ours_one(t)} for t in map(fresh, texts_n)]
        assert [{int(m.rule_id[1:]) for m in ours_with_hits(t)} for t in map(fresh, texts_n)] \
            == ours_ids, "verify finds other rules than match_text"
        perq_ids = [set(perq_one(terms)) for terms in forms_n]
        moka_ids = [set(moka_one(terms)) for terms in forms_n]
        if args.profile:           # the view alone: warmed up too
            for text in map(fresh, texts_n):
                engines["ours, view only"][0](text)
        mismatched = [i for i in range(len(texts_n))
                      if not ours_ids[i] == perq_ids[i] == moka_ids[i]]
        for i in mismatched[:3]:
            print(f"  MISMATCH article {articles[chosen[i]].id}: only ours "
                  f"{sorted(ours_ids[i] - perq_ids[i] - moka_ids[i])[:5]}, "
                  f"perq {sorted(perq_ids[i] ^ ours_ids[i])[:5]}, "
                  f"mokaccino {sorted(moka_ids[i] ^ ours_ids[i])[:5]}", flush=True)
        matched = sum(map(len, ours_ids)) / len(ours_ids)
        del ours_ids, perq_ids, moka_ids

        # --- rounds
        passes: dict[str, list[float]] = {name: [] for name in engines}
        order = list(engines)
        for number in range(args.rounds):
            for name in order[number % len(order):] + order[:number % len(order)]:
                one, prepare = engines[name]
                passes[name].append(one_pass(one, prepare()))
        rates = {name: len(texts_n) / statistics.median(found)
                 for name, found in passes.items()}
        spread = {name: (len(texts_n) / max(found), len(texts_n) / min(found))
                  for name, found in passes.items()}
        rows.append((count, len(texts_n), rates, spread, len(mismatched), matched,
                     (build_ours, build_perq, build_moka)))
        print(f"  {count:,} rules timed on {len(texts_n)} articles: " + ", ".join(
            f"{name} {rates[name]:,.0f}/s" for name in engines), flush=True)

        if args.profile and count >= 10_000:
            profiles.append((count, len(texts_n), profile_ours(
                ours_one, [fresh(t) for t in texts_n], args.profile_top)))

        # dropped before the next count's engines are built (the closures above use them)
        engine = ruleset = roots = store = matcher = percolator = engines = None
        doc = matches = percolate = None
        gc.unfreeze()
        gc.collect()

    print("\n" f"{'rules':>8} {'articles':>8} {'ours art/s':>11} {'perq art/s':>11} "
          f"{'mokaccino art/s':>16} {'ours / faster peer':>19} {'mismatches':>11} "
          f"{'match/art':>10} {'build s ours/perq/moka':>23}")
    for count, n, rates, _, mismatches, matched, builds in rows:
        faster = max(rates["perq"], rates["mokaccino"])
        print(f"{count:>8,} {n:>8} {rates['ours']:>11,.0f} {rates['perq']:>11,.0f} "
              f"{rates['mokaccino']:>16,.0f} {rates['ours'] / faster:>18.2f}x "
              f"{mismatches:>11} {matched:>10.2f} "
              f"{' / '.join(f'{b:.1f}' for b in builds):>23}")
    print(f"\nart/s: articles per second, median of {args.rounds} passes after a first "
          "untimed one, in rounds\n(engines rotating; one process; wall clock). Range "
          "(slowest..fastest pass):")
    for count, _, _, spread, *_ in rows:
        print(f"  {count:>8,}: " + ", ".join(
            f"{name} {low:,.0f}..{high:,.0f}" for name, (low, high) in spread.items()))
    print("mismatches: articles whose set of matching rule ids differs between any two "
          "engines (first pass).")
    for count, _, rates, *_ in rows:
        faster = max(rates["perq"], rates["mokaccino"])
        print(f"  {count:>8,}: ours with hits (Engine.match_text, in the same rounds) "
              f"{rates['ours with hits']:,.0f} art/s "
              f"({rates['ours with hits'] / faster:.2f}x the faster peer)"
              + (f"; the presearch view alone (--profile, internal API) "
                 f"{rates['ours, view only']:,.0f} art/s" if "ours, view only" in rates else ""))
    for count, n, text in profiles:
        print(f"\n=== cProfile of our engine, one pass, {count:,} rules, {n} articles ===")
        print(text)


def internals(engine) -> dict[str, Callable]:
    """A part of our engine's work, through its internal modules (a diagnostic for --profile):
    the presearch view alone (ArticleView: the article's term ids and candidate postings)."""
    from monitor.matching.collector import CollectorPaused
    from monitor.matching.verify import ArticleView

    index, budget = engine.index, engine.budget

    def view_only(text) -> None:
        with CollectorPaused():
            ArticleView(text, index.profile(text.profile), budget)

    return {"ours, view only": view_only}


def profile_ours(ours_one: Callable, prepared: list, top: int) -> str:
    """cProfile of one pass of our engine: its top functions by own and by cumulative time."""
    import cProfile
    import io
    import pstats

    out = io.StringIO()
    profiler = cProfile.Profile()
    profiler.enable()
    for text in prepared:
        ours_one(text)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def perq_version() -> str:
    from importlib.metadata import version
    return version("perq")


def moka_version() -> str:
    from importlib.metadata import version
    return version("mokaccino")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rules", default="1000,10000,100000")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--subset-from", type=int, default=100_000,
                        help="from this many rules on, time every --subset-step-th article")
    parser.add_argument("--subset-step", type=int, default=1)
    parser.add_argument("--profile", action="store_true",
                        help="cProfile our engine at 10,000 rules and more")
    parser.add_argument("--profile-top", type=int, default=25)
    args = parser.parse_args()
    if not in_venv():
        enter_venv()
    run(args)


if __name__ == "__main__":
    main()
