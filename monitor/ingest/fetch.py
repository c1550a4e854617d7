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
feed's last_error (or an item's full_text_status).

Addresses. A configured feed URL is the operator's choice: `fetch(url, trusted=True)` fetches
it, and redirects that stay on its host and port, wherever they point (even 127.0.0.1).
Everything else comes from untrusted content: full-text pages (item links, `fetch(url)`) and
every redirect hop that leaves the feed's host and port (once left, never trusted again in
that chain). Those must be http(s) and go to public addresses only; loopback, private,
link-local, multicast, unspecified, reserved and other non-global addresses (also inside
IPv4-mapped, 6to4 and NAT64 IPv6 addresses) are refused with a reason such as "refused:
https://x.example/a resolves to 10.0.0.5, a private address (allow it with [fetch]
allow_networks)", unless [fetch] allow_networks covers the address. Redirects are followed
here, one hop at a time (`follow_redirects=False`), so that every hop is checked.

DNS rebinding: the check is made where the connection is opened, not on the URL string.
Untrusted requests use their own connection pool whose network backend resolves the name
itself, vets every address and connects to the vetted IP; httpcore then starts TLS over that
socket with the URL's host name, so SNI and certificate checks still use the name. There is no
second lookup that a hostile DNS server could answer differently, and a kept-alive connection
is only reused by requests that went through the same check. That pool never uses proxies from
the environment (a proxy would resolve the name itself, out of our sight).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import zlib
from collections.abc import Iterable
from email.message import Message
from typing import Self

import httpcore
import httpx

from monitor.config import FetchConfig
from monitor.errors import IngestError
from monitor.models import FetchResult

ACCEPT = ("application/rss+xml, application/atom+xml, application/feed+json, "
          "application/rdf+xml;q=0.9, application/xml;q=0.9, text/xml;q=0.9, "
          "application/json;q=0.8, text/html;q=0.7, */*;q=0.5")


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

SCHEMES = ("http", "https")
DEFAULT_PORTS = {"http": 80, "https": 443}
ALLOW_HINT = "allow it with [fetch] allow_networks"
NAT64 = ipaddress.ip_network("64:ff9b::/96")


class FetchError(IngestError):
    """A fetch that must stop (body over the cap, undecodable body); the message is the reason."""


class AddressRefused(IngestError):
    """Raised by the vetting network backend: `host` resolves to an address we do not fetch."""

    def __init__(self, host: str, address: IPAddress, kind: str):
        super().__init__(f"{host} resolves to {address}, {kind}")
        self.host, self.address, self.kind = host, address, kind


class AddressPolicy:
    """Which addresses untrusted URLs may reach: public ones, and those in `allow`."""

    def __init__(self, allow: Iterable[Network] = ()):
        self.allow = tuple(allow)

    def refusal(self, address: IPAddress) -> str | None:
        """None if `address` may be fetched, else what it is: "a loopback address", ...

        An IPv6 address that carries an IPv4 one (IPv4-mapped ::ffff:a.b.c.d, 6to4, NAT64)
        is judged by both: ::ffff:127.0.0.1 is loopback, and 127.0.0.0/8 in `allow` allows it.
        """
        candidates = [*_embedded_ipv4(address), address]
        if any(candidate in network for candidate in candidates for network in self.allow
               if candidate.version == network.version):
            return None
        for candidate in candidates:
            kind = address_kind(candidate)
            if kind is not None:
                return kind if candidate is address else f"which carries {candidate}, {kind}"
        return None


def address_kind(address: IPAddress) -> str | None:
    """What makes `address` non-public ("a private address", ...), None for a public one."""
    if address.is_unspecified:
        return "an unspecified address"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_multicast:
        return "a multicast address"
    if address.is_private:
        return "a private address"
    if address.is_reserved:
        return "a reserved address"
    if not address.is_global:                   # e.g. 100.64.0.0/10, shared address space
        return "a non-public address"
    return None


def _embedded_ipv4(address: IPAddress) -> list[ipaddress.IPv4Address]:
    if not isinstance(address, ipaddress.IPv6Address):
        return []
    found = [address.ipv4_mapped, address.sixtofour]
    if address in NAT64:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return [v4 for v4 in found if v4 is not None]


async def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses `host` resolves to (an IP literal is itself), without duplicates, in the
    resolver's order. socket.gaierror when it does not resolve. Tests replace this function."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses: list[IPAddress] = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0])
        if address not in addresses:
            addresses.append(address)
    return addresses


class VettingBackend(httpcore.AsyncNetworkBackend):
    """Opens TCP connections only to addresses the policy allows, to exactly the address it
    vetted: the name is resolved here, once, and the socket connects to the IP."""

    def __init__(self, policy: AddressPolicy):
        self.policy = policy
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await resolve(host, port)
        except TimeoutError as exc:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from exc
        except (socket.gaierror, UnicodeError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        for address in addresses:         # one bad address is enough: we may not pick it
            kind = self.policy.refusal(address)
            if kind is not None:
                raise AddressRefused(host, address, kind)
        error: httpcore.ConnectError | httpcore.ConnectTimeout | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(str(address), port, timeout,
                                                     local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        assert error is not None
        raise error

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are never used for untrusted URLs")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class VettedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport (request/response mapping, error types) over a connection pool of its
    own whose connections are all opened by a VettingBackend."""

    def __init__(self, policy: AddressPolicy, limits: httpx.Limits):
        super().__init__(limits=limits, trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=VettingBackend(policy),
        )


class Fetcher:
    """Async context manager around two httpx.AsyncClients with the configured limits: one for
    configured feed URLs (`trusted=True`), one whose connections are vetted (everything else)."""

    def __init__(self, config: FetchConfig):
        self.config = config
        self.policy = AddressPolicy(config.allow_networks)
        self._client: httpx.AsyncClient | None = None
        self._vetted: httpx.AsyncClient | None = None
        self._slots = asyncio.Semaphore(config.concurrency)

    async def __aenter__(self) -> Self:
        limits = httpx.Limits(max_connections=self.config.concurrency,
                              max_keepalive_connections=self.config.concurrency)
        timeout = httpx.Timeout(self.config.timeout_s)
        headers = {
            "User-Agent": self.config.user_agent,
            "Accept": ACCEPT,
            "Accept-Encoding": "gzip, deflate",
        }
        # Both clients: redirects are not followed by httpx but in _get, every hop checked.
        self._client = httpx.AsyncClient(limits=limits, timeout=timeout, headers=headers,
                                         follow_redirects=False)
        self._vetted = httpx.AsyncClient(transport=VettedTransport(self.policy, limits),
                                         trust_env=False, timeout=timeout, headers=headers,
                                         follow_redirects=False)
        return self

    async def __aexit__(self, *exc: object) -> None:
        clients, self._client, self._vetted = (self._client, self._vetted), None, None
        for client in clients:
            if client is not None:
                await client.aclose()

    async def fetch(self, url: str, etag: str | None = None, last_modified: str | None = None,
                    *, trusted: bool = False) -> FetchResult:
        """GET `url`, conditionally when validators are given (304 → `not_modified`).

        `trusted=True` only for a URL the operator configured (a feed): it and redirects on
        its host and port are fetched wherever they point. Otherwise (pages named by feeds)
        the URL and every redirect are checked: http(s) only, public addresses only unless
        allowed. A refusal is a `FetchResult.error` starting with "refused:", never raised.
        """
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
                    return await self._get(url, headers, trusted)
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

    async def _get(self, url: str, headers: dict[str, str], trusted: bool) -> FetchResult:
        """Follow redirects one hop at a time, each hop through the client it may use."""
        assert self._client is not None and self._vetted is not None
        current = httpx.URL(url)
        trusted_origin = _origin(current) if trusted else None
        shown, previous = url, None         # the URL as given, then each hop as followed
        for _hop in range(self.config.max_redirects + 1):
            refusal = scheme_refusal(current)
            if refusal is not None:
                raise FetchError(_refused(shown, previous, refusal))
            if trusted_origin is not None and _origin(current) != trusted_origin:
                trusted_origin = None                # left the feed's site: never trusted again
            client = self._client if trusted_origin is not None else self._vetted
            request = client.build_request("GET", current, headers=headers)
            try:
                response = await client.send(request, stream=True)
            except AddressRefused as exc:
                raise FetchError(_refused(shown, previous, f"resolves to {exc.address}, "
                                          f"{exc.kind} ({ALLOW_HINT})")) from None
            try:
                if response.next_request is None:
                    return await self._result(url, response)
            finally:
                await response.aclose()
            current = response.next_request.url
            previous, shown = shown, str(current)
        raise FetchError(f"too many redirects (more than {self.config.max_redirects})")

    async def _result(self, url: str, response: httpx.Response) -> FetchResult:
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


def scheme_refusal(url: httpx.URL) -> str | None:
    """Why `url` is never fetched whatever it resolves to (not http(s), no host), or None."""
    if not url.scheme:
        return "is not an absolute http:// or https:// URL"
    if url.scheme not in SCHEMES:
        return f"uses the {url.scheme}: scheme; only http and https are fetched"
    if not url.host:
        return "has no host"
    return None


def _origin(url: httpx.URL) -> tuple[str, int | None]:
    return url.host, url.port or DEFAULT_PORTS.get(url.scheme)


def _refused(url: str, previous: str | None, why: str) -> str:
    where = _short(url)
    if previous is not None:
        where += f" (redirected from {_short(previous)})"
    return f"refused: {where} {why}"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else f"{text[:limit - 1]}…"


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
        if str(exc).startswith("Invalid URL in location header"):
            return f"invalid redirect: {exc}"
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
