from __future__ import annotations

import pytest
from telegram import Bot

from tests.botapi_server import TOKEN


@pytest.fixture
async def bot(botapi):
    async with Bot(TOKEN, base_url=f"{botapi.url}/bot") as bot:
        yield bot
