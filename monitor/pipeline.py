"""The one orchestrator: it alone knows the order of the stages.

    seeds/ files ─┐
    feeds (HTTP) ─┴─> ingest ──> stories ──> match ──> alerts + spikes + digests ──> deliver

Every stage is a function over plain data that does not call the others; this module
passes the data along and makes each result a row in SQLite before the next stage acts on
it, and each stage takes its input from SQLite: articles without a story, articles not
matched, matches not alerted, digests not recorded, outbox rows not sent. A crash at any
point leaves work that the next run simply picks up; running a stage twice does nothing
twice.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from monitor.alerts import follow_up_reasons
from monitor.config import Config
from monitor.deliver import Dispatcher, DispatchReport, follow_up_text
from monitor.digest import Digest, build_digest, due_period, render_telegram
from monitor.ingest import (
    Fetcher,
    SeedCache,
    SeedError,
    fill_full_text,
    full_text_status,
    next_silence_state,
    normalize_item,
    poll_feeds,
    seed_files,
    stored_keys,
)
from monitor.logs import RepeatedConditions
from monitor.matching import (
    FREEZE_FROM,
    INDEX_VERSION,
    BudgetExceeded,
    Engine,
    QuerySyntaxError,
    RuleError,
    RuleSet,
    RuleWatcher,
    article_terms,
    make_rule,
    match_batch,
    out_of_collectors_sight,
)
from monitor.models import (
    Article,
    ConsoleAlert,
    DigestMatch,
    Feed,
    FeedOutcome,
    PlannedAlert,
    PlannedFollowUp,
    RawItem,
    StoryAssignment,
    UnalertedMatch,
)
from monitor.spikes import BASELINE_DAYS, WINDOW, detect, render_spike, top_stories
from monitor.store import FeedConflict, Store, utc_now
from monitor.stories import (
    StoryIndex,
    fingerprint,
    fingerprint_from_bytes,
    fingerprint_to_bytes,
)

log = logging.getLogger(__name__)

BATCH = 500
INDEX_PER_CYCLE = 5_000       # about 3 s of work: an archive is indexed over a few cycles
STORY_WINDOW_DAYS = 3.0


@dataclass
class CycleReport:
    """What one pass did, for the console, `monitor stats` and the tests."""

    new_articles: int = 0          # stored this cycle (the articles themselves go to on_article)
    known_items: int = 0           # items that were in the archive already: not stored again
    seed_errors: list[SeedError] = field(default_factory=list)
    feed_errors: dict[str, str] = field(default_factory=dict)
    feeds_ok: list[str] = field(default_factory=list)     # polled this cycle without error
    config_errors: list[str] = field(default_factory=list)
    feeds_polled: int = 0
    grouped_articles: int = 0
    matched_articles: int = 0
    indexed_articles: int = 0      # archive articles given an index entry after the fact
    matches: int = 0
    alerts_queued: int = 0
    spikes_queued: int = 0         # spike alerts (one per rule, to all its spike subscribers)
    digests_queued: int = 0
    delivery: DispatchReport | None = None
    rule_errors: list[RuleError] = field(default_factory=list)
    over_budget: list[BudgetExceeded] = field(default_factory=list)   # did not match those
    console_alerts: list[ConsoleAlert] = field(default_factory=list)


def _jittered(feed: Feed, share: float, now: datetime) -> Feed:
    """Bring the next poll forward by up to `share` of the wait, so feeds do not poll in
    lockstep; never later, so an item waits at most one interval."""
    if feed.next_due is None or feed.next_due <= now:
        return feed
    wait = (feed.next_due - now).total_seconds()
    return replace(feed, next_due=feed.next_due - timedelta(
        seconds=round(wait * random.uniform(0, share))))


class Pipeline:
    """Runs the stages in order against one store; holds nothing that is not also in SQLite."""

    def __init__(self, config: Config, store: Store,
                 on_article: Callable[[Article], None] | None = None,
                 dispatcher: Dispatcher | None = None, *, console: bool = False,
                 clock: Callable[[], datetime] = utc_now):
        self.config = config
        self.store = store
        self.rules = RuleWatcher(config.rules_dir)   # this pipeline is its one owner
        self.on_article = on_article
        self.dispatcher = dispatcher
        self.console = console      # no Telegram token: matched articles are shown, not queued
        self.clock = clock          # the current time, passed in so that tests can run weeks
        self.rules.reload()         # errors, if any, reach the report of the first cycle
        if dispatcher is not None:  # alerts are rendered as they are sent, with these words
            dispatcher.matched_words = self.matched_words
        self.stopping = False      # set by the service on shutdown: stop between batches
        self._stories: StoryIndex | None = None
        self._engine: tuple[tuple[int, tuple], Engine] | None = None
        self._seed_cache: SeedCache = {}    # seed files are read again when changed (or daily)
        self.seed_problems = RepeatedConditions(log)

    def sync_configured_feeds(self, report: CycleReport | None = None) -> None:
        """Feeds from the config file join those added with `monitor feeds add`; a config
        feed whose name another stored feed holds is reported and left out, never fatal."""
        for feed in self.config.feeds:
            try:
                self.store.upsert_feed(Feed(
                    name=feed.name, url=feed.url, interval_s=feed.interval_s,
                    language=feed.language, full_text=feed.full_text,
                ))
            except FeedConflict as error:
                message = f"feed {feed.name!r} ({feed.url}) not synced: {error}"
                log.warning("%s", message)
                if report is not None:
                    report.config_errors.append(message)

    def reload_rules(self, report: CycleReport) -> None:
        """Re-read the rule files if they changed. The pipeline is the watcher's one owner, so
        the errors of a broken version come here, every cycle while it stays broken."""
        report.rule_errors.extend(self.rules.reload().errors)

    def ingest_seeds(self, report: CycleReport, now: datetime) -> None:
        """The seed files that are new or changed, one file and BATCH items at a time, so
        that memory does not grow with the seed folder."""
        for seed_file in seed_files(self.config.seeds_dir, self._seed_cache, now):
            report.seed_errors.extend(seed_file.errors)
            self.seed_problems.report(str(seed_file.path), [
                f"seed {error.path}: {error.reason}" for error in seed_file.errors])
            path, items = seed_file.path, seed_file.items
            for start in range(0, len(items), BATCH):
                if self.stopping:
                    return
                self._store_new([
                    normalize_item(item, source=item.source or path.name, feed_id=None,
                                   language_hint=item.language, fetched=now)
                    for item in items[start:start + BATCH]
                ], report, now)

    async def ingest_feeds(self, report: CycleReport, now: datetime) -> None:
        due = self.store.due_feeds(now)
        if not due:
            return
        async with Fetcher(self.config.fetch) as fetcher:
            outcomes = await poll_feeds(due, fetcher, now)
            report.feeds_polled += len(outcomes)
            for outcome in outcomes:
                await self._store_outcome(outcome, fetcher, report, now)

    async def _store_outcome(self, outcome: FeedOutcome, fetcher: Fetcher,
                             report: CycleReport, now: datetime) -> None:
        feed = outcome.feed
        if outcome.error:
            report.feed_errors[feed.name] = outcome.error
        else:
            report.feeds_ok.append(feed.name)
        items: list[tuple[RawItem, str | None]] = [(item, None) for item in outcome.items]
        if feed.full_text and outcome.items:
            keys = [stored_keys(item, feed.name) for item in outcome.items]
            known = await asyncio.to_thread(
                self.store.known_article_keys, [g for g, _ in keys if g], [u for _, u in keys if u])
            fresh = [item for item, (guid, url) in zip(outcome.items, keys, strict=True)
                     if guid not in known and url not in known]
            items = [(item, full_text_status(reason))
                     for item, reason in await fill_full_text(fresh, fetcher)]
        await asyncio.to_thread(self._store_feed_items, feed, items, report, now)

    def _store_feed_items(self, feed: Feed, items: list[tuple[RawItem, str | None]],
                          report: CycleReport, now: datetime) -> None:
        articles = [
            normalize_item(item, source=feed.name, feed_id=feed.id,
                           language_hint=feed.language, fetched=now,
                           full_text_status=status)
            for item, status in items
        ]
        added = self._store_new(articles, report, now)
        # New means new to the archive: items another source brought first do not count.
        state = next_silence_state(feed, added, now)
        # The feed's state is saved after its articles, so a crash in between re-fetches
        # (and deduplicates) rather than skipping what was not stored.
        self.store.save_feed_state(_jittered(state, self.config.service.jitter, now))

    def _store_new(self, articles: list[Article], report: CycleReport, now: datetime) -> int:
        """Store what is new of `articles`; how many were."""
        added = self.store.add_articles(articles, now)
        report.new_articles += len(added)
        report.known_items += len(articles) - len(added)
        if self.on_article:
            for article in added:
                self.on_article(article)
        return len(added)

    def group_stories(self, report: CycleReport) -> None:
        """Give every new article its story (near-duplicates share one)."""
        index = self._story_index()
        while not self.stopping and (batch := self.store.ungrouped_articles(limit=BATCH)):
            assignments = []
            for article in batch:
                fp = fingerprint(article.title, article.text)
                story_id = index.add(article.stored_id, fp, article.published, article.source)
                assignments.append(StoryAssignment(
                    article.stored_id, story_id, fingerprint_to_bytes(fp), article.published,
                    article.source))
            self.store.save_story_assignments(assignments)
            report.grouped_articles += len(batch)

    def _story_index(self) -> StoryIndex:
        if self._stories is None:
            self._stories = StoryIndex(window_days=STORY_WINDOW_DAYS)
            since = self.clock() - timedelta(days=STORY_WINDOW_DAYS)
            self._stories.load(
                (a, s, fingerprint_from_bytes(fp), published, source)
                for a, s, fp, published, source in self.store.story_fingerprints_since(since))
        return self._stories

    def engine(self) -> tuple[RuleSet, Engine]:
        """The rules from the files plus every chat's personal /watch rules, rebuilt on change."""
        ruleset = self.rules.ruleset
        watches = self.store.watches()
        key = (id(ruleset), tuple((w.id, w.query) for w in watches))
        if self._engine is None or self._engine[0] != key:
            personal = []
            for watch in watches:
                try:
                    personal.append(make_rule(watch.rule_id, watch.query, ruleset.entities,
                                              name=watch.query))
                except QuerySyntaxError as error:  # e.g. an entity removed since
                    log.warning("watch %s of chat %s no longer valid: %s", watch.id,
                                watch.chat_id, error)
            combined = RuleSet(rules=ruleset.rules + tuple(personal), entities=ruleset.entities,
                               files=ruleset.files)
            self._engine = (key, Engine(combined))
            if len(combined) >= FREEZE_FROM:
                # Millions of objects that live as long as the rules: see matching/collector.py.
                out_of_collectors_sight()
                log.info("rule index of %d rules moved out of the cycle collector's sight",
                         len(combined))
        return ruleset, self._engine[1]

    def matched_words(self, article: Article, rule_ids: Sequence[str]) -> dict[str, list[str]]:
        """Per rule, the article's words that its terms matched: the bold words of the
        alerts that the dispatcher renders as it sends them (matching keeps no hits)."""
        _, engine = self.engine()
        return {match.rule_id: match.words for match in engine.highlight(article, rule_ids)}

    def match_pending(self, report: CycleReport, now: datetime) -> None:
        """Match every stored article not matched yet, batch by batch. A rule that runs out of
        its work budget on an article does not match it and goes into the report (its owner
        is told); the article goes on to the other rules."""
        _, engine = self.engine()
        if self.store.reset_index(INDEX_VERSION):      # before new entries join it
            log.info("archive index dropped: built under other terms; index_archive rebuilds it")
        while not self.stopping and (batch := self.store.unmatched_articles(limit=BATCH)):
            matched = match_batch(engine, batch)
            self.store.save_matches([a.stored_id for a in batch], matched.rows, now, matched.terms,
                                    matched.words, self._alert_rules())
            report.matched_articles += len(batch)
            report.matches += len(matched.rows)
            report.over_budget.extend(matched.exceeded)

    def _alert_rules(self) -> set[str] | None:
        """The rules whose matches plan_alerts has to look at: those some chat follows
        instantly and the /watch rules; all of them when the console shows every match."""
        if self.console:
            return None
        return self.store.instant_rules() | {watch.rule_id for watch in self.store.watches()}

    def index_archive(self, report: CycleReport) -> None:
        """Give archived articles that lack one an index entry (an archive from before the
        index, or one whose terms changed with the analyser), newest first and at most
        INDEX_PER_CYCLE per cycle, so that building the index of a large archive never
        holds up new articles. Until it is done, searches scan what is not indexed yet."""
        left = INDEX_PER_CYCLE
        analyzer = self.engine()[1].analyzer
        while (left > 0 and not self.stopping
               and (batch := self.store.unindexed_articles(limit=min(BATCH, left)))):
            entries = [(a.stored_id, article_terms(analyzer.analyse(a), analyzer))
                       for a in batch]
            self.store.index_articles([(article_id, entry.terms) for article_id, entry in entries],
                                      set().union(*(entry.words for _, entry in entries)))
            report.indexed_articles += len(batch)
            left -= len(batch)

    def plan_alerts(self, report: CycleReport, now: datetime) -> None:
        """Turn new matches into outbox rows: one alert per (chat, rule, story), for the chats
        that follow the rule and were not alerted to its story before. The rows are
        references; the dispatcher renders each alert before its first send. Without a
        Telegram token the matched articles are also shown on the console, one line each."""
        ruleset, _ = self.engine()
        watch_chats = {w.rule_id: (w.chat_id, w.query) for w in self.store.watches()}
        while not self.stopping and (batch := self.store.unalerted_matches(limit=BATCH)):
            subscribers = self.store.instant_subscribers({m.rule_id for m in batch}, now)
            wanted: list[tuple[UnalertedMatch, list[int], str]] = []  # (match, chats, rule name)
            shown: dict[int, list[str]] = {}
            for match in batch:
                rule_id = match.rule_id
                if rule_id in watch_chats:
                    chat, query = watch_chats[rule_id]
                    wanted.append((match, [chat], f"🔎 {query}"))
                elif (rule := ruleset.get(rule_id)) is not None:
                    if subscribers.get(rule_id):
                        wanted.append((match, subscribers[rule_id], rule.name or rule.id))
                    if self.console:
                        shown.setdefault(match.article_id, []).append(rule_id)
                # else: the rule is gone since it matched
            messages = [PlannedAlert(chat, match.rule_id, match.story_id, match.article_id, name)
                        for match, chats, name in wanted for chat in chats]
            report.alerts_queued += self.store.plan_alerts(
                [(m.article_id, m.rule_id) for m in batch], messages, now,
                self._follow_ups(messages))
            if shown:
                articles = self.store.articles_by_id(shown)
                report.console_alerts.extend(
                    ConsoleAlert(article_id, articles[article_id].title,
                                 articles[article_id].source, articles[article_id].url,
                                 tuple(rule_ids))
                    for article_id, rule_ids in shown.items())

    def _follow_ups(self, messages: list[PlannedAlert]) -> list[PlannedFollowUp]:
        """The answers that ping a chat again about a story it was alerted to: the story
        reached the chat's /follow threshold, or brought a new headline (monitor/alerts.py).
        Only an article that joined an earlier story can bring one."""
        joined = [m for m in messages if m.story_id is not None and m.story_id != m.article_id]
        if not joined:
            return []
        alerted = self.store.alerted_stories(
            (m.chat_id, m.rule_id, m.story_id) for m in joined if m.story_id is not None)
        if not alerted:
            return []
        articles = self.store.articles_by_id({m.article_id for m in joined if m.article_id})
        languages = self.store.chat_languages()
        follow_ups = []
        for m in joined:
            story = alerted.get((m.chat_id, m.rule_id, m.story_id or 0))
            article = articles.get(m.article_id or 0)
            if story is None or article is None:
                continue
            for reason in follow_up_reasons(story, article.title,
                                            self.config.service.new_headline_below):
                follow_ups.append(PlannedFollowUp(
                    m.chat_id, m.rule_id, m.story_id or 0, article.stored_id, reason,
                    follow_up_text(reason, m.rule_name, article, len(story.sources),
                                   languages.get(m.chat_id, "de"))))
        return follow_ups

    def plan_spikes(self, report: CycleReport, now: datetime) -> None:
        """Queue a spike alert for each rule whose matches of the last hour are far above the
        usual (spikes.py), to the chats that asked for them with /spike. Only the rules with
        such a chat are looked at; the spike is recorded with its messages in one
        transaction, which also holds the cool-down, so a restart neither loses nor repeats
        one."""
        ruleset, _ = self.engine()
        languages: dict[int, str] | None = None
        for rule_id, chats in self.store.spike_subscribers(now).items():
            if self.stopping:
                return
            rule = ruleset.get(rule_id)
            if rule is None or not rule.enabled:
                continue
            # Every cycle, most rules have fewer matches in the hour than a spike needs (an
            # article published in the hour is matched in it): the 14 days are read only
            # for those that might spike.
            if self.store.matched_since(rule_id, now - WINDOW) < rule.spike.min:
                continue
            times, history_start = self.store.rule_activity(
                rule_id, now - timedelta(days=BASELINE_DAYS) - WINDOW)
            spike = detect(times, now, rule.spike, history_start,
                           self.store.last_spike(rule_id))
            if spike is None:
                continue
            stories = top_stories(self.store.window_articles(rule_id, spike.start, spike.end))
            languages = languages or self.store.chat_languages()
            messages = [(chat, render_spike(rule.name or rule.id, spike, stories,
                                            languages.get(chat, "de"))) for chat in chats]
            if self.store.record_spike(rule_id, spike.end, spike.count, spike.usual,
                                       rule.spike.cooldown_s, messages, now):
                report.spikes_queued += 1
                log.info("spike rule=%s count=%d usual=%.1f chats=%d", rule_id, spike.count,
                         spike.usual, len(chats))

    def plan_digests(self, report: CycleReport, now: datetime) -> None:
        """Queue every digest that is due; a period already recorded is never sent again."""
        for chat in self.store.digest_chats():
            at = chat.digest_time or self.config.digest.time
            timezone = chat.digest_tz or self.config.digest.timezone
            period = due_period(now, at, timezone, chat.last_end, chat.since)
            if period is not None:
                digest = self.build_digest(chat.chat_id, *period, timezone, chat.language)
                if self.store.record_digest(chat.chat_id, *period, render_telegram(digest), now):
                    report.digests_queued += 1

    def build_digest(self, chat_id: int, start: datetime, end: datetime, timezone: str,
                     language: str | None = None) -> Digest:
        ruleset, _ = self.engine()
        rule_ids = self.store.digest_rules(chat_id)
        names = {rule_id: (rule.name or rule.id) if (rule := ruleset.get(rule_id)) else rule_id
                 for rule_id in rule_ids}
        rows = self.store.matches_between(rule_ids, start, end)

        def matched_words(row: DigestMatch) -> list[str]:
            article = self.store.articles_by_id([row.article_id]).get(row.article_id)
            return [] if article is None else self.matched_words(article, [row.rule_id]).get(
                row.rule_id, [])

        return build_digest(chat_id, start, end, timezone, names, rows,
                            "en" if language == "en" else "de", matched_words)

    async def deliver(self, report: CycleReport) -> None:
        """Send what is due; when Telegram cannot be reached the pass stops early, says why
        (`report.delivery.unavailable`) and the rows stay queued for the next run."""
        if self.dispatcher is not None:
            report.delivery = await self.dispatcher.dispatch_due()

    async def run_once(self, now: datetime | None = None) -> CycleReport:
        """One full cycle: configured feeds synced, seeds and due feeds ingested, rules
        reloaded, stories, matching, alerts and digests planned, the archive index, delivery
        (the README's order)."""
        report = CycleReport()
        now = now or self.clock()
        await asyncio.to_thread(self.sync_configured_feeds, report)
        await asyncio.to_thread(self.ingest_seeds, report, now)
        await self.ingest_feeds(report, now)
        await self.process(report, now)
        await self.deliver(report)
        return report

    async def process(self, report: CycleReport, now: datetime) -> None:
        """The stages after ingest, off the event loop so the bot stays responsive."""
        await asyncio.to_thread(self.reload_rules, report)
        await asyncio.to_thread(self.group_stories, report)
        await asyncio.to_thread(self.match_pending, report, now)
        await asyncio.to_thread(self.plan_alerts, report, now)
        await asyncio.to_thread(self.plan_spikes, report, now)
        await asyncio.to_thread(self.plan_digests, report, now)
        await asyncio.to_thread(self.index_archive, report)
