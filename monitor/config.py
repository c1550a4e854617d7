"""TOML config → frozen dataclasses.

Relative paths are resolved against the folder of the config file, so `--config
/etc/monitor/config.toml` and `make run` in a checkout both find their seeds and rules.
Unknown keys are errors: a typo must not be silently ignored. Every error names the file
and the key. Every number has a range (NUMBER_RANGES): a value outside it, nan, inf or a
fraction where a count is meant is an error when the file is read, never a stored setting.
Feeds are keyed by URL and named by the config: two [[feeds]] blocks may share neither.
"""

from __future__ import annotations

import ipaddress
import math
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from monitor.errors import MonitorError

DEFAULT_CONFIG_NAMES = ("config.toml", "config.example.toml")

MINUTE, HOUR, DAY = 60, 3600, 86400
MAX_INTERVAL_S = 30 * DAY   # the longest feed interval, and parse_duration's default maximum


class ConfigError(MonitorError):
    """The config file cannot be used; the message names the file and the key."""


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


_DURATION = re.compile(r"\s*([0-9]+)\s*(s|m|h|d)?\s*")
_UNITS = {None: 1, "s": 1, "m": MINUTE, "h": HOUR, "d": DAY}


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
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    except ValueError as exc:       # tomllib: an integer of more than 4300 digits
        raise ConfigError(f"{path}: cannot read: {exc}") from exc
    return parse_config(raw, path)


def parse_config(raw: dict[str, Any], path: Path) -> Config:
    base = path.parent
    _only_keys(raw, {"database", "sources", "feeds", "fetch", "telegram", "digest", "service",
                     "retention"}, path, "")
    database = _table(raw, "database", path)
    _only_keys(database, {"path"}, path, "database")
    sources = _table(raw, "sources", path)
    _only_keys(sources, {"seeds", "rules"}, path, "sources")

    feeds = []
    by_name: dict[str, str] = {}    # name → the block that has it, e.g. "feeds[1]"
    by_url: dict[str, str] = {}     # URL → "feeds[1] ('zeit')"
    raw_feeds = raw.get("feeds", [])
    if not isinstance(raw_feeds, list):
        raise ConfigError(f"{path}: feeds: must be a list of tables ([[feeds]])")
    for index, item in enumerate(raw_feeds):
        where = f"feeds[{index}]"
        if not isinstance(item, dict):
            raise ConfigError(f"{path}: {where}: must be a table ([[feeds]])")
        _only_keys(item, {"name", "url", "interval", "language", "full_text"}, path, where)
        name, url = item.get("name"), item.get("url")
        if not isinstance(name, str) or not name.strip():
            raise ConfigError(f"{path}: {where}.name: required, a non-empty string")
        if isinstance(url, str):
            url = url.strip()
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ConfigError(f"{path}: {where}.url: required, an http(s) URL")
        if name in by_name:
            raise ConfigError(f"{path}: {where}.name: {name!r} is used by two feeds, "
                              f"{by_name[name]} and {where}")
        if url in by_url:
            raise ConfigError(f"{path}: {where} ({name!r}) has the same url as "
                              f"{by_url[url]}: {url}")
        by_name[name] = where
        by_url[url] = f"{where} ({name!r})"
        feeds.append(FeedConfig(
            name=name, url=url,
            interval_s=parse_duration(item.get("interval", "10m"),
                                      where=f"{path}: {where}.interval"),
            language=_optional_str(item, "language", path, where),
            full_text=_bool(item, "full_text", False, path, where),
        ))

    fetch_raw = dict(_table(raw, "fetch", path))
    allow_networks = _networks(fetch_raw.pop("allow_networks", []), path, "fetch.allow_networks")
    fetch = replace(_dataclass_from(FetchConfig, fetch_raw, path, "fetch"),
                    allow_networks=allow_networks)
    telegram_raw = _table(raw, "telegram", path)
    telegram = _dataclass_from(TelegramConfig, telegram_raw, path, "telegram")
    if telegram.access not in ("allowlist", "open"):
        raise ConfigError(f"{path}: telegram.access: must be 'allowlist' or 'open'")
    digest = _dataclass_from(DigestConfig, _table(raw, "digest", path), path, "digest")
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d", digest.time):
        raise ConfigError(f"{path}: digest.time: {digest.time!r} is not HH:MM")
    try:
        ZoneInfo(digest.timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"{path}: digest.timezone: unknown timezone {digest.timezone!r}") from exc

    service = _dataclass_from(ServiceConfig, _table(raw, "service", path), path, "service")
    retention = _dataclass_from(RetentionConfig, _table(raw, "retention", path), path,
                                "retention")
    if retention.keys_days < retention.articles_days:
        raise ConfigError(
            f"{path}: retention.keys_days: {retention.keys_days} is shorter than "
            f"retention.articles_days ({retention.articles_days}); the archive must remember "
            f"every article it still keeps, so keys_days must be at least articles_days")
    return Config(
        path=path,
        database_path=base / _str(database, "path", "data/monitor.db", path, "database"),
        seeds_dir=base / _str(sources, "seeds", "seeds", path, "sources"),
        rules_dir=base / _str(sources, "rules", "rules", path, "sources"),
        feeds=tuple(feeds), fetch=fetch, telegram=telegram, digest=digest, service=service,
        retention=retention,
    )


def _networks(value: Any, path: Path, where: str) -> tuple[Network, ...]:
    """A TOML list of CIDR strings → networks; the error names the entry and says why."""
    if not isinstance(value, list):
        raise ConfigError(f"{path}: {where}: must be a list of networks such as "
                          f"[\"127.0.0.0/8\", \"fd00::/8\"]")
    networks = []
    for index, entry in enumerate(value):
        try:
            networks.append(parse_network(entry))
        except ValueError as exc:
            raise ConfigError(f"{path}: {where}[{index}]: {exc}") from exc
    return tuple(networks)


def _table(raw: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    value = raw.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{path}: [{key}] must be a table")
    return value


def _only_keys(table: dict[str, Any], allowed: set[str], path: Path, where: str) -> None:
    for key in table:
        if key not in allowed:
            name = f"{where}.{key}" if where else key
            raise ConfigError(f"{path}: unknown key {name!r} (known: {', '.join(sorted(allowed))})")


def _str(table: dict[str, Any], key: str, default: str, path: Path, where: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{path}: {where}.{key}: must be a non-empty string")
    return value


def _optional_str(table: dict[str, Any], key: str, path: Path, where: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{path}: {where}.{key}: must be a string")
    return value


def _bool(table: dict[str, Any], key: str, default: bool, path: Path, where: str) -> bool:
    value = table.get(key, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{path}: {where}.{key}: must be true or false")
    return value


def _dataclass_from(cls: type, table: dict[str, Any], path: Path, where: str) -> Any:
    """Build a settings dataclass from a TOML table, checking keys, value types and, for
    numbers, the range in NUMBER_RANGES."""
    known = {f.name: f for f in fields(cls)}
    _only_keys(table, set(known), path, where)
    ranges = NUMBER_RANGES.get(cls, {})
    values: dict[str, Any] = {}
    defaults = cls()
    for key, value in table.items():
        default = getattr(defaults, key)
        if key in ranges:
            value = _number(value, ranges[key], f"{path}: {where}.{key}")
        elif isinstance(default, tuple):
            if not isinstance(value, list) or not all(isinstance(v, int) for v in value):
                raise ConfigError(f"{path}: {where}.{key}: must be a list of integer ids")
            value = tuple(value)
        elif isinstance(default, bool) or isinstance(value, bool):
            if not isinstance(value, bool) or not isinstance(default, bool):
                raise ConfigError(f"{path}: {where}.{key}: wrong type")
        elif isinstance(default, (int, float)):
            raise AssertionError(f"{cls.__name__}.{key} has no entry in NUMBER_RANGES")
        elif not isinstance(value, type(default)):
            raise ConfigError(f"{path}: {where}.{key}: must be a {type(default).__name__}")
        values[key] = value
    return cls(**values)


def _number(value: Any, allowed: NumberRange, where: str) -> int | float:
    """A TOML value checked against its range: finite, whole if it counts, never a bool."""
    shown = _shown(value)
    if allowed.duration and isinstance(value, str):
        value = parse_duration(value, where=where, maximum=int(allowed.high))
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        kind = "a number of seconds or a duration such as '10m'" if allowed.duration else "a number"
        raise ConfigError(f"{where}: must be {kind}")
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: must be a finite number, not {shown}")
    if allowed.integer and isinstance(value, float) and not value.is_integer():
        raise ConfigError(f"{where}: must be a whole number, not {shown}")
    if allowed.duration:
        if value < allowed.low:
            raise ConfigError(f"{where}: {shown} is shorter than {_seconds_text(allowed.low)}")
        if value > allowed.high:
            raise ConfigError(f"{where}: {shown} is longer than {_seconds_text(allowed.high)}")
    elif not allowed.low <= value <= allowed.high:
        raise ConfigError(f"{where}: must be between {allowed.low} and {allowed.high}, "
                          f"not {shown}")
    return int(value) if allowed.integer else float(value)
