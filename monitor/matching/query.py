"""The query language: grammar, limits and the query tree (rules-language.md is the contract).

Syntax, tightest binding first:

    word           the word in any inflected form of the article's language  Putin
    "a b"  "a"     exact phrase / exact word (no inflection)                 "Kim Jong Un"
    pre*  *fix  *mid*   words starting / ending with / containing the        Einladung*  *korea
                   fixed part (at least 3 characters, never inflected)
    @entity        any alias of the entity (a phrase whose last word may     @putin
                   be inflected)
    title:x body:x x only in the title / body (x: any term or a group)       title:(Kim AND Putin)
    lang:de        the article's language                                    lang:de
    source:name    the feed's configured name or the article's domain        source:tagesschau
    ( … )          grouping                                                  (Kim OR Pjöngjang)
    NOT x   -x     not
    a NEAR/n b     word positions differ by at most n (either order);        Putin NEAR/5 Einladung
                   NEAR alone is NEAR/10
    a AND b   a b  both (juxtaposition is AND)
    a OR b         either

Operators are upper case; `and`, `or`, `not`, `near` are ordinary words. Field names
(`title:`, `body:`, `lang:`, `source:`) may be written in any case.

Choices where the specification is silent (what a Google Alerts / Talkwalker user expects):

- Typographic quotes also delimit phrases: “…”, „…“ and «…» work like "…" (phones type them).
- A bare word that analysis splits into several words (`Kim’s`, `U.S.`) is a phrase of those
  words whose last word may be inflected. A bare hyphenated word (`Nord-Korea`) matches the
  parts as such a phrase OR the joined word (`nordkorea`); inside quotes ("Nord-Korea") only
  the parts match, consecutively.
- NEAR takes words, phrases, wildcards, entities and OR-groups of these (their positions); it
  rejects AND, NOT, lang: and source: operands, which have no single position. Distances run
  from 1 to 1000. Occurrences may overlap (distance 0): `*korea NEAR Nordkorea` matches
  "Nordkorea" alone.
- A field inside another field (`title:(body:x)`) is an error; `source:` values with spaces
  are quoted: source:"Deutsche Welle".
- Limits: 2,000 characters, 200 terms (as written: an entity counts once), 20 levels of
  parentheses, 20 wildcards, and 8 operands joined by NEAR, counted through parentheses
  (`(a NEAR b) NEAR (c NEAR d)` has four; an OR-group is one operand, as many as its
  largest branch has). A term cannot be negated twice in a row (`NOT -x`) and a term carries
  one field (`title:body:x`); both are errors, so the query tree stays shallow.
- Numbers (the n of NEAR/n) are written with the digits 0-9; other digits ("NEAR/²",
  "NEAR/５") are an error, and so is text that is not valid Unicode (lone surrogates, which a
  JSON client can send).
- A chain `a NEAR/n b NEAR/m c` groups from the left: (a NEAR/n b) NEAR/m c, where the
  inner NEAR stands for the stretch of words from the first to the last word of each of its
  matches, so c must be within m words of that stretch (evaluate.py defines it).
- Wildcards that start with '*' (`*fix`, `*mid*`) look only into words of at most
  MAX_WILDCARD_WORD (64) characters (folded): longer "words" are hashes, identifiers or
  base64, not language, and looking into them is what costs.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dataclass_field
from typing import Any

from lark import Lark, Token, Transformer
from lark.exceptions import (
    UnexpectedCharacters,
    UnexpectedInput,
    UnexpectedToken,
    VisitError,
)

from monitor.errors import MatchingError
from monitor.language import language_code
from monitor.matching.analysis import exact_form, query_words, source_name

MAX_CHARS = 2000
MAX_TERMS = 200
MAX_NESTING = 20
MAX_NEAR = 1000
DEFAULT_NEAR = 10
MIN_WILDCARD = 3
MAX_WILDCARDS = 20
MAX_NEAR_OPERANDS = 8
MAX_WILDCARD_WORD = 64      # `*fix` and `*mid*` never match longer (folded) words

_QUOTE_CHARS = '"“”„«»'
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]+)*")
_TERM_TOKENS = {"WORD", "PHRASE", "ENTITY", "LANG", "SOURCE"}

GRAMMAR = r"""
start: or_expr

?or_expr: and_expr (_OR and_expr)*
?and_expr: near_expr (_AND? near_expr)*
?near_expr: unary (NEAR unary)*
?unary: NOT unary   -> negation
      | MINUS unary -> negation
      | atom
?atom: LPAR or_expr RPAR -> group
     | FIELD atom        -> fielded
     | PHRASE            -> phrase
     | WORD              -> word
     | ENTITY            -> entity
     | LANG              -> lang
     | SOURCE            -> source

_OR.3: /OR(?![^\s()])/
_AND.3: /AND(?![^\s()])/
NOT.3: /NOT(?![^\s()])/
NEAR.3: /NEAR(\/[^\s()]*)?(?![^\s()])/
MINUS.3: /-(?=[^\s)])/
FIELD.3: /(title|body):/i
LANG.3: /lang:[^\s()]*/i
SOURCE.3: /source:("[^"]*"|[^\s()"]*)/i
LPAR: "("
RPAR: ")"
ENTITY.2: /@[^\s()"“”„«»]*/
PHRASE.2: /"[^"]*"|“[^“”]*”|„[^“”]*[“”]|«[^«»]*»/
WORD: /[^\s()"“”„«»@\-][^\s()"“”„«»]*/

%ignore /\s+/
"""

_PARSER = Lark(GRAMMAR, parser="lalr", lexer="basic", maybe_placeholders=False)
# Lexing alone: a Lark without a parser keeps its lexer, while _PARSER.lex() builds a new one
# on every call (lark 1.3). Same terminals, same token stream.
_LEXER = Lark(GRAMMAR, parser=None, lexer="basic")


# ------------------------------------------------------------------------------ the tree

@dataclass(frozen=True)
class Term:
    """One word. kind: "stem" (form is the raw word, stemmed per article language), "exact"
    (form is the folded word), "prefix"/"suffix"/"infix" (form is the folded fixed part)."""

    kind: str
    form: str
    field: str | None = None
    label: str = dataclass_field(default="", compare=False)


@dataclass(frozen=True)
class Phrase:
    """Consecutive words; each (kind, form) with kind "exact" or "stem" as in Term."""

    words: tuple[tuple[str, str], ...]
    field: str | None = None
    label: str = dataclass_field(default="", compare=False)


@dataclass(frozen=True)
class Lang:
    code: str
    label: str = dataclass_field(default="", compare=False)


@dataclass(frozen=True)
class Source:
    name: str
    label: str = dataclass_field(default="", compare=False)


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]
    label: str = dataclass_field(default="", compare=False)


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]
    label: str = dataclass_field(default="", compare=False)


@dataclass(frozen=True)
class Not:
    child: Node
    label: str = dataclass_field(default="", compare=False)


@dataclass(frozen=True)
class Near:
    left: Node
    right: Node
    distance: int
    label: str = dataclass_field(default="", compare=False)


Node = Term | Phrase | Lang | Source | And | Or | Not | Near


@dataclass(frozen=True)
class Query:
    text: str
    root: Node
    entities: frozenset[str]     # ids of the entities the query uses
    terms: int                   # terms as written


class QuerySyntaxError(MatchingError, ValueError):
    """A query that cannot be used. str() is the message, the query line and a caret line,
    ready to be shown as is (the Telegram bot does)."""

    def __init__(self, message: str, text: str, offset: int):
        self.message = message
        self.text = text
        self.offset = max(0, min(offset, len(text)))
        before = text[:self.offset]
        self.line = before.count("\n") + 1
        self.column = self.offset - (before.rfind("\n") + 1) + 1
        super().__init__(str(self))

    def __str__(self) -> str:
        where = (f"column {self.column}" if "\n" not in self.text
                 else f"line {self.line}, column {self.column}")
        # Lone surrogates shown as U+FFFD (one character for one: the caret stays put), so
        # that the message itself can always be printed or sent.
        line_text = _SURROGATES.sub("\ufffd", self.text.split("\n")[self.line - 1])
        return f"{self.message} ({where})\n{caret_lines(line_text, self.column)}"


_SURROGATES = re.compile("[\ud800-\udfff]")


def caret_lines(line_text: str, column: int) -> str:
    return f"{line_text.replace(chr(9), ' ')}\n{' ' * (column - 1)}^"


# ------------------------------------------------------------------------------- parsing

def parse_query(text: str, entities: Mapping[str, Any]) -> Query:
    """Parse and check a query. `entities` maps entity ids to objects with `.aliases` (Entity).

    Raises QuerySyntaxError pointing at the offending column.
    """
    if len(text) > MAX_CHARS:
        raise QuerySyntaxError(
            f"the query is longer than {MAX_CHARS} characters ({len(text)})", text, MAX_CHARS)
    if not text.strip():
        raise QuerySyntaxError("the query is empty", text, 0)
    if invalid := _SURROGATES.search(text):
        raise QuerySyntaxError("the query contains characters that are not valid text", text,
                               invalid.start())
    terms = _check_tokens(text)
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text) from None
    builder = _Builder(text, entities)
    try:
        root = builder.transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, QuerySyntaxError):
            raise exc.orig_exc from None
        raise
    return Query(text=text, root=root, entities=frozenset(builder.used_entities), terms=terms)


def tokens(text: str) -> list[tuple[str, str, int]]:
    """The query's tokens as (type, text, offset); lexing errors raise QuerySyntaxError."""
    try:
        return [(token.type, str(token), _start(token)) for token in _LEXER.lex(text)]
    except UnexpectedCharacters as exc:
        raise _syntax_error(exc, text) from None


def _check_tokens(text: str) -> int:
    """Limits and shapes that are easiest to see on the token stream; returns the term count."""
    depth = 0
    terms = 0
    wildcards = 0
    previous = ""
    try:
        for token in _LEXER.lex(text):
            if token.type == "LPAR":
                depth += 1
                if depth > MAX_NESTING:
                    raise QuerySyntaxError(
                        f"more than {MAX_NESTING} levels of parentheses", text, _start(token))
            elif token.type == "RPAR":
                depth -= 1
            elif token.type in _TERM_TOKENS:
                terms += 1
                if terms > MAX_TERMS:
                    raise QuerySyntaxError(f"more than {MAX_TERMS} terms", text, _start(token))
                if token.type == "WORD" and "*" in token:
                    wildcards += 1
                    if wildcards > MAX_WILDCARDS:
                        raise QuerySyntaxError(f"more than {MAX_WILDCARDS} wildcards", text,
                                               _start(token))
            if token.type in ("NOT", "MINUS") and previous in ("NOT", "MINUS"):
                raise QuerySyntaxError("a term cannot be negated twice", text, _start(token))
            if token.type == "FIELD" and previous == "FIELD":
                raise QuerySyntaxError("a term can have only one field", text, _start(token))
            previous = token.type
    except UnexpectedCharacters as exc:
        raise _syntax_error(exc, text) from None
    return terms


_DESCRIBE = {"_OR": "'OR'", "_AND": "'AND'", "NOT": "'NOT'", "NEAR": "'NEAR'", "MINUS": "'-'",
             "LPAR": "'('", "RPAR": "')'", "$END": "the end of the query"}
_STARTS_TERM = {"WORD", "PHRASE", "ENTITY", "LANG", "SOURCE", "LPAR", "FIELD", "NOT", "MINUS"}


def _syntax_error(exc: UnexpectedInput, text: str) -> QuerySyntaxError:
    """Lark's exception as a message an analyst understands."""
    if isinstance(exc, UnexpectedCharacters):
        offset = _position(exc.pos_in_stream)
        char = text[offset]
        if char in _QUOTE_CHARS:
            return QuerySyntaxError("this quotation mark is never closed", text, offset)
        if char == "-":
            return QuerySyntaxError(
                "'-' must stand directly before a term, as in -Trump", text, offset)
        return QuerySyntaxError(f"unexpected character {char!r}", text, offset)
    assert isinstance(exc, UnexpectedToken)
    token = exc.token
    expected = set(exc.expected)
    if token.type == "$END":
        offset = len(text.rstrip())
        if "RPAR" in expected and not expected & _STARTS_TERM:
            return QuerySyntaxError(f"expected ')' to close the '(' at column "
                                    f"{_open_paren_column(text)}", text, offset)
        return QuerySyntaxError("the query ends where a term is expected", text, offset)
    found = _DESCRIBE.get(token.type, repr(str(token)))
    if expected & _STARTS_TERM:
        wanted = "a term" if "RPAR" not in expected else "a term or ')'"
    elif "RPAR" in expected:
        wanted = "')'"
    else:
        wanted = "an operator"
    if token.type == "RPAR" and "RPAR" not in expected and not expected & _STARTS_TERM:
        return QuerySyntaxError("')' without a matching '('", text, _start(token))
    return QuerySyntaxError(f"expected {wanted}, found {found}", text, _start(token))


def _open_paren_column(text: str) -> int:
    """Column (in its line) of the last '(' left open."""
    opened: list[int] = []
    for token in _LEXER.lex(text):
        if token.type == "LPAR":
            opened.append(_start(token))
        elif token.type == "RPAR" and opened:
            opened.pop()
    offset = opened[-1] if opened else 0
    return offset - (text.rfind("\n", 0, offset) + 1) + 1


def _position(value: int | None) -> int:
    """A position in the query as lark reports it. Lark types Token.start_pos/end_pos and
    UnexpectedCharacters.pos_in_stream as optional (a Token made by hand has none); its lexer,
    where all our tokens and lexing errors come from, always sets them."""
    assert value is not None, "lark's lexer sets the position of every token and error"
    return value


def _start(token: Token) -> int:
    return _position(token.start_pos)


def _end(token: Token) -> int:
    return _position(token.end_pos)


class _Builder(Transformer):
    """Parse tree → query tree, with every check that needs to know what a term means.

    Every node is labelled with the query text it came from (for explanations and hits).
    """

    def __init__(self, text: str, entities: Mapping[str, Any]):
        super().__init__()
        self.text = text
        self.entities = entities
        self.used_entities: set[str] = set()
        self._spans: dict[int, tuple[int, int]] = {}

    def _error(self, message: str, token: Token) -> QuerySyntaxError:
        return QuerySyntaxError(message, self.text, _start(token))

    def _spanned(self, node: Node, start: int, end: int) -> Node:
        node = replace(node, label=self.text[start:end])
        self._spans[id(node)] = (start, end)
        return node

    def _span(self, nodes: list[Node]) -> tuple[int, int]:
        spans = [self._spans[id(node)] for node in nodes]
        return min(s for s, _ in spans), max(e for _, e in spans)

    # ---- leaves

    def word(self, items: list[Token]) -> Node:
        token = items[0]
        value = str(token)
        if "*" in value:
            node: Node | None = self._wildcard(token)
        else:
            node = bare_words(value, value)
        if node is None:
            raise self._error(f"{value!r} has no letters or digits", token)
        return self._spanned(node, _start(token), _end(token))

    def _wildcard(self, token: Token) -> Term:
        value = str(token)
        leading, trailing = value.startswith("*"), value.endswith("*") and len(value) > 1
        fixed = value[1 if leading else 0:len(value) - 1 if trailing else len(value)]
        if "*" in fixed:
            raise self._error("'*' can only stand at the start or the end of a word", token)
        words = query_words(fixed)
        if len(words) != 1 or len(words[0]) != 1 or words[0][0] != fixed:
            raise self._error(f"a wildcard works within one word: {value!r}", token)
        if len(fixed) < MIN_WILDCARD:
            raise self._error(f"a wildcard needs at least {MIN_WILDCARD} letters or digits "
                              f"besides '*': {value!r}", token)
        kind = "infix" if leading and trailing else "suffix" if leading else "prefix"
        return Term(kind, exact_form(fixed))

    def phrase(self, items: list[Token]) -> Node:
        token = items[0]
        value = str(token)
        parts = [part for group in query_words(value[1:-1]) for part in group]
        if not parts:
            raise self._error(f"{value} has no letters or digits", token)
        if len(parts) == 1:
            node: Node = Term("exact", exact_form(parts[0]))
        else:
            node = Phrase(tuple(("exact", exact_form(p)) for p in parts))
        return self._spanned(node, _start(token), _end(token))

    def entity(self, items: list[Token]) -> Node:
        token = items[0]
        name = str(token)[1:].lower()
        if not name:
            raise self._error("'@' must be followed by an entity id, as in @putin", token)
        entity = self.entities.get(name)
        if entity is None:
            known = sorted(self.entities)
            close = list(dict.fromkeys([e for e in known if name in e]
                                       + difflib.get_close_matches(name, known, n=3)))[:3]
            hint = f" (did you mean {', '.join('@' + c for c in close)}?)" if close else ""
            raise self._error(f"unknown entity '@{name}'{hint}", token)
        label = f"@{name}"
        alternatives = [node for alias in entity.aliases
                        if (node := bare_words(alias, label)) is not None]
        if not alternatives:
            raise self._error(f"entity '@{name}' has no alias with letters or digits", token)
        self.used_entities.add(name)
        node = _or(alternatives, label)
        self._spans[id(node)] = (_start(token), _end(token))
        return node

    def lang(self, items: list[Token]) -> Node:
        token = items[0]
        value = str(token).split(":", 1)[1]
        code = language_code(value)
        if code is None or not _LANGUAGE_TAG.fullmatch(value):
            raise self._error("lang: needs a language code such as de, en or ru", token)
        return self._spanned(Lang(code), _start(token), _end(token))

    def source(self, items: list[Token]) -> Node:
        token = items[0]
        name = source_name(str(token).split(":", 1)[1].strip('"'))
        if not name:
            raise self._error("source: needs a feed name or a domain, as in source:tagesschau",
                              token)
        return self._spanned(Source(name), _start(token), _end(token))

    # ---- structure

    def group(self, items: list[Any]) -> Node:
        lpar, inner, rpar = items
        return self._spanned(inner, _start(lpar), _end(rpar))

    def fielded(self, items: list[Any]) -> Node:
        token, node = items
        name = str(token)[:-1].lower()
        _, end = self._span([node])

        def conflict() -> QuerySyntaxError:
            return self._error(f"{name}: cannot contain another field", token)

        return self._spanned(_with_field(node, name, conflict), _start(token), end)

    def negation(self, items: list[Any]) -> Node:
        operator, child = items
        _, end = self._span([child])
        return self._spanned(Not(child), _start(operator), end)

    def near_expr(self, items: list[Any]) -> Node:
        node = items[0]
        for operator, right in zip(items[1::2], items[2::2], strict=True):
            distance = self._near_distance(operator)
            for side in (node, right):
                if not _positional(side):
                    raise self._error("NEAR needs words, phrases, wildcards, entities or "
                                      "OR-groups of these on both sides", operator)
            start, end = self._span([node, right])
            node = self._spanned(Near(node, right, distance), start, end)
            if near_operands(node) > MAX_NEAR_OPERANDS:
                raise self._error(f"NEAR can join at most {MAX_NEAR_OPERANDS} operands, "
                                  f"nested NEARs included", operator)
        return node

    def _near_distance(self, token: Token) -> int:
        value = str(token)
        if value == "NEAR":
            return DEFAULT_NEAR
        digits = value[len("NEAR/"):]
        # The digits 0-9 only: "²" is a digit to str.isdigit that int() refuses, and "５"
        # one that int() reads; neither is what the contract calls a number.
        if not (digits.isascii() and digits.isdigit()) or not 1 <= int(digits) <= MAX_NEAR:
            raise self._error(f"NEAR/n needs a distance n from 1 to {MAX_NEAR}, written with "
                              f"the digits 0-9", token)
        return int(digits)

    def and_expr(self, items: list[Node]) -> Node:
        return self._spanned(And(_flatten(And, items)), *self._span(items))

    def or_expr(self, items: list[Node]) -> Node:
        start, end = self._span(items)
        node = _or(items, self.text[start:end])
        self._spans[id(node)] = (start, end)
        return node

    def start(self, items: list[Node]) -> Node:
        return items[0]


def bare_words(text: str, label: str) -> Node | None:
    """A bare word or an entity alias: one word (inflected), or a phrase whose last word may
    be inflected; a hyphenated compound also matches as one joined word."""
    groups = query_words(text)
    parts = [part for group in groups for part in group]
    if not parts:
        return None
    if len(parts) == 1:
        return Term("stem", parts[0].casefold(), label=label)
    alternatives: list[Node] = [_inflected_phrase(parts, label)]
    if any(len(group) > 1 for group in groups):
        joined = ["".join(group) for group in groups]
        alternatives.append(Term("stem", joined[0].casefold(), label=label) if len(joined) == 1
                            else _inflected_phrase(joined, label))
    return _or(alternatives, label)


def _inflected_phrase(parts: list[str], label: str) -> Phrase:
    words = [("exact", exact_form(p)) for p in parts[:-1]]
    words.append(("stem", parts[-1].casefold()))
    return Phrase(tuple(words), label=label)


def _or(children: list[Node], label: str) -> Node:
    flat = _flatten(Or, children)
    unique = tuple(dict.fromkeys(flat))
    return unique[0] if len(unique) == 1 else Or(unique, label=label)


def _flatten(kind: type[And] | type[Or], children: list[Node]) -> tuple[Node, ...]:
    flat: list[Node] = []
    for child in children:
        flat.extend(child.children if isinstance(child, kind) else (child,))
    return tuple(flat)


def _positional(node: Node) -> bool:
    if isinstance(node, Or):
        return all(_positional(child) for child in node.children)
    if isinstance(node, Near):
        return True
    return isinstance(node, (Term, Phrase))


def near_operands(node: Node) -> int:
    """How many operands a NEAR joins, counted through nested NEARs; an OR-group counts as
    many as its largest branch."""
    if isinstance(node, Near):
        return near_operands(node.left) + near_operands(node.right)
    if isinstance(node, Or):
        return max(map(near_operands, node.children))
    return 1


def _with_field(node: Node, name: str, conflict: Any) -> Node:
    """Push a field down to the words of a subtree."""
    if isinstance(node, (Term, Phrase)):
        if node.field not in (None, name):
            raise conflict()
        return replace(node, field=name, label=f"{name}:{node.label}")
    if isinstance(node, (Lang, Source)):
        return node
    label = f"{name}:{node.label}"
    if isinstance(node, (And, Or)):
        children = tuple(_with_field(c, name, conflict) for c in node.children)
        return replace(node, children=children, label=label)
    if isinstance(node, Not):
        return replace(node, child=_with_field(node.child, name, conflict), label=label)
    assert isinstance(node, Near)
    return replace(node, left=_with_field(node.left, name, conflict),
                   right=_with_field(node.right, name, conflict), label=label)


def leaves(node: Node, negated: bool = False) -> list[tuple[Node, bool]]:
    """Every Term/Phrase/Lang/Source leaf with whether it stands under a NOT."""
    if isinstance(node, (And, Or)):
        return [leaf for child in node.children for leaf in leaves(child, negated)]
    if isinstance(node, Not):
        return leaves(node.child, not negated)
    if isinstance(node, Near):
        return leaves(node.left, negated) + leaves(node.right, negated)
    return [(node, negated)]
