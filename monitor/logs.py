"""Logging for the service: one line per event, `key=value` fields, never a secret.

    2026-11-28T08:00:01Z INFO monitor.pipeline feed failed feed=tagesschau error='HTTP 503'

A filter replaces every secret (the Telegram token) wherever it would appear, including
in the URLs that HTTP libraries log and in exception texts.
"""

from __future__ import annotations

import logging
import sys
import time

# Loggers held at WARNING by every entry point: httpx logs every request URL at INFO, and
# Bot API URLs carry the token.
NOISY_LOGGERS = ("httpx", "httpcore", "apscheduler", "telegram.ext.Updater")
# Libraries whose failures the monitor reports itself, in its own words (a seed page without
# main text, a full-text page that could not be extracted): their own lines would say the
# same thing again, in theirs ("discarding data: None").
REPORTED_BY_US = ("trafilatura", "htmldate", "courlan", "justext")


def quiet_libraries() -> None:
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for library in REPORTED_BY_US:
        logging.getLogger(library).setLevel(logging.CRITICAL)


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: list[str]):
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            message = record.getMessage()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            for secret in self.secrets:
                message = message.replace(secret, "[token]")
                if record.exc_text:
                    record.exc_text = record.exc_text.replace(secret, "[token]")
            record.msg, record.args = message, None
        return True


class CoalescedRuns(logging.Filter):
    """Drops APScheduler's warning that a job run was skipped because the previous one still
    runs: the jobs are coalesced on purpose (max_instances 1), so a long ingest is not a
    problem to warn about (it was ~33 warnings per start)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "maximum number of running instances reached" not in str(record.msg)


class RepeatedConditions:
    """Problems that hold run after run (a broken seed file read again every cycle) are
    logged when they start and when they end, with how often they were seen, not each time.
    `report(scope, problems)` gives the problems of one thing (a seed file) as they are now;
    a scope not reported in a run keeps its problems as they were."""

    def __init__(self, logger: logging.Logger):
        self.logger = logger
        self.active: dict[str, dict[str, int]] = {}      # scope → problem → times seen

    def report(self, scope: str, problems: list[str]) -> None:
        before = self.active.pop(scope, {})
        for problem in problems:
            if problem not in before:
                self.logger.warning("%s (said once while it lasts)", problem)
        for problem, count in before.items():
            if problem not in problems:
                self.logger.info("no longer: %s (seen %d time%s)", problem, count,
                                 "" if count == 1 else "s")
        if problems:
            self.active[scope] = {problem: before.get(problem, 0) + 1 for problem in problems}


def setup_logging(level: int = logging.INFO, secrets: list[str] | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s",
                                  datefmt="%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(RedactSecrets(secrets or []))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    quiet_libraries()
    scheduler = logging.getLogger("apscheduler.scheduler")
    if not any(isinstance(f, CoalescedRuns) for f in scheduler.filters):
        scheduler.addFilter(CoalescedRuns())
