"""Text analysis: the ONE analyser that articles and queries both go through.

A text becomes words in five steps (rules-language.md, "Matching"):

1. Unicode NFKC; soft hyphens and zero-width characters are removed.
2. Words are runs of letters, digits and combining marks in any script; everything else
   (spaces, punctuation, every kind of quotation mark and apostrophe) separates words, so
   "Kim’s" gives `kim`, `s` and „angenommen“ gives `angenommen`. Han and kana characters are
   words of one character each, because those scripts do not separate words by spaces.
3. Case folding (`casefold`: "ß" = "ss").
4. Folding: diacritics of Latin and Greek letters are removed ("é" → "e", "ł" → "l", "ё" → "е";
   Cyrillic "й" stays a letter of its own) and German transcriptions are folded the way Lucene's
   GermanNormalizationFilter does it: "ae"/"oe" → "a"/"o", "ue" → "u" except after a vowel or "q"
   ("Suedkorea" = "Südkorea" = "Sudkorea", but "Feuer" keeps its "ue").
5. Inflection: every word also has a stem, from the Snowball stemmer (PyStemmer) of the
   article's language; languages without a stemmer use the folded word itself.

Each word therefore has two forms: the exact form (steps 1–4: quoted words, phrases and
wildcards use it) and the stemmed form (bare query words use it). A bare query word matches an
article word whose stem equals the query word's stem OR the query word itself: Snowball
sometimes cuts a pseudo-ending off a base form while the inflected forms keep it (Russian
"космодром" → "космодр" but "космодроме" → "космодром"; "Газпром" → "газпр"), and analysts
type base forms. The stem is taken from the
case-folded word BEFORE step 4 and folded afterwards: Snowball stemmers expect real spelling
(English "continued" and "continue" share the stem "continu", but after German folding of
"ue" they would not), and folding the stem afterwards still merges "Südkoreas"/"Suedkoreas".

Hyphenated compounds: "Nord-Korea" gives its parts `nord` (position p) and `korea` (p+1), and
also the joined word `nordkorea`, which is placed at BOTH the first and the last position of
its parts (p and p+1). Parts keep consecutive positions, so the phrase "Nord Korea" matches; the
joined word sits on either end, so the phrases "die Nordkorea" (die at p-1) and "Nordkorea
Raketen" (Raketen at p+2) match too, and NEAR distances to it are off by at most the compound's
length. Nothing else moves: words after a compound keep the positions their parts give them.

Title and body are separate fields: body positions start at BODY_OFFSET, so a phrase or a NEAR
never reaches from the title into the body.

This is the hot path. The text is tokenised with one regular expression over a prebuilt
character class (no per-character Python code); the forms of a word are computed once per
(language, word) and cached; word order (positions) is only materialised when a phrase or
NEAR needs it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import compress, count, filterfalse
from urllib.parse import urlsplit

import Stemmer

from monitor.models import Article

# Bumped whenever analysis changes what matches; part of every rule version.
ANALYSIS_VERSION = "1"

# Body positions start here; NEAR distances are capped far below it (query.MAX_NEAR).
BODY_OFFSET = 1 << 20

UNKNOWN_LANGUAGE = "und"

_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e"
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE}]")
HYPHENS = "-\u2010\u2011"
_HYPHEN_RE = re.compile(f"[{HYPHENS}]")

_CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),
               (0x20000, 0x2FFFF))


def _is_cjk(code: int) -> bool:
    return any(low <= code <= high for low, high in _CJK_RANGES)


def _is_word_char(char: str) -> bool:
    return char.isalnum() or unicodedata.category(char) in ("Mn", "Mc", "Me")


def _char_class(codes: list[int]) -> str:
    """A regex character class body for these code points, as ranges."""
    parts = []
    start = previous = codes[0]
    for code in [*codes[1:], -1]:
        if code == previous + 1:
            previous = code
            continue
        parts.append(re.escape(chr(start)) if start == previous
                     else f"{re.escape(chr(start))}-{re.escape(chr(previous))}")
        start = previous = code
    return "".join(parts)


def _word_pattern(limit: int) -> re.Pattern[str]:
    """Words and hyphenated compounds (one match: "Nord-Korea"), or a single Han/kana character.

    Below U+10000 the class compiles to a bitmap (fast); texts with characters beyond the
    Basic Multilingual Plane (rare: emoji, historic scripts) use the full, slower pattern.
    """
    word = _char_class([c for c in range(limit) if not _is_cjk(c) and _is_word_char(chr(c))])
    cjk = _char_class([c for c in range(limit) if _is_cjk(c)])
    return re.compile(f"[{word}]+(?:[{HYPHENS}][{word}]+)*|[{cjk}]")


_WORDS_BMP = _word_pattern(0x10000)
_WORDS_ALL: re.Pattern[str] | None = None


def _words_pattern(text: str) -> re.Pattern[str]:
    global _WORDS_ALL
    # A str holds a character beyond U+FFFF exactly when UTF-16 needs surrogate pairs for it.
    if len(text.encode("utf-16-le")) == 2 * len(text):
        return _WORDS_BMP
    if _WORDS_ALL is None:
        _WORDS_ALL = _word_pattern(0x110000)
    return _WORDS_ALL


def prepare(text: str) -> str:
    """Step 1: NFKC, invisible characters removed. Offsets in explanations refer to this."""
    if not unicodedata.is_normalized("NFKC", text):
        text = unicodedata.normalize("NFKC", text)
    if any(char in text for char in _INVISIBLE):
        text = _INVISIBLE_RE.sub("", text)
    return text


def split_compound(match: str) -> list[str]:
    return _HYPHEN_RE.split(match)


# ------------------------------------------------------------------------------- folding

def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    latin_greek = [*range(0x00C0, 0x0250), *range(0x0370, 0x0400), *range(0x1E00, 0x1F00),
                   *range(0x1F00, 0x2000)]
    for code in latin_greek:
        base = "".join(c for c in unicodedata.normalize("NFD", chr(code))
                       if not unicodedata.combining(c))
        if base and base != chr(code):
            table[code] = base
    special = {"æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th",
               "ı": "i", "ħ": "h", "ŀ": "l", "ŧ": "t", "ŋ": "n", "ё": "е"}
    table.update({ord(k): v for k, v in special.items()})
    for low, high in ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF),
                      (0xFE20, 0xFE2F)):
        table.update(dict.fromkeys(range(low, high + 1), ""))
    return table


_FOLD = _fold_table()
# Lucene GermanNormalizationFilter: an "e" after "a"/"o" goes, and after a "u" that does not
# itself follow a vowel or "q" (umlauts are plain vowels here: diacritics go first).
_GERMAN_E = re.compile(r"(?:(?<=[ao])|(?<=u)(?<![aeiouyq]u))e")


def fold(word: str) -> str:
    """Step 4 on a case-folded word: diacritics and German transcriptions."""
    if not word.isascii():
        word = word.translate(_FOLD)
    if "e" in word:
        word = _GERMAN_E.sub("", word)
    return word


# ----------------------------------------------------------------------------- languages

_STEMMER_NAMES = {
    "ar": "arabic", "hy": "armenian", "eu": "basque", "ca": "catalan", "cs": "czech",
    "da": "danish", "nl": "dutch", "en": "english", "eo": "esperanto", "et": "estonian",
    "fi": "finnish", "fr": "french", "de": "german", "el": "greek", "hi": "hindi",
    "hu": "hungarian", "id": "indonesian", "ga": "irish", "it": "italian", "lt": "lithuanian",
    "ne": "nepali", "no": "norwegian", "nb": "norwegian", "nn": "norwegian", "fa": "persian",
    "pl": "polish", "pt": "portuguese", "ro": "romanian", "ru": "russian", "sr": "serbian",
    "st": "sesotho", "es": "spanish", "sv": "swedish", "ta": "tamil", "tr": "turkish",
    "yi": "yiddish",
}
_AVAILABLE = set(Stemmer.algorithms())
STEMMERS = {code: name for code, name in _STEMMER_NAMES.items() if name in _AVAILABLE}


def language_code(language: str | None) -> str:
    """"de-AT", "DE", "de_de" → "de"; missing → "und"."""
    if not language:
        return UNKNOWN_LANGUAGE
    return re.split(r"[-_\s]", language.strip().lower(), maxsplit=1)[0] or UNKNOWN_LANGUAGE


def profile_for(language: str) -> str | None:
    """The stemmer used for an article language code (None: words match exactly)."""
    return STEMMERS.get(language)


def source_name(value: str) -> str:
    """How feed names, domains and `source:` values compare: case-insensitive, no 'www.'."""
    value = " ".join(value.casefold().split())
    return value[4:] if value.startswith("www.") else value


def source_keys(source: str | None, url: str | None) -> frozenset[str]:
    """What `source:x` can name for an article: its feed's name and its URL's domain."""
    keys = set()
    if source:
        keys.add(source_name(source))
    if url:
        host = urlsplit(url).hostname
        if host:
            keys.add(source_name(host))
    return frozenset(keys)


# ------------------------------------------------------------------------------ analyser

@dataclass(frozen=True)
class FieldText:
    """One field (title or body) as the fast path needs it.

    `matches` are the regex matches in text order (compounds still hyphenated), `words` the
    distinct raw words including the parts and joined forms of compounds. Positions are
    computed only on demand (`tokens`, `joins`).
    """

    matches: list[str]
    words: set[str]
    has_compounds: bool

    def tokens(self) -> list[str]:
        """Raw words in text order, compounds split into their parts: index = position."""
        if not self.has_compounds:
            return self.matches
        tokens: list[str] = []
        for match in self.matches:
            if match.isalnum():
                tokens.append(match)
            else:
                tokens.extend(split_compound(match))
        return tokens

    def joins(self) -> Iterator[tuple[str, int, int]]:
        """(joined word, first position, last position) of every hyphenated compound."""
        if not self.has_compounds:
            return
        position = 0
        for match in self.matches:
            if match.isalnum():
                position += 1
                continue
            parts = split_compound(match)
            if len(parts) > 1:
                yield "".join(parts), position, position + len(parts) - 1
            position += len(parts)

    def positions_of(self, wanted: set[str] | dict[str, object]) -> Iterator[tuple[str, int]]:
        """(word, position) for every occurrence of the wanted raw words, joined ones too."""
        tokens = self.tokens()
        for position in compress(count(), map(wanted.__contains__, tokens)):
            yield tokens[position], position
        for joined, first, last in self.joins():
            if joined in wanted:
                yield joined, first
                yield joined, last


def analyse_field(text: str) -> FieldText:
    text = prepare(text)
    matches = _words_pattern(text).findall(text)
    words = set(matches)
    has_compounds = False
    for match in list(filterfalse(str.isalnum, words)):
        parts = split_compound(match)
        if len(parts) > 1:
            has_compounds = True
            words.discard(match)
            words.update(parts)
            words.add("".join(parts))
    return FieldText(matches, words, has_compounds)


@dataclass(frozen=True)
class AnalyzedText:
    """An article after analysis: fields, language and the names `source:` can use."""

    title: FieldText
    body: FieldText
    language: str
    profile: str | None
    sources: frozenset[str]


class Analyzer:
    """Word forms with a cache per (stemmer, word); shared by the engine, the reference
    evaluator and the query parser so that all of them see the same words."""

    def __init__(self, cache_limit: int = 500_000):
        self.cache_limit = cache_limit
        self._forms: dict[str | None, dict[str, tuple[str, str]]] = {}
        self._stemmers: dict[str, Stemmer.Stemmer] = {}

    def forms(self, profile: str | None, raw: str) -> tuple[str, str]:
        """(exact form, stemmed form) of a raw word for one stemmer profile."""
        cache = self._forms.get(profile)
        if cache is None:
            cache = self._forms[profile] = {}
        found = cache.get(raw)
        if found is None:
            if len(cache) >= self.cache_limit:
                cache.clear()
            found = cache[raw] = self._compute(profile, raw)
        return found

    def _compute(self, profile: str | None, raw: str) -> tuple[str, str]:
        word = raw.casefold()
        exact = fold(word)
        if profile is None:
            return exact, exact
        stemmer = self._stemmers.get(profile)
        if stemmer is None:
            stemmer = self._stemmers[profile] = Stemmer.Stemmer(profile, 0)
        stem = fold(stemmer.stemWord(word))
        return exact, stem

    def analyse(self, article: Article) -> AnalyzedText:
        language = language_code(article.language)
        return AnalyzedText(
            title=analyse_field(article.title or ""),
            body=analyse_field(article.text or ""),
            language=language,
            profile=profile_for(language),
            sources=source_keys(article.source, article.url),
        )

    def word_forms(self, analyzed: AnalyzedText) -> int:
        """Forms of every distinct word (what analysis costs on its own); returns their count."""
        forms = self.forms
        profile = analyzed.profile
        words = analyzed.title.words | analyzed.body.words
        for word in words:
            forms(profile, word)
        return len(words)


ANALYZER = Analyzer()


# ---------------------------------------------------------------- slow path with offsets

@dataclass(frozen=True)
class Token:
    """One word of a prepared text with where it stands (for explanations and the reference
    evaluator). A joined compound has `first` < `last`; other words have first == last."""

    surface: str
    start: int
    end: int
    first: int
    last: int
    raw: str


@dataclass(frozen=True)
class FieldTokens:
    text: str                 # the prepared text the offsets refer to
    tokens: list[Token]       # words in order, then the joined compounds
    offset: int               # added to positions (0 for the title, BODY_OFFSET for the body)


def tokenize_with_offsets(text: str, offset: int = 0) -> FieldTokens:
    """The same words as the fast path, each with its character span and position."""
    text = prepare(text)
    words: list[Token] = []
    joined: list[Token] = []
    position = offset
    for match in _words_pattern(text).finditer(text):
        parts = split_compound(match.group())
        start = match.start()
        first = position
        for part in parts:
            words.append(Token(part, start, start + len(part), position, position, part))
            start += len(part) + 1
            position += 1
        if len(parts) > 1:
            raw = "".join(parts)
            joined.append(Token(match.group(), match.start(), match.end(), first, position - 1,
                                raw))
    return FieldTokens(text, words + joined, offset)


@dataclass(frozen=True)
class Document:
    """An article for the reference evaluator: every token with its forms and positions."""

    title: FieldTokens
    body: FieldTokens
    language: str
    profile: str | None
    sources: frozenset[str]
    analyzer: Analyzer = field(default=ANALYZER, repr=False)

    @classmethod
    def from_article(cls, article: Article, analyzer: Analyzer = ANALYZER) -> Document:
        language = language_code(article.language)
        return cls(
            title=tokenize_with_offsets(article.title or "", 0),
            body=tokenize_with_offsets(article.text or "", BODY_OFFSET),
            language=language, profile=profile_for(language),
            sources=source_keys(article.source, article.url), analyzer=analyzer,
        )

    def fields(self, name: str | None) -> list[FieldTokens]:
        if name == "title":
            return [self.title]
        if name == "body":
            return [self.body]
        return [self.title, self.body]

    def forms(self, token: Token) -> tuple[str, str]:
        return self.analyzer.forms(self.profile, token.raw)


def query_words(text: str) -> list[list[str]]:
    """The raw words of a query word or phrase: one list of parts per regex match, so that
    callers can treat a hyphenated compound ("Nord-Korea") as parts or as one joined word."""
    text = prepare(text)
    return [split_compound(m) for m in _words_pattern(text).findall(text)]
