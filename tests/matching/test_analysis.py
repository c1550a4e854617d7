"""Text analysis: normalisation, word splitting, folding, stemming, positions."""

from __future__ import annotations

import re
import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from monitor.language import fold
from monitor.matching.analysis import (
    ANALYZER,
    BODY_OFFSET,
    Document,
    analyse_field,
    profile_for,
    source_keys,
    tokenize_with_offsets,
)

from .support import article


def words(text: str) -> list[str]:
    """The words of a text after steps 1–3 (NFKC, splitting, case folding)."""
    return [unicodedata.normalize("NFKC", t).casefold() for t in analyse_field(text).tokens]


def exact(word: str) -> str:
    return ANALYZER.forms(None, word)[0]


def stem(word: str, language: str) -> str:
    return ANALYZER.forms(profile_for(language), word)[1]


# ------------------------------------------------------------------------ normalisation

def test_nfkc_soft_hyphens_and_zero_width_characters():
    assert words("ﬁnal Ｐｕｔｉｎ") == ["final", "putin"]
    assert words("Nord\u00adkorea Wos\u200btotschny Ki\u2060m\ufeff") == [
        "nordkorea", "wostotschny", "kim"]


def test_casefold_makes_sharp_s_double_s():
    assert exact("STRASSE") == exact("Straße") == "strasse"


def test_diacritics_and_german_transcriptions_fold_to_one_word():
    forms = {exact(w) for w in ("Südkorea", "Suedkorea", "SÜDKOREA", "Sudkorea", "SUEDKOREA")}
    assert forms == {"sudkorea"}
    assert exact("Pjöngjang") == exact("Pjoengjang") == "pjongjang"
    assert exact("Ärger") == exact("Aerger") == "arger"
    assert exact("Łódź") == "lodz" and exact("Ørsted") == "orsted" and exact("café") == "cafe"


def test_ue_after_a_vowel_or_q_is_not_an_umlaut():
    assert exact("Feuer") == "feuer"
    assert exact("Quelle") == "quelle"
    assert exact("Steuer") == "steuer"


def test_cyrillic_keeps_short_i_but_folds_yo():
    assert exact(["Йошкар", "Ола"][0]) == "йошкар"
    assert exact("ёлка") == "елка"


def lucene_german_normalization(word: str) -> str:
    """A line-by-line port of Lucene's GermanNormalizationFilter, as the reference."""
    out, state = [], "N"
    for char in word:
        if char in "ao":
            state = "U"
        elif char == "u":
            state = "U" if state == "N" else "V"
        elif char == "e":
            if state == "U":
                state = "V"
                continue
            state = "V"
        elif char in "iqy":
            state = "V"
        else:
            state = "N"
        out.append(char)
    return "".join(out)


@given(st.text(alphabet="aeiouyqbrst", max_size=12))
def test_german_folding_is_lucenes(word):
    assert fold(word) == lucene_german_normalization(word)


# ---------------------------------------------------------------------------- words

def test_every_kind_of_quotation_mark_and_apostrophe_separates_words():
    assert words("„angenommen“ «Kreml» ‚Ruhm‘ \"Reuters\" 'AP' Kim’s Kim's") == [
        "angenommen", "kreml", "ruhm", "reuters", "ap", "kim", "s", "kim", "s"]


def test_hyphenated_compound_gives_parts_and_joined_word():
    field = analyse_field("die Nord-Korea Raketen")
    assert field.tokens == ["die", "Nord", "Korea", "Raketen"]
    assert list(field.joins) == [("NordKorea", 1, 2)]
    assert {"Nord", "Korea", "NordKorea"} <= field.words


def test_joined_word_sits_on_the_first_and_last_position_of_its_parts():
    field = analyse_field("Baden-Württemberg-Cup heute")
    assert list(field.joins) == [("BadenWürttembergCup", 0, 2)]
    assert field.tokens == ["Baden", "Württemberg", "Cup", "heute"]  # later words keep theirs


def test_words_of_every_script():
    assert words("Путин встретился с Ким Чен Ыном") == [
        "путин", "встретился", "с", "ким", "чен", "ыном"]
    assert words("김정은 위원장") == ["김정은", "위원장"]
    assert words("हिन्दी भाषा") == ["हिन्दी", "भाषा"]      # combining vowel signs stay inside
    assert words("习近平会见") == ["习", "近", "平", "会", "见"]   # Han: one word per character
    assert words("Kim 😀 Putin 𝐀𝐁") == ["kim", "putin", "ab"]


def test_underscores_and_punctuation_split():
    assert words("foo_bar, 2023. 9. 13“") == ["foo", "bar", "2023", "9", "13"]


@given(st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=60))
def test_fast_and_offset_tokenisers_agree(text):
    """The hot path and the explain/reference path must see the same words at the same
    positions, whatever the text."""
    field = analyse_field(text)
    slow = tokenize_with_offsets(text)
    singles = [t.raw for t in slow.tokens if t.first == t.last]
    assert singles == field.tokens
    assert [(t.raw, t.first, t.last) for t in slow.tokens if t.first != t.last] == list(
        field.joins)
    for token in slow.tokens:
        assert slow.text[token.start:token.end].replace("-", "") .replace("\u2010", "") \
            .replace("\u2011", "") == token.raw


# ------------------------------------------------------------------------- stemming

def test_snowball_stems_by_article_language():
    assert stem("Kims", "de") == stem("Kim", "de")
    assert stem("Putins", "de") == stem("Putin", "de")
    assert stem("Einladungen", "de") == stem("Einladung", "de")
    assert stem("Путина", "ru") == stem("Путин", "ru")
    assert stem("Путиным", "ru") == stem("Путин", "ru")
    assert stem("invitations", "en") == stem("invitation", "en")
    assert stem("continued", "en") == stem("continue", "en")   # stem first, then fold


def test_languages_without_a_stemmer_match_exactly():
    assert profile_for("zh") is None and profile_for("und") is None
    assert ANALYZER.forms(None, "Kims") == ("kims", "kims")


def test_umlaut_spellings_share_the_stem():
    assert stem("Südkoreas", "de") == stem("Suedkoreas", "de")
    assert stem("Grüßen", "de") == stem("Gruessen", "de")


def test_source_keys_name_and_domain_with_and_without_www():
    assert source_keys("Tagesschau", "https://www.tagesschau.de/x") == {
        "tagesschau", "tagesschau.de"}
    assert source_keys("Deutsche  Welle", "http://user:pw@WWW.DW.com:8080/a?b#c") == {
        "deutsche welle", "dw.com"}
    assert source_keys("x", "not a url") == {"x"}
    assert source_keys(None, "https://[::1]:8000/feed") == {"[::1]"}


def test_document_positions_title_then_body():
    doc = Document.from_article(article("Kim trifft Putin", "Putin empfängt Kim"))
    assert [(t.raw, t.first) for t in doc.title.tokens] == [
        ("Kim", 0), ("trifft", 1), ("Putin", 2)]
    assert [t.first for t in doc.body.tokens] == [BODY_OFFSET, BODY_OFFSET + 1, BODY_OFFSET + 2]


def test_offsets_point_into_the_prepared_text():
    field = tokenize_with_offsets("„Kim’s“ Nord-Korea")
    assert [(field.text[t.start:t.end], t.first, t.last) for t in field.tokens] == [
        ("Kim", 0, 0), ("s", 1, 1), ("Nord", 2, 2), ("Korea", 3, 3), ("Nord-Korea", 2, 3)]
    assert re.sub(r"\w", "", field.text) == "„’“ -"
