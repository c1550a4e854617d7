"""A local stand-in for the Telegram Bot API, for tests and benchmarks.

Real python-telegram-bot code talks HTTP to it exactly as it would to api.telegram.org
(`ApplicationBuilder().base_url(f"{server.url}/bot")`). It behaves like Telegram where it
matters to us:

- `getMe`, `getUpdates` long polling with `offset`/`timeout`, `deleteWebhook`,
  `setMyCommands`/`getMyCommands`, `sendMessage`, `editMessageText`, `answerCallbackQuery`,
  `getChatMember`, `getChat`;
- `editMessageText` like Telegram's: "message is not modified" for the same content, "message
  to edit not found" for a deleted message (`delete_message`), "message can't be edited";
  `sendMessage` answers a message (`reply_parameters`), "message to be replied not found"
  when it is gone unless `allow_sending_without_reply`;
- `sendMessage`/`editMessageText` validate HTML like Telegram (only its tags, balanced, known
  entities; "Bad Request: can't parse entities: ...") and the 4,096-character limit counted
  after entity parsing, in UTF-16 code units ("Bad Request: message is too long");
- Telegram's flood limits when `enforce_limits` is on: about 30 messages/s in all, 1/s per
  chat (a burst of 3 within a second tolerated), 20/min per group; over them a 429 with
  `retry_after`;
- injectable trouble: 429 storms, 5xx, slow answers, chats that blocked the bot (403), groups
  migrated to a supergroup (400 with `migrate_to_chat_id`).

Tests play the users: `user_message(...)` and `press_button(...)` queue updates that the bot
receives through `getUpdates`; `messages_to(chat_id)` shows what the bot sent.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

TOKEN = "123456789:TEST-token_for-the-local-bot-api"
BOT_ID = 123456789

ALLOWED_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre",
                "span", "tg-spoiler", "blockquote", "tg-emoji"}
NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_TOKEN = re.compile(r"<(/?)([^\s>/]*)([^>]*)>|&(#x[0-9a-fA-F]+|#[0-9]+|[a-zA-Z]+);|[<&]")


class EntityError(ValueError):
    pass


def parse_html(text: str) -> str:
    """Telegram's HTML parse mode: return the plain text or raise EntityError with its wording."""
    out: list[str] = []
    stack: list[str] = []
    pos = 0
    for match in _TOKEN.finditer(text):
        out.append(text[pos:match.start()])
        pos = match.end()
        offset = len(text[:match.start()].encode("utf-8"))
        closing, name, attrs, entity = (match.group(1), match.group(2), match.group(3),
                                        match.group(4))
        if match.group(0) in ("<", "&"):
            if match.group(0) == "&":
                out.append("&")  # a lone ampersand is taken literally by Telegram
                continue
            raise EntityError(f"Unexpected end of name token at byte offset {offset}")
        if entity is not None:
            if entity.startswith("#x"):
                out.append(chr(int(entity[2:], 16)))
            elif entity.startswith("#"):
                out.append(chr(int(entity[1:])))
            elif entity in NAMED_ENTITIES:
                out.append(NAMED_ENTITIES[entity])
            else:
                raise EntityError(f'Unsupported HTML entity "&{entity};" at byte offset {offset}')
            continue
        name = name.lower()
        if closing:
            if not stack:
                raise EntityError(f'Unexpected end tag at byte offset {offset}')
            if stack[-1] != name:
                raise EntityError(
                    f'Unmatched end tag at byte offset {offset}, expected "</{stack[-1]}>", '
                    f'found "</{name}>"')
            stack.pop()
            continue
        if name not in ALLOWED_TAGS:
            raise EntityError(f'Unsupported start tag "{name}" at byte offset {offset}')
        if name == "a" and "href=" not in attrs:
            raise EntityError(f"Can't find href in a tag at byte offset {offset}")
        stack.append(name)
    out.append(text[pos:])
    if stack:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{stack[-1]}"')
    return "".join(out)


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Sent:
    chat_id: int
    message_id: int
    text: str          # as sent (markup included)
    plain: str         # after entity parsing
    parse_mode: str | None
    reply_markup: dict | None
    at: float
    edits: list[str] = field(default_factory=list)
    reply_to: int | None = None     # the message it answers
    silent: bool = False            # sent with disable_notification
    deleted: bool = False           # a user deleted it (delete_message)


def _reply_to(params: dict) -> tuple[int, bool] | None:
    """(message id, allow_sending_without_reply) of a send that answers a message."""
    reply = params.get("reply_parameters")
    if isinstance(reply, str):
        reply = json.loads(reply)
    if reply:
        return int(reply["message_id"]), bool(reply.get("allow_sending_without_reply"))
    if params.get("reply_to_message_id"):
        return (int(params["reply_to_message_id"]),
                str(params.get("allow_sending_without_reply")).lower() == "true")
    return None


class BotAPIError(Exception):
    def __init__(self, code: int, description: str, parameters: dict | None = None):
        super().__init__(description)
        self.code, self.description, self.parameters = code, description, parameters


class FakeBotAPI:
    """The server's state and behaviour; `serve()` puts it on 127.0.0.1."""

    def __init__(self, token: str = TOKEN, *, enforce_limits: bool = True):
        self.token = token
        self.enforce_limits = enforce_limits
        self.lock = threading.Condition()
        self.updates: list[dict] = []
        self.next_update_id = 1
        self.sent: list[Sent] = []
        self.next_message_id = 1
        self.commands: list[dict] = []
        self.callback_answers: list[dict] = []
        self.calls: list[str] = []
        self.blocked: set[int] = set()
        self.migrated: dict[int, int] = {}
        self.uneditable: set[tuple[int, int]] = set()    # (chat, message): "can't be edited"
        self.chat_types: dict[int, str] = {}
        self.group_admins: dict[int, set[int]] = defaultdict(set)
        self.injected: deque[tuple[str, float]] = deque()
        self.delay_s = 0.0
        self.rejected_429 = 0
        self._recent_all: deque[float] = deque()
        self._recent_chat: dict[int, deque[float]] = defaultdict(deque)
        self._httpd: ThreadingHTTPServer | None = None

    # ------------------------------------------------------------ test controls

    @property
    def url(self) -> str:
        assert self._httpd is not None
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def serve(self) -> FakeBotAPI:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                code, payload = api.handle(self.path, self.headers.get("Content-Type", ""), body)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a long poll cancelled at shutdown)

            do_GET = do_POST

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def close(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def inject(self, kind: str, value: float = 0, times: int = 1) -> None:
        """Make the next `times` sends fail: kind '429' (value = retry_after), '500', 'slow'
        (value = s)."""
        with self.lock:
            self.injected.extend([(kind, value)] * times)

    def user_message(self, chat_id: int, text: str, *, user_id: int | None = None,
                     chat_type: str = "private", language_code: str = "de",
                     title: str | None = None) -> None:
        """A user (or channel post) sends `text` to the bot."""
        user_id = chat_id if user_id is None else user_id
        chat: dict[str, Any] = {"id": chat_id, "type": chat_type}
        if chat_type == "private":
            chat["first_name"] = f"User{user_id}"
        else:
            chat["title"] = title or f"Chat {chat_id}"
        message: dict[str, Any] = {"message_id": self._message_id(), "date": int(time.time()),
                                   "chat": chat, "text": text}
        if text.startswith("/"):
            command = text.split()[0]
            message["entities"] = [{"type": "bot_command", "offset": 0,
                                    "length": utf16_len(command)}]
        kind = "channel_post" if chat_type == "channel" else "message"
        if chat_type != "channel":
            message["from"] = {"id": user_id, "is_bot": False, "first_name": f"User{user_id}",
                               "language_code": language_code}
        self.chat_types[chat_id] = chat_type
        self._queue({kind: message})

    def press_button(self, sent: Sent, data: str, *, user_id: int | None = None,
                     language_code: str = "de") -> None:
        user_id = sent.chat_id if user_id is None else user_id
        self._queue({"callback_query": {
            "id": str(self._message_id()), "chat_instance": str(sent.chat_id), "data": data,
            "from": {"id": user_id, "is_bot": False, "first_name": f"User{user_id}",
                     "language_code": language_code},
            "message": {"message_id": sent.message_id, "date": int(sent.at),
                        "chat": {"id": sent.chat_id,
                                 "type": self.chat_types.get(sent.chat_id, "private")},
                        "text": sent.plain},
        }})

    def delete_message(self, chat_id: int, message_id: int) -> None:
        """A user deletes a message: editing it is "message to edit not found" from now on."""
        with self.lock:
            for sent in self.sent:
                if sent.chat_id == chat_id and sent.message_id == message_id:
                    sent.deleted = True

    def messages_to(self, chat_id: int) -> list[Sent]:
        with self.lock:
            return [s for s in self.sent if s.chat_id == chat_id]

    def wait_for(self, predicate, timeout: float = 10.0) -> bool:
        """Wait until predicate(self) holds (checked whenever something was sent)."""
        deadline = time.monotonic() + timeout
        with self.lock:
            while not predicate(self):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.lock.wait(min(remaining, 0.05))
            return True

    # ------------------------------------------------------------ the API

    def handle(self, path: str, content_type: str, body: bytes) -> tuple[int, dict]:
        match = re.fullmatch(r"/bot([^/]+)/(\w+)", path.split("?")[0])
        if not match:
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        token, method = match.groups()
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        params = _params(content_type, body)
        with self.lock:
            self.calls.append(method)
        handler = getattr(self, f"api_{method}", None)
        if handler is None:
            return 404, {"ok": False, "error_code": 404,
                         "description": "Not Found: method not found"}
        try:
            return 200, {"ok": True, "result": handler(params)}
        except BotAPIError as exc:
            payload: dict[str, Any] = {"ok": False, "error_code": exc.code,
                                       "description": exc.description}
            if exc.parameters:
                payload["parameters"] = exc.parameters
            return exc.code, payload

    def api_getMe(self, params: dict) -> dict:  # noqa: N802 (Bot API names)
        return {"id": BOT_ID, "is_bot": True, "first_name": "Monitor",
                "username": "monitor_test_bot",
                "can_join_groups": True, "can_read_all_group_messages": False,
                "supports_inline_queries": False}

    def api_deleteWebhook(self, params: dict) -> bool:  # noqa: N802
        return True

    def api_setMyCommands(self, params: dict) -> bool:  # noqa: N802
        with self.lock:
            self.commands = params.get("commands") or []
        return True

    def api_getMyCommands(self, params: dict) -> list:  # noqa: N802
        return self.commands

    def api_getUpdates(self, params: dict) -> list:  # noqa: N802
        offset = int(params.get("offset") or 0)
        timeout = float(params.get("timeout") or 0)
        limit = int(params.get("limit") or 100)
        deadline = time.monotonic() + timeout
        with self.lock:
            if offset:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
            while not self.updates and time.monotonic() < deadline:
                self.lock.wait(min(0.05, deadline - time.monotonic()))
            return list(self.updates[:limit])

    def api_getChatMember(self, params: dict) -> dict:  # noqa: N802
        chat_id, user_id = int(params["chat_id"]), int(params["user_id"])
        status = "administrator" if user_id in self.group_admins[chat_id] else "member"
        if status == "administrator":
            return {"status": status, "user": {"id": user_id, "is_bot": False, "first_name": "A"},
                    "can_be_edited": False, "is_anonymous": False, "can_manage_chat": True,
                    "can_delete_messages": True, "can_manage_video_chats": True,
                    "can_restrict_members": True, "can_promote_members": False,
                    "can_change_info": True, "can_invite_users": True, "can_post_stories": False,
                    "can_edit_stories": False, "can_delete_stories": False}
        return {"status": status, "user": {"id": user_id, "is_bot": False, "first_name": "M"}}

    def api_getChat(self, params: dict) -> dict:  # noqa: N802
        chat_id = int(params["chat_id"])
        return {"id": chat_id, "type": self.chat_types.get(chat_id, "private"),
                "accent_color_id": 0, "max_reaction_count": 11}

    def api_answerCallbackQuery(self, params: dict) -> bool:  # noqa: N802
        with self.lock:
            self.callback_answers.append(params)
        return True

    def api_sendMessage(self, params: dict) -> dict:  # noqa: N802
        chat_id = int(params["chat_id"])
        self._trouble(chat_id)
        text, plain = self._checked_text(params)
        if self.enforce_limits:
            self._flood_limits(chat_id)
        reply_to = _reply_to(params)
        if reply_to is not None and not reply_to[1] and not any(
                s.chat_id == chat_id and s.message_id == reply_to[0] and not s.deleted
                for s in self.messages_to(chat_id)):
            raise BotAPIError(400, "Bad Request: message to be replied not found")
        with self.lock:
            sent = Sent(chat_id, self._message_id(), text, plain, params.get("parse_mode"),
                        params.get("reply_markup"), time.time(),
                        reply_to=reply_to[0] if reply_to else None,
                        silent=str(params.get("disable_notification")).lower() == "true")
            self.sent.append(sent)
            self.lock.notify_all()
        return self._message(sent)

    def api_editMessageText(self, params: dict) -> dict:  # noqa: N802
        """Like Telegram: the same trouble and limits as a send; a deleted message is "not
        found", one made uneditable "can't be edited", the same content "not modified"."""
        chat_id, message_id = int(params["chat_id"]), int(params["message_id"])
        self._trouble(chat_id)
        text, plain = self._checked_text(params)
        if (chat_id, message_id) in self.uneditable:
            raise BotAPIError(400, "Bad Request: message can't be edited")
        if self.enforce_limits:
            self._flood_limits(chat_id)
        with self.lock:
            for sent in self.sent:
                if (sent.chat_id == chat_id and sent.message_id == message_id
                        and not sent.deleted):
                    if sent.plain == plain and sent.reply_markup == params.get("reply_markup"):
                        raise BotAPIError(400, "Bad Request: message is not modified: specified "
                                          "new message content and reply markup are exactly the "
                                          "same as a current content and reply markup of the "
                                          "message")
                    sent.edits.append(text)
                    sent.text, sent.plain = text, plain
                    sent.reply_markup = params.get("reply_markup")
                    self.lock.notify_all()
                    return self._message(sent)
        raise BotAPIError(400, "Bad Request: message to edit not found")

    # ------------------------------------------------------------ internals

    def _checked_text(self, params: dict) -> tuple[str, str]:
        text = params.get("text", "")
        plain = text
        if params.get("parse_mode") == "HTML":
            try:
                plain = parse_html(text)
            except EntityError as exc:
                raise BotAPIError(400, f"Bad Request: can't parse entities: {exc}") from None
        if not plain.strip():
            raise BotAPIError(400, "Bad Request: message text is empty")
        if utf16_len(plain) > 4096:
            raise BotAPIError(400, "Bad Request: message is too long")
        return text, plain

    def _trouble(self, chat_id: int) -> None:
        """Injected failures first, then the chat's state (flood limits come after validation)."""
        with self.lock:
            kind, value = self.injected.popleft() if self.injected else ("", 0.0)
        if kind == "slow" or self.delay_s:
            time.sleep(value or self.delay_s)
        if kind == "429":
            with self.lock:
                self.rejected_429 += 1
            raise BotAPIError(429, f"Too Many Requests: retry after {int(value)}",
                              {"retry_after": int(value)})
        if kind == "500":
            raise BotAPIError(500, "Internal Server Error")
        if chat_id in self.migrated:
            raise BotAPIError(400, "Bad Request: group chat was upgraded to a supergroup chat",
                              {"migrate_to_chat_id": self.migrated[chat_id]})
        if chat_id in self.blocked:
            raise BotAPIError(403, "Forbidden: bot was blocked by the user")

    def _flood_limits(self, chat_id: int) -> None:
        now = time.monotonic()
        group = self.chat_types.get(chat_id) in ("group", "supergroup") or chat_id < 0
        with self.lock:
            overall = self._recent_all
            while overall and now - overall[0] >= 1.0:
                overall.popleft()
            recent = self._recent_chat[chat_id]
            window, allowed = (60.0, 20) if group else (1.0, 1)
            while recent and now - recent[0] >= window:
                recent.popleft()
            wait = 0.0
            if len(overall) >= 30:
                wait = max(wait, 1.0 - (now - overall[0]))
            burst = allowed if group else 3
            if len(recent) >= burst:
                wait = max(wait, window - (now - recent[0]))
            if wait > 0:
                self.rejected_429 += 1
                retry = max(1, math.ceil(wait))
                raise BotAPIError(429, f"Too Many Requests: retry after {retry}",
                                  {"retry_after": retry})
            overall.append(now)
            recent.append(now)

    def _queue(self, update: dict) -> None:
        with self.lock:
            update["update_id"] = self.next_update_id
            self.next_update_id += 1
            self.updates.append(update)
            self.lock.notify_all()

    def _message_id(self) -> int:
        with self.lock:
            self.next_message_id += 1
            return self.next_message_id

    def _message(self, sent: Sent) -> dict:
        return {"message_id": sent.message_id, "date": int(sent.at),
                "chat": {"id": sent.chat_id, "type": self.chat_types.get(sent.chat_id, "private")},
                "from": {"id": BOT_ID, "is_bot": True, "first_name": "Monitor"},
                "text": sent.plain}


def _params(content_type: str, body: bytes) -> dict[str, Any]:
    """PTB posts form fields whose complex values are JSON; accept JSON bodies too."""
    if not body:
        return {}
    if content_type.startswith("application/json"):
        return json.loads(body)
    params: dict[str, Any] = {}
    for key, value in parse_qsl(body.decode("utf-8"), keep_blank_values=True):
        if key in ("reply_markup", "commands", "allowed_updates", "link_preview_options",
                   "entities", "scope"):
            params[key] = json.loads(value)
        else:
            params[key] = value
    return params
