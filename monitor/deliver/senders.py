"""The sender: where the dispatcher's messages go, Telegram through python-telegram-bot.

TelegramSender turns Telegram's answers into the dispatcher's outcomes (see outbox.py), and
falls back to plain text once when Telegram rejects the markup. Updates edit their alert
(editMessageText); one that cannot be edited any more is sent as a short answer instead.
Without a token there is no sender at all: the outbox keeps its rows for the day a token is
set, and the console only shows what matched (monitor/deliver/render.py, console_alert_line).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import timedelta

from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    ReplyParameters,
)
from telegram.constants import ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from monitor.config import TelegramConfig
from monitor.deliver.render import html_to_plain
from monitor.errors import DeliveryError
from monitor.models import MessageKind, OutboxMessage, SendResult

log = logging.getLogger(__name__)

_CHAT_GONE = ("chat not found", "bot was kicked", "user is deactivated", "have no rights to send")
_NOT_EDITABLE = ("message to edit not found", "message can't be edited", "message_id_invalid")


def keyboard(buttons: tuple[tuple[str, str], ...]) -> InlineKeyboardMarkup | None:
    if not buttons:
        return None
    return InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data)
                                  for label, data in buttons]])


def retry_seconds(error: RetryAfter) -> float:
    with warnings.catch_warnings():  # PTB 22 warns that the type will become timedelta
        warnings.simplefilter("ignore")
        value = error.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramSender:
    rate_limited = True

    def __init__(self, bot: Bot):
        self.bot = bot

    async def send(self, message: OutboxMessage) -> SendResult:
        """Send (or, for an update, edit) the message; an update whose alert cannot be
        edited any more (deleted, too old, the chat moved) becomes a short answer to it."""
        if message.kind != MessageKind.UPDATE:
            return await self._with_plain_fallback(message, self._send)
        if message.target_message_id is not None:
            result = await self._with_plain_fallback(message, self._edit)
            if result.outcome != "rejected" or not _not_editable(result.error or ""):
                return result
            log.info("outbox row %s: message %s in chat %s not editable (%s); answering it",
                     message.id, message.target_message_id, message.chat_id, result.error)
        # One line, silent (an update never notifies), answering the alert where it still is.
        return await self._with_plain_fallback(replace(
            message, text=message.fallback_text or message.text, buttons=(),
            target_message_id=message.answers_message_id), self._send)

    async def _with_plain_fallback(
            self, message: OutboxMessage,
            call: Callable[[OutboxMessage, bool], Awaitable[SendResult]]) -> SendResult:
        try:
            return await call(message, True)
        except BadRequest as error:
            if "can't parse entities" not in error.message.lower():
                return self._bad_request(error)
        try:  # Telegram rejected our markup: the reader still gets the words
            return await call(message, False)
        except BadRequest as error:
            return self._bad_request(error)

    async def _send(self, message: OutboxMessage, html: bool) -> SendResult:
        """A new message; a follow-up (or an update's answer) answers its alert, and goes
        out alone when that message is gone."""
        reply = None if message.target_message_id is None else ReplyParameters(
            message.target_message_id, allow_sending_without_reply=True)
        return await self._call(self.bot.send_message(
            chat_id=message.chat_id,
            text=message.text if html else html_to_plain(message.text),
            parse_mode=ParseMode.HTML if html else None,
            reply_markup=keyboard(message.buttons),
            link_preview_options=LinkPreviewOptions(is_disabled=True),
            reply_parameters=reply,
            disable_notification=message.kind == MessageKind.UPDATE,
        ))

    async def _edit(self, message: OutboxMessage, html: bool) -> SendResult:
        """Edit a sent alert; its buttons are sent again, or Telegram drops them. An edit to
        the text it has already ("message is not modified": a repeat after a crash) is done."""
        try:
            return await self._call(self.bot.edit_message_text(
                chat_id=message.chat_id, message_id=message.target_message_id,
                text=message.text if html else html_to_plain(message.text),
                parse_mode=ParseMode.HTML if html else None,
                reply_markup=keyboard(message.buttons),
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            ), message.target_message_id)
        except BadRequest as error:
            if "message is not modified" in error.message.lower():
                return SendResult("sent", message_id=message.target_message_id)
            raise

    @staticmethod
    async def _call(request: Awaitable[object], message_id: int | None = None) -> SendResult:
        """Telegram's answer in the dispatcher's terms; a BadRequest is the caller's."""
        try:
            sent = await request
        except RetryAfter as error:
            seconds = retry_seconds(error)
            return SendResult("retry", retry_after_s=seconds,
                              error=f"429 flood control: retry after {seconds:.0f}s")
        except ChatMigrated as error:
            return SendResult("chat_moved", new_chat_id=error.new_chat_id,
                              error="group migrated to a supergroup")
        except Forbidden as error:
            return SendResult("chat_gone", error=f"403 {error.message}")
        except BadRequest:
            raise
        except TimedOut:
            # The message may have arrived; resending risks a duplicate, dropping risks a loss.
            return SendResult("retry", error="timed out (may have been delivered)")
        except InvalidToken:
            return SendResult("unavailable", error="the Bot API refused the token")
        except (NetworkError, TelegramError) as error:
            return SendResult("unavailable", error=f"Telegram unreachable: {error.message}")
        return SendResult("sent", message_id=message_id if isinstance(sent, bool)
                          else getattr(sent, "message_id", message_id))

    @staticmethod
    def _bad_request(error: BadRequest) -> SendResult:
        text = error.message
        if any(phrase in text.lower() for phrase in _CHAT_GONE):
            return SendResult("chat_gone", error=f"400 {text}")
        return SendResult("rejected", error=f"400 {text}")


def _not_editable(error: str) -> bool:
    """Telegram's answers for a message that cannot be edited any more."""
    error = error.lower()
    return any(phrase in error for phrase in _NOT_EDITABLE)


class TokenRejected(DeliveryError):
    """Telegram refused the bot token. The message names the variable, never the token."""


@asynccontextmanager
async def telegram_sender(settings: TelegramConfig, token: str) -> AsyncIterator[TelegramSender]:
    """A sender on its own Bot. A refused token is TokenRejected at once (a config error);
    an unreachable Telegram is not an error here: sends are retried until it answers."""
    bot = delivery_bot(settings, token)
    try:
        await bot.initialize()
    except InvalidToken:
        await bot.shutdown()
        raise TokenRejected(f"Telegram rejected the bot token in ${settings.token_env}; "
                            "check that variable") from None
    except NetworkError as error:
        log.warning("Telegram unreachable at start (%s); messages stay queued until it answers",
                    error.message)
    try:
        yield TelegramSender(bot)
    finally:
        await bot.shutdown()


def delivery_bot(settings: TelegramConfig, token: str) -> Bot:
    """A Bot for the dispatcher, with room for its concurrent sends (PTB's default pool is 1)."""
    api = settings.api_url.rstrip("/")
    request = HTTPXRequest(connection_pool_size=16, read_timeout=20, write_timeout=20,
                           connect_timeout=10, pool_timeout=10)
    return Bot(token, base_url=f"{api}/bot", base_file_url=f"{api}/file/bot", request=request)
