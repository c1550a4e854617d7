"""The `monitor` command. Thin: build objects from the config, call the library, map errors to
exit codes.

Commands import what they use when they run: the pipeline, the store, Telegram, the
scheduler and rich take most of a second to import, and `monitor --help` needs none of them.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from monitor.cli_options import TEXT, config_option, open_config, read_text_file
from monitor.errors import MonitorError
from monitor.logs import quiet_libraries
from monitor.rules_cli import rules_group, search_command

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from monitor.config import Config
    from monitor.models import Article, Count, Feed
    from monitor.pipeline import CycleReport
    from monitor.store import Store


class _Console:
    """A rich Console, made on first use (rich takes 40 ms to import; --help needs none) and
    anew in each invocation of `main`: rich reads the environment (COLUMNS, NO_COLOR, ...)
    when a console is made, so each invocation sees its own, as in a process of its own."""

    def __init__(self, **options: Any) -> None:
        self._options = options
        self._made: Console | None = None

    def forget(self) -> None:
        self._made = None

    def __getattr__(self, name: str) -> Any:
        if self._made is None:
            from rich.console import Console

            self._made = Console(**self._options)
        return getattr(self._made, name)


console = _Console(soft_wrap=True)
err_console = _Console(stderr=True, soft_wrap=True)


class MonitorGroup(click.Group):
    """A problem the monitor reports (a MonitorError no command handled itself: a locked or
    damaged database, a refused token) or database trouble anywhere in a command (a disk
    that turned read-only) is one line and exit 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        console.forget()
        err_console.forget()
        try:
            return super().invoke(ctx)
        except MonitorError as error:
            raise click.ClickException(str(error)) from None
        except Exception as error:
            sqlite3 = sys.modules.get("sqlite3")    # loaded by any command that used SQLite
            if sqlite3 is not None and isinstance(error, sqlite3.DatabaseError):
                raise click.ClickException(f"database error: {error}") from None
            raise


@click.group(cls=MonitorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Log every event to stderr.")
def main(verbose: bool) -> None:
    """Media monitor: feeds and seed documents in, analysts' rules, Telegram alerts out."""
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    quiet_libraries()


main.add_command(rules_group, "rules")
main.add_command(search_command, "search")


def print_article(article: Article) -> None:
    when = article.published.strftime("%Y-%m-%d %H:%M")
    console.print(
        f"[green]+[/green] [dim]{when}[/dim] [bold]\\[{article.language}][/bold] "
        f"{_escape(article.title)} [dim]({_escape(article.source)})[/dim]",
        highlight=False,
    )


def print_report(report: CycleReport) -> None:
    """The cycle's summary and every problem it met (for `ingest` and `run --once`, whose
    pipeline does not log what this prints)."""
    from monitor.deliver import console_alert_line

    for seed_error in report.seed_errors:
        err_console.print(f"[red]seed {seed_error.path}:[/red] {_escape(seed_error.reason)}",
                          highlight=False)
    for name, feed_error in report.feed_errors.items():
        err_console.print(f"[yellow]feed {name}:[/yellow] {_escape(feed_error)}", highlight=False)
    for config_error in report.config_errors:
        err_console.print(f"[red]config:[/red] {_escape(config_error)}", highlight=False)
    for rule_error in report.rule_errors:
        err_console.print(f"[red]rules:[/red] {_escape(str(rule_error), single_line=False)}",
                          highlight=False)
    for alert in report.console_alerts:
        console.print(_escape(console_alert_line(alert)), highlight=False)
    delivery = report.delivery
    if delivery is not None and delivery.unavailable:
        err_console.print(f"[yellow]delivery:[/yellow] {_escape(delivery.unavailable)}; "
                          "the messages stay queued for the next run", highlight=False)
    sent = f", {delivery.sent} sent" if delivery else ""
    console.print(
        f"{report.new_articles:,} new articles"
        + (f" ({report.known_items:,} items already known, skipped)" if report.known_items
           else "")
        + f", {report.feeds_polled:,} feeds polled, "
        f"{report.matched_articles:,} articles checked against the rules, "
        f"{report.matches:,} matches, {report.alerts_queued:,} alerts queued{sent}",
        highlight=False,
    )


def check_folders(config: Config) -> None:
    """A rules folder that is not there is an error (the monitor would run with no rules,
    silently); a missing seeds folder is said once (a monitor of feeds alone needs none)."""
    from monitor.deliver import terminal_safe

    where = f"[sources] in {config.path}" if config.path else "the built-in default"
    if not config.rules_dir.is_dir():
        raise click.ClickException(terminal_safe(
            f"rules folder not found: {config.rules_dir} (from {where}); create it or set "
            "[sources] rules"))
    if not config.seeds_dir.is_dir():
        err_console.print(f"[yellow]note:[/yellow] no seeds folder at "
                          f"{_escape(str(config.seeds_dir))} (from {_escape(where)}): only "
                          "feeds are read", highlight=False)


@contextlib.contextmanager
def pipeline_database(config: Config) -> Iterator[Store]:
    """The database for a command that runs pipeline stages: it takes the one-instance lock
    first, so that it never runs beside `monitor run` (both would send everything)."""
    from monitor.store import Store, instance_lock

    with instance_lock(config.database_path), Store(config.database_path) as store:
        yield store


def _escape(text: object, *, single_line: bool = True) -> str:
    """Text from feeds, files or the archive as rich may print it: control characters gone
    (rich passes escape sequences through) and rich's own markup escaped."""
    from rich.markup import escape

    from monitor.deliver import terminal_safe
    return escape(terminal_safe(str(text), single_line=single_line))


async def _cycle(config: Config, store: Store, *, deliver: bool) -> CycleReport:
    """One pipeline cycle. With a token (and `deliver`) due messages go to Telegram; without
    one, the console shows the matched articles and the outbox keeps its rows."""
    from monitor.deliver import Dispatcher, telegram_sender
    from monitor.pipeline import Pipeline

    token = os.environ.get(config.telegram.token_env, "").strip()
    async with contextlib.AsyncExitStack() as stack:
        dispatcher = None
        if token and deliver:
            sender = await stack.enter_async_context(telegram_sender(config.telegram, token))
            dispatcher = Dispatcher(store, sender, timezone=config.digest.timezone)
        pipeline = Pipeline(config, store, on_article=print_article, dispatcher=dispatcher,
                            console=not token)
        if console.is_terminal:
            with console.status("Ingesting seeds and feeds…"):
                return await pipeline.run_once()
        return await pipeline.run_once()


def _run_cycle(config: Config, store: Store, *, deliver: bool) -> CycleReport:
    import asyncio

    from monitor.deliver import TokenRejected

    # The report printed after the cycle names every problem; the pipeline's own warnings
    # of them would say each twice (with --verbose, every log line is wanted).
    if logging.getLogger().level > logging.INFO:
        logging.getLogger("monitor.pipeline").setLevel(logging.ERROR)
    try:
        return asyncio.run(_cycle(config, store, deliver=deliver))
    except TokenRejected as error:
        raise click.ClickException(str(error)) from None


@main.command()
@config_option
@click.option("--once", is_flag=True,
              help="One full cycle (seeds, feeds, match, deliver), then exit.")
def run(config_path: str | None, once: bool) -> None:
    """Run the monitor: ingest seeds and feeds, match rules, deliver alerts and digests.

    Without --once it keeps running (scheduler, Telegram bot, delivery) until SIGTERM or
    Ctrl-C, and exits 0 after finishing or safely abandoning the work in flight.
    """
    config = open_config(config_path)
    check_folders(config)
    with pipeline_database(config) as store:
        if once:
            print_report(_run_cycle(config, store, deliver=True))
            return
        import asyncio

        from monitor.deliver import TokenRejected
        from monitor.logs import setup_logging
        from monitor.service import Service

        service = Service(config, store)
        setup_logging(logging.INFO, secrets=[service.token()])
        try:
            asyncio.run(service.run())
        except TokenRejected as error:
            raise click.ClickException(str(error)) from None


@main.command()
@config_option
def ingest(config_path: str | None) -> None:
    """One ingest pass of seeds and feeds, then matching; no delivery."""
    config = open_config(config_path)
    check_folders(config)
    with pipeline_database(config) as store:
        print_report(_run_cycle(config, store, deliver=False))


@main.group()
def feeds() -> None:
    """List, add, import and export feeds."""


def _all_feeds(config_path: str | None) -> list[Feed]:
    """Every stored feed, after writing the config file's feeds to the store (as `run` does)."""
    from monitor.pipeline import CycleReport, Pipeline
    from monitor.store import Store

    config = open_config(config_path)
    with Store(config.database_path) as store:
        report = CycleReport()
        Pipeline(config, store).sync_configured_feeds(report)
        for error in report.config_errors:
            err_console.print(f"[red]config:[/red] {_escape(error)}", highlight=False)
        return store.feeds()


@feeds.command("list")
@config_option
def feeds_list(config_path: str | None) -> None:
    """Every feed with its interval and health."""
    console.print(_feed_table(_all_feeds(config_path), with_url=True))


@feeds.command("add")
@config_option
@click.argument("url", type=TEXT)
@click.option("--name", type=TEXT,
              help="Short name used in alerts and source: queries (default: the host).")
@click.option("--interval", type=TEXT, default="10m", show_default=True,
              help="Poll interval: 90s, 10m, 2h.")
@click.option("--language", type=TEXT, default=None,
              help="Language hint, e.g. de; otherwise detected.")
@click.option("--full-text", is_flag=True, help="Fetch each new item's page for the whole text.")
def feeds_add(config_path: str | None, url: str, name: str | None, interval: str,
              language: str | None, full_text: bool) -> None:
    """Add a feed; a URL that is a feed already, or a name that another feed has, is refused."""
    from urllib.parse import urlsplit

    from monitor.config import FEED_NAME, ConfigError, parse_duration
    from monitor.models import Feed
    from monitor.store import Store, StoreError

    if not url.startswith(("http://", "https://")):
        raise click.BadParameter("must be an http(s) URL", param_hint="URL")
    if name is not None and not FEED_NAME.fullmatch(name):
        raise click.BadParameter("a feed name is letters, digits, '.', '_' and '-' (what "
                                 "source: in a query accepts)", param_hint="--name")
    try:
        seconds = parse_duration(interval, where="--interval")
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from exc
    config = open_config(config_path)
    with Store(config.database_path) as store:
        try:
            feed = store.add_feed(Feed(
                name=name or urlsplit(url).hostname or url, url=url, interval_s=seconds,
                language=language, full_text=full_text,
            ))
        except StoreError as error:
            raise click.ClickException(str(error)) from None
    console.print(f"feed {_escape(repr(feed.name))} → {_escape(feed.url)}", highlight=False)


@feeds.command("import-opml")
@config_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--interval", type=TEXT, default="10m", show_default=True)
def feeds_import_opml(config_path: str | None, file: str, interval: str) -> None:
    """Add every feed of an OPML file (as exported by feed readers).

    Feeds whose URL is known already are skipped; invalid entries are reported with their
    line; the rest are imported.
    """
    from monitor.config import ConfigError, parse_duration
    from monitor.ingest import OpmlError, parse_opml
    from monitor.models import Feed
    from monitor.store import Store

    try:
        seconds = parse_duration(interval, where="--interval")
        data = Path(file).read_bytes()
    except ConfigError as exc:
        raise click.ClickException(f"{file}: {exc}") from exc
    config = open_config(config_path)
    with Store(config.database_path) as store:
        stored = store.feeds()
        known = {feed.url: feed.name for feed in stored}
        try:
            document = parse_opml(data, taken={feed.name for feed in stored})
        except OpmlError as exc:
            raise click.ClickException(f"{file}: {exc}") from exc
        imported = skipped = 0
        for problem in document.invalid:
            err_console.print(f"{_escape(file)}:{problem.line}: {_escape(problem.reason)}",
                              highlight=False)
        with store.transaction():
            for entry in document.feeds:
                if entry.url in known:
                    skipped += 1
                    err_console.print(f"{_escape(file)}:{entry.line}: skipped, already a feed "
                                      f"named {_escape(repr(known[entry.url]))}: "
                                      f"{_escape(entry.url)}", highlight=False)
                    continue
                store.upsert_feed(Feed(name=entry.name, url=entry.url, interval_s=seconds,
                                       language=entry.language))
                imported += 1
    console.print(f"{imported} feeds imported from {_escape(file)}, {skipped} already known, "
                  f"{len(document.invalid)} invalid", highlight=False)


@feeds.command("remove")
@config_option
@click.argument("name", type=TEXT)
def feeds_remove(config_path: str | None, name: str) -> None:
    """Forget the feed NAME and its fetch state; its articles stay in the archive."""
    from monitor.store import Store

    config = open_config(config_path)
    with Store(config.database_path) as store:
        removed = store.remove_feed(name)
    if removed is None:
        raise click.ClickException(f"no feed named {name!r} (see `monitor feeds list`)")
    console.print(f"feed {_escape(repr(removed.name))} removed ({_escape(removed.url)})",
                  highlight=False)
    if any(feed.url == removed.url for feed in config.feeds):
        err_console.print(f"[yellow]note:[/yellow] {_escape(removed.url)} is still in "
                          f"{config.path}; remove it there, or it comes back on the next run",
                          highlight=False)


@feeds.command("export-opml")
@config_option
def feeds_export_opml(config_path: str | None) -> None:
    """Print all feeds as OPML."""
    from monitor.ingest import export_opml

    click.echo(export_opml(_all_feeds(config_path)))


@main.command()
@config_option
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def backup(config_path: str | None, target: Path) -> None:
    """Copy the database to TARGET while the service may be running (SQLite online backup)."""
    from monitor.store import Store

    if target.exists():
        raise click.ClickException(f"{target} exists; choose a new file")
    config = open_config(config_path)
    with Store(config.database_path, readonly=True) as store:
        store.backup(target)
    console.print(f"backup written: {_escape(target)}", highlight=False)


@main.command()
@config_option
def stats(config_path: str | None) -> None:
    """Articles by language and feed, feed health, matches and the outbox."""
    from monitor.store import Store

    config = open_config(config_path)
    with Store(config.database_path, readonly=True) as store:
        counts = store.stats()
        feed_list = store.feeds()
    console.print(f"[bold]{counts.articles}[/bold] articles, "
                  f"[bold]{counts.matches}[/bold] matches")
    console.print(_counts_table("Articles by language", "language", counts.by_language))
    console.print(_counts_table("Articles by source", "source", counts.by_source))
    if counts.matches_by_rule:
        console.print(_counts_table("Matches by rule", "rule_id", counts.matches_by_rule))
    if counts.outbox:
        console.print(_counts_table("Outbox", "status", counts.outbox))
    console.print(_feed_table(feed_list))


def _counts_table(title: str, key: str, rows: list[Count]) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    table.add_column(key)
    table.add_column("articles" if key != "status" else "rows", justify="right")
    for row in rows:
        table.add_row(_escape(row.key), str(row.n))
    return table


def _feed_table(feed_list: list[Feed], *, with_url: bool = False) -> Table:
    """One row per feed that fits 80 columns: the state of a feed in one cell ("failing
    since 12-04 10:00, 3 errors, HTTP 503: …", "silent since 12-01 08:00, nothing new
    (usually every 2h)"), the URL without its scheme, folded."""
    from rich.table import Table

    from monitor.ingest import feed_health, usual_gap_text
    from monitor.models import FeedHealth
    from monitor.store import utc_now

    table = Table(title="Feeds", title_justify="left")
    table.add_column("name", overflow="fold", max_width=20)
    if with_url:
        table.add_column("every", justify="right", no_wrap=True)
    table.add_column("next", no_wrap=True)
    table.add_column("health", overflow="fold", ratio=1, min_width=12)
    if with_url:
        table.add_column("url", overflow="fold", ratio=1, min_width=12)
    now = utc_now()
    for feed in feed_list:
        word = feed_health(feed)
        if word == FeedHealth.NEW:
            health = "[dim]new[/dim]"
        elif word == FeedHealth.SILENT and feed.silent_since is not None:
            if feed.not_a_feed:
                why = f"HTTP {feed.last_status}: {_escape(feed.last_error or '')}"
            else:
                usual = usual_gap_text(feed)
                why = "nothing new" + (f" (usually every {usual})" if usual else "")
            health = f"[yellow]silent[/yellow] since {feed.silent_since:%m-%d %H:%M}, {why}"
        elif word == FeedHealth.FAILING:
            since = f" since {feed.failing_since:%m-%d %H:%M}" if feed.failing_since else ""
            errors = f", {feed.error_count} error" + ("s" if feed.error_count != 1 else "")
            status = f", HTTP {feed.last_status}" if feed.last_status else ""
            detail = f": {_escape(feed.last_error)}" if feed.last_error else ""
            health = f"[red]failing[/red]{since}{errors}{status}{detail}"
        else:
            health = "[green]ok[/green]" + (f", HTTP {feed.last_status}" if feed.last_status
                                            else "")
        due = "now" if not feed.next_due or feed.next_due <= now else f"{feed.next_due:%m-%d %H:%M}"
        row = [_escape(feed.name)]
        if with_url:
            row.append(duration_text(feed.interval_s))
        row += [due, health]
        if with_url:
            row.append(_escape(feed.url.partition("://")[2] or feed.url))
        table.add_row(*row)
    return table


def duration_text(seconds: int) -> str:
    """Seconds as an interval is written: 90 → '90s', 600 → '10m', 7200 → '2h', 86400 → '1d'."""
    for unit, letter in ((86400, "d"), (3600, "h"), (60, "m")):
        if seconds % unit == 0:
            return f"{seconds // unit}{letter}"
    return f"{seconds}s"


@main.command()
@config_option
@click.option("--chat", "chat_id", type=int, help="One chat's digest.")
@click.option("--all", "all_chats", is_flag=True, help="Every chat with a digest subscription.")
@click.option("--dry-run", is_flag=True, help="Print to the terminal; record and send nothing.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Write a self-contained FILE.html or FILE.md (records and sends nothing).")
def digest(config_path: str | None, chat_id: int | None, all_chats: bool, dry_run: bool,
           out_path: Path | None) -> None:
    """Build the daily digest now: everything since the chat's last digest.

    Without --dry-run or --out the digest is recorded and queued for delivery (the next
    `monitor run` sends it), and the next scheduled digest starts from now.
    """
    from datetime import timedelta

    from monitor.deliver import html_to_plain
    from monitor.digest import render_html_page, render_markdown, render_telegram
    from monitor.pipeline import Pipeline
    from monitor.store import Store, utc_now

    if (chat_id is None) == (not all_chats):
        raise click.UsageError("give --chat ID or --all")
    if out_path and out_path.suffix.lower() not in (".html", ".htm", ".md"):
        raise click.UsageError("--out takes a .html or .md file")
    config = open_config(config_path)
    now = utc_now()
    opened = (Store(config.database_path, readonly=True) if dry_run or out_path
              else pipeline_database(config))  # queueing is a pipeline stage: the lock
    with opened as store:
        pipeline = Pipeline(config, store)
        chats = {c.chat_id: c for c in store.digest_chats()}
        wanted: list[int] = list(chats) if all_chats or chat_id is None else [chat_id]
        pages = []
        for chat in wanted:
            info = chats.get(chat)
            if info is None:
                raise click.ClickException(f"chat {chat} has no digest subscription")
            timezone = info.digest_tz or config.digest.timezone
            start = info.last_end or now - timedelta(days=1)
            built = pipeline.build_digest(chat, start, now, timezone, info.language)
            if out_path:
                pages.append(built)
            elif dry_run:
                click.echo(f"── digest for chat {chat} ──")
                click.echo("\n\n".join(html_to_plain(m) for m in render_telegram(built)))
            elif built.empty:
                click.echo(f"chat {chat}: nothing new since {start:%Y-%m-%d %H:%M} UTC; "
                           "nothing queued")
            elif store.record_digest(chat, start, now, render_telegram(built)):
                click.echo(f"digest for chat {chat} queued")
        if out_path:
            render = render_markdown if out_path.suffix.lower() == ".md" else render_html_page
            for built in pages:
                path = out_path if len(pages) == 1 else out_path.with_name(
                    f"{out_path.stem}-{built.chat_id}{out_path.suffix}")
                path.write_text(render(built), encoding="utf-8")
                click.echo(f"written: {path}")


@main.command()
@config_option
@click.argument("article_id", type=int, required=False)
@click.option("--file", "file_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Summarise a text file instead (first line is the title).")
@click.option("--language", type=TEXT, help="Language of --file (default: detected).")
@click.option("--sentences", default=3, show_default=True, help="At most this many sentences.")
def summarize(config_path: str | None, article_id: int | None, file_path: Path | None,
              language: str | None, sentences: int) -> None:
    """Print the extractive summary of an archived article or a text file."""
    from monitor.deliver import terminal_safe
    from monitor.language import detect_language
    from monitor.store import Store
    from monitor.summarize import summarize as summarize_text

    if (article_id is None) == (file_path is None):
        raise click.UsageError("give an ARTICLE_ID or --file PATH")
    if file_path is not None:
        lines = read_text_file(file_path, "--file").strip().split("\n", 1)
        title, text = lines[0].strip(), (lines[1] if len(lines) > 1 else "")
        language = language or detect_language(f"{title}\n{text}")
    else:
        assert article_id is not None           # exactly one of the two, checked above
        config = open_config(config_path)
        with Store(config.database_path, readonly=True) as store:
            article = store.article(article_id)
        if article is None:
            raise click.ClickException(f"no article with id {article_id}")
        title, text, language = article.title, article.text, article.language
    summary = summarize_text(title, text, language, max_sentences=sentences)
    click.echo(f"{terminal_safe(title, single_line=True)}\n")
    click.echo("\n".join(terminal_safe(s, single_line=True) for s in summary.sentences)
               if summary.sentences else "(no summary: empty text)")
