"""What every `monitor` subcommand shares: the --config option and turning config errors
into clean CLI errors (used by cli.py and rules_cli.py alike)."""

from __future__ import annotations

import click

from monitor.config import Config, ConfigError, load_config

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None,
    help="Config file (default: config.toml, else config.example.toml, in the current folder).",
)


def open_config(config_path: str | None) -> Config:
    try:
        return load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
