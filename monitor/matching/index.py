"""The rule index: postings by term, built once per rule set (Lucene Monitor's query index).

Terms are integer ids, one per query word, the same in every language, so the index of the
rules is built once (`RuleIndex`: term id -> the rules indexed under it, with their second
clauses, see presearch.py). Stems depend on the article's language: each stemmer profile
(`Profile`, made lazily, the first time an article of that profile arrives) stems the rules'
bare words in one call and maps those stems onto their ids, which an article's word reaches
through its own stem in that profile. Wildcards are resolved per distinct word through
dictionaries of their fixed parts (prefixes and suffixes of the lengths in use; substrings
found from their first three characters), once per word: a word's table entry
(`WordPostings`) holds its term ids and its postings, so an article costs one table lookup
per distinct word it has that is not already known to carry no term.

No reference cycles: back references are weak, so that reference counting frees a replaced
index even when its owner moved it out of the cycle collector's sight (collector.py).
"""

from __future__ import annotations

import threading
import weakref
from array import array
from collections import defaultdict
from collections.abc import Callable, Sequence
from itertools import chain, repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from monitor.matching.analysis import ANALYZER, AnalyzedText, Analyzer
from monitor.matching.collector import CollectorPaused
from monitor.matching.presearch import Clause, Template, plan, templates
from monitor.matching.query import MAX_WILDCARD_WORD, MIN_WILDCARD, Phrase, Term
from monitor.matching.rules import RuleSet

if TYPE_CHECKING:
    from monitor.matching.highlight import HitKey, HitPlan
    from monitor.matching.verify import Test


class Postings(NamedTuple):
    """What a word (or the article's language, or a source name) brings to the presearch:
    the term ids it carries; those ids with the ids of the second clauses they satisfy; and
    the candidate rules with the ids of their second clauses. One record per word, so that
    an article costs one table lookup per distinct word and none per term. The last three
    are int arrays: compact, read sequentially (an int is made per entry read). The second
    clauses stand beside the candidates rather than in a table by rule number, which would
    be no simpler (6865955 measured the two: this way 7-9 % faster at 100,000 rules)."""

    ids: tuple[int, ...]
    present: Sequence[int]
    numbers: Sequence[int]
    second_clauses: Sequence[int]


NOTHING = Postings((), (), (), ())
IDS, PRESENT, NUMBERS, SECOND_CLAUSES = map(itemgetter, range(4))


class WordPostings(dict[str, Postings]):
    """raw word → its postings, computed on first sight, for the words that carry rule terms;
    the others go to `irrelevant`, a set, which an article's words are first reduced by (a
    set lookup touches less memory than a dict lookup, and most words carry no term; 0f68e02:
    the view at 1,000 rules went from ~110 to ~65 µs per article); term id → the words seen
    so far that carry it; and the same for each hit term of several ids (one set fed as
    words arrive, so that a term's hits cost one lookup of cold memory, not one per id;
    1f7c3b8: 0.90 of the time at 100,000 rules). All are bounded."""

    def __init__(self, compute: Callable[[str], Postings], limit: int,
                 compute_partial: Callable[[str], Postings] | None = None):
        super().__init__()
        self.compute = compute
        self.compute_partial = compute_partial
        self.limit = limit
        self.partial_words = 0
        self.irrelevant: set[str] = set()
        self.words_of: defaultdict[int, set[str]] = defaultdict(set)   # term id → words
        self.term_words: dict[tuple[int, ...], set[str]] = {}
        self._fed_sets: defaultdict[int, list[set[str]]] = defaultdict(list)

    def __missing__(self, word: str) -> Postings:
        found = self.compute(word)
        if found is NOTHING:
            self.irrelevant.add(word)
        else:
            self[word] = found
            self._carried(word, found)
        return found

    def _carried(self, word: str, found: Postings) -> None:
        for term_id in found.ids:
            self.words_of[term_id].add(word)
            for words in self._fed_sets.get(term_id, ()):
                words.add(word)

    def partial(self, word: str) -> Postings:
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
                self._fed_sets[term_id].append(found)
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


class RuleIndex:
    """Which rules an article's term ids make candidates. The same in every stemmer profile:
    a query word is one term id whatever the language (a profile maps the stems of an
    article's words onto the ids of the rules' words), so it is built once per rule set, not
    once per language met."""

    def __init__(self, compiled: CompiledRules):
        self.compiled: CompiledRules = weakref.proxy(compiled)
        resolve = compiled.resolve
        # Rules are candidates through `index` (or `always`), filtered by their second clause,
        # which `second_clauses` holds parallel to `index` so that the filter touches no rule
        # objects; a rule of one clause has `any_term`, which every article has. A second
        # clause of several terms gets an id of its own that every word carrying one of them
        # also carries (`implied`): the filter is one set lookup per candidate.
        self.index: dict[int, list[int]] = {}
        self.second_clauses: dict[int, list[int]] = {}
        self.always: list[int] = []
        self.implied: dict[int, list[int]] = {}
        self.decided: list[bool] = []
        for number, rule_plan in enumerate(compiled.plans):
            self.decided.append(rule_plan.decided)
            if rule_plan.first is None:
                self.always.append(number)
                continue
            second = (self._clause_id(rule_plan.second) if rule_plan.second
                      else compiled.any_term)
            for term_id in dict.fromkeys(i for t in rule_plan.first for i in resolve(t)):
                self.index.setdefault(term_id, []).append(number)
                self.second_clauses.setdefault(term_id, []).append(second)
        self._shared: dict[tuple[int, ...], Postings] = {(): NOTHING}

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

    def postings(self, ids: tuple[int, ...]) -> Postings:
        """The postings of a set of term ids (shared by every word that carries them)."""
        found = self._shared.get(ids)
        if found is None:
            def gather(table: dict[int, list[Any]]) -> Sequence[int]:
                # Empty: the one empty tuple (a third of an article's relevant words index no
                # rule; the presearch then reads no memory of their own).
                return array("i", chain.from_iterable(table.get(i, ()) for i in ids)) or ()
            found = self._shared[ids] = Postings(
                ids, array("i", dict.fromkeys((*ids, *gather(self.implied)))),
                gather(self.index), gather(self.second_clauses))
        return found


class Profile:
    """What one stemmer profile adds to the rule index (stems differ between languages):
    which rule words an article's stems stand for, and the tables of the words seen."""

    def __init__(self, compiled: CompiledRules, profile: str | None):
        # No reference cycles in an index (back references are weak), so that reference
        # counting frees a replaced index even when it was frozen (out_of_collectors_sight).
        self.compiled: CompiledRules = weakref.proxy(compiled)
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
        # The rules' hit plans in this profile (highlight.hit_plan), made as matches need them.
        self.hit_plans: list[HitPlan | None] = [None] * len(compiled.rules)
        # The one-word terms of the rules compiled so far, (label, ids, field) → (label,
        # field, the words seen so far that carry the term): a term's hits in an article
        # are one intersection of its words with the article's.
        self.hit_terms: dict[HitKey, tuple[str, str | None, set[str]]] = {}
        me = weakref.proxy(self)
        self.word_postings = WordPostings(
            lambda word: me.postings(me._ids_of(word)), analyzer.cache_limit,
            lambda word: me.postings(me._ids_of(word, infixes=False)))

    def _ids_of(self, word: str, infixes: bool = True) -> tuple[int, ...]:
        """The term ids a word carries: its exact form and stem, and the wildcards it
        matches (`*fix` and `*mid*` only in words of at most MAX_WILDCARD_WORD characters;
        `*mid*`: a lookup of the first MIN_WILDCARD characters at each start, and of the
        fixed parts that begin with them, see CompiledRules.infix_cost)."""
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


def _by_end(forms: dict[str, int], first: bool
            ) -> tuple[int, dict[str, tuple[tuple[str, int], ...]]]:
    """Wildcard fixed parts grouped by their first (or last) n characters, n the length of
    the shortest (0, and no groups, without any)."""
    size = min(map(len, forms), default=0)
    groups: dict[str, list[tuple[str, int]]] = {}
    for form, term_id in sorted(forms.items(), key=lambda item: len(item[0])):
        groups.setdefault(form[:size] if first else form[-size:], []).append((form, term_id))
    return size, {end: tuple(group) for end, group in groups.items()}


class CompiledRules:
    """Everything the engine derives from one RuleSet; shared by every Engine over it."""

    def __init__(self, ruleset: RuleSet, analyzer: Analyzer):
        self.analyzer = analyzer
        self.rules = [rule for rule in ruleset.rules if rule.enabled]
        self.plans = [plan(rule) for rule in self.rules]
        self.keys: dict[str, int] = {}
        self.prefixes: dict[str, int] = {}
        self.suffixes: dict[str, int] = {}
        self.infixes: dict[str, int] = {}
        # A term every article has: the second clause of rules that have only one.
        self.any_term = self.intern("", "any", "")
        # Every distinct term of the rules, walked out of their trees once, and numbered.
        self.templates = list(dict.fromkeys(
            template for rule in self.rules for template in templates(rule.query.root)))
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
                            if any(kind == "infix" for kind, _ in templates(rule.query.root))]
        self.numbers = {rule.id: number for number, rule in enumerate(self.rules)}
        # The rules' tests (verify.rule_test), compiled as candidates need them.
        self.tests: list[Test | None] = [None] * len(self.rules)
        self.profiles: dict[str | None, Profile] = {}
        self.rule_index = RuleIndex(self)
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

    def slots(self, node: Term | Phrase) -> tuple[tuple[int, ...], ...]:
        """Per word of a term or phrase, the ids any of which it matches."""
        if isinstance(node, Term):
            return (self.resolve((node.kind, node.form)),)
        return tuple(self.resolve(word) for word in node.words)

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

    def profile(self, name: str | None) -> Profile:
        found = self.profiles.get(name)
        if found is None:
            with self.lock:
                found = self.profiles.get(name)
                if found is None:
                    found = self.profiles[name] = Profile(self, name)
        return found


_COMPILED: weakref.WeakKeyDictionary[RuleSet, CompiledRules] = weakref.WeakKeyDictionary()


def compiled_rules(ruleset: RuleSet, analyzer: Analyzer) -> CompiledRules:
    """The index of a rule set, built once and shared by every engine over it (with the
    shared analyser; another analyser gets its own). Built with the cycle collector paused:
    millions of objects, and no garbage among them."""
    shared = analyzer is ANALYZER
    found = _COMPILED.get(ruleset) if shared else None
    if found is None:
        with CollectorPaused():
            found = CompiledRules(ruleset, analyzer)
        if shared:
            _COMPILED[ruleset] = found
    return found
