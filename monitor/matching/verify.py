"""Verification: does a candidate rule match the article? The hot path, which returns
rule numbers and no hits (Lucene Monitor's CandidateMatcher; hits are highlight.py's).

An article becomes the set of term ids it contains (`ArticleView`: its words' exact and
stemmed forms, the wildcards they match, its language and source names). The rules indexed
under those ids are the candidates; they are filtered by their second clause in one C-level
pass (a rule of one clause has one every article satisfies); the survivors that the presearch
does not decide call their test (`matched`). The result is exactly what evaluating every rule
on every article gives (a property test proves it against evaluate.py).

CPython spends its time on calls and on touching memory that is cold in the CPU caches, so
the hot path avoids both: a rule's test is one generated function (`TestCompiler`, compiled
when a candidate first needs it) in which the word terms of an AND or OR are a single
issuperset/isdisjoint on the article's id set (e580de8: function calls dominated
verification); phrases and NEAR call closures over word positions, which one walk over the
text finds when first needed. Functions of one shape share their code (3e01f0a: compiling
each rule's own code was a sixth of the first pass at 100,000 rules).

Bounded work, whatever the query and the article (a `/watch` query is typed by anyone):

- Phrases and NEAR take time linear in the positions of their words (times a log): a NEAR,
  also chained and nested, works on its operands' maximal spans, at most one per position,
  never on the product of their occurrences (evaluate.spans defines what that means).
- One rule may spend at most `Budget.verify` steps (positions and spans visited by its
  phrases and NEARs) on one article; a rule that needs more does not match that article,
  and the article goes on to the other rules (BudgetExceeded names it).
- `*fix` and `*mid*` wildcards look only into words of at most MAX_WILDCARD_WORD
  characters; an article whose distinct words would cost `*mid*` expansion more than
  `Budget.wildcards` dictionary lookups (a function of its word lengths alone, so the same
  article always gets the same answer) is matched without expanding `*mid*` wildcards in
  its new words, and the rules that have them do not match it and are reported.
- Queries are limited at the door (query.py: size, NEAR operands, wildcards).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import defaultdict
from collections.abc import Callable
from functools import lru_cache
from itertools import chain, compress, count, repeat
from operator import add, itemgetter, neg, sub
from types import CodeType, FunctionType
from typing import Any, NamedTuple

from monitor.matching.analysis import BODY_OFFSET, AnalyzedText, FieldText
from monitor.matching.index import IDS, NUMBERS, PRESENT, SECOND_CLAUSES, CompiledRules, Profile
from monitor.matching.query import (
    MAX_WILDCARD_WORD,
    And,
    Lang,
    Near,
    Node,
    Not,
    Or,
    Phrase,
    Source,
    Term,
)
from monitor.matching.rules import Rule

# Work limits per article (see Budget). No shipped rule and no rule of bench/match.py comes
# within a factor of ten of either over the corpus (bench/adversarial.py measures it).
VERIFY_BUDGET = 200_000      # steps for one rule's phrases and NEARs
WILDCARD_BUDGET = 500_000    # dictionary lookups for the *mid* wildcards of all rules

Span = tuple[int, int]
Test = Callable[["ArticleView"], bool]
Spans = Callable[["ArticleView"], list[Span]]


class Budget(NamedTuple):
    """How much work matching may do on one article.

    verify: steps one rule may spend on its phrases and NEARs (a step: one position or span
    read, combined or kept); wildcards: dictionary lookups that expanding the `*mid*`
    wildcards of all rules into the article's distinct words may cost."""

    verify: int = VERIFY_BUDGET
    wildcards: int = WILDCARD_BUDGET


DEFAULT_BUDGET = Budget()


class _OverBudget(Exception):
    """Raised inside a rule's test when its verification budget is spent."""


class ArticleView:
    """One article as the verifier sees it: the term ids it has (in all, in the title, in the
    body) and their postings; word positions on demand.

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
        "_phrases",
        "_positions",
        "_title",
        "budget",
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

    def __init__(self, text: AnalyzedText, profile: Profile, budget: Budget | None = None):
        table = profile.word_postings
        table.trim()
        budget = budget or DEFAULT_BUDGET
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
            postings = self.postings = list(filter(IDS, found))
        else:
            known = len(irrelevant)
            postings = self.postings = [*map(lookup, body), *map(lookup, title)]
            self.relevant = body
            body.update(title)
            if len(irrelevant) != known:      # words seen for the first time that carry no term
                body.difference_update(irrelevant)
                postings[:] = filter(IDS, postings)
        keys = profile.compiled.keys
        for key in ("lang:" + text.language, *("source:" + s for s in text.sources)):
            if (term_id := keys.get(key)) is not None:
                postings.append(profile.postings((term_id,)))
        # The term ids, and for the presearch those of the multi-term second clauses.
        self.ids: set[int] = set(chain.from_iterable(map(PRESENT, postings)))
        self.ids.add(profile.compiled.any_term)
        self.lang = text.language
        self.sources = text.sources
        self._title: set[int] | None = None
        self._body: set[int] | None = None
        self._at: tuple[dict[str, list[int]], dict[str, list[int]]] | None = None
        self._carriers: dict[int, list[str]] = {}
        self._positions: dict[int, list[int]] = {}
        # (slots, field) → (the phrase's starts, what finding them costs a rule's budget)
        self._phrases: dict[tuple[tuple[tuple[int, ...], ...], str | None],
                            tuple[list[int], int]] = {}

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
        return set(chain.from_iterable(map(IDS, map(self.lookup, relevant))))

    def carriers(self, term_id: int) -> list[str]:
        """This article's words that carry a term id (sorted); once per term and article."""
        found = self._carriers.get(term_id)
        if found is None:
            found = self._carriers[term_id] = sorted(self.carrying((term_id,)))
        return found

    def carrying(self, ids: tuple[int, ...]) -> set[str]:
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



_FIELD_SETS: dict[str | None, Callable[[ArticleView], set[int]]] = {
    None: lambda view: view.ids, "title": lambda view: view.title, "body": lambda view: view.body,
}
_FIELD_ATTRIBUTES = {None: "v.ids", "title": "v.title", "body": "v.body"}


def _in_field(positions: list[int], field: str | None) -> list[int]:
    """The sorted positions that lie in a field (title ones come before BODY_OFFSET)."""
    if field is None:
        return positions
    split = bisect_left(positions, BODY_OFFSET)
    return positions[:split] if field == "title" else positions[split:]


# Spans: sorted lists of maximal (first, last) word positions, whose ends then increase too
# (evaluate.spans defines NEAR on them and says why the maximal ones are enough).
_FIRST, _LAST = itemgetter(0), itemgetter(1)


def maximal(found: list[Span]) -> list[Span]:
    """The spans that no other one contains, sorted."""
    kept = []
    reach = -1
    for start, before in sorted(zip(map(_FIRST, found), map(neg, map(_LAST, found)), strict=True)):
        if -before > reach:
            reach = -before
            kept.append((start, reach))
    return kept


def near_spans(left: list[Span], right: list[Span], distance: int) -> list[Span]:
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
    return maximal(found)


def any_near(left: list[Span], right: list[Span], distance: int) -> bool:
    """Whether some pair is at most `distance` apart: a span's partners are a range of the
    other side, which is not empty when its first candidate starts early enough."""
    for start, end in left:
        first = bisect_left(right, start - distance, key=_LAST)
        if first < len(right) and right[first][0] <= end + distance:
            return True
    return False



class TestCompiler:
    """Compiles one rule's test (when a candidate first needs it: rules that their clauses
    decide never do)."""

    def __init__(self, rule: Rule, compiled: CompiledRules):
        self.rule = rule
        self.slots = compiled.slots

    def test(self) -> Test:
        return self._test(self.rule.query.root)

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
                                      for ids in dict.fromkeys(self.slots(node))) + ")"
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
            slots = [self.slots(term)[0] for term in terms if term.field == field]
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
        slots, field = self.slots(node), node.field
        present = _FIELD_SETS[field]

        def phrase(view: ArticleView) -> bool:
            found = present(view)
            for ids in slots:
                if found.isdisjoint(ids):
                    return False
            return bool(view.phrase_in_test(slots, field))
        return phrase

    def _near_test(self, node: Near) -> Test:
        """Whether a NEAR occurs: its operands' spans, and one pair close enough."""
        left, right, distance = self._spans(node.left), self._spans(node.right), node.distance

        def near(view: ArticleView) -> bool:
            found_left = left(view)
            if not found_left:
                return False
            found_right = right(view)
            if not found_right:
                return False
            view.spend(len(found_left) + len(found_right))
            return any_near(found_left, found_right, distance)
        return near

    def _spans(self, node: Node) -> Spans:
        """The maximal word spans (first, last position) where a positional node occurs,
        sorted; every step is paid for from the rule's budget before it is taken, but for
        a NEAR's result, which is at most twice its operands' spans."""
        if isinstance(node, Term):
            [ids], field = self.slots(node), node.field

            def term(view: ArticleView) -> list[Span]:
                positions = _in_field(view.positions_any(ids), field)
                view.spend(len(positions))
                return list(zip(positions, positions, strict=True))
            return term
        if isinstance(node, Phrase):
            slots, field, length = self.slots(node), node.field, len(node.words) - 1

            def phrase(view: ArticleView) -> list[Span]:
                starts = view.phrase_in_test(slots, field)
                return list(zip(starts, map(add, starts, repeat(length)), strict=True))
            return phrase
        if isinstance(node, Or):
            parts = [self._spans(child) for child in node.children]

            def any_of(view: ArticleView) -> list[Span]:
                found = list(chain.from_iterable(part(view) for part in parts))
                view.spend(len(found))
                return maximal(found)
            return any_of
        assert isinstance(node, Near)
        left, right, distance = self._spans(node.left), self._spans(node.right), node.distance

        def near(view: ArticleView) -> list[Span]:
            found_left = left(view)
            if not found_left:
                return []
            found_right = right(view)
            if not found_right:
                return []
            view.spend(len(found_left) + len(found_right))
            found = near_spans(found_left, found_right, distance)
            view.spend(len(found))
            return found
        return near


def rule_test(compiled: CompiledRules, number: int) -> Test:
    """A rule's test, compiled the first time a candidate needs it (the same in every
    profile: term ids do not depend on the language)."""
    found = compiled.tests[number]
    if found is None:
        found = compiled.tests[number] = TestCompiler(compiled.rules[number], compiled).test()
    return found


Exceeded = tuple[int, str, int]      # (rule number, "verify" or "wildcards", work)


def matched(profile: Profile, view: ArticleView, exceeded: list[Exceeded]) -> list[int]:
    """Numbers of the matching rules, in rule order. The second-clause check that every
    candidate needs runs in C over all of them at once; only the candidates that pass it
    and that their clauses do not decide call their test. A test that runs out of budget
    is noted in `exceeded` and the others go on."""
    postings = view.postings
    numbers = chain.from_iterable(map(NUMBERS, postings))
    second_clauses = chain.from_iterable(map(SECOND_CLAUSES, postings))
    passed = set(compress(numbers, map(view.ids.__contains__, second_clauses)))
    passed.update(profile.always)
    if view.wildcard_work:
        passed.difference_update(_wildcards_exceeded(profile.compiled, view, exceeded))
    compiled = profile.compiled
    decided, tests = profile.decided, compiled.tests
    found = []
    pending = iter(passed)
    while True:
        try:
            for number in pending:
                if decided[number] or (tests[number] or rule_test(compiled, number))(view):
                    found.append(number)
            break
        except _OverBudget:       # the loop goes on with the next rule
            exceeded.append((number, "verify", view.limit - view.budget))
    return sorted(found)


def _wildcards_exceeded(compiled: CompiledRules, view: ArticleView,
                        exceeded: list[Exceeded]) -> list[int]:
    """The rules with *mid* wildcards that could apply to an article over the wildcard
    budget: not checked, and noted."""
    text = view.text
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


_NO_GLOBALS: dict[str, Any] = {"__builtins__": {}}


@lru_cache(maxsize=4096)
def _test_code(source: str) -> CodeType:
    """The code of a rule test's lambda, compiled once per shape (see TestCompiler._test)."""
    test = eval(compile(source, "<rule test>", "eval"), _NO_GLOBALS)
    return test.__code__


def passes(test: Test, view: ArticleView) -> bool:
    """A rule's test, False when it runs out of budget."""
    try:
        return test(view)
    except _OverBudget:
        return False
