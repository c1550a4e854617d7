"""Config loading: defaults, relative paths, and errors that name the file and the key."""

from __future__ import annotations

import ipaddress
import math
import re
from dataclasses import fields
from pathlib import Path

import pytest

from monitor.config import (
    MAX_INTERVAL_S,
    NUMBER_RANGES,
    ConfigError,
    FetchConfig,
    RetentionConfig,
    ServiceConfig,
    load_config,
    parse_duration,
)

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_loads_and_resolves_paths():
    config = load_config(REPO / "config.example.toml")
    assert config.database_path == REPO / "data/monitor.db"
    assert config.seeds_dir == REPO / "seeds"
    assert len(config.feeds) >= 5
    assert {f.language for f in config.feeds} >= {"de", "en"}
    assert config.telegram.token_env == "TELEGRAM_BOT_TOKEN"


def test_config_toml_is_preferred_then_example_then_defaults(tmp_path):
    assert load_config(cwd=tmp_path).path is None
    (tmp_path / "config.example.toml").write_text("", encoding="utf-8")
    assert load_config(cwd=tmp_path).path.name == "config.example.toml"
    write(tmp_path, "[database]\npath = 'x.db'\n")
    config = load_config(cwd=tmp_path)
    assert config.path.name == "config.toml"
    assert config.database_path == tmp_path / "x.db"


@pytest.mark.parametrize(("text", "message"), [
    ("[database]\npaht = 'x'\n", "unknown key 'database.paht'"),
    ("[[feeds]]\nname = 'a'\nurl = 'ftp://x'\n", "feeds[0].url"),
    ("[[feeds]]\nname = 'a'\nurl = 'https://x'\ninterval = 'soon'\n", "feeds[0].interval"),
    ("[[feeds]]\nname='a'\nurl='https://x'\n[[feeds]]\nname='a'\nurl='https://y'\n",
     "used by two feeds"),
    ("[telegram]\naccess = 'everyone'\n", "telegram.access"),
    ("[digest]\ntime = '25:00'\n", "digest.time"),
    ("[digest]\ntimezone = 'Mars/Base'\n", "digest.timezone"),
    ("[fetch]\nmax_bytes = -1\n", "fetch.max_bytes"),
    ("[database\n", "config.toml"),
])
def test_errors_name_file_and_key(tmp_path, text, message):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert message in str(error.value)
    assert str(path) in str(error.value)


def error_of(tmp_path: Path, text: str) -> str:
    """The message of the ConfigError that loading `text` raises (one problem), without the
    file name, line and column."""
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    message = str(error.value)
    assert re.match(rf"{re.escape(str(path))}:(\d+:\d+:)? ", message), message
    assert "\n" not in message, message
    return re.sub(rf"^{re.escape(str(path))}:(\d+:\d+:)? ", "", message)


def test_durations():
    assert [parse_duration(v) for v in ("90s", "10m", "2h", "7d", 30)] == [
        90, 600, 7200, 604800, 30]
    assert parse_duration("30d") == MAX_INTERVAL_S == 30 * 86400
    assert parse_duration("00000000000000000000000000010m") == 600
    with pytest.raises(ConfigError):
        parse_duration("0m")


@pytest.mark.parametrize("value", ["31d", "721h", "2592001", 2592001, "99999999999999d",
                                   "9" * 5000, "9" * 5000 + "d", 10 ** 400])
def test_a_duration_longer_than_the_maximum_is_an_error_not_an_overflow(value):
    with pytest.raises(ConfigError) as error:
        parse_duration(value, where="--interval")
    assert str(error.value).startswith("--interval: ")
    assert str(error.value).endswith("is longer than 30 days")
    assert len(str(error.value)) < 200                   # a 5000-digit value is not echoed


@pytest.mark.parametrize("value", ["1.5m", "-5m", "10 minutes", "١٠m", True, 1.5, None])
def test_what_is_not_a_duration(value):
    with pytest.raises(ConfigError, match="is not a duration"):
        parse_duration(value)


def test_parse_duration_takes_another_maximum():
    assert parse_duration("1d", maximum=86400) == 86400
    with pytest.raises(ConfigError, match="'25h' is longer than 1 day"):
        parse_duration("25h", maximum=86400)
    assert parse_duration("365d", maximum=400 * 86400) == 365 * 86400


def test_a_feed_interval_longer_than_30_days_is_an_error(tmp_path):
    feed = "[[feeds]]\nname = 'a'\nurl = 'https://a'\n"
    assert error_of(tmp_path, feed + "interval = '99999999999999d'\n") == (
        "feeds[0].interval: '99999999999999d' is longer than 30 days")
    assert error_of(tmp_path, feed + "interval = '31d'\n") == (
        "feeds[0].interval: '31d' is longer than 30 days")
    assert error_of(tmp_path, feed + "interval = 99999999999999999999\n") == (
        "feeds[0].interval: 99999999999999999999 is longer than 30 days")
    assert error_of(tmp_path, feed + "interval = '0s'\n") == (
        "feeds[0].interval: '0s' must be longer than zero")
    assert load_config(write(tmp_path, feed + "interval = '30d'\n")).feeds[0].interval_s == (
        MAX_INTERVAL_S)


def test_an_integer_too_long_for_python_is_a_config_error(tmp_path):
    message = error_of(tmp_path, "[fetch]\nconcurrency = " + "9" * 5000 + "\n")
    assert message.startswith("cannot read:")


def test_a_url_listed_twice_names_both_feeds(tmp_path):
    text = "".join(f"[[feeds]]\nname = '{name}'\nurl = '{url}'\n" for name, url in [
        ("tagesschau", "https://tagesschau.example/rss"),
        ("zeit", "https://zeit.example/index"),
        ("spiegel", "https://spiegel.example/rss"),
        ("zeit-2", " https://zeit.example/index  "),
    ])
    assert error_of(tmp_path, text) == (
        "feeds[3] ('zeit-2') has the same url as feeds[1] ('zeit'): https://zeit.example/index")


def test_urls_are_compared_as_written(tmp_path):
    text = ("[[feeds]]\nname = 'a'\nurl = 'https://x.example/rss'\n"
            "[[feeds]]\nname = 'b'\nurl = 'https://x.example/rss?'\n")
    assert [f.url for f in load_config(write(tmp_path, text)).feeds] == [
        "https://x.example/rss", "https://x.example/rss?"]


def test_a_name_used_twice_names_both_feeds(tmp_path):
    text = ("[[feeds]]\nname = 'zeit'\nurl = 'https://a'\n"
            "[[feeds]]\nname = 'b'\nurl = 'https://b'\n"
            "[[feeds]]\nname = 'zeit'\nurl = 'https://c'\n")
    assert error_of(tmp_path, text) == (
        "feeds[2].name: 'zeit' is used by two feeds, feeds[0] and feeds[2]")


@pytest.mark.parametrize(("text", "message"), [
    ("[fetch]\ntimeout_s = nan\n", "fetch.timeout_s: must be a finite number, not nan"),
    ("[fetch]\ntimeout_s = inf\n", "fetch.timeout_s: must be a finite number, not inf"),
    ("[fetch]\ntimeout_s = 0.5\n", "fetch.timeout_s: 0.5 is shorter than 1 second"),
    ("[fetch]\ntimeout_s = 301\n", "fetch.timeout_s: 301 is longer than 5 minutes"),
    ("[fetch]\ntimeout_s = '1h'\n", "fetch.timeout_s: '1h' is longer than 5 minutes"),
    ("[fetch]\ntimeout_s = true\n",
     "fetch.timeout_s: must be a number of seconds or a duration such as '10m'"),
    ("[fetch]\nmax_bytes = inf\n", "fetch.max_bytes: must be a finite number, not inf"),
    ("[fetch]\nmax_bytes = 1023\n",
     "fetch.max_bytes: must be between 1024 and 1073741824, not 1023"),
    ("[fetch]\nmax_bytes = 1e300\n",
     "fetch.max_bytes: must be between 1024 and 1073741824, not 1e+300"),
    ("[fetch]\nmax_bytes = '10MB'\n", "fetch.max_bytes: must be a number"),
    ("[fetch]\nmax_redirects = 21\n", "fetch.max_redirects: must be between 0 and 20, not 21"),
    ("[fetch]\nmax_redirects = -1\n", "fetch.max_redirects: must be between 0 and 20, not -1"),
    ("[fetch]\nconcurrency = 0.5\n", "fetch.concurrency: must be a whole number, not 0.5"),
    ("[fetch]\nconcurrency = 0\n", "fetch.concurrency: must be between 1 and 256, not 0"),
    ("[fetch]\nconcurrency = true\n", "fetch.concurrency: must be a number"),
    ("[fetch]\nper_host = 65\n", "fetch.per_host: must be between 1 and 64, not 65"),
    ("[fetch]\nbackoff_max_s = 59\n", "fetch.backoff_max_s: 59 is shorter than 1 minute"),
    ("[fetch]\nbackoff_max_s = '31d'\n", "fetch.backoff_max_s: '31d' is longer than 30 days"),
    ("[service]\npoll_every_s = 0\n", "service.poll_every_s: 0 is shorter than 1 second"),
    ("[service]\npoll_every_s = 1.5\n", "service.poll_every_s: must be a whole number, not 1.5"),
    ("[service]\npoll_every_s = '2d'\n", "service.poll_every_s: '2d' is longer than 1 day"),
    ("[service]\ndispatch_every_s = 3601\n",
     "service.dispatch_every_s: 3601 is longer than 1 hour"),
    ("[service]\njitter = nan\n", "service.jitter: must be a finite number, not nan"),
    ("[service]\njitter = 0.6\n", "service.jitter: must be between 0 and 0.5, not 0.6"),
    ("[service]\njitter = -0.1\n", "service.jitter: must be between 0 and 0.5, not -0.1"),
    ("[service]\njitter = false\n", "service.jitter: must be a number"),
    ("[service]\nbacklog_alert = 1000001\n",
     "service.backlog_alert: must be between 1 and 1000000, not 1000001"),
    ("[retention]\narticles_days = 0\n",
     "retention.articles_days: must be between 1 and 36500, not 0"),
    ("[retention]\noutbox_days = 36501\n",
     "retention.outbox_days: must be between 1 and 36500, not 36501"),
    ("[retention]\noutbox_days = -inf\n",
     "retention.outbox_days: must be a finite number, not -inf"),
    ("[retention]\nkeys_days = 29\n", "retention.keys_days: must be between 30 and 36500, not 29"),
    ("[retention]\nkeys_days = 7.5\n", "retention.keys_days: must be a whole number, not 7.5"),
])
def test_numbers_must_be_finite_and_in_range(tmp_path, text, message):
    assert error_of(tmp_path, text) == message


def test_numbers_in_range_are_kept_with_their_type(tmp_path):
    config = load_config(write(tmp_path, """
[fetch]
timeout_s = 1.5
max_bytes = 1024.0
max_redirects = 0
concurrency = 256
backoff_max_s = "6h"
[service]
poll_every_s = "1s"
dispatch_every_s = 1
jitter = 0
[retention]
articles_days = 36500
keys_days = 36500
"""))
    assert config.fetch.timeout_s == 1.5
    assert config.fetch.max_bytes == 1024 and type(config.fetch.max_bytes) is int
    assert config.fetch.max_redirects == 0
    assert config.fetch.backoff_max_s == 6 * 3600
    assert config.service.poll_every_s == 1 and config.service.dispatch_every_s == 1
    assert config.service.jitter == 0.0 and type(config.service.jitter) is float
    assert (config.retention.articles_days, config.retention.keys_days) == (36500, 36500)


def test_keys_days_defaults_to_ten_years_and_must_cover_articles_days(tmp_path):
    assert load_config(cwd=tmp_path).retention.keys_days == 3650
    assert load_config(REPO / "config.example.toml").retention.keys_days == 3650
    message = error_of(tmp_path, "[retention]\narticles_days = 400\nkeys_days = 399\n")
    assert message.startswith(
        "retention.keys_days: 399 is shorter than retention.articles_days (400)")
    assert "must be at least articles_days" in message
    message = error_of(tmp_path, "[retention]\narticles_days = 5000\n")    # default 3650
    assert message.startswith("retention.keys_days: 3650 is shorter than")


@pytest.mark.parametrize("cls", [FetchConfig, ServiceConfig, RetentionConfig])
def test_every_numeric_setting_has_a_range_that_holds_its_default(cls):
    defaults = cls()
    numeric = {f.name for f in fields(cls)
               if isinstance(getattr(defaults, f.name), (int, float))
               and not isinstance(getattr(defaults, f.name), bool)}
    assert numeric == set(NUMBER_RANGES[cls])
    for key, allowed in NUMBER_RANGES[cls].items():
        value = getattr(defaults, key)
        assert allowed.low <= value <= allowed.high, key
        assert math.isfinite(value)
        assert not allowed.integer or type(value) is int, key


def test_the_example_config_sets_every_numeric_key_with_its_range_in_the_comment():
    lines = (REPO / "config.example.toml").read_text(encoding="utf-8").splitlines()
    for keys in NUMBER_RANGES.values():
        for key in keys:
            index = next(i for i, line in enumerate(lines) if line.startswith(f"{key} = "))
            comment = []
            for line in reversed(lines[:index]):
                if not line.startswith("#"):
                    if not line.strip() or "=" not in line:
                        break
                    continue                       # a key of the same comment block
                comment.append(line)
            assert "–" in " ".join(comment), key   # "(1–300)", "(60 seconds–30 days)"


# ----------------------------------------------------------------- [fetch] allow_networks

def test_allow_networks_is_empty_by_default_and_in_the_example(tmp_path):
    assert load_config(cwd=tmp_path).fetch.allow_networks == ()
    assert FetchConfig().allow_networks == ()
    assert load_config(REPO / "config.example.toml").fetch.allow_networks == ()


def test_allow_networks_are_read_as_networks(tmp_path):
    path = write(tmp_path, '[fetch]\nallow_networks = ["127.0.0.0/8", " fd00::/8 ", '
                           '"192.168.1.20", "::1"]\n')
    assert load_config(path).fetch.allow_networks == (
        ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("fd00::/8"),
        ipaddress.ip_network("192.168.1.20/32"), ipaddress.ip_network("::1/128"))


def test_fetch_config_takes_cidr_strings_and_refuses_bad_ones():
    assert FetchConfig(allow_networks=("10.0.0.0/8",)).allow_networks == (
        ipaddress.ip_network("10.0.0.0/8"),)
    with pytest.raises(ValueError, match="not a network in CIDR form"):
        FetchConfig(allow_networks=("intranet",))


@pytest.mark.parametrize(("value", "message"), [
    ('"127.0.0.0/8"', 'fetch.allow_networks: must be a list of networks such as '
                      '["127.0.0.0/8", "fd00::/8"]'),
    ('["127.0.0.1/8"]',
     "fetch.allow_networks[0]: '127.0.0.1/8' has host bits set; did you mean '127.0.0.0/8'?"),
    ('["10.0.0.0/8", "localhost"]',
     "fetch.allow_networks[1]: 'localhost' is not a network in CIDR form such as "
     "'127.0.0.0/8' or 'fd00::/8'"),
    ('["10.0.0.0/33"]', "fetch.allow_networks[0]: '10.0.0.0/33' is not a network in CIDR form"),
    ('[""]', "fetch.allow_networks[0]: '' is not a network in CIDR form"),
    ("[8]", "fetch.allow_networks[0]: 8 is not a string such as '127.0.0.0/8'"),
    ('[["127.0.0.0/8"]]', "fetch.allow_networks[0]: ['127.0.0.0/8'] is not a string"),
])
def test_a_bad_allow_networks_entry_is_a_clear_error(tmp_path, value, message):
    assert error_of(tmp_path, f"[fetch]\nallow_networks = {value}\n").startswith(message)


def test_allow_networks_sits_with_the_other_fetch_keys(tmp_path):
    message = error_of(tmp_path, '[fetch]\nallow_network = ["127.0.0.0/8"]\n')
    assert "unknown key 'fetch.allow_network'" in message and "allow_networks" in message
    path = write(tmp_path, '[fetch]\nmax_redirects = 2\nallow_networks = ["10.0.0.0/8"]\n')
    fetch = load_config(path).fetch
    assert fetch.max_redirects == 2 and len(fetch.allow_networks) == 1


def test_every_problem_is_reported_at_once_each_at_its_line_and_column(tmp_path):
    path = write(tmp_path, (
        "[database]\npaht = 'x'\n\n"
        "[[feeds]]\nname = 'ok'\nurl = 'https://ok.example/rss'\n\n"
        "[[feeds]]\nname = 'b'\n  url = 'ftp://x'\ninterval = 'soon'\n\n"
        "[digest]\ntime = '25:00'\n\n[fetch]\nmax_bytes = -1\n"))
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(error.value).split("\n") == [
        f"{path}:2:1: unknown key 'database.paht' (did you mean 'path'? known: path)",
        f"{path}:10:3: feeds[1].url: required, an http(s) URL",
        f"{path}:11:1: feeds[1].interval: 'soon' is not a duration such as '10m', '2h' or '7d'",
        f"{path}:14:1: digest.time: '25:00' is not HH:MM",
        f"{path}:17:1: fetch.max_bytes: must be between 1024 and 1073741824, not -1",
    ]


def test_a_toml_syntax_error_has_its_line_and_column(tmp_path):
    path = write(tmp_path, "[database]\npath = = 'x'\n")
    with pytest.raises(ConfigError, match=rf"^{re.escape(str(path))}:2:\d+: "):
        load_config(path)


@pytest.mark.parametrize("name", ["Deutsche Welle", "a(b)", 'x"y', "tages:schau"])
def test_feed_names_are_what_source_queries_accept(tmp_path, name):
    message = error_of(tmp_path, f"[[feeds]]\nname = {name!r}\nurl = 'https://x.example'\n")
    assert message.startswith(f"feeds[0].name: {name!r}: a feed name is letters, digits")


def test_feed_names_may_be_any_script_with_dots_dashes_and_underscores(tmp_path):
    path = write(tmp_path, "[[feeds]]\nname = 'медуза_ru-1.0'\nurl = 'https://x.example'\n")
    assert [feed.name for feed in load_config(path).feeds] == ["медуза_ru-1.0"]
