"""Rule files: loading, strict validation with positions, versions, and hot reload.

Every `*.toml` in the rules folder is read and merged (rules-language.md, "Files"). Files are
validated strictly: unknown keys, wrong types, duplicate ids (naming both files), unknown
entities and query errors are all reported, each with file, line and column; one bad file
makes the whole load fail, so a half-valid rule set never goes live (RuleWatcher keeps the
previous good set instead).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

from monitor.config import ConfigError, parse_duration
from monitor.errors import MatchingError
from monitor.language import guess_language, language_code
from monitor.matching.analysis import ANALYSIS_VERSION, query_words, source_name
from monitor.matching.collector import CollectorPaused
from monitor.matching.hints import operator_hints
from monitor.matching.query import Query, QuerySyntaxError, caret_lines, parse_query
from monitor.models import WATCH_PREFIX, Article, DeliveryMode, SpikeSettings
from monitor.sourcemap import Block, SourceMap

RULE_KEYS = {"id", "name", "description", "query", "languages", "sources", "delivery",
             "enabled", "examples", "spike"}
SPIKE_KEYS = {"k", "min", "cooldown"}
MAX_SPIKE_K = 100.0
MAX_SPIKE_MIN = 1_000_000
MAX_COOLDOWN_S = 30 * 86_400
ENTITY_KEYS = {"name", "aliases", "description"}
EXAMPLE_KEYS = {"title", "text", "match", "language", "source", "url"}
TOP_KEYS = {"rules", "entities"}
DELIVERY_MODES: dict[str, DeliveryMode] = {"instant": "instant", "digest": "digest"}
_ID = re.compile(r"[a-z0-9][a-z0-9-]*")
_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
# tomllib parses arrays and inline tables by recursion (about three frames a level), so a file
# nested a few hundred levels deep (a "TOML bomb") raises RecursionError, not TOMLDecodeError.
# Rule files need a few levels; deeper ones are refused before parsing, with a position.
MAX_TOML_NESTING = 100
_TOML_TOKEN = re.compile(r"""[\[\]{}#]|"{3}|'{3}|["']""")
_TOML_SKIP = {   # from after the opening token to the end of the comment or string
    "#": re.compile(r"[^\n]*"),
    '"': re.compile(r'(?:[^"\\\n]|\\.)*"?'),
    "'": re.compile(r"[^'\n]*'?"),
    '"""': re.compile(r'(?:[^"\\]|\\.|"(?!""))*(?:"{3,5})?', re.DOTALL),
    "'''": re.compile(r"(?:[^']|'(?!''))*(?:'{3,5})?"),
}
_SHOWN_LINE = 200   # error texts show longer source lines cut to this, around the caret


@dataclass(frozen=True)
class RuleError:
    """One problem in a rule file. str(): "file:line:col: message" and the line with a caret."""

    file: Path
    line: int
    column: int
    message: str
    source_line: str = ""

    def __str__(self) -> str:
        text = f"{display_path(self.file)}:{self.line}:{self.column}: {self.message}"
        if self.source_line:
            caret = caret_lines(*_excerpt(self.source_line, self.column))
            text += "\n" + "\n".join("    " + line for line in caret.split("\n"))
        return text


def _excerpt(line: str, column: int) -> tuple[str, int]:
    """The line and column to show: a long line (a TOML bomb) cut to _SHOWN_LINE characters
    around the column, so that an error stays a few short lines."""
    if len(line) <= _SHOWN_LINE:
        return line, column
    start = max(0, min(column - 1 - _SHOWN_LINE // 2, len(line) - _SHOWN_LINE))
    prefix = "… " if start else ""
    suffix = " …" if start + _SHOWN_LINE < len(line) else ""
    return prefix + line[start:start + _SHOWN_LINE] + suffix, column - start + len(prefix)


class RuleErrors(MatchingError):
    """The rule files cannot be used; `.errors` lists every problem found."""

    def __init__(self, errors: list[RuleError]):
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


def display_path(path: Path | None) -> str:
    """Relative to the working folder when inside it (what an analyst typed), else absolute;
    a rule or entity made from a typed query has none."""
    if path is None:
        return "(typed query)"
    try:
        return os.path.relpath(path) if Path(path).resolve().is_relative_to(Path.cwd()) \
            else str(path)
    except ValueError:
        return str(path)


@dataclass(frozen=True)
class Entity:
    id: str
    name: str
    aliases: tuple[str, ...]
    description: str = ""
    file: Path | None = None
    line: int = 0


@dataclass(frozen=True)
class Example:
    """A rule test: an article that must (match=true) or must not match."""

    match: bool
    title: str = ""
    text: str = ""
    language: str | None = None
    source: str | None = None
    url: str | None = None
    line: int = 0

    def article(self, rule: Rule) -> Article:
        """The example as an article; missing language/source are taken from the rule."""
        language = self.language or guess_language(f"{self.title}\n{self.text}",
                                                   sorted(rule.languages) or None)
        source = self.source or (min(rule.sources) if rule.sources else "example")
        now = datetime.now(UTC)
        return Article(title=self.title, text=self.text, url=self.url, guid=None,
                       source=source, language=language, published=now, fetched=now,
                       content_hash="")


@dataclass(frozen=True)
class Rule:
    id: str
    query: Query
    name: str = ""
    description: str = ""
    languages: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    delivery: DeliveryMode = "instant"
    enabled: bool = True
    examples: tuple[Example, ...] = ()
    version: str = ""
    file: Path | None = None
    line: int = 0
    # When its matches count as a spike; not part of the version (it changes no match).
    spike: SpikeSettings = SpikeSettings()

    @property
    def query_text(self) -> str:
        return self.query.text


def make_rule(rule_id: str, query_text: str, entities: Mapping[str, Entity], *,
              languages: frozenset[str] = frozenset(), sources: frozenset[str] = frozenset(),
              **details: Any) -> Rule:
    """A rule from a query (for `/watch`, `monitor search`, tests). Raises QuerySyntaxError."""
    query = parse_query(query_text, entities)
    version = rule_version(query, languages, sources, entities)
    return Rule(id=rule_id, query=query, languages=frozenset(languages),
                sources=frozenset(source_name(s) for s in sources), version=version,
                name=details.pop("name", rule_id), **details)


def rule_version(query: Query, languages: frozenset[str], sources: frozenset[str],
                 entities: Mapping[str, Entity]) -> str:
    """A short hash of everything that decides what the rule matches: its query, language and
    source limits, the aliases of the entities it uses, and the analysis version."""
    definition = {
        "query": query.text,
        "languages": sorted(languages),
        "sources": sorted(source_name(s) for s in sources),
        "entities": {e: list(entities[e].aliases) for e in sorted(query.entities)},
        "analysis": ANALYSIS_VERSION,
    }
    digest = hashlib.sha256(json.dumps(definition, ensure_ascii=False, sort_keys=True).encode())
    return digest.hexdigest()[:12]


@dataclass(frozen=True, eq=False)
class RuleSet:
    """The merged content of the rule files. Compared by identity: a reload is a new set."""

    rules: tuple[Rule, ...] = ()
    entities: Mapping[str, Entity] = field(default_factory=dict)
    files: tuple[Path, ...] = ()
    warnings: tuple[RuleError, ...] = ()    # valid, but probably not meant (hints.py)

    def get(self, rule_id: str) -> Rule | None:
        """By id in constant time (the alert planner looks up every match's rule)."""
        return self._by_id.get(rule_id)

    @cached_property
    def _by_id(self) -> dict[str, Rule]:
        return {rule.id: rule for rule in self.rules}

    def __iter__(self) -> Iterator[Rule]:
        return iter(self.rules)

    def __len__(self) -> int:
        return len(self.rules)


# ------------------------------------------------------------------------------- loading

def rule_files(folder: Path) -> list[Path]:
    return sorted(Path(folder).glob("*.toml"))


def load_rules(folder: Path) -> RuleSet:
    """Every `*.toml` in the folder, validated and merged. Raises RuleErrors."""
    return load_rule_files(rule_files(folder))


def load_rule_files(paths: list[Path]) -> RuleSet:
    with CollectorPaused():
        loader = _Loader()
        for path in paths:
            loader.read(Path(path))
        return loader.finish()


def load_entities(folder: Path) -> dict[str, Entity]:
    """The valid entities of the folder even when some rules have errors (for ad-hoc queries:
    `monitor search`, `/watch`), so that one broken rule does not block every search."""
    loader = _Loader()
    for path in rule_files(folder):
        loader.read(path)
    return dict(loader.entities)


@dataclass
class _RawRule:
    path: Path
    source: SourceMap
    block: Block | None
    index: int
    table: dict[str, Any]


class _Loader:
    """Two passes: read every file (structure, entities), then parse queries with all
    entities of all files known."""

    def __init__(self) -> None:
        self.errors: list[RuleError] = []
        self.warnings: list[RuleError] = []
        self.entities: dict[str, Entity] = {}
        self.raw_rules: list[_RawRule] = []
        self.files: list[Path] = []

    def error(self, path: Path, source: SourceMap | None, where: tuple[int, int],
              message: str) -> None:
        line, column = where
        text = source.line_text(line) if source else ""
        self.errors.append(RuleError(path, line, column, message, text))

    def read(self, path: Path) -> None:
        self.files.append(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            self.error(path, None, (1, 1), f"cannot read: {exc}")
            return
        source = SourceMap(text)
        too_deep = _too_deep(text)
        if too_deep is not None:
            self.error(path, source, source.line_column(too_deep), "arrays or inline tables "
                       f"nested too deeply for the TOML parser (more than {MAX_TOML_NESTING} "
                       "levels)")
            return
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            found = _TOML_POSITION.search(str(exc))
            where = (int(found.group(1)), int(found.group(2))) if found else (1, 1)
            message = _TOML_POSITION.sub("", str(exc)).strip()
            self.error(path, source, where, f"invalid TOML: {message}")
            return
        except RecursionError:   # nesting the scan did not count, or a caller deep in the stack
            self.error(path, source, (1, 1), "nested too deeply for the TOML parser")
            return
        except Exception as exc:   # tomllib's other limits (an integer of 5,000 digits), or a bug
            message = " ".join(str(exc).split()) or type(exc).__name__
            self.error(path, source, (1, 1), f"invalid TOML: {message}")
            return
        for key in data:
            if key not in TOP_KEYS:
                where = source.key(source.top_block(), key) or _header_of(source, key)
                self.error(path, source, where,
                           f"unknown key {key!r} (known: {', '.join(sorted(TOP_KEYS))})")
        entities = data.get("entities", {})
        if not isinstance(entities, dict):
            self.error(path, source, _header_of(source, "entities"),
                       "'entities' must be a table of [entities.<id>] tables")
        else:
            for entity_id, table in entities.items():
                self.read_entity(path, source, entity_id, table)
        rules = data.get("rules", [])
        if not isinstance(rules, list):
            self.error(path, source, source.key(source.top_block(), "rules") or (1, 1),
                       "'rules' must be an array of [[rules]] tables")
            return
        for index, table in enumerate(rules):
            block = source.rule_block(index)
            if not isinstance(table, dict):
                self.error(path, source, source.header(block), "each rule must be a table")
                continue
            self.raw_rules.append(_RawRule(path, source, block, index, table))

    def read_entity(self, path: Path, source: SourceMap, entity_id: str, table: Any) -> None:
        where = source.entity_key(entity_id)
        prefix = f"entity '{entity_id}'"
        if not _ID.fullmatch(entity_id):
            self.error(path, source, where,
                       f"{prefix}: ids are lower-case letters, digits and '-'")
            return
        if not isinstance(table, dict):
            self.error(path, source, where, f"{prefix}: must be a table with name and aliases")
            return
        self.check_keys(path, source, table, ENTITY_KEYS, prefix,
                        lambda key: source.entity_key(entity_id, key))
        ok = True
        name = table.get("name", entity_id)
        description = table.get("description", "")
        for key, value in (("name", name), ("description", description)):
            if not isinstance(value, str):
                self.error(path, source, source.entity_key(entity_id, key),
                           f"{prefix}: {key} must be a string")
                ok = False
        aliases = table.get("aliases")
        if not isinstance(aliases, list) or not aliases or \
                not all(isinstance(a, str) for a in aliases):
            self.error(path, source, source.entity_key(entity_id, "aliases"),
                       f"{prefix}: aliases must be a non-empty list of strings")
            return
        for alias in aliases:
            if not query_words(alias):
                self.error(path, source, source.entity_key(entity_id, "aliases"),
                           f"{prefix}: alias {alias!r} has no letters or digits")
                ok = False
        previous = self.entities.get(entity_id)
        if previous is not None:
            self.error(path, source, where, f"{prefix} is defined twice: in "
                       f"{display_path(previous.file)}:{previous.line} and here")
            return
        if ok:
            self.entities[entity_id] = Entity(entity_id, name, tuple(aliases), description,
                                              path, where[0])

    def check_keys(self, path: Path, source: SourceMap, table: dict[str, Any], known: set[str],
                   prefix: str, locate: Any) -> bool:
        unknown = [key for key in table if key not in known]
        for key in unknown:
            self.error(path, source, locate(key),
                       f"{prefix}: unknown key {key!r} (known: {', '.join(sorted(known))})")
        return not unknown

    def finish(self) -> RuleSet:
        rules: list[Rule] = []
        seen: dict[str, tuple[Path, int]] = {}
        for raw in self.raw_rules:
            rule = self.build_rule(raw)
            rule_id = raw.table.get("id")
            if isinstance(rule_id, str) and _ID.fullmatch(rule_id):
                where = raw.source.key_or_header(raw.block, "id")
                previous = seen.setdefault(rule_id, (raw.path, where[0]))
                if previous != (raw.path, where[0]):
                    self.error(raw.path, raw.source, where, f"rule '{rule_id}' is defined twice: "
                               f"in {display_path(previous[0])}:{previous[1]} and here")
                    continue
            if rule is not None:
                rules.append(rule)
        if self.errors:
            raise RuleErrors(self.errors)
        return RuleSet(tuple(rules), dict(self.entities), tuple(self.files),
                       tuple(self.warnings))

    def build_rule(self, raw: _RawRule) -> Rule | None:
        path, source, block, table = raw.path, raw.source, raw.block, raw.table
        errors_before = len(self.errors)

        def at(key: str) -> tuple[int, int]:
            return source.key_or_header(block, key)

        rule_id = table.get("id")
        if not isinstance(rule_id, str) or not _ID.fullmatch(rule_id):
            self.error(path, source, at("id"), f"rule #{raw.index + 1}: id is required: "
                       "lower-case letters, digits and '-', as in id = \"kim-putin\"")
            return None
        prefix = f"rule '{rule_id}'"
        if rule_id.startswith(WATCH_PREFIX):
            self.error(path, source, at("id"), f"{prefix}: ids beginning with "
                       f"'{WATCH_PREFIX}' are the chats' personal rules (/watch); choose another")
            return None
        self.check_keys(path, source, table, RULE_KEYS, prefix, at)
        strings = {}
        for key in ("name", "description", "delivery"):
            value = table.get(key, {"name": rule_id, "description": "",
                                    "delivery": "instant"}[key])
            if not isinstance(value, str):
                self.error(path, source, at(key), f"{prefix}: {key} must be a string")
            strings[key] = value
        if isinstance(strings["delivery"], str) and strings["delivery"] not in DELIVERY_MODES:
            self.error(path, source, at("delivery"),
                       f"{prefix}: delivery must be \"instant\" or \"digest\"")
        enabled = table.get("enabled", True)
        if not isinstance(enabled, bool):
            self.error(path, source, at("enabled"), f"{prefix}: enabled must be true or false")
        languages = self.string_list(raw, "languages", prefix)
        for language in languages:
            if language_code(language) is None:
                self.error(path, source, at("languages"), f"{prefix}: {language!r} is not a "
                           "language code such as \"de\"")
        sources = self.string_list(raw, "sources", prefix)
        examples = self.read_examples(raw, prefix)
        spike = self.read_spike(raw, prefix)
        query = self.read_query(raw, prefix)
        if query is None or len(self.errors) > errors_before:
            return None
        languages_set = frozenset(code for code in map(language_code, languages) if code)
        sources_set = frozenset(source_name(x) for x in sources)
        return Rule(
            id=rule_id, query=query, name=strings["name"], description=strings["description"],
            languages=languages_set, sources=sources_set,
            delivery=DELIVERY_MODES[strings["delivery"]],
            enabled=enabled, examples=tuple(examples),
            version=rule_version(query, languages_set, sources_set, self.entities),
            file=path, line=at("id")[0], spike=spike,
        )

    def string_list(self, raw: _RawRule, key: str, prefix: str) -> list[str]:
        value = raw.table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.error(raw.path, raw.source, raw.source.key_or_header(raw.block, key),
                       f"{prefix}: {key} must be a list of non-empty strings")
            return []
        return value

    def read_query(self, raw: _RawRule, prefix: str) -> Query | None:
        path, source, block = raw.path, raw.source, raw.block
        text = raw.table.get("query")
        if not isinstance(text, str) or not text.strip():
            self.error(path, source,
                       source.key(block, "query") or source.key_or_header(block, "id"),
                       f"{prefix}: query is required, a non-empty string")
            return None
        try:
            query = parse_query(text, self.entities)
        except QuerySyntaxError as exc:
            where = (source.string_position(block, "query", text, exc.offset)
                     or source.key_or_header(block, "query"))
            self.error(path, source, where, f"{prefix}: {exc.message}")
            return None
        for hint in operator_hints(text):
            where = (source.string_position(block, "query", text, hint.column - 1)
                     or source.key_or_header(block, "query"))
            self.warnings.append(RuleError(path, *where, f"warning: {prefix}: {hint.message}",
                                           source.line_text(where[0])))
        return query

    def read_spike(self, raw: _RawRule, prefix: str) -> SpikeSettings:
        """The rule's `[rules.spike]` table (or `spike = {...}`); defaults when absent."""
        path, source = raw.path, raw.source
        table = raw.table.get("spike")
        if table is None:
            return SpikeSettings()
        block = source.rule_table(raw.index, "rules.spike")

        def at(key: str) -> tuple[int, int]:
            if block is not None:
                return source.key_or_header(block, key)
            return source.key_or_header(raw.block, "spike")   # an inline table

        if not isinstance(table, dict):
            self.error(path, source, at("spike"), f"{prefix}: spike must be a table: "
                       "[rules.spike] with k, min and cooldown")
            return SpikeSettings()
        self.check_keys(path, source, table, SPIKE_KEYS, f"{prefix}: spike", at)
        default = SpikeSettings()
        k = table.get("k", default.k)
        if isinstance(k, bool) or not isinstance(k, int | float) or not 0 < k <= MAX_SPIKE_K:
            self.error(path, source, at("k"), f"{prefix}: spike.k must be a number above 0 "
                       f"and at most {MAX_SPIKE_K:g} (standard deviations), e.g. 3.0")
            k = default.k
        least = table.get("min", default.min)
        if isinstance(least, bool) or not isinstance(least, int) \
                or not 2 <= least <= MAX_SPIKE_MIN:
            self.error(path, source, at("min"), f"{prefix}: spike.min must be a whole number "
                       f"from 2 to {MAX_SPIKE_MIN:,} (matches in the hour), e.g. 5")
            least = default.min
        cooldown = table.get("cooldown")
        cooldown_s = default.cooldown_s
        if cooldown is not None:
            try:
                cooldown_s = parse_duration(cooldown, where=f"{prefix}: spike.cooldown",
                                            maximum=MAX_COOLDOWN_S)
            except ConfigError as exc:
                self.error(path, source, at("cooldown"), str(exc))
        return SpikeSettings(k=float(k), min=least, cooldown_s=cooldown_s)

    def read_examples(self, raw: _RawRule, prefix: str) -> list[Example]:
        path, source = raw.path, raw.source
        value = raw.table.get("examples", [])
        if not isinstance(value, list):
            self.error(path, source, source.key_or_header(raw.block, "examples"),
                       f"{prefix}: examples must be [[rules.examples]] tables")
            return []
        examples = []
        for number, table in enumerate(value):
            block = source.example_block(raw.index, number)
            where = source.header(block) if block else source.header(raw.block)
            name = f"{prefix} example {number + 1}"
            if not isinstance(table, dict):
                self.error(path, source, where, f"{name}: must be a table")
                continue
            self.check_keys(path, source, table, EXAMPLE_KEYS, name,
                            lambda key, b=block: source.key_or_header(b, key))
            match = table.get("match")
            if not isinstance(match, bool):
                self.error(path, source, source.key_or_header(block, "match"),
                           f"{name}: match = true or false is required")
                continue
            fields = {}
            for key in ("title", "text", "language", "source", "url"):
                item = table.get(key)
                if item is not None and not isinstance(item, str):
                    self.error(path, source, source.key_or_header(block, key),
                               f"{name}: {key} must be a string")
                fields[key] = item
            if not (fields["title"] or fields["text"]):
                self.error(path, source, where, f"{name}: needs a title or a text")
                continue
            examples.append(Example(match=match, title=fields["title"] or "",
                                    text=fields["text"] or "", language=fields["language"],
                                    source=fields["source"], url=fields["url"], line=where[0]))
        return examples


def _too_deep(text: str) -> int | None:
    """The offset of the first `[` or `{` nested more than MAX_TOML_NESTING deep, skipping
    strings and comments; None when the nesting is fine for tomllib."""
    depth, position = 0, 0
    while (token := _TOML_TOKEN.search(text, position)) is not None:
        kind, position = token.group(), token.end()
        if kind in ("[", "{"):
            depth += 1
            if depth > MAX_TOML_NESTING:
                return token.start()
        elif kind in ("]", "}"):
            depth = max(depth - 1, 0)
        else:
            skipped = _TOML_SKIP[kind].match(text, position)   # each matches "" too
            position = skipped.end() if skipped else position
    return None


def _header_of(source: SourceMap, name: str) -> tuple[int, int]:
    for block in source.blocks:
        if block.name == name or block.name.startswith(name + "."):
            return source.header(block)
    return 1, 1


# ---------------------------------------------------------------------------- hot reload

@dataclass(frozen=True)
class RuleReload:
    """What one reload saw: the live rules, the errors of the folder as it is now (the last good
    rules stay live while it is broken), and whether the folder changed since the last reload."""

    ruleset: RuleSet
    errors: tuple[RuleError, ...]
    changed: bool


class RuleWatcher:
    """Hot reload of the rules folder, with one owner.

    Only the owner (the pipeline, once per cycle, and the admin /reload) calls reload(), so the
    owner is the one who reports rule errors: reload() returns the errors of the folder's
    current version for as long as it stays broken, and the owner tells the admins once per
    broken version by hashing the error texts. Everyone else (the bot's catalog, worker
    threads) reads `ruleset` and `errors`, snapshots that never reload and never consume
    anything, so no reader can swallow errors meant for the admins.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._lock = threading.Lock()   # one reload at a time: stamp, load and state together
        self._stamp: tuple[tuple[str, int, int], ...] | None = None
        # replaced as a whole, so a reader never sees new rules with old errors
        self._last = RuleReload(RuleSet(), (), changed=False)

    @property
    def ruleset(self) -> RuleSet:
        """The last good rules (empty before the first reload); immutable, any thread."""
        return self._last.ruleset

    @property
    def errors(self) -> tuple[RuleError, ...]:
        """The errors of the folder as of the last reload; reading them consumes nothing."""
        return self._last.errors

    def reload(self) -> RuleReload:
        """Re-read the folder if a file changed (name, mtime, size). For the owner only.

        An unexpected exception from loading leaves the state as it was, so the next reload
        tries again and fails as loudly, instead of keeping the old rules silently."""
        with self._lock:
            stamp = self._folder_stamp()
            if stamp == self._stamp:
                return RuleReload(self._last.ruleset, self._last.errors, changed=False)
            errors: tuple[RuleError, ...] = ()
            try:
                ruleset = load_rules(self.folder)
            except RuleErrors as exc:
                ruleset, errors = self._last.ruleset, tuple(exc.errors)
            self._stamp = stamp
            self._last = RuleReload(ruleset, errors, changed=True)
            return self._last

    def _folder_stamp(self) -> tuple[tuple[str, int, int], ...]:
        entries = []
        for path in rule_files(self.folder):
            try:
                stat = path.stat()
            except OSError:
                continue
            entries.append((path.name, stat.st_mtime_ns, stat.st_size))
        return tuple(entries)
