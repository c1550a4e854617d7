"""The straightforward evaluator: one query tree against one article, token by token.

No index, no ids, no caching beyond the analyser's: it is the reference that the engine must
agree with (the property test compares them), and it explains a match: which term matched
where (field, positions, the words and their character offsets for highlighting).

It takes time polynomial in the article's positions whatever the query: NEAR, also chained
and nested, is worked out on each operand's maximal spans (see `spans`), never on the
product of its operands' occurrences. It has no work budget (the engine has one): an
explanation always says what the query means.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

from monitor.matching.analysis import BODY_OFFSET, Document, FieldTokens, Token
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

Span = tuple[int, int]


@dataclass(frozen=True)
class Occurrence:
    """A term (or phrase) found in a field: word positions and the tokens that make it."""

    field: str
    first: int
    last: int
    tokens: tuple[Token, ...]


@dataclass
class Explanation:
    """How one node of the query evaluated, with what its leaves found."""

    node: Node
    matched: bool
    children: list[Explanation] = field(default_factory=list)
    occurrences: list[Occurrence] = field(default_factory=list)
    spans: list[Span] = field(default_factory=list, repr=False)    # a NEAR's (see spans)

    def matched_tokens(self, negated: bool = False) -> list[tuple[str, Token]]:
        """(field, token) of every word that made a positive term match (for highlighting)."""
        if isinstance(self.node, Not):
            return [] if negated else self.children[0].matched_tokens(True)
        if negated:
            return []
        found = [(o.field, t) for o in self.occurrences for t in o.tokens]
        for child in self.children:
            found.extend(child.matched_tokens())
        return found


def _word_matches(doc: Document, token: Token, kind: str, form: str) -> bool:
    exact, stem = doc.forms(token)
    if kind == "stem":
        return stem in doc.analyzer.forms(doc.profile, form)
    if kind == "exact":
        return exact == form
    if kind == "prefix":
        return exact.startswith(form)
    if len(exact) > MAX_WILDCARD_WORD:        # `*fix` and `*mid*` do not look into it
        return False
    if kind == "suffix":
        return exact.endswith(form)
    return form in exact


def _field_name(tokens: FieldTokens) -> str:
    return "title" if tokens.offset == 0 else "body"


def occurrences(node: Term | Phrase, doc: Document) -> list[Occurrence]:
    """Every place a word or phrase occurs, in its field(s). A joined compound counts at its
    first and its last position (see analysis.py)."""
    words = [(node.kind, node.form)] if isinstance(node, Term) else list(node.words)
    known: dict[tuple[int, str], bool] = {}     # (word of the node, raw token) → matches

    def matches(step: int, token: Token) -> bool:
        found = known.get((step, token.raw))
        if found is None:
            kind, form = words[step]
            found = known[step, token.raw] = _word_matches(doc, token, kind, form)
        return found

    found = []
    for tokens in doc.fields(node.field):
        at = tokens.by_position
        for start in sorted(at):
            chosen = []
            for step in range(len(words)):
                match = next((t for t in at.get(start + step, ()) if matches(step, t)), None)
                if match is None:
                    break
                chosen.append(match)
            else:
                found.append(Occurrence(_field_name(tokens), start, start + len(words) - 1,
                                        tuple(chosen)))
    return found


def spans(node: Node, doc: Document) -> list[Span]:
    """Where a positional node occurs: its maximal spans (first, last word position), sorted.

    What a NEAR means: every pair of an occurrence of its left and one of its right operand
    whose spans are at most n words apart (max(0, c - b, a - d) <= n for spans (a, b) and
    (c, d); overlapping spans are 0 apart) is an occurrence, spanning from the first to the
    last word of both. A chain `a NEAR b NEAR c` is (a NEAR b) NEAR c.

    Only the maximal spans (those no other span contains) are kept, which changes no answer:
    a span that contains another is at most as far from anything as that one, and combines
    into a span that contains what that one combines into, so a NEAR, and every NEAR above
    it, matches with the maximal spans exactly when it matches with all of them. There are
    never more of them than positions, where the pairs multiply with every operand of a chain.
    """
    if isinstance(node, (Term, Phrase)):
        return maximal([(o.first, o.last) for o in occurrences(node, doc)])
    if isinstance(node, Or):
        return maximal([span for child in node.children for span in spans(child, doc)])
    assert isinstance(node, Near)
    return near_spans(spans(node.left, doc), spans(node.right, doc), node.distance)


def maximal(found: list[Span]) -> list[Span]:
    """The spans that no other one contains, sorted; their ends increase with their starts."""
    kept: list[Span] = []
    for start, end in sorted(found, key=lambda span: (span[0], -span[1])):
        if not kept or end > kept[-1][1]:
            kept.append((start, end))
    return kept


def near_spans(left: list[Span], right: list[Span], distance: int) -> list[Span]:
    """The maximal spans of the pairs at most `distance` apart, from maximal spans.

    The partners of an occurrence (a, b) are the spans that start at most b + n and end at
    least at a - n; as starts and ends both increase, they are a range, and each combination
    with a partner inside the range is contained in the combination with one of its two
    ends, or is the partner itself (then contained in that partner's own combinations, which
    the same walk from the other side makes). Time O((|left| + |right|) log).
    """
    found = []
    for one, other in ((left, right), (right, left)):
        starts = [start for start, _ in other]
        ends = [end for _, end in other]
        for start, end in one:
            first = bisect_left(ends, start - distance)
            last = bisect_right(starts, end + distance) - 1
            if first <= last:
                for other_start, other_end in (other[first], other[last]):
                    found.append((min(start, other_start), max(end, other_end)))
    return maximal(found)


def explain(node: Node, doc: Document) -> Explanation:
    if isinstance(node, (Term, Phrase)):
        found = occurrences(node, doc)
        return Explanation(node, bool(found), occurrences=found)
    if isinstance(node, Lang):
        return Explanation(node, doc.language == node.code)
    if isinstance(node, Source):
        return Explanation(node, node.name in doc.sources)
    if isinstance(node, Not):
        inner = explain(node.child, doc)
        return Explanation(node, not inner.matched, [inner])
    if isinstance(node, Near):
        children = [explain(node.left, doc), explain(node.right, doc)]
        spans = near_spans(_spans_of(children[0]), _spans_of(children[1]), node.distance)
        return Explanation(node, bool(spans), children, spans=spans)
    assert isinstance(node, (And, Or))
    children = [explain(child, doc) for child in node.children]
    combine = all if isinstance(node, And) else any
    return Explanation(node, combine(c.matched for c in children), children)


def _spans_of(explanation: Explanation) -> list[Span]:
    """`spans` of an explained positional node, from what its explanation found (so that a
    chain looks for each of its terms once)."""
    node = explanation.node
    if isinstance(node, (Term, Phrase)):
        return maximal([(o.first, o.last) for o in explanation.occurrences])
    if isinstance(node, Or):
        return maximal([span for child in explanation.children for span in _spans_of(child)])
    return explanation.spans


def evaluate(node: Node, doc: Document) -> bool:
    return explain(node, doc).matched


def rule_applies(rule: Rule, doc: Document) -> bool:
    """The rule's limits besides its query: enabled, languages, sources."""
    if not rule.enabled:
        return False
    if rule.languages and doc.language not in rule.languages:
        return False
    return not (rule.sources and rule.sources.isdisjoint(doc.sources))


def rule_matches(rule: Rule, doc: Document) -> bool:
    return rule_applies(rule, doc) and evaluate(rule.query.root, doc)


def field_position(position: int) -> int:
    """A position as shown to people: counted from the start of its own field."""
    return position - BODY_OFFSET if position >= BODY_OFFSET else position
