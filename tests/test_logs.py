"""Quiet logs: a repeating problem is said when it starts and when it ends; coalesced job runs
are not warned about."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from monitor.config import Config
from monitor.logs import CoalescedRuns, RepeatedConditions
from monitor.pipeline import Pipeline
from monitor.store import utc_now


def test_a_problem_is_logged_when_it_starts_and_when_it_ends_with_its_count(caplog):
    caplog.set_level(logging.INFO)
    problems = RepeatedConditions(logging.getLogger("test"))
    for _ in range(3):
        problems.report("a.json", ["a.json: line 3 is not JSON"])
    problems.report("b.json", [])
    problems.report("a.json", [])
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "a.json: line 3 is not JSON (said once while it lasts)"),
        ("INFO", "no longer: a.json: line 3 is not JSON (seen 3 times)"),
    ]


def test_a_broken_seed_file_read_every_cycle_is_logged_once(tmp_path, db, caplog):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    broken = seeds / "broken.json"
    broken.write_text("[{", encoding="utf-8")
    config = Config(path=None, database_path=db.path, seeds_dir=seeds,
                    rules_dir=tmp_path / "rules")
    pipeline = Pipeline(config, db)
    caplog.set_level(logging.INFO, logger="monitor.pipeline")
    now = utc_now()
    for day in range(4):            # a file is read again daily even when unchanged
        asyncio.run(pipeline.run_once(now + timedelta(days=day)))
    said = [r.getMessage() for r in caplog.records if "broken.json" in r.getMessage()]
    assert len(said) == 1 and said[0].endswith("(said once while it lasts)")
    broken.write_text("[]", encoding="utf-8")
    asyncio.run(pipeline.run_once(now + timedelta(days=5)))
    said = [r.getMessage() for r in caplog.records if "broken.json" in r.getMessage()]
    assert len(said) == 2 and said[1].startswith("no longer: ")


def test_overlapping_job_runs_are_coalesced_without_a_warning(caplog):
    """APScheduler warns each time a run is skipped because the last one still runs; with
    the filter that setup_logging installs, a slow job makes no such warning."""
    scheduler_log = logging.getLogger("apscheduler.scheduler")
    caplog.set_level(logging.WARNING, logger="apscheduler")

    async def slow() -> None:
        await asyncio.sleep(0.3)

    async def overlapping_runs() -> None:
        scheduler = AsyncIOScheduler(job_defaults={"coalesce": True, "max_instances": 1})
        scheduler.add_job(slow, "interval", seconds=0.1, next_run_time=utc_now())
        scheduler.start()
        await asyncio.sleep(0.7)
        scheduler.pause()
        await asyncio.sleep(0.4)            # the running one ends before the shutdown
        scheduler.shutdown(wait=False)

    installed = [f for f in scheduler_log.filters if isinstance(f, CoalescedRuns)]
    for earlier in installed:               # a `monitor run` of another test installed it
        scheduler_log.removeFilter(earlier)
    try:
        asyncio.run(overlapping_runs())
    finally:
        for earlier in installed:
            scheduler_log.addFilter(earlier)
    assert any("maximum number of running instances" in r.getMessage()
               for r in caplog.records)     # what the filter is for
    caplog.clear()
    coalesced = CoalescedRuns()
    scheduler_log.addFilter(coalesced)
    try:
        asyncio.run(overlapping_runs())
    finally:
        scheduler_log.removeFilter(coalesced)
    assert [r.getMessage() for r in caplog.records] == []


def test_a_feed_that_keeps_failing_is_logged_when_it_starts_and_when_it_recovers(
        tmp_path, db, caplog):
    from monitor.pipeline import CycleReport
    from monitor.service import Service

    config = Config(path=None, database_path=db.path, seeds_dir=tmp_path / "seeds",
                    rules_dir=tmp_path / "rules")
    service = Service(config, db)
    reports = [CycleReport(feed_errors={"tot": "HTTP 503"}) for _ in range(3)]
    reports.append(CycleReport(feeds_ok=["tot"]))

    async def cycle() -> CycleReport:
        return reports.pop(0)

    service.pipeline.run_once = cycle          # type: ignore[method-assign]
    caplog.set_level(logging.INFO, logger="monitor.service")
    for _ in range(4):
        asyncio.run(service.ingest())
    assert [r.getMessage() for r in caplog.records if "feed=tot" in r.getMessage()] == [
        "feed failed feed=tot error='HTTP 503' (said once while it lasts)",
        "no longer: feed failed feed=tot error='HTTP 503' (seen 3 times)",
    ]
