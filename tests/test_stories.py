"""Story grouping on German agency texts written for these tests: copies join, other events stay
apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.stories import (
    MIN_SHINGLES,
    Story,
    StoryIndex,
    band_keys,
    fingerprint,
    fingerprint_from_bytes,
    fingerprint_to_bytes,
    shingles,
    similarity,
)

STRIKE_TITLE = "GDL kündigt neuen Streik bei der Bahn an"
STRIKE = (
    "Die Lokführergewerkschaft GDL hat ihre Mitglieder erneut zu einem Streik bei der Deutschen "
    "Bahn aufgerufen. Der Ausstand soll im Güterverkehr am Dienstagabend um 18 Uhr beginnen, im "
    "Personenverkehr in der Nacht zum Mittwoch um 2 Uhr, und bis Freitagabend dauern. Das teilte "
    "die Gewerkschaft am Montag in Frankfurt mit.\n"
    "\n"
    "GDL-Chef Claus Weselsky warf der Bahn vor, kein verhandlungsfähiges Angebot vorgelegt zu "
    "haben. „Der Vorstand spielt auf Zeit und setzt darauf, dass uns die Puste ausgeht“, sagte "
    "Weselsky. Die Gewerkschaft fordert unter anderem eine Senkung der Wochenarbeitszeit für "
    "Schichtarbeiter von 38 auf 35 Stunden bei vollem Lohnausgleich.\n"
    "\n"
    "Die Bahn kritisierte den Aufruf scharf. Personalvorstand Martin Seiler nannte den Streik eine "
    "„Zumutung für Millionen Fahrgäste“ und kündigte an, einen Notfahrplan mit einem deutlich "
    "reduzierten Angebot im Fernverkehr aufzustellen. Reisende sollten sich vor Fahrtantritt "
    "informieren; bereits gekaufte Fahrkarten behalten ihre Gültigkeit.\n"
    "\n"
    "Es ist bereits der vierte Arbeitskampf in dieser Tarifrunde. Beim letzten Streik im Januar "
    "waren rund 80 Prozent der Fernzüge ausgefallen. Auch der Güterverkehr war massiv betroffen, "
    "Industrieverbände warnten vor Lieferengpässen.\n"
    "\n"
    "Fahrgastverbände forderten beide Seiten auf, an den Verhandlungstisch zurückzukehren. Eine "
    "Schlichtung hatte die GDL bislang abgelehnt.\n"
)

STRIKE_AT_ZEIT = (
    "Berlin (dpa) - " + STRIKE.replace("Das teilte die Gewerkschaft am Montag in Frankfurt mit.",
                                       "Das teilte die Gewerkschaft am Montag mit.")
    + "\n© dpa-infocom, dpa:240304-99-123456/3\n"
)

STRIKE_REGIONAL_TITLE = "Bahnstreik ab Mittwoch: Was Pendler in der Region jetzt wissen müssen"
STRIKE_REGIONAL = STRIKE + "\nAuch die S-Bahn in der Region ist betroffen. Mehr in Kürze.\n"

# A later version on a fourth site: a few words changed, one sentence dropped, one moved.
STRIKE_EDITED = (
    STRIKE.replace("hat ihre Mitglieder erneut zu einem Streik",
                   "hat ihre Mitglieder abermals zu einem Streik")
    .replace("Das teilte die Gewerkschaft am Montag in Frankfurt mit.", "")
    .replace("massiv betroffen", "stark betroffen")
    .replace("Eine Schlichtung hatte die GDL bislang abgelehnt.", "")
    .replace("Fahrgastverbände forderten",
             "Eine Schlichtung hatte die GDL bislang abgelehnt. Fahrgastverbände forderten")
)

# Same people, same conflict, a different event.
AGREEMENT_TITLE = "Bahn und GDL einigen sich im Tarifstreit"
AGREEMENT = (
    "Im monatelangen Tarifkonflikt haben sich die Deutsche Bahn und die Lokführergewerkschaft GDL "
    "auf einen neuen Tarifvertrag geeinigt. Weitere Streiks sind damit bis zum Frühjahr 2026 "
    "ausgeschlossen, wie beide Seiten am Dienstag in Berlin mitteilten.\n"
    "\n"
    "Kern der Einigung ist eine schrittweise Absenkung der Wochenarbeitszeit für Schichtarbeiter: "
    "Ab 2026 sinkt sie von 38 auf 37 Stunden, bis 2029 in mehreren Stufen auf 35 Stunden. "
    "Beschäftigte können sich auch für längere Arbeitszeiten mit höherem Gehalt entscheiden. Zudem "
    "gibt es eine Inflationsausgleichsprämie von 2850 Euro.\n"
    "\n"
    "GDL-Chef Claus Weselsky sprach von einem „Meilenstein für die Beschäftigten“. "
    "Bahn-Personalvorstand Martin Seiler sagte, der Kompromiss sei teuer, schaffe aber "
    "Planungssicherheit für Kunden und Unternehmen. Die Moderatoren, der frühere "
    "Bundesinnenminister Thomas de Maizière und Schleswig-Holsteins Ministerpräsident Daniel "
    "Günther, hatten in den vergangenen Wochen vermittelt.\n"
    "\n"
    "Fahrgastverbände zeigten sich erleichtert. Die Einigung muss noch von den Gremien der "
    "Gewerkschaft bestätigt werden; Weselsky geht im Herbst in den Ruhestand.\n"
)

MONDAY = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


def grouped(index: StoryIndex, articles: list[tuple[int, str, str, datetime, str]]) -> list[int]:
    return [index.add(article_id, fingerprint(title, text), published, source)
            for article_id, title, text, published, source in articles]


def jaccard(a: set[int], b: set[int]) -> float:
    return len(a & b) / len(a | b)


def test_one_story_from_three_sources_and_an_edited_copy():
    index = StoryIndex()

    story_ids = grouped(index, [
        (101, STRIKE_TITLE, STRIKE, MONDAY, "tagesschau"),
        (102, STRIKE_TITLE, STRIKE_AT_ZEIT, MONDAY + timedelta(minutes=5), "zeit"),
        (103, STRIKE_REGIONAL_TITLE, STRIKE_REGIONAL, MONDAY + timedelta(minutes=40),
         "lokalzeitung"),
        (104, STRIKE_TITLE, STRIKE_EDITED, MONDAY + timedelta(hours=3), "tagesschau"),
    ])

    assert story_ids == [101, 101, 101, 101]
    assert index.story(101) == Story(
        id=101, first_article_id=101, sources=["tagesschau", "zeit", "lokalzeitung"], size=4,
        first_seen=MONDAY, last_seen=MONDAY + timedelta(hours=3))


def test_a_different_event_with_the_same_people_stays_apart():
    index = StoryIndex()

    story_ids = grouped(index, [
        (1, STRIKE_TITLE, STRIKE, MONDAY, "tagesschau"),
        (2, AGREEMENT_TITLE, AGREEMENT, MONDAY + timedelta(days=1), "tagesschau"),
        (3, STRIKE_TITLE, STRIKE_AT_ZEIT, MONDAY + timedelta(days=1), "zeit"),
    ])

    assert story_ids == [1, 2, 1]
    assert index.story(2).size == 1
    assert similarity(fingerprint(STRIKE_TITLE, STRIKE),
                      fingerprint(AGREEMENT_TITLE, AGREEMENT)) < 0.1


def test_similarity_estimates_the_jaccard_similarity_of_the_shingles():
    pairs = [(STRIKE_TITLE, STRIKE, STRIKE_TITLE, STRIKE_AT_ZEIT),
             (STRIKE_TITLE, STRIKE, STRIKE_REGIONAL_TITLE, STRIKE_REGIONAL),
             (STRIKE_TITLE, STRIKE, STRIKE_TITLE, STRIKE_EDITED),
             (STRIKE_TITLE, STRIKE, AGREEMENT_TITLE, AGREEMENT)]

    for title_a, text_a, title_b, text_b in pairs:
        exact = jaccard(shingles(title_a, text_a), shingles(title_b, text_b))
        estimate = similarity(fingerprint(title_a, text_a), fingerprint(title_b, text_b))
        assert abs(estimate - exact) < 0.15, (exact, estimate)
    assert similarity(fingerprint(STRIKE_TITLE, STRIKE), fingerprint(STRIKE_TITLE, STRIKE)) == 1.0


def test_fingerprints_are_stable_so_stored_ones_stay_comparable():
    fp = fingerprint(STRIKE_TITLE, STRIKE)

    assert len(fp) == 64
    # case and layout do not count
    assert fp == fingerprint(STRIKE_TITLE.upper(), STRIKE.replace("\n\n", "\n"))
    assert band_keys(fp)[:2] == ["0000643d0f0450dd5f0a7cb266", "010f387c161053090f151e374f"]
    assert fingerprint_from_bytes(fingerprint_to_bytes(fp)) == fp
    assert len(fingerprint_to_bytes(fp)) == 256


def test_texts_too_short_to_compare_are_stories_of_their_own():
    teaser = ("Eilmeldung", "Mehr in Kürze.")
    index = StoryIndex()

    assert len(shingles(*teaser)) < MIN_SHINGLES
    assert fingerprint(*teaser) == ()
    assert band_keys(()) == []
    assert similarity((), ()) == 0.0
    assert grouped(index, [(1, *teaser, MONDAY, "a"), (2, *teaser, MONDAY, "b")]) == [1, 2]


def test_a_one_sentence_teaser_with_its_title_is_grouped_with_its_copies():
    title = "Lokführer streiken ab Mittwoch im Personenverkehr"
    teaser = ("Die GDL ruft zum vierten Streik in dieser Tarifrunde auf, der Ausstand soll bis "
              "Freitag dauern.")
    index = StoryIndex()

    story_ids = grouped(index, [
        (1, title, teaser, MONDAY, "a"),
        (2, title, teaser.replace("vierten", "nächsten"), MONDAY, "b"),
        (3, title, STRIKE, MONDAY, "c"),  # the full article it announces is another story
    ])

    assert story_ids == [1, 1, 3]


def test_articles_leave_the_window():
    index = StoryIndex(window_days=3)
    grouped(index, [(1, STRIKE_TITLE, STRIKE, MONDAY, "tagesschau"),
                    (2, AGREEMENT_TITLE, AGREEMENT, MONDAY + timedelta(days=2), "tagesschau")])

    inside = grouped(index, [(3, STRIKE_TITLE, STRIKE_AT_ZEIT,
                              MONDAY + timedelta(days=2, hours=23), "zeit")])
    assert inside == [1]
    assert len(index) == 3

    later = grouped(index, [(4, STRIKE_TITLE, STRIKE_EDITED, MONDAY + timedelta(days=6), "taz")])
    assert later == [4]  # 1 and 3 were evicted: a copy six days on starts a new story
    assert len(index) == 1
    with pytest.raises(KeyError):
        index.story(1)


def test_a_late_article_is_compared_within_its_own_window_only():
    index = StoryIndex(window_days=3)
    grouped(index, [(1, STRIKE_TITLE, STRIKE, MONDAY, "a"),
                    (2, AGREEMENT_TITLE, AGREEMENT, MONDAY + timedelta(days=2), "b")])

    late = grouped(index, [(3, AGREEMENT_TITLE, AGREEMENT, MONDAY - timedelta(days=5), "c")])

    assert late == [3]
    assert index.story(3).size == 1  # still there until the next add


def test_adding_an_article_again_changes_nothing():
    index = StoryIndex()
    grouped(index, [(1, STRIKE_TITLE, STRIKE, MONDAY, "a"),
                    (2, STRIKE_TITLE, STRIKE_AT_ZEIT, MONDAY, "b")])

    again = grouped(index, [(2, STRIKE_TITLE, STRIKE_AT_ZEIT, MONDAY, "b")])

    assert again == [1]
    assert index.story(1).size == 2


def test_naive_and_aware_times_mean_the_same_moment():
    index = StoryIndex(window_days=1)
    berlin = timezone(timedelta(hours=1))

    story_ids = grouped(index, [
        (1, STRIKE_TITLE, STRIKE, datetime(2024, 3, 4, 9, 0), "a"),
        (2, STRIKE_TITLE, STRIKE_AT_ZEIT, datetime(2024, 3, 5, 9, 30, tzinfo=berlin), "b"),
    ])

    assert story_ids == [1, 1]
    assert index.story(1).last_seen == datetime(2024, 3, 5, 8, 30, tzinfo=UTC)


def test_load_rebuilds_the_same_grouping():
    articles = [
        (1, STRIKE_TITLE, STRIKE, MONDAY, "tagesschau"),
        (2, AGREEMENT_TITLE, AGREEMENT, MONDAY + timedelta(hours=1), "spiegel"),
        (3, STRIKE_TITLE, STRIKE_AT_ZEIT, MONDAY + timedelta(hours=2), "zeit"),
        (4, STRIKE_REGIONAL_TITLE, STRIKE_REGIONAL, MONDAY + timedelta(hours=3), "lokalzeitung"),
    ]
    before = StoryIndex()
    rows = []  # what the store keeps: the fingerprint as a BLOB
    for article_id, title, text, published, source in articles:
        fp = fingerprint(title, text)
        story_id = before.add(article_id, fp, published, source)
        rows.append((article_id, story_id, fingerprint_to_bytes(fp), published.isoformat(), source))

    after = StoryIndex()
    after.load((article_id, story_id, fingerprint_from_bytes(blob),
                datetime.fromisoformat(published), source)
               for article_id, story_id, blob, published, source in reversed(rows))

    assert len(after) == len(before) == 4
    assert [after.story(i) for i in (1, 2)] == [before.story(i) for i in (1, 2)]
    new = [(5, STRIKE_TITLE, STRIKE_EDITED, MONDAY + timedelta(hours=4), "taz"),
           (6, AGREEMENT_TITLE, AGREEMENT.replace("erleichtert", "froh"),
            MONDAY + timedelta(hours=5), "taz")]
    assert grouped(after, new) == grouped(before, new) == [1, 2]
    assert after.story(1) == before.story(1)
