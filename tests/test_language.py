"""The one home of language logic (monitor/language.py): codes, detection, folding, stemmers,
shared by ingest, matching and summaries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.language import (
    STEMMERS,
    detect_language,
    fold_text,
    guess_language,
    language_code,
    language_or_und,
    stemmer,
)
from monitor.matching import Engine, make_rule
from monitor.matching.rules import RuleSet
from monitor.models import Article
from monitor.summarize import highlight_spans


@pytest.mark.parametrize("declared, code", [
    ("de-DE", "de"), ("en_us", "en"), ("FR", "fr"), (" ru ", "ru"), ("de-AT", "de"),
    ("und", "und"), ("", None), (None, None), ("deu", None), ("x-klingon", None),
])
def test_language_code(declared, code):
    assert language_code(declared) == code


def test_an_unusable_tag_is_undetermined_where_a_language_is_needed():
    assert language_or_und("deu") == language_or_und(None) == "und"
    assert language_or_und("EN_us") == "en"


@pytest.mark.parametrize("text, language", [
    ("Der Bundestag hat am Freitag ein neues Gesetz zur Digitalisierung beschlossen.", "de"),
    ("The parliament passed a new law on the digitalisation of the administration.", "en"),
    ("Президент России провёл переговоры с лидером КНДР на космодроме.", "ru"),
    ("Le gouvernement a présenté mercredi un budget en forte hausse.", "fr"),
    ("1234 !!! ---", "und"),
    ("", "und"),
])
def test_detect_language(text, language):
    assert detect_language(text) == language


def test_a_guess_stays_among_the_rules_languages():
    text = "Der Bundestag hat ein Gesetz beschlossen."
    assert guess_language(text) == "de"
    assert guess_language(text, ["en", "ru"]) in ("en", "ru")


@pytest.mark.parametrize("written, folded", [
    ("SÜDKOREA", "sudkorea"), ("Suedkorea", "sudkorea"), ("Feuer", "feuer"),
    ("Quelle", "quelle"), ("Straße", "strasse"), ("Королёв", "королев"), ("Łódź", "lodz"),
])
def test_folding(written, folded):
    assert fold_text(written) == folded


def test_every_named_stemmer_exists():
    assert {"de", "en", "ru"} <= STEMMERS.keys()
    assert stemmer("de") is stemmer("de") and stemmer("xx") is None


@pytest.mark.parametrize("word, sentence, marked, language", [
    ("Королев", "Королёв прилетел в Москву.", "Королёв", "ru"),
    ("Lodz", "Die Messe in Łódź beginnt.", "Łódź", "de"),
    ("Αθηνα", "Die Regierung in Αθήνα tagt.", "Αθήνα", "de"),
    ("Aebeltoft", "Urlaub in Æbeltoft war schön.", "Æbeltoft", "de"),
])
def test_highlighting_folds_as_matching_does(word, sentence, marked, language):
    """A word that a rule matches in a sentence is a word the summary's highlighting finds
    there. The summary had a folding of its own, which left Greek accents and "æ" alone:
    a rule for "Αθηνα" matched "Αθήνα", and highlighting "Αθηνα" found nothing."""
    now = datetime(2026, 12, 4, tzinfo=UTC)
    article = Article(title="", text=sentence, url=None, guid=None, source="s",
                      language=language, published=now, fetched=now, content_hash="h")
    [match] = Engine(RuleSet((make_rule("r", word, {}),), {})).match(article)
    assert match.words == [marked.casefold()]
    assert [sentence[a:b] for a, b in highlight_spans(sentence, [word], language=language)] \
        == [marked]
