"""The rule engine: stored queries matched the way Luwak / Lucene Monitor do it.

Instead of evaluating every rule against every article, each rule is reduced to clauses that
every article it matches satisfies, each clause a few terms of which the article must contain
one (`clauses`):

- a word, exact word, wildcard, `lang:` or `source:` term: a clause of itself;
- a phrase: one clause per word; AND and NEAR: the clauses of their operands; OR: one clause
  with the best clause of every branch; NOT: nothing (it can be true for an article that
  contains none of its terms), so a rule that is only negative is checked for every article;
- a rule's `languages` and `sources` limits: one clause each.

The rule is indexed under its rarest clause ("rarest" is guessed from the term's kind and
length, as Luwak's TermWeightor does) and carries its second-rarest one. When the clauses are
the whole rule (ANDs and ORs of plain words, wildcards, lang: and source:) and there are at
most two, the presearch decides it; the others are verified by their test.

An article becomes the set of term ids it contains (its words' exact and stemmed forms, the
wildcards they match, its language and source names). The rules indexed under those ids
are the candidates; they are filtered by their second clause in one C-level pass (a rule of
one clause has one every article satisfies); the survivors that are not decided call their
test. The result is exactly what evaluating every rule on every article gives (a property
test proves it against evaluate.py).

Terms are integer ids, one per query word, the same in every language, so the index of the
rules is built once. Stems depend on the article's language: each stemmer profile (made
lazily, the first time an article of that profile arrives) stems the rules' bare words in
one call and maps those stems onto their ids, which an article's word reaches through its
own stem in that profile. Wildcards are
resolved per distinct word through dictionaries of their fixed parts (prefixes and suffixes
of the lengths in use; substrings found from their first three characters), once per word:
a word's table entry holds its term ids and its postings, so an article costs one table
lookup per distinct word it has that is not already known to carry no term.

CPython spends its time on calls and on touching memory that is cold in the CPU caches, so
the hot path avoids both: a rule's test is one generated function (compiled when a candidate
first needs it) in which the word terms of an AND or OR are a single issuperset/isdisjoint on
the article's id set; phrases and NEAR call closures over word positions, which one walk over
the text finds when first needed. Hits (which term matched where) are not part of the hot
path: `Engine.verify` says which rules match, and `Engine.highlight` works out the hits of
the matches that are shown (an alert's bold words), once per term per article, since the
rules that match one article share terms.

Python's cycle collector is kept off the hot path: a large index is frozen once built (the
collector would otherwise walk its millions of objects in every full collection), and the
collector is paused while an article is matched, which makes no reference cycles.

Bounded work, whatever the query and the article (a `/watch` query is typed by anyone):

- Phrases and NEAR take time linear in the positions of their words (times a log): a NEAR,
  also chained and nested, works on its operands' maximal spans, at most one per position,
  never on the product of their occurrences (evaluate.spans defines what that means).
- One rule may spend at most `Budget.verify` steps (positions and spans visited by its
  phrases and NEARs) on one article; a rule that needs more does not match that article,
  and the article goes on to the other rules. `Engine.match_report` says which rules ran
  out (BudgetExceeded: rule id, article id, reason), so that the pipeline can tell the
  analyst or the owner of a `/watch`.
- `*fix` and `*mid*` wildcards look only into words of at most MAX_WILDCARD_WORD
  characters; an article whose distinct words would cost `*mid*` expansion more than
  `Budget.wildcards` dictionary lookups (a function of its word lengths alone, so the same
  article always gets the same answer) is matched without expanding `*mid*` wildcards in
  its new words, and the rules that have them do not match it and are reported.
- Queries are limited at the door (query.py: size, NEAR operands, wildcards).
"""

from __future__ import annotations

import threading
import weakref
from array import array
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache, partial
from itertools import chain, compress, count, repeat
from operator import add, itemgetter, neg, sub
from types import CodeType, FunctionType
from typing import Any, NamedTuple

from monitor.matching.analysis import (
    ANALYZER,
    BODY_OFFSET,
    AnalyzedText,
    Analyzer,
    FieldText,
)
from monitor.matching.archive_index import article_terms
from monitor.matching.collector import CollectorPaused
from monitor.matching.query import (
    MAX_WILDCARD_WORD,
    MIN_WILDCARD,
    And,
    Lang,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Source,
    Term,
    leaves,
)
from monitor.matching.rules import Rule, RuleSet
from monitor.models import Article

MAX_HIT_POSITIONS = 50
# Work limits per article (see Budget). No shipped rule and no rule of bench/match.py comes
# within a factor of ten of either over the corpus (bench/adversarial.py measures it).
VERIFY_BUDGET = 200_000      # steps for one rule's phrases and NEARs
WILDCARD_BUDGET = 500_000    # dictionary lookups for the *mid* wildcards of all rules

Span = tuple[int, int]
Test = Callable[["_View"], bool]
Spans = Callable[["_View"], list[Span]]
Template = tuple[str, str]          # (kind, form) of a term before its profile is known


class Hit(NamedTuple):
    """Where one query term matched: the term as written, the field, word positions within
    that field, and the article's words found there (case-folded). (NamedTuples: cheap to
    make, and the engine makes one per term per match.)"""

    term: str
    field: str
    positions: tuple[int, ...]
    words: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"term": self.term, "field": self.field, "positions": list(self.positions),
                "words": list(self.words)}


class RuleMatch(NamedTuple):
    rule_id: str
    rule_version: str
    hits: tuple[Hit, ...]

    @property
    def words(self) -> list[str]:
        return sorted({word for hit in self.hits for word in hit.words})


class Budget(NamedTuple):
    """How much work matching may do on one article.

    verify: steps one rule may spend on its phrases and NEARs (a step: one position or span
    read, combined or kept); wildcards: dictionary lookups that expanding the `*mid*`
    wildcards of all rules into the article's distinct words may cost."""

    verify: int = VERIFY_BUDGET
    wildcards: int = WILDCARD_BUDGET


class BudgetExceeded(NamedTuple):
    """A rule that could not be checked on an article within the budget: it did not match.

    reason: "verify" (its phrases and NEARs needed more than `limit` steps) or "wildcards"
    (the article's words would have cost its `*mid*` wildcards more than `limit` lookups);
    work: the steps spent when it stopped, or the lookups the article would have cost."""

    rule_id: str
    article_id: int | None
    reason: str
    work: int
    limit: int

    @property
    def message(self) -> str:
        if self.reason == "wildcards":
            return (f"rule {self.rule_id!r} was not checked on article {self.article_id}: its "
                    f"*mid* wildcards would have looked into too many words ({self.work:,} "
                    f"lookups, the limit is {self.limit:,})")
        return (f"rule {self.rule_id!r} was not checked on article {self.article_id}: its "
                f"phrases and NEARs needed more than {self.limit:,} steps")


class MatchReport(NamedTuple):
    """What matching one article found: the matches, and the rules that ran out of budget
    (those did not match)."""

    matches: list[RuleMatch]
    exceeded: list[BudgetExceeded]


class Verified(NamedTuple):
    """What verifying one article found: the rules it matches (in rule order), without
    their hits, and the rules that ran out of budget (those did not match)."""

    rules: list[Rule]
    exceeded: list[BudgetExceeded]


class BatchMatches(NamedTuple):
    """Matches of a batch as rows for Store.save_matches (article, rule and rule version:
    no hits), the rules that ran out of budget on one of its articles, each article's
    archive index terms and the words of them all (presearch.py)."""

    rows: list[dict[str, Any]]
    exceeded: list[BudgetExceeded]
    terms: list[tuple[int, str]]
    words: set[str]


_DEFAULT_BUDGET = Budget()


class _OverBudget(Exception):
    """Raised inside a rule's test when its verification budget is spent."""


_Place = tuple[str, tuple[int, ...], tuple[str, ...]]    # a Hit without its term
HitKey = tuple[str, tuple[int, ...], str | None]      # (label, term ids, field) of a word term
# NamedTuple's own __new__ is Python code; these build the same tuples in C (hot path).
_new_hit = partial(tuple.__new__, Hit)
_new_match = partial(tuple.__new__, RuleMatch)


# ------------------------------------------------------------------------- presearch

def _weight(template: Template) -> float:
    """How rare a term probably is: longer words are rarer, exact forms rarer than stems,
    wildcards and languages common."""
    kind, form = template
    if kind == "lang":
        return 0.5
    if kind == "source":
        return 3.0
    if kind in ("prefix", "suffix", "infix"):
        return len(form) - 1.5
    return len(form) + (0.5 if kind == "exact" else 0.0)


Clause = tuple[Template, ...]        # satisfied by an article that has any of these terms


def _rarity(clause: Clause) -> tuple[float, int]:
    """How selective a clause is: its commonest term decides; fewer alternatives win ties."""
    return min(map(_weight, clause)), -len(clause)


def _best(clauses: list[Clause]) -> Clause:
    return max(clauses, key=_rarity)


def clauses(node: Node) -> tuple[list[Clause], bool]:
    """The clauses every article the node matches satisfies, and whether they are also
    enough: True when the node is exactly their conjunction (then a rule needs no test).

    A word, wildcard, `lang:` or `source:` is one clause of itself (enough unless the word is
    limited to a field); a phrase is one clause per word (not enough: order matters); AND and
    NEAR collect their operands' clauses; OR is one clause with the best clause of every
    branch (enough when every branch is one clause that is enough); NOT gives nothing, so an
    OR with a negative branch gives nothing either.
    """
    if isinstance(node, Term):
        return [((node.kind, node.form),)], node.field is None
    if isinstance(node, Phrase):
        return [(word,) for word in dict.fromkeys(node.words)], False
    if isinstance(node, Lang):
        return [(("lang", node.code),)], True
    if isinstance(node, Source):
        return [(("source", node.name),)], True
    if isinstance(node, Or):
        found = [clauses(child) for child in node.children]
        if not all(branch for branch, _ in found):
            return [], False
        merged = tuple(dict.fromkeys(chain.from_iterable(_best(branch) for branch, _ in found)))
        return [merged], all(enough and len(branch) == 1 for branch, enough in found)
    if isinstance(node, (And, Near)):
        found = [clauses(child) for child in
                 (node.children if isinstance(node, And) else (node.left, node.right))]
        collected = list(dict.fromkeys(chain.from_iterable(branch for branch, _ in found)))
        return collected, isinstance(node, And) and all(enough for _, enough in found)
    assert isinstance(node, Not)
    return [], False


def is_negative_only(rule: Rule) -> bool:
    """True when the query needs none of its terms: `monitor rules check` warns about it."""
    return not clauses(rule.query.root)[0]


class _Plan(NamedTuple):
    """How the presearch handles one rule."""

    first: Clause | None     # indexed under these terms; None: checked for every article
    second: Clause | None    # another clause, checked for all candidates in one C-level pass
    decided: bool            # the two clauses are the whole rule: no test needed


def _plan(rule: Rule) -> _Plan:
    found, enough = clauses(rule.query.root)
    if rule.languages:
        found.append(tuple(("lang", code) for code in sorted(rule.languages)))
    if rule.sources:
        found.append(tuple(("source", name) for name in sorted(rule.sources)))
    if not found:
        return _Plan(None, None, False)
    ordered = sorted(dict.fromkeys(found), key=_rarity, reverse=True)
    return _Plan(ordered[0], ordered[1] if len(ordered) > 1 else None,
                 enough and len(ordered) <= 2)


def _templates(node: Node) -> Iterable[Template]:
    """Every term of a query tree (what the term vocabulary must contain)."""
    for leaf, _negated in leaves(node):
        if isinstance(leaf, Term):
            yield leaf.kind, leaf.form
        elif isinstance(leaf, Phrase):
            yield from leaf.words
        elif isinstance(leaf, Lang):
            yield "lang", leaf.code
        elif isinstance(leaf, Source):
            yield "source", leaf.name


# --------------------------------------------------------------------- compiled rules

class _Postings(NamedTuple):
    """What a word (or the article's language, or a source name) brings to the presearch:
    the term ids it carries; those ids with the ids of the second clauses they satisfy; and
    the candidate rules with the ids of their second clauses. One record per word, so that
    an article costs one table lookup per distinct word and none per term. The last three
    are int arrays: compact, read sequentially (an int is made per entry read)."""

    ids: tuple[int, ...]
    present: Sequence[int]
    numbers: Sequence[int]
    seconds: Sequence[int]


_NOTHING = _Postings((), (), (), ())
_IDS, _PRESENT, _NUMBERS, _SECONDS = map(itemgetter, range(4))


class _WordPostings(dict[str, _Postings]):
    """raw word → its postings, computed on first sight, for the words that carry rule terms;
    the others go to `irrelevant`, a set, which an article's words are first reduced by (a
    set lookup touches less memory than a dict lookup, and most words carry no term); term
    id → the words seen so far that carry it; and the same for each hit term of several ids
    (one set fed as words arrive, so that a term's hits cost one lookup of cold memory, not
    one per id). All are bounded."""

    def __init__(self, compute: Callable[[str], _Postings], limit: int,
                 compute_partial: Callable[[str], _Postings] | None = None):
        super().__init__()
        self.compute = compute
        self.compute_partial = compute_partial
        self.limit = limit
        self.partial_words = 0
        self.irrelevant: set[str] = set()
        self.words_of: defaultdict[int, set[str]] = defaultdict(set)   # term id → words
        self.term_words: dict[tuple[int, ...], set[str]] = {}
        self._feeds: defaultdict[int, list[set[str]]] = defaultdict(list)

    def __missing__(self, word: str) -> _Postings:
        found = self.compute(word)
        if found is _NOTHING:
            self.irrelevant.add(word)
        else:
            self[word] = found
            self._carried(word, found)
        return found

    def _carried(self, word: str, found: _Postings) -> None:
        for term_id in found.ids:
            self.words_of[term_id].add(word)
            for words in self._feeds.get(term_id, ()):
                words.add(word)

    def partial(self, word: str) -> _Postings:
        """A word's postings without `*mid*` wildcard ids, for an article over the wildcard
        budget: a known word's full postings, else computed and not kept (a later article
        may need them whole); the word is still recorded as carrying the ids it has."""
        found = self.get(word)
        if found is None:
            assert self.compute_partial is not None
            found = self.compute_partial(word)
            if found.ids:
                self._carried(word, found)
                self.partial_words += 1
        return found

    def words_carrying(self, ids: tuple[int, ...]) -> set[str]:
        """The words seen so far that carry any of these ids, as a set kept up to date (for
        one id, its `words_of` set itself)."""
        if len(ids) == 1:
            return self.words_of[ids[0]]
        found = self.term_words.get(ids)
        if found is None:
            found = self.term_words[ids] = set()
            for term_id in ids:      # fed first: a word added meanwhile is not missed
                self._feeds[term_id].append(found)
            found.update(*map(self.words_of.get, ids, repeat(())))
        return found

    def trim(self) -> None:
        """Keep the tables bounded; called between articles, never while one is matched
        (its words must stay in `words_of` until it is done)."""
        if len(self) + self.partial_words >= self.limit:
            self.clear()
            self.partial_words = 0
            for words in chain(self.words_of.values(), self.term_words.values()):
                words.clear()     # emptied, not dropped: hit terms hold them
        if len(self.irrelevant) >= self.limit:
            self.irrelevant.clear()


class _RuleIndex:
    """Which rules an article's term ids make candidates. The same in every stemmer profile:
    a query word is one term id whatever the language (a profile maps the stems of an
    article's words onto the ids of the rules' words), so it is built once per rule set, not
    once per language met."""

    def __init__(self, compiled: _Compiled):
        self.compiled: _Compiled = weakref.proxy(compiled)
        resolve = compiled.resolve
        # Rules are candidates through `index` (or `always`), filtered by their second clause,
        # which `seconds` holds parallel to `index` so that the filter touches no rule
        # objects; a rule of one clause has `any_term`, which every article has. A second
        # clause of several terms gets an id of its own that every word carrying one of them
        # also carries (`implied`): the filter is one set lookup per candidate.
        self.index: dict[int, list[int]] = {}
        self.seconds: dict[int, list[int]] = {}
        self.always: list[int] = []
        self.implied: dict[int, list[int]] = {}
        self.decided: list[bool] = []
        for number, plan in enumerate(compiled.plans):
            self.decided.append(plan.decided)
            if plan.first is None:
                self.always.append(number)
                continue
            second = self._clause_id(plan.second) if plan.second else compiled.any_term
            for term_id in dict.fromkeys(i for t in plan.first for i in resolve(t)):
                self.index.setdefault(term_id, []).append(number)
                self.seconds.setdefault(term_id, []).append(second)
        self._shared: dict[tuple[int, ...], _Postings] = {(): _NOTHING}

    def _clause_id(self, clause: Clause) -> int:
        ids = sorted({i for template in clause for i in self.compiled.resolve(template)})
        if len(ids) == 1:
            return ids[0]
        key = "clause:" + ",".join(map(str, ids))
        clause_id = self.compiled.intern(key, "clause", key)
        if clause_id not in self.implied.get(ids[0], ()):
            for term_id in ids:
                self.implied.setdefault(term_id, []).append(clause_id)
        return clause_id

    def postings(self, ids: tuple[int, ...]) -> _Postings:
        """The postings of a set of term ids (shared by every word that carries them)."""
        found = self._shared.get(ids)
        if found is None:
            def gather(table: dict[int, list[Any]]) -> Sequence[int]:
                # Empty: the one empty tuple (a third of an article's relevant words index no
                # rule; the presearch then reads no memory of their own).
                return array("i", chain.from_iterable(table.get(i, ()) for i in ids)) or ()
            found = self._shared[ids] = _Postings(
                ids, array("i", dict.fromkeys((*ids, *gather(self.implied)))),
                gather(self.index), gather(self.seconds))
        return found


class _Profile:
    """What one stemmer profile adds to the rule index (stems differ between languages):
    which rule words an article's stems stand for, and the tables of the words seen."""

    def __init__(self, compiled: _Compiled, profile: str | None):
        # No reference cycles in an index (back references are weak), so that reference
        # counting frees a replaced index even when it was frozen (out_of_collectors_sight).
        self.compiled: _Compiled = weakref.proxy(compiled)
        self.profile = profile
        analyzer = compiled.analyzer
        rules = compiled.rule_index
        self.always, self.decided, self.postings = rules.always, rules.decided, rules.postings
        # A bare query word matches the words of its stem in this language, and those whose
        # stem is the word itself (see analysis.py): both stems → the word's term id.
        self.stems: dict[str, tuple[int, ...]] = {}
        words, exacts, ids = compiled.stem_words
        for stem, exact, term_id in zip(analyzer.stems(profile, words), exacts, ids, strict=True):
            for form in (stem,) if stem == exact else (stem, exact):
                self.stems[form] = (*self.stems.get(form, ()), term_id)
        self.matchers: list[_Matcher | None] = [None] * len(compiled.rules)
        # The one-word terms of the rules compiled so far, numbered by their (label, ids,
        # field): (label, field, the words seen so far that carry the term). A view's memo
        # of hits is keyed by these numbers, which hash without touching the rule's objects
        # (cold in the CPU caches on a large rule set), and a term's hits in an article are
        # one intersection of its words with the article's.
        self.hit_terms: list[tuple[str, str | None, set[str]]] = []
        self._hit_numbers: dict[HitKey, int] = {}
        self.tests: list[Test | None] = [None] * len(compiled.rules)
        me = weakref.proxy(self)
        self.word_postings = _WordPostings(
            lambda word: me.postings(me._ids_of(word)), analyzer.cache_limit,
            lambda word: me.postings(me._ids_of(word, infixes=False)))

    def _ids_of(self, word: str, infixes: bool = True) -> tuple[int, ...]:
        """The term ids a word carries: its exact form and stem, and the wildcards it
        matches (`*fix` and `*mid*` only in words of at most MAX_WILDCARD_WORD characters;
        `*mid*`: a lookup of the first MIN_WILDCARD characters at each start, and of the
        fixed parts that begin with them, see _Compiled.infix_cost)."""
        compiled = self.compiled
        exact, stem = compiled.analyzer.forms(self.profile, word)
        keys = compiled.keys
        ids = [i for i in (keys.get("exact:" + exact),) if i is not None]
        ids.extend(self.stems.get(stem, ()))
        size = len(exact)
        for form, i in compiled.prefixes_by_head.get(exact[:compiled.prefix_head], ()):
            if exact.startswith(form):
                ids.append(i)
        if size <= MAX_WILDCARD_WORD:
            for form, i in compiled.suffixes_by_tail.get(exact[-compiled.suffix_tail:], ()):
                if exact.endswith(form):
                    ids.append(i)
            if infixes and compiled.infix_anchors:
                anchors, fixed = compiled.infix_anchors, compiled.infixes
                for start in range(size - MIN_WILDCARD + 1):
                    lengths = anchors.get(exact[start:start + MIN_WILDCARD])
                    for length in lengths or ():
                        if start + length > size:
                            break
                        if (infix_id := fixed.get(exact[start:start + length])) is not None:
                            ids.append(infix_id)
        return tuple(dict.fromkeys(ids))

    def matcher(self, number: int) -> _Matcher:
        found = self.matchers[number]
        if found is None:
            with self.compiled.lock:      # hit_number() must not interleave
                found = self.matchers[number]
                if found is None:
                    found = self.matchers[number] = _Matcher(self.compiled.rules[number], self)
        return found

    def hit_number(self, spec: HitKey) -> int:
        found = self._hit_numbers.get(spec)
        if found is None:
            found = self._hit_numbers[spec] = len(self.hit_terms)
            label, ids, field = spec
            self.hit_terms.append((label, field, self.word_postings.words_carrying(ids)))
        return found

    def test(self, number: int) -> Test:
        found = self.tests[number]
        if found is None:
            found = self.tests[number] = self.matcher(number).test()
        return found


def _by_end(forms: dict[str, int], first: bool
            ) -> tuple[int, dict[str, tuple[tuple[str, int], ...]]]:
    """Wildcard fixed parts grouped by their first (or last) n characters, n the length of
    the shortest (0, and no groups, without any)."""
    size = min(map(len, forms), default=0)
    groups: dict[str, list[tuple[str, int]]] = {}
    for form, term_id in sorted(forms.items(), key=lambda item: len(item[0])):
        groups.setdefault(form[:size] if first else form[-size:], []).append((form, term_id))
    return size, {end: tuple(group) for end, group in groups.items()}


class _Compiled:
    """Everything the engine derives from one RuleSet; shared by every Engine over it."""

    def __init__(self, ruleset: RuleSet, analyzer: Analyzer):
        self.analyzer = analyzer
        self.rules = [rule for rule in ruleset.rules if rule.enabled]
        self.plans = [_plan(rule) for rule in self.rules]
        self.keys: dict[str, int] = {}
        self.prefixes: dict[str, int] = {}
        self.suffixes: dict[str, int] = {}
        self.infixes: dict[str, int] = {}
        # A term every article has: the second clause of rules that have only one.
        self.any_term = self.intern("", "any", "")
        # Every distinct term of the rules, walked out of their trees once, and numbered.
        self.templates = list(dict.fromkeys(
            template for rule in self.rules for template in _templates(rule.query.root)))
        self.resolved: dict[Template, tuple[int]] = {}
        for template in self.templates:
            self.resolve(template)
        # The bare words (as written, their exact forms, their ids), for each language's
        # profile to stem in one call.
        bare = [form for kind, form in self.templates if kind == "stem"]
        self.stem_words: tuple[list[str], list[str], list[int]] = (
            bare, [analyzer.forms(None, form)[0] for form in bare],
            [self.resolve(("stem", form))[0] for form in bare])
        for rule in self.rules:
            for code in rule.languages:
                self.intern(f"lang:{code}", "lang", code)
            for name in rule.sources:
                self.intern(f"source:{name}", "source", name)
        # `pre*` and `*fix` fixed parts by their first (last) characters, as many as the
        # shortest one has: a word is looked up once at each end and compared with the
        # fixed parts found there (shortest first), not looked up at every length (at
        # 10k rules: 2 lookups a new word instead of 19). Longer `*fix` parts than
        # MAX_WILDCARD_WORD never match: no word they look into is.
        self.prefix_head, self.prefixes_by_head = _by_end(self.prefixes, first=True)
        self.suffix_tail, self.suffixes_by_tail = _by_end(
            {f: i for f, i in self.suffixes.items() if len(f) <= MAX_WILDCARD_WORD}, first=False)
        self.infix_lengths = sorted({len(f) for f in self.infixes
                                     if len(f) <= MAX_WILDCARD_WORD})
        # *mid* fixed parts by their first MIN_WILDCARD characters (every fixed part has that
        # many): their lengths, ascending.
        anchors: dict[str, set[int]] = {}
        for form in self.infixes:
            if len(form) <= MAX_WILDCARD_WORD:
                anchors.setdefault(form[:MIN_WILDCARD], set()).add(len(form))
        self.infix_anchors = {anchor: tuple(sorted(lengths))
                              for anchor, lengths in anchors.items()}
        # The most lookups the *mid* wildcards make in a word of n characters (n >
        # MAX_WILDCARD_WORD: none, the last entry): one per start, and one per start and
        # fixed-part length when every start were the beginning of a fixed part. A bound
        # that depends on the length alone; the rules that have them (negated ones too).
        self.infix_cost = [
            max(0, n - MIN_WILDCARD + 1)
            + sum(n - length + 1 for length in self.infix_lengths if length <= n)
            if self.infix_lengths else 0 for n in range(MAX_WILDCARD_WORD + 1)] + [0]
        self.infix_rules = [number for number, rule in enumerate(self.rules)
                            if any(kind == "infix" for kind, _ in _templates(rule.query.root))]
        self.numbers = {rule.id: number for number, rule in enumerate(self.rules)}
        self.profiles: dict[str | None, _Profile] = {}
        self.rule_index = _RuleIndex(self)
        self.lock = threading.Lock()
        # One article at a time: the word tables are filled and trimmed as articles pass,
        # and the pipeline's matching and the dispatcher's highlighting share them.
        self.in_use = threading.Lock()

    def resolve(self, template: Template) -> tuple[int]:
        """The term id of a query word, the same in every profile: (kind, form) numbered."""
        found = self.resolved.get(template)
        if found is None:
            kind, form = template
            found = self.resolved[template] = (self.intern(f"{kind}:{form}", kind, form),)
        return found

    def infix_work(self, text: AnalyzedText) -> int:
        """The most lookups that expanding the *mid* wildcards into every distinct word of an
        article can cost: a function of its word lengths (as written) alone, so that whether
        an article is over the wildcard budget never depends on what the word tables hold."""
        if not self.infix_lengths:
            return 0
        words = text.title.words | text.body.words
        cost, longest = self.infix_cost, MAX_WILDCARD_WORD + 1
        return sum(map(cost.__getitem__, map(min, map(len, words), repeat(longest))))

    def intern(self, key: str, kind: str, form: str) -> int:
        found = self.keys.get(key)
        if found is None:
            found = self.keys[key] = len(self.keys)
            wildcards = {"prefix": self.prefixes, "suffix": self.suffixes,
                         "infix": self.infixes}.get(kind)
            if wildcards is not None:
                wildcards[form] = found
        return found

    def profile(self, name: str | None) -> _Profile:
        found = self.profiles.get(name)
        if found is None:
            with self.lock:
                found = self.profiles.get(name)
                if found is None:
                    found = self.profiles[name] = _Profile(self, name)
        return found


_COMPILED: weakref.WeakKeyDictionary[RuleSet, _Compiled] = weakref.WeakKeyDictionary()


# ------------------------------------------------------------------------ verification

class _View(dict[int, tuple[Hit, ...]]):
    """One article as the verifier sees it: the term ids it has (in all, in the title, in the
    body); word positions and hits on demand.

    The view is also the memo of hits: the number of a one-word term in
    `_Profile.hit_terms` → its hits, made on first ask. The rules that match an article
    share terms, and a rule's hits are then one C-level lookup per term. (A separate memo
    object pointing back at the view would make every article's objects a reference cycle,
    which only the cycle collector could free.)

    Positions come from one walk over the text that records, per field, where each relevant
    word (one that carries a rule term) occurs, when a phrase, a NEAR or a hit first needs
    them; a term's words (its carriers) come from the table's term → words index.

    The view also keeps the verification budget of the rule being tested (`budget`: steps
    left, set to `limit` when a rule's test with phrases or NEARs starts; `spend` raises
    _OverBudget when it runs out) and, when the article is over the wildcard budget, what its
    *mid* wildcards would have cost (`wildcard_work`; then their ids are not looked up).
    """

    __slots__ = (
        "_at",
        "_body",
        "_carriers",
        "_phrase_places",
        "_phrases",
        "_places",
        "_positions",
        "_word_places",
        "_title",
        "budget",
        "hit_terms",
        "ids",
        "lang",
        "limit",
        "lookup",
        "postings",
        "relevant",
        "sources",
        "text",
        "wildcard_work",
        "words_of",
    )

    def __init__(self, text: AnalyzedText, profile: _Profile, budget: Budget | None = None):
        table = profile.word_postings
        table.trim()
        budget = budget or _DEFAULT_BUDGET
        self.limit = self.budget = budget.verify
        self.wildcard_work = 0
        lookup = table.__getitem__
        compiled = profile.compiled
        if compiled.infix_lengths and (
                (len(text.title.words) + len(text.body.words))
                * compiled.infix_cost[MAX_WILDCARD_WORD] > budget.wildcards):
            work = compiled.infix_work(text)
            if work > budget.wildcards:
                self.wildcard_work = work
                lookup = table.partial
        self.lookup = lookup
        self.words_of = table.words_of
        self.hit_terms = profile.hit_terms
        self.text = text
        # One lookup of every distinct word not known to be irrelevant (a word of both fields
        # once); the words that carry rule terms are `relevant`, their postings `postings`.
        irrelevant = table.irrelevant
        body = text.body.words - irrelevant
        title = text.title.words - irrelevant - body
        if self.wildcard_work:            # over the wildcard budget: words one by one
            words = [*body, *title]
            found = list(map(lookup, words))
            self.relevant = {word for word, carried in zip(words, found, strict=True)
                             if carried.ids}
            postings = self.postings = list(filter(_IDS, found))
        else:
            known = len(irrelevant)
            postings = self.postings = [*map(lookup, body), *map(lookup, title)]
            self.relevant = body
            body.update(title)
            if len(irrelevant) != known:      # words seen for the first time that carry no term
                body.difference_update(irrelevant)
                postings[:] = filter(_IDS, postings)
        keys = profile.compiled.keys
        for key in ("lang:" + text.language, *("source:" + s for s in text.sources)):
            if (term_id := keys.get(key)) is not None:
                postings.append(profile.postings((term_id,)))
        # The term ids, and for the presearch those of the multi-term second clauses.
        self.ids: set[int] = set(chain.from_iterable(map(_PRESENT, postings)))
        self.ids.add(profile.compiled.any_term)
        self.lang = text.language
        self.sources = text.sources
        self._title: set[int] | None = None
        self._body: set[int] | None = None
        self._at: tuple[dict[str, list[int]], dict[str, list[int]]] | None = None
        self._carriers: dict[int, list[str]] = {}
        self._positions: dict[int, list[int]] = {}
        self._places: dict[tuple[tuple[int, ...], str | None], list[_Place]] = {}
        self._word_places: dict[str, list[_Place]] = {}
        # (slots, field) → (the phrase's starts, what finding them costs a rule's budget)
        self._phrases: dict[tuple[tuple[tuple[int, ...], ...], str | None],
                            tuple[list[int], int]] = {}
        self._phrase_places: dict[tuple[tuple[tuple[int, ...], ...], str | None],
                                  list[_Place]] = {}

    def __missing__(self, key: int) -> tuple[Hit, ...]:
        label, field, carriers = self.hit_terms[key]
        found = self.relevant.intersection(carriers)
        if len(found) == 1 and field is None:     # the common case, without the calls
            [word] = found
            places = self._word_places.get(word)
            if places is None:
                places = self.word_places(word)
        else:
            places = self._places_of(found, field)
        hits = self[key] = ((_new_hit((label, *places[0])),) if len(places) == 1
                            else tuple(map(_new_hit, map((label,).__add__, places))))
        return hits

    @property
    def title(self) -> set[int]:
        """Term ids of the title (title: terms; computed when first asked for)."""
        if self._title is None:
            self._title = self._field_ids(self.text.title)
        return self._title

    @property
    def body(self) -> set[int]:
        """Term ids of the body (body: terms; computed when first asked for)."""
        if self._body is None:
            self._body = self._field_ids(self.text.body)
        return self._body

    def _field_ids(self, field: FieldText) -> set[int]:
        relevant = self.relevant.intersection(field.words)
        return set(chain.from_iterable(map(_IDS, map(self.lookup, relevant))))

    def carriers(self, term_id: int) -> list[str]:
        """This article's words that carry a term id (sorted); once per term and article."""
        found = self._carriers.get(term_id)
        if found is None:
            found = self._carriers[term_id] = sorted(self._carrying((term_id,)))
        return found

    def _carrying(self, ids: tuple[int, ...]) -> set[str]:
        """This article's words that carry any of these term ids."""
        words_of, relevant = self.words_of, self.relevant
        found = relevant.intersection(words_of.get(ids[0], ()))
        for other in ids[1:]:
            found.update(relevant.intersection(words_of.get(other, ())))
        return found

    def positions(self, term_id: int) -> list[int]:
        """Sorted positions of a term (body ones offset by BODY_OFFSET); once per term."""
        found = self._positions.get(term_id)
        if found is None:
            found = self._positions[term_id] = self._positions_of(self.carriers(term_id))
        return found

    def _positions_of(self, words: list[str]) -> list[int]:
        if len(words) == 1:
            return self._absolute(words[0])
        return sorted(set(chain.from_iterable(map(self._absolute, words))))

    def _absolute(self, word: str) -> list[int]:
        """A word's positions in both fields, body ones offset by BODY_OFFSET."""
        title_at, body_at = self.field_positions()
        in_title, in_body = title_at.get(word, []), body_at.get(word)
        return [*in_title, *map(add, in_body, repeat(BODY_OFFSET))] if in_body else in_title

    def positions_any(self, ids: tuple[int, ...]) -> list[int]:
        if len(ids) == 1:
            return self.positions(ids[0])
        return sorted(set(chain.from_iterable(map(self.positions, ids))))

    def field_positions(self) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
        """Positions (sorted, within the field) of every relevant word, in the title and in
        the body, found in one walk over the text when first needed."""
        if self._at is None:
            self._at = (self._walk(self.text.title), self._walk(self.text.body))
        return self._at

    def _walk(self, field: FieldText) -> dict[str, list[int]]:
        """Walks the field's chunks, not its words: one C-level scan finds the chunks that
        are relevant words or that hold several words (whose count shifts later positions),
        and only those are looked at in Python."""
        found: defaultdict[str, list[int]] = defaultdict(list)
        relevant = self.relevant.intersection(field.words)
        if not relevant:
            return found
        chunks, impure = field.chunks, field.impure
        if not impure:
            for index in compress(count(), map(relevant.__contains__, chunks)):
                found[chunks[index]].append(index)
            return found
        out_of_order = set()     # words found in a chunk of several words: sorted at the end
        shift = 0
        for index in compress(count(), map(relevant.union(impure).__contains__, chunks)):
            chunk = chunks[index]
            info = impure.get(chunk)
            if info is None:
                found[chunk].append(index + shift)
                continue
            start = index + shift
            for step, token in enumerate(info.tokens):
                if token in relevant:
                    found[token].append(start + step)
                    out_of_order.add(token)
            for joined, first, last in info.joins:
                if joined in relevant:
                    found[joined] += (start + first, start + last)
                    out_of_order.add(joined)
            shift += len(info.tokens) - 1
        for word in out_of_order:
            found[word].sort()
        return found

    def where(self, ids: tuple[int, ...], field: str | None) -> list[_Place]:
        """Where a one-word term occurs: (field, positions, the article's words) per field.
        Worked out once per (ids, field) and article: the rules that match one article share
        many terms."""
        key = (ids, field)
        found = self._places.get(key)
        if found is None:
            found = self._places[key] = self._where(ids, field)
        return found

    def _where(self, ids: tuple[int, ...], field: str | None) -> list[_Place]:
        return self._places_of(self._carrying(ids), field)

    def _places_of(self, found: set[str], field: str | None) -> list[_Place]:
        """Where the article's words that carry a term occur. By words, not by ids: a bare
        word's stem and own form are two ids that mostly the same words carry; and most
        terms have one word in an article, whose places are worked out once."""
        if len(found) == 1:
            places = self.word_places(*found)
            return places if field is None else [p for p in places if p[0] == field]
        if not found:
            return []
        words = sorted(found)
        places = []
        for name, at in zip(("title", "body"), self.field_positions(), strict=True):
            if field is None or field == name:
                present = [word for word in words if word in at]
                if present:
                    positions = sorted(set(chain.from_iterable(map(at.__getitem__, present))))
                    places.append((name, tuple(positions[:MAX_HIT_POSITIONS]),
                                   tuple(dict.fromkeys(map(str.casefold, present)))))
        return places

    def word_places(self, word: str) -> list[_Place]:
        """Where one relevant word occurs, per field; once per word and article."""
        found = self._word_places.get(word)
        if found is None:
            title_at, body_at = self.field_positions()
            folded = (word.casefold(),)
            found = self._word_places[word] = []
            if at := title_at.get(word):
                found.append(("title", tuple(at[:MAX_HIT_POSITIONS]), folded))
            if at := body_at.get(word):
                found.append(("body", tuple(at[:MAX_HIT_POSITIONS]), folded))
        return found

    def phrase_places(self, slots: tuple[tuple[int, ...], ...],
                      field: str | None) -> list[_Place]:
        """One place per occurrence of a phrase: its field, positions and words there. The
        word at each position is the one that carries that word's ids of the phrase there
        (so a hyphenated compound that matches one word of a phrase is that word). Worked
        out once per phrase and article: entities share their aliases between rules."""
        key = (slots, field)
        found = self._phrase_places.get(key)
        if found is None:
            found = self._phrase_places[key] = self._phrase_occurrences(slots, field)
        return found

    def _phrase_occurrences(self, slots: tuple[tuple[int, ...], ...],
                            field: str | None) -> list[_Place]:
        carriers, fields = self.carriers, self.field_positions()
        # A word's positions in a field as a set, made when first asked: a phrase can occur
        # at thousands of positions, and each asks which of its carriers is there.
        sets: tuple[dict[str, set[int]], dict[str, set[int]]] = ({}, {})

        def holds(index: int, word: str, position: int) -> bool:
            found = sets[index].get(word)
            if found is None:
                found = sets[index][word] = set(fields[index].get(word, ()))
            return position in found

        found = []
        for start in self.phrase_starts(slots, field):
            index = 0 if start < BODY_OFFSET else 1
            first = start - index * BODY_OFFSET
            positions = tuple(range(first, first + len(slots)))
            words = tuple(
                next(word for term_id in ids for word in carriers(term_id)
                     if holds(index, word, position)).casefold()
                for position, ids in zip(positions, slots, strict=True))
            found.append((_FIELD_NAMES[index], positions, words))
        return found

    def phrase_starts(self, slots: tuple[tuple[int, ...], ...], field: str | None) -> list[int]:
        """Positions where a phrase starts (its words at consecutive positions); cached."""
        found = self._phrases.get((slots, field))
        return (found or self._phrase(slots, field, False))[0]

    def phrase_in_test(self, slots: tuple[tuple[int, ...], ...],
                       field: str | None) -> list[int]:
        """phrase_starts for a rule's test, which pays for the positions of the phrase's words
        (before they are intersected; the same when they are cached)."""
        found = self._phrases.get((slots, field))
        if found is None:
            return self._phrase(slots, field, True)[0]
        self.spend(found[1])
        return found[0]

    def _phrase(self, slots: tuple[tuple[int, ...], ...], field: str | None,
                pay: bool) -> tuple[list[int], int]:
        at = list(map(self.positions_any, slots))
        cost = sum(map(len, at))
        if pay:
            self.spend(cost)
        starts = set(at[0])
        for step, positions in enumerate(at[1:], 1):
            if not starts:
                break
            starts.intersection_update(map(sub, positions, repeat(step)))
        found = self._phrases[slots, field] = (_in_field(sorted(starts), field), cost)
        return found

    def begin(self) -> bool:
        """A rule's test with phrases or NEARs starts: its verification budget is full."""
        self.budget = self.limit
        return True

    def spend(self, steps: int) -> None:
        """Pays for steps of a rule's verification; raises _OverBudget when it runs out."""
        self.budget -= steps
        if self.budget < 0:
            raise _OverBudget


_FIELD_SETS: dict[str | None, Callable[[_View], set[int]]] = {
    None: lambda view: view.ids, "title": lambda view: view.title, "body": lambda view: view.body,
}
_FIELD_ATTRIBUTES = {None: "v.ids", "title": "v.title", "body": "v.body"}


_FIELD_NAMES = ("title", "body")


def _in_field(positions: list[int], field: str | None) -> list[int]:
    """The sorted positions that lie in a field (title ones come before BODY_OFFSET)."""
    if field is None:
        return positions
    split = bisect_left(positions, BODY_OFFSET)
    return positions[:split] if field == "title" else positions[split:]


# Spans: sorted lists of maximal (first, last) word positions, whose ends then increase too
# (evaluate.spans defines NEAR on them and says why the maximal ones are enough).
_FIRST, _LAST = itemgetter(0), itemgetter(1)


def _maximal(found: list[Span]) -> list[Span]:
    """The spans that no other one contains, sorted."""
    kept = []
    reach = -1
    for start, before in sorted(zip(map(_FIRST, found), map(neg, map(_LAST, found)), strict=True)):
        if -before > reach:
            reach = -before
            kept.append((start, reach))
    return kept


def _near(left: list[Span], right: list[Span], distance: int) -> list[Span]:
    """The spans of the pairs at most `distance` apart: from each span of either side, the
    combinations with the two ends of the range of its partners on the other side (spans
    that start at most `distance` after it ends and end at most `distance` before it
    starts), of which the maximal ones are all there are. Linear, but for the bisections."""
    found = []
    for one, other in ((left, right), (right, left)):
        starts, ends = list(map(_FIRST, other)), list(map(_LAST, other))
        firsts = map(bisect_left, repeat(ends), map(sub, map(_FIRST, one), repeat(distance)))
        afters = map(bisect_right, repeat(starts), map(add, map(_LAST, one), repeat(distance)))
        for (start, end), first, after in zip(one, firsts, afters, strict=True):
            if first < after:
                other_start, other_end = other[first]
                found.append((min(start, other_start), max(end, other_end)))
                other_start, other_end = other[after - 1]
                found.append((min(start, other_start), max(end, other_end)))
    return _maximal(found)


def _near_any(left: list[Span], right: list[Span], distance: int) -> bool:
    """Whether some pair is at most `distance` apart: a span's partners are a range of the
    other side, which is not empty when its first candidate starts early enough."""
    for start, end in left:
        first = bisect_left(right, start - distance, key=_LAST)
        if first < len(right) and right[first][0] <= end + distance:
            return True
    return False


class _Matcher:
    """One rule compiled for one profile: its test and, for hits, its positive leaves.

    Slots and flat tuples: a matching article touches a few dozen matchers, and on a large
    rule set each one it touches is cold in the CPU caches."""

    __slots__ = ("grouped", "profile", "rule", "rule_id", "simple", "version")

    def __init__(self, rule: Rule, profile: _Profile):
        self.rule = rule
        self.rule_id, self.version = rule.id, rule.version
        self.profile: _Profile = weakref.proxy(profile)
        # Positive words and phrases, grouped by label (an entity's aliases share one).
        # A term comes with its ids, a phrase with its slots.
        groups: dict[str, list[tuple[Term | Phrase, Any]]] = {}
        for leaf, negated in leaves(rule.query.root):
            if not negated and isinstance(leaf, (Term, Phrase)):
                slots = self._slots(leaf)
                groups.setdefault(leaf.label, []).append(
                    (leaf, slots[0] if isinstance(leaf, Term) else slots))
        # A label with one word term is the common case: its (label, ids, field), numbered.
        self.simple = tuple(profile.hit_number((label, group[0][1], group[0][0].field))
                            for label, group in groups.items()
                            if len(group) == 1 and isinstance(group[0][0], Term))
        self.grouped = tuple((label, tuple(group)) for label, group in groups.items()
                             if len(group) > 1 or not isinstance(group[0][0], Term))

    def test(self) -> Test:
        """The rule's test (compiled when a candidate first needs it: rules that their
        clauses decide never do)."""
        return self._test(self.rule.query.root)

    def _slots(self, node: Term | Phrase) -> tuple[tuple[int, ...], ...]:
        """Per word of a term or phrase, the ids any of which it matches."""
        resolve = self.profile.compiled.resolve
        if isinstance(node, Term):
            return (resolve((node.kind, node.form)),)
        return tuple(resolve(word) for word in node.words)

    def _test(self, node: Node) -> Test:
        """The rule's test as ONE generated Python function: its language and source limits,
        then the query, whose word terms become set operations on the article's term ids and
        whose phrases and NEARs call closures. Ids, sets and closures are the function's
        parameters, filled from its defaults, so the code is the same for every rule of one
        shape and is compiled once (at 100,000 rules, compiling each rule's own code was a
        sixth of the first pass over the corpus); the code never holds text from the rule."""
        values: list[Any] = []
        helpers: list[Test] = []

        def constant(value: Any) -> str:
            values.append(value)
            return f"c{len(values) - 1}"

        def helper(function: Test) -> str:
            helpers.append(function)
            return f"{constant(function)}(v)"

        limits = []
        if self.rule.languages:
            limits.append(f"v.lang in {constant(self.rule.languages)}")
        if self.rule.sources:
            limits.append(f"not v.sources.isdisjoint({constant(self.rule.sources)})")
        expression = self._expression(node, constant, helper)
        if helpers:       # phrases or NEARs: their work counts against the rule's budget
            limits.append("v.begin()")
        parameters = "".join(f", c{n}" for n in range(len(values)))
        code = _test_code(f"lambda v{parameters}: {' and '.join([*limits, expression])}")
        return FunctionType(code, _NO_GLOBALS, f"rule {self.rule.id}", tuple(values))

    def _expression(self, node: Node, constant: Callable[[Any], str],
                    helper: Callable[[Test], str]) -> str:
        if isinstance(node, Term):
            return self._terms(And, [node], constant)
        if isinstance(node, Phrase):
            return helper(self._phrase_test(node))
        if isinstance(node, Lang):
            return f"(v.lang == {constant(node.code)})"
        if isinstance(node, Source):
            return f"({constant(node.name)} in v.sources)"
        if isinstance(node, Not):
            return f"(not {self._expression(node.child, constant, helper)})"
        if isinstance(node, Near):
            return (f"({self._present(node.left, constant)} and "
                    f"{self._present(node.right, constant)} and "
                    f"{helper(self._near_test(node))})")
        kind = type(node)
        assert isinstance(node, (And, Or))
        children = node.children
        terms = [child for child in children if isinstance(child, Term)]
        parts = [self._terms(kind, terms, constant)] if terms else []
        parts += [self._expression(child, constant, helper)
                  for child in children if not isinstance(child, Term)]
        return "(" + (" and " if kind is And else " or ").join(parts) + ")"

    def _present(self, node: Node, constant: Callable[[Any], str]) -> str:
        """What a NEAR operand needs before positions are worth looking at: its words (all of
        a phrase's, one of an OR's branches), as set operations."""
        if isinstance(node, Term):
            return self._terms(And, [node], constant)
        if isinstance(node, Phrase):
            present = _FIELD_ATTRIBUTES[node.field]
            return "(" + " and ".join(f"not {present}.isdisjoint({constant(ids)})"
                                      for ids in dict.fromkeys(self._slots(node))) + ")"
        if isinstance(node, Near):
            return (f"({self._present(node.left, constant)} and "
                    f"{self._present(node.right, constant)})")
        assert isinstance(node, Or)
        return "(" + " or ".join(self._present(child, constant)
                                 for child in node.children) + ")"

    def _terms(self, kind: type, terms: list[Term], constant: Callable[[Any], str]) -> str:
        """Word terms of an AND or OR as set operations: one C call per field."""
        checks = []
        for field in dict.fromkeys(term.field for term in terms):
            present = _FIELD_ATTRIBUTES[field]
            slots = [self._slots(term)[0] for term in terms if term.field == field]
            if kind is Or:
                wanted = frozenset(chain.from_iterable(slots))
                checks.append(f"not {present}.isdisjoint({constant(wanted)})")
                continue
            single = [ids[0] for ids in slots if len(ids) == 1]
            if len(single) == 1:
                checks.append(f"{constant(single[0])} in {present}")
            elif single:
                checks.append(f"{present}.issuperset({constant(frozenset(single))})")
            checks += [f"not {present}.isdisjoint({constant(ids)})"
                       for ids in slots if len(ids) > 1]
        return "(" + (" and " if kind is And else " or ").join(checks) + ")"

    def _phrase_test(self, node: Phrase) -> Test:
        slots, field = self._slots(node), node.field
        present = _FIELD_SETS[field]

        def phrase(view: _View) -> bool:
            found = present(view)
            for ids in slots:
                if found.isdisjoint(ids):
                    return False
            return bool(view.phrase_in_test(slots, field))
        return phrase

    def _near_test(self, node: Near) -> Test:
        """Whether a NEAR occurs: its operands' spans, and one pair close enough."""
        left, right, distance = self._spans(node.left), self._spans(node.right), node.distance

        def near(view: _View) -> bool:
            found_left = left(view)
            if not found_left:
                return False
            found_right = right(view)
            if not found_right:
                return False
            view.spend(len(found_left) + len(found_right))
            return _near_any(found_left, found_right, distance)
        return near

    def _spans(self, node: Node) -> Spans:
        """The maximal word spans (first, last position) where a positional node occurs,
        sorted; every step is paid for from the rule's budget before it is taken, but for
        a NEAR's result, which is at most twice its operands' spans."""
        if isinstance(node, Term):
            [ids], field = self._slots(node), node.field

            def term(view: _View) -> list[Span]:
                positions = _in_field(view.positions_any(ids), field)
                view.spend(len(positions))
                return list(zip(positions, positions, strict=True))
            return term
        if isinstance(node, Phrase):
            slots, field, length = self._slots(node), node.field, len(node.words) - 1

            def phrase(view: _View) -> list[Span]:
                starts = view.phrase_in_test(slots, field)
                return list(zip(starts, map(add, starts, repeat(length)), strict=True))
            return phrase
        if isinstance(node, Or):
            parts = [self._spans(child) for child in node.children]

            def any_of(view: _View) -> list[Span]:
                found = list(chain.from_iterable(part(view) for part in parts))
                view.spend(len(found))
                return _maximal(found)
            return any_of
        assert isinstance(node, Near)
        left, right, distance = self._spans(node.left), self._spans(node.right), node.distance

        def near(view: _View) -> list[Span]:
            found_left = left(view)
            if not found_left:
                return []
            found_right = right(view)
            if not found_right:
                return []
            view.spend(len(found_left) + len(found_right))
            found = _near(found_left, found_right, distance)
            view.spend(len(found))
            return found
        return near

    def result(self, view: _View) -> RuleMatch:
        """The match of a rule with grouped terms (phrases, or several terms under one
        label); Engine._results makes those of word-only rules itself, in one step."""
        return _new_match((self.rule_id, self.version, self.hits(view)))

    def hits(self, view: _View) -> tuple[Hit, ...]:
        """Every positive term that occurs, per field: positions and the article's words."""
        found = tuple(chain.from_iterable(map(view.__getitem__, self.simple)))
        more: list[Hit] = []
        where, phrase_places = view.where, view.phrase_places
        for label, group in self.grouped:
            merged: dict[str, tuple[set[int], dict[str, None]]] = {}
            for leaf, ids in group:
                places = (where(ids, leaf.field) if isinstance(leaf, Term)
                          else phrase_places(ids, leaf.field))
                for name, at, words in places:
                    positions, seen = merged.setdefault(name, (set(), {}))
                    positions.update(at)
                    seen.update(dict.fromkeys(words))
            more += [Hit(label, field, tuple(sorted(positions)[:MAX_HIT_POSITIONS]),
                         tuple(words)) for field, (positions, words) in merged.items()]
        return found + tuple(more)


# ------------------------------------------------------------------------------ engine

class Engine:
    """Matches articles against the enabled rules of a RuleSet.

    The first Engine of a RuleSet builds its index (the rule set's load pays for it, not
    the first article); the others share it. A long-lived large index is best moved out of
    the cycle collector's sight by its owner (collector.out_of_collectors_sight; the pipeline
    does). A stemmer profile's table of stems is made
    when an article of that profile first arrives.
    `budget` limits the work per article (see Budget); a rule that runs out does not match,
    and match_report names it.
    """

    def __init__(self, ruleset: RuleSet, analyzer: Analyzer = ANALYZER,
                 budget: Budget = _DEFAULT_BUDGET):
        self.ruleset = ruleset
        self.analyzer = analyzer
        self.budget = budget
        compiled = _COMPILED.get(ruleset) if analyzer is ANALYZER else None
        if compiled is None:
            with CollectorPaused():      # millions of objects, and no garbage among them
                compiled = _Compiled(ruleset, analyzer)
            if analyzer is ANALYZER:
                _COMPILED[ruleset] = compiled
        self._compiled = compiled

    def match(self, article: Article) -> list[RuleMatch]:
        """The rules the article matches, with their hits (a rule over budget does not)."""
        with CollectorPaused():
            return self.match_report(article).matches

    def match_report(self, article: Article) -> MatchReport:
        """The matches with their hits, and the rules that ran out of budget on the article."""
        return self.report_analyzed(self.analyzer.analyse(article), article.id)

    def report_analyzed(self, text: AnalyzedText, article_id: int | None) -> MatchReport:
        """match_report for an article analysed already."""
        with self._verifying(text) as (profile, view, matched, exceeded):
            return MatchReport(self._results(profile, view, matched),
                               self._exceeded(exceeded, article_id) if exceeded else [])

    def match_analyzed(self, text: AnalyzedText) -> list[RuleMatch]:
        return self.report_analyzed(text, None).matches

    def verify(self, text: AnalyzedText, article_id: int | None = None) -> Verified:
        """The rules an analysed article matches, without their hits: the pipeline's hot
        path. Working out where each term matched costs more than deciding that the rule
        matches (at 100,000 rules, three times more), and only the matches that are shown
        need it: `highlight` does that for them (Lucene Monitor's split of matching and
        highlighting)."""
        with self._verifying(text) as (_, _, matched, exceeded):
            rules = self._compiled.rules
            return Verified([rules[number] for number in matched],
                            self._exceeded(exceeded, article_id) if exceeded else [])

    def highlight(self, article: Article, rule_ids: Iterable[str]) -> list[RuleMatch]:
        """The matches of these rules on the article, with their hits: what an alert puts in
        bold. A rule that does not match the article (changed since it did) or that the
        rule set does not have gives nothing."""
        numbers = self._compiled.numbers
        wanted = {numbers[rule_id] for rule_id in rule_ids if rule_id in numbers}
        if not wanted:
            return []
        with self._verifying(self.analyzer.analyse(article)) as (profile, view, matched, _):
            return self._results(profile, view, [n for n in matched if n in wanted])

    @contextmanager
    def _verifying(self, text: AnalyzedText
                   ) -> Iterator[tuple[_Profile, _View, list[int], list[tuple[int, str, int]]]]:
        """The article's view, the numbers of the rules it matches and those that ran out
        of budget; inside, the engine's word tables are this article's alone (hits are made
        from them)."""
        compiled = self._compiled
        profile = compiled.profile(text.profile)
        with compiled.in_use, CollectorPaused():
            view = _View(text, profile, self.budget)
            exceeded: list[tuple[int, str, int]] = []
            yield profile, view, self._matched(profile, view, exceeded), exceeded

    def match_without_presearch(self, article: Article) -> list[RuleMatch]:
        """Every rule tested, no index: the baseline the benchmark compares with."""
        text = self.analyzer.analyse(article)
        profile = self._compiled.profile(text.profile)
        view = _View(text, profile, self.budget)
        skipped = set(profile.compiled.infix_rules) if view.wildcard_work else set()
        matched = [n for n in range(len(self._compiled.rules))
                   if n not in skipped and _passes(profile.test(n), view)]
        return self._results(profile, view, matched)

    def verification_work(self, article: Article) -> dict[str, int]:
        """Steps each rule's phrases and NEARs take on an article, without the presearch
        (for tests and benchmarks: what the verification budget is measured against). A
        rule over budget shows the steps it had spent when it was stopped, more than the
        budget; rules without phrases or NEARs take none."""
        text = self.analyzer.analyse(article)
        profile = self._compiled.profile(text.profile)
        view = _View(text, profile, self.budget)
        work = {}
        for number, rule in enumerate(self._compiled.rules):
            view.budget = view.limit
            _passes(profile.test(number), view)
            work[rule.id] = view.limit - view.budget
        return work

    def candidates(self, text: AnalyzedText) -> list[Rule]:
        """The rules the presearch picks (for benchmarks and debugging): the candidates for
        the second-clause check, and the rules checked for every article."""
        profile = self._compiled.profile(text.profile)
        postings = _View(text, profile, self.budget).postings
        picked = set(profile.always).union(chain.from_iterable(map(_NUMBERS, postings)))
        return [self._compiled.rules[n] for n in sorted(picked)]

    def _matched(self, profile: _Profile, view: _View,
                 exceeded: list[tuple[int, str, int]]) -> list[int]:
        """Numbers of the matching rules, in rule order. The second-clause check that every
        candidate needs runs in C over all of them at once; only the candidates that pass it
        and that their clauses do not decide call their test. A test that runs out of budget
        is noted in `exceeded` (rule number, reason, work) and the others go on."""
        postings = view.postings
        numbers = chain.from_iterable(map(_NUMBERS, postings))
        seconds = chain.from_iterable(map(_SECONDS, postings))
        passed = set(compress(numbers, map(view.ids.__contains__, seconds)))
        passed.update(profile.always)
        if view.wildcard_work:
            passed.difference_update(self._wildcards_exceeded(profile, view, exceeded))
        decided, tests = profile.decided, profile.tests
        matched = []
        pending = iter(passed)
        while True:
            try:
                for number in pending:
                    if decided[number] or (tests[number] or profile.test(number))(view):
                        matched.append(number)
                break
            except _OverBudget:       # the loop goes on with the next rule
                exceeded.append((number, "verify", view.limit - view.budget))
        return sorted(matched)

    def _wildcards_exceeded(self, profile: _Profile, view: _View,
                            exceeded: list[tuple[int, str, int]]) -> list[int]:
        """The rules with *mid* wildcards that could apply to an article over the wildcard
        budget: not checked, and noted."""
        compiled, text = profile.compiled, view.text
        skipped = []
        for number in compiled.infix_rules:
            rule = compiled.rules[number]
            if rule.languages and text.language not in rule.languages:
                continue
            if rule.sources and rule.sources.isdisjoint(text.sources):
                continue
            skipped.append(number)
            exceeded.append((number, "wildcards", view.wildcard_work))
        return skipped

    def _exceeded(self, found: list[tuple[int, str, int]],
                  article_id: int | None) -> list[BudgetExceeded]:
        rules = self._compiled.rules
        limits = {"verify": self.budget.verify, "wildcards": self.budget.wildcards}
        return [BudgetExceeded(rules[number].id, article_id, reason, work, limits[reason])
                for number, reason, work in sorted(found)]

    @staticmethod
    def _results(profile: _Profile, view: _View, numbers: Iterable[int]) -> list[RuleMatch]:
        """The matches with their hits. Most matching rules have word terms only, whose hits
        are the view's memo entries: for them, the match is made here in one step."""
        matchers, hits = profile.matchers, view.__getitem__
        found = []
        for number in numbers:
            matcher = matchers[number] or profile.matcher(number)
            simple = matcher.simple
            found.append(matcher.result(view) if matcher.grouped else _new_match(
                (matcher.rule_id, matcher.version, hits(simple[0]) if len(simple) == 1
                 else tuple(chain.from_iterable(map(hits, simple))))))
        return found


_NO_GLOBALS: dict[str, Any] = {"__builtins__": {}}


@lru_cache(maxsize=4096)
def _test_code(source: str) -> CodeType:
    """The code of a rule test's lambda, compiled once per shape (see _Matcher._test)."""
    test = eval(compile(source, "<rule test>", "eval"), _NO_GLOBALS)
    return test.__code__


def _passes(test: Test, view: _View) -> bool:
    """A rule's test, False when it runs out of budget."""
    try:
        return test(view)
    except _OverBudget:
        return False


def match_batch(engine: Engine, articles: list[Article]) -> BatchMatches:
    """Matches of a batch as rows for Store.save_matches, the rules that ran out of budget
    on its articles (to be logged and told to the rule's owner), and their index terms,
    from one analysis per article."""
    rows = []
    exceeded = []
    terms = []
    words: set[str] = set()
    for article in articles:
        text = engine.analyzer.analyse(article)
        verified = engine.verify(text, article.id)
        exceeded += verified.exceeded
        entry = article_terms(text, engine.analyzer)
        terms.append((article.stored_id, entry.terms))
        words |= entry.words
        rows += [{"article_id": article.id, "rule_id": rule.id, "rule_version": rule.version}
                 for rule in verified.rules]
    return BatchMatches(rows, exceeded, terms, words)
