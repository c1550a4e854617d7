"""The rules as the bot sees them: what can be subscribed, whether a typed query is valid,
and the archive search behind /search. Backed by the store and the RuleWatcher's snapshot:
the catalog only reads `watcher.ruleset`, never reloads, since the owner (the pipeline)
reloads and reports rule errors to the admins."""

from __future__ import annotations

from monitor.deliver.bot import RuleInfo
from monitor.matching import QuerySyntaxError, RuleWatcher, make_rule
from monitor.matching.tools import search_archive
from monitor.models import Article
from monitor.store import Store


class RulesCatalog:
    def __init__(self, rules: RuleWatcher, store: Store):
        self.watcher = rules
        self.store = store

    def rules(self) -> list[RuleInfo]:
        ruleset = self.watcher.ruleset
        return [RuleInfo(r.id, r.name or r.id, r.description, r.delivery)
                for r in ruleset if r.enabled]

    def query_error(self, query: str) -> str | None:
        """None for a valid query, else the parser's message with the caret line."""
        ruleset = self.watcher.ruleset
        try:
            make_rule("query", query, ruleset.entities)
        except QuerySyntaxError as error:
            return str(error)
        return None

    def search(self, query: str, limit: int) -> list[Article]:
        ruleset = self.watcher.ruleset
        rule = make_rule("search", query, ruleset.entities)
        search = search_archive(self.store, rule, ruleset.entities, limit=limit)
        return [f.article for f in search.found]
