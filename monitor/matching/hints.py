"""What a query probably does not mean, said where queries are written (`rules check`,
`search`, `/watch`): a valid query that would surprise its author.

- A lower-case operator between terms (`Putin and Kim`) is an ordinary word: the rule then
  needs an article with "and" in it, and the analyser stems "and" as it stems "andere".
- A plain word that the archive mostly has inside longer words (`Klima`: "Klimawandel",
  "Klimaschutz") misses those: the analyser splits hyphenated compounds, not closed ones, so
  the hint names the wildcard that finds them (`Klima*`, `*klima*`). The counts come from
  the archive index (tools.compound_hints).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.matching.query import tokens

OPERATORS = ("and", "or", "not", "near")
_TERMS = {"WORD", "PHRASE", "ENTITY", "LANG", "SOURCE", "RPAR"}
_BEFORE_TERM = {"WORD", "PHRASE", "ENTITY", "LANG", "SOURCE", "LPAR", "FIELD", "NOT", "MINUS"}


@dataclass(frozen=True)
class QueryHint:
    """One thing to point out in a query.

    kind: "operator" (a lower-case operator: `fix` is the upper-case one) or "compound"
    (`word` is mostly found inside longer words: `fix` is the wildcard to use; `alone` and
    `inside` count the archive's articles with the word itself and with longer words
    containing it, `examples` are some of those words). column: 1-based, in the query."""

    kind: str
    word: str
    column: int
    fix: str
    alone: int = 0
    inside: int = 0
    examples: tuple[str, ...] = field(default=())

    @property
    def message(self) -> str:
        if self.kind == "operator":
            return (f"'{self.word}' is searched as a word (operators are upper case): "
                    f"did you mean {self.fix}?")
        shown = f" ({', '.join(self.examples)})" if self.examples else ""
        return (f"'{self.word}' stands alone in {_articles(self.alone)} and inside longer "
                f"words in {self.inside:,}{shown}: {self.fix} finds those too")


def _articles(count: int) -> str:
    return f"{count:,} article" + ("" if count == 1 else "s")


def operator_hints(text: str) -> list[QueryHint]:
    """Lower-case (or capitalised) `and`, `or`, `not`, `near` and `near/N` between two
    terms. A query that does not lex gives none (its syntax error says more)."""
    try:
        found = tokens(text)
    except ValueError:
        return []
    hints = []
    for before, (kind, word, offset), after in zip(found, found[1:], found[2:], strict=False):
        name, _, distance = word.partition("/")
        if (kind == "WORD" and name.lower() in OPERATORS and name != name.upper()
                and before[0] in _TERMS and after[0] in _BEFORE_TERM
                and (not distance or (name.lower() == "near" and distance.isdigit()))):
            fix = name.upper() + (f"/{distance}" if distance else "")
            hints.append(QueryHint("operator", word, offset + 1, fix))
    return hints
