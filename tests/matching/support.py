"""Helpers shared by the matching tests: articles, the shipped entities, and a matcher that
asks both the engine and the reference evaluator (they must always agree)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from monitor.matching import Document, Engine, RuleSet, load_rules, make_rule
from monitor.matching.evaluate import rule_matches
from monitor.models import Article

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "rules"
SEED = REPO / "seeds" / "putin-kim-einladung.txt"
WHEN = datetime(2023, 9, 14, 8, 0, tzinfo=UTC)

SHIPPED = load_rules(RULES)
ENTITIES = dict(SHIPPED.entities)


def article(title: str = "", text: str = "", language: str = "de", source: str = "test",
            url: str | None = None, article_id: int | None = None,
            published: datetime = WHEN) -> Article:
    return Article(title=title, text=text, url=url, guid=None, source=source, language=language,
                   published=published, fetched=published, content_hash=f"{title}|{text}",
                   id=article_id)


def seed_article() -> Article:
    """The seed file as the ingest stage stores it: first line the title, German."""
    title, _, body = SEED.read_text(encoding="utf-8").partition("\n")
    return article(title.strip(), body.strip(), "de", source=SEED.name)


def matches(query: str, target: Article, entities: dict | None = None, **limits) -> bool:
    """Whether the query matches; fails the test if engine and reference disagree."""
    rule = make_rule("q", query, ENTITIES if entities is None else entities, **limits)
    by_engine = bool(Engine(RuleSet((rule,), ENTITIES)).match(target))
    by_reference = rule_matches(rule, Document.from_article(target))
    assert by_engine == by_reference, f"engine {by_engine}, reference {by_reference}: {query}"
    return by_engine
