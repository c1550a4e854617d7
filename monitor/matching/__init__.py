"""Rules and matching: rule files, the query language, text analysis and the rule engine.

Public API (used by the pipeline, the CLI and the Telegram bot):

- load_rules(folder) -> RuleSet, raising RuleErrors (a list of RuleError: file, line, column,
  message); RuleWatcher(folder) for hot reload: its one owner (the pipeline) calls .reload() ->
  RuleReload(ruleset, errors, changed) and reports the errors, everyone else reads the
  .ruleset snapshot;
- parse_query(text, entities) -> Query, raising QuerySyntaxError (.column, caret message);
  make_rule(rule_id, query_text, entities) for rules made from a query (`/watch`, search),
  with load_entities(folder) for the entities even when some rule file is broken;
- Engine(ruleset).match(article) -> [RuleMatch(rule_id, rule_version, hits)]; the hot path
  without hits, Engine.verify(analysed text) -> Verified(rules, exceeded), and the hits of
  chosen matches afterwards, Engine.highlight(article, rule_ids) -> [RuleMatch].
- Bounded work: Engine(ruleset, budget=Budget(verify, wildcards)) limits what one article may
  cost; a rule that runs out does not match it. Engine.match_report(article) ->
  MatchReport(matches, exceeded) and match_batch(engine, articles) -> BatchMatches(rows,
  exceeded) name those rules: BudgetExceeded(rule_id, article_id, reason, work, limit), with
  a .message to log or to tell the rule's owner.
"""

from monitor.errors import MatchingError
from monitor.matching.analysis import ANALYZER, Analyzer, Document
from monitor.matching.engine import (
    BatchMatches,
    Budget,
    BudgetExceeded,
    Engine,
    Hit,
    MatchReport,
    RuleMatch,
    Verified,
    is_negative_only,
    match_batch,
)
from monitor.matching.query import Query, QuerySyntaxError, parse_query
from monitor.matching.rules import (
    Entity,
    Example,
    Rule,
    RuleError,
    RuleErrors,
    RuleReload,
    RuleSet,
    RuleWatcher,
    load_entities,
    load_rule_files,
    load_rules,
    make_rule,
)

__all__ = [
    "ANALYZER", "Analyzer", "BatchMatches", "Budget", "BudgetExceeded", "Document", "Engine",
    "Entity", "Example", "Hit", "MatchReport", "MatchingError", "Query",
    "QuerySyntaxError", "Rule", "RuleError", "RuleErrors", "RuleMatch", "RuleReload", "RuleSet",
    "RuleWatcher", "Verified", "is_negative_only", "load_entities", "load_rule_files", "load_rules",
    "make_rule",
    "match_batch", "parse_query",
]
