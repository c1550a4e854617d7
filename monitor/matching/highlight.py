"""Highlighting: where and why a rule matched, worked out only for the matches that are
shown (an alert's bold words, an explanation), as Lucene Monitor's HighlightingMatcher does
apart from its CandidateMatcher. Working out where each term matched costs more than deciding
that the rule matches (at 100,000 rules, three times more: 5dd1c6b), so verify.py does not.

The rules that match one article share terms, so hits are made once per term per article:
`Highlights` is the article's memo, term → hits, and a rule's hits are one C-level lookup
per word term (0115fe4: building hits was more than half of matching at 100,000 rules). A
term's words come from the profile's word table, its positions from the article's view.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain
from typing import Any, NamedTuple

from monitor.matching.analysis import BODY_OFFSET
from monitor.matching.index import Profile
from monitor.matching.query import Phrase, Term, leaves
from monitor.matching.rules import Rule
from monitor.matching.verify import ArticleView

MAX_HIT_POSITIONS = 50


class Hit(NamedTuple):
    """Where one query term matched: the term as written, the field, word positions within
    that field, and the article's words found there (case-folded)."""

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


_Place = tuple[str, tuple[int, ...], tuple[str, ...]]    # a Hit without its term
HitKey = tuple[str, tuple[int, ...], str | None]      # (label, term ids, field) of a word term
_FIELD_NAMES = ("title", "body")


class HitPlan:
    """One rule's positive words and phrases, for its hits in one profile: the numbers of
    its one-word terms (the common case) and its grouped terms (phrases, or several terms
    under one label: an entity's aliases).

    Slots and flat tuples: a matching article touches a few dozen plans, and on a large
    rule set each one it touches is cold in the CPU caches."""

    __slots__ = ("grouped", "rule_id", "simple", "version")

    def __init__(self, rule: Rule, profile: Profile):
        self.rule_id, self.version = rule.id, rule.version
                # Positive words and phrases, grouped by label (an entity's aliases share one).
        # A term comes with its ids, a phrase with its slots.
        groups: dict[str, list[tuple[Term | Phrase, Any]]] = {}
        for leaf, negated in leaves(rule.query.root):
            if not negated and isinstance(leaf, (Term, Phrase)):
                slots = profile.compiled.slots(leaf)
                groups.setdefault(leaf.label, []).append(
                    (leaf, slots[0] if isinstance(leaf, Term) else slots))
        # A label with one word term is the common case: its (label, ids, field), numbered.
        self.simple = tuple(hit_term(profile, (label, group[0][1], group[0][0].field))
                            for label, group in groups.items()
                            if len(group) == 1 and isinstance(group[0][0], Term))
        self.grouped = tuple((label, tuple(group)) for label, group in groups.items()
                             if len(group) > 1 or not isinstance(group[0][0], Term))

    def result(self, hits: Highlights) -> RuleMatch:
        """The rule's match on the article whose hits the memo holds."""
        return RuleMatch(self.rule_id, self.version, self.hits(hits))

    def hits(self, memo: Highlights) -> tuple[Hit, ...]:
        """Every positive term that occurs, per field: positions and the article's words."""
        found = tuple(chain.from_iterable(map(memo.__getitem__, self.simple)))
        if not self.grouped:
            return found
        more: list[Hit] = []
        where, phrase_places = memo.where, memo.phrase_places
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


def hit_plan(profile: Profile, number: int) -> HitPlan:
    """A rule's hit plan in a profile, made the first time one of its matches is shown."""
    found = profile.hit_plans[number]
    if found is None:
        with profile.compiled.lock:      # hit_term must not interleave
            found = profile.hit_plans[number]
            if found is None:
                found = profile.hit_plans[number] = HitPlan(profile.compiled.rules[number],
                                                             profile)
    return found


def hit_term(profile: Profile, spec: HitKey) -> HitKey:
    """A one-word term of the profile, registered with the words that carry it."""
    if spec not in profile.hit_terms:
        label, ids, field = spec
        profile.hit_terms[spec] = (label, field, profile.word_postings.words_carrying(ids))
    return spec


class Highlights(dict[HitKey, tuple[Hit, ...]]):
    """The hits of one article, made on first ask: a one-word term of `Profile.hit_terms`
    → its hits (a dict with `__missing__`, so that a known term's hits
    are one C-level lookup), and the places of grouped terms and phrases, once each."""

    __slots__ = ("_phrase_places", "_places", "_word_places", "hit_terms", "relevant", "view")

    def __init__(self, view: ArticleView, profile: Profile):
        super().__init__()
        self.view = view
        self.relevant = view.relevant
        self.hit_terms = profile.hit_terms
        self._places: dict[tuple[tuple[int, ...], str | None], list[_Place]] = {}
        self._word_places: dict[str, list[_Place]] = {}
        self._phrase_places: dict[tuple[tuple[tuple[int, ...], ...], str | None],
                                  list[_Place]] = {}

    def __missing__(self, key: HitKey) -> tuple[Hit, ...]:
        label, field, carriers = self.hit_terms[key]
        found = self.relevant.intersection(carriers)
        if len(found) == 1 and field is None:     # the common case, without the calls
            [word] = found
            places = self._word_places.get(word)
            if places is None:
                places = self.word_places(word)
        else:
            places = self._places_of(found, field)
        hits = self[key] = tuple(Hit(label, *place) for place in places)
        return hits

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
        return self._places_of(self.view.carrying(ids), field)

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
        for name, at in zip(("title", "body"), self.view.field_positions(), strict=True):
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
            title_at, body_at = self.view.field_positions()
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
        view = self.view
        carriers, fields = view.carriers, view.field_positions()
        # A word's positions in a field as a set, made when first asked: a phrase can occur
        # at thousands of positions, and each asks which of its carriers is there.
        sets: tuple[dict[str, set[int]], dict[str, set[int]]] = ({}, {})

        def holds(index: int, word: str, position: int) -> bool:
            found = sets[index].get(word)
            if found is None:
                found = sets[index][word] = set(fields[index].get(word, ()))
            return position in found

        found = []
        for start in view.phrase_starts(slots, field):
            index = 0 if start < BODY_OFFSET else 1
            first = start - index * BODY_OFFSET
            positions = tuple(range(first, first + len(slots)))
            words = tuple(
                next(word for term_id in ids for word in carriers(term_id)
                     if holds(index, word, position)).casefold()
                for position, ids in zip(positions, slots, strict=True))
            found.append((_FIELD_NAMES[index], positions, words))
        return found


def results(profile: Profile, view: ArticleView, numbers: Iterable[int]) -> list[RuleMatch]:
    """The matches of these rules with their hits, from one memo of the article's hits."""
    memo = Highlights(view, profile)
    plans = profile.hit_plans
    return [(plans[number] or hit_plan(profile, number)).result(memo) for number in numbers]
