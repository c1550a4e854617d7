"""What the engine did on one article, for tests, benchmarks and debugging (Lucene Monitor's
`Monitor.debug`): the rules the presearch picked and decided, the steps each rule's phrases
and NEARs take, and the baseline of testing every rule without the presearch. Nothing here is
on the pipeline's path."""

from __future__ import annotations

from itertools import chain, compress
from typing import NamedTuple

from monitor.matching.analysis import AnalyzedText, Analyzer
from monitor.matching.highlight import RuleMatch, results
from monitor.matching.index import NUMBERS, SECOND_CLAUSES, CompiledRules
from monitor.matching.rules import Rule
from monitor.matching.verify import ArticleView, Budget, passes, rule_test
from monitor.models import Article


class Presearched(NamedTuple):
    """What the presearch made of an article: the candidates (indexed under a term it has,
    or checked for every article), those that passed the second-clause check, and those of
    them that the clauses decide (matched without running their test)."""

    candidates: list[Rule]
    passed: list[Rule]
    decided: list[Rule]


class EngineDebug:
    """Diagnostics over an engine's index; each call analyses and views the article anew."""

    def __init__(self, index: CompiledRules, analyzer: Analyzer, budget: Budget):
        self.index, self.analyzer, self.budget = index, analyzer, budget

    def _view(self, text: AnalyzedText) -> ArticleView:
        return ArticleView(text, self.index.profile(text.profile), self.budget)

    def presearch(self, text: AnalyzedText) -> Presearched:
        profile = self.index.profile(text.profile)
        view = self._view(text)
        postings = view.postings
        picked = set(profile.always).union(chain.from_iterable(map(NUMBERS, postings)))
        passed = set(profile.always).union(compress(
            chain.from_iterable(map(NUMBERS, postings)),
            map(view.ids.__contains__, chain.from_iterable(map(SECOND_CLAUSES, postings)))))
        rules = self.index.rules
        return Presearched([rules[n] for n in sorted(picked)], [rules[n] for n in sorted(passed)],
                           [rules[n] for n in sorted(passed) if profile.decided[n]])

    def candidates(self, text: AnalyzedText) -> list[Rule]:
        """The rules the presearch picks for the second-clause check, and those checked for
        every article."""
        return self.presearch(text).candidates

    def without_presearch(self, article: Article) -> list[RuleMatch]:
        """Every rule tested, no index: the baseline the benchmark and the tests compare
        with (a rule with *mid* wildcards on an article over the wildcard budget does not
        match, as in the engine)."""
        text = self.analyzer.analyse(article)
        profile = self.index.profile(text.profile)
        view = self._view(text)
        skipped = set(self.index.infix_rules) if view.wildcard_work else set()
        matched = [n for n in range(len(self.index.rules))
                   if n not in skipped and passes(rule_test(self.index, n), view)]
        return results(profile, view, matched)

    def verification_work(self, article: Article) -> dict[str, int]:
        """Steps each rule's phrases and NEARs take on an article, without the presearch
        (what the verification budget is measured against). A rule over budget shows the
        steps it had spent when it was stopped, more than the budget; rules without phrases
        or NEARs take none."""
        view = self._view(self.analyzer.analyse(article))
        work = {}
        for number, rule in enumerate(self.index.rules):
            view.budget = view.limit
            passes(rule_test(self.index, number), view)
            work[rule.id] = view.limit - view.budget
        return work

    def wildcard_work(self, article: Article) -> int:
        """The most lookups the rules' *mid* wildcards can cost on the article (what the
        wildcard budget is compared with)."""
        return self.index.infix_work(self.analyzer.analyse(article))
