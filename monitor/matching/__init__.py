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

import lazy_loader

# The names are those of __init__.pyi, imported when first used: `monitor rules check` does
# not import the archive tools, nor `search` the rule watcher.
__getattr__, __dir__, __all__ = lazy_loader.attach_stub(__name__, __file__)
