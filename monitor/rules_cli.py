"""`monitor rules check|test|explain|backtest|spikes` and `monitor search`: the analysts'
tools.

Thin: each command loads the config, calls one function of monitor.matching, and renders
the result (rules-language.md, "What the tools show"). Exit codes: 0 fine, 1 problems found
(rule errors, failing examples, unknown ids), 2 usage errors (click).

The matching engine, the store and rich are imported by the commands that use them, not
here: `monitor --help` imports this module and needs none of them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import click

from monitor.cli_options import TEXT, config_option, open_config, read_text_file, terminal_safe

if TYPE_CHECKING:
    from monitor.config import Config
    from monitor.matching import Backtest, BudgetExceeded, Candidates, Found, Rule, RuleSet, Verdict
    from monitor.models import Article
    from monitor.spikes import Spike
    from monitor.store import Store

CHART_WIDTH = 40
MAX_CHART_ROWS = 62


def _echo(text: str = "", *, err: bool = False) -> None:
    """Every line these commands print goes through terminal_safe: titles and sources come
    from feeds, snippets and queries from the archive, rule files and the command line, and
    any of them may carry escape sequences, carriage returns or bidi overrides."""
    click.echo(terminal_safe(text), err=err)


def _one_line(text: str | None) -> str:
    """A field shown on one line (a title with a newline cannot forge an output line)."""
    return terminal_safe(text or "", single_line=True)


def _load(paths: list[Path]) -> RuleSet:
    """The rule set, or every error printed and exit 1."""
    from monitor.matching import RuleErrors, load_rule_files

    try:
        return load_rule_files(paths)
    except RuleErrors as exc:
        for error in exc.errors:
            _echo(str(error))
        _echo(f"{len(exc.errors)} error(s) in {len({e.file for e in exc.errors})} file(s)")
        sys.exit(1)


MAX_SINCE_S = 100 * 365 * 86_400  # any archive; bounded so the subtraction cannot overflow


def _since(value: str | None) -> datetime | None:
    from monitor.config import ConfigError, parse_duration

    if value is None:
        return None
    try:
        seconds = parse_duration(value, where="--since", maximum=MAX_SINCE_S)
        return datetime.now(UTC) - timedelta(seconds=seconds)
    except ConfigError as exc:
        raise click.BadParameter(terminal_safe(str(exc)), param_hint="--since") from exc


def _archive(config: Config) -> Store:
    from monitor.store import Store

    if not Path(config.database_path).exists():
        raise click.ClickException(terminal_safe(
            f"no archive at {config.database_path}: run `monitor ingest`"))
    return Store(config.database_path)


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[], None]]:
    """A rich progress bar on a terminal; nothing otherwise (pipes, tests, cron)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    if not console.is_terminal:
        yield lambda: None
        return
    # the label (a rule id) as plain text: neither rich markup nor a format string
    columns = (TextColumn("{task.description}", markup=False), BarColumn(),
               MofNCompleteColumn(), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(_one_line(label), total=total)
        yield lambda: progress.advance(task)


# Snippets are built with the matched words between these marks; `_shown` turns them into
# the highlight once the text around them is terminal_safe (which would strip the escape
# sequences of a highlight made earlier). Marks in an article's own text are at worst a
# highlighted word: what is between them is made terminal_safe as well.
_MARK_ON, _MARK_OFF = "\x00", "\x01"
_MARKED = re.compile("\x00([^\x00\x01]*)\x01")


def _highlighter() -> Callable[[str], str]:
    return lambda word: f"{_MARK_ON}{word}{_MARK_OFF}"


def _stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def _shown(marked: str, terminal: bool) -> str:
    """A snippet with its marked words as terminal output: reverse video on a terminal,
    **word** elsewhere (so the highlight survives a pipe); all of it terminal_safe."""
    pieces, cursor = [], 0
    for match in _MARKED.finditer(marked):
        pieces.append(terminal_safe(marked[cursor:match.start()]))
        word = terminal_safe(match.group(1))
        pieces.append(click.style(word, bold=True, reverse=True) if terminal else f"**{word}**")
        cursor = match.end()
    pieces.append(terminal_safe(marked[cursor:]))
    return "".join(pieces)


def _find_rule(ruleset: RuleSet, rule_id: str) -> Rule:
    rule = ruleset.get(rule_id)
    if rule is None:
        known = ", ".join(r.id for r in ruleset) or "none"
        raise click.ClickException(terminal_safe(f"no rule {rule_id!r} (rules: {known})"))
    return rule


@click.group("rules")
def rules_group() -> None:
    """Check, test, explain and backtest the analysts' rules (rules/*.toml)."""


# -------------------------------------------------------------------------------- check

@rules_group.command("check")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@config_option
def check_command(paths: tuple[Path, ...], config_path: str | None) -> None:
    """Validate rule files: every error as file:line:column with a caret (exit 1).

    PATHs (files or folders) are checked together with the rules folder, as they would go
    live. Warnings: lower-case operators between terms, queries that are only negative,
    entity aliases that no archived article has ever matched, and plain words that the
    archive mostly has inside longer words (for the rules of PATHs, or of a folder of at
    most COMPOUND_HINT_RULES rules).
    """
    from monitor.matching import display_path, is_negative_only, rule_files

    config = open_config(config_path)
    files = _files_to_check(config, paths)
    if not files:
        raise click.ClickException(terminal_safe(f"no rule files (*.toml) in {config.rules_dir}"))
    ruleset = _load(files)
    warnings = [str(warning) for warning in ruleset.warnings]
    warnings += [
        f"{display_path(rule.file)}:{rule.line}: warning: rule '{rule.id}' has only negative "
        "terms: it is checked against every article and matches all that lack them"
        for rule in ruleset if rule.file is not None and is_negative_only(rule)
    ]
    alias_warnings, notes = _alias_warnings(config, ruleset)
    warnings += alias_warnings
    named = {file.resolve() for path in paths
             for file in (rule_files(path) if path.is_dir() else [path])}
    hint_warnings, hint_notes = _compound_warnings(config, ruleset, named)
    warnings += hint_warnings
    notes += hint_notes
    for line in warnings + notes:
        _echo(line)
    _echo(f"ok: {len(ruleset)} rules, {len(ruleset.entities)} entities in {len(files)} "
          f"file(s)" + (f", {len(warnings)} warning(s)" if warnings else ""))


COMPOUND_HINT_RULES = 500   # beyond: only the rules of the files named on the command line


def _compound_warnings(config: Config, ruleset: RuleSet, named: set[Path]
                       ) -> tuple[list[str], list[str]]:
    """Hints for plain words the archive mostly has inside longer words (matching.hints),
    and a note when they were not looked for."""
    from monitor.matching import compound_hints, display_path
    from monitor.store import Store

    rules = [rule for rule in ruleset if rule.file is not None
             and (rule.file.resolve() in named or len(ruleset) <= COMPOUND_HINT_RULES)]
    if not rules:
        return [], [f"note: compound words not looked for in {len(ruleset):,} rules: name "
                    "the files to look at"] if len(ruleset) else []
    if not Path(config.database_path).exists():
        return [], []           # _alias_warnings notes the missing archive
    with Store(config.database_path, readonly=True) as store:
        return [f"{display_path(rule.file)}:{rule.line}: warning: rule '{rule.id}': "
                f"{hint.message}" for rule in rules for hint in compound_hints(store, rule)], []


def _files_to_check(config: Config, paths: tuple[Path, ...]) -> list[Path]:
    from monitor.matching import rule_files

    files = {p.resolve(): p for p in rule_files(config.rules_dir)}
    for path in paths:
        for file in (rule_files(path) if path.is_dir() else [path]):
            files.setdefault(file.resolve(), file)
    return list(files.values())


def _alias_warnings(config: Config, ruleset: RuleSet) -> tuple[list[str], list[str]]:
    """Warnings for aliases no archived article matched, and notes when that could not be
    checked."""
    from monitor.matching import display_path, unused_aliases
    from monitor.store import Store

    if not ruleset.entities:
        return [], []
    if not Path(config.database_path).exists():
        return [], [f"note: no archive at {config.database_path}: alias usage not checked"]
    with Store(config.database_path) as store:
        total = store.count_articles()
        if total == 0:
            return [], ["note: the archive is empty: alias usage not checked"]
        with _progress(total, "aliases") as advance:
            unused = unused_aliases(dict(ruleset.entities), store.iter_articles(), advance)
    return [
        f"{display_path(entity.file)}:{entity.line}: warning: entity '{entity.id}': alias "
        f"{alias!r} has not matched any of the {total} archived articles"
        for entity, alias in unused if entity.file is not None
    ], []


# --------------------------------------------------------------------------------- test

@rules_group.command("test")
@click.argument("rule_ids", nargs=-1, type=TEXT)
@config_option
def test_command(rule_ids: tuple[str, ...], config_path: str | None) -> None:
    """Run every [[rules.examples]] (or those of RULE_IDS); exit 1 on any failure."""
    from monitor.matching import display_path, explain_article, rule_files, run_examples

    config = open_config(config_path)
    ruleset = _load(rule_files(config.rules_dir))
    for rule_id in rule_ids:
        _find_rule(ruleset, rule_id)
    results = run_examples(ruleset, rule_ids)
    highlight = _highlighter()
    failures = [r for r in results if not r.passed]
    for result in failures:
        expected = "a match" if result.example.match else "no match"
        got = "it matched" if result.matched else "it did not match"
        _echo(f"FAIL {display_path(result.rule.file)}:{result.example.line}: rule "
              f"'{result.rule.id}' example {result.number}: expected {expected}, {got}")
        _echo_verdict(explain_article(result.rule, result.article), result.rule, highlight,
                      indent="    ")
    untested = [rule.id for rule in ruleset if not rule.examples and
                (not rule_ids or rule.id in rule_ids)]
    rules = len({r.rule.id for r in results})
    _echo(f"{len(results)} examples in {rules} rules: {len(results) - len(failures)} "
          f"passed, {len(failures)} failed"
          + (f"; without examples: {', '.join(untested)}" if untested else ""))
    if failures:
        sys.exit(1)


# ------------------------------------------------------------------------------ explain

@rules_group.command("explain")
@click.argument("rule_id", required=False, type=TEXT)
@click.option("--query", "query_text", type=TEXT, help="Explain this query instead of a rule.")
@click.option("--article", "article_id", type=int, help="An archived article, by id.")
@click.option("--file", "file_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A text file: first line the title, the rest the body.")
@click.option("--language", type=TEXT, help="Language of --file (default: detected).")
@config_option
def explain_command(rule_id: str | None, query_text: str | None, article_id: int | None,
                    file_path: Path | None, language: str | None,
                    config_path: str | None) -> None:
    """Whether RULE_ID (or --query) matches an article, which term matched where, and the
    matched words highlighted."""
    from monitor.matching import explain_article

    if (rule_id is None) == (query_text is None):
        raise click.UsageError("give either RULE_ID or --query")
    if (article_id is None) == (file_path is None):
        raise click.UsageError("give either --article ID or --file PATH")
    config = open_config(config_path)
    rule = _rule_or_query(config, rule_id, query_text)
    if file_path is not None:
        article = _article_from_file(file_path, language)
    else:
        assert article_id is not None           # exactly one of the two, checked above
        with _archive(config) as store:
            found = store.article(article_id)
        if found is None:
            raise click.ClickException(terminal_safe(
                f"no article {article_id} in {config.database_path}"))
        article = found
    _echo(f"{'rule ' + repr(rule.id) if rule_id else 'query'} (version {rule.version}): "
          f"{_one_line(rule.query.text)}")
    _echo(f"article {article.id if article.id is not None else _one_line(str(file_path))}: "
          f"[{_one_line(article.language)}] {_one_line(article.source)}")
    _echo_verdict(explain_article(rule, article), rule, _highlighter())


def _rule_or_query(config: Config, rule_id: str | None, query_text: str | None) -> Rule:
    from monitor.matching import QuerySyntaxError, load_entities, make_rule, rule_files

    if rule_id is not None:
        return _find_rule(_load(rule_files(config.rules_dir)), rule_id)
    assert query_text is not None
    try:
        return make_rule("query", query_text, load_entities(config.rules_dir))
    except QuerySyntaxError as exc:
        _echo(str(exc))
        sys.exit(1)


def _article_from_file(path: Path, language: str | None) -> Article:
    from monitor.language import guess_language, language_code
    from monitor.models import Article

    title, _, body = read_text_file(path, "--file").partition("\n")
    language = language_code(language) or guess_language(f"{title}\n{body}")
    now = datetime.now(UTC)
    return Article(title=title.strip(), text=body.strip(), url=None, guid=None,
                   source=path.name, language=language, published=now, fetched=now,
                   content_hash="")


def _echo_verdict(verdict: Verdict, rule: Rule, highlight: Callable[[str], str],
                  indent: str = "") -> None:
    from monitor.matching import explanation_lines, snippets

    _echo(f"{indent}{'MATCH' if verdict.matched else 'NO MATCH'}")
    if not verdict.limits_ok:
        limits = []
        if rule.languages:
            limits.append(f"languages {', '.join(sorted(rule.languages))}")
        if rule.sources:
            limits.append(f"sources {', '.join(sorted(rule.sources))}")
        document = verdict.document
        _echo(_one_line(f"{indent}the rule is limited to {' and '.join(limits)}; the article "
                        f"is [{document.language}] from {', '.join(sorted(document.sources))}"))
    for line in explanation_lines(verdict.explanation):
        _echo(f"{indent}{line}")
    terminal = _stdout_is_terminal()
    for field, text in snippets(verdict, highlight).items():
        lines = text.split("\n")
        click.echo(f"{indent}{field}: {_shown(lines[0], terminal)}")
        for line in lines[1:]:
            click.echo(f"{indent}{' ' * (len(field) + 2)}{_shown(line, terminal)}")


# ----------------------------------------------------------------------------- backtest

@rules_group.command("backtest")
@click.argument("rule_id", type=TEXT)
@click.option("--since", type=TEXT, help="Only articles published within this time, e.g. 30d, 12h.")
@config_option
def backtest_command(rule_id: str, since: str | None, config_path: str | None) -> None:
    """What RULE_ID would have sent: hits per day, distinct stories and sample titles."""
    from monitor.matching import archive_candidates, backtest, rule_files

    config = open_config(config_path)
    ruleset = _load(rule_files(config.rules_dir))
    rule = _find_rule(ruleset, rule_id)
    since_time = _since(since)
    with _archive(config) as store:
        candidates = archive_candidates(store, rule, since_time)
        with _progress(len(candidates), rule_id) as advance:
            result = backtest(store, rule, dict(ruleset.entities), since_time, advance,
                              candidates)
    _echo_backtest(result, since)
    _echo_search_notes(candidates, result.exceeded)


def _echo_backtest(result: Backtest, since: str | None) -> None:
    scope = f"in the last {since}" if since else "in the whole archive"
    state = "" if result.rule.enabled else " (disabled in its file)"
    _echo(f"rule '{result.rule.id}'{state}: {len(result.hits)} of {result.articles} "
          f"articles {scope}, {result.stories} distinct stories")
    if not result.hits:
        return
    unit, rows = _chart_rows(result.per_day)
    _echo(f"hits per {unit}:")
    _echo_chart([(label, count, "") for label, count, _ in rows])
    _echo("sample titles:")
    for found in result.samples():
        _echo_found(found, with_url=False)


def _chart_rows(per_day: dict[date, int], marked: Collection[date] = ()
                ) -> tuple[str, list[tuple[str, int, int]]]:
    """One row per day between the first and the last hit; per week or month when that
    would be too many rows. Each row: its label, its hits, and how many `marked` days (one
    per spike) fall in it."""
    first, last = min(per_day), max(per_day)
    days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
    for unit, key in (("day", lambda d: d.isoformat()),
                      ("week", lambda d: f"{d.isocalendar().year}-W{d.isocalendar().week:02}"),
                      ("month", lambda d: d.strftime("%Y-%m")),
                      ("year", lambda d: str(d.year))):
        buckets: dict[str, list[int]] = {}
        for day in days:
            buckets.setdefault(key(day), [0, 0])[0] += per_day.get(day, 0)
        if len(buckets) <= MAX_CHART_ROWS or unit == "year":
            for day in marked:
                if key(day) in buckets:
                    buckets[key(day)][1] += 1
            return unit, [(label, hits, marks) for label, (hits, marks) in buckets.items()]
    raise AssertionError("unreachable")


def _echo_chart(rows: list[tuple[str, int, str]]) -> None:
    """Rows of a bar chart: label, a bar as long as the count against the longest, the
    count, and a note."""
    peak = max((count for _, count, _ in rows), default=0) or 1
    for label, count, note in rows:
        bar = "█" * max(1 if count else 0, round(count / peak * CHART_WIDTH))
        _echo(f"  {label}  {bar} {count}{'  ' + note if note else ''}".rstrip())


# ------------------------------------------------------------------------------- spikes

@rules_group.command("spikes")
@click.argument("rule_id", type=TEXT)
@click.option("--since", type=TEXT,
              help="Only spikes within this time, e.g. 30d (the baseline before it is read "
                   "as well).")
@config_option
def spikes_command(rule_id: str, since: str | None, config_path: str | None) -> None:
    """When RULE_ID's spike alerts would have fired: its matches per hour or day with the
    spikes marked, and each spike's count against the usual one.

    The rule's matches in the archive (as backtest finds them) are replayed through the
    service's detector (monitor/spikes.py) with the rule's [rules.spike] settings: at every
    matching article's publication and every hour, the hour before against the same hour
    of the previous 14 days, with the cool-down.
    """
    from monitor.matching import archive_candidates, backtest, rule_files
    from monitor.spikes import BASELINE_DAYS, WINDOW, replay

    config = open_config(config_path)
    ruleset = _load(rule_files(config.rules_dir))
    rule = _find_rule(ruleset, rule_id)
    since_time = _since(since)
    read_from = since_time - timedelta(days=BASELINE_DAYS) - WINDOW if since_time else None
    with _archive(config) as store:
        span = store.archive_span()
        candidates = archive_candidates(store, rule, read_from)
        with _progress(len(candidates), rule_id) as advance:
            result = backtest(store, rule, dict(ruleset.entities), read_from, advance,
                              candidates)
    times = sorted(found.article.published for found in result.hits)
    if span is None:
        _echo(f"rule '{rule.id}': the archive is empty")
        return
    # The rule would have been applied to every archived article: its history begins with
    # the archive (or with what was read before --since).
    history_start = max(span[0], read_from) if read_from else span[0]
    start = max(since_time, history_start) if since_time else history_start
    end = min(span[1], datetime.now(UTC))
    if start >= end:
        _echo(f"rule '{rule.id}': the archive has nothing in the last {since} (its newest "
              f"article is from {span[1]:%Y-%m-%d %H:%M} UTC)")
        return
    spikes = replay(times, start, end, rule.spike, history_start)
    shown = [t for t in times if start <= t <= end]
    _echo_spikes(rule, shown, spikes, (start, end), end - history_start, since)
    _echo_search_notes(candidates, result.exceeded)


def _echo_spikes(rule: Rule, times: list[datetime], spikes: list[Spike],
                 span: tuple[datetime, datetime], history: timedelta, since: str | None
                 ) -> None:
    from monitor.spikes import BASELINE_DAYS, MIN_HISTORY_DAYS

    settings = rule.spike
    scope = f"in the last {since}" if since else "in the archive"
    _echo(f"rule '{rule.id}': {len(times)} matching articles {scope} "
          f"({span[0]:%Y-%m-%d %H:%M} – {span[1]:%Y-%m-%d %H:%M} UTC)")
    _echo(f"a spike: at least {settings.min} in an hour and more than the mean + "
          f"{settings.k:g}·σ of that hour on the {BASELINE_DAYS} days before (with at least "
          f"{MIN_HISTORY_DAYS} days of history); then quiet for "
          f"{_duration(settings.cooldown_s)}")
    if times:
        unit, rows = _spike_chart_rows(times, spikes)
        _echo(f"matches per {unit} (⚡ a spike alert):")
        _echo_chart(rows)
    if not spikes:
        too_short = history < timedelta(days=MIN_HISTORY_DAYS)
        _echo("no spike alert would have fired" + (
            f": the archive holds {history / timedelta(days=1):.1f} days, fewer than the "
            f"{MIN_HISTORY_DAYS} a baseline needs" if too_short else ""))
        return
    _echo(f"{len(spikes)} spike alert(s) would have fired:")
    for spike in spikes:
        _echo(f"  {spike.end:%Y-%m-%d %H:%M} UTC  {spike.count} in the hour before (usual "
              f"{spike.usual:.1f}, threshold {spike.threshold:.1f}, {spike.days} days)")


def _spike_chart_rows(times: list[datetime], spikes: list[Spike]
                      ) -> tuple[str, list[tuple[str, int, str]]]:
    """Per hour when the matches span at most MAX_CHART_ROWS hours, else as backtest's chart
    (per day, week, month); a ⚡ per spike in its row."""
    first = times[0].replace(minute=0, second=0, microsecond=0)
    hours = int((times[-1] - first) / timedelta(hours=1)) + 1
    if hours <= MAX_CHART_ROWS:
        labels = [first + timedelta(hours=n) for n in range(hours)]
        counts = [0] * hours
        marks = [0] * hours
        for moment in times:
            counts[int((moment - first) / timedelta(hours=1))] += 1
        for spike in spikes:
            # the hour its last counted article is in (the alert's moment, up to that hour)
            marks[min(hours - 1, max(0, int((spike.end - first) / timedelta(hours=1))))] += 1
        return "hour", [(f"{label:%Y-%m-%d %H}h", count, "⚡" * mark)
                        for label, count, mark in zip(labels, counts, marks, strict=True)]
    per_day: dict[date, int] = {}
    for moment in times:
        per_day[moment.date()] = per_day.get(moment.date(), 0) + 1
    unit, rows = _chart_rows(per_day, [spike.end.date() for spike in spikes])
    return unit, [(label, count, "⚡" * mark if mark <= 5 else f"⚡×{mark}")
                  for label, count, mark in rows]


def _duration(seconds: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


# ------------------------------------------------------------------------------- search

@click.command("search")
@click.argument("query", type=TEXT)
@click.option("--since", type=TEXT, help="Only articles published within this time, e.g. 30d, 12h.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(min=0),
              help="Number of results; 0 for all.")
@click.option("--json", "as_json", is_flag=True, help="One JSON array of objects.")
@config_option
def search_command(query: str, since: str | None, limit: int, as_json: bool,
                   config_path: str | None) -> None:
    """Archived articles that match QUERY (the rule language), newest first."""
    from monitor.deliver import terminal_json
    from monitor.matching import (
        QuerySyntaxError,
        archive_candidates,
        compound_hints,
        load_entities,
        make_rule,
        operator_hints,
        search_archive,
    )

    config = open_config(config_path)
    entities = load_entities(config.rules_dir)
    try:
        rule = make_rule("search", query, entities)
    except QuerySyntaxError as exc:
        _echo(str(exc), err=True)
        sys.exit(1)
    since_time = _since(since)
    with _archive(config) as store:
        for hint in [*operator_hints(query), *compound_hints(store, rule)]:
            _echo(f"hint: {hint.message}", err=True)
        candidates = archive_candidates(store, rule, since_time)
        with _progress(len(candidates), "search") as advance:
            search = search_archive(store, rule, entities, since_time, limit, advance,
                                    candidates)
    if as_json:
        click.echo(terminal_json([f.as_json() for f in search.found]))
        return
    for item in search.found:
        _echo_found(item, with_url=True)
    if search.complete:
        _echo(f"{len(search.found)} matching article(s)")
    else:
        _echo(f"the newest {len(search.found)} matching article(s); more may match "
              f"(--limit 0 shows all)")
    _echo_search_notes(candidates, search.exceeded)


def _echo_search_notes(candidates: Candidates, exceeded: list[BudgetExceeded]) -> None:
    """What the user should know about how complete and how fast the answer was (on
    stderr, so that the results stay machine-readable)."""
    if candidates.why == "no terms":
        _echo("note: the query has no word the archive index can look up (only NOT, or a "
              "*fix or *mid* that fits too many words), so every article in the window was "
              "checked", err=True)
    elif candidates.why == "no index":
        _echo("note: the archive index is not built yet (the next `monitor run` or "
              "`monitor ingest` builds it), so every article in the window was checked",
              err=True)
    if exceeded:
        _echo(f"note: {len(exceeded)} article(s) took this query more than its work budget "
              f"and count as not matching (fewer NEARs or smaller distances help)", err=True)


def _echo_found(found: Found, with_url: bool) -> None:
    article = found.article
    when = article.published.strftime("%Y-%m-%d %H:%M") if article.published else "?"
    _echo(f"  {when}  [{_one_line(article.language)}] {_one_line(article.title) or '(no title)'}"
          f"  ({_one_line(article.source)}, #{article.id})")
    if with_url and article.url:
        _echo(f"      {_one_line(article.url)}")
    if with_url:
        _echo(f"      matched: {_one_line(', '.join(found.match.words))}")
