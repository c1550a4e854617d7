"""The straightforward evaluator: one query tree against one article, token by token.

No index, no ids, no caching beyond the analyser's: it is the reference that the engine must
agree with (the property test compares them), and it explains a match: which term matched
where (field, positions, the words and their character offsets for highlighting).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.matching.analysis import BODY_OFFSET, Document, FieldTokens, Token
from monitor.matching.query import And, Lang, Near, Node, Not, Or, Phrase, Source, Term
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
    if kind == "suffix":
        return exact.endswith(form)
    return form in exact


def _field_name(tokens: FieldTokens) -> str:
    return "title" if tokens.offset == 0 else "body"


def occurrences(node: Term | Phrase, doc: Document) -> list[Occurrence]:
    """Every place a word or phrase occurs, in its field(s). A joined compound counts at its
    first and its last position (see analysis.py)."""
    words = [(node.kind, node.form)] if isinstance(node, Term) else list(node.words)
    found = []
    for tokens in doc.fields(node.field):
        at = tokens.by_position
        for start in sorted(at):
            chosen = []
            for step, (kind, form) in enumerate(words):
                match = next((t for t in at.get(start + step, ())
                              if _word_matches(doc, t, kind, form)), None)
                if match is None:
                    break
                chosen.append(match)
            else:
                found.append(Occurrence(_field_name(tokens), start, start + len(words) - 1,
                                        tuple(chosen)))
    return found


def spans(node: Node, doc: Document) -> list[Span]:
    if isinstance(node, (Term, Phrase)):
        return [(o.first, o.last) for o in occurrences(node, doc)]
    if isinstance(node, Or):
        return [span for child in node.children for span in spans(child, doc)]
    assert isinstance(node, Near)
    return [
        (min(a, c), max(b, d))
        for a, b in spans(node.left, doc) for c, d in spans(node.right, doc)
        if max(0, c - b, a - d) <= node.distance
    ]


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
        return Explanation(node, bool(spans(node, doc)), children)
    children = [explain(child, doc) for child in node.children]   # type: ignore[union-attr]
    combine = all if isinstance(node, And) else any
    return Explanation(node, combine(c.matched for c in children), children)


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
