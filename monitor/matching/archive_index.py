"""The archive index: what `search`, `backtest` and `/search` ask SQLite for first.

Scanning the archive costs the engine's time for every article in the window; an index
costs it only for the articles that can match. SQLite's own tokenizers cannot stem,
fold transcriptions or join compounds the way the analyser does, so the index does not
tokenize text at all: it holds, per article, the very terms the engine sees (analysis.py):
the exact form and the stem of every word (compound parts and joined compounds included),
the article's language and its source names. A stem that is also an exact form of the
article is not written twice: a stem is looked up as either token, so that about a quarter
of the tokens (and of the time FTS5 takes to insert them) is saved for a few more
candidates, which the engine verifies. A query is reduced to terms the same way, so
the index never misses what the engine would match, by construction; the engine then
verifies every candidate (positions, NOT, field limits, budgets).

The reduction keeps the query's positive shape: a word or phrase word needs its term, AND
and NEAR need all their operands, OR needs one of its branches; NOT needs nothing (it cannot
be looked up, so it constrains nothing). `*fix` and `*mid*` need one of the index's words
that end with or contain their fixed part: the caller looks those up in the index's
vocabulary (`words`: the store keeps the exact forms reversed, so a suffix is a range of
it, an infix a pass over it); when there are too many, or without a vocabulary, they need
nothing. An AND or NEAR that has an operand which can be looked up directly asks for that
operand alone and leaves its wildcards to the engine's verification (Luwak's TermWeightor
likewise indexes a conjunction under its cheapest terms).
A bare word matches an article word whose stem, in the article's language, equals the
word's stem or the word itself, so it asks for its exact form or any of its stems across
the stemmers. A query that needs nothing (only NOT, or a `*fix` that fits too many words)
is not looked up: its callers scan and say so.

The terms go into an FTS5 table with the `ascii` tokenizer, which splits only at ASCII
characters that are not letters or digits; those are mapped into the Private Use Area
(character for character, so a prefix of a term stays a prefix), so every term is one FTS5
token and `pre*` is an FTS5 prefix query.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable
from operator import itemgetter
from typing import NamedTuple

from monitor.matching.analysis import (
    ANALYSIS_VERSION,
    ANALYZER,
    STEMMERS,
    AnalyzedText,
    Analyzer,
)
from monitor.matching.query import And, Lang, Near, Node, Not, Or, Phrase, Source, Term
from monitor.matching.rules import Rule

# Changes whenever the terms an article is indexed under change: the store drops an index
# built under another version and the pipeline builds it again.
INDEX_FORMAT = 3
INDEX_VERSION = zlib.crc32(f"{ANALYSIS_VERSION}/{INDEX_FORMAT}".encode())

_PRIVATE = 0xE000
_TOKEN_SAFE = {code: chr(_PRIVATE + code) for code in range(128) if not chr(code).isalnum()}
# For many words joined by spaces at once (no word contains one; a source name may).
_WORDS_SAFE = {code: char for code, char in _TOKEN_SAFE.items() if code != ord(" ")}
_STEM = "~".translate(_TOKEN_SAFE)
_PROFILES = (None, *sorted(set(STEMMERS.values())))
_EXACT, _STEMMED = itemgetter(0), itemgetter(1)      # of an Analyzer.forms() pair


def _token(term: str) -> str:
    return term if term.isalnum() else term.translate(_TOKEN_SAFE)


def _meta(kind: str, value: str) -> str:
    return _token(f"{kind}:{value}")


class IndexEntry(NamedTuple):
    """An article's archive index entry: its distinct terms separated by spaces (what FTS5
    is given), and its words (the exact forms among them, as tokens) for the vocabulary
    that `*fix` and `*mid*` are looked up in."""

    terms: str
    words: set[str]


def article_terms(text: AnalyzedText, analyzer: Analyzer = ANALYZER) -> IndexEntry:
    """The article's index entry: its exact forms, its stems that are not among them (marked
    as stems), its language and its sources."""
    meta = " ".join([_meta("lang", text.language),
                     *(_meta("source", name) for name in text.sources)])
    pairs = list(map(analyzer.cache(text.profile).__getitem__, text.title.words | text.body.words))
    if not pairs:
        return IndexEntry(meta, set())
    exacts = set(map(_EXACT, pairs))
    stems = set(map(_STEMMED, pairs)).difference(exacts)
    # The store keeps the string it was given, so the order does not matter. Words are
    # nearly always letters and digits only; translate() (slow, per character) only when not.
    exact, stemmed = " ".join(exacts), " ".join(stems)
    if not (exact + stemmed).replace(" ", "").isalnum():
        exact, stemmed = exact.translate(_WORDS_SAFE), stemmed.translate(_WORDS_SAFE)
        exacts = set(map(_token, exacts))
    if not stemmed:
        return IndexEntry(f"{meta} {exact}", exacts)
    return IndexEntry(f"{meta} {exact} {_STEM}" + stemmed.replace(" ", " " + _STEM), exacts)


# (kind "suffix" or "infix", the fixed part as an index token) -> the index's words that end
# with or contain it, or None when there are too many to ask for.
Vocabulary = Callable[[str, str], list[str] | None]

# A token no article has: a wildcard that no indexed word fits.
_NO_WORD = '"' + "nothing:".translate(_TOKEN_SAFE) + '"'


def archive_query(rule: Rule, analyzer: Analyzer = ANALYZER,
                  words: Vocabulary | None = None) -> str | None:
    """An FTS5 query that every article the rule matches satisfies; None when the rule
    needs no term that can be looked up (then only a scan finds its articles)."""
    found = [_query(rule.query.root, analyzer, words)]
    if rule.languages:
        found.append(_any(_quoted(_meta("lang", code)) for code in sorted(rule.languages)))
    if rule.sources:
        found.append(_any(_quoted(_meta("source", name)) for name in sorted(rule.sources)))
    return _all(found)


def _query(node: Node, analyzer: Analyzer, words: Vocabulary | None) -> str | None:
    if isinstance(node, Term):
        return _word(node.kind, node.form, analyzer, words)
    if isinstance(node, Phrase):
        return _all(_word(kind, form, analyzer, words) for kind, form in node.words)
    if isinstance(node, Lang):
        return _quoted(_meta("lang", node.code))
    if isinstance(node, Source):
        return _quoted(_meta("source", node.name))
    if isinstance(node, (And, Near)):
        children = node.children if isinstance(node, And) else (node.left, node.right)
        direct = _all(_query(child, analyzer, None) for child in children)
        if direct is not None or words is None:
            return direct
        return _all(_query(child, analyzer, words) for child in children)
    if isinstance(node, Or):
        branches = [_query(child, analyzer, words) for child in node.children]
        found = [branch for branch in branches if branch is not None]
        return _any(found) if len(found) == len(branches) else None
    assert isinstance(node, Not)
    return None


def _word(kind: str, form: str, analyzer: Analyzer, words: Vocabulary | None) -> str | None:
    if kind == "exact":
        return _quoted(_token(form))
    if kind == "prefix":
        return _quoted(_token(form)) + "*"
    if kind == "stem":
        stems = {analyzer.forms(profile, form)[1] for profile in _PROFILES}
        stems.add(analyzer.forms(None, form)[0])
        return _any(token for stem in sorted(stems)
                    for token in (_quoted(_STEM + _token(stem)), _quoted(_token(stem))))
    if words is None:
        return None
    found = words(kind, _token(form))        # *fix and *mid*: the words that fit them
    if found is None:
        return None
    exact = [word for word in found if not word.startswith(_STEM)]
    return _any(map(_quoted, exact)) if exact else _NO_WORD


def _quoted(token: str) -> str:
    return f'"{token}"'


def _all(parts: Iterable[str | None]) -> str | None:
    needed = list(dict.fromkeys(part for part in parts if part is not None))
    if not needed:
        return None
    return needed[0] if len(needed) == 1 else "(" + " AND ".join(needed) + ")"


def _any(parts: Iterable[str]) -> str:
    options = list(dict.fromkeys(parts))
    return options[0] if len(options) == 1 else "(" + " OR ".join(options) + ")"
