"""Config loading: defaults, relative paths, and errors that name the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, load_config, parse_duration

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


def test_durations():
    assert [parse_duration(v) for v in ("90s", "10m", "2h", "7d", 30)] == [90, 600, 7200, 604800, 30]
    with pytest.raises(ConfigError):
        parse_duration("0m")
