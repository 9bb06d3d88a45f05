"""A local stand-in for a notify.run endpoint on 127.0.0.1.

It speaks what notify-run speaks (a form POST with `message` and `action` to the channel
URL) and records each post. It can be told to answer 500 or 429, to hang, or be replaced
by `closed_port_url()` for an endpoint that is down. It runs in its own thread so it
answers whatever the test's event loop is doing.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


@dataclass(frozen=True)
class Post:
    """One push as the endpoint received it."""

    path: str
    message: str
    action: str | None


class FakeNotifyRun:
    """Record pushes; `status` and `hang` decide how the next requests are answered."""

    def __init__(self) -> None:
        self.posts: list[Post] = []
        self.attempts = 0
        self.held = 0
        self.status = 200
        self.retry_after: str | None = None
        self._failures: list[int] = []
        self._release = threading.Event()
        self._release.set()
        self._changed = threading.Condition()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def url(self) -> str:
        """The channel endpoint, shaped like https://notify.run/<channel>."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/c/testchannel"

    @property
    def messages(self) -> list[str]:
        """The messages received, in order."""
        return [post.message for post in self.posts]

    def fail_next(self, count: int, status: int, retry_after: str | None = None) -> None:
        """Answer the next `count` requests with `status` (then `self.status` again)."""
        self._failures = [status] * count
        self.retry_after = retry_after

    def hang(self) -> None:
        """Hold every request open until `release()` (a hanging endpoint); `held` counts them."""
        self._release.clear()

    def release(self) -> None:
        """Let held requests, and all later ones, be answered."""
        self._release.set()

    def wait_for_posts(self, count: int, timeout: float = 30.0) -> list[Post]:
        """Block until `count` pushes were recorded (for tests that cannot flush)."""
        with self._changed:
            self._changed.wait_for(lambda: len(self.posts) >= count, timeout)
        return list(self.posts)

    def __enter__(self) -> FakeNotifyRun:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def _answer(self, path: str, body: bytes) -> tuple[int, dict[str, str]]:
        with self._changed:
            self.held += 1
        self._release.wait()
        with self._changed:
            self.held -= 1
            self.attempts += 1
            if self._failures:
                return self._failures.pop(), self._failure_headers()
            if self.status != 200:
                return self.status, self._failure_headers()
            fields = parse_qs(body.decode(), keep_blank_values=True)
            action = fields.get("action", [None])[0]
            self.posts.append(Post(path, fields.get("message", [""])[0], action))
            self._changed.notify_all()
        return 200, {}

    def _failure_headers(self) -> dict[str, str]:
        return {"Retry-After": self.retry_after} if self.retry_after else {}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, headers = fake._answer(self.path, body)
                payload = b"{}" if status == 200 else b'{"error": "fake"}'
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:
                """Keep test output quiet."""

        return Handler


def closed_port_url() -> str:
    """An endpoint URL on 127.0.0.1 where nothing listens (a notify.run that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/c/testchannel"
