"""What untrusted URLs may reach (issue #14, part 3).

Feeds are configured by the operator and fetched wherever they point; the pages their items
link to and every redirect off the feed's host and port come from the feed's content and must
be http(s) on public addresses, unless [fetch] allow_networks allows the address. The servers
here are on 127.0.0.1 (FeedServer) and 127.0.0.2 (PageServer below: Linux routes all of
127.0.0.0/8 to lo), so "internal" is loopback, and the allowed cases allow it explicitly.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
import ssl
import subprocess
import threading
from dataclasses import replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from monitor.config import Config, FeedConfig, FetchConfig
from monitor.ingest import fetch as fetch_module
from monitor.ingest.fetch import AddressPolicy, Fetcher
from monitor.ingest.poll import fill_full_text, full_text_status, poll_feeds
from monitor.models import Feed, RawItem
from monitor.pipeline import Pipeline
from tests.feed_server import FeedServer
from tests.ingest.conftest import FEEDS, TEST_FETCH

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
HINT = "(allow it with [fetch] allow_networks)"
SECRET = "SECRET-4711 internal payroll figures"
SECRET_PAGE = (FEEDS / "article.html").read_text(encoding="utf-8").replace(
    "North Korean leader Kim Jong Un", f"{SECRET}: North Korean leader Kim Jong Un")


class PageServer:
    """A minimal HTTP server on any loopback address: published pages and redirects, every
    request recorded (path, Host header)."""

    def __init__(self, host: str = "127.0.0.2"):
        self.host = host
        self.hits: list[tuple[str, str]] = []
        self.pages: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                server.hits.append((self.path, self.headers.get("Host", "")))
                status, body, headers = server.pages.get(self.path, (404, b"not found", {}))
                self.send_response(status)
                for name, value in {"Content-Length": str(len(body)), **headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

        self._httpd = ThreadingHTTPServer((host, 0), Handler)
        self._httpd.daemon_threads = True
        self.port = self._httpd.server_address[1]
        threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def page(self, path: str, html: str) -> str:
        self.pages[path] = (200, html.encode(), {"Content-Type": "text/html; charset=utf-8"})
        return self.url(path)

    def redirect(self, path: str, location: str) -> str:
        self.pages[path] = (302, b"", {"Location": location})
        return self.url(path)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def internal():
    """A server on 127.0.0.2 holding a page that must not leak."""
    server = PageServer("127.0.0.2")
    server.page("/secret", SECRET_PAGE)
    yield server
    server.close()


@pytest.fixture
def other_port():
    """A second feed server on 127.0.0.1, another port."""
    with FeedServer(FEEDS) as server:
        yield server


def allowing(*networks: str, **limits) -> Fetcher:
    return Fetcher(replace(TEST_FETCH, allow_networks=networks, **limits))


def teaser(url: str | None) -> RawItem:
    return RawItem(title="Kim and Putin sign a cooperation agreement", text="Short teaser.",
                   url=url, guid="tag:example.com,2024:kim")


def feed(name: str, url: str) -> Feed:
    return Feed(name=name, url=url, id=1)


@pytest.fixture
def fake_dns(monkeypatch):
    """Names resolved by a table instead of the system resolver; counts lookups per name."""
    table: dict[str, list[list[str]]] = {}
    lookups: dict[str, int] = {}
    system = fetch_module.resolve

    async def resolve(host: str, port: int):
        if host not in table:
            return await system(host, port)
        answers = table[host]
        answer = answers[min(lookups.get(host, 0), len(answers) - 1)]
        lookups[host] = lookups.get(host, 0) + 1
        return [ipaddress.ip_address(a) for a in answer]

    monkeypatch.setattr(fetch_module, "resolve", resolve)
    return table, lookups


# ------------------------------------------------------------------------ full-text pages

async def test_an_item_linking_to_an_internal_address_is_refused_and_nothing_is_fetched(
        internal, fetcher):
    url = internal.url("/secret")

    [(item, reason)] = await fill_full_text([teaser(url)], fetcher)

    assert reason == f"refused: {url} resolves to 127.0.0.2, a loopback address {HINT}"
    assert full_text_status(reason) == f"failed: {reason}"
    assert item.text == "Short teaser." and SECRET not in item.text
    assert internal.hits == []                      # not even a request was sent


async def test_the_same_link_is_fetched_when_the_operator_allows_the_network(internal):
    async with allowing("127.0.0.0/8") as fetcher:
        [(item, reason)] = await fill_full_text([teaser(internal.url("/secret"))], fetcher)

    assert reason is None and SECRET in item.text
    assert [path for path, _ in internal.hits] == ["/secret"]


async def test_a_link_to_the_feed_servers_own_address_is_refused_too(feed_server, fetcher):
    # Trust goes to the configured feed URL, not to whatever its items link to.
    url = feed_server.url("/files/article.html")

    [(_, reason)] = await fill_full_text([teaser(url)], fetcher)

    assert reason == f"refused: {url} resolves to 127.0.0.1, a loopback address {HINT}"
    assert feed_server.hits("/files/article.html") == []


async def test_an_allowed_network_allows_only_itself(internal):
    async with allowing("127.0.0.1/32", "10.0.0.0/8") as fetcher:
        [(_, reason)] = await fill_full_text([teaser(internal.url("/secret"))], fetcher)

    assert reason is not None and reason.endswith(f"a loopback address {HINT}")
    assert internal.hits == []


@pytest.mark.parametrize("url, why", [
    ("file:///etc/passwd", "uses the file: scheme; only http and https are fetched"),
    ("ftp://ftp.example.com/pub/file.txt", "uses the ftp: scheme; only http and https are fetched"),
    ("gopher://127.0.0.1:70/_GET%20/", "uses the gopher: scheme; only http and https are fetched"),
    ("javascript:alert(1)", "uses the javascript: scheme; only http and https are fetched"),
    ("data:text/html,<p>x</p>", "uses the data: scheme; only http and https are fetched"),
    ("//127.0.0.2/secret", "is not an absolute http:// or https:// URL"),
    ("/secret", "is not an absolute http:// or https:// URL"),
    ("http:///secret", "has no host"),
])
async def test_only_http_and_https_links_are_fetched(fetcher, url, why):
    [(item, reason)] = await fill_full_text([teaser(url)], fetcher)

    assert reason == f"refused: {url} {why}"
    assert item.text == "Short teaser."


@pytest.mark.parametrize("allow", [(), ("0.0.0.0/0", "::/0")])
async def test_other_schemes_are_refused_whatever_is_allowed(allow):
    async with allowing(*allow) as fetcher:
        result = await fetcher.fetch("file:///etc/passwd")
        as_feed = await fetcher.fetch("gopher://127.0.0.1:70/", trusted=True)

    assert result.error == ("refused: file:///etc/passwd uses the file: scheme; only http and "
                            "https are fetched")
    assert as_feed.error is not None and "uses the gopher: scheme" in as_feed.error


async def test_a_name_that_resolves_to_loopback_is_refused(feed_server, fetcher):
    url = feed_server.url("/files/article.html").replace("127.0.0.1", "localhost")

    [(_, reason)] = await fill_full_text([teaser(url)], fetcher)

    assert reason is not None
    assert re.fullmatch(rf"refused: {re.escape(url)} resolves to (127\.0\.0\.1|::1), "
                        rf"a loopback address {re.escape(HINT)}", reason), reason
    assert feed_server.hits("/files/article.html") == []

    async with allowing("127.0.0.0/8", "::1/128") as allowed:
        [(item, reason)] = await fill_full_text([teaser(url)], allowed)
    assert reason is None and "satellite technology" in item.text


# httpx leaves these hosts as they are; the system resolver reads 2130706433, 0x7f.1, 127.1
# and 0x7f000001 as 127.0.0.1 (inet_aton), and the check sees that address, not the string.
LOOPBACK_SPELLINGS = ["2130706433", "0x7f.1", "127.1", "0x7f000001", "127.000.000.001"]


@pytest.mark.parametrize("host", LOOPBACK_SPELLINGS)
async def test_numeric_spellings_of_loopback_are_resolved_and_refused(feed_server, fetcher,
                                                                      host):
    url = feed_server.url("/files/article.html").replace("127.0.0.1", host)

    result = await fetcher.fetch(url)

    if host == "127.000.000.001":       # httpx itself rejects leading zeros (octal?)
        assert result.error is not None and result.error.startswith("invalid URL")
    else:
        assert result.error == f"refused: {url} resolves to 127.0.0.1, a loopback address {HINT}"
    assert feed_server.hits("/files/article.html") == []


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "127.1"])
async def test_numeric_spellings_reach_the_same_server_when_allowed(feed_server, host):
    url = feed_server.url("/files/article.html").replace("127.0.0.1", host)
    async with allowing("127.0.0.0/8") as fetcher:
        result = await fetcher.fetch(url)

    assert result.ok, result.error


@pytest.mark.parametrize("url, address, kind", [
    ("http://0177.0.0.1/", None, "invalid URL"),                       # httpx refuses octal
    ("http://0.0.0.0:8080/", "0.0.0.0", "an unspecified address"),
    ("http://0/", "0.0.0.0", "an unspecified address"),
    ("http://[::]/", "::", "an unspecified address"),
    ("http://[::1]/", "::1", "a loopback address"),
    ("http://[::ffff:127.0.0.1]/", "::ffff:127.0.0.1",
     "which carries 127.0.0.1, a loopback address"),
    ("http://[::ffff:7f00:2]/", "::ffff:127.0.0.2", "which carries 127.0.0.2, a loopback address"),
    ("http://[::ffff:10.0.0.5]/", "::ffff:10.0.0.5", "which carries 10.0.0.5, a private address"),
    ("http://[64:ff9b::7f00:1]/", "64:ff9b::7f00:1",
     "which carries 127.0.0.1, a loopback address"),
    ("http://[2002:7f00:1::]/", "2002:7f00:1::", "which carries 127.0.0.1, a loopback address"),
    ("http://10.0.0.5/", "10.0.0.5", "a private address"),
    ("http://172.16.3.4/", "172.16.3.4", "a private address"),
    ("http://192.168.1.1/", "192.168.1.1", "a private address"),
    ("http://[fd12::1]/", "fd12::1", "a private address"),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "a link-local address"),
    ("http://[fe80::1]/", "fe80::1", "a link-local address"),
    ("http://224.0.0.1/", "224.0.0.1", "a multicast address"),
    ("http://[ff02::1]/", "ff02::1", "a multicast address"),
    ("http://240.0.0.1/", "240.0.0.1", "a private address"),        # 240/4 is both in Python
    ("http://100.64.0.1/", "100.64.0.1", "a non-public address"),   # carrier-grade NAT
])
async def test_every_non_public_kind_of_address_is_refused(fetcher, url, address, kind):
    result = await fetcher.fetch(url)

    if address is None:
        assert result.error is not None and result.error.startswith(kind)
    else:             # ::ffff:127.0.0.1 is shown as ::ffff:7f00:1 before Python 3.13
        shown = ipaddress.ip_address(address)
        assert result.error == f"refused: {url} resolves to {shown}, {kind} {HINT}"
    assert result.status is None and result.body == b""


def test_the_policy_judges_addresses_and_allows_mapped_forms_through_their_ipv4():
    policy = AddressPolicy([ipaddress.ip_network("127.0.0.0/8")])
    ip = ipaddress.ip_address
    assert policy.refusal(ip("127.0.0.2")) is None
    assert policy.refusal(ip("::ffff:127.0.0.2")) is None
    assert policy.refusal(ip("::1")) == "a loopback address"
    assert policy.refusal(ip("8.8.8.8")) is None
    assert policy.refusal(ip("2001:4860:4860::8888")) is None
    assert policy.refusal(ip("::ffff:8.8.8.8")) is not None       # mapped: never a public route
    assert AddressPolicy().refusal(ip("255.255.255.255")) is not None


async def test_a_name_resolving_to_a_private_address_is_refused_with_a_clear_reason(
        fake_dns, fetcher):
    table, _ = fake_dns
    table["x.example"] = [["10.0.0.5"]]

    result = await fetcher.fetch("https://x.example/a")

    assert result.error == ("refused: https://x.example/a resolves to 10.0.0.5, a private "
                            "address (allow it with [fetch] allow_networks)")


async def test_one_internal_address_among_public_ones_is_enough_to_refuse(fake_dns, fetcher):
    table, _ = fake_dns
    table["mixed.example"] = [["93.184.215.14", "2606:2800:21f:cb07::1", "127.0.0.2"]]

    result = await fetcher.fetch("http://mixed.example/")

    assert result.error == (f"refused: http://mixed.example/ resolves to 127.0.0.2, "
                            f"a loopback address {HINT}")


async def test_the_connection_goes_to_the_address_that_was_checked(fake_dns, internal,
                                                                   feed_server):
    # DNS rebinding: the name answers an allowed address, then a forbidden one. The name is
    # resolved once, where the connection is opened, and the socket goes to that address.
    table, lookups = fake_dns
    table["rebind.example"] = [["127.0.0.2"], ["127.0.0.1"]]
    url = f"http://rebind.example:{internal.port}/secret"

    async with allowing("127.0.0.2/32") as fetcher:
        result = await fetcher.fetch(url)

    assert result.ok, result.error
    assert lookups["rebind.example"] == 1
    assert internal.hits == [("/secret", f"rebind.example:{internal.port}")]
    assert feed_server.requests == []


async def test_a_name_that_does_not_resolve_is_reported(fake_dns, fetcher):
    result = await fetcher.fetch("http://does-not-exist.invalid/page")

    assert result.error is not None and result.error.startswith("host not found")


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-subj", "/CN=rebind.example", "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as exc:
        pytest.skip(f"no openssl to make a test certificate: {exc}")
    return cert, key


async def test_tls_to_a_vetted_address_still_uses_the_host_name(fake_dns, certificate):
    # The socket goes to the vetted IP, but TLS sends the name (SNI) and checks the
    # certificate against it: a self-signed one is refused as usual.
    cert, key = certificate
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    names: list[str | None] = []
    context.sni_callback = lambda sock, name, ctx: names.append(name)
    listener = socket.create_server(("127.0.0.2", 0))
    port = listener.getsockname()[1]

    def serve_one() -> None:
        connection, _ = listener.accept()
        try:
            with context.wrap_socket(connection, server_side=True):
                pass
        except (ssl.SSLError, OSError):
            pass

    thread = threading.Thread(target=serve_one, daemon=True)
    thread.start()
    table, _ = fake_dns
    table["rebind.example"] = [["127.0.0.2"]]
    try:
        async with allowing("127.0.0.2/32") as fetcher:
            result = await fetcher.fetch(f"https://rebind.example:{port}/")
    finally:
        await asyncio.to_thread(thread.join, 5)
        listener.close()

    assert names == ["rebind.example"]
    assert result.error is not None and result.error.startswith("TLS error")
    assert "CERTIFICATE_VERIFY_FAILED" in result.error


# ------------------------------------------------------------------------------ redirects

async def test_a_feed_redirecting_to_another_local_port_is_refused(feed_server, other_port,
                                                                   fetcher):
    target = other_port.url("/files/rss2.xml")
    moved = feed_server.publish("/moved.xml", b"", None, status=302, etag=None,
                                headers={"Location": target})

    outcome, = await poll_feeds([feed("moved", moved)], fetcher, NOW)

    reason = (f"refused: {target} (redirected from {moved}) resolves to 127.0.0.1, "
              f"a loopback address {HINT}")
    assert (outcome.error, outcome.feed.last_error) == (reason, reason)
    assert outcome.items == [] and outcome.feed.error_count == 1
    assert other_port.hits("/files/rss2.xml") == []


async def test_a_feed_redirecting_to_another_local_port_is_followed_when_allowed(
        feed_server, other_port):
    target = other_port.url("/files/rss2.xml")
    moved = feed_server.publish("/moved.xml", b"", None, status=302, etag=None,
                                headers={"Location": target})

    async with allowing("127.0.0.0/8") as fetcher:
        outcome, = await poll_feeds([feed("moved", moved)], fetcher, NOW)

    assert outcome.error is None and len(outcome.items) == 3
    assert len(other_port.hits("/files/rss2.xml")) == 1


async def test_a_feed_redirecting_on_its_own_host_and_port_is_followed(feed_server, fetcher):
    outcome, = await poll_feeds([feed("same", feed_server.url("/_redirect/2/files/rss2.xml"))],
                                fetcher, NOW)

    assert outcome.error is None and len(outcome.items) == 3


async def test_trust_does_not_come_back_after_a_chain_left_the_feeds_site(feed_server,
                                                                          internal):
    # feed (trusted) → 127.0.0.2 (allowed) → back to the feed's own server: that last hop was
    # chosen by 127.0.0.2, not by the operator, so it is checked, and loopback is not allowed.
    back = feed_server.url("/files/rss2.xml")
    bounce = internal.redirect("/bounce", back)
    moved = feed_server.publish("/moved.xml", b"", None, status=302, etag=None,
                                headers={"Location": bounce})

    async with allowing("127.0.0.2/32") as fetcher:
        outcome, = await poll_feeds([feed("moved", moved)], fetcher, NOW)

    assert outcome.error == (f"refused: {back} (redirected from {bounce}) resolves to "
                             f"127.0.0.1, a loopback address {HINT}")
    assert feed_server.hits("/files/rss2.xml") == []


async def test_a_page_redirecting_to_an_internal_address_is_refused(internal, other_port):
    # The page is on an allowed address; its redirect to 127.0.0.1 is checked on its own.
    target = other_port.url("/files/article.html")
    start = internal.redirect("/go", target)

    async with allowing("127.0.0.2/32") as fetcher:
        [(item, reason)] = await fill_full_text([teaser(start)], fetcher)

    assert reason == (f"refused: {target} (redirected from {start}) resolves to 127.0.0.1, "
                      f"a loopback address {HINT}")
    assert other_port.hits("/files/article.html") == []
    assert item.text == "Short teaser."


@pytest.mark.parametrize("location, scheme", [
    ("file:///etc/passwd", "file"), ("gopher://127.0.0.1:70/x", "gopher"),
    ("ftp://127.0.0.1/x", "ftp"),
])
async def test_a_redirect_to_another_scheme_is_refused(feed_server, location, scheme):
    moved = feed_server.publish("/moved.xml", b"", None, status=302, etag=None,
                                headers={"Location": location})

    async with allowing("127.0.0.0/8") as fetcher:
        as_feed = await fetcher.fetch(moved, trusted=True)
        as_page = await fetcher.fetch(moved)

    for result in (as_feed, as_page):
        assert result.error is not None
        assert result.error.startswith(f"refused: {scheme}://"), result.error
        assert result.error.endswith(f"(redirected from {moved}) uses the {scheme}: scheme; "
                                     f"only http and https are fetched")


async def test_max_redirects_counts_every_hop_of_a_mixed_chain(feed_server, internal):
    # feed → 127.0.0.2 → 127.0.0.2 → feed server: three redirects.
    final = feed_server.url("/files/rss2.xml")
    second = internal.redirect("/b", final)
    first = internal.redirect("/a", second)
    moved = feed_server.publish("/moved.xml", b"", None, status=302, etag=None,
                                headers={"Location": first})

    async with allowing("127.0.0.0/8", max_redirects=3) as fetcher:
        assert (await fetcher.fetch(moved, trusted=True)).ok
    async with allowing("127.0.0.0/8", max_redirects=2) as fetcher:
        result = await fetcher.fetch(moved, trusted=True)
    assert result.error == "too many redirects (more than 2)"
    async with allowing("127.0.0.0/8", max_redirects=0) as fetcher:
        result = await fetcher.fetch(moved, trusted=True)
    assert result.error == "too many redirects (more than 0)"


async def test_a_broken_redirect_location_is_reported(feed_server, fetcher):
    moved = feed_server.publish("/moved.xml", b"", None, status=302, etag=None,
                                headers={"Location": "http://[::1"})

    result = await fetcher.fetch(moved, trusted=True)

    assert result.error is not None and result.error.startswith("invalid redirect:")


# -------------------------------------------------- the limits hold for untrusted fetches

@pytest.mark.parametrize("path, reason", [
    ("/_gzip-bomb", "body too large: more than 1,048,576 bytes after decompression"),
    ("/_huge?mb=100", "body too large: 104,857,600 bytes announced, limit 1,048,576"),
    ("/_huge-unannounced?mb=100", "body too large: more than 1,048,576 bytes"),
    ("/_drip", "timed out after 1.5s"),
    ("/_redirect-loop", "too many redirects (more than 3)"),
    ("/_status/404", "HTTP 404 Not Found"),
])
async def test_an_allowed_page_is_still_held_to_the_limits(feed_server, path, reason):
    async with allowing("127.0.0.0/8") as fetcher:
        result = await fetcher.fetch(feed_server.url(path))

    assert result.error == reason


async def test_an_allowed_page_on_a_closed_port_is_connection_refused(closed_port):
    async with allowing("127.0.0.0/8") as fetcher:
        result = await fetcher.fetch(f"http://127.0.0.1:{closed_port}/page")

    assert result.error == "connection refused"


async def test_untrusted_pages_share_the_concurrency_limit(feed_server):
    url = feed_server.url("/_delay/300/files/article.html")
    async with Fetcher(FetchConfig(timeout_s=5, concurrency=2,
                                   allow_networks=("127.0.0.0/8",))) as fetcher:
        started = asyncio.get_running_loop().time()
        results = await asyncio.gather(fetcher.fetch(url), fetcher.fetch(url, trusted=True),
                                       fetcher.fetch(url))
        elapsed = asyncio.get_running_loop().time() - started

    assert all(r.ok for r in results)
    assert elapsed >= 0.6                          # two slots in all, not two per client


# ------------------------------------------------------------------ the whole pipeline

RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Intranet news</title><link>{home}</link>
<description>x</description>
<item><title>Kim and Putin sign a cooperation agreement</title><link>{link}</link>
<guid isPermaLink="false">kim-putin-1</guid>
<description>Kim and Putin met; a short teaser.</description>
<pubDate>Sat, 01 Jun 2024 11:00:00 GMT</pubDate></item>
</channel></rss>"""


def deployment(tmp_path: Path, db, feed_url: str, fetch: FetchConfig) -> Config:
    (tmp_path / "seeds").mkdir(exist_ok=True)
    (tmp_path / "rules").mkdir(exist_ok=True)
    (tmp_path / "rules" / "r.toml").write_text(
        '[[rules]]\nid = "kim-putin"\nname = "Kim and Putin"\nquery = "Kim AND Putin"\n',
        encoding="utf-8")
    return Config(path=None, database_path=db.path, seeds_dir=tmp_path / "seeds",
                  rules_dir=tmp_path / "rules", fetch=fetch,
                  feeds=(FeedConfig(name="intranet", url=feed_url, full_text=True),))


@pytest.mark.parametrize("allow", [False, True])
async def test_a_full_text_feed_linking_inside_stores_and_sends_nothing_of_the_page(
        tmp_path, db, feed_server, internal, allow, dispatch):
    # The configured feed is on 127.0.0.1 (the operator's choice, fetched); its item links to
    # 127.0.0.2. Refused: the teaser is stored and alerted, the page never fetched.
    feed_url = feed_server.publish("/intranet.xml", RSS.format(
        home=feed_server.url("/"), link=internal.url("/secret")))
    fetch = replace(TEST_FETCH, allow_networks=("127.0.0.0/8",) if allow else ())
    db.upsert_subscriber(1, "private", "A", "en")
    db.subscribe(1, "kim-putin", "instant")

    report = await Pipeline(deployment(tmp_path, db, feed_url, fetch), db).run_once(NOW)

    assert report.feed_errors == {}
    [article] = list(db.iter_articles())
    alerts = " ".join(message.text for message in await dispatch(NOW))
    assert alerts, "the teaser still matched and was alerted"
    if allow:
        assert article.full_text_status == "ok"
        assert SECRET in article.text
        assert len(internal.hits) == 1
    else:
        assert article.full_text_status == (
            f"failed: refused: {internal.url('/secret')} resolves to 127.0.0.2, "
            f"a loopback address {HINT}")
        assert SECRET not in article.text and SECRET not in alerts
        assert SECRET not in repr(article)        # not in its title, URL or anywhere
        assert internal.hits == []
