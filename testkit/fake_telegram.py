"""A local stand-in for the Telegram Bot API, so the real python-telegram-bot client runs in tests.

It speaks the real protocol on 127.0.0.1: requests to `/bot<token>/<method>` as JSON, form or
multipart bodies; answers `{"ok": true, "result": ...}` or Telegram's error shape; `getUpdates`
long-polls with offsets; files are downloaded from `/file/bot<token>/<file_path>`; files the bot
sends (sendPhoto, sendDocument up to Telegram's 50 MB) are kept in `uploads`. Tests act as
users by pushing updates and read what the bot sent from `calls` and `sent`.

It keeps the rules bots trip over, with Telegram's own errors: an edit that changes nothing is
"message is not modified"; a callback query is answered once, within CALLBACK_ANSWER_WITHIN
seconds; a text holds at most 4096 characters, a caption 1024, callback_data 64 bytes; a reply
to a message the user deleted needs allow_sending_without_reply; a user who blocked the bot
gives 403; a chat sent more than about a message a second gives 429 with retry_after; getFile
refuses files over 20 MB.

After setWebhook, updates are POSTed to the bot instead (getUpdates answers 409, as Telegram
does), at most `max_connections` at a time, each with the secret token header; an update
leaves the queue only when the bot answers 2xx, otherwise it is delivered again a moment
later.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

import aiohttp
from aiohttp import web
from PIL import Image

BOT_ID = 424242
BOT_USERNAME = "digit_cluster_test_bot"

_SENDING_METHODS = {"sendMessage", "sendPhoto", "sendDocument"}
WEBHOOK_RETRY = 0.2  # seconds before an update the webhook did not accept is posted again
MAX_TEXT = 4096  # UTF-16 code units, as Telegram counts
MAX_CAPTION = 1024
MAX_CALLBACK_DATA = 64  # bytes
MAX_DOWNLOAD = 20 * 1024 * 1024  # getFile's limit for bots
CALLBACK_ANSWER_WITHIN = 15.0  # seconds before a callback query is too old to answer
# One chat: a burst of CHAT_BURST messages, then about one a second.
CHAT_BURST = 20
CHAT_RATE = 1.0
NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup are "
    "exactly the same as a current content and reply markup of the message"
)
QUERY_TOO_OLD = "Bad Request: query is too old and response timeout expired or query ID is invalid"
UPLOAD_LIMIT = 50_000_000  # bytes: Telegram refuses a larger file from a bot (413)
_TRUE_METHODS = {
    "setMyCommands",
    "sendChatAction",
    "deleteMessage",
    "close",
    "logOut",
}


@dataclass(frozen=True)
class Upload:
    """A file in a multipart request: its bytes, and the name and type the client gave it."""

    data: bytes
    filename: str
    content_type: str


@dataclass
class Call:
    """One request the bot made: method name, decoded parameters, uploaded files, and when it
    arrived (time.monotonic), so tests can measure the bot's waits between retries."""

    method: str
    params: dict[str, Any]
    files: dict[str, Upload] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    status: int
    description: str
    retry_after: int | None
    remaining: int


class FakeTelegram:
    """The Bot API server for one bot token; use `async with FakeTelegram(token) as tg:`."""

    def __init__(self, token: str, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.token = token
        self.host = host
        self.port = port
        self.calls: list[Call] = []
        self.sent: dict[int, list[dict[str, Any]]] = {}
        self.uploads: dict[str, bytes] = {}
        self._files: dict[str, str] = {}  # file_id -> file_path
        self._paths: dict[str, bytes] = {}  # file_path -> bytes
        self._updates: list[dict[str, Any]] = []
        self._from_users: dict[tuple[int, int], dict[str, Any]] = {}
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._file_ids = itertools.count(1)
        self._failures: dict[str, _Failure] = {}
        self._delays: dict[str, float] = {}
        # Who waits for what: resolved by `_notify` after every change. (An asyncio.Condition
        # made every request queue behind a hundred waiters re-taking its lock under load.)
        self._waiters: dict[asyncio.Future[None], Callable[[], bool]] = {}
        self._stopped = False
        self._runner: web.AppRunner | None = None
        self._webhook: dict[str, Any] | None = None
        self._posting: set[int] = set()
        self._posts: set[asyncio.Task[None]] = set()
        self._deliverer: asyncio.Task[None] | None = None
        self.webhook_failures = 0  # deliveries the bot did not accept (each is retried)
        self.languages: dict[int, str] = {}  # user id -> the language_code their Telegram sends
        self.blocked: set[int] = set()  # users who blocked the bot (private chat id = user id)
        self._queries: dict[str, float] = {}  # callback queries not answered yet: when pressed
        self._deleted: set[tuple[int, int]] = set()  # users' messages they deleted
        self._chat_budget: dict[int, tuple[float, float]] = {}  # chat -> (tokens, at)
        self.chat_burst = CHAT_BURST

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """The root to give the bot as TELEGRAM_API_BASE_URL."""
        return f"http://{self.host}:{self.port}"

    async def start(self) -> str:
        """Listen on a free loopback port and return the base URL."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._handle_file)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = self._runner.addresses[0][1]
        return self.base_url

    async def stop(self) -> None:
        """Close the server; long polls in flight end with an empty answer."""
        self._stopped = True
        self._notify()
        if self._deliverer is not None:
            for task in [self._deliverer, *self._posts]:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._deliverer
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- acting as users ----------------------------------------------------------------------

    def send_text(self, user_id: int, chat_id: int, text: str) -> int:
        """A user types `text`; a leading /command gets the bot_command entity Telegram adds."""
        extra: dict[str, Any] = {"text": text}
        if text.startswith("/"):
            length = len(text.split()[0])
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        return self.send_message(user_id, chat_id, **extra)

    def send_photo_from_user(
        self, user_id: int, chat_id: int, data: bytes, *, width: int = 280, height: int = 280
    ) -> int:
        """A user sends a compressed photo; Telegram would offer several sizes, we offer one."""
        file_id = self.add_file(data, "photos/file.jpg")
        size = {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data)}
        return self.send_message(
            user_id, chat_id, photo=[size | {"width": width, "height": height}]
        )

    def send_document_from_user(
        self,
        user_id: int,
        chat_id: int,
        data: bytes,
        *,
        file_name: str,
        mime_type: str,
        file_size: int | None = None,
    ) -> int:
        """A user sends a file; `file_size` can claim a size different from the bytes."""
        file_id = self.add_file(data, f"documents/{file_name}")
        document = {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_name": file_name,
            "mime_type": mime_type,
            "file_size": len(data) if file_size is None else file_size,
        }
        return self.send_message(user_id, chat_id, document=document)

    def send_message(self, user_id: int, chat_id: int, **content: Any) -> int:
        """A user sends any message (sticker, voice...): `content` holds its Bot API fields."""
        message_id = next(self._message_ids)
        message = {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": f"user{user_id}"},
            "from": self._user(user_id),
            **content,
        }
        self._from_users[(chat_id, message_id)] = message
        self.push_update({"message": message})
        return message_id

    def press_button(self, user_id: int, chat_id: int, message_id: int, data: str) -> str:
        """A user presses an inline button with callback_data `data` under the bot's message."""
        query_id = f"cq{next(self._update_ids)}"
        self._queries[query_id] = time.monotonic()
        message = self.message(chat_id, message_id) or {
            "message_id": message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
        }
        query = {
            "id": query_id,
            "from": self._user(user_id),
            "chat_instance": str(chat_id),
            "message": message,
            "data": data,
        }
        self.push_update({"callback_query": query})
        return query_id

    def delete_message_of_user(self, chat_id: int, message_id: int) -> None:
        """The user deletes their message: a reply to it then needs allow_sending_without_reply."""
        self._deleted.add((chat_id, message_id))

    def _user(self, user_id: int) -> dict[str, Any]:
        """The `from` of a user's update, with their language_code if `languages` has one."""
        user: dict[str, Any] = {"id": user_id, "is_bot": False, "first_name": f"user{user_id}"}
        if user_id in self.languages:
            user["language_code"] = self.languages[user_id]
        return user

    def push_update(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Queue an update (an update_id is added) for the next getUpdates; returns it."""
        update = {"update_id": next(self._update_ids), **payload}
        self._queue(update)
        return update

    def redeliver(self, chat_id: int, message_id: int) -> dict[str, Any]:
        """Deliver a user's message again under a new update_id, as Telegram does after a crash."""
        return self.push_update({"message": self._from_users[(chat_id, message_id)]})

    def _queue(self, update: dict[str, Any]) -> None:
        self._updates.append(update)
        self._notify()

    def add_file(self, data: bytes, path: str) -> str:
        """Make `data` downloadable through getFile; returns its file_id."""
        file_id = f"file{next(self._file_ids)}"
        self._files[file_id] = f"{file_id}/{path}"
        self._paths[self._files[file_id]] = data
        return file_id

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        description: str = "Too Many Requests: retry after 1",
        retry_after: int | None = 1,
        times: int = 1,
    ) -> None:
        """Answer the next `times` calls of `method` with a Telegram-shaped error."""
        self._failures[method] = _Failure(status, description, retry_after, times)

    def delay_next(self, method: str, seconds: float) -> None:
        """Answer the next call of `method` only after `seconds`, like a slow Telegram."""
        self._delays[method] = seconds

    # -- reading what the bot did ----------------------------------------------------------------

    def calls_of(self, method: str) -> list[Call]:
        """Every call of `method` so far, oldest first."""
        return [call for call in self.calls if call.method == method]

    def unconfirmed(self) -> set[tuple[int, int]]:
        """(chat, message_id) of the users' messages still held for the bot: not yet confirmed
        by a later getUpdates offset or a 2xx webhook answer, so they would be delivered again."""
        return {
            (update["message"]["chat"]["id"], update["message"]["message_id"])
            for update in self._updates
            if "message" in update
        }

    def message(self, chat_id: int, message_id: int) -> dict[str, Any] | None:
        """The bot's message `message_id` in `chat_id` as it is now (after edits)."""
        for message in self.sent.get(chat_id, []):
            if message["message_id"] == message_id:
                return message
        return None

    async def wait_for_replies(
        self, chat_id: int, n: int, within: float = 20.0
    ) -> list[dict[str, Any]]:
        """Wait until the bot has sent at least `n` messages to `chat_id`; returns all of them."""
        await self.wait_until(lambda: len(self.sent.get(chat_id, [])) >= n, within)
        return list(self.sent[chat_id])

    async def wait_for_calls(self, method: str, n: int, within: float = 20.0) -> list[Call]:
        """Wait until the bot has called `method` at least `n` times."""
        await self.wait_until(lambda: len(self.calls_of(method)) >= n, within)
        return self.calls_of(method)

    async def wait_until(self, condition: Callable[[], bool], within: float = 20.0) -> None:
        """Wait until `condition()` holds; TimeoutError says what was seen meanwhile."""
        if not await self._wait(condition, within):
            seen = [call.method for call in self.calls[-20:]]
            raise TimeoutError(f"condition not met in {within}s; last calls: {seen}")

    # -- the HTTP side ---------------------------------------------------------------------------

    async def _wait(self, condition: Callable[[], bool], within: float) -> bool:
        """True once `condition()` holds; False after `within` seconds or when stopped."""
        if condition():
            return True
        woken = asyncio.get_running_loop().create_future()
        self._waiters[woken] = condition
        try:
            async with asyncio.timeout(within):
                await woken
        except TimeoutError:
            return False
        finally:
            self._waiters.pop(woken, None)
        return condition()

    def _notify(self) -> None:
        """Something changed: wake the waiters whose condition now holds (all, once stopped)."""
        for woken, condition in list(self._waiters.items()):
            if not woken.done() and (self._stopped or condition()):
                woken.set_result(None)

    async def _handle_file(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        data = self._paths.get(request.match_info["path"])
        if data is None:
            return _error(404, "Not Found: file not found")
        return web.Response(body=data, content_type="application/octet-stream")

    async def _handle_method(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != self.token:
            return _error(401, "Unauthorized")
        method = request.match_info["method"]
        params, files = await _read_params(request)
        self.calls.append(Call(method, params, files))
        if method == "getUpdates":
            self._notify()  # a long poll is under way: who waits for it need not wait it out
        delay = self._delays.pop(method, None)
        if delay is not None:
            await asyncio.sleep(delay)
        response = await self._answer(method, params, files)
        self._notify()
        return response

    async def _answer(
        self, method: str, params: dict[str, Any], files: dict[str, Upload]
    ) -> web.Response:
        failure = self._failures.get(method)
        if failure is not None and failure.remaining > 0:
            failure.remaining -= 1
            return _error(failure.status, failure.description, failure.retry_after)
        if method == "getUpdates":
            if self._webhook is not None:
                return _error(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
            return _ok(await self._get_updates(params))
        handler = getattr(self, f"_api_{method}", None)
        if handler is not None:
            return await handler(params, files)
        if method in _TRUE_METHODS:
            return _ok(True)
        return _error(404, "Not Found: method not found")

    async def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        limit = int(params.get("limit") or 100)
        timeout = float(params.get("timeout") or 0)
        self._updates = [u for u in self._updates if u["update_id"] >= offset]
        if not self._updates and timeout > 0:
            await self._wait(lambda: bool(self._updates), timeout)
        return sorted(self._updates, key=lambda u: u["update_id"])[:limit]

    async def _api_setWebhook(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> web.Response:
        self._webhook = {
            "url": params["url"],
            "secret_token": params.get("secret_token"),
            "max_connections": int(params.get("max_connections") or 40),
        }
        if params.get("drop_pending_updates"):
            self._updates.clear()
        if self._deliverer is None:
            self._deliverer = asyncio.create_task(self._deliver())
        return _ok(True)

    async def _api_deleteWebhook(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> web.Response:
        self._webhook = None
        if params.get("drop_pending_updates"):
            self._updates.clear()
        return _ok(True)

    async def _deliver(self) -> None:
        """POST queued updates to the webhook while one is set, oldest first."""
        async with aiohttp.ClientSession() as http:
            while True:
                hook, update = self._webhook, self._next_to_post()
                if hook is None or update is None:
                    await self._wait(lambda: self._next_to_post() is not None, within=1.0)
                    continue
                self._posting.add(update["update_id"])
                post = asyncio.create_task(self._post_update(http, hook, update))
                self._posts.add(post)
                post.add_done_callback(self._posts.discard)

    def _next_to_post(self) -> dict[str, Any] | None:
        """The oldest update not being posted, while a webhook is set and has a free
        connection."""
        hook = self._webhook
        if hook is None or len(self._posting) >= hook["max_connections"]:
            return None
        waiting = [u for u in self._updates if u["update_id"] not in self._posting]
        return min(waiting, key=lambda u: u["update_id"], default=None)

    async def _post_update(
        self, http: aiohttp.ClientSession, hook: dict[str, Any], update: dict[str, Any]
    ) -> None:
        headers = {}
        if hook["secret_token"]:
            headers["X-Telegram-Bot-Api-Secret-Token"] = hook["secret_token"]
        try:
            async with http.post(hook["url"], json=update, headers=headers) as response:
                accepted = 200 <= response.status < 300
        except (aiohttp.ClientError, OSError):
            accepted = False
        if accepted:
            self._updates = [u for u in self._updates if u is not update]
        else:
            self.webhook_failures += 1
            await asyncio.sleep(WEBHOOK_RETRY)
        self._posting.discard(update["update_id"])
        self._notify()

    async def _api_getMe(self, params: dict[str, Any], files: dict[str, Upload]) -> web.Response:
        return _ok(
            {
                "id": BOT_ID,
                "is_bot": True,
                "first_name": "Digit Cluster",
                "username": BOT_USERNAME,
                "can_join_groups": False,
                "can_read_all_group_messages": False,
                "supports_inline_queries": False,
            }
        )

    async def _api_getFile(self, params: dict[str, Any], files: dict[str, Upload]) -> web.Response:
        file_id = str(params.get("file_id"))
        if file_id not in self._files:
            return _error(400, "Bad Request: invalid file_id")
        path = self._files[file_id]
        data = self._paths[path]
        if len(data) > MAX_DOWNLOAD:
            return _error(400, "Bad Request: file is too big")
        return _ok(
            {
                "file_id": file_id,
                "file_unique_id": f"u{file_id}",
                "file_size": len(data),
                "file_path": path,
            }
        )

    async def _api_sendMessage(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> web.Response:
        return self._record_sent(params, {"text": params.get("text", "")})

    async def _api_sendPhoto(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> web.Response:
        upload = files.get("photo")
        if upload is None:
            return _error(400, "Bad Request: there is no photo in the request")
        size = self._keep_upload(upload.data, "photos/sent.png")
        width, height = _image_size(upload.data)
        return self._record_sent(params, {"photo": [size | {"width": width, "height": height}]})

    async def _api_sendDocument(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> web.Response:
        upload = files.get("document")
        if upload is None:
            return _error(400, "Bad Request: there is no document in the request")
        if len(upload.data) > UPLOAD_LIMIT:
            return _error(413, "Request Entity Too Large")
        document = self._keep_upload(upload.data, f"documents/{upload.filename}")
        document |= {"file_name": upload.filename, "mime_type": upload.content_type}
        return self._record_sent(params, {"document": document})

    def _keep_upload(self, data: bytes, path: str) -> dict[str, Any]:
        """Keep a file the bot sent (in `uploads`, and downloadable); its fields as Telegram
        describes it."""
        file_id = self.add_file(data, path)
        self.uploads[file_id] = data
        return {"file_id": file_id, "file_unique_id": f"u{file_id}", "file_size": len(data)}

    async def _api_editMessageText(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> web.Response:
        if _length(params.get("text", "")) > MAX_TEXT:
            return _error(400, "Bad Request: MESSAGE_TOO_LONG")
        return self._edit(params, {"text": params.get("text", "")})

    async def _api_editMessageCaption(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> web.Response:
        if _length(params.get("caption", "")) > MAX_CAPTION:
            return _error(400, "Bad Request: MESSAGE_TOO_LONG")
        return self._edit(params, {"caption": params.get("caption", "")})

    async def _api_answerCallbackQuery(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> web.Response:
        pressed = self._queries.pop(str(params.get("callback_query_id")), None)
        if pressed is None or time.monotonic() - pressed > CALLBACK_ANSWER_WITHIN:
            return _error(400, QUERY_TOO_OLD)
        if _length(params.get("text", "")) > 200:
            return _error(400, "Bad Request: MESSAGE_TOO_LONG")
        return _ok(True)

    async def _api_editMessageReplyMarkup(
        self, params: dict[str, Any], files: dict[str, Upload]
    ) -> web.Response:
        return self._edit(params, {})

    def _record_sent(self, params: dict[str, Any], content: dict[str, Any]) -> web.Response:
        chat_id = int(params["chat_id"])
        refused = self._refusal(chat_id, params, content)
        if refused is not None:
            return refused
        message = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": BOT_ID, "is_bot": True, "first_name": "Digit Cluster"},
            **content,
        }
        if "caption" in params:
            message["caption"] = params["caption"]
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        replied = (params.get("reply_parameters") or {}).get("message_id")
        if replied is not None and (chat_id, int(replied)) not in self._deleted:
            message["reply_to_message_id"] = replied
        self.sent.setdefault(chat_id, []).append(message)
        return _ok(message)

    def _refusal(
        self, chat_id: int, params: dict[str, Any], content: dict[str, Any]
    ) -> web.Response | None:
        """Telegram's error for a message it would not send, or None."""
        if chat_id in self.blocked:
            return _error(403, "Forbidden: bot was blocked by the user")
        if _length(content.get("text", "")) > MAX_TEXT:
            return _error(400, "Bad Request: message is too long")
        if _length(params.get("caption", "")) > MAX_CAPTION:
            return _error(400, "Bad Request: message caption is too long")
        markup = params.get("reply_markup") or {}
        for row in markup.get("inline_keyboard", []):
            for button in row:
                if len(str(button.get("callback_data", "")).encode()) > MAX_CALLBACK_DATA:
                    return _error(400, "Bad Request: BUTTON_DATA_INVALID")
        reply = params.get("reply_parameters") or {}
        if (chat_id, int(reply.get("message_id", 0))) in self._deleted and not reply.get(
            "allow_sending_without_reply"
        ):
            return _error(400, "Bad Request: message to be replied not found")
        wait = self._spend(chat_id)
        if wait:
            return _error(429, f"Too Many Requests: retry after {wait}", retry_after=wait)
        return None

    def _spend(self, chat_id: int) -> int:
        """Take one message from the chat's budget; the whole seconds to wait if it is empty."""
        now = time.monotonic()
        tokens, at = self._chat_budget.get(chat_id, (float(self.chat_burst), now))
        tokens = min(float(self.chat_burst), tokens + (now - at) * CHAT_RATE)
        if tokens < 1:
            self._chat_budget[chat_id] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / CHAT_RATE))
        self._chat_budget[chat_id] = (tokens - 1, now)
        return 0

    def _edit(self, params: dict[str, Any], changes: dict[str, Any]) -> web.Response:
        message = self.message(int(params.get("chat_id", 0)), int(params.get("message_id", 0)))
        if message is None:
            return _error(400, "Bad Request: message to edit not found")
        markup = params.get("reply_markup") or None
        if all(message.get(k) == v for k, v in changes.items()) and markup == message.get(
            "reply_markup"
        ):
            return _error(400, NOT_MODIFIED)
        message.update(changes)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        else:
            message.pop("reply_markup", None)
        message["edit_date"] = int(time.time())
        return _ok(message)


async def _read_params(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
    """Decode a Bot API request the way Telegram does: JSON, urlencoded or multipart."""
    params: dict[str, Any] = dict(request.query)
    files: dict[str, Upload] = {}
    if request.content_type == "application/json":
        params |= await request.json()
        return params, files
    if request.content_type == "multipart/form-data":
        reader = await request.multipart()
        async for part in reader:
            if not isinstance(part, aiohttp.BodyPartReader):
                continue  # a nested multipart: Telegram's requests have none
            if part.filename is not None:
                content_type = part.headers.get("Content-Type", "application/octet-stream")
                files[part.name or ""] = Upload(
                    bytes(await part.read()), part.filename, content_type
                )
            else:
                params[part.name or ""] = await part.text()
    elif request.can_read_body:
        params |= dict(await request.post())
    # Form fields carry JSON for structured values (reply_markup, commands...), like Telegram reads.
    return {key: _maybe_json(value) for key, value in params.items()}, files


def _image_size(data: bytes) -> tuple[int, int]:
    """Width and height of an uploaded picture, (0, 0) when it is not one Pillow can read."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.size
    except (OSError, ValueError):
        return 0, 0


def _maybe_json(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(("[", "{")):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


def _error(status: int, description: str, retry_after: int | None = None) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
    if retry_after is not None:
        body["parameters"] = {"retry_after": retry_after}
    return web.json_response(body, status=status)


def _length(text: object) -> int:
    """A text's length as Telegram counts it: UTF-16 code units."""
    return len(str(text).encode("utf-16-le")) // 2
