"""Soak run of `monitor run` as a real process (run by hand; 30 minutes by default).

200 feeds on a local feed server keep publishing new items, 1,000 rules, 500 subscribers
on the local Bot API server (Telegram's limits enforced). Reports the service's memory at
the start and the end, the delay from an item appearing in its feed to its first alert
being accepted by the Bot API server (p50/p95), and errors.
Targets: memory flat (±10%), p95 delay under one poll interval plus 5 s.

    .venv/bin/python bench/soak.py [--minutes 30] [--interval 60]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # for tests.*

from monitor.store import Store  # noqa: E402
from tests.botapi_server import TOKEN, FakeBotAPI  # noqa: E402
from tests.feed_server import FeedServer  # noqa: E402

MONITOR = Path(sys.executable).parent / "monitor"
FEEDS, RULES, SUBSCRIBERS = 200, 1000, 500
VOCABULARY = [f"{stem}{ending}" for stem in (
    "haushalt wahl gipfel handel zoll energie strom bahn streik tarif klima hafen werft kredit "
    "zins export grenze armee drohne satellit vertrag botschaft reise rede protest gericht "
    "urteil gesetz reform schule klinik pflege rente steuer").split()
    for ending in ("", "s", "en", "plan", "streit", "bericht", "krise", "gipfel")]
LONG_ENDINGS = ("plan", "streit", "bericht", "krise", "gipfel")
WARMUP_S = 300   # caches, the story window and SQLite's page cache fill during the first minutes


def rss(items: list[tuple[str, str, str, datetime]]) -> str:
    entries = "".join(
        f"<item><title>{title}</title><link>{url}</link><guid>{url}</guid>"
        f"<pubDate>{format_datetime(when)}</pubDate><description>{text}</description></item>"
        for url, title, text, when in items[-20:])
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Soak'
            f"</title><link>https://soak.example/</link>{entries}</channel></rss>")


class Publisher(threading.Thread):
    """Adds an item to a random feed every so often and remembers when it appeared."""

    def __init__(self, server: FeedServer, per_second: float, rng: random.Random):
        super().__init__(daemon=True)
        self.server, self.per_second, self.rng = server, per_second, rng
        self.items: dict[int, list] = {n: [] for n in range(FEEDS)}
        self.published: dict[str, float] = {}
        self.stop = threading.Event()
        for feed in range(FEEDS):
            server.publish(f"/feed/{feed}.xml", rss([]))

    def run(self) -> None:
        count = 0
        while not self.stop.wait(self.rng.expovariate(self.per_second)):
            feed = self.rng.randrange(FEEDS)
            count += 1
            url = f"https://soak.example/{feed}/{count}"
            words = self.rng.sample(VOCABULARY, 40)
            self.items[feed].append((url, " ".join(words[:6]).capitalize(),
                                     " ".join(words) + ".", datetime.now(UTC)))
            self.server.publish(f"/feed/{feed}.xml", rss(self.items[feed]))
            self.published[url] = time.time()


def deployment(folder: Path, feeds: FeedServer, botapi: FakeBotAPI, interval: int,
               rng: random.Random) -> None:
    (folder / "seeds").mkdir()
    (folder / "rules").mkdir()
    rules = []
    for number in range(RULES):
        a, b, c = rng.sample(VOCABULARY, 3)
        compound = rng.choice([w for w in VOCABULARY if w.endswith(LONG_ENDINGS)])
        query = rng.choice([f"{a} AND {b} AND {c}", f"{a} NEAR/5 {b}",
                            f'"{a} {b}" OR ({b} AND {c} -{a})', f"({a} OR {b}) AND {compound}*"])
        rules.append(f'[[rules]]\nid = "r{number}"\nname = "Regel {number}"\nquery = "'
                     + query.replace('"', '\\"') + '"\n')
    (folder / "rules" / "soak.toml").write_text("\n".join(rules), encoding="utf-8")
    feed_blocks = "".join(f'[[feeds]]\nname = "feed{n}"\nurl = "{feeds.url(f"/feed/{n}.xml")}"\n'
                          f'interval = "{interval}s"\n' for n in range(FEEDS))
    (folder / "config.toml").write_text(
        f'[database]\npath = "soak.db"\n{feed_blocks}[telegram]\napi_url = "{botapi.url}"\n'
        f'access = "open"\n[service]\npoll_every_s = 2\ndispatch_every_s = 1\n',
        encoding="utf-8")
    with Store(folder / "soak.db") as store:        # creates the database
        for chat in range(1, SUBSCRIBERS + 1):
            store.upsert_subscriber(chat, "private", None, None)
            for rule in rng.sample(range(RULES), 2):
                store.subscribe(chat, f"r{rule}", "instant")


def rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=30)
    parser.add_argument("--interval", type=int, default=60, help="feed poll interval, seconds")
    parser.add_argument("--items-per-second", type=float, default=0.5)
    args = parser.parse_args()
    rng = random.Random(7)
    botapi = FakeBotAPI(enforce_limits=True).serve()
    with tempfile.TemporaryDirectory() as tmp, FeedServer() as feeds:
        folder = Path(tmp)
        publisher = Publisher(feeds, args.items_per_second, rng)
        deployment(folder, feeds, botapi, args.interval, rng)
        log = open(folder / "service.log", "w")
        process = subprocess.Popen([str(MONITOR), "run"], cwd=folder, stdout=subprocess.DEVNULL,
                                   stderr=log, env={**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN})
        publisher.start()
        started = time.time()
        end = started + args.minutes * 60
        samples: list[tuple[float, int]] = []     # (minutes since start, KiB)
        while time.time() < end:
            time.sleep(min(30, max(0.1, end - time.time())))
            samples.append(((time.time() - started) / 60, rss_kib(process.pid)))
        warm = min(WARMUP_S, args.minutes * 30) / 60
        memory_start = next(kib for minute, kib in samples if minute >= warm)
        publisher.stop.set()
        memory_end = rss_kib(process.pid)
        process.send_signal(signal.SIGTERM)
        exit_code = process.wait(timeout=30)
        log.close()
        log_text = (folder / "service.log").read_text()

    first_alert: dict[str, float] = {}
    for sent in botapi.sent:
        for url in re.findall(r'href="(https://soak\.example/[^"]+)"', sent.text):
            first_alert.setdefault(url, sent.at)
    cutoff = end - args.interval - 10   # items younger than this may still be on their way
    considered = {u: t for u, t in publisher.published.items() if t < cutoff}
    delays = sorted(first_alert[u] - t for u, t in considered.items() if u in first_alert)
    errors = len(re.findall(r" ERROR ", log_text))
    botapi.close()

    def pct(p: float) -> float:
        return delays[min(len(delays) - 1, int(p * len(delays)))] if delays else float("nan")

    drift = (memory_end - memory_start) / memory_start * 100
    rows = [
        ("minutes", f"{args.minutes:g}"),
        ("feeds / rules / subscribers", f"{FEEDS} / {RULES} / {SUBSCRIBERS}"),
        ("items published", f"{len(publisher.published)}"),
        ("items with an alert (of those old enough)", f"{len(delays)} of {len(considered)}"),
        ("alerts accepted by the Bot API", f"{len(botapi.sent)}"),
        ("429 answers", f"{botapi.rejected_429}"),
        (f"memory after {warm:g} min warm-up, MiB", f"{memory_start / 1024:.1f}"),
        ("memory at end, MiB", f"{memory_end / 1024:.1f}"),
        ("memory drift (warm-up to end)", f"{drift:+.1f}%"),
        ("memory every 5 min, MiB", " ".join(
            f"{kib / 1024:.0f}" for minute, kib in samples if round(minute * 2) % 10 == 0)),
        ("delay p50, s", f"{pct(0.5):.1f}"),
        ("delay p95, s", f"{pct(0.95):.1f}"),
        ("delay max, s", f"{delays[-1]:.1f}" if delays else "-"),
        ("target p95, s (interval + 5)", f"{args.interval + 5}"),
        ("ERROR lines in the log", f"{errors}"),
        ("exit code after SIGTERM", f"{exit_code}"),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    ok = (abs(drift) <= 10 and delays and pct(0.95) <= args.interval + 5 and errors == 0
          and exit_code == 0)
    print("targets met" if ok else "TARGETS MISSED")
    if statistics and errors:
        print("\n".join(line for line in log_text.splitlines() if " ERROR " in line)[:3000])


if __name__ == "__main__":
    main()
