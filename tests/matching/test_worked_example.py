"""rules-language.md, "Worked example: the seed article": every line, on the real seed file."""

from __future__ import annotations

import pytest

from monitor.matching import Engine

from .support import SHIPPED, matches, seed_article

SEED = seed_article()

MUST_MATCH = [
    "Kim AND Putin", "Kim Putin", "@kim-jong-un AND @putin", '"Kim Jong Un" AND Putin',
    "Putin NEAR/3 Einladung", "title:Nordkorea", "title:Kim", "*korea AND Putin",
    "Südkorea", "SUEDKOREA", "lang:de AND Putin", "Weltraumbahnhof", "Wostotschny",
]
MUST_NOT_MATCH = [
    "Putin AND NOT Kim", "Trump", "lang:en AND Putin", "title:Wostotschny",
    '"Kim" AND title:"Kim"', "Putin NEAR/1 Einladung", "Korea", "Kim -Putin",
]


def test_seed_title_is_the_first_line():
    assert SEED.title == "Putin hat laut Staatsmedien Kims Einladung nach Nordkorea „angenommen“"


@pytest.mark.parametrize("query", MUST_MATCH)
def test_matches_the_seed(query):
    assert matches(query, SEED)


@pytest.mark.parametrize("query", MUST_NOT_MATCH)
def test_does_not_match_the_seed(query):
    assert not matches(query, SEED)


def test_shipped_rules_about_the_seed_match_it():
    fired = {m.rule_id for m in Engine(SHIPPED).match(SEED)}
    assert {"kim-putin", "north-korea-russia", "putin-invitation", "vostochny",
            "south-korea-concern"} <= fired
    assert "korea-russia-weapons" not in fired       # no weapons or ammunition in the seed


def test_title_kim_matches_through_the_inflected_kims():
    [match] = Engine(_rule_set("title:Kim")).match(SEED)
    assert [(h.field, h.positions, h.words) for h in match.hits] == [("title", (4,), ("kims",))]


def _rule_set(query):
    from monitor.matching import RuleSet, make_rule

    return RuleSet((make_rule("q", query, dict(SHIPPED.entities)),), SHIPPED.entities)
