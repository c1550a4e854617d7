"""Rule files: the shipped set, strict validation with file:line:column, versions, hot reload."""

from __future__ import annotations

import os
import re
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from monitor.matching import RuleErrors, RuleReload, RuleWatcher, load_rules
from monitor.matching import rules as rules_module
from monitor.matching.rules import MAX_TOML_NESTING, display_path
from monitor.models import SpikeSettings

from .support import SHIPPED


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def errors_of(folder: Path) -> list:
    with pytest.raises(RuleErrors) as caught:
        load_rules(folder)
    return caught.value.errors


def where(error) -> tuple[str, int, int]:
    return error.file.name, error.line, error.column


# ------------------------------------------------------------------------- shipped rules

def test_shipped_rules_load_with_examples():
    assert SHIPPED.get("kim-putin").query.text == "(Kim OR @kim-jong-un) AND @putin"
    assert SHIPPED.get("kim-putin").languages == {"de", "en", "ru"}
    assert {"putin", "kim-jong-un", "north-korea", "russia", "south-korea", "ukraine",
            "kremlin", "vostochny"} <= set(SHIPPED.entities)
    assert "КНДР" in SHIPPED.entities["north-korea"].aliases
    assert all(rule.examples for rule in SHIPPED)
    assert all(re.fullmatch(r"[0-9a-f]{12}", rule.version) for rule in SHIPPED)


def test_spec_example_file_loads(tmp_path):
    """The file shown in rules-language.md, as it is written there."""
    write(tmp_path, "korea-russia.toml", '''
        [entities.putin]
        name = "Wladimir Putin"
        aliases = ["Putin", "Wladimir Putin", "Vladimir Putin", "Путин", "Владимир Путин"]

        [entities.kim-jong-un]
        name = "Kim Jong Un"
        aliases = ["Kim Jong Un", "Kim Jong-un", "Ким Чен Ын", "김정은"]

        [[rules]]
        id = "kim-putin"                 # required, [a-z0-9-]+, unique across all files
        name = "Kim and Putin"           # shown in alerts and /rules
        description = "Contacts between the DPRK and Russian leaders"
        query = "Kim AND Putin"          # required
        languages = ["de", "en", "ru"]   # optional: only articles in these languages
        sources = []                     # optional: only these feed names
        delivery = "instant"             # default for new subscribers: "instant" or "digest"
        enabled = true

          [[rules.examples]]             # rule tests, run by `monitor rules test`
          title = "Putin empfängt Kim"
          text = "Kim Jong Un traf Wladimir Putin im Fernen Osten."
          match = true

          [[rules.examples]]
          text = "Kim Kardashian besucht Paris."
          match = false
    ''')
    ruleset = load_rules(tmp_path)
    rule = ruleset.get("kim-putin")
    assert (rule.name, rule.delivery, rule.enabled, len(rule.examples)) == (
        "Kim and Putin", "instant", True, 2)
    assert (rule.file.name, rule.line) == ("korea-russia.toml", 10)
    assert ruleset.entities["kim-jong-un"].aliases[1] == "Kim Jong-un"


# ---------------------------------------------------------------------------- validation

def test_unknown_keys_are_errors_with_their_position(tmp_path):
    write(tmp_path, "a.toml", '''
        [entities.putin]
        name = "Putin"
        aliases = ["Putin"]
        alias = ["Wladimir Putin"]

        [[rules]]
        id = "kim-putin"
        query = "Kim AND @putin"
          langauges = ["de"]

          [[rules.examples]]
          text = "Kim und Putin"
          match = true
          expect = true

        [setting]
        x = 1
    ''')
    errors = errors_of(tmp_path)
    assert [(where(e), e.message.split(" (known")[0]) for e in errors] == [
        (("a.toml", 16, 1), "unknown key 'setting'"),
        (("a.toml", 4, 1), "entity 'putin': unknown key 'alias'"),
        (("a.toml", 9, 3), "rule 'kim-putin': unknown key 'langauges'"),
        (("a.toml", 14, 3), "rule 'kim-putin' example 1: unknown key 'expect'"),
    ]
    text = str(errors[2])
    assert text.startswith(f"{display_path(tmp_path / 'a.toml')}:9:3: rule 'kim-putin': "
                           "unknown key 'langauges' (known: delivery, description, ")
    assert text.split("\n")[1:] == ['      langauges = ["de"]', "      ^"]


def test_duplicate_rule_ids_name_both_files(tmp_path):
    write(tmp_path, "a.toml", '[[rules]]\nid = "kim-putin"\nquery = "Kim"\n')
    write(tmp_path, "b.toml", '# other\n\n[[rules]]\nid = "kim-putin"\nquery = "Putin"\n')
    [error] = errors_of(tmp_path)
    assert where(error) == ("b.toml", 4, 1)
    assert "rule 'kim-putin' is defined twice" in error.message
    assert "a.toml:2" in error.message and error.file.name == "b.toml"


def test_duplicate_entity_ids_name_both_files(tmp_path):
    write(tmp_path, "a.toml", '[entities.putin]\naliases = ["Putin"]\n')
    write(tmp_path, "b.toml", '[entities.putin]\naliases = ["Путин"]\n')
    [error] = errors_of(tmp_path)
    assert where(error) == ("b.toml", 1, 1)
    assert "entity 'putin' is defined twice: in " in error.message and "a.toml:1" in error.message


def test_unknown_entity_points_into_the_query(tmp_path):
    write(tmp_path, "a.toml", '''
        [entities.putin]
        aliases = ["Putin"]

        [[rules]]
        id = "kim-putin"
        query = "@kim AND @putin"
    ''')
    [error] = errors_of(tmp_path)
    assert where(error) == ("a.toml", 6, 10)
    assert error.message == "rule 'kim-putin': unknown entity '@kim'"
    assert str(error).split("\n")[1:] == ['    query = "@kim AND @putin"', " " * 13 + "^"]


def test_entities_from_other_files_are_known(tmp_path):
    write(tmp_path, "entities.toml", '[entities.putin]\naliases = ["Putin"]\n')
    write(tmp_path, "rules.toml", '[[rules]]\nid = "p"\nquery = "@putin"\n')
    assert load_rules(tmp_path).get("p").query.entities == {"putin"}


@pytest.mark.parametrize("literal, line, column", [
    ('"(Kim OR Putin"', 3, 23),                          # end of the string
    ('"\\"Kim Jong Un\\" AND (Putin"', 3, 36),          # escapes count as written
    ("'\"Kim\" AND (Putin'", 3, 26),                     # literal string
    ('"""Kim AND\n   (Putin OR"""', 4, 13),              # multi-line string
    ('"""\nKim AND\n   (Putin OR"""', 5, 13),            # first newline trimmed
])
def test_query_errors_point_at_the_spot_in_the_file(tmp_path, literal, line, column):
    write(tmp_path, "a.toml", f'[[rules]]\nid = "kim-putin"\nquery = {literal}\n')
    [error] = errors_of(tmp_path)
    assert (error.line, error.column) == (line, column)
    assert error.message.startswith("rule 'kim-putin': ")


def test_toml_syntax_errors_have_tomllibs_position(tmp_path):
    write(tmp_path, "a.toml", '[[rules]]\nid = "x"\nquery = "Kim\n')
    [error] = errors_of(tmp_path)
    assert where(error) == ("a.toml", 3, 13)
    assert error.message.startswith("invalid TOML: ")


def test_bad_values_are_all_reported(tmp_path):
    write(tmp_path, "a.toml", '''
        [entities.Putin]
        aliases = ["Putin"]

        [entities.kim]
        aliases = []

        [[rules]]
        id = "Kim_Putin"
        query = "Kim"

        [[rules]]
        id = "ok-id"
        query = "Kim"
        languages = "de"
        delivery = "weekly"
        enabled = "yes"
        sources = [""]

          [[rules.examples]]
          text = "Kim"

        [[rules]]
        id = "no-query"
    ''')
    messages = [(e.line, e.message) for e in errors_of(tmp_path)]
    assert messages == [
        (1, "entity 'Putin': ids are lower-case letters, digits and '-'"),
        (5, "entity 'kim': aliases must be a non-empty list of strings"),
        (8, ("rule #1: id is required: lower-case letters, digits and '-', as in "
             'id = "kim-putin"')),
        (15, "rule 'ok-id': delivery must be \"instant\" or \"digest\""),
        (16, "rule 'ok-id': enabled must be true or false"),
        (14, "rule 'ok-id': languages must be a list of non-empty strings"),
        (17, "rule 'ok-id': sources must be a list of non-empty strings"),
        (19, "rule 'ok-id' example 1: match = true or false is required"),
        (23, "rule 'no-query': query is required, a non-empty string"),
    ]


def test_spike_settings_default_and_come_from_the_rules_own_table(tmp_path):
    """`[rules.spike]` belongs to the [[rules]] above it, after its examples too; an inline
    table works as well; a rule without one gets the defaults."""
    write(tmp_path, "a.toml", '''
        [[rules]]
        id = "plain"
        query = "Kim"

        [[rules]]
        id = "tuned"
        query = "Putin"

          [[rules.examples]]
          text = "Putin"
          match = true

          [rules.spike]
          k = 2
          min = 10
          cooldown = "12h"

        [[rules]]
        id = "inline"
        query = "Kim"
        spike = { cooldown = "30m" }
    ''')
    rules = load_rules(tmp_path)
    assert rules.get("plain").spike == SpikeSettings(k=3.0, min=5, cooldown_s=6 * 3600)
    assert rules.get("tuned").spike == SpikeSettings(k=2.0, min=10, cooldown_s=12 * 3600)
    assert rules.get("inline").spike == SpikeSettings(cooldown_s=1800)
    assert rules.get("tuned").version == load_rules(tmp_path).get("tuned").version


def test_bad_spike_settings_are_located_errors(tmp_path):
    write(tmp_path, "a.toml", '''
        [[rules]]
        id = "first"
        query = "Kim"

          [rules.spike]
          k = 0
          min = 1.5
          cooldown = "soon"
          treshold = 4

        [[rules]]
        id = "second"
        query = "Kim"
        spike = 3

        [[rules]]
        id = "third"
        query = "Kim"
        spike = { k = true, min = 1, cooldown = "31d" }
    ''')
    errors = errors_of(tmp_path)
    assert [(e.line, e.column, e.message) for e in errors] == [
        (9, 3, "rule 'first': spike: unknown key 'treshold' (known: cooldown, k, min)"),
        (6, 3, "rule 'first': spike.k must be a number above 0 and at most 100 (standard "
               "deviations), e.g. 3.0"),
        (7, 3, "rule 'first': spike.min must be a whole number from 2 to 1,000,000 (matches "
               "in the hour), e.g. 5"),
        (8, 3, "rule 'first': spike.cooldown: 'soon' is not a duration such as '10m', '2h' "
               "or '7d'"),
        (14, 1, "rule 'second': spike must be a table: [rules.spike] with k, min and "
                "cooldown"),
        (19, 1, "rule 'third': spike.k must be a number above 0 and at most 100 (standard "
                "deviations), e.g. 3.0"),
        (19, 1, "rule 'third': spike.min must be a whole number from 2 to 1,000,000 (matches "
                "in the hour), e.g. 5"),
        (19, 1, "rule 'third': spike.cooldown: '31d' is longer than 30 days"),
    ]
    assert str(errors[0]).endswith("a.toml:9:3: rule 'first': spike: unknown key 'treshold' "
                                   "(known: cooldown, k, min)\n      treshold = 4\n      ^")


def test_a_file_rule_cannot_take_a_personal_rules_id(tmp_path):
    """`watch-N` are the chats' /watch rules: a file rule with such an id would be taken for
    one (its alerts without buttons, or clashing with watch N)."""
    write(tmp_path, "a.toml", '[[rules]]\nid = "watch-1"\nquery = "Kim"\n')
    assert [(e.line, e.message) for e in errors_of(tmp_path)] == [
        (2, "rule 'watch-1': ids beginning with 'watch-' are the chats' personal rules "
            "(/watch); choose another")]


def test_errors_in_several_files_are_all_listed(tmp_path):
    write(tmp_path, "a.toml", '[[rules]]\nid = "a"\nquery = "Kim AND"\n')
    write(tmp_path, "b.toml", '[[rules]]\nid = "b"\nquery = "(Putin"\n')
    assert [where(e) for e in errors_of(tmp_path)] == [("a.toml", 3, 17), ("b.toml", 3, 16)]


# ------------------------------------------------------------------------------ versions

def test_version_follows_the_definition_and_the_entities_it_uses(tmp_path):
    def version(entities: str, rule: str) -> str:
        write(tmp_path, "a.toml", entities + '\n[[rules]]\nid = "p"\n' + rule)
        return load_rules(tmp_path).get("p").version

    base = version('[entities.putin]\naliases = ["Putin"]', 'query = "@putin"\n')
    assert version('[entities.putin]\naliases = ["Putin"]',
                   'query = "@putin"\nname = "Other name"\ndelivery = "digest"\n') == base
    assert version('[entities.putin]\naliases = ["Putin", "Путин"]', 'query = "@putin"\n') \
        != base
    assert version('[entities.putin]\naliases = ["Putin"]', 'query = "@putin -Trump"\n') != base
    assert version('[entities.putin]\naliases = ["Putin"]',
                   'query = "@putin"\nlanguages = ["de"]\n') != base


# ---------------------------------------------------------------------------- hot reload

def test_watcher_reloads_on_change_and_keeps_the_last_good_set(tmp_path):
    path = write(tmp_path, "a.toml", '[[rules]]\nid = "a"\nquery = "Kim"\n')
    watcher = RuleWatcher(tmp_path)
    assert len(watcher.ruleset) == 0 and watcher.errors == ()    # nothing before the owner
    first = watcher.reload()
    assert [r.id for r in first.ruleset] == ["a"] and first == RuleReload(first.ruleset, (), True)
    assert watcher.reload() == RuleReload(first.ruleset, (), False)   # unchanged: same set

    path.write_text('[[rules]]\nid = "a"\nquery = "Kim"\n[[rules]]\nid = "b"\nquery = "x"\n')
    os.utime(path, ns=(1, 1))
    second = watcher.reload()
    assert [r.id for r in second.ruleset] == ["a", "b"] and (second.errors, second.changed) == (
        (), True)
    assert watcher.ruleset is second.ruleset

    path.write_text('[[rules]]\nid = "a"\nquery = "(Kim"\n')
    broken = watcher.reload()
    assert broken.ruleset is second.ruleset and broken.changed
    assert [(e.file.name, e.line) for e in broken.errors] == [("a.toml", 3)]

    write(tmp_path, "b.toml", '[[rules]]\nid = "c"\nquery = "Putin"\n')   # a new file
    still = watcher.reload()
    assert still.ruleset is second.ruleset and still.changed
    assert [e.file.name for e in still.errors] == ["a.toml"]             # a.toml still broken

    path.write_text('[[rules]]\nid = "a"\nquery = "Kim OR Putin"\n')
    fixed = watcher.reload()
    assert [r.id for r in fixed.ruleset] == ["a", "c"] and (fixed.errors, fixed.changed) == (
        (), True)
    assert (watcher.ruleset, watcher.errors) == (fixed.ruleset, ())


def test_watcher_on_a_broken_start_has_no_rules(tmp_path):
    write(tmp_path, "a.toml", "[[rules]\n")
    watcher = RuleWatcher(tmp_path)
    start = watcher.reload()
    assert len(start.ruleset) == 0 and len(start.errors) == 1 and start.changed
    assert watcher.ruleset is start.ruleset and watcher.errors == start.errors


def test_every_reload_returns_the_errors_while_the_folder_stays_broken(tmp_path):
    """The owner de-duplicates per broken version (changed tells it a new version is here); the
    watcher never forgets the errors, so a report that failed or was skipped comes back."""
    path = write(tmp_path, "a.toml", '[[rules]]\nid = "a"\nquery = "Kim"\n')
    watcher = RuleWatcher(tmp_path)
    good = watcher.reload().ruleset
    path.write_text('[[rules]]\nid = "a"\nquery = "(Kim"\n')
    reloads = [watcher.reload() for _ in range(3)]
    assert [r.changed for r in reloads] == [True, False, False]
    assert all(r.errors == reloads[0].errors and r.ruleset is good for r in reloads)
    assert [where(e) for e in reloads[0].errors] == [("a.toml", 3, 14)]

    path.write_text('[[rules]]\nid = "a"\nquery = "Kim AND"\n[[rules]]\nid = "b"\n')
    other = [watcher.reload() for _ in range(2)]         # another broken version
    assert [r.changed for r in other] == [True, False]
    assert other[0].errors == other[1].errors and len(other[0].errors) == 2
    assert {str(e) for e in other[0].errors} != {str(e) for e in reloads[0].errors}
    assert other[1].ruleset is good


def test_readers_consume_nothing(tmp_path):
    """The bot reads `ruleset` and `errors` from other threads; however often, it never takes
    the owner's reload (and the errors it reports) away."""
    path = write(tmp_path, "a.toml", '[[rules]]\nid = "a"\nquery = "Kim"\n')
    watcher = RuleWatcher(tmp_path)
    good = watcher.reload().ruleset
    path.write_text('[[rules]]\nid = "a"\nquery = "Kim AND"\n')
    for _ in range(3):                                # readers before the owner: no reload
        assert watcher.ruleset is good and watcher.errors == ()
    broken = watcher.reload()
    assert broken.changed and [e.file.name for e in broken.errors] == ["a.toml"]
    for _ in range(3):                                # readers after: they see, not take
        assert watcher.ruleset is good and watcher.errors == broken.errors
    assert watcher.reload() == RuleReload(good, broken.errors, False)


TOML_BOMBS = {
    "arrays": "x = " + "[" * 3000 + "]" * 3000,
    "unclosed arrays": "x = " + "[" * 3000,
    "inline tables": "a = " + "{a = " * 3000 + "1" + "}" * 3000,
    "mixed": "rules = " + "[{a = " * 1500,
}


@pytest.mark.parametrize("bomb", TOML_BOMBS.values(), ids=TOML_BOMBS.keys())
def test_a_toml_bomb_is_a_rule_error_of_its_file(tmp_path, bomb):
    good = write(tmp_path, "a.toml", '[[rules]]\nid = "a"\nquery = "Kim"\n')
    watcher = RuleWatcher(tmp_path)
    before = watcher.reload().ruleset
    (tmp_path / "bomb.toml").write_text("# comment\n" + bomb + "\n", encoding="utf-8")
    reload = watcher.reload()
    [error] = reload.errors
    too_deep = [n for n, char in enumerate(bomb) if char in "[{"][MAX_TOML_NESTING]
    assert where(error) == ("bomb.toml", 2, too_deep + 1)      # the first bracket too many
    assert error.message == ("arrays or inline tables nested too deeply for the TOML parser "
                             "(more than 100 levels)")
    lines = str(error).split("\n")                            # message, cut line, caret
    assert len(lines) == 3 and all(len(line) < 300 for line in lines)
    assert reload.ruleset is before and reload.changed                # the last good set stays
    assert watcher.reload().errors == reload.errors                   # and stays reported

    good.write_text('[[rules]]\nid = "a"\nquery = "Kim AND"\n')       # a later, real error
    later = watcher.reload()
    assert later.changed and [e.file.name for e in later.errors] == ["bomb.toml", "a.toml"]
    assert later.errors[0] == error and later.errors[1].message.startswith("rule 'a': ")

    (tmp_path / "bomb.toml").unlink()
    good.write_text('[[rules]]\nid = "a"\nquery = "Kim OR Putin"\n')
    fixed = watcher.reload()
    assert fixed.errors == () and fixed.ruleset.get("a").query.text == "Kim OR Putin"


def test_nesting_up_to_the_limit_parses_and_brackets_in_strings_do_not_count(tmp_path):
    deep = "[" * MAX_TOML_NESTING + "]" * MAX_TOML_NESTING
    write(tmp_path, "a.toml", f"x = {deep}\n")
    [error] = errors_of(tmp_path)                      # tomllib read it: only the unknown key
    assert error.message.startswith("unknown key 'x'")
    brackets = "[{" * 200
    write(tmp_path, "a.toml", f"""
        # {brackets}
        [[rules]]
        id = "a"
        query = "Kim"
        description = "{brackets} \\" {brackets}"
        name = '{brackets}'
          [[rules.examples]]
          text = \"\"\"{brackets}
        {brackets}\"\"\"\"
          title = \'\'\'{brackets}\'\'\'
          match = false
    """)
    rule = load_rules(tmp_path).get("a")
    assert rule.name == brackets and rule.examples[0].text == f"{brackets}\n{brackets}\""


def test_other_parser_failures_are_rule_errors_of_their_file(tmp_path, monkeypatch):
    write(tmp_path, "a.toml", "x = " + "1" * 5000 + "\n")   # beyond int's 4300 digits
    write(tmp_path, "b.toml", '[[rules]]\nid = "b"\nquery = "(Putin"\n')
    first, second = errors_of(tmp_path)
    assert where(first) == ("a.toml", 1, 1) and first.message.startswith(
        "invalid TOML: Exceeds the limit (4300 digits) for integer string conversion")
    assert all(len(line) < 300 for line in str(first).split("\n"))
    assert where(second) == ("b.toml", 3, 16)                # other files as usual

    def recurse(text):
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(rules_module.tomllib, "loads", recurse)   # nesting the scan missed
    messages = [(e.file.name, e.line, e.message) for e in errors_of(tmp_path)]
    assert messages == [("a.toml", 1, "nested too deeply for the TOML parser"),
                        ("b.toml", 1, "nested too deeply for the TOML parser")]


def test_concurrent_reloads_while_a_file_changes_are_consistent(tmp_path, monkeypatch):
    """The owner's reload from several threads (the cycle and an admin's /reload) never runs
    two loads at once, never fails, and ends with what a fresh load gives."""
    active, most = [0], [0]
    counting = threading.Lock()
    load = rules_module.load_rules

    def load_alone(folder):
        with counting:
            active[0] += 1
            most[0] = max(most[0], active[0])
        try:
            time.sleep(0.001)
            return load(folder)
        finally:
            with counting:
                active[0] -= 1

    monkeypatch.setattr(rules_module, "load_rules", load_alone)
    path = tmp_path / "a.toml"
    versions = 40

    def version(n: int) -> str:            # n rules: every version has another size
        return "".join(f'[[rules]]\nid = "r{i}"\nquery = "Wort{i}"\n' for i in range(n + 1))

    path.write_text(version(0))
    watcher = RuleWatcher(tmp_path)
    done = threading.Event()

    def edit() -> None:
        for n in range(1, versions):
            scratch = tmp_path / "a.toml.new"          # as editors save: write, then rename
            scratch.write_text(version(n))
            os.replace(scratch, path)
            time.sleep(0.002)
        done.set()

    def own() -> list[int]:
        sizes = []
        while not done.is_set():
            result = watcher.reload()
            assert result.errors == ()
            sizes.append(len(result.ruleset))
            time.sleep(0.0001)
        return sizes

    def read() -> int:
        reads = 0
        while not done.is_set():
            assert watcher.errors == () and len(watcher.ruleset) >= 0
            reads += 1
            time.sleep(0.0001)
        return reads

    with ThreadPoolExecutor(max_workers=7) as pool:
        owners = [pool.submit(own) for _ in range(4)]
        readers = [pool.submit(read) for _ in range(2)]
        pool.submit(edit).result(timeout=30)
        seen = [future.result(timeout=30) for future in owners]
        [future.result(timeout=30) for future in readers]
    assert most[0] == 1                                  # loads never overlapped
    assert all(sizes == sorted(sizes) for sizes in seen)   # each thread only moved forward
    final = watcher.reload()
    fresh = load(tmp_path)
    assert final.errors == () and len(fresh) == versions
    assert [(r.id, r.version) for r in final.ruleset] == [(r.id, r.version) for r in fresh]
    assert watcher.ruleset is final.ruleset
