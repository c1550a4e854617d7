"""`monitor run`: the scheduler, the bot and graceful shutdown in one asyncio loop.

APScheduler's AsyncIOScheduler only decides *when*; what is due lives in SQLite (each
feed's next poll, pending outbox rows, each chat's last digest), so a restart picks up
exactly where the last run stopped and a job missed while down runs once, not once per
missed interval. Jobs:

    ingest      every poll_every_s: config reload, seeds, due feeds, stories, matching,
                alerts, digests (rule files are reloaded when they change)
    dispatch    every dispatch_every_s: send due outbox rows (Telegram or the console)
    operations  every minute: tell admins about feeds failing for a day, rule-file errors
                and a growing outbox backlog
    retention   every six hours: delete what is older than the configured days

Blocking work (parsing, matching, SQLite) runs in worker threads, so the bot keeps
answering. SIGTERM/SIGINT: no new jobs start, running ones get a few seconds to finish
(every stage commits in small batches and is resumable, so abandoning one loses nothing),
the database is closed cleanly, and the process exits 0.
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
from datetime import UTC, timedelta
from pathlib import Path
from typing import TextIO

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.config import Config, ConfigError, load_config
from monitor.deliver.bot import MonitorBot
from monitor.deliver.catalog import RulesCatalog
from monitor.deliver.outbox import Dispatcher
from monitor.deliver.senders import ConsoleSender, open_sender
from monitor.pipeline import Pipeline
from monitor.store import Store, utc_now

log = logging.getLogger(__name__)

SHUTDOWN_GRACE_S = 3.0
FEED_FAILING_NOTICE = timedelta(days=1)


class Service:
    def __init__(self, config: Config, store: Store, out: TextIO = sys.stdout):
        self.config = config
        self.store = store
        self.out = out
        self.pipeline = Pipeline(config, store)
        self.dispatcher: Dispatcher | None = None
        self.stopping = asyncio.Event()
        self._inflight: set[asyncio.Task] = set()
        self._bot: MonitorBot | None = None
        self._config_stamp = _stamp(config.path)

    def token(self) -> str:
        return os.environ.get(self.config.telegram.token_env, "").strip()

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop)
        async with open_sender(self.config.telegram, self.out) as sender:
            self.dispatcher = Dispatcher(self.store, sender)
            if isinstance(sender, ConsoleSender):
                await asyncio.to_thread(self.pipeline.subscribe_console)
            async with self._running_bot():
                scheduler = self._scheduler()
                scheduler.start()
                log.info("service started rules=%s configured_feeds=%d telegram=%s",
                         self.config.rules_dir, len(self.config.feeds),
                         "console" if isinstance(sender, ConsoleSender) else "bot")
                await self.stopping.wait()
                log.info("service stopping")
                scheduler.shutdown(wait=False)
                await self._finish_inflight()
        log.info("service stopped")

    def stop(self) -> None:
        self.pipeline.stopping = True
        self.stopping.set()

    @contextlib.asynccontextmanager
    async def _running_bot(self):
        token = self.token()
        if not token:
            yield
            return
        self._bot = bot = MonitorBot(
            self.config.telegram, self.store, RulesCatalog(self.pipeline.rules, self.store),
            default_digest=(self.config.digest.time, self.config.digest.timezone),
            stats_text=self.stats_text, reload_rules=self.reload_rules,
        )
        async with bot.running(bot.build(token)):
            yield

    def _scheduler(self) -> AsyncIOScheduler:
        service = self.config.service
        scheduler = AsyncIOScheduler(timezone=UTC, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": 60})
        now = utc_now()
        jobs: list[tuple[str, Callable[[], Awaitable[None]], int]] = [
            ("ingest", self.ingest, service.poll_every_s),
            ("dispatch", self.dispatch, service.dispatch_every_s),
            ("operations", self.operations, 60),
            ("retention", self.retention, 6 * 3600),
        ]
        for name, job, seconds in jobs:
            scheduler.add_job(self._tracked(job), "interval", seconds=seconds, id=name,
                              name=name, next_run_time=now)
        return scheduler

    def _tracked(self, job: Callable[[], Awaitable[None]]) -> Callable[[], Awaitable[None]]:
        """Jobs register themselves so shutdown can wait for them; errors are logged, never
        fatal: the next run of the job tries again."""

        async def run() -> None:
            if self.stopping.is_set():
                return
            task = asyncio.current_task()
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
            self.store.notice_once(f"config:{stamp}", self.config.telegram.admins,
                                   f"⚠️ Config not reloaded: {_escape(str(error))}")
            return
        self.config = self.pipeline.config = config
        if self._bot is not None:
            self._bot.settings = config.telegram
        log.info("config reloaded path=%s feeds=%d", config.path, len(config.feeds))

    async def ingest(self) -> None:
        await asyncio.to_thread(self.reload_config)
        report = await self.pipeline.run_once()
        log.info("cycle new_articles=%d feeds=%d matched=%d matches=%d alerts=%d digests=%d",
                 len(report.new_articles), report.feeds_polled, report.matched_articles,
                 report.matches, report.alerts_queued, report.digests_queued)
        for name, error in report.feed_errors.items():
            log.warning("feed failed feed=%s error=%r", name, error)
        if report.rule_errors:
            self._rule_errors_notice([str(e) for e in report.rule_errors])
        if report.alerts_queued or report.digests_queued:
            await self.dispatch()

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
        admins = self.config.telegram.admins
        now = utc_now()
        state = self.store.operations()
        for feed in state["failing_feeds"]:
            if feed.failing_since and now - feed.failing_since >= FEED_FAILING_NOTICE:
                key = f"feed-failing:{feed.name}:{feed.failing_since.isoformat()}"
                text = (f"⚠️ Feed <b>{_escape(feed.name)}</b> fails since "
                        f"{feed.failing_since:%d.%m.%Y %H:%M} UTC: {_escape(feed.last_error or '')}")
                if self.store.notice_once(key, admins, text):
                    log.warning("feed failing for a day feed=%s since=%s", feed.name,
                                feed.failing_since.isoformat())
        threshold = self.config.service.backlog_alert
        if state["pending"] >= threshold:
            key = f"backlog:{now:%Y-%m-%dT%H}:{state['pending'] // threshold}"
            text = (f"⚠️ Outbox backlog: {state['pending']} messages waiting "
                    f"(oldest queued {state['oldest_pending']}).")
            if self.store.notice_once(key, admins, text):
                log.warning("outbox backlog pending=%d", state["pending"])

    def _rule_errors_notice(self, errors: list[str]) -> None:
        for error in errors:
            log.error("rule file error %s", error)
        key = "rules:" + hashlib.sha256("\n".join(errors).encode()).hexdigest()[:16]
        text = "⚠️ Rule files have errors; the previous rules stay active:\n<pre>" + _escape(
            "\n".join(errors))[:3500] + "</pre>"
        self.store.notice_once(key, self.config.telegram.admins, text)

    async def retention(self) -> None:
        now = utc_now()
        keep = self.config.retention
        deleted = await asyncio.to_thread(
            self.store.apply_retention, now - timedelta(days=keep.articles_days),
            now - timedelta(days=keep.outbox_days))
        if any(deleted.values()):
            log.info("retention articles=%d stories=%d outbox=%d", deleted["articles"],
                     deleted["stories"], deleted["outbox"])

    # ------------------------------------------------------------ for the bot

    def stats_text(self) -> str:
        counts = self.store.stats()
        state = self.store.operations()
        activity = self.store.activity(utc_now())
        lines = [f"articles: {counts['articles']}  matches: {counts['matches']}",
                 f"outbox pending: {state['pending']}  last digest: "
                 f"{activity['last_digest'] or '-'}",
                 "matches today: " + (", ".join(f"{r['rule_id']} {r['n']}"
                                                for r in activity["matches_today"]) or "none")]
        feeds = self.store.feeds()
        failing = state["failing_feeds"]
        lines.append(f"feeds: {len(feeds) - len(failing)} ok, {len(failing)} failing")
        lines += [f"  {f.name}: since {f.failing_since:%d.%m. %H:%M} – {f.last_error}"
                  for f in failing if f.failing_since]
        return "\n".join(lines)

    def reload_rules(self) -> str:
        ruleset, errors = self.pipeline.rules.current()
        summary = f"{len(ruleset)} rules"
        if errors:
            summary += f", {len(errors)} errors (previous rules stay active)"
        return summary


def _stamp(path: Path | None) -> tuple[int, int] | None:
    try:
        stat = path.stat() if path else None
    except OSError:
        return None
    return (stat.st_mtime_ns, stat.st_size) if stat else None


def _escape(text: str) -> str:
    return html.escape(text)
