"""Seed files of every type, broken ones reported by name and reason, and idempotent storing."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

from monitor.ingest.normalize import normalize_item
from monitor.ingest.seeds import REREAD_AFTER, SeedError, seed_files
from monitor.models import RawItem
from tests.ingest.conftest import SEEDS

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def read_seed_folder(folder: Path, cache: dict | None = None, now: datetime | None = None
                     ) -> tuple[list[tuple[Path, RawItem]], list[SeedError]]:
    """Every item (with its file) and every error of the files seed_files yields."""
    items, errors = [], []
    for seed_file in seed_files(folder, cache, now):
        items += [(seed_file.path, item) for item in seed_file.items]
        errors += seed_file.errors
    return items, errors


def by_file(folder: Path) -> dict[str, list[RawItem]]:
    items, _ = read_seed_folder(folder)
    found: dict[str, list[RawItem]] = {}
    for path, item in items:
        found.setdefault(path.relative_to(folder).as_posix(), []).append(item)
    return found


def test_good_seeds_of_every_type():
    found = by_file(SEEDS / "good")

    assert sorted(found) == ["batch.json", "briefing.md", "nested/deeper.txt", "note.txt",
                             "page.html", "single.json", "stream.jsonl"]
    assert found["note.txt"] == [RawItem(
        title="Putin accepts Kim's invitation to visit North Korea",
        text=("North Korea says Russian President Vladimir Putin has accepted an invitation\n"
              "from Kim Jong Un to visit the country.\n\n"
              "The invitation was reportedly made when the two leaders met at the Vostochny\n"
              "cosmodrome on Wednesday."),
        text_is_html=False,
    )]
    assert found["briefing.md"][0].title == "Lagebericht: Sturmtief über Norddeutschland"
    assert found["nested/deeper.txt"][0].title == "Seeds in subfolders count too"
    assert [i.title for i in found["stream.jsonl"]] == ["First line", "Second line"]
    assert found["stream.jsonl"][1].source == "Analyst notes"
    assert found["single.json"][0].text == "A JSON file may hold one object instead of a list."


def test_json_seed_fields():
    english, russian = by_file(SEEDS / "good")["batch.json"]

    assert english == RawItem(
        title="Grain deal talks resume",
        text="Negotiators met in Istanbul to revive the grain corridor.",
        url="https://wire.example.com/grain?utm_source=x",
        published=datetime(2024, 2, 1, 9, 0, tzinfo=UTC),
        language="en", source="Wire", text_is_html=False,
    )
    assert russian.published == datetime(2024, 2, 1, tzinfo=UTC)
    assert (russian.url, russian.language, russian.source) == (None, None, None)


def test_html_seed_main_text_without_boilerplate_or_repeated_title():
    [page] = by_file(SEEDS / "good")["page.html"]

    assert page.title == "Central bank holds interest rates steady"
    assert page.text.split("\n\n") == [
        ("The central bank left its key interest rate unchanged on Thursday, in line with the "
         "expectations of most economists surveyed before the meeting."),
        ("Its governor said inflation was falling more slowly than hoped and that the bank was "
         "in no hurry to cut rates before the summer."),
    ]
    assert page.published == datetime(2024, 3, 14, tzinfo=UTC)


def test_broken_seeds_name_the_file_and_the_reason_and_the_rest_still_loads():
    folder = SEEDS / "broken"

    items, errors = read_seed_folder(folder)

    assert [(str(e.path.relative_to(folder)), e.reason) for e in errors] == [
        ("bad-date.json", "'published' is not an ISO 8601 time: 'last Tuesday'"),
        ("broken.json", "invalid JSON: Expecting ',' delimiter (line 2, column 1)"),
        ("empty.txt", "empty file"),
        ("latin1.txt", "not valid UTF-8: byte 0xf6 at offset 2 (line 1); save the file as UTF-8"),
        ("lines.jsonl", ("line 2: invalid JSON: Expecting property name enclosed in double "
                         "quotes (column 18)")),
        ("lines.jsonl", "line 3: no 'text' (a non-empty string is required)"),
        ("lines.jsonl", "line 4: expected an object with 'title' and 'text'"),
        ("mixed.json", "item 2: 'title' must be a string"),
        ("mixed.json", "item 3: expected an object with 'title' and 'text'"),
        ("no-text.html", "no main text found in the HTML page"),
        ("no-text.json", "no 'text' (a non-empty string is required)"),
        ("report.pdf", "unsupported file type '.pdf'; use .txt, .md, .html, .json or .jsonl"),
        ("title-only.txt", "no text after the title line (the first line is the title)"),
    ]
    # The good records inside partly broken files still load.
    assert [(p.name, i.title) for p, i in items] == [("lines.jsonl", "Kept"), ("mixed.json", "ok")]
    assert str(errors[2]) == f"{folder / 'empty.txt'}: empty file"


def test_good_and_broken_seeds_side_by_side():
    items, errors = read_seed_folder(SEEDS)

    assert len(items) == 11 and len(errors) == 13
    assert all(isinstance(e, SeedError) for e in errors)


def test_a_missing_seed_folder_means_no_seeds(tmp_path):
    assert read_seed_folder(tmp_path / "nowhere") == ([], [])


def test_seeds_are_stored_once_however_often_they_are_read(db, tmp_path):
    folder = tmp_path / "seeds"
    shutil.copytree(SEEDS / "good", folder)

    def ingest() -> int:
        items, errors = read_seed_folder(folder)
        assert errors == []
        articles = [normalize_item(item, source=item.source or "seeds", feed_id=None,
                                   language_hint=None, fetched=NOW) for _, item in items]
        return len(db.add_articles(articles))

    assert ingest() == 9
    assert ingest() == 0
    (folder / "note.txt").write_text("Putin accepts Kim's invitation\n\nAn edited text.\n")
    assert ingest() == 1                       # edited content is new content


def test_seed_languages_are_detected_or_taken_from_the_record():
    items, _ = read_seed_folder(SEEDS / "good")
    languages = {
        path.name + ":" + item.title[:12]: normalize_item(
            item, source="seeds", feed_id=None, language_hint=None, fetched=NOW).language
        for path, item in items
    }

    assert languages["briefing.md:Lagebericht:"] == "de"
    assert languages["batch.json:Переговоры о"] == "ru"
    assert languages["batch.json:Grain deal t"] == "en"
    assert languages["note.txt:Putin accept"] == "en"


def test_a_seed_file_is_read_again_when_it_changes_and_daily_otherwise(tmp_path: Path):
    """Unchanged files are not read every cycle (the work would grow with the folder), but
    once a day, so that repeating them renews the keys retention remembers."""
    seed = tmp_path / "note.txt"
    seed.write_text("Erster Titel\nText.", encoding="utf-8")
    (tmp_path / "broken.pdf").write_bytes(b"%PDF")
    cache: dict = {}

    def titles(now: datetime) -> tuple[list[str], list[str]]:
        items, errors = read_seed_folder(tmp_path, cache, now)
        return [item.title for _, item in items], [error.path.name for error in errors]

    assert titles(NOW) == (["Erster Titel"], ["broken.pdf"])
    assert titles(NOW + timedelta(minutes=5)) == ([], [])          # unchanged: skipped
    seed.write_text("Zweiter, längerer Titel\nText.", encoding="utf-8")
    assert titles(NOW + timedelta(minutes=10)) == (["Zweiter, längerer Titel"], [])
    assert titles(NOW + timedelta(minutes=10) + REREAD_AFTER) == (
        ["Zweiter, längerer Titel"], ["broken.pdf"])


def test_a_seed_file_the_caller_stopped_in_is_read_again(tmp_path: Path):
    for name in ("a.txt", "b.txt"):
        (tmp_path / name).write_text(f"{name}\nText.", encoding="utf-8")
    cache: dict = {}
    files = seed_files(tmp_path, cache, NOW)
    assert next(files).path.name == "a.txt"
    files.close()                 # stopped while a.txt was being stored: not counted as read
    assert [f.path.name for f in seed_files(tmp_path, cache, NOW)] == ["a.txt", "b.txt"]
    assert list(seed_files(tmp_path, cache, NOW)) == []


def test_keys_the_seed_format_does_not_have_are_reported_once_with_the_nearest_one(tmp_path):
    lines = [json.dumps({"title": f"T{n}", "text": f"Text {n}", "date": "2024-05-01",
                         "lang": "de", "sitename": "ADAC", "xyz": 1}) for n in range(3)]
    (tmp_path / "export.jsonl").write_text("\n".join(lines), encoding="utf-8")
    items, errors = read_seed_folder(tmp_path)
    assert len(items) == 3                          # the records are still read
    reasons = {e.reason.split(" in ")[0]: e.reason for e in errors}
    assert set(reasons) == {"unknown key 'date'", "unknown key 'lang'", "unknown key 'sitename'",
                            "unknown key 'xyz'"}
    assert "3 records (first: line 1), ignored; did you mean 'published'?" in \
        reasons["unknown key 'date'"]
    assert "did you mean 'language'?" in reasons["unknown key 'lang'"]
    assert "did you mean 'source'?" in reasons["unknown key 'sitename'"]
    assert "did you mean" not in reasons["unknown key 'xyz'"]


def test_a_jsonl_line_that_is_not_utf8_is_reported_by_number_and_the_others_load(tmp_path):
    good = b'{"title": "Gut", "text": "Ein Text"}'
    (tmp_path / "mixed.jsonl").write_bytes(good + b'\n{"title": "b\xff", "text": "x"}\n' + good)
    items, errors = read_seed_folder(tmp_path)
    assert [item.title for _, item in items] == ["Gut", "Gut"]
    assert [e.reason for e in errors] == [
        "line 2: not valid UTF-8 (byte 0xff at column 13); save the file as UTF-8"]
