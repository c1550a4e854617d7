"""Rule files: the shipped set, strict validation with file:line:column, versions, hot reload."""

from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import pytest

from monitor.matching import RuleErrors, RuleWatcher, load_rules
from monitor.matching.rules import display_path

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
    first, errors = watcher.current()
    assert [r.id for r in first] == ["a"] and errors == []
    assert watcher.current() == (first, [])                    # nothing changed: same set

    path.write_text('[[rules]]\nid = "a"\nquery = "Kim"\n[[rules]]\nid = "b"\nquery = "x"\n')
    os.utime(path, ns=(1, 1))
    second, errors = watcher.current()
    assert [r.id for r in second] == ["a", "b"] and errors == []

    path.write_text('[[rules]]\nid = "a"\nquery = "(Kim"\n')
    kept, errors = watcher.current()
    assert kept is second
    assert [(e.file.name, e.line) for e in errors] == [("a.toml", 3)]
    assert watcher.current() == (second, [])                   # reported once per change

    write(tmp_path, "b.toml", '[[rules]]\nid = "c"\nquery = "Putin"\n')   # a new file
    still, errors = watcher.current()
    assert still is second and len(errors) == 1               # a.toml is still broken

    path.write_text('[[rules]]\nid = "a"\nquery = "Kim OR Putin"\n')
    fixed, errors = watcher.current()
    assert [r.id for r in fixed] == ["a", "c"] and errors == []


def test_watcher_on_a_broken_start_has_no_rules(tmp_path):
    write(tmp_path, "a.toml", "[[rules]\n")
    ruleset, errors = RuleWatcher(tmp_path).current()
    assert len(ruleset) == 0 and len(errors) == 1
