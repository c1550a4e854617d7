"""Delivery throughput under Telegram's limits.

2,000 subscribers, each due one alert, sent by the outbox dispatcher through
python-telegram-bot to the local Bot API server (tests/botapi_server.py) with Telegram's
flood limits enforced (30 messages/s in all, 1/s per chat, 20/min per group; over them a
429 with retry_after). The alerts are queued as the pipeline queues them, unrendered, for
one corpus article per ten chats (generated text without the corpus): the dispatcher
renders each before its first send, and that time counts. The Bot API server runs in a
process of its own, as Telegram does: in this one, the monitor's busy threads would delay
its clock and bunch the arrivals it counts. Target: all delivered, none twice, in at most
10% over the ideal 2,000 / 30 seconds.

    .venv/bin/python bench/deliver.py [--chats 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import random
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # for tests.botapi_server

from monitor.config import TelegramConfig  # noqa: E402
from monitor.deliver.outbox import Dispatcher  # noqa: E402
from monitor.deliver.senders import TelegramSender, delivery_bot  # noqa: E402
from monitor.models import Article, NewMatch, PlannedAlert  # noqa: E402
from monitor.store import Store  # noqa: E402
from tests.botapi_server import TOKEN, FakeBotAPI  # noqa: E402

TELEGRAM_RATE = 30.0
CHATS_PER_ARTICLE = 10
CORPUS = REPO.parent / "shared" / "corpus" / "articles.jsonl"


def articles(count: int) -> list[Article]:
    """`count` articles: a sample of the corpus (the same each run), or generated ones."""
    now = datetime.now(UTC)
    if CORPUS.is_file():
        rows = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
        rows = random.Random(1).sample(rows, min(count, len(rows)))
    else:
        rows = [{"title": f"Putin empfängt Kim ({n})", "lang": "de", "text": " ".join(
            f"Satz {i} über Putin, Kim und die Einladung nach Moskau." for i in range(60))}
            for n in range(count)]
    return [Article(title=row.get("title") or "", text=row.get("text") or "",
                    url=f"https://example.org/{n}", guid=None, source="bench",
                    language=row.get("lang") or "de", published=now, fetched=now,
                    content_hash=hashlib.sha256(f"{n}".encode()).hexdigest())
            for n, row in enumerate(rows)]


def queue_alerts(store: Store, chats: int) -> None:
    """One alert per chat, ten chats per article, through the pipeline's store calls."""
    stored = store.add_articles(articles(-(-chats // CHATS_PER_ARTICLE)))
    store.save_matches([a.id for a in stored], [
        NewMatch(a.stored_id, "kim-putin", "1") for a in stored])
    store.plan_alerts([], [
        PlannedAlert(chat, "kim-putin", article.id, article.id, "Kim & Putin")
        for chat, article in zip(range(1, chats + 1),
                                 (a for a in stored for _ in range(CHATS_PER_ARTICLE)),
                                 strict=False)])


def serve(connection) -> None:
    """The Bot API server's process: serve until asked, then say what it received."""
    server = FakeBotAPI(enforce_limits=True).serve()
    connection.send(server.url)
    connection.recv()
    server.close()
    connection.send(([s.chat_id for s in server.sent], server.rejected_429))


async def deliver(chats: int) -> None:
    connection, child = multiprocessing.Pipe()
    process = multiprocessing.Process(target=serve, args=(child,))
    process.start()
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "bench.db") as store:
        queue_alerts(store, chats)
        settings = TelegramConfig(api_url=connection.recv())
        async with delivery_bot(settings, TOKEN) as bot:
            dispatcher = Dispatcher(store, TelegramSender(bot))
            started = time.perf_counter()
            passes = 0
            while store.pending_count():
                await dispatcher.dispatch_due(limit=chats)
                passes += 1
                if store.pending_count():
                    await asyncio.sleep(0.5)
            seconds = time.perf_counter() - started
    connection.send("stop")
    sent, rejected_429 = connection.recv()
    process.join()
    copies = Counter(sent)
    ideal = chats / TELEGRAM_RATE
    rows = [
        ("subscribers", f"{chats}"),
        ("delivered (distinct chats)", f"{len(copies)}"),
        ("sent twice", f"{sum(1 for n in copies.values() if n > 1)}"),
        ("429 answers", f"{rejected_429}"),
        ("dispatch passes", f"{passes}"),
        ("seconds", f"{seconds:.1f}"),
        ("ideal seconds (n / 30)", f"{ideal:.1f}"),
        ("over ideal", f"{(seconds / ideal - 1) * 100:+.1f}%"),
        ("messages/s", f"{chats / seconds:.1f}"),
    ]
    width = max(len(k) for k, _ in rows)
    print(f"{'measure':<{width}}  value")
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    ok = len(copies) == chats and max(copies.values()) == 1 and seconds <= ideal * 1.10
    print("target met" if ok else "TARGET MISSED")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(deliver(args.chats))


if __name__ == "__main__":
    main()
