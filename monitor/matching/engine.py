"""The rule engine: stored queries matched the way Luwak / Lucene Monitor do it, in its parts:

- presearch.py: the clauses every article a rule matches satisfies, and the rarest of them
  (Presearcher, TermWeightor);
- index.py: the rules indexed under their rarest clause, per term id (the query index), and
  each language's map of stems onto those ids;
- verify.py: the hot path, which rules an article matches (CandidateMatcher), within a work
  budget per article;
- highlight.py: where and why, only for the matches that are shown (HighlightingMatcher);
- debug.py: what the presearch and the tests did on one article (Monitor.debug).

`Engine` is the facade over them. The result is exactly what evaluating every rule on every
article gives (a property test proves it against evaluate.py).

Python's cycle collector is kept off the hot path (c8bc152: it took 25-35 % of matching at
100,000 rules): it is paused while an article is matched, which makes no reference cycles;
a large index is best moved out of the collector's sight once, by its owner
(collector.out_of_collectors_sight; the pipeline does).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import NamedTuple

from monitor.matching.analysis import ANALYZER, AnalyzedText, Analyzer
from monitor.matching.archive_index import article_terms
from monitor.matching.collector import CollectorPaused
from monitor.matching.debug import EngineDebug
from monitor.matching.highlight import RuleMatch, results
from monitor.matching.index import CompiledRules, Profile, compiled_rules
from monitor.matching.rules import Rule, RuleSet
from monitor.matching.verify import (
    DEFAULT_BUDGET,
    ArticleView,
    Budget,
    Exceeded,
    matched,
)
from monitor.models import Article, NewMatch


class BudgetExceeded(NamedTuple):
    """A rule that could not be checked on an article within the budget: it did not match.

    reason: "verify" (its phrases and NEARs needed more than `limit` steps) or "wildcards"
    (the article's words would have cost its `*mid*` wildcards more than `limit` lookups);
    work: the steps spent when it stopped, or the lookups the article would have cost."""

    rule_id: str
    article_id: int | None
    reason: str
    work: int
    limit: int

    @property
    def message(self) -> str:
        if self.reason == "wildcards":
            return (f"rule {self.rule_id!r} was not checked on article {self.article_id}: its "
                    f"*mid* wildcards would have looked into too many words ({self.work:,} "
                    f"lookups, the limit is {self.limit:,})")
        return (f"rule {self.rule_id!r} was not checked on article {self.article_id}: its "
                f"phrases and NEARs needed more than {self.limit:,} steps")


class MatchReport(NamedTuple):
    """What matching one article found: the matches, and the rules that ran out of budget
    (those did not match)."""

    matches: list[RuleMatch]
    exceeded: list[BudgetExceeded]


class Verified(NamedTuple):
    """What verifying one article found: the rules it matches (in rule order), without
    their hits, and the rules that ran out of budget (those did not match)."""

    rules: list[Rule]
    exceeded: list[BudgetExceeded]


class BatchMatches(NamedTuple):
    """Matches of a batch as rows for Store.save_matches (article, rule and rule version:
    no hits), the rules that ran out of budget on one of its articles, each article's
    archive index terms and the words of them all (archive_index.py)."""

    rows: list[NewMatch]
    exceeded: list[BudgetExceeded]
    terms: list[tuple[int, str]]
    words: set[str]


class Engine:
    """Matches articles against the enabled rules of a RuleSet.

    The first Engine of a RuleSet builds its index (the rule set's load pays for it, not
    the first article); the others share it (`index`). A stemmer profile's table of stems
    is made when an article of that profile first arrives. `budget` limits the work per
    article (see Budget); a rule that runs out does not match, and match_report names it.
    """

    def __init__(self, ruleset: RuleSet, analyzer: Analyzer = ANALYZER,
                 budget: Budget = DEFAULT_BUDGET):
        self.ruleset = ruleset
        self.analyzer = analyzer
        self.budget = budget
        self.index: CompiledRules = compiled_rules(ruleset, analyzer)

    def match(self, article: Article) -> list[RuleMatch]:
        """The rules the article matches, with their hits (a rule over budget does not)."""
        with CollectorPaused():
            return self.match_report(article).matches

    def match_report(self, article: Article) -> MatchReport:
        """The matches with their hits, and the rules that ran out of budget on the article."""
        return self.match_text(self.analyzer.analyse(article), article.id)

    def match_text(self, text: AnalyzedText, article_id: int | None = None) -> MatchReport:
        """match_report for an article analysed already."""
        with self._verifying(text) as (profile, view, numbers, exceeded):
            return MatchReport(results(profile, view, numbers),
                               self._exceeded(exceeded, article_id) if exceeded else [])

    def verify(self, text: AnalyzedText, article_id: int | None = None) -> Verified:
        """The rules an analysed article matches, without their hits: the pipeline's hot
        path. Only the matches that are shown need hits: `highlight` works them out."""
        with self._verifying(text) as (_, _, numbers, exceeded):
            rules = self.index.rules
            return Verified([rules[number] for number in numbers],
                            self._exceeded(exceeded, article_id) if exceeded else [])

    def highlight(self, article: Article, rule_ids: Iterable[str]) -> list[RuleMatch]:
        """The matches of these rules on the article, with their hits: what an alert puts in
        bold. A rule that does not match the article (changed since it did) or that the
        rule set does not have gives nothing."""
        numbers = self.index.numbers
        wanted = {numbers[rule_id] for rule_id in rule_ids if rule_id in numbers}
        if not wanted:
            return []
        with self._verifying(self.analyzer.analyse(article)) as (profile, view, found, _):
            return results(profile, view, [n for n in found if n in wanted])

    def debug(self) -> EngineDebug:
        """Diagnostics: what the presearch picked, the work of each rule's test, the result
        without the presearch."""
        return EngineDebug(self.index, self.analyzer, self.budget)

    @contextmanager
    def _verifying(self, text: AnalyzedText
                   ) -> Iterator[tuple[Profile, ArticleView, list[int], list[Exceeded]]]:
        """The article's view, the numbers of the rules it matches and those that ran out
        of budget; inside, the engine's word tables are this article's alone (hits are made
        from them)."""
        index = self.index
        profile = index.profile(text.profile)
        with index.in_use, CollectorPaused():
            view = ArticleView(text, profile, self.budget)
            exceeded: list[Exceeded] = []
            yield profile, view, matched(profile, view, exceeded), exceeded

    def _exceeded(self, found: list[Exceeded], article_id: int | None) -> list[BudgetExceeded]:
        rules = self.index.rules
        limits = {"verify": self.budget.verify, "wildcards": self.budget.wildcards}
        return [BudgetExceeded(rules[number].id, article_id, reason, work, limits[reason])
                for number, reason, work in sorted(found)]


def match_batch(engine: Engine, articles: list[Article]) -> BatchMatches:
    """Matches of a batch as rows for Store.save_matches, the rules that ran out of budget
    on its articles (to be logged and told to the rule's owner), and their index terms,
    from one analysis per article."""
    rows = []
    exceeded = []
    terms = []
    words: set[str] = set()
    for article in articles:
        text = engine.analyzer.analyse(article)
        verified = engine.verify(text, article.id)
        exceeded += verified.exceeded
        entry = article_terms(text, engine.analyzer)
        terms.append((article.stored_id, entry.terms))
        words |= entry.words
        rows += [NewMatch(article.stored_id, rule.id, rule.version) for rule in verified.rules]
    return BatchMatches(rows, exceeded, terms, words)
