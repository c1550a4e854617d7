"""What every `monitor` subcommand shares: the --config option, turning config errors
into clean CLI errors, and validated text input (used by cli.py and rules_cli.py alike).

Cheap to import (click only): `monitor --help` imports it, and nothing heavy."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from monitor.config import Config

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), default=None,
    help="Config file (default: config.toml, else config.example.toml, in the current folder).",
)


def terminal_safe(text: str, *, single_line: bool = False) -> str:
    """monitor.deliver.render.terminal_safe, imported on first use rather than at startup."""
    from monitor.deliver import terminal_safe as safe

    return safe(text, single_line=single_line)


def open_config(config_path: str | None) -> Config:
    from monitor.config import ConfigError, load_config

    try:
        return load_config(config_path)
    except ConfigError as exc:
        raise click.ClickException(terminal_safe(str(exc))) from exc


def utf8_problem(text: str) -> str | None:
    """Why `text` is not valid UTF-8 text, or None. On POSIX Python hands undecodable
    command-line bytes over as lone surrogates (surrogateescape: byte 0xFF is U+DCFF); any
    other lone surrogate (possible on Windows) cannot be encoded either."""
    for index, char in enumerate(text, start=1):
        if "\udc80" <= char <= "\udcff":
            return f"not valid UTF-8 text: byte 0x{ord(char) - 0xDC00:02X} at character {index}"
        if "\ud800" <= char <= "\udfff":
            return f"not valid UTF-8 text: lone surrogate U+{ord(char):04X} at character {index}"
    return None


class Utf8Text(click.ParamType):
    """A text argument or option that must be valid UTF-8: `type=TEXT` instead of str.

    Undecodable input is a usage error (click's "Invalid value for 'QUERY': not valid
    UTF-8 text: byte 0xFF at character 1", exit 2), never a UnicodeEncodeError later."""

    name = "text"

    def convert(self, value: Any, param: click.Parameter | None,
                ctx: click.Context | None) -> str:
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError as exc:
                self.fail(f"not valid UTF-8 text: byte 0x{exc.object[exc.start]:02X} at "
                          f"offset {exc.start}", param, ctx)
        elif not isinstance(value, str):
            value = str(value)
        problem = utf8_problem(value)
        if problem is not None:
            self.fail(problem, param, ctx)
        return value


TEXT = Utf8Text()


def read_text_file(path: Path, param_hint: str) -> str:
    """A text file given on the command line, decoded as UTF-8 (a leading BOM dropped).
    Invalid bytes are a usage error naming the option, the file and the first bad byte."""
    shown, hint = terminal_safe(str(path)), f"'{param_hint}'"   # quoted, as click does
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise click.BadParameter(
            f"{shown}: not valid UTF-8 text: byte 0x{exc.object[exc.start]:02X} at offset "
            f"{exc.start}", param_hint=hint) from None
    except OSError as exc:
        raise click.BadParameter(f"{shown}: cannot read: {exc.strerror}",
                                 param_hint=hint) from None
