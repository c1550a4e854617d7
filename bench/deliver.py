"""Delivery throughput under Telegram's limits.

2,000 subscribers, each due one alert, sent by the outbox dispatcher through
python-telegram-bot to the local Bot API server (tests/botapi_server.py) with Telegram's
flood limits enforced (30 messages/s in all, 1/s per chat, 20/min per group; over them a
429 with retry_after). Target: all delivered, none twice, in at most 10% over the ideal
2,000 / 30 seconds.

    .venv/bin/python bench/deliver.py [--chats 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # for tests.botapi_server

from monitor.config import TelegramConfig  # noqa: E402
from monitor.deliver.outbox import Dispatcher  # noqa: E402
from monitor.deliver.senders import TelegramSender, delivery_bot  # noqa: E402
from monitor.store import Store  # noqa: E402
from tests.botapi_server import TOKEN, FakeBotAPI  # noqa: E402

TELEGRAM_RATE = 30.0


async def deliver(chats: int) -> None:
    server = FakeBotAPI(enforce_limits=True).serve()
    with tempfile.TemporaryDirectory() as folder, Store(Path(folder) / "bench.db") as store:
        for chat in range(1, chats + 1):
            store.enqueue(chat, "alert", f"<b>Alarm</b> für Chat {chat}: Putin empfängt Kim",
                          rule_id="kim-putin", story_id=1,
                          buttons=[("1 Tag stumm", "mute:kim-putin:1d")])
        settings = TelegramConfig(api_url=server.url)
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
    server.close()
    copies = Counter(s.chat_id for s in server.sent)
    ideal = chats / TELEGRAM_RATE
    rows = [
        ("subscribers", f"{chats}"),
        ("delivered (distinct chats)", f"{len(copies)}"),
        ("sent twice", f"{sum(1 for n in copies.values() if n > 1)}"),
        ("429 answers", f"{server.rejected_429}"),
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
