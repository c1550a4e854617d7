"""HTTP fetching with hard limits that reports trouble instead of raising.

One `Fetcher` holds one shared `httpx.AsyncClient` (connection pooling) and a semaphore that
bounds how many fetches run at once. Every fetch is limited in:

- time: httpx's connect/read/write timeouts, plus an overall deadline (`timeout_s`) around the
  whole fetch, because a server that drips one byte a second never trips a read timeout;
- size: `max_bytes`, checked against Content-Length before reading and against the bytes
  actually received *after* decompression, so a 10 kB gzip bomb stops at the cap. The body is
  decompressed here (gzip/deflate, the only encodings we ask for) with a bounded output size,
  so not even one network chunk is inflated past the cap;
- redirects: at most `max_redirects`, which also ends redirect loops.

`fetch` never raises for network or HTTP trouble: `FetchResult.error` holds a short reason
("HTTP 404 Not Found", "timed out after 20s", "connection refused", ...) that ends up as the
feed's last_error.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import zlib
from email.message import Message
from typing import Self

import httpx

from monitor.config import FetchConfig
from monitor.models import FetchResult

ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, "
          "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, "
          "application/json;q=0.8, text/html;q=0.7, */*;q=0.5")


class FetchError(Exception):
    """A fetch that must stop (body over the cap, undecodable body); the message is the reason."""


class Fetcher:
    """Async context manager around one shared httpx.AsyncClient with the configured limits."""

    def __init__(self, config: FetchConfig):
        self.config = config
        self._client: httpx.AsyncClient | None = None
        self._slots = asyncio.Semaphore(config.concurrency)

    async def __aenter__(self) -> Self:
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.config.timeout_s),
            limits=httpx.Limits(max_connections=self.config.concurrency,
                                max_keepalive_connections=self.config.concurrency),
            follow_redirects=True,
            max_redirects=self.config.max_redirects,
            headers={
                "User-Agent": self.config.user_agent,
                "Accept": ACCEPT,
                "Accept-Encoding": "gzip, deflate",
            },
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def fetch(self, url: str, etag: str | None = None,
                    last_modified: str | None = None) -> FetchResult:
        """GET `url`, conditionally when validators are given (304 → `not_modified`)."""
        if self._client is None:
            raise RuntimeError("use `async with Fetcher(config) as fetcher:`")
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        async with self._slots:
            try:
                async with asyncio.timeout(self.config.timeout_s):
                    return await self._get(url, headers)
            except TimeoutError:
                return _failed(url, f"timed out after {self.config.timeout_s:g}s")
            except FetchError as exc:
                return _failed(url, str(exc))
            except httpx.HTTPError as exc:
                return _failed(url, describe_http_error(exc, self.config))
            except (httpx.InvalidURL, ValueError) as exc:   # not httpx.HTTPError subclasses
                return _failed(url, f"invalid URL: {exc}")
            except OSError as exc:
                return _failed(url, f"network error: {exc}")

    async def _get(self, url: str, headers: dict[str, str]) -> FetchResult:
        assert self._client is not None
        async with self._client.stream("GET", url, headers=headers) as response:
            final_url = str(response.url)
            status = response.status_code
            if status == 304:
                return FetchResult(
                    url=url, status=304, final_url=final_url,
                    etag=response.headers.get("etag"),
                    last_modified=response.headers.get("last-modified"),
                )
            if not 200 <= status < 300:
                reason = response.reason_phrase or ""
                return FetchResult(url=url, status=status, final_url=final_url,
                                   error=f"HTTP {status} {reason}".strip())
            body = await read_capped(response, self.config.max_bytes)
            return FetchResult(
                url=url, status=status, body=body, final_url=final_url,
                content_type=response.headers.get("content-type"),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )


def _failed(url: str, reason: str) -> FetchResult:
    return FetchResult(url=url, status=None, error=reason)


async def read_capped(response: httpx.Response, max_bytes: int) -> bytes:
    """The decoded body, or FetchError as soon as it is known to exceed `max_bytes`."""
    declared = response.headers.get("content-length", "")
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if declared.isdigit() and int(declared) > max_bytes:
        raise FetchError(f"body too large: {int(declared):,} bytes announced, "
                         f"limit {max_bytes:,}")
    decoder = BoundedDecoder(encoding, max_bytes)
    async for chunk in response.aiter_raw():
        decoder.feed(chunk)
    return decoder.finish()


class BoundedDecoder:
    """Content-Encoding decoder that never produces more than `max_bytes` of output."""

    def __init__(self, encoding: str, max_bytes: int):
        if encoding in ("gzip", "x-gzip"):
            self._wbits: int | None = zlib.MAX_WBITS | 16
        elif encoding == "deflate":
            self._wbits = zlib.MAX_WBITS              # zlib-wrapped; raw deflate is tried too
        elif encoding in ("identity", ""):
            self._wbits = None
        else:
            raise FetchError(f"unsupported Content-Encoding {encoding!r}")
        self._encoding = encoding
        self._inflater = zlib.decompressobj(self._wbits) if self._wbits is not None else None
        self._may_be_raw_deflate = encoding == "deflate"
        self._max = max_bytes
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> None:
        if self._inflater is None:
            self._keep(chunk)
            return
        try:
            self._inflate(chunk)
        except zlib.error:          # only raised while raw deflate is still possible
            # Some servers send "deflate" without the zlib header: the first chunk tells.
            self._may_be_raw_deflate = False
            self._wbits = -zlib.MAX_WBITS
            self._inflater = zlib.decompressobj(self._wbits)
            self._inflate(chunk)
        self._may_be_raw_deflate = False

    def _inflate(self, data: bytes) -> None:
        assert self._inflater is not None and self._wbits is not None
        try:
            while data:
                self._keep(self._inflater.decompress(data, self._max - self._size + 1))
                data = self._inflater.unconsumed_tail
                if self._inflater.eof and self._inflater.unused_data.startswith(b"\x1f\x8b"):
                    data = self._inflater.unused_data      # another gzip member follows
                    self._inflater = zlib.decompressobj(self._wbits)
        except zlib.error as exc:
            if self._may_be_raw_deflate:
                raise
            raise FetchError(f"corrupt {self._encoding} body: {exc}") from exc

    def _keep(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > self._max:
            after = "" if self._inflater is None else " after decompression"
            raise FetchError(f"body too large: more than {self._max:,} bytes{after}")
        if data:
            self._parts.append(data)

    def finish(self) -> bytes:
        if self._inflater is not None:
            try:
                self._keep(self._inflater.flush())
            except zlib.error as exc:
                raise FetchError(f"corrupt {self._encoding} body: {exc}") from exc
        return b"".join(self._parts)


def describe_http_error(exc: httpx.HTTPError, config: FetchConfig) -> str:
    """A short, specific reason for an httpx error (its own message is often vague)."""
    if isinstance(exc, httpx.TooManyRedirects):
        return f"too many redirects (more than {config.max_redirects})"
    if isinstance(exc, httpx.TimeoutException):
        phase = {httpx.ConnectTimeout: "connecting", httpx.ReadTimeout: "waiting for data",
                 httpx.WriteTimeout: "sending", httpx.PoolTimeout: "waiting for a connection"}
        return f"timed out after {config.timeout_s:g}s {phase.get(type(exc), '')}".strip()
    if isinstance(exc, httpx.UnsupportedProtocol):
        return f"unsupported URL: {exc}"
    if isinstance(exc, httpx.InvalidURL):
        return f"invalid URL: {exc}"
    cause = _root_cause(exc)
    if isinstance(exc, httpx.ConnectError):
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, socket.gaierror):
            return f"host not found ({cause.strerror})"
        if isinstance(cause, ssl.SSLError):
            return f"TLS error: {cause.reason or cause}"
        return f"cannot connect: {cause or exc}"
    if isinstance(exc, httpx.RemoteProtocolError):
        return f"server broke the connection: {exc}"
    if isinstance(exc, httpx.DecodingError):
        return f"undecodable body: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _root_cause(exc: BaseException) -> BaseException | None:
    """The innermost specific OS error behind an httpx error (refused, DNS, TLS), if any."""
    seen: set[int] = set()
    pending: list[BaseException] = [exc]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (ConnectionRefusedError, socket.gaierror, ssl.SSLError)):
            return current
        if isinstance(current, BaseExceptionGroup):
            pending.extend(current.exceptions)
        for nested in (current.__cause__, current.__context__):
            if nested is not None:
                pending.append(nested)
    return None


def content_charset(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if any."""
    if not content_type:
        return None
    message = Message()
    message["content-type"] = content_type
    charset = message.get_content_charset()
    return charset or None
