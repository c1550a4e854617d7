"""`monitor run`: the scheduler, the bot and graceful shutdown in one asyncio loop.

APScheduler's AsyncIOScheduler only decides *when*; what is due lives in SQLite (each
feed's next poll, pending outbox rows, each chat's last digest), so a restart picks up
exactly where the last run stopped and a job missed while down runs once, not once per
missed interval. Jobs:

    ingest      every poll_every_s: config reload, seeds, due feeds, stories, matching,
                alerts, digests (rule files are reloaded when they change); it never waits
                for delivery, so a rate-limited backlog cannot delay a poll
    dispatch    every dispatch_every_s: send due outbox rows to Telegram (no job without a
                token: the console shows each cycle's matched articles instead)
    operations  every minute: tell admins about feeds failing for a day, silent feeds,
                rule-file errors and a growing outbox backlog
    retention   every six hours: delete what is older than the configured days

Blocking work (parsing, matching, SQLite) runs in worker threads, so the bot keeps
answering. The bot itself is started in the background and retried with backoff while
Telegram cannot be reached; ingest goes on meanwhile. The caller holds the database's
instance lock (store.instance_lock) for as long as the service runs. SIGTERM/SIGINT: no new
jobs start, running ones get a few seconds to finish (every stage commits in small batches
and is resumable, so abandoning one loses nothing), the database is closed cleanly, and the
process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import html
import logging
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TextIO
from zoneinfo import ZoneInfo

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from telegram.error import InvalidToken, NetworkError

from monitor.config import Config, ConfigError, load_config
from monitor.deliver import (
    TEXTS,
    Dispatcher,
    MonitorBot,
    RulesCatalog,
    console_alert_line,
    local_time,
    telegram_sender,
)
from monitor.ingest import feed_health, usual_gap_text
from monitor.logs import RepeatedConditions
from monitor.matching import BudgetExceeded
from monitor.models import Feed, FeedHealth, Retention
from monitor.pipeline import CycleReport, Pipeline
from monitor.store import Store, utc_now

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 3.0
FEED_FAILING_NOTICE = timedelta(days=1)
BOT_RETRY_FIRST_S = 5.0
BOT_RETRY_MAX_S = 300.0


class Service:
    def __init__(self, config: Config, store: Store, out: TextIO = sys.stdout,
                 clock: Callable[[], datetime] = utc_now):
        self.config = config
        self.store = store
        self.out = out
        self.clock = clock
        self.pipeline = Pipeline(config, store, console=not self.token(), clock=clock)
        self.dispatcher: Dispatcher | None = None
        self.stopping = asyncio.Event()
        self._inflight: set[asyncio.Task] = set()
        # A feed that keeps failing is logged when it starts and when it recovers, not at
        # every poll (the admins hear of it after a day: _operations).
        self.feed_problems = RepeatedConditions(log)
        self._bot: MonitorBot | None = None
        self._config_stamp = _stamp(config.path)

    def token(self) -> str:
        return os.environ.get(self.config.telegram.token_env, "").strip()

    async def run(self) -> None:
        """Until SIGTERM/SIGINT. TokenRejected (from telegram_sender) ends it at once."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        token = self.token()
        async with contextlib.AsyncExitStack() as stack:
            bot_task = None
            if token:
                sender = await stack.enter_async_context(
                    telegram_sender(self.config.telegram, token))
                self.dispatcher = Dispatcher(self.store, sender, clock=self.clock,
                                            timezone=self.config.digest.timezone,
                                            matched_words=self.pipeline.matched_words)
                bot_task = asyncio.create_task(self._serve_bot(token))
            scheduler = self._scheduler()
            scheduler.start()
            log.info("service started rules=%s configured_feeds=%d telegram=%s",
                     self.config.rules_dir, len(self.config.feeds),
                     "bot" if token else "console")
            await self.stopping.wait()
            log.info("service stopping")
            # APScheduler's shutdown cancels the jobs still running: let them finish first
            # (a send accepted by Telegram is then marked, not sent again after the restart).
            scheduler.pause()
            await self._finish_inflight()
            scheduler.shutdown(wait=False)
            if bot_task is not None:
                await asyncio.wait([bot_task], timeout=SHUTDOWN_GRACE_S + 5)
        log.info("service stopped")

    def stop(self) -> None:
        self.pipeline.stopping = True
        if self.dispatcher is not None:
            self.dispatcher.stopping = True
        self.stopping.set()

    async def _serve_bot(self, token: str) -> None:
        """Serve chat commands until shutdown. While Telegram cannot be reached the bot is
        retried with backoff (5 s doubling to 5 min); ingest and matching go on meanwhile."""
        delay = BOT_RETRY_FIRST_S
        while not self.stopping.is_set():
            bot = MonitorBot(
                self.config.telegram, self.store, RulesCatalog(self.pipeline.rules, self.store),
                default_digest=(self.config.digest.time, self.config.digest.timezone),
                stats_text=self.stats_text, reload_rules=self.reload_rules,
            )
            try:
                async with bot.running(bot.build(token)):
                    self._bot = bot
                    log.info("bot serving commands")
                    await self.stopping.wait()
                    return
            except InvalidToken:
                log.error("Telegram rejected the bot token in $%s; chat commands are off",
                          self.config.telegram.token_env)
                return
            except NetworkError as error:
                log.warning("bot cannot reach Telegram (%s); next try in %.0fs",
                            error.message, delay)
            finally:
                self._bot = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stopping.wait(), delay)
            delay = min(delay * 2, BOT_RETRY_MAX_S)

    def _scheduler(self) -> AsyncIOScheduler:
        service = self.config.service
        scheduler = AsyncIOScheduler(timezone=UTC, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 60})
        now = utc_now()
        jobs: list[tuple[str, Callable[[], Awaitable[object]], int]] = [
            ("ingest", self.ingest, service.poll_every_s),
            ("operations", self.operations, 60),
            ("retention", self.retention, 6 * 3600),
        ]
        if self.dispatcher is not None:
            jobs.append(("dispatch", self.dispatch, service.dispatch_every_s))
        for name, job, seconds in jobs:
            scheduler.add_job(self._tracked(job), "interval", seconds=seconds, id=name,
                              name=name, next_run_time=now)
        return scheduler

    def _tracked(self, job: Callable[[], Awaitable[object]]) -> Callable[[], Awaitable[None]]:
        """Jobs register themselves so shutdown can wait for them; errors are logged, never
        fatal: the next run of the job tries again."""

        async def run() -> None:
            if self.stopping.is_set():
                return
            task = asyncio.current_task()
            assert task is not None             # run() is a task of the scheduler's loop
            self._inflight.add(task)
            try:
                await job()
            except asyncio.CancelledError:
                log.info("job abandoned at shutdown job=%s", job.__name__)
            except Exception:
                log.exception("job failed job=%s", job.__name__)
            finally:
                self._inflight.discard(task)

        run.__name__ = job.__name__
        return run

    async def _finish_inflight(self) -> None:
        if not self._inflight:
            return
        done, pending = await asyncio.wait(self._inflight, timeout=SHUTDOWN_GRACE_S)
        for task in pending:
            task.cancel()
        if pending:
            log.info("abandoned jobs=%d (resumed on the next start)", len(pending))
            await asyncio.wait(pending, timeout=1.0)

    # ------------------------------------------------------------------ jobs

    def reload_config(self) -> None:
        """Pick up an edited config file: feeds, limits, access lists, digest defaults.
        (The database path, the folders and the job intervals need a restart.) A broken file
        is reported and the running config stays."""
        stamp = _stamp(self.config.path)
        if stamp == self._config_stamp or self.config.path is None:
            return
        self._config_stamp = stamp
        try:
            config = load_config(self.config.path)
        except ConfigError as error:
            log.error("config not reloaded error=%r", str(error))
            self._tell_admins(f"config:{stamp}", "notice_config", error=str(error))
            return
        self.config = self.pipeline.config = config
        if self._bot is not None:
            self._bot.settings = config.telegram
        log.info("config reloaded path=%s feeds=%d", config.path, len(config.feeds))

    async def ingest(self) -> CycleReport:
        """One cycle of the pipeline. It queues; the dispatch job sends (never awaited here)."""
        await asyncio.to_thread(self.reload_config)
        report = await self.pipeline.run_once()
        log.info("cycle new_articles=%d feeds=%d matched=%d matches=%d alerts=%d spikes=%d "
                 "digests=%d", report.new_articles, report.feeds_polled, report.matched_articles,
                 report.matches, report.alerts_queued, report.spikes_queued,
                 report.digests_queued)
        for name, error in report.feed_errors.items():
            self.feed_problems.report(name, [f"feed failed feed={name} error={error!r}"])
        for name in report.feeds_ok:
            self.feed_problems.report(name, [])
        if report.rule_errors:
            await asyncio.to_thread(self._rule_errors_notice,
                                    [str(e) for e in report.rule_errors])
        if report.over_budget:
            await asyncio.to_thread(self._over_budget_notices, report.over_budget)
        for alert in report.console_alerts:
            self.out.write(console_alert_line(alert) + "\n")
        if report.console_alerts:
            self.out.flush()
        return report

    async def dispatch(self) -> None:
        if self.dispatcher is None:
            return
        report = await self.dispatcher.dispatch_due()
        if report.sent or report.retried or report.failed or report.dropped_chats:
            log.info("dispatch sent=%d retried=%d failed=%d dropped_chats=%d", report.sent,
                     report.retried, report.failed, report.dropped_chats)

    async def operations(self) -> None:
        await asyncio.to_thread(self._operations)

    def _operations(self) -> None:
        now = self.clock()
        state = self.store.operations()
        for feed in state.failing_feeds:
            if feed.not_a_feed:         # no feed at all is told as a silence (below), not twice
                continue
            if feed.failing_since and now - feed.failing_since >= FEED_FAILING_NOTICE:
                key = f"feed-failing:{feed.name}:{feed.failing_since.isoformat()}"
                if self._tell_admins(key, "notice_feed_failing", now, name=feed.name,
                                     since=feed.failing_since, error=feed.last_error or ""):
                    log.warning("feed failing for a day feed=%s since=%s", feed.name,
                                feed.failing_since.isoformat())
        for feed in self.store.feeds():
            if feed.silent_since is not None:
                self._silent_notice(feed, now)
            if feed.silence_ended is not None:
                self._recovered_notice(feed, feed.silence_ended, now)
        threshold = self.config.service.backlog_alert
        if state.pending >= threshold:
            key = f"backlog:{now:%Y-%m-%dT%H}:{state.pending // threshold}"
            if self._tell_admins(key, "notice_backlog", now, pending=f"{state.pending:,}",
                                 oldest=state.oldest_pending or now):
                log.warning("outbox backlog pending=%d", state.pending)

    def _silent_notice(self, feed: Feed, now: datetime) -> None:
        """Once per silence (the key holds its start, which stays until new articles end it):
        a feed that answers with nothing new for far longer than usual, or with no feed."""
        assert feed.silent_since is not None
        key = f"feed-silent:{feed.name}:{feed.silent_since.isoformat()}"
        if feed.not_a_feed:
            told = self._tell_admins(key, "notice_feed_not_a_feed", now, name=feed.name,
                                     since=feed.silent_since, error=feed.last_error or "")
        else:
            told = self._tell_admins(key, "notice_feed_silent", now, name=feed.name,
                                     since=feed.silent_since, usual=usual_gap_text(feed) or "?")
        if told:
            log.warning("feed silent feed=%s since=%s not_a_feed=%s", feed.name,
                        feed.silent_since.isoformat(), feed.not_a_feed)

    def _recovered_notice(self, feed: Feed, since: datetime, now: datetime) -> None:
        """Once per silence that ended (keyed by its start, as its notice was), and only
        when that silence was told: one that began and ended while no service ran is news
        to nobody."""
        if not self.store.noticed(f"feed-silent:{feed.name}:{since.isoformat()}:"):
            return
        if self._tell_admins(f"feed-recovered:{feed.name}:{since.isoformat()}",
                             "notice_feed_recovered", now, name=feed.name, since=since):
            log.info("feed no longer silent feed=%s silent_since=%s", feed.name,
                     since.isoformat())

    def _rule_errors_notice(self, errors: list[str]) -> None:
        """Tell the admins once per broken version of the rule folder (the key is the errors'
        text), however often the cycle sees it and whoever reloaded first."""
        key = "rules:" + hashlib.sha256("\n".join(errors).encode()).hexdigest()[:16]
        if self._tell_admins(key, "notice_rule_errors", self.clock(),
                             errors="\n".join(errors)[:3500]):
            for error in errors:
                log.error("rule file error %s", error)

    def _over_budget_notices(self, exceeded: list[BudgetExceeded]) -> None:
        """A rule that ran out of its work budget did not match those articles (the others
        went on). It is logged every cycle, and its owner hears once per version of the rule:
        the chat for a /watch, the admins for a rule from the files."""
        now = self.clock()
        ruleset, _ = self.pipeline.engine()
        watches = {w.rule_id: w for w in self.store.watches()}
        languages = self.store.chat_languages()
        by_rule: dict[str, list[BudgetExceeded]] = {}
        for case in exceeded:
            by_rule.setdefault(case.rule_id, []).append(case)
        for rule_id, cases in by_rule.items():
            log.warning("rule over budget rule=%s articles=%d %s", rule_id, len(cases),
                        cases[0].message)
            if (watch := watches.get(rule_id)) is not None:
                texts = TEXTS.get(languages.get(watch.chat_id, "de"), TEXTS["de"])
                text = texts["watch_over_budget"].format(query=_escape(watch.query),
                                                         count=len(cases))
                self.store.notice_once(f"budget:{rule_id}", [watch.chat_id], text, now)
            elif (rule := ruleset.get(rule_id)) is not None:
                self._tell_admins(f"budget:{rule_id}:{rule.version}", "notice_rule_budget", now,
                                  rule=rule_id, where=f"{rule.file or ''}:{rule.line}",
                                  count=len(cases), message=cases[0].message)

    async def retention(self) -> Retention:
        now = self.clock()
        keep = self.config.retention
        deleted = await asyncio.to_thread(
            self.store.apply_retention, now - timedelta(days=keep.articles_days),
            now - timedelta(days=keep.outbox_days), now - timedelta(days=keep.keys_days), now)
        if deleted != Retention(0, 0, 0, 0, 0):
            log.info("retention articles=%d stories=%d outbox=%d keys=%d alert_keys=%d",
                     deleted.articles, deleted.stories, deleted.outbox, deleted.keys,
                     deleted.alert_keys)
        return deleted

    # ------------------------------------------------------------ for the bot

    def stats_text(self, language: str = "de", zone: str | None = None) -> str:
        """The monitor's state for an admin's /stats, in the admin's language and zone."""
        texts = TEXTS.get(language, TEXTS["de"])
        tz = ZoneInfo(zone or self.config.digest.timezone)
        counts = self.store.stats()
        state = self.store.operations()
        activity = self.store.activity(self.clock())
        feeds = self.store.feeds()
        failing = [f for f in feeds if feed_health(f) == FeedHealth.FAILING]
        silent = [f for f in feeds if feed_health(f) == FeedHealth.SILENT]
        text = texts["stats"].format(
            articles=f"{counts.articles:,}", matches=f"{counts.matches:,}",
            pending=f"{state.pending:,}",
            last_digest=(local_time(activity.last_digest, tz, named=True)
                         if activity.last_digest else "-"),
            today=", ".join(f"{rule_id} {n}" for rule_id, n in activity.matches_today)
            or texts["stats_none"], ok=len(feeds) - len(failing) - len(silent),
            failing=len(failing), silent=len(silent))
        return "\n".join([text, *(texts["stats_failing"].format(
            name=f.name, since=local_time(f.failing_since, tz, named=True), error=f.last_error)
            for f in failing if f.failing_since), *(texts["stats_silent"].format(
                name=f.name, since=local_time(f.silent_since, tz, named=True),
                why=f.last_error if f.not_a_feed else texts["stats_nothing_new"])
                for f in silent if f.silent_since)])

    def reload_rules(self, language: str = "de") -> str:
        """The admin's /reload: the pipeline's watcher re-reads now; errors reach every admin
        through the same once-per-version notice as in the cycle."""
        texts = TEXTS.get(language, TEXTS["de"])
        reloaded = self.pipeline.rules.reload()
        if reloaded.errors:
            self._rule_errors_notice([str(e) for e in reloaded.errors])
            return texts["reloaded_errors"].format(rules=len(reloaded.ruleset),
                                                   errors=len(reloaded.errors))
        return texts["reloaded_summary"].format(rules=len(reloaded.ruleset))

    def _tell_admins(self, key: str, text_key: str, now: datetime | None = None,
                     **values: object) -> bool:
        """A notice to the admins, once per key, each in their chat's language and with
        times in their chat's zone (the admins are grouped by both); True when it was
        queued now. Values are escaped for Telegram's HTML; datetimes become local times."""
        groups: dict[tuple[str, str], list[int]] = {}
        for admin in self.config.telegram.admins:
            subscriber = self.store.subscriber(admin)
            language = (subscriber.language if subscriber else None) or "de"
            zone = (subscriber.digest_tz if subscriber else None) or self.config.digest.timezone
            groups.setdefault((language if language in TEXTS else "de", zone), []).append(admin)
        queued = False
        for (language, zone), chats in groups.items():
            shown = {name: local_time(value, zone, named=True) if isinstance(value, datetime)
                     else _escape(str(value)) for name, value in values.items()}
            text = TEXTS[language][text_key].format(**shown)
            queued |= self.store.notice_once(f"{key}:{language}:{zone}", chats, text, now)
        return queued


def _stamp(path: Path | None) -> tuple[int, int] | None:
    try:
        stat = path.stat() if path else None
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size) if stat else None


def _escape(text: str) -> str:
    return html.escape(text)
