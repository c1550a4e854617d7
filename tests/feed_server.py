"""A real HTTP server on 127.0.0.1 for feed tests: fixture files, content published at run
time, and the ways real servers fail.

    with FeedServer(fixtures_dir) as server:
        url = server.publish("/news.xml", rss_bytes)        # serve (or replace) content
        server.url("/files/rss2.xml")                         # a file from fixtures_dir
        server.url("/_status/503")                            # failure modes, see below

It runs in a background thread on a random port; every request is recorded in
`server.requests` (path and headers) so tests can check what the client sent.

Published content and files are served with an ETag and a Last-Modified header and answer
conditional requests with 304. Failure modes (all under "/_"):

| path                          | behaviour                                                     |
| ---                           | ---                                                           |
| /_status/CODE                 | that status code with a short text body                       |
| /_drip                        | 200 and a feed's first bytes, then one byte every 50 ms forever |
| /_stall                       | accepts the request, never answers                            |
| /_huge?mb=N                   | N MiB of data, announced in Content-Length (default 100)      |
| /_huge-unannounced?mb=N       | N MiB of data without Content-Length                          |
| /_gzip-bomb                   | ~100 kB gzip body (Content-Encoding: gzip) inflating to 100 MiB |
| /_redirect-loop               | 302 → /_redirect-loop/b → 302 → /_redirect-loop …           |
| /_redirect/N/PATH             | N redirects, then PATH                                         |
| /_close                       | closes the connection without answering                       |
| /_delay/MS/PATH               | waits MS milliseconds, then serves PATH                        |

`server.max_in_flight` is the largest number of requests it was answering at once.
"""

from __future__ import annotations

import hashlib
import threading
import time
import zlib
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import parse_qs, urlsplit

DEFAULT_LAST_MODIFIED = "Wed, 01 Jan 2025 00:00:00 GMT"
DRIP_INTERVAL_S = 0.05
BOMB_MIB = 100
_MIB = 1024 * 1024

_FILE_TYPES = {
    ".xml": "application/xml", ".rss": "application/rss+xml", ".atom": "application/atom+xml",
    ".rdf": "application/rdf+xml", ".json": "application/feed+json",
    ".html": "text/html; charset=utf-8", ".opml": "text/x-opml",
}
_gzip_bomb: bytes | None = None
_gzip_bomb_lock = threading.Lock()


def gzip_bomb() -> bytes:
    """A gzip body of BOMB_MIB MiB of zeros (about 1000:1), built once per process."""
    global _gzip_bomb
    with _gzip_bomb_lock:
        if _gzip_bomb is None:
            compressor = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS | 16)
            zeros = bytes(_MIB)
            parts = [compressor.compress(zeros) for _ in range(BOMB_MIB)]
            _gzip_bomb = b"".join(parts) + compressor.flush()
        return _gzip_bomb


@dataclass
class Resource:
    """Content served at one path."""

    body: bytes
    content_type: str | None
    status: int = 200
    etag: str | None = None
    last_modified: str | None = DEFAULT_LAST_MODIFIED
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]


class FeedServer:
    """The server; use as a context manager, or start() and stop()."""

    def __init__(self, fixtures: Path | None = None):
        self.fixtures = fixtures
        self.requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._resources: dict[str, Resource] = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FeedServer:
        handler = type("BoundHandler", (_Handler,), {"feed_server": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # ------------------------------------------------------------------ content

    def publish(self, path: str, body: bytes | str,
                content_type: str | None = "application/rss+xml; charset=utf-8", *,
                status: int = 200, etag: str | None | bool = True,
                last_modified: str | None = DEFAULT_LAST_MODIFIED,
                headers: dict[str, str] | None = None) -> str:
        """Serve `body` at `path` from now on (replacing what was there); returns its URL.

        etag=True derives a strong ETag from the body, so replacing the content changes it.
        """
        data = body.encode("utf-8") if isinstance(body, str) else body
        if etag is True:
            etag = '"' + hashlib.sha1(data).hexdigest()[:16] + '"'
        with self._lock:
            self._resources[path] = Resource(data, content_type, status, etag or None,
                                             last_modified, dict(headers or {}))
        return self.url(path)

    def publish_file(self, path: str, fixture: str, content_type: str | None = None,
                     **options: object) -> str:
        """Serve a file of the fixtures folder at `path`."""
        assert self.fixtures is not None, "FeedServer was created without a fixtures folder"
        file = self.fixtures / fixture
        content_type = content_type or _FILE_TYPES.get(file.suffix, "application/octet-stream")
        return self.publish(path, file.read_bytes(), content_type, **options)  # type: ignore[arg-type]

    def remove(self, path: str) -> None:
        with self._lock:
            self._resources.pop(path, None)

    def resource(self, path: str) -> Resource | None:
        with self._lock:
            found = self._resources.get(path)
        if found is None and self.fixtures is not None and path.startswith("/files/"):
            file = (self.fixtures / path.removeprefix("/files/")).resolve()
            if file.is_file() and file.is_relative_to(self.fixtures.resolve()):
                data = file.read_bytes()
                found = Resource(data, _FILE_TYPES.get(file.suffix, "application/octet-stream"),
                                 etag='"' + hashlib.sha1(data).hexdigest()[:16] + '"')
        return found

    def hits(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if urlsplit(r.path).path == path]

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def leave(self) -> None:
        with self._lock:
            self.in_flight -= 1


class _Handler(BaseHTTPRequestHandler):
    feed_server: FeedServer
    protocol_version = "HTTP/1.1"
    server_version = "FeedServer/1"

    def log_message(self, format: str, *args: object) -> None:   # keep test output quiet
        pass

    def do_GET(self) -> None:
        server = self.feed_server
        server.record(Request(self.path, {k.lower(): v for k, v in self.headers.items()}))
        server.enter()
        try:
            self._answer(self.path)
        finally:
            server.leave()

    def _answer(self, target: str) -> None:
        parts = urlsplit(target)
        path, query = parts.path, parse_qs(parts.query)
        if path.startswith("/_delay/"):
            _, _, milliseconds, rest = path.split("/", 3)
            time.sleep(int(milliseconds) / 1000)
            self._answer("/" + rest)
            return
        if path.startswith("/_"):
            self._failure_mode(path, query)
            return
        resource = self.feed_server.resource(path)
        if resource is None:
            self._send(404, b"not found", "text/plain")
            return
        if self._not_modified(resource):
            self.send_response(304)
            if resource.etag:
                self.send_header("ETag", resource.etag)
            if resource.last_modified:
                self.send_header("Last-Modified", resource.last_modified)
            self.end_headers()
            return
        extra = dict(resource.headers)
        if resource.etag:
            extra["ETag"] = resource.etag
        if resource.last_modified:
            extra["Last-Modified"] = resource.last_modified
        self._send(resource.status, resource.body, resource.content_type, extra)

    def _not_modified(self, resource: Resource) -> bool:
        if resource.status != 200:
            return False
        if_none_match = self.headers.get("If-None-Match")
        if if_none_match is not None:
            return resource.etag is not None and resource.etag in {
                tag.strip() for tag in if_none_match.split(",")}
        if_modified_since = self.headers.get("If-Modified-Since")
        if if_modified_since is None or resource.last_modified is None:
            return False
        try:
            return (parsedate_to_datetime(if_modified_since)
                    >= parsedate_to_datetime(resource.last_modified))
        except (TypeError, ValueError):
            return False

    def _send(self, status: int, body: bytes, content_type: str | None,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    # ------------------------------------------------------------ failure modes

    def _failure_mode(self, path: str, query: dict[str, list[str]]) -> None:
        server = self.feed_server
        megabytes = int(query.get("mb", [str(BOMB_MIB)])[0])
        if path.startswith("/_status/"):
            code = int(path.rsplit("/", 1)[1])
            self._send(code, f"status {code}".encode(), "text/plain")
        elif path == "/_drip":
            self._drip()
        elif path == "/_stall":
            server.stopping.wait()
            self.close_connection = True
        elif path == "/_huge":
            self._stream_padding(megabytes * _MIB, announce=True)
        elif path == "/_huge-unannounced":
            self._stream_padding(megabytes * _MIB, announce=False)
        elif path == "/_gzip-bomb":
            self._send(200, gzip_bomb(), "application/rss+xml", {"Content-Encoding": "gzip"})
        elif path.startswith("/_redirect-loop"):
            target = "/_redirect-loop" if path.endswith("/b") else "/_redirect-loop/b"
            self._redirect(target)
        elif path.startswith("/_redirect/"):
            _, _, count, rest = path.split("/", 3)
            remaining = int(count) - 1
            self._redirect(f"/_redirect/{remaining}/{rest}" if remaining > 0 else f"/{rest}")
        elif path == "/_close":
            self.close_connection = True
            self.connection.shutdown(2)
        else:
            self._send(404, b"unknown failure mode", "text/plain")

    def _redirect(self, target: str) -> None:
        self.send_response(302)
        self.send_header("Location", target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _drip(self) -> None:
        """Headers at once, then the body a byte at a time, never finishing."""
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        stream = b'<?xml version="1.0"?><rss version="2.0"><channel><title>drip</title>'
        position = 0
        try:
            while not self.feed_server.stopping.is_set():
                self.wfile.write(stream[position % len(stream):position % len(stream) + 1])
                self.wfile.flush()
                position += 1
                time.sleep(DRIP_INTERVAL_S)
        except OSError:
            pass              # the client gave up, as it should

    def _stream_padding(self, size: int, *, announce: bool) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        if announce:
            self.send_header("Content-Length", str(size))
        else:
            self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        chunk = b"<!-- padding -->" * 4096
        sent = 0
        try:
            while sent < size and not self.feed_server.stopping.is_set():
                piece = chunk[:size - sent]
                self.wfile.write(piece)
                sent += len(piece)
        except OSError:
            pass
