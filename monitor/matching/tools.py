"""What the analysts' commands do, as library functions (the CLI and the bot only render).

Rule examples, archive searches, backtests, alias usage and explanations with highlighted
snippets. Archive access goes through the Store; nothing here speaks SQL.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, NamedTuple

from monitor.matching.analysis import Document, FieldTokens, Token, exact_form
from monitor.matching.archive_index import INDEX_VERSION, archive_query
from monitor.matching.engine import BudgetExceeded, Engine, RuleMatch
from monitor.matching.evaluate import Explanation, explain, field_position, rule_applies
from monitor.matching.hints import QueryHint
from monitor.matching.query import (
    And,
    Lang,
    Near,
    Not,
    Or,
    Phrase,
    Query,
    Source,
    Term,
    bare_words,
    leaves,
)
from monitor.matching.rules import Entity, Example, Rule, RuleSet, make_rule
from monitor.models import Article
from monitor.store import Store

Progress = Callable[[], None]
VERIFY_BATCH = 200          # candidates read from the store at a time
WILDCARD_WORDS = 200        # words a `*fix` or `*mid*` may stand for in an index query, else a scan
SNIPPET_CONTEXT = 10        # words on each side of a highlighted word
MAX_SNIPPETS = 3


def _single_rule_engine(rule: Rule, entities: Mapping[str, Entity]) -> Engine:
    """An engine over one rule, enabled even if the file disables it (tests, backtests)."""
    return Engine(RuleSet((dataclasses.replace(rule, enabled=True),), entities))


# ----------------------------------------------------------------------------- examples

@dataclass(frozen=True)
class ExampleResult:
    rule: Rule
    example: Example
    number: int          # 1-based within the rule
    matched: bool
    article: Article

    @property
    def passed(self) -> bool:
        return self.matched == self.example.match


def run_examples(ruleset: RuleSet, rule_ids: Iterable[str] = ()) -> list[ExampleResult]:
    """Every [[rules.examples]] through the engine, as production would match it."""
    wanted = set(rule_ids)
    results = []
    for rule in ruleset:
        if wanted and rule.id not in wanted:
            continue
        engine = _single_rule_engine(rule, ruleset.entities)
        for number, example in enumerate(rule.examples, 1):
            article = example.article(rule)
            matched = bool(engine.match(article))
            results.append(ExampleResult(rule, example, number, matched, article))
    return results


# ------------------------------------------------------------------------- alias usage

def unused_aliases(entities: Mapping[str, Entity], articles: Iterable[Article],
                   progress: Progress | None = None) -> list[tuple[Entity, str]]:
    """Aliases that no article matches (stops early once every alias has matched)."""
    rules = []
    owners: dict[str, tuple[Entity, str]] = {}
    for entity in entities.values():
        for number, alias in enumerate(entity.aliases):
            node = bare_words(alias, f"@{entity.id}")
            if node is None:
                continue
            rule_id = f"{entity.id}#{number}"
            owners[rule_id] = (entity, alias)
            rules.append(Rule(id=rule_id, query=Query(alias, node, frozenset(), 1)))
    engine = Engine(RuleSet(tuple(rules), entities))
    unseen = set(owners)
    for article in articles:
        if progress:
            progress()
        for match in engine.match(article):
            unseen.discard(match.rule_id)
        if not unseen:
            break
    return [owners[rule_id] for rule_id in owners if rule_id in unseen]


# ------------------------------------------------------------------------------- search

@dataclass(frozen=True)
class Found:
    article: Article
    match: RuleMatch

    def as_json(self) -> dict[str, Any]:
        article = self.article
        return {
            "id": article.id, "url": article.url, "title": article.title,
            "published": article.published.isoformat() if article.published else None,
            "language": article.language, "source": article.source,
            "matched": self.match.words,
            "hits": [hit.as_dict() for hit in self.match.hits],
        }


class Candidates(NamedTuple):
    """The archived articles a search has to verify, newest first."""

    ids: list[int]
    scanned: bool        # the whole window: see why
    why: str = ""        # "no terms": the rule needs none the index has; "no index": not built

    def __len__(self) -> int:
        return len(self.ids)


def archive_candidates(store: Store, rule: Rule, since: datetime | None = None) -> Candidates:
    """The articles in the window that can match the rule: those the archive index finds
    for its terms (archive_index.py), plus any not indexed yet; all of the window when the rule
    has no term to look up or the index is not current."""
    if not store.index_is_current(INDEX_VERSION):
        return Candidates(store.archive_candidates(None, since) or [], True, "no index")
    query = archive_query(rule, words=lambda kind, fixed: store.index_words(
        kind, fixed, WILDCARD_WORDS))
    ids = store.archive_candidates(query, since) if query is not None else None
    if ids is None:
        return Candidates(store.archive_candidates(None, since) or [], True, "no terms")
    return Candidates(ids, False)


MIN_COMPOUND_PART = 4       # shorter words are inside too many others to hint about
MIN_INSIDE = 3              # articles with longer words that a compound hint needs
COMPOUND_EXAMPLES = 3       # the commonest of the first COMPOUND_COUNTED longer words
COMPOUND_COUNTED = 50      # an index query each


def compound_hints(store: Store, rule: Rule) -> list[QueryHint]:
    """The rule's plain words that the archive has mostly inside longer words ("Klima":
    "Klimawandel", "Weltklima"), with the wildcard that finds those (hints.py). Counted with
    the archive index: articles with the word itself against articles with a word that
    contains it; an example is a word at least three letters longer (not an inflection)."""
    if not store.index_is_current(INDEX_VERSION):
        return []
    hints = []
    for label in dict.fromkeys(leaf.label for leaf, negated in leaves(rule.query.root)
                               if not negated and isinstance(leaf, Term) and leaf.kind == "stem"
                               and exact_form(leaf.label) == exact_form(leaf.form)):
        folded = exact_form(label)
        if len(folded) < MIN_COMPOUND_PART:
            continue
        # One pass over the vocabulary: the words that contain it, or None when there are
        # too many to look up (then the articles of the words it begins are counted; the
        # infix rule would have read every article id of the archive instead).
        words = store.index_words("infix", folded, WILDCARD_WORDS)
        wildcard = f"*{folded}*" if words is not None else f"{label}*"
        anywhere = archive_candidates(store, make_rule("hint", wildcard, {}))
        if anywhere.scanned:
            continue
        alone = set(archive_candidates(store, make_rule("hint", label, {})).ids)
        inside = len(set(anywhere.ids) - alone)
        if inside < MIN_INSIDE or inside < len(alone):
            continue
        hints.append(QueryHint("compound", label, rule.query_text.find(label) + 1, wildcard,
                               len(alone), inside, _commonest_longer(store, folded, words or [])))
    return hints


def _commonest_longer(store: Store, folded: str, words: list[str]) -> tuple[str, ...]:
    """The commonest of the vocabulary's `words` that contain `folded` and are at least
    three letters longer (not an inflection of it), counted in the archive index."""
    longer = sorted((w for w in words if len(w) >= len(folded) + 3),
                    key=lambda w: (len(w), w))[:COMPOUND_COUNTED]
    counts = {w: len(archive_candidates(store, make_rule("hint", f'"{w}"', {})))
              for w in longer}
    return tuple(sorted(counts, key=lambda w: (-counts[w], w))[:COMPOUND_EXAMPLES])


@dataclass(frozen=True)
class Search:
    found: list[Found]              # newest first; the first `limit`
    complete: bool                  # every candidate verified: found is every match
    candidates: Candidates
    exceeded: list[BudgetExceeded]  # the rule ran out of budget on these (not matched)


def search_archive(store: Store, rule: Rule, entities: Mapping[str, Entity],
                   since: datetime | None = None, limit: int = 50,
                   progress: Progress | None = None,
                   candidates: Candidates | None = None) -> Search:
    """Archived articles the rule matches, newest first: the engine verifies the candidates
    in that order and stops at `limit` (0: all)."""
    if candidates is None:
        candidates = archive_candidates(store, rule, since)
    engine = _single_rule_engine(rule, entities)
    found: list[Found] = []
    exceeded: list[BudgetExceeded] = []
    for chunk in _chunks(candidates.ids, VERIFY_BATCH):
        articles = store.articles_by_id(chunk)
        for article_id in chunk:
            if progress:
                progress()
            if (article := articles.get(article_id)) is None:
                continue            # deleted by retention meanwhile
            report = engine.match_report(article)
            exceeded.extend(report.exceeded)
            found.extend(Found(article, match) for match in report.matches)
            if limit and len(found) >= limit:
                done = article_id == candidates.ids[-1]
                return Search(found[:limit], done, candidates, exceeded)
    return Search(found, True, candidates, exceeded)


def _chunks(items: list[int], size: int) -> Iterable[list[int]]:
    return (items[start:start + size] for start in range(0, len(items), size))


# ----------------------------------------------------------------------------- backtest

@dataclass(frozen=True)
class Backtest:
    rule: Rule
    articles: int                   # articles in the window
    hits: list[Found]               # newest first
    per_day: dict[date, int]
    stories: int
    exceeded: list[BudgetExceeded] = dataclasses.field(default_factory=list)   # over budget
    candidates: Candidates = Candidates([], False)     # what the engine verified

    def samples(self, count: int = 10) -> list[Found]:
        return self.hits[:count]


def backtest(store: Store, rule: Rule, entities: Mapping[str, Entity],
             since: datetime | None = None, progress: Progress | None = None,
             candidates: Candidates | None = None) -> Backtest:
    """What the rule would have matched in the archive: hits per day and distinct stories
    (the article's story; distinct titles for articles not grouped yet)."""
    search = search_archive(store, rule, entities, since=since, limit=0, progress=progress,
                            candidates=candidates)
    hits = search.found
    per_day = Counter(found.article.published.date() for found in hits)
    stories = {_story(found.article) for found in hits}
    return Backtest(rule, store.count_articles(since), hits, dict(sorted(per_day.items())),
                    len(stories), search.exceeded, search.candidates)


def _story(article: Article) -> object:
    """The article's story (near-duplicates share one); before grouping, its case- and
    space-folded title."""
    return article.story_id or " ".join(article.title.casefold().split())


# ---------------------------------------------------------------------------- explain

@dataclass(frozen=True)
class Verdict:
    """Whether a rule (or query) matches an article, and why."""

    matched: bool
    limits_ok: bool              # the rule's languages/sources/enabled allow the article
    explanation: Explanation
    document: Document
    # Set when the engine runs out of budget on this article with this rule: then it does
    # not match it in production, whatever the explanation (which has no budget) says.
    exceeded: BudgetExceeded | None = None


def explain_article(rule: Rule, article: Article) -> Verdict:
    document = Document.from_article(article)
    explanation = explain(rule.query.root, document)
    limits_ok = rule_applies(dataclasses.replace(rule, enabled=True), document)
    report = _single_rule_engine(rule, {}).match_report(article)
    return Verdict(limits_ok and explanation.matched, limits_ok, explanation, document,
                   report.exceeded[0] if report.exceeded else None)


def describe_node(node: Any) -> str:
    """What kind of node it is, and for words and phrases the folded form looked for."""
    if isinstance(node, Term):
        kind = {"stem": "word", "exact": "exact word"}.get(node.kind, node.kind)
        return f'{kind} "{node.form}"'
    if isinstance(node, Phrase):
        return 'phrase "' + " ".join(form for _, form in node.words) + '"'
    return {Lang: "language", Source: "source", And: "AND", Or: "OR", Not: "NOT",
            Near: "NEAR"}[type(node)]


def explanation_lines(explanation: Explanation, depth: int = 0) -> list[str]:
    """The evaluation tree: ✓/✗ per node; leaves say where they matched (field, positions,
    words)."""
    mark = "✓" if explanation.matched else "✗"
    node = explanation.node
    line = f"{'  ' * depth}{mark} {' '.join(node.label.split())}  [{describe_node(node)}]"
    if explanation.occurrences:
        line += "  " + "; ".join(_where(explanation))
    lines = [line]
    for child in explanation.children:
        lines.extend(explanation_lines(child, depth + 1))
    return lines


def _where(explanation: Explanation) -> list[str]:
    by_field: dict[str, tuple[list[int], dict[str, None]]] = {}
    for occurrence in explanation.occurrences:
        positions, words = by_field.setdefault(occurrence.field, ([], {}))
        positions.append(field_position(occurrence.first))
        words[" ".join(t.surface for t in occurrence.tokens)] = None
    parts = []
    for field, (positions, words) in by_field.items():
        shown = ", ".join(map(str, positions[:8])) + (" …" if len(positions) > 8 else "")
        parts.append(f"{field} @ {shown} ({', '.join(list(words)[:5])})")
    return parts


def snippets(verdict: Verdict, highlight: Callable[[str], str]) -> dict[str, str]:
    """The title with its matched words highlighted, and up to three body passages."""
    matched = verdict.explanation.matched_tokens()
    result = {}
    for field_tokens, name in ((verdict.document.title, "title"),
                               (verdict.document.body, "body")):
        tokens = {t for f, t in matched if f == name}
        if name == "title":
            result[name] = _highlight(field_tokens.text, tokens, highlight)
        elif tokens:
            result[name] = _passages(field_tokens, tokens, highlight)
    return result


def _highlight(text: str, tokens: Iterable[Token], highlight: Callable[[str], str],
               start: int = 0, end: int | None = None) -> str:
    end = len(text) if end is None else end
    spans = sorted({(t.start, t.end) for t in tokens if start <= t.start and t.end <= end})
    pieces, cursor = [], start
    for span_start, span_end in spans:
        if span_start < cursor:
            continue
        pieces.append(text[cursor:span_start])
        pieces.append(highlight(text[span_start:span_end]))
        cursor = span_end
    pieces.append(text[cursor:end])
    return " ".join("".join(pieces).split())


def _passages(field: FieldTokens, tokens: set[Token], highlight: Callable[[str], str]) -> str:
    words = [t for t in field.tokens if t.first == t.last]
    wanted = sorted({t.first - field.offset for t in tokens})
    windows: list[list[int]] = []
    for position in wanted:
        low, high = max(0, position - SNIPPET_CONTEXT), min(len(words) - 1,
                                                          position + SNIPPET_CONTEXT)
        if windows and low <= windows[-1][1] + 1:
            windows[-1][1] = max(windows[-1][1], high)
        elif len(windows) < MAX_SNIPPETS:
            windows.append([low, high])
    passages = []
    for low, high in windows:
        start, end = words[low].start, words[high].end
        text = _highlight(field.text, tokens, highlight, start, end)
        passages.append(("… " if low > 0 else "") + text + (" …" if high < len(words) - 1 else ""))
    return "\n".join(passages)
