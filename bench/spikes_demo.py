"""A three-week archive with a burst, and what `monitor rules spikes` shows on it.

The bench archives hold a few days of corpus articles: too short for a spike's 14-day
baseline. This script writes 21 days of Kim–Putin reports as seed files (one or two an hour
by day, fewer at night, each its own story) and a summit's burst of reports on day 18,
ingests them with `monitor ingest` into a fresh folder, and runs `monitor rules spikes
kim-putin` on it, the way an analyst tunes a rule's `[rules.spike]` settings.

    .venv/bin/python bench/spikes_demo.py [--folder /tmp/spikes-demo] [--since 10d]
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MONITOR = Path(sys.executable).parent / "monitor"
DAYS = 21
BURST_DAY, BURST_HOUR, BURST = 18, 9, 14      # the summit: 14 reports in an hour
WORDS = ("Gipfel Delegation Vertrag Raketen Wirtschaft Zusammenarbeit Grenze Besuch Kreml "
         "Pjöngjang Wladiwostok Sanktionen Energie Militär Abkommen Sicherheit Handel Bahn "
         "Hafen Munition Gespräche Erklärung Regierung Außenminister Botschaft").split()


def reports(end: datetime, rng: random.Random) -> list[dict]:
    """One or two reports an hour by day, one every few hours at night, and the burst."""
    items = []
    start = end - timedelta(days=DAYS)
    for hour in range(DAYS * 24):
        at = start + timedelta(hours=hour)
        daytime = 7 <= at.hour <= 21
        count = rng.choice((0, 1, 1, 2)) if daytime else rng.choice((0, 0, 0, 1))
        if hour == BURST_DAY * 24 + BURST_HOUR:
            count = BURST
        for _report in range(count):
            words = " ".join(rng.choice(WORDS) for _ in range(40))
            items.append({
                "title": f"Kim und Putin: {rng.choice(WORDS)} ({len(items)})",
                "text": f"Kim Jong Un und Wladimir Putin. {words}.",
                "url": f"https://demo.example/{len(items)}",
                "source": f"quelle-{rng.randrange(12)}",
                "published": (at + timedelta(minutes=rng.randrange(60))).isoformat(),
                "language": "de",
            })
    return items


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", type=Path, default=Path("/tmp/spikes-demo"))
    parser.add_argument("--since", default=None, help="passed to `monitor rules spikes`")
    args = parser.parse_args()
    folder = args.folder
    shutil.rmtree(folder, ignore_errors=True)
    (folder / "seeds").mkdir(parents=True)
    shutil.copytree(REPO / "rules", folder / "rules")
    (folder / "config.toml").write_text(
        '[database]\npath = "monitor.db"\n[sources]\nseeds = "seeds"\nrules = "rules"\n',
        encoding="utf-8")
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    items = reports(end, random.Random(1))
    with (folder / "seeds" / "kim-putin.jsonl").open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(item, ensure_ascii=False) + "\n" for item in items)
    subprocess.run([str(MONITOR), "ingest", "--config", "config.toml"], cwd=folder,
                   check=True, capture_output=True)
    command = [str(MONITOR), "rules", "spikes", "kim-putin", "--config", "config.toml"]
    if args.since:
        command += ["--since", args.since]
    print(f"$ cd {folder} && monitor {' '.join(command[1:])}")
    subprocess.run(command, cwd=folder, check=True)


if __name__ == "__main__":
    main()
