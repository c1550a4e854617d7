"""The Telegram bot: subscribers manage what they receive from inside the chat.

python-telegram-bot 22 `Application` with long polling, in its own idiom: flood control and
access control are `TypeHandler`s in groups -2 and -1 that stop an update (`ApplicationHandlerStop`)
before any command sees it, so a handler only does its command; each command is one
`CommandHandler`, each kind of button one
`CallbackQueryHandler(pattern=...)`; every store, catalog and rule call runs in a worker
thread (`_off_loop`), so one chat's SQLite or rule work never holds up the others. Answers
are in German or English after the user's language (texts.py). Alerts themselves are not
sent here but by the outbox dispatcher; the bot only answers commands and buttons.

Access: with `access = "allowlist"` only `allowed_chats` are served; others get a polite
refusal and nothing is stored about them. In groups only group admins change what the chat
receives (CHANGING_COMMANDS, CHANGING_BUTTONS). Admin commands (/stats, /reload) only for
`admins`, in any chat. A user who floods the
bot with commands is told once and then ignored for a short while; others are still served.
"""

from __future__ import annotations

import asyncio
import html
import logging
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, NamedTuple, ParamSpec, Protocol, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from telegram import (
    BotCommand,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatMemberStatus, ChatType, ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from monitor import models
from monitor.alerts import parse_quiet_hours
from monitor.config import DAY, ConfigError, TelegramConfig, parse_clock, parse_duration
from monitor.deliver.render import html_to_plain, linked, local_time
from monitor.deliver.texts import COMMANDS, MAX_CALLBACK, TEXTS, query_error_text
from monitor.matching import QueryHint, QuerySyntaxError
from monitor.models import Article, DeliveryMode
from monitor.store import Store, utc_now

log = logging.getLogger(__name__)
T = TypeVar("T")
P = ParamSpec("P")

RULES_PER_PAGE = 8
FLOOD_COMMANDS, FLOOD_WINDOW_S = 8, 20.0
MAX_MUTE_S = 365 * DAY       # longer is a typo; bounded so that the sum cannot overflow
MAX_FOLLOW_SOURCES = 1000    # /follow RULE N: more is a typo
# Limits at the door for what any allowed user can type: a query's length, the personal rules
# of one chat (each is matched against every article), and how often one chat may search.
MAX_QUERY_CHARS = 500
MAX_WATCHES = 20
SEARCH_EVERY_S = 10.0
CALLBACK_NOTICE = 200


@dataclass(frozen=True)
class RuleInfo:
    id: str
    name: str
    description: str
    delivery: DeliveryMode


class ChatSearch(NamedTuple):
    """What /search found, newest first. `recent_days`: only the newest articles of that many
    days were read, because the query has no term to look up in the archive index
    (`why` = "no terms") or the index is not built yet ("no index")."""

    articles: list[Article]
    recent_days: int | None = None
    why: str = ""


class Catalog(Protocol):
    """What the bot needs from the rules: listing, validating a personal query, searching."""

    def rules(self) -> list[RuleInfo]: ...
    def query_error(self, query: str) -> QuerySyntaxError | None: ...
    def query_hints(self, query: str) -> list[QueryHint]: ...
    def search(self, query: str, limit: int) -> ChatSearch: ...


# Commands and buttons that change what a chat receives: in groups, for the group's admins.
CHANGING_COMMANDS = frozenset({"subscribe", "unsubscribe", "digest", "watch", "unwatch", "mute",
                               "spike", "stop", "language", "follow", "quiet"})
CHANGING_BUTTONS = frozenset({"sub", "unsub", "mute"})
ADMIN_COMMANDS = frozenset({"stats", "reload"})


class Request(NamedTuple):
    """What an update asks for, as the access check sees it: a command's name or a button's
    kind ("sub" of "sub:kim-putin"), and whether it changes what the chat receives."""

    name: str
    changes: bool


def command_of(update: Update, bot_username: str | None) -> tuple[str, str] | None:
    """The name and argument of a command to this bot ('mute', 'kim 2h' of '/Mute@bot kim
    2h'); None for other text, and for a command addressed to another bot in a group."""
    message = update.effective_message
    text = message.text if message else None
    if not text or not text.startswith("/"):
        return None
    command, _, argument = text[1:].partition(" ")
    name, _, addressee = command.partition("@")
    if addressee and addressee.lower() != (bot_username or "").lower():
        return None
    return name.lower(), argument


def request_of(update: Update, bot_username: str | None, commands: frozenset[str]
               ) -> Request | None:
    """The command or button of an update; None for anything else (an unknown command, one
    for another bot)."""
    query = update.callback_query
    if query is not None:
        kind = (query.data or "").partition(":")[0]
        return Request(kind, kind in CHANGING_BUTTONS)
    command = command_of(update, bot_username)
    if command is None or command[0] not in commands:
        return None
    name, argument = command
    return Request(name, name in CHANGING_COMMANDS and (name != "digest" or bool(argument.strip())))


# What a chat may type after /subscribe RULE_ID.
MODES: dict[str, DeliveryMode] = {"instant": "instant", "digest": "digest"}


def chat_id_of(update: Update) -> int:
    """The chat of a command or button (the handlers are registered for those only)."""
    chat = update.effective_chat
    if chat is None:
        raise ValueError("an update without a chat")
    return chat.id


def chat_type_of(chat: Chat) -> models.ChatType:
    """Telegram's kind of chat, as the store keeps it: python-telegram-bot hands it over as a
    plain string, and commands and buttons come from the four kinds of chat."""
    return cast("models.ChatType", chat.type)


def language_of(update: Update) -> str:
    user = update.effective_user
    code = (user.language_code or "") if user else ""
    return "de" if code.startswith("de") or not user else "en"


class FloodGuard:
    """At most FLOOD_COMMANDS per user in FLOOD_WINDOW_S; the first refusal is announced."""

    def __init__(self, limit: int = FLOOD_COMMANDS, window_s: float = FLOOD_WINDOW_S):
        self.limit, self.window_s = limit, window_s
        self.recent: dict[int, deque[float]] = defaultdict(deque)
        self.warned: set[int] = set()

    def check(self, user_id: int) -> str:
        """'ok', 'warn' (refuse and say so) or 'ignore' (refuse silently)."""
        now = time.monotonic()
        recent = self.recent[user_id]
        while recent and now - recent[0] > self.window_s:
            recent.popleft()
        if len(recent) < self.limit:
            recent.append(now)
            self.warned.discard(user_id)
            return "ok"
        if user_id in self.warned:
            return "ignore"
        self.warned.add(user_id)
        return "warn"


Handler = Callable[[Update, ContextTypes.DEFAULT_TYPE], Coroutine[Any, Any, None]]


class MonitorBot:
    """Builds the Application and holds the handlers; state lives in the store."""

    def __init__(self, settings: TelegramConfig, store: Store, catalog: Catalog, *,
                 default_digest: tuple[str, str], stats_text: Callable[[str, str], str],
                 reload_rules: Callable[[str], str]):
        self.settings = settings
        self.store = store
        self.catalog = catalog
        self.default_digest = default_digest
        self.stats_text = stats_text
        self.reload_rules = reload_rules
        self.flood = FloodGuard()
        self.commands: frozenset[str] = frozenset()
        # The language of each group or channel seen (its own, chosen with /language or taken
        # from whoever it was first recorded by): a group reads one language, not each
        # member's. Private chats follow their user's Telegram language.
        self.chat_languages: dict[int, str] = {}
        self._last_search: dict[int, float] = {}
        self._errors_told: set[str] = set()

    def build(self, token: str) -> Application:
        api = self.settings.api_url.rstrip("/")
        # Answers to commands go through PTB's rate limiter, which waits out a 429 and retries;
        # alerts are paced by the outbox dispatcher on a bot of their own.
        limiter = AIORateLimiter(overall_max_rate=30, overall_time_period=1, group_max_rate=20,
                                 group_time_period=60, max_retries=3)
        app = (ApplicationBuilder().token(token).base_url(f"{api}/bot")
               .base_file_url(f"{api}/file/bot").rate_limiter(limiter).build())
        messages = filters.UpdateType.MESSAGE | filters.UpdateType.CHANNEL_POST
        commands: dict[str, Handler] = {
            "start": self.start, "help": self.help, "rules": self.rules,
            "subscribe": self.subscribe, "unsubscribe": self.unsubscribe, "list": self.list,
            "digest": self.digest, "watch": self.watch, "unwatch": self.unwatch,
            "search": self.search, "mute": self.mute, "spike": self.spike, "stop": self.stop,
            "stats": self.stats, "reload": self.reload, "language": self.language,
            "follow": self.follow, "quiet": self.quiet,
        }
        self.commands = frozenset(commands)
        # Before every other handler: flood control, then access control, each in a group of
        # its own (a group runs one handler per update); either stops an update.
        app.add_handler(TypeHandler(Update, self.flood_control), group=-2)
        app.add_handler(TypeHandler(Update, self.access_control), group=-1)
        for name, handler in commands.items():
            # Updates are handled one after another; a search may take a second of the
            # engine's time (in a worker thread), so it does not hold up the other chats.
            app.add_handler(CommandHandler(name, handler, filters=messages,
                                           block=name != "search"))
        buttons: dict[str, Handler] = {
            # python-telegram-bot hands a query with empty data to every patterned handler,
            # whatever its pattern: this first one takes those.
            r"^$": self.unknown_button,
            r"^rules:\d+$": self.rules_page_button, r"^sub:": self.subscribe_button,
            r"^unsub:": self.unsubscribe_button, r"^mute:": self.mute_button,
        }
        for pattern, handler in buttons.items():
            app.add_handler(CallbackQueryHandler(handler, pattern=pattern))
        app.add_handler(CallbackQueryHandler(self.unknown_button))    # not a button we made
        app.add_handler(MessageHandler(filters.COMMAND & messages, self.unknown_command))
        app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND & filters.ChatType.PRIVATE
                                       & filters.UpdateType.MESSAGE, self.free_text))
        app.add_error_handler(self.on_error)
        return app

    @asynccontextmanager
    async def running(self, app: Application, *, poll_timeout: int = 10) -> AsyncIterator[None]:
        """Serve commands inside the caller's event loop (run_polling would own the loop)."""
        async with app:
            await app.bot.set_my_commands([BotCommand(name, text) for name, text in COMMANDS])
            await app.start()
            updater = app.updater
            assert updater is not None          # ApplicationBuilder makes one by default
            await updater.start_polling(poll_interval=0, timeout=poll_timeout,
                                        drop_pending_updates=False)
            try:
                yield
            finally:
                await updater.stop()
                await app.stop()

    # ------------------------------------------------------------ plumbing

    async def flood_control(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Commands and buttons of a user over FLOOD_COMMANDS in FLOOD_WINDOW_S go no
        further (ApplicationHandlerStop); the first refused one is answered."""
        message = update.effective_message
        command = bool(message and message.text and message.text.startswith("/"))
        if not command and update.callback_query is None:
            return
        sender = update.effective_user or update.effective_chat
        verdict = self.flood.check(sender.id) if sender else "ok"
        if verdict == "ok":
            return
        if verdict == "warn":
            await self._reply(update, self._t(update, "flood"))
        raise ApplicationHandlerStop

    @staticmethod
    async def _off_loop(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """A store, catalog or rule call, in a worker thread: SQLite and rule loading block,
        and the event loop serves every chat."""
        return await asyncio.to_thread(function, *args, **kwargs)

    def _language(self, update: Update) -> str:
        """The language to answer in: a group's or channel's own, else the user's."""
        chat = update.effective_chat
        if chat is not None and chat.type != ChatType.PRIVATE:
            chosen = self.chat_languages.get(chat.id)
            if chosen is not None:
                return chosen
        return language_of(update)

    def _t(self, update: Update, key: str, **values: object) -> str:
        text = TEXTS[self._language(update)][key]
        return text.format(**{k: html.escape(str(v)) for k, v in values.items()})

    async def _reply(self, update: Update, text: str,
                     markup: InlineKeyboardMarkup | None = None) -> None:
        query = update.callback_query
        if query is not None:
            if markup is not None and isinstance(query.message, Message):   # paging: edited
                try:
                    await query.message.edit_text(text, parse_mode=ParseMode.HTML,
                                                  reply_markup=markup)
                except BadRequest as error:   # the same page again: nothing to change
                    if "not modified" not in error.message.lower():
                        raise
                await query.answer()
            else:                                      # a button under an alert: a short notice
                await query.answer(html_to_plain(text)[:CALLBACK_NOTICE])
            return
        chat = update.effective_chat
        if chat:
            await chat.send_message(text, parse_mode=ParseMode.HTML, reply_markup=markup,
                                    disable_web_page_preview=True)

    def _allowed(self, chat_id: int) -> bool:
        return self.settings.access == "open" or chat_id in self.settings.allowed_chats

    async def access_control(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Admin commands for `admins` only; everything else for allowed chats only; and what
        changes a group's subscriptions for the group's admins only, after which the chat is
        recorded. A refused update is answered and goes no further."""
        request = request_of(update, context.bot.username, self.commands)
        chat = update.effective_chat
        if request is None or chat is None:
            return
        if chat.type != ChatType.PRIVATE and chat.id not in self.chat_languages:
            subscriber = await self._off_loop(self.store.subscriber, chat.id)
            if subscriber is not None and subscriber.language in TEXTS:
                self.chat_languages[chat.id] = subscriber.language
        if request.name in ADMIN_COMMANDS:
            if not self._is_admin(update):
                await self._refuse(update, "not_admin")
            return
        if not self._allowed(chat.id):
            await self._refuse(update, "refused", chat_id=chat.id)
        if not request.changes:
            return
        if chat.type in (ChatType.GROUP, ChatType.SUPERGROUP):
            user = update.effective_user
            member = await context.bot.get_chat_member(chat.id, user.id) if user else None
            if member is None or member.status not in (ChatMemberStatus.ADMINISTRATOR,
                                                       ChatMemberStatus.OWNER):
                await self._refuse(update, "not_group_admin")
        if request.name != "stop":
            await self._off_loop(self.store.upsert_subscriber, chat.id, chat_type_of(chat),
                                 chat.title or chat.full_name, self._language(update))

    async def _refuse(self, update: Update, key: str, **values: object) -> None:
        await self._reply(update, self._t(update, key, **values))
        raise ApplicationHandlerStop

    async def _chat_zone(self, chat_id: int) -> ZoneInfo:
        """The chat's time zone: the one of its digest, else the configured default."""
        subscriber = await self._off_loop(self.store.subscriber, chat_id)
        return ZoneInfo((subscriber.digest_tz if subscriber else None) or self.default_digest[1])

    async def _hints(self, update: Update, query: str) -> list[str]:
        """The query's hints (a lower-case operator, a word mostly inside compounds), in the
        user's language."""
        hints = await self._off_loop(self.catalog.query_hints, query)
        return [self._t(update, f"hint_{hint.kind}", word=hint.word, fix=hint.fix,
                        alone=f"{hint.alone:,}", inside=f"{hint.inside:,}",
                        examples=", ".join(hint.examples) or "…") for hint in hints]

    def _rule(self, rule_id: str) -> RuleInfo | None:
        return next((r for r in self.catalog.rules() if r.id == rule_id), None)

    def _is_admin(self, update: Update) -> bool:
        user = update.effective_user
        return user is not None and user.id in self.settings.admins

    # ------------------------------------------------------------ commands

    async def start(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        if chat:
            await self._off_loop(self.store.upsert_subscriber, chat.id, chat_type_of(chat),
                                 chat.title or chat.full_name, self._language(update))
        await self._reply(update, self._t(update, "start"))

    async def help(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        texts = TEXTS[self._language(update)]
        await self._reply(update, texts["help"] + (texts["help_admin"]
                                                   if self._is_admin(update) else ""))

    async def unknown_command(self, update: Update,
                              context: ContextTypes.DEFAULT_TYPE) -> None:
        """A command this bot does not have (not one for another bot in a group)."""
        if command_of(update, context.bot.username) is not None:
            await self._reply(update, self._t(update, "unknown_command"))

    async def free_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Text without a command in a private chat (in groups the bot keeps quiet)."""
        await self._reply(update, self._t(update, "free_text"))

    async def rules(self, update: Update, context: ContextTypes.DEFAULT_TYPE,
                    page: int = 1) -> None:
        rules = self.catalog.rules()
        pages = max(1, -(-len(rules) // RULES_PER_PAGE))
        page = min(max(1, page), pages)
        shown = rules[(page - 1) * RULES_PER_PAGE: page * RULES_PER_PAGE]
        lines = [self._t(update, "rules_head", page=page, pages=pages)]
        for rule in shown:
            line = f"<code>{html.escape(rule.id)}</code> – {html.escape(rule.name)}"
            if rule.description:
                line += f"\n<i>{html.escape(rule.description)}</i>"
            lines.append(line)
        rows = [[InlineKeyboardButton(f"➕ {rule.name}"[:60], callback_data=f"sub:{rule.id}")]
                for rule in shown if len(f"sub:{rule.id}".encode()) <= MAX_CALLBACK]
        nav = []
        if page > 1:
            nav.append(InlineKeyboardButton("◀", callback_data=f"rules:{page - 1}"))
        if page < pages:
            nav.append(InlineKeyboardButton("▶", callback_data=f"rules:{page + 1}"))
        if nav:
            rows.append(nav)
        await self._reply(update, "\n\n".join(lines), InlineKeyboardMarkup(rows) if rows else None)

    async def subscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = context.args or []
        if not args or len(args) > 2 or (len(args) == 2 and args[1] not in MODES):
            await self._reply(update, self._t(update, "usage_subscribe"))
            return
        await self._subscribe(update, context, args[0], MODES[args[1]] if len(args) == 2 else None)

    async def _subscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE,
                         rule_id: str, mode: DeliveryMode | None) -> None:
        rule = self._rule(rule_id)
        if rule is None:
            await self._reply(update, self._t(update, "unknown_rule", rule=rule_id))
            return
        mode = mode or rule.delivery
        new = await self._off_loop(self.store.subscribe, chat_id_of(update), rule.id, mode)
        await self._reply(update, self._t(update, "subscribed" if new else "mode_changed",
                                          name=rule.name, mode=mode))

    async def unsubscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = context.args or []
        if len(args) != 1:
            await self._reply(update, self._t(update, "usage_unsubscribe"))
            return
        await self._unsubscribe(update, context, args[0])

    async def _unsubscribe(self, update: Update, context: ContextTypes.DEFAULT_TYPE,
                           rule_id: str) -> None:
        if await self._off_loop(self.store.unsubscribe, chat_id_of(update), rule_id):
            rule = self._rule(rule_id)
            await self._reply(update, self._t(update, "unsubscribed",
                                              name=rule.name if rule else rule_id))
        else:
            await self._reply(update, self._t(update, "not_subscribed", rule=rule_id))

    async def list(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat_id = chat_id_of(update)
        subscriptions = await self._off_loop(self.store.subscriptions, chat_id)
        watches = await self._off_loop(self.store.watches, chat_id)
        if not subscriptions and not watches:
            await self._reply(update, self._t(update, "list_empty"))
            return
        names = {r.id: r.name for r in self.catalog.rules()}
        lines = [self._t(update, "list_head")]
        now = utc_now()
        zone = await self._chat_zone(chat_id)
        for sub in subscriptions:
            line = (f"• <code>{html.escape(sub.rule_id)}</code> "
                    f"{html.escape(names.get(sub.rule_id, '?'))} ({sub.mode})")
            if sub.spike:
                line += " " + self._t(update, "list_spike")
            if sub.muted_until is not None and sub.muted_until > now:
                line += " " + self._t(update, "list_muted",
                                      until=local_time(sub.muted_until, zone, named=True))
            if sub.follow_sources is not None:
                line += " " + self._t(update, "list_follow", n=sub.follow_sources)
            lines.append(line)
        if watches:
            lines.append(self._t(update, "list_watches"))
            lines.extend(f"{w.number}. <code>{html.escape(w.query)}</code>" for w in watches)
        subscriber = await self._off_loop(self.store.subscriber, chat_id)
        digest_time = subscriber.digest_time if subscriber else None
        if digest_time == "off":
            lines.append(self._t(update, "list_digest_off"))
        else:
            time_of_day = digest_time or self.default_digest[0]
            tz = (subscriber.digest_tz if subscriber else None) or self.default_digest[1]
            lines.append(self._t(update, "list_digest", time=time_of_day, tz=tz))
        if subscriber is not None and subscriber.quiet_start and subscriber.quiet_end:
            lines.append(self._t(update, "list_quiet", start=subscriber.quiet_start,
                                 end=subscriber.quiet_end, tz=str(zone)))
        await self._reply(update, "\n".join(lines))

    async def digest(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = context.args or []
        if args == ["off"]:
            await self._off_loop(self.store.set_digest_time, chat_id_of(update), "off", None)
            await self._reply(update, self._t(update, "digest_off"))
            return
        time_of_day = parse_clock(args[0]) if 1 <= len(args) <= 2 else None
        if time_of_day is None:
            await self._reply(update, self._t(update, "usage_digest"))
            return
        tz = args[1] if len(args) == 2 else self.default_digest[1]
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            await self._reply(update, self._t(update, "bad_tz", tz=tz))
            return
        await self._off_loop(self.store.set_digest_time, chat_id_of(update), time_of_day, tz)
        await self._reply(update, self._t(update, "digest_set", time=time_of_day, tz=tz))

    async def _typed_query(self, update: Update, usage: str) -> str | None:
        """The query after the command, or None once the user was told why not: missing, too
        long, not valid text, or not a valid query (with the caret)."""
        query = _command_argument(update)
        if not query:
            await self._reply(update, self._t(update, usage))
            return None
        if len(query) > MAX_QUERY_CHARS:
            await self._reply(update, self._t(update, "query_too_long", length=len(query),
                                              limit=MAX_QUERY_CHARS))
            return None
        if not _is_text(query):
            await self._reply(update, self._t(update, "invalid_text"))
            return None
        error = await self._off_loop(self.catalog.query_error, query)
        if error:
            language = self._language(update)
            where = f"{'Spalte' if language == 'de' else 'column'} {error.column}"
            caret = str(error).partition("\n")[2]
            shown = f"{query_error_text(error.message, language)} ({where})\n{caret}"
            await self._reply(update, self._t(update, "watch_error", error=shown))
            return None
        return query

    async def watch(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = await self._typed_query(update, "usage_watch")
        if query is None:
            return
        if len(await self._off_loop(self.store.watches, chat_id_of(update))) >= MAX_WATCHES:
            await self._reply(update, self._t(update, "too_many_watches", limit=MAX_WATCHES))
            return
        number = await self._off_loop(self.store.add_watch, chat_id_of(update), query)
        await self._reply(update, "\n".join([self._t(update, "watch_added", n=number,
                                                     query=query),
                                             *await self._hints(update, query)]))

    async def unwatch(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = context.args or []
        if len(args) != 1 or not args[0].isdigit() or len(args[0]) > 9:
            await self._reply(update, self._t(update, "usage_unwatch"))
            return
        removed = await self._off_loop(self.store.remove_watch, chat_id_of(update), int(args[0]))
        await self._reply(update, self._t(update, "watch_removed" if removed else "watch_unknown",
                                          n=args[0]))

    async def search(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = update.effective_chat
        query = await self._typed_query(update, "usage_search")
        if query is None:
            return
        if chat is not None:
            wait = self._last_search.get(chat.id, -SEARCH_EVERY_S) + SEARCH_EVERY_S \
                - time.monotonic()
            if wait > 0:
                await self._reply(update, self._t(update, "search_wait",
                                                  seconds=max(1, round(wait))))
                return
            self._last_search[chat.id] = time.monotonic()
        found = await self._off_loop(self.catalog.search, query, 10)
        lines = [self._t(update, "search_head" if found.articles else "search_none")]
        zone = await self._chat_zone(chat_id_of(update))
        for article in found.articles:
            title = linked(html.escape(article.title), article.url)
            lines.append(f"• {title} <i>({html.escape(article.source)}, "
                         f"{local_time(article.published, zone)})</i>")
        lines += await self._hints(update, query)
        if found.recent_days is not None:
            key = "search_no_index" if found.why == "no index" else "search_no_terms"
            lines.append(self._t(update, key, days=found.recent_days))
        await self._reply(update, "\n".join(lines))

    async def mute(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        args = context.args or []
        try:
            seconds = parse_duration(args[1], maximum=MAX_MUTE_S) if len(args) == 2 else None
        except ConfigError:
            seconds = None
        if seconds is None:
            await self._reply(update, self._t(update, "usage_mute"))
            return
        await self._mute(update, context, args[0], seconds)

    async def _mute(self, update: Update, context: ContextTypes.DEFAULT_TYPE, rule_id: str,
                    seconds: int) -> None:
        until = utc_now() + timedelta(seconds=seconds)
        if not await self._off_loop(self.store.mute, chat_id_of(update), rule_id, until):
            await self._reply(update, self._t(update, "not_subscribed", rule=rule_id))
            return
        rule = self._rule(rule_id)
        zone = await self._chat_zone(chat_id_of(update))
        await self._reply(update, self._t(update, "muted", name=rule.name if rule else rule_id,
                                          until=local_time(until, zone, named=True)))

    async def follow(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/follow RULE N: a new alert (one that pings) once a story has N sources; before,
        and without a threshold (/follow RULE off), more sources edit the alert silently."""
        args = context.args or []
        sources: int | None = None
        if len(args) != 2 or not (args[1] == "off" or (
                args[1].isdecimal() and 2 <= (sources := int(args[1])) <= MAX_FOLLOW_SOURCES)):
            await self._reply(update, self._t(update, "usage_follow"))
            return
        if args[1] == "off":
            sources = None
        if not await self._off_loop(self.store.follow, chat_id_of(update), args[0], sources):
            await self._reply(update, self._t(update, "not_subscribed", rule=args[0]))
            return
        rule = self._rule(args[0])
        name = rule.name if rule else args[0]
        await self._reply(update, self._t(update, "follow_off", name=name) if sources is None
                          else self._t(update, "follow_set", name=name, n=sources))

    async def quiet(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/quiet 22:00-07:00 in the chat's zone: alerts wait until the window ends."""
        argument = _command_argument(update)
        chat_id = chat_id_of(update)
        if argument == "off":
            await self._off_loop(self.store.set_quiet_hours, chat_id, None, None)
            await self._reply(update, self._t(update, "quiet_off"))
            return
        window = parse_quiet_hours(argument)
        if window is None:
            await self._reply(update, self._t(update, "usage_quiet"))
            return
        await self._off_loop(self.store.set_quiet_hours, chat_id, *window)
        zone = await self._chat_zone(chat_id)
        await self._reply(update, self._t(update, "quiet_set", start=window[0], end=window[1],
                                          tz=str(zone)))

    async def spike(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/spike RULE on|off: a subscription also hears when the rule's matches spike (its
        delivery mode stays as it is; a digest subscriber can be warned at once)."""
        args = context.args or []
        if len(args) != 2 or args[1].lower() not in ("on", "off"):
            await self._reply(update, self._t(update, "usage_spike"))
            return
        rule_id, on = args[0], args[1].lower() == "on"
        if not await self._off_loop(self.store.set_spike, chat_id_of(update), rule_id, on):
            await self._reply(update, self._t(update, "not_subscribed", rule=rule_id))
            return
        rule = self._rule(rule_id)
        await self._reply(update, self._t(update, "spike_on" if on else "spike_off",
                                          name=rule.name if rule else rule_id))

    async def stop(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._off_loop(self.store.forget_chat, chat_id_of(update))
        await self._reply(update, self._t(update, "stopped"))

    async def language(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """/language de|en: the chat's language (a group's for all its members)."""
        args = context.args or []
        if len(args) != 1 or args[0].lower() not in TEXTS:
            await self._reply(update, self._t(update, "usage_language"))
            return
        chat = update.effective_chat
        assert chat is not None              # the access check let a chat's command through
        self.chat_languages[chat.id] = chosen = args[0].lower()
        await self._off_loop(self.store.upsert_subscriber, chat.id, chat_type_of(chat),
                             chat.title or chat.full_name, chosen)
        await self._reply(update, self._t(update, "language_set"))

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        zone = await self._chat_zone(chat_id_of(update))
        stats = await self._off_loop(self.stats_text, self._language(update), zone.key)
        await self._reply(update, f"<pre>{html.escape(stats)}</pre>")

    async def reload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        summary = await self._off_loop(self.reload_rules, self._language(update))
        await self._reply(update, self._t(update, "reloaded", summary=summary))

    # ------------------------------------------------------------- buttons

    @staticmethod
    def _button_data(update: Update) -> str:
        """What follows the kind in a button's callback data ("sub:kim-putin" → "kim-putin")."""
        query = update.callback_query
        assert query is not None                # registered as CallbackQueryHandlers
        return (query.data or "").partition(":")[2]

    async def rules_page_button(self, update: Update,
                                context: ContextTypes.DEFAULT_TYPE) -> None:
        await self.rules(update, context, page=int(self._button_data(update)))

    async def subscribe_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._subscribe(update, context, self._button_data(update), None)

    async def unsubscribe_button(self, update: Update,
                                 context: ContextTypes.DEFAULT_TYPE) -> None:
        await self._unsubscribe(update, context, self._button_data(update))

    async def mute_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An alert's "mute for a day" ("mute:RULE:1d")."""
        rule_id, _, duration = self._button_data(update).rpartition(":")
        try:
            seconds = parse_duration(duration or "1d", maximum=MAX_MUTE_S)
        except ConfigError:
            seconds = None
        if not rule_id or seconds is None:
            await self.unknown_button(update, context)
            return
        await self._mute(update, context, rule_id, seconds)

    async def unknown_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Callback data this bot never made (forged, or from an old version): answered, so
        that the client stops waiting, and nothing else."""
        if update.callback_query is not None:
            await update.callback_query.answer()

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log every handler error (never the token) and tell the admins once per error."""
        log.error("bot handler failed: %s", context.error, exc_info=context.error)
        told = f"{type(context.error).__name__}: {context.error}"[:300]
        if told in self._errors_told:
            return
        self._errors_told.add(told)
        for admin in self.settings.admins:
            try:
                await context.bot.send_message(
                    admin, f"⚠️ Bot error: <code>{html.escape(repr(context.error))[:3000]}</code>",
                    parse_mode=ParseMode.HTML)
            except TelegramError:
                log.warning("could not tell admin %s about the error", admin)


def _is_text(value: str) -> bool:
    """False for strings with lone surrogates (Telegram's JSON can carry them), which
    SQLite and every encoder refuse."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _command_argument(update: Update) -> str:
    """Everything after the command, as typed (quotes and spaces kept for queries)."""
    message = update.effective_message
    text = (message.text or "") if message else ""
    return text.partition(" ")[2].strip()
