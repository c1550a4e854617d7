"""The rules as the bot sees them: what can be subscribed, whether a typed query is valid,
and the archive search behind /search. Backed by the store and the RuleWatcher's snapshot:
the catalog only reads `watcher.ruleset`, never reloads, since the owner (the pipeline)
reloads and reports rule errors to the admins."""

from __future__ import annotations

from datetime import timedelta

from monitor.deliver.bot import ChatSearch, RuleInfo
from monitor.matching import (
    Candidates,
    QueryHint,
    QuerySyntaxError,
    RuleWatcher,
    archive_candidates,
    compound_hints,
    make_rule,
    operator_hints,
    search_archive,
)
from monitor.store import Store, utc_now

# A /search that has to read articles one by one (nothing to look up in the index, or no
# index yet) reads at most these: about a second of the engine's time, in a worker thread.
SCAN_DAYS = 7
SCAN_ARTICLES = 2_000


class RulesCatalog:
    def __init__(self, rules: RuleWatcher, store: Store):
        self.watcher = rules
        self.store = store

    def rules(self) -> list[RuleInfo]:
        ruleset = self.watcher.ruleset
        return [RuleInfo(r.id, r.name or r.id, r.description, r.delivery)
                for r in ruleset if r.enabled]

    def query_error(self, query: str) -> QuerySyntaxError | None:
        """None for a valid query, else the parser's error (message, column, caret)."""
        ruleset = self.watcher.ruleset
        try:
            make_rule("query", query, ruleset.entities)
        except QuerySyntaxError as error:
            return error
        return None

    def query_hints(self, query: str) -> list[QueryHint]:
        """What a valid query probably does not mean: lower-case operators, and plain words
        the archive mostly has inside longer words (matching.hints)."""
        rule = make_rule("query", query, self.watcher.ruleset.entities)
        return [*operator_hints(query), *compound_hints(self.store, rule)]

    def search(self, query: str, limit: int) -> ChatSearch:
        """The newest `limit` articles the query matches. A query with no term to look up in
        the index (only NOT), or any query while the index is not built yet, would
        have every article read: from a chat, where anyone allowed may type one, it reads
        the newest SCAN_ARTICLES of the last SCAN_DAYS."""
        ruleset = self.watcher.ruleset
        rule = make_rule("search", query, ruleset.entities)
        candidates = archive_candidates(self.store, rule)
        if not candidates.scanned:
            search = search_archive(self.store, rule, ruleset.entities, limit=limit,
                                    candidates=candidates)
            return ChatSearch([f.article for f in search.found])
        recent = archive_candidates(self.store, rule, utc_now() - timedelta(days=SCAN_DAYS))
        search = search_archive(self.store, rule, ruleset.entities, limit=limit,
                                candidates=Candidates(recent.ids[:SCAN_ARTICLES], True, recent.why))
        return ChatSearch([f.article for f in search.found], SCAN_DAYS, candidates.why)
