"""Summaries and sentence splitting on the real seed article, texts written for these tests, and
the corpus."""

from __future__ import annotations

import json
from itertools import pairwise

import pytest
from hypothesis import given
from hypothesis import strategies as st

from monitor.summarize import Highlighter, Summary, highlight_spans, split_sentences, summarize
from tests.conftest import CORPUS, REPO

SEED = REPO / "seeds" / "putin-kim-einladung.txt"
TERMINAL = (".", "!", "?", "…", "“", "”", "«", "»", '"')

GERMAN = (
    "Bundestag beschließt umstrittenes Heizungsgesetz nach monatelangem Streit\n"
    "\n"
    "Der Bundestag hat am Freitag das umstrittene Heizungsgesetz mit den Stimmen der Koalition "
    "beschlossen. Ab 2024 muss jede neu eingebaute Heizung zu mindestens 65 Prozent mit "
    "erneuerbaren Energien betrieben werden.\n"
    "\n"
    "Für bestehende Heizungen gelten lange Übergangsfristen. Wer eine funktionierende Gas- oder "
    "Ölheizung besitzt, muss sie nicht austauschen. Der Staat fördert den Umstieg auf Wärmepumpen "
    "mit bis zu 70 Prozent der Kosten.\n"
    "\n"
    "LESEN SIE AUCH: WÄRMEPUMPEN IM TEST – DIESE MODELLE ÜBERZEUGEN\n"
    "\n"
    "Bundeswirtschaftsminister Robert Habeck sprach von einem „wichtigen Schritt für den "
    "Klimaschutz“. Die Union kritisierte das Verfahren als übereilt und kündigte an, das Gesetz "
    "nach einem Regierungswechsel zu ändern.\n"
    "\n"
    "Der Verband kommunaler Unternehmen begrüßte, dass das Gesetz nun an die kommunale "
    "Wärmeplanung gekoppelt ist. Die Städte sollen bis spätestens 2028 Pläne vorlegen, wo "
    "Fernwärmenetze entstehen.\n"
    "\n"
    "Mehr zum Thema: So finden Sie die richtige Wärmepumpe\n"
    "\n"
    "Foto: Kay Nietfeld/dpa\n"
    "\n"
    "Mit Material von dpa und AFP\n"
)

ENGLISH = (
    "Central bank raises interest rates to highest level in 15 years\n"
    "\n"
    "The European Central Bank raised its key interest rate by a quarter point on Thursday, taking "
    "borrowing costs to their highest level since 2008 as it keeps fighting inflation.\n"
    "\n"
    "The increase was the tenth in a row. ECB President Christine Lagarde told reporters in "
    'Frankfurt that rates would stay high "for as long as necessary" and did not rule out further '
    "moves.\n"
    "\n"
    "Read more: What higher rates mean for your mortgage\n"
    "\n"
    "Economists at Deutsche Bank said the decision surprised markets, which had expected a pause. "
    "The euro rose 0.4% against the U.S. dollar after the announcement.\n"
    "\n"
    "Inflation in the euro zone fell to 5.3% in August but remains far above the bank's 2% target. "
    "Mr. Lagarde's critics argue the rate rises are pushing the economy into recession.\n"
    "\n"
    "(Reporting by Francesco Canepa; Editing by Catherine Evans)\n"
)

RUSSIAN = (
    "В Москве открылась новая линия метро\n"
    "\n"
    "В Москве в субботу открылась новая линия метрополитена, которая соединила северо-восток и "
    "юго-запад столицы. Мэр города Сергей Собянин назвал её самой длинной кольцевой линией в "
    "мире.\n"
    "\n"
    "Протяжённость линии составляет 70 км, на ней расположены 31 станция и три электродепо. "
    "Строительство началось в 2011 г. и обошлось бюджету более чем в 300 млрд рублей.\n"
    "\n"
    "Читайте также: Как изменится схема метро в 2024 году\n"
    "\n"
    "По словам Собянина, новая линия разгрузит центральные станции на 15–20%, т. е. пассажирам "
    "больше не придётся ехать через центр. Пассажиропоток на кольцевой линии, по оценкам властей, "
    "составит до 400 тыс. человек в сутки.\n"
    "\n"
    "Фото: Агентство городских новостей «Москва»\n"
)


def title_and_body(text: str) -> tuple[str, str]:
    title, _, body = text.partition("\n")
    return title.strip(), body


def assert_whole_sentences(summary: Summary, body: str, language: str) -> None:
    sentences = split_sentences(body, language)
    for sentence in summary.sentences:
        assert sentence in sentences
        assert sentence.endswith(TERMINAL), sentence
    positions = [sentences.index(s) for s in summary.sentences]
    assert positions == sorted(positions)


# --- the seed article -----------------------------------------------------------------------------

def test_seed_summary_names_putins_acceptance_of_kims_invitation():
    title, body = title_and_body(SEED.read_text(encoding="utf-8"))

    summary = summarize(title, body, "de", highlight=["Putin", "Kim Jong Un", "Einladung"])

    assert 2 <= len(summary.sentences) <= 3
    assert any("Putin" in s and "Einladung" in s and ("angenommen" in s or "annahm" in s)
               for s in summary.sentences)
    assert "beigetragen" not in str(summary)
    assert "SÜDKOREA ÄUSSERT" not in str(summary)
    assert_whole_sentences(summary, body, "de")


def test_seed_summary_without_highlight_words_also_starts_with_the_news():
    title, body = title_and_body(SEED.read_text(encoding="utf-8"))

    summary = summarize(title, body, "de")

    assert summary.sentences[0].startswith("Nordkorea behauptet, dass der russische Präsident")
    assert_whole_sentences(summary, body, "de")


def test_seed_date_inside_quotation_stays_in_its_sentence():
    _, body = title_and_body(SEED.read_text(encoding="utf-8"))

    sentences = split_sentences(body, "de")

    [signed] = [s for s in sentences if "Kim Jong Un 2023. 9. 13“" in s]
    assert signed.startswith("Die Koreanische Zentralnachrichtenagentur berichtete auch")
    assert sentences[-1] == (
        "‚ Anders Hagstrom und Elizabeth Pritchett haben zu diesem Bericht beigetragen.")
    assert len(sentences) == 14


# --- sentence splitting ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, language, expected", [
    ("„Der Entwurf wurde angenommen.“ Dann vertagte sich der Ausschuss.", "de",
     ["„Der Entwurf wurde angenommen.“", "Dann vertagte sich der Ausschuss."]),
    ("Er sagte: »Das ist gut. Wir machen weiter.« Dann ging er.", "de",
     ["Er sagte: »Das ist gut. Wir machen weiter.«", "Dann ging er."]),
    ("„Wer zahlt?“, fragte sie. Niemand antwortete.", "de",
     ["„Wer zahlt?“, fragte sie.", "Niemand antwortete."]),
    ("He said: “It works. We are happy.” Then he left.", "en",
     ["He said: “It works. We are happy.”", "Then he left."]),
    ("«Мы готовы», — сказал он. Потом ушёл.", "ru", ["«Мы готовы», — сказал он.", "Потом ушёл."]),
])
def test_quotations(text, language, expected):
    assert split_sentences(text, language) == expected


@pytest.mark.parametrize("text, language", [
    ("Dr. Müller sprach mit Prof. Schmidt über die Lage.", "de"),
    ("Das gilt z. B. für Busse, u. a. in Berlin, bzw. in Hamburg.", "de"),
    ("Die Linie Nr. 5 fährt bis St. Pauli und zurück.", "de"),
    ("Der Verein spielt seit dem 13. September in der 3. Liga.", "de"),
    ("Die Inflation lag bei 3.5 Prozent oder 3,5 Prozent.", "de"),
    ("Er unterschrieb mit Kim Jong Un 2023. 9. 13 im Gästebuch.", "de"),
    ("Die Sitzung am 3. Oktober 2023 war kurz.", "de"),
    ("Mr. Smith met Dr. Jones in the U.S. on Monday.", "en"),
    ("Shares of Apple Inc. rose after J. R. R. Tolkien's estate sued.", "en"),
    ("Это было в 2023 г. в Москве, т. е. в столице.", "ru"),
    # merged: "г." before a capital is ambiguous
    ("Мост построили в 1990 г. Он стоит до сих пор.", "ru"),
])
def test_abbreviations_dates_and_numbers_do_not_end_a_sentence(text, language):
    assert split_sentences(text, language) == [text]


@pytest.mark.parametrize("text, language, expected", [
    ("Das war im Jahr 2023. Dann kam die Wende.", "de",
     ["Das war im Jahr 2023.", "Dann kam die Wende."]),
    ("Sie kaufte Äpfel, Birnen usw. Danach ging sie heim.", "de",
     ["Sie kaufte Äpfel, Birnen usw.", "Danach ging sie heim."]),
    ("Really? Yes! It rained... The end.", "en", ["Really?", "Yes!", "It rained...", "The end."]),
    ("Er kam an. 2024 soll alles anders werden.", "de",
     ["Er kam an.", "2024 soll alles anders werden."]),
    ("今天下雨了。我们在家。", "zh", ["今天下雨了。", "我们在家。"]),
    ("I said no. The meeting ended. See No. 5 here.", "en",
     ["I said no.", "The meeting ended.", "See No. 5 here."]),
    ("Das sagte Max. Dann ging er.", "de", ["Das sagte Max.", "Dann ging er."]),
    ("Мы помогли им. Потом ушли.", "ru", ["Мы помогли им.", "Потом ушли."]),
])
def test_real_sentence_ends_are_found(text, language, expected):
    assert split_sentences(text, language) == expected


@given(st.text(alphabet="aZäß1. !?…„“”«»\"\n。Dr", max_size=200),
       st.sampled_from(["de", "en", "ru", "zh", ""]))
def test_splitting_keeps_every_character_in_order(text, language):
    sentences = split_sentences(text, language)

    assert "".join("".join(sentences).split()) == "".join(text.split())
    assert all(s and s == s.strip() for s in sentences)


@given(st.text(alphabet="aZäß1. !?„“\nDr", max_size=300), st.integers(min_value=1, max_value=3),
       st.lists(st.text(alphabet="aZä ", max_size=5), max_size=3))
def test_any_text_gives_a_few_of_its_own_sentences(text, max_sentences, words):
    summary = summarize("Titel", text, "de", highlight=words, max_sentences=max_sentences)

    assert len(summary.sentences) <= max_sentences
    assert set(summary.sentences) <= set(split_sentences(text, "de"))
    for sentence in summary.sentences:
        spans = highlight_spans(sentence, words)
        assert all(0 <= start < end <= len(sentence) for start, end in spans)
        assert all(end <= start for (_, end), (start, _) in pairwise(spans))


def test_paragraphs_never_share_a_sentence_and_wrapped_lines_are_joined():
    text = ("Überschrift ohne Punkt\nDer erste Satz geht\nüber zwei Zeilen. Der zweite nicht.\n\n"
            "Neuer Absatz.")

    assert split_sentences(text, "de") == [
        "Überschrift ohne Punkt",
        "Der erste Satz geht über zwei Zeilen.",
        "Der zweite nicht.",
        "Neuer Absatz.",
    ]


def test_unbalanced_quotes_do_not_swallow_the_paragraph():
    text = "„Wir kommen wieder. Das steht fest. Er ging dann."

    assert split_sentences(text, "de") == [
        "„Wir kommen wieder.", "Das steht fest.", "Er ging dann."]


# --- summaries of texts in three languages --------------------------------------------------------

@pytest.mark.parametrize("article, language, lead, unwanted", [
    (GERMAN, "de", "Der Bundestag hat am Freitag das umstrittene Heizungsgesetz",
     ["LESEN SIE AUCH", "Mehr zum Thema", "Foto:", "Mit Material"]),
    (ENGLISH, "en", "The European Central Bank raised its key interest rate",
     ["Read more", "Reporting by", "Editing by"]),
    (RUSSIAN, "ru", "В Москве в субботу открылась новая линия метрополитена",
     ["Читайте также", "Фото:"]),
])
def test_summary_leads_with_the_news_and_leaves_out_boilerplate(article, language, lead, unwanted):
    title, body = title_and_body(article)

    summary = summarize(title, body, language)

    assert 2 <= len(summary.sentences) <= 3
    assert summary.sentences[0].startswith(lead)
    for text in unwanted:
        assert text not in str(summary)
    assert_whole_sentences(summary, body, language)


@pytest.mark.parametrize("article, language, words, expected", [
    (GERMAN, "de", ["Fernwärmenetze"], "Die Städte sollen bis spätestens 2028 Pläne vorlegen"),
    (ENGLISH, "en", ["recession"], "Mr. Lagarde's critics argue"),
    (RUSSIAN, "ru", ["Пассажиропоток"], "Пассажиропоток на кольцевой линии"),
])
def test_summary_prefers_sentences_with_the_matched_words(article, language, words, expected):
    title, body = title_and_body(article)

    without = summarize(title, body, language)
    with_words = summarize(title, body, language, highlight=words)

    assert not any(s.startswith(expected) for s in without.sentences)
    assert any(s.startswith(expected) for s in with_words.sentences)
    assert_whole_sentences(with_words, body, language)


@pytest.mark.parametrize("boilerplate", [
    "Anders Hagstrom und Elizabeth Pritchett haben zu diesem Bericht beigetragen.",
    "Mit Material von dpa, AFP und Reuters.",
    "(Reporting by Francesco Canepa; Editing by Catherine Evans.)",
    "CNN's Alex Mooney contributed to this report.",
    "SÜDKOREA ÄUSSERT NACH DEM TREFFEN IN RUSSLAND „TIEFE BESORGNIS“",
    "Lesen Sie auch: Wie die Regierung die Wahl gewinnen will.",
    "Mehr zum Thema: Die Koalition streitet über den Haushalt.",
    "Read more: How the coalition plans to win the election.",
    "Foto: Kay Nietfeld/dpa/picture alliance.",
    "Photo by Jane Doe / Getty Images.",
    "President Biden speaks at the White House on Monday. (AP Photo/Evan Vucci)",
    "© 2023 Reuters. Alle Rechte vorbehalten.",
])
def test_each_kind_of_boilerplate_is_left_out(boilerplate):
    news = [
        "Die Regierung hat am Montag einen neuen Haushaltsentwurf vorgelegt.",
        "Der Finanzminister will die Ausgaben um zwei Prozent senken.",
        "Die Opposition kritisierte den Entwurf als unsozial.",
        "Die Abstimmung ist im Dezember geplant.",
    ]
    body = f"{news[0]} {news[1]}\n\n{boilerplate}\n\n{news[2]} {news[3]}"

    # Its own words as the matched words: without the filter, the boilerplate would be chosen.
    summary = summarize("Regierung legt Haushalt vor", body, "de", highlight=boilerplate.split())

    assert summary.sentences
    assert set(summary.sentences) <= set(news)


def test_an_overlong_sentence_is_kept_whole():
    sentence = ("Der Ausschuss beriet "
                + ", ".join(f"über Punkt {n} der Tagesordnung" for n in range(60)) + ".")

    summary = summarize("Ausschuss", sentence, "de")

    assert summary.sentences == [sentence]


def test_max_sentences_and_str():
    title, body = title_and_body(GERMAN)

    summary = summarize(title, body, "de", max_sentences=1)

    assert len(summary.sentences) == 1
    assert str(summary) == summary.sentences[0]
    assert str(summarize(title, body, "de")) == " ".join(summarize(title, body, "de").sentences)


def test_empty_text_gives_an_empty_summary():
    assert summarize("Titel", "", "de").sentences == []
    assert summarize("Titel", "  \n\n ", "de").sentences == []
    assert summarize("Titel", "Mehr zum Thema\nFoto: dpa", "de").sentences == []


def test_text_without_a_full_sentence_still_gives_one():
    summary = summarize("Kurz", "Eilmeldung: Bahnstreik in ganz Deutschland beendet", "de")

    assert summary.sentences == ["Eilmeldung: Bahnstreik in ganz Deutschland beendet"]


# --- highlighted words ----------------------------------------------------------------------------

def marked(sentence: str, words: list[str], language: str | None = None) -> list[str]:
    spans = highlight_spans(sentence, words, language=language)
    return [sentence[start:end] for start, end in spans]


def test_one_highlighter_for_many_rules_marks_what_each_sentence_alone_would():
    """The alert planner highlights an article's summary once per rule through one
    Highlighter; its shared vocabulary must not mark in a sentence what that sentence alone
    would not."""
    sentences = ["Putins Gast war Kim Jong Un.", "Die Einladungen nahm Putin an.",
                 "Kim reiste im Zug; die Züge waren voll."]
    for language in (None, "de"):
        highlighter = Highlighter(sentences, language=language)
        for words in (["Putin"], ["Kim Jong Un", "Kim"], ["Einladung", "Zug"], ["Jong Un Die"]):
            assert highlighter.spans(words) == [
                highlight_spans(s, words, language=language) for s in sentences], words
    [(a, b), (c, d)] = Highlighter(sentences, language="de").spans(["Zug"])[2]
    assert (sentences[2][a:b], sentences[2][c:d]) == ("Zug", "Züge")


def test_highlight_marks_inflected_names_and_phrases():
    sentence = "Putins Gast war Kim Jong Un; Kims Einladungen nahm Putin an."

    assert marked(sentence, ["Putin", "Kim", "Kim Jong Un", "Einladung"]) == [
        "Putins", "Kim Jong Un", "Kims", "Einladungen", "Putin"]


def test_highlight_ignores_case_and_diacritics_and_german_transcriptions():
    sentence = "SÜDKOREA äußert Besorgnis, Südkorea und Suedkorea auch."

    assert marked(sentence, ["Südkorea"]) == ["SÜDKOREA", "Südkorea", "Suedkorea"]
    assert marked(sentence, ["suedkorea"]) == ["SÜDKOREA", "Südkorea", "Suedkorea"]
    assert marked(sentence, ["ÄUSSERT"]) == ["äußert"]


def test_the_engines_words_are_marked_as_they_are_not_inflected_again():
    """Alerts pass the words the engine found in the article (its hits): those and only
    those are bold, with case and diacritics still ignored."""
    sentence = "Putins Gast war Kim; Kims Einladungen nahm Putin an, SÜDKOREA schwieg."
    highlighter = Highlighter([sentence], language="de", inflected=False)

    [spans] = highlighter.spans(["putin", "einladungen", "südkorea", "kim jong"])

    assert [sentence[a:b] for a, b in spans] == ["Einladungen", "Putin", "SÜDKOREA"]


def test_highlight_in_russian():
    sentence = "Встреча Путина с Ким Чен Ыном: Путину понравилось, а с Путиным согласились."

    assert marked(sentence, ["Путин", "Ким Чен Ын"]) == [
        "Путина", "Ким Чен Ыном", "Путину", "Путиным"]


def test_highlight_does_not_mark_other_words_or_parts_of_words():
    sentence = "Nordkorea und Korea-Experten trugen einen Kimono."

    assert marked(sentence, ["Korea"]) == ["Korea"]
    assert marked(sentence, ["Kim"]) == []
    assert marked(sentence, []) == []


def test_highlight_with_language_uses_the_stemmer():
    sentence = "Inviting them, she sent invitations and invited everyone."

    assert marked(sentence, ["invitation"]) == ["invitations"]
    assert marked(sentence, ["invitation"], language="en") == ["Inviting", "invitations", "invited"]


def test_highlight_spans_are_sorted_and_disjoint():
    sentence = "Kim Jong Un traf Kim Yo Jong und Kim Jong Un."

    spans = highlight_spans(sentence, ["Kim", "Kim Jong Un", "Jong"])

    assert spans == sorted(spans)
    assert all(end <= start for (_, end), (start, _) in pairwise(spans))
    assert [sentence[a:b] for a, b in spans] == ["Kim Jong Un", "Kim", "Jong", "Kim Jong Un"]


# --- the corpus -----------------------------------------------------------------------------------

def test_every_corpus_article_gets_one_to_three_whole_sentences():
    path = CORPUS / "articles.jsonl"
    if not path.exists():
        pytest.skip(f"corpus not found at {path}")
    for line in path.read_text(encoding="utf-8").splitlines():
        article = json.loads(line)
        text = article["text"] or ""
        summary = summarize(article["title"] or "", text, article["lang"] or "")
        if not text.strip():
            assert summary.sentences == [], article["id"]
            continue
        assert 1 <= len(summary.sentences) <= 3, article["id"]
        sentences = split_sentences(text, article["lang"] or "")
        assert all(s in sentences for s in summary.sentences), article["id"]
