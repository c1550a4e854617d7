"""Every message the query parser gives has its German text (the caret is the bot's own)."""

from __future__ import annotations

import pytest

from monitor.deliver.texts import query_error_text
from monitor.matching import Entity, QuerySyntaxError, parse_query

ENTITIES = {"putin": Entity("putin", "Putin", ("Putin",)), "leer": Entity("leer", "x", ("!!",))}
BROKEN = [
    "x" * 2001, "   ", "Putin \ud800", "(" * 21 + "x" + ")" * 21,
    " ".join(f"w{n}" for n in range(201)), " OR ".join(f"abc{n}*" for n in range(21)),
    "NOT NOT Putin", "title:title:Putin", '"Kim Jong', "Putin - Kim", "Putin )", "(Kim",
    "Putin AND", "Putin AND OR Kim", "Putin Kim)", "!!!", "Pu*tin", "*a-b*", "*ab", "@",
    "@putn", "@nobody", "@leer", "lang:", "source:", "title:(body:Kim)",
    "(NOT Kim) NEAR Putin", " NEAR ".join(f"w{n}" for n in range(9)), "Kim NEAR/0 Putin",
    '"!!"', "Putin AND (Kim OR",
]


@pytest.mark.parametrize("query", BROKEN)
def test_the_parser_message_has_a_german_text(query):
    with pytest.raises(QuerySyntaxError) as error:
        parse_query(query, ENTITIES)
    message = error.value.message
    german = query_error_text(message, "de")
    assert german != message, message
    assert query_error_text(message, "en") == message


def test_expected_and_found_are_translated_too():
    with pytest.raises(QuerySyntaxError) as error:
        parse_query("Putin AND OR Kim", ENTITIES)
    assert query_error_text(error.value.message, "de") == "erwartet: ein Begriff, gefunden: 'OR'"
