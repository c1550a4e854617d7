"""Presearch: the terms a rule needs, and which of them are rarest (Lucene Monitor's
Presearcher and TermWeightor).

Instead of evaluating every rule against every article, each rule is reduced to clauses that
every article it matches satisfies, each clause a few terms of which the article must contain
one (`clauses`):

- a word, exact word, wildcard, `lang:` or `source:` term: a clause of itself;
- a phrase: one clause per word; AND and NEAR: the clauses of their operands; OR: one clause
  with the best clause of every branch; NOT: nothing (it can be true for an article that
  contains none of its terms), so a rule that is only negative is checked for every article;
- a rule's `languages` and `sources` limits: one clause each.

The rule is indexed under its rarest clause ("rarest" is guessed from the term's kind and
length, as Luwak's TermWeightor does) and carries its second-rarest one (`plan`). When the
clauses are the whole rule (ANDs and ORs of plain words, wildcards, lang: and source:) and
there are at most two, the presearch decides it; the others are verified by their test
(verify.py). The index of those clauses is index.py.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain
from typing import NamedTuple

from monitor.matching.query import And, Lang, Near, Node, Not, Or, Phrase, Source, Term, leaves
from monitor.matching.rules import Rule

Template = tuple[str, str]          # (kind, form) of a term before its profile is known


def weight(template: Template) -> float:
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
    return min(map(weight, clause)), -len(clause)


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


class Plan(NamedTuple):
    """How the presearch handles one rule."""

    first: Clause | None     # indexed under these terms; None: checked for every article
    second: Clause | None    # another clause, checked for all candidates in one C-level pass
    decided: bool            # the two clauses are the whole rule: no test needed


def plan(rule: Rule) -> Plan:
    found, enough = clauses(rule.query.root)
    if rule.languages:
        found.append(tuple(("lang", code) for code in sorted(rule.languages)))
    if rule.sources:
        found.append(tuple(("source", name) for name in sorted(rule.sources)))
    if not found:
        return Plan(None, None, False)
    ordered = sorted(dict.fromkeys(found), key=_rarity, reverse=True)
    return Plan(ordered[0], ordered[1] if len(ordered) > 1 else None,
                 enough and len(ordered) <= 2)


def templates(node: Node) -> Iterable[Template]:
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
