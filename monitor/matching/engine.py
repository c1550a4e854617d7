"""The rule engine: stored queries matched the way Luwak / Lucene Monitor do it.

Instead of evaluating every rule against every article, each rule is indexed under a few
terms that any article it matches must contain (its "presearch" terms):

- a word, exact word, wildcard, `lang:` or `source:` term: itself;
- a phrase: its rarest word; NEAR and AND: the rarest of their operands ("rarest" is guessed
  from the term's kind and length, as Luwak's TermWeightor does); OR: every branch;
- NOT: nothing (it can be true for an article that contains none of its terms), so a rule
  that is only negative goes on a short always-check list;
- a rule's `languages` and `sources` limits are terms too (an AND with the query).

An article becomes the set of term ids it contains (its words' exact and stemmed forms, the
wildcards they match, its language and source names); the rules indexed under those ids are
the candidates, and only they are fully verified against per-article word positions. The
result is exactly what evaluating every rule on every article gives (a property test proves
it against evaluate.py).

Terms are integer ids. Stems depend on the article's language, so the index is built per
stemmer profile, lazily, the first time an article of that profile arrives. Wildcards are
resolved per distinct word through dictionaries of their fixed parts (prefixes, suffixes,
substrings of the lengths in use), once per word thanks to the word → ids cache.

Verification is where CPython spends its time on function calls, so each rule's test is one
generated function (compiled on the rule's first candidacy) in which the word terms of an
AND or OR are a single issuperset/isdisjoint on the article's id set; phrases and NEAR call
closures over word positions, which are worked out once per article and only when needed.
Hits (which term matched where, for the stored match) are cached per term per article, since
the rules that match one article share many terms.
"""

from __future__ import annotations

import threading
import weakref
from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable, Iterable
from itertools import chain, compress, count, repeat
from operator import sub
from typing import Any, NamedTuple

from monitor.matching.analysis import (
    ANALYZER,
    BODY_OFFSET,
    AnalyzedText,
    Analyzer,
    FieldText,
)
from monitor.matching.query import (
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

    def summary(self) -> dict[str, Any]:
        """What is stored with the match, so that an alert can say why it fired."""
        return {"words": self.words, "hits": [hit.as_dict() for hit in self.hits]}


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


def _best(options: list[list[Template]]) -> list[Template]:
    return max(options, key=lambda alternatives: (min(map(_weight, alternatives)),
                                                  -len(alternatives)))


def required_terms(node: Node) -> list[Template] | None:
    """Terms of which every matching article contains at least one; None when an article
    without any of the query's terms can match (a NOT at the top, `x OR NOT y`)."""
    if isinstance(node, Term):
        return [(node.kind, node.form)]
    if isinstance(node, Phrase):
        return [_best([[word] for word in node.words])[0]]
    if isinstance(node, Lang):
        return [("lang", node.code)]
    if isinstance(node, Source):
        return [("source", node.name)]
    if isinstance(node, Or):
        found = [required_terms(child) for child in node.children]
        if any(f is None for f in found):
            return None
        return list(dict.fromkeys(chain.from_iterable(found)))   # type: ignore[arg-type]
    if isinstance(node, (And, Near)):
        children = node.children if isinstance(node, And) else (node.left, node.right)
        options = [f for child in children if (f := required_terms(child)) is not None]
        return _best(options) if options else None
    assert isinstance(node, Not)
    return None


def is_negative_only(rule: Rule) -> bool:
    """True when the query needs none of its terms: `monitor rules check` warns about it."""
    return required_terms(rule.query.root) is None


def _rule_requirement(rule: Rule) -> list[Template] | None:
    options = []
    if (query := required_terms(rule.query.root)) is not None:
        options.append(query)
    if rule.languages:
        options.append([("lang", code) for code in sorted(rule.languages)])
    if rule.sources:
        options.append([("source", name) for name in sorted(rule.sources)])
    return _best(options) if options else None


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

class _WordIds(dict[str, tuple[int, ...]]):
    """raw word → ids of the rule terms it carries, computed on first sight; and the other
    way round, term id → the words seen so far that carry it (for positions and hits)."""

    def __init__(self, compute: Callable[[str], tuple[int, ...]], limit: int):
        super().__init__()
        self.compute = compute
        self.limit = limit
        self.words_of: defaultdict[int, set[str]] = defaultdict(set)

    def __missing__(self, word: str) -> tuple[int, ...]:
        if len(self) >= self.limit:
            self.clear()
            self.words_of.clear()
        ids = self[word] = self.compute(word)
        for term_id in ids:
            self.words_of[term_id].add(word)
        return ids


class _Profile:
    """The index for one stemmer profile (stems differ between languages)."""

    def __init__(self, compiled: _Compiled, profile: str | None):
        self.compiled = compiled
        self.profile = profile
        analyzer = compiled.analyzer
        self.resolve_cache: dict[Template, tuple[int, ...]] = {}
        for rule in compiled.rules:
            for template in _templates(rule.query.root):
                self.resolve(template)
        self.index: dict[int, list[int]] = {}
        self.always: list[int] = []
        for number, requirement in enumerate(compiled.requirements):
            if requirement is None:
                self.always.append(number)
                continue
            for term_id in {i for t in requirement for i in self.resolve(t)}:
                self.index.setdefault(term_id, []).append(number)
        self.matchers: list[_Matcher | None] = [None] * len(compiled.rules)
        self.word_ids = _WordIds(self._ids_of, analyzer.cache_limit)

    def resolve(self, template: Template) -> tuple[int, ...]:
        """The term ids of a query word in this profile: one id, except for a bare word whose
        stem differs from its own form, which matches either as a stem (see analysis.py)."""
        found = self.resolve_cache.get(template)
        if found is None:
            kind, form = template
            intern = self.compiled.intern
            if kind == "stem":
                stems = dict.fromkeys(self.compiled.analyzer.forms(self.profile, form)[::-1])
                found = tuple(intern("~" + stem, kind, stem) for stem in stems)
            else:
                found = (intern(f"{kind}:{form}", kind, form),)
            self.resolve_cache[template] = found
        return found

    def _ids_of(self, word: str) -> tuple[int, ...]:
        compiled = self.compiled
        exact, stem = compiled.analyzer.forms(self.profile, word)
        keys = compiled.keys
        ids = [i for i in (keys.get("exact:" + exact), keys.get("~" + stem)) if i is not None]
        for length in compiled.prefix_lengths:
            if (i := compiled.prefixes.get(exact[:length])) is not None:
                ids.append(i)
        for length in compiled.suffix_lengths:
            if (i := compiled.suffixes.get(exact[-length:])) is not None:
                ids.append(i)
        for length in compiled.infix_lengths:
            for start in range(len(exact) - length + 1):
                if (i := compiled.infixes.get(exact[start:start + length])) is not None:
                    ids.append(i)
        return tuple(dict.fromkeys(ids))

    def matcher(self, number: int) -> _Matcher:
        found = self.matchers[number]
        if found is None:
            found = self.matchers[number] = _Matcher(self.compiled.rules[number], self)
        return found


class _Compiled:
    """Everything the engine derives from one RuleSet; shared by every Engine over it."""

    def __init__(self, ruleset: RuleSet, analyzer: Analyzer):
        self.analyzer = analyzer
        self.rules = [rule for rule in ruleset.rules if rule.enabled]
        self.requirements = [_rule_requirement(rule) for rule in self.rules]
        self.keys: dict[str, int] = {}
        self.prefixes: dict[str, int] = {}
        self.suffixes: dict[str, int] = {}
        self.infixes: dict[str, int] = {}
        for rule in self.rules:
            for kind, form in _templates(rule.query.root):
                if kind != "stem":
                    self.intern(f"{kind}:{form}", kind, form)
            for code in rule.languages:
                self.intern(f"lang:{code}", "lang", code)
            for name in rule.sources:
                self.intern(f"source:{name}", "source", name)
        self.prefix_lengths = sorted({len(f) for f in self.prefixes})
        self.suffix_lengths = sorted({len(f) for f in self.suffixes})
        self.infix_lengths = sorted({len(f) for f in self.infixes})
        self.profiles: dict[str | None, _Profile] = {}
        self._lock = threading.Lock()

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
            with self._lock:
                found = self.profiles.get(name)
                if found is None:
                    found = self.profiles[name] = _Profile(self, name)
        return found


_COMPILED: weakref.WeakKeyDictionary[RuleSet, _Compiled] = weakref.WeakKeyDictionary()


# ------------------------------------------------------------------------ verification

class _View:
    """One article as the verifier sees it: term ids per field; word positions on demand.

    Positions are built in two lazy steps: where each relevant word (one that carries a rule
    term) occurs, then, per term asked for, the merged positions of its words.
    """

    __slots__ = (
        "_body",
        "_hits",
        "_parts",
        "_phrases",
        "_positions",
        "_title",
        "_words",
        "ids",
        "lang",
        "lookup",
        "relevant",
        "sources",
        "text",
        "words_of",
    )

    def __init__(self, text: AnalyzedText, profile: _Profile):
        lookup = self.lookup = profile.word_ids.__getitem__
        self.words_of = profile.word_ids.words_of
        self.text = text
        # The one lookup of every distinct word; keep the words that carry rule terms.
        self.relevant = set(filter(lookup, text.body.words.union(text.title.words)))
        self.ids = set(chain.from_iterable(map(lookup, self.relevant)))
        keys = profile.compiled.keys
        for key in ("lang:" + text.language, *("source:" + s for s in text.sources)):
            if (term_id := keys.get(key)) is not None:
                self.ids.add(term_id)
        self.lang = text.language
        self.sources = text.sources
        self._title: set[int] | None = None
        self._body: set[int] | None = None
        self._words: defaultdict[str, list[int]] | None = None
        self._positions: dict[int, list[int]] = {}
        self._hits: dict[tuple[str, tuple[int, ...], str | None], tuple[Hit, ...]] = {}
        self._phrases: dict[tuple[tuple[tuple[int, ...], ...], str | None], list[int]] = {}
        self._parts: dict[str, tuple[tuple[int, ...], tuple[int, ...], str]] = {}

    @property
    def title(self) -> set[int]:
        """Term ids of the title (only title: and body: terms need them: computed late)."""
        if self._title is None:
            self._title = self._field_ids(self.text.title)
        return self._title

    @property
    def body(self) -> set[int]:
        if self._body is None:
            self._body = self._field_ids(self.text.body)
        return self._body

    def _field_ids(self, field: FieldText) -> set[int]:
        return set(chain.from_iterable(map(self.lookup, self.relevant.intersection(field.words))))

    def _carriers(self, ids: tuple[int, ...]) -> set[str]:
        """This article's words that carry one of the term ids."""
        relevant, words_of = self.relevant, self.words_of
        if len(ids) == 1:
            return relevant.intersection(words_of.get(ids[0], ()))
        return set().union(*(relevant.intersection(words_of.get(i, ())) for i in ids))

    def positions(self, term_id: int) -> list[int]:
        """Sorted positions of a term (body positions offset by BODY_OFFSET)."""
        found = self._positions.get(term_id)
        if found is None:
            if self._words is None:
                self._words = self._word_positions()
            words = self._carriers((term_id,))
            if len(words) == 1:
                found = self._words[next(iter(words))]
            else:
                found = sorted(chain.from_iterable(self._words[w] for w in words))
            self._positions[term_id] = found
        return found

    def positions_any(self, ids: tuple[int, ...]) -> list[int]:
        if len(ids) == 1:
            return self.positions(ids[0])
        return sorted(set(chain.from_iterable(map(self.positions, ids))))

    def _word_positions(self) -> defaultdict[str, list[int]]:
        """Positions of every word that carries a rule term.

        Walks the field's chunks, not its words: one C-level scan finds the chunks that are
        relevant words or that hold several words (whose count shifts later positions), and
        only those are looked at in Python. Lists come out sorted.
        """
        found: defaultdict[str, list[int]] = defaultdict(list)
        for field, offset in ((self.text.title, 0), (self.text.body, BODY_OFFSET)):
            relevant = self.relevant.intersection(field.words)
            if not relevant:
                continue
            chunks, impure = field.chunks, field.impure
            interesting = relevant.union(impure)
            shift = offset
            for index in compress(count(), map(interesting.__contains__, chunks)):
                chunk = chunks[index]
                info = impure.get(chunk)
                if info is None:
                    found[chunk].append(index + shift)
                    continue
                start = index + shift
                for step, token in enumerate(info.tokens):
                    if token in relevant:
                        found[token].append(start + step)
                for joined, first, last in info.joins:
                    if joined in relevant:
                        found[joined] += (start + first, start + last)
                shift += len(info.tokens) - 1
        return found

    def term_hits(self, label: str, ids: tuple[int, ...], field: str | None
                  ) -> tuple[Hit, ...]:
        """The hits of a one-word term, one per field it occurs in; cached, since many rules
        share terms, and built from per-word parts that terms share too."""
        key = (label, ids, field)
        found = self._hits.get(key)
        if found is None:
            parts = [self._word_parts(word) for word in sorted(self._carriers(ids))]
            hits = []
            for index, name in ((0, "title"), (1, "body")):
                if field is not None and field != name:
                    continue
                present = [part for part in parts if part[index]]
                if len(present) == 1:
                    positions, words = present[0][index], (present[0][2],)
                elif present:
                    positions = tuple(sorted(chain.from_iterable(p[index] for p in present)))
                    words = tuple(dict.fromkeys(p[2] for p in present))
                else:
                    continue
                hits.append(Hit(label, name, positions[:MAX_HIT_POSITIONS], words))
            found = self._hits[key] = tuple(hits)
        return found

    def _word_parts(self, word: str) -> tuple[tuple[int, ...], tuple[int, ...], str]:
        """A word's positions in the title and in the body, and its case-folded form."""
        found = self._parts.get(word)
        if found is None:
            if self._words is None:
                self._words = self._word_positions()
            positions = self._words[word]
            cut = bisect_left(positions, BODY_OFFSET)
            found = self._parts[word] = (
                tuple(positions[:cut]), tuple(map(sub, positions[cut:], repeat(BODY_OFFSET))),
                word.casefold())
        return found

    def phrase_starts(self, slots: tuple[tuple[int, ...], ...], field: str | None) -> list[int]:
        """Positions where a phrase starts (its words at consecutive positions); cached."""
        key = (slots, field)
        found = self._phrases.get(key)
        if found is None:
            starts = set(self.positions_any(slots[0]))
            for step, ids in enumerate(slots[1:], 1):
                if not starts:
                    break
                starts.intersection_update(map(sub, self.positions_any(ids), repeat(step)))
            found = self._phrases[key] = sorted(p for p in starts if _in_field(p, field))
        return found


_FIELD_SETS: dict[str | None, Callable[[_View], set[int]]] = {
    None: lambda view: view.ids, "title": lambda view: view.title, "body": lambda view: view.body,
}
_FIELD_ATTRIBUTES = {None: "v.ids", "title": "v.title", "body": "v.body"}


def _in_field(position: int, field: str | None) -> bool:
    if field is None:
        return True
    return (position < BODY_OFFSET) == (field == "title")


def _near(left: list[Span], right: list[Span], distance: int) -> list[Span]:
    """Combined spans of the pairs whose word positions differ by at most `distance`."""
    right = sorted(right)
    starts = [s for s, _ in right]
    longest = max(e - s for s, e in right)
    found = []
    for start, end in left:
        low = bisect_left(starts, start - distance - longest)
        high = bisect_right(starts, end + distance)
        for other_start, other_end in right[low:high]:
            if other_end >= start - distance:
                found.append((min(start, other_start), max(end, other_end)))
    return found


class _Matcher:
    """One rule compiled for one profile: its test and, for hits, its positive leaves."""

    def __init__(self, rule: Rule, profile: _Profile):
        self.rule = rule
        self.profile = profile
        self.test = self._test(rule.query.root)
        # Positive words and phrases, grouped by label (an entity's aliases share one).
        self.hit_groups: dict[str, list[tuple[Term | Phrase, tuple[int, ...], Spans]]] = {}
        for leaf, negated in leaves(rule.query.root):
            if not negated and isinstance(leaf, (Term, Phrase)):
                ids = self._slots(leaf)[0] if isinstance(leaf, Term) else ()
                self.hit_groups.setdefault(leaf.label, []).append((leaf, ids, self._spans(leaf)))

    def _slots(self, node: Term | Phrase) -> tuple[tuple[int, ...], ...]:
        """Per word of a term or phrase, the ids any of which it matches."""
        resolve = self.profile.resolve
        if isinstance(node, Term):
            return (resolve((node.kind, node.form)),)
        return tuple(resolve(word) for word in node.words)

    def _test(self, node: Node) -> Test:
        """The rule's test as ONE generated Python function: its language and source limits,
        then the query, whose word terms become set operations on the article's term ids and
        whose phrases and NEARs call closures. The generated code holds only indexes into its
        own tables, never text from the rule."""
        constants: list[Any] = []
        helpers: list[Test] = []

        def constant(value: Any) -> str:
            constants.append(value)
            return f"C[{len(constants) - 1}]"

        def helper(function: Test) -> str:
            helpers.append(function)
            return f"H[{len(helpers) - 1}](v)"

        limits = []
        if self.rule.languages:
            limits.append(f"v.lang in {constant(self.rule.languages)}")
        if self.rule.sources:
            limits.append(f"not v.sources.isdisjoint({constant(self.rule.sources)})")
        expression = self._expression(node, constant, helper)
        source = f"lambda v: {' and '.join([*limits, expression])}"
        return eval(compile(source, f"<rule {self.rule.id}>", "eval"),
                    {"C": constants, "H": helpers})

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
            spans = self._spans(node)
            return (f"({self._expression(node.left, constant, helper)} and "
                    f"{self._expression(node.right, constant, helper)} and "
                    f"{helper(lambda view: bool(spans(view)))})")
        kind = type(node)
        children = node.children                                     # type: ignore[union-attr]
        terms = [child for child in children if isinstance(child, Term)]
        parts = [self._terms(kind, terms, constant)] if terms else []
        parts += [self._expression(child, constant, helper)
                  for child in children if not isinstance(child, Term)]
        return "(" + (" and " if kind is And else " or ").join(parts) + ")"

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
                checks.append(f"{single[0]} in {present}")
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
            return bool(view.phrase_starts(slots, field))
        return phrase

    def _spans(self, node: Node) -> Spans:
        """Word spans (first, last position) where a positional node occurs."""
        if isinstance(node, Term):
            [ids], field = self._slots(node), node.field
            return lambda view: [(p, p) for p in view.positions_any(ids) if _in_field(p, field)]
        if isinstance(node, Phrase):
            slots, field, length = self._slots(node), node.field, len(node.words) - 1
            return lambda view: [(p, p + length) for p in view.phrase_starts(slots, field)]
        if isinstance(node, Or):
            parts = [self._spans(child) for child in node.children]
            return lambda view: sorted(chain.from_iterable(part(view) for part in parts))
        assert isinstance(node, Near)
        left, right, distance = self._spans(node.left), self._spans(node.right), node.distance

        def near(view: _View) -> list[Span]:
            found_left = left(view)
            if not found_left:
                return []
            found_right = right(view)
            return _near(found_left, found_right, distance) if found_right else []
        return near

    def hits(self, view: _View) -> tuple[Hit, ...]:
        """Every positive term that occurs, per field: positions and the article's words."""
        found: list[Hit] = []
        for label, group in self.hit_groups.items():
            if len(group) == 1 and isinstance(group[0][0], Term):
                leaf, ids, _ = group[0]
                found += view.term_hits(label, ids, leaf.field)
                continue
            merged: dict[str, tuple[set[int], dict[str, None]]] = {}
            for leaf, ids, spans in group:
                hits = (view.term_hits(label, ids, leaf.field) if isinstance(leaf, Term)
                        else _phrase_hits(view, label, spans(view)))
                for hit in hits:
                    positions, words = merged.setdefault(hit.field, (set(), {}))
                    positions.update(hit.positions)
                    words.update(dict.fromkeys(hit.words))
            found += [Hit(label, field, tuple(sorted(positions)[:MAX_HIT_POSITIONS]),
                          tuple(words)) for field, (positions, words) in merged.items()]
        return tuple(found)


def _phrase_hits(view: _View, label: str, spans: list[Span]) -> list[Hit]:
    found: dict[str, tuple[set[int], dict[str, None]]] = {}
    for start, end in spans:
        field, offset = ("title", 0) if start < BODY_OFFSET else ("body", BODY_OFFSET)
        positions, words = found.setdefault(field, (set(), {}))
        positions.update(range(start - offset, end - offset + 1))
        tokens = getattr(view.text, field).tokens
        words.update(dict.fromkeys(t.casefold() for t in tokens[start - offset:end - offset + 1]))
    return [Hit(label, field, tuple(sorted(positions)), tuple(words))
            for field, (positions, words) in found.items()]


# ------------------------------------------------------------------------------ engine

class Engine:
    """Matches articles against the enabled rules of a RuleSet.

    Cheap to create: the index is built once per RuleSet (and stemmer profile) and shared.
    """

    def __init__(self, ruleset: RuleSet, analyzer: Analyzer = ANALYZER):
        self.ruleset = ruleset
        self.analyzer = analyzer
        compiled = _COMPILED.get(ruleset) if analyzer is ANALYZER else None
        if compiled is None:
            compiled = _Compiled(ruleset, analyzer)
            if analyzer is ANALYZER:
                _COMPILED[ruleset] = compiled
        self._compiled = compiled

    def match(self, article: Article) -> list[RuleMatch]:
        return self.match_analyzed(self.analyzer.analyse(article))

    def match_analyzed(self, text: AnalyzedText) -> list[RuleMatch]:
        profile = self._compiled.profile(text.profile)
        view = _View(text, profile)
        return self._verify(profile, view, self._candidates(profile, view))

    def match_without_presearch(self, article: Article) -> list[RuleMatch]:
        """Every rule verified, no index: the baseline the benchmark compares with."""
        text = self.analyzer.analyse(article)
        profile = self._compiled.profile(text.profile)
        return self._verify(profile, _View(text, profile), range(len(self._compiled.rules)))

    def _verify(self, profile: _Profile, view: _View, numbers: Iterable[int]) -> list[RuleMatch]:
        matchers = profile.matchers
        matches = []
        for number in numbers:
            matcher = matchers[number] or profile.matcher(number)
            if matcher.test(view):
                rule = matcher.rule
                matches.append(RuleMatch(rule.id, rule.version, matcher.hits(view)))
        return matches

    def candidates(self, text: AnalyzedText) -> list[Rule]:
        """The rules the presearch picks for verification (for benchmarks and debugging)."""
        profile = self._compiled.profile(text.profile)
        view = _View(text, profile)
        return [self._compiled.rules[n] for n in self._candidates(profile, view)]

    @staticmethod
    def _candidates(profile: _Profile, view: _View) -> list[int]:
        return sorted(set(profile.always).union(*filter(None, map(profile.index.get, view.ids))))


def match_articles(engine: Engine, articles: list[Article]) -> list[dict[str, Any]]:
    """Matches of a batch as rows for Store.save_matches."""
    rows = []
    for article in articles:
        for match in engine.match(article):
            rows.append({"article_id": article.id, "rule_id": match.rule_id,
                         "rule_version": match.rule_version, "matched": match.summary()})
    return rows
