"""TOML config → frozen dataclasses.

Relative paths are resolved against the folder of the config file, so `--config
/etc/monitor/config.toml` and `make run` in a checkout both find their seeds and rules.
Unknown keys are errors: a typo must not be silently ignored. Every error names the file
and the key. Every number has a range (NUMBER_RANGES): a value outside it, nan, inf or a
fraction where a count is meant is an error when the file is read, never a stored setting.
Feeds are keyed by URL and named by the config: two [[feeds]] blocks may share neither.
"""

from __future__ import annotations

import difflib
import ipaddress
import math
import re
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.errors import MonitorError
from monitor.sourcemap import SourceMap

DEFAULT_CONFIG_NAMES = ("config.toml", "config.example.toml")

MINUTE, HOUR, DAY = 60, 3600, 86400
MAX_INTERVAL_S = 30 * DAY   # the longest feed interval, and parse_duration's default maximum


class ConfigError(MonitorError):
    """The config file cannot be used; the message has a line per problem (all of them),
    each naming the file, the line and column, and the key."""


# What `source:` in a query accepts as a name (analysis.source_name folds it the same way).
FEED_NAME = re.compile(r"[\w.-]+")


@dataclass(frozen=True)
class FeedConfig:
    name: str
    url: str
    interval_s: int = 600
    language: str | None = None
    full_text: bool = False


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class FetchConfig:
    """Limits for every HTTP fetch (feeds and full-text pages).

    `allow_networks`: addresses that pages and redirect targets named by feeds may resolve
    to although they are not public (loopback, private, link-local, ...); the configured feed
    URLs themselves never need it. CIDR strings are accepted and converted; a bad one is a
    ValueError here and a ConfigError naming the key when the file is read.
    """

    timeout_s: float = 20.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    concurrency: int = 16
    per_host: int = 2
    user_agent: str = "media-monitor/0.1 (+https://github.com/media-monitor/monitor)"
    backoff_max_s: int = 6 * 3600
    allow_networks: tuple[Network, ...] = ()

    def __post_init__(self) -> None:
        networks = tuple(parse_network(value) for value in self.allow_networks)
        object.__setattr__(self, "allow_networks", networks)


def parse_network(value: object) -> Network:
    """'127.0.0.0/8', 'fd00::/8' or a single address ('10.0.0.5' = /32) → a network; anything
    else, also a network with host bits set ('127.0.0.1/8'), is a ValueError saying why."""
    if isinstance(value, (ipaddress.IPv4Network, ipaddress.IPv6Network)):
        return value
    if not isinstance(value, str):
        raise ValueError(f"{_shown(value)} is not a string such as '127.0.0.0/8'")
    text = value.strip()
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError as exc:
        try:
            loose = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise ValueError(f"{_shown(value)} is not a network in CIDR form such as "
                             f"'127.0.0.0/8' or 'fd00::/8'") from exc
        raise ValueError(f"{_shown(value)} has host bits set; did you mean "
                         f"'{loose}'?") from exc


@dataclass(frozen=True)
class TelegramConfig:
    token_env: str = "TELEGRAM_BOT_TOKEN"
    api_url: str = "https://api.telegram.org"
    access: str = "allowlist"
    allowed_chats: tuple[int, ...] = ()
    admins: tuple[int, ...] = ()


@dataclass(frozen=True)
class DigestConfig:
    time: str = "08:00"
    timezone: str = "Europe/Berlin"


@dataclass(frozen=True)
class ServiceConfig:
    """How often `monitor run` looks for work (each feed keeps its own interval)."""

    poll_every_s: int = 30
    dispatch_every_s: int = 2
    jitter: float = 0.1            # a feed's next poll moves by up to this share of its interval
    backlog_alert: int = 500       # admins are told when this many messages wait in the outbox
    # An article of an alerted story pings again (once a story) when its headline shares less
    # than this share of words with every headline the chat saw of it; 0 turns that off.
    new_headline_below: float = 0.2


@dataclass(frozen=True)
class RetentionConfig:
    """How long things are kept. Matches and stories go with their articles."""

    articles_days: int = 365
    outbox_days: int = 30
    # How long the archive remembers the keys of articles it has seen and alerted after the
    # articles themselves are deleted, so that a feed re-sending old items alerts nobody twice.
    keys_days: int = 3650


@dataclass(frozen=True)
class NumberRange:
    """The values one numeric setting accepts: low ≤ value ≤ high, a whole number unless
    `integer` is false. `duration` settings are seconds and also take '90s', '10m', '2h', '1d'."""

    low: int | float
    high: int | float
    integer: bool = True
    duration: bool = False


# Every numeric key of [fetch], [service] and [retention]. config.example.toml repeats them.
NUMBER_RANGES: dict[type, dict[str, NumberRange]] = {
    FetchConfig: {
        "timeout_s": NumberRange(1, 300, integer=False, duration=True),
        "max_bytes": NumberRange(1024, 1024 ** 3),
        "max_redirects": NumberRange(0, 20),
        "concurrency": NumberRange(1, 256),
        "per_host": NumberRange(1, 64),
        "backoff_max_s": NumberRange(MINUTE, 30 * DAY, duration=True),
    },
    ServiceConfig: {
        "poll_every_s": NumberRange(1, DAY, duration=True),
        "dispatch_every_s": NumberRange(1, HOUR, duration=True),
        "jitter": NumberRange(0, 0.5, integer=False),
        "backlog_alert": NumberRange(1, 1_000_000),
        "new_headline_below": NumberRange(0, 1, integer=False),
    },
    RetentionConfig: {
        "articles_days": NumberRange(1, 36_500),
        "outbox_days": NumberRange(1, 36_500),
        "keys_days": NumberRange(30, 36_500),
    },
}


@dataclass(frozen=True)
class Config:
    path: Path | None
    database_path: Path
    seeds_dir: Path
    rules_dir: Path
    feeds: tuple[FeedConfig, ...] = ()
    fetch: FetchConfig = field(default_factory=FetchConfig)
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    service: ServiceConfig = field(default_factory=ServiceConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)


_TOML_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)")
_DURATION = re.compile(r"\s*([0-9]+)\s*(s|m|h|d)?\s*")
_UNITS = {None: 1, "s": 1, "m": MINUTE, "h": HOUR, "d": DAY}


_CLOCK = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")


def parse_clock(text: str) -> str | None:
    """A time of day as people type it ('7:30', '07:30') in the form it is stored in,
    '07:30'; None when it is none."""
    match = _CLOCK.fullmatch(text)
    return f"{int(match[1]):02d}:{match[2]}" if match else None


def parse_duration(value: str | int, *, where: str = "duration",
                   maximum: int = MAX_INTERVAL_S) -> int:
    """'90s', '10m', '2h', '7d' or a number of seconds → seconds, from 1 to `maximum`.

    Anything else is a ConfigError naming `where`; a digit string too long to be in range is
    refused before it is converted, so no caller ever sees an OverflowError.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    else:
        match = _DURATION.fullmatch(value) if isinstance(value, str) else None
        if not match:
            raise ConfigError(f"{where}: {_shown(value)} is not a duration such as '10m', '2h' "
                              f"or '7d'")
        digits = match.group(1).lstrip("0")
        if len(digits) > len(str(maximum)):
            raise ConfigError(f"{where}: {_shown(value)} is longer than {_seconds_text(maximum)}")
        seconds = int(digits or "0") * _UNITS[match.group(2)]
    if seconds <= 0:
        raise ConfigError(f"{where}: {_shown(value)} must be longer than zero")
    if seconds > maximum:
        raise ConfigError(f"{where}: {_shown(value)} is longer than {_seconds_text(maximum)}")
    return seconds


def _shown(value: Any) -> str:
    """repr() for messages, shortened: a config value can be thousands of characters long."""
    try:
        text = repr(value)
    except ValueError:              # an int too long to print (sys.get_int_max_str_digits)
        return "a number of thousands of digits"
    return text if len(text) <= 60 else f"{text[:50]}…({len(text)} characters)"


def _seconds_text(seconds: int | float) -> str:
    """3600 → '1 hour', 2592000 → '30 days', 90 → '90 seconds'."""
    if seconds != int(seconds) or seconds <= 0:
        return f"{seconds} seconds"
    for unit, name in ((DAY, "day"), (HOUR, "hour"), (MINUTE, "minute"), (1, "second")):
        if seconds % unit == 0:
            count = int(seconds) // unit
            return f"{count} {name}" + ("" if count == 1 else "s")
    raise AssertionError("unreachable: every whole number is a number of seconds")


def find_config(explicit: str | Path | None, cwd: Path | None = None) -> Path | None:
    """The file named, else config.toml, else config.example.toml, else None (built-in defaults)."""
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        return path
    cwd = cwd or Path.cwd()
    for name in DEFAULT_CONFIG_NAMES:
        if (cwd / name).is_file():
            return cwd / name
    return None


def load_config(explicit: str | Path | None = None, cwd: Path | None = None) -> Config:
    path = find_config(explicit, cwd)
    if path is None:
        base = cwd or Path.cwd()
        return Config(
            path=None, database_path=base / "data/monitor.db",
            seeds_dir=base / "seeds", rules_dir=base / "rules",
        )
    try:
        text = path.read_text(encoding="utf-8")
        raw = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        found = _TOML_POSITION.search(str(exc))
        where = f"{found.group(1)}:{found.group(2)}:" if found else ""
        raise ConfigError(f"{path}:{where} {_TOML_POSITION.sub('', str(exc)).strip()}") from exc
    except ValueError as exc:       # tomllib: an integer of more than 4300 digits
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return parse_config(raw, path, SourceMap(text))


class _Invalid(Exception):
    """One problem with one key ("feeds[1].url", "digest.time"); `keyed`: the text already
    names the key (an unknown key)."""

    def __init__(self, key: str, text: str, keyed: bool = False):
        super().__init__(text)
        self.key, self.text, self.keyed = key, text, keyed


class _Problems:
    """Every problem of a config file, each at its line and column: `check()` blocks record
    the problem raised inside and the reading goes on with the next setting."""

    def __init__(self, path: Path, source: SourceMap | None):
        self.path, self.source = path, source
        self.found: list[tuple[int, int, str]] = []

    @contextmanager
    def check(self) -> Iterator[None]:
        try:
            yield
        except _Invalid as problem:
            line, column = self.position(problem.key)
            text = problem.text if problem.keyed else f"{problem.key}: {problem.text}"
            self.found.append((line, column, text))

    def position(self, key: str) -> tuple[int, int]:
        """Where a key stands: 'feeds[1].url' is the url line of the second [[feeds]]."""
        if self.source is None:
            return 1, 1
        first, _, rest = key.partition(".")
        name, _, index = first.partition("[")
        block = self.source.table_block(name, int(index.rstrip("]") or 0))
        if block is None:                      # a top-level key, or an inline table
            return self.source.key(self.source.top_block(), name) or (1, 1)
        rest = rest.partition("[")[0]
        return (self.source.key(block, rest) if rest else None) or self.source.header(block)

    def raise_any(self) -> None:
        if self.found:
            raise ConfigError("\n".join(f"{self.path}:{line}:{column}: {text}"
                                         for line, column, text in sorted(self.found)))


def parse_config(raw: dict[str, Any], path: Path, source: SourceMap | None = None) -> Config:
    """The settings of a parsed TOML file; a ConfigError lists every problem, each with its
    line and column (found in `source`, the file's text) and its key."""
    problems = _Problems(path, source)
    base = path.parent
    with problems.check():
        _only_keys(raw, {"database", "sources", "feeds", "fetch", "telegram", "digest",
                         "service", "retention"}, "")
    database = _section(problems, raw, "database", {"path"})
    sources = _section(problems, raw, "sources", {"seeds", "rules"})
    feeds = _feeds(problems, raw.get("feeds", []))

    fetch, telegram, digest = FetchConfig(), TelegramConfig(), DigestConfig()
    service, retention = ServiceConfig(), RetentionConfig()
    fetch_raw = dict(_section(problems, raw, "fetch"))
    allow_networks: tuple[Network, ...] = ()
    with problems.check():
        allow_networks = _networks(fetch_raw.pop("allow_networks", []), "fetch.allow_networks")
    with problems.check():
        fetch = replace(_dataclass_from(FetchConfig, fetch_raw, "fetch"),
                        allow_networks=allow_networks)
    with problems.check():
        telegram = _dataclass_from(TelegramConfig, _section(problems, raw, "telegram"),
                                   "telegram")
        if telegram.access not in ("allowlist", "open"):
            raise _Invalid("telegram.access", "must be 'allowlist' or 'open'")
    with problems.check():
        digest = _dataclass_from(DigestConfig, _section(problems, raw, "digest"), "digest")
    with problems.check():
        if parse_clock(digest.time) != digest.time:        # written as it is stored
            raise _Invalid("digest.time", f"{digest.time!r} is not HH:MM")
    with problems.check():
        try:
            ZoneInfo(digest.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise _Invalid("digest.timezone", f"unknown timezone {digest.timezone!r}") from None
    with problems.check():
        service = _dataclass_from(ServiceConfig, _section(problems, raw, "service"), "service")
    with problems.check():
        retention = _dataclass_from(RetentionConfig, _section(problems, raw, "retention"),
                                    "retention")
        if retention.keys_days < retention.articles_days:
            raise _Invalid(
                "retention.keys_days", f"{retention.keys_days} is shorter than "
                f"retention.articles_days ({retention.articles_days}); the archive must "
                "remember every article it still keeps, so keys_days must be at least "
                "articles_days")
    paths = {}
    for section, table, key, default in (("database", database, "path", "data/monitor.db"),
                                         ("sources", sources, "seeds", "seeds"),
                                         ("sources", sources, "rules", "rules")):
        paths[key] = default
        with problems.check():
            paths[key] = _str(table, key, default, section)
    problems.raise_any()
    return Config(
        path=path, database_path=base / paths["path"], seeds_dir=base / paths["seeds"],
        rules_dir=base / paths["rules"], feeds=tuple(feeds), fetch=fetch, telegram=telegram,
        digest=digest, service=service, retention=retention,
    )


def _section(problems: _Problems, raw: dict[str, Any], key: str,
             allowed: set[str] | None = None) -> dict[str, Any]:
    """A [table] of the file ({} when it is missing or not a table, which is recorded)."""
    value = raw.get(key, {})
    if not isinstance(value, dict):
        with problems.check():
            raise _Invalid(key, "must be a table ([" + key + "])")
        return {}
    if allowed is not None:
        with problems.check():
            _only_keys(value, allowed, key)
    return value


def _feeds(problems: _Problems, raw_feeds: Any) -> list[FeedConfig]:
    """The [[feeds]] blocks; a block with a problem is left out and the others still read."""
    if not isinstance(raw_feeds, list):
        with problems.check():
            raise _Invalid("feeds", "must be a list of tables ([[feeds]])")
        return []
    feeds = []
    by_name: dict[str, str] = {}    # name → the block that has it, e.g. "feeds[1]"
    by_url: dict[str, str] = {}     # URL → "feeds[1] ('zeit')"
    for index, item in enumerate(raw_feeds):
        where = f"feeds[{index}]"
        if not isinstance(item, dict):
            with problems.check():
                raise _Invalid(where, "must be a table ([[feeds]])")
            continue
        before = len(problems.found)
        with problems.check():
            _only_keys(item, {"name", "url", "interval", "language", "full_text"}, where)
        name, url = item.get("name"), item.get("url")
        with problems.check():
            if not isinstance(name, str) or not name.strip():
                raise _Invalid(f"{where}.name", "required, a non-empty string")
            if not FEED_NAME.fullmatch(name):
                raise _Invalid(f"{where}.name", f"{_shown(name)}: a feed name is letters, "
                               "digits, '.', '_' and '-' (what source: in a query accepts)")
            if name in by_name:
                raise _Invalid(f"{where}.name", f"{name!r} is used by two feeds, "
                               f"{by_name[name]} and {where}")
            by_name[name] = where
        with problems.check():
            if isinstance(url, str):
                url = url.strip()
            if not isinstance(url, str) or not url.startswith(("http://", "https://")):
                raise _Invalid(f"{where}.url", "required, an http(s) URL")
            if url in by_url:
                raise _Invalid(f"{where}.url", f"{where} ({name!r}) has the same url as "
                               f"{by_url[url]}: {url}", keyed=True)
            by_url[url] = f"{where} ({name!r})"
        interval_s, language, full_text = 600, None, False
        with problems.check():
            interval_s = _duration(item.get("interval", "10m"), f"{where}.interval",
                                   MAX_INTERVAL_S)
        with problems.check():
            language = _optional_str(item, "language", where)
        with problems.check():
            full_text = _bool(item, "full_text", False, where)
        if len(problems.found) == before and isinstance(name, str) and isinstance(url, str):
            feeds.append(FeedConfig(name=name, url=url, interval_s=interval_s,
                                    language=language, full_text=full_text))
    return feeds


def _duration(value: Any, key: str, maximum: int) -> int:
    try:
        return parse_duration(value, where=key, maximum=maximum)
    except ConfigError as exc:
        raise _Invalid(key, str(exc).removeprefix(f"{key}: ")) from None


def _networks(value: Any, where: str) -> tuple[Network, ...]:
    """A TOML list of CIDR strings → networks; the error names the entry and says why."""
    if not isinstance(value, list):
        raise _Invalid(where, "must be a list of networks such as [\"127.0.0.0/8\", "
                       "\"fd00::/8\"]")
    networks = []
    for index, entry in enumerate(value):
        try:
            networks.append(parse_network(entry))
        except ValueError as exc:
            raise _Invalid(f"{where}[{index}]", str(exc)) from exc
    return tuple(networks)


def _only_keys(table: dict[str, Any], allowed: set[str], where: str) -> None:
    for key in table:
        if key not in allowed:
            name = f"{where}.{key}" if where else key
            close = difflib.get_close_matches(key, allowed, n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise _Invalid(name, f"unknown key {name!r} ({hint}known: "
                           f"{', '.join(sorted(allowed))})", keyed=True)


def _str(table: dict[str, Any], key: str, default: str, where: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value:
        raise _Invalid(f"{where}.{key}", "must be a non-empty string")
    return value


def _optional_str(table: dict[str, Any], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise _Invalid(f"{where}.{key}", "must be a string")
    return value


def _bool(table: dict[str, Any], key: str, default: bool, where: str) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise _Invalid(f"{where}.{key}", "must be true or false")
    return value


def _dataclass_from(cls: type, table: dict[str, Any], where: str) -> Any:
    """Build a settings dataclass from a TOML table, checking keys, value types and, for
    numbers, the range in NUMBER_RANGES."""
    known = {f.name: f for f in fields(cls)}
    _only_keys(table, set(known), where)
    ranges = NUMBER_RANGES.get(cls, {})
    values: dict[str, Any] = {}
    defaults = cls()
    for key, value in table.items():
        default = getattr(defaults, key)
        name = f"{where}.{key}"
        if key in ranges:
            value = _number(value, ranges[key], name)
        elif isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
                raise _Invalid(name, "must be a list of integer ids")
            value = tuple(value)
        elif isinstance(default, bool) or isinstance(value, bool):
            if not isinstance(value, bool) or not isinstance(default, bool):
                raise _Invalid(name, "wrong type")
        elif isinstance(default, (int, float)):
            raise AssertionError(f"{cls.__name__}.{key} has no entry in NUMBER_RANGES")
        elif not isinstance(value, type(default)):
            raise _Invalid(name, f"must be a {type(default).__name__}")
        values[key] = value
    return cls(**values)


def _number(value: Any, allowed: NumberRange, where: str) -> int | float:
    """A TOML value checked against its range: finite, whole if it counts, never a bool."""
    shown = _shown(value)
    if allowed.duration and isinstance(value, str):
        value = _duration(value, where, int(allowed.high))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "a number of seconds or a duration such as '10m'" if allowed.duration else "a number"
        raise _Invalid(where, f"must be {kind}")
    if isinstance(value, float) and not math.isfinite(value):
        raise _Invalid(where, f"must be a finite number, not {shown}")
    if allowed.integer and isinstance(value, float) and not value.is_integer():
        raise _Invalid(where, f"must be a whole number, not {shown}")
    if allowed.duration:
        if value < allowed.low:
            raise _Invalid(where, f"{shown} is shorter than {_seconds_text(allowed.low)}")
        if value > allowed.high:
            raise _Invalid(where, f"{shown} is longer than {_seconds_text(allowed.high)}")
    elif not allowed.low <= value <= allowed.high:
        raise _Invalid(where, f"must be between {allowed.low} and {allowed.high}, "
                          f"not {shown}")
    return int(value) if allowed.integer else float(value)
