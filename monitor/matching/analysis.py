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
type base forms. The stem is taken from the case-folded word BEFORE step 4 and folded
afterwards: Snowball stemmers expect real spelling (English "continued" and "continue" share
the stem "continu", but after German folding of "ue" they would not), and folding the stem
afterwards still merges "Südkoreas"/"Suedkoreas".

NFKC (step 1) is applied to each word rather than to the whole text, which is the same thing
for what matters (ligatures, full-width and superscript letters and digits are word
characters before and after) and saves normalising long texts on the hot path. Characters
that only become letters through NFKC ("№" → "No", "™" → "TM", "Ⓐ" → "A") are counted as word
characters for that reason. The one difference: a character whose NFKC form mixes letters and
punctuation ("℃" → "°C", "¼" → "1⁄4") stays one unit instead of being split.

Hyphenated compounds: "Nord-Korea" gives its parts `nord` (position p) and `korea` (p+1), and
also the joined word `nordkorea`, which is placed at BOTH the first and the last position of
its parts (p and p+1). Parts keep consecutive positions, so the phrase "Nord Korea" matches; the
joined word sits on either end, so the phrases "die Nordkorea" (die at p-1) and "Nordkorea
Raketen" (Raketen at p+2) match too, and NEAR distances to it are off by at most the compound's
length. Nothing else moves: words after a compound keep the positions their parts give them.

Title and body are separate fields: body positions start at BODY_OFFSET, so a phrase or a NEAR
never reaches from the title into the body.

This is the hot path, so no Python code runs per character and little per word. Words never
contain whitespace: ASCII separators are turned into spaces (bytes.translate) and str.split()
cuts the text into chunks; a chunk that is one plain word (str.isalnum) is that word, any
other ("Putin’s", „angenommen“, "Nord-Korea") goes through the word pattern once per distinct
chunk (cached). Texts with Han or kana, or characters beyond U+FFFF, are tokenised with the
pattern directly. The forms of a word are computed once per (language, word) and cached; word
order (positions) is only worked out when a phrase, a NEAR or a hit needs it. The reference
tokeniser (tokenize_with_offsets) runs the word pattern over the whole text; a property test
holds the two to the same words at the same positions.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import accumulate, chain, compress, count, filterfalse, repeat
from typing import TypeVar

import Stemmer

from monitor.language import STEMMERS, fold, language_or_und
from monitor.models import Article

# Bumped whenever analysis changes what matches; part of every rule version.
ANALYSIS_VERSION = "1"

# Body positions start here; NEAR distances are capped far below it (query.MAX_NEAR).
BODY_OFFSET = 1 << 20

_INVISIBLE = "\u00ad\u200b\u200c\u200d\u2060\ufeff\u180e"
_INVISIBLE_RE = re.compile(f"[{_INVISIBLE}]")
_MARKS = ("Mn", "Mc", "Me")
_CJK_RANGES = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF),
               (0x20000, 0x2FFFF))


def _char_kind(char: str) -> str | None:
    """"word", "cjk" (a word of its own) or None (separates words), for one character."""
    if char.isalnum() or unicodedata.category(char) in _MARKS:
        code = ord(char)
        return "cjk" if any(low <= code <= high for low, high in _CJK_RANGES) else "word"
    normal = unicodedata.normalize("NFKC", char)
    if normal != char and normal:
        kinds = {_char_kind(c) for c in normal}
        if len(kinds) == 1:
            return kinds.pop()
    return None


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


def _kinds(codes: Iterable[int]) -> dict[str, list[int]]:
    kinds: dict[str, list[int]] = {"word": [], "cjk": []}
    for code in codes:
        kind = _char_kind(chr(code))
        if kind:
            kinds[kind].append(code)
    return kinds


def _pattern(word: str, cjk: str) -> re.Pattern[str]:
    return re.compile(f"[{word}]+(?:-[{word}]+)*|[{cjk}]")


# Below U+10000 the classes compile to bitmaps (fast); a text with characters beyond the
# Basic Multilingual Plane (rare: emoji, historic scripts) gets a pattern that adds just the
# ones it has (classifying all 1.1M code points at once would take a third of a second).
_BMP_KINDS = _kinds(range(0x10000))
_BMP_WORD, _BMP_CJK = _char_class(_BMP_KINDS["word"]), _char_class(_BMP_KINDS["cjk"])
_BMP = _pattern(_BMP_WORD, _BMP_CJK)
_CJK_BMP = re.compile(f"[{_BMP_CJK}]")


@lru_cache(maxsize=256)
def _astral_pattern(astral: frozenset[str]) -> re.Pattern[str]:
    kinds = _kinds(sorted(map(ord, astral)))
    return _pattern(_BMP_WORD + "".join(map(re.escape, map(chr, kinds["word"]))),
                    _BMP_CJK + "".join(map(re.escape, map(chr, kinds["cjk"]))))


def _words_pattern(text: str) -> re.Pattern[str]:
    """Words, hyphenated compounds as one match ("Nord-Korea"), or a single Han/kana."""
    # A str holds a character beyond U+FFFF exactly when UTF-16 needs surrogate pairs for it.
    if len(text.encode("utf-16-le", "surrogatepass")) == 2 * len(text):
        return _BMP
    return _astral_pattern(frozenset(char for char in text if char > "\uffff"))


def prepare(text: str) -> str:
    """Soft hyphens and zero-width characters removed, the Unicode hyphens made "-" (one
    character for one: offsets in explanations refer to this text)."""
    if any(char in text for char in _INVISIBLE):
        text = _INVISIBLE_RE.sub("", text)
    if "\u2010" in text or "\u2011" in text:
        text = text.replace("\u2010", "-").replace("\u2011", "-")
    return text


def split_compound(match: str) -> list[str]:
    return match.split("-")


# ----------------------------------------------------------------------------- languages

def profile_for(language: str) -> str | None:
    """The stemmer used for an article language code (None: words match exactly)."""
    return STEMMERS.get(language)


def source_name(value: str) -> str:
    """How feed names, domains and `source:` values compare: case-insensitive, no 'www.'."""
    value = " ".join(value.casefold().split())
    return value.removeprefix("www.")


_HOST = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(\[[^\]]*\]|[^:/?#]*)")


def source_keys(source: str | None, url: str | None) -> frozenset[str]:
    """What `source:x` can name for an article: its feed's name and its URL's domain."""
    keys = set()
    if source:
        keys.add(source_name(source))
    host = _HOST.match(url) if url else None
    if host and host.group(1):
        keys.add(source_name(host.group(1)))
    return frozenset(keys)


# ------------------------------------------------------------------------------ analyser

@dataclass(frozen=True)
class Chunk:
    """The words of a chunk of text that is not simply one word ("Putin,", „angenommen“,
    "Nord-Korea", "Kim’s"): its words in order, and its compounds' joined words with their
    first and last word index within the chunk."""

    tokens: tuple[str, ...]
    joins: tuple[tuple[str, int, int], ...]

    @cached_property
    def words(self) -> frozenset[str]:
        """Its distinct words: the tokens and the joined compounds."""
        return frozenset((*self.tokens, *(joined for joined, _, _ in self.joins)))


T = TypeVar("T")


class _Cache(dict[str, T]):
    """str → value computed on first sight; emptied when full (a bounded memo)."""

    def __init__(self, compute: Callable[[str], T], limit: int):
        super().__init__()
        self.compute = compute
        self.limit = limit

    def __missing__(self, key: str) -> T:
        if len(self) >= self.limit:
            self.clear()
        found = self[key] = self.compute(key)
        return found


def _chunk(chunk: str) -> Chunk:
    tokens: list[str] = []
    joins = []
    for match in _words_pattern(chunk).findall(chunk):
        parts = split_compound(match)
        if len(parts) > 1:
            joins.append(("".join(parts), len(tokens), len(tokens) + len(parts) - 1))
        tokens.extend(parts)
    return Chunk(tuple(tokens), tuple(joins))


_CHUNKS = _Cache(_chunk, 200_000)


@dataclass(frozen=True)
class FieldText:
    """One field (title or body) as the fast path needs it.

    The text is cut at whitespace into chunks (words never contain whitespace); a chunk that
    is one plain word (`str.isalnum`, most of them) is that word, any other goes through the
    word pattern once per distinct chunk (cached). `words` are the distinct raw words,
    compound parts and joined compounds included. Word order (`tokens`, `joins`) is only
    computed when a phrase, a NEAR or a hit needs positions.
    """

    chunks: list[str]
    impure: dict[str, Chunk]
    words: set[str]

    @cached_property
    def tokens(self) -> list[str]:
        """Raw words in text order: index = position."""
        if not self.impure:
            return self.chunks
        expanded = {chunk: info.tokens for chunk, info in self.impure.items()}
        # A plain chunk stands for itself: zip(chunks) gives it as a 1-tuple default.
        return list(chain.from_iterable(map(expanded.get, self.chunks, zip(self.chunks))))

    @cached_property
    def joins(self) -> list[tuple[str, int, int]]:
        """(joined word, first position, last position) of every hyphenated compound."""
        sizes = {chunk: len(info.tokens) for chunk, info in self.impure.items()}
        starts = list(accumulate(map(sizes.get, self.chunks, repeat(1)), initial=0))
        with_joins = {chunk for chunk, info in self.impure.items() if info.joins}
        joins = []
        for index in compress(count(), map(with_joins.__contains__, self.chunks)):
            start = starts[index]
            for joined, first, last in self.impure[self.chunks[index]].joins:
                joins.append((joined, start + first, start + last))
        return joins


# ASCII characters other than letters, digits and "-" separate words: as spaces they let
# str.split() do most of the tokenising. Bytes beyond ASCII pass unchanged.
_ASCII_SEPARATORS = bytes(
    code if chr(code).isalnum() or chr(code) == "-" or code >= 0x80 else 0x20
    for code in range(256)
)
# UTF-8 lead bytes of U+3000–U+9FFF and U+F000–U+FFFF (where Han and kana live) and of
# characters beyond U+FFFF: a quick byte search says when the slower checks are needed.
_SPECIAL_LEADS = (b"\xe3", b"\xe4", b"\xe5", b"\xe6", b"\xe7", b"\xe8", b"\xe9", b"\xef",
                  b"\xf0", b"\xf1", b"\xf2", b"\xf3", b"\xf4")


def analyse_field(text: str) -> FieldText:
    text = prepare(text)
    data = text.encode("utf-8", "surrogatepass")
    if any(lead in data for lead in _SPECIAL_LEADS) and (
            _words_pattern(text) is not _BMP or _CJK_BMP.search(text)):
        # Han and kana are words of one character: whitespace does not delimit words.
        chunks = _words_pattern(text).findall(text)
    else:
        chunks = data.translate(_ASCII_SEPARATORS).decode("utf-8", "surrogatepass").split()
    words = set(chunks)
    impure = {}
    for chunk in list(filterfalse(str.isalnum, words)):
        info = impure[chunk] = _CHUNKS[chunk]
        words.discard(chunk)
        words.update(info.words)
    return FieldText(chunks, impure, words)


@dataclass(frozen=True)
class AnalyzedText:
    """An article after analysis: fields, language and the names `source:` can use."""

    title: FieldText
    body: FieldText
    language: str
    profile: str | None
    sources: frozenset[str]


def exact_form(raw: str) -> str:
    """Steps 1, 3 and 4 for one word."""
    return fold(unicodedata.normalize("NFKC", raw).casefold())


class Analyzer:
    """Word forms with a cache per (stemmer, word); shared by the engine, the reference
    evaluator and the query parser so that all of them see the same words."""

    def __init__(self, cache_limit: int = 500_000):
        self.cache_limit = cache_limit
        self._caches: dict[str | None, _Cache[tuple[str, str]]] = {}

    def cache(self, profile: str | None) -> _Cache[tuple[str, str]]:
        found = self._caches.get(profile)
        if found is None:
            stem = Stemmer.Stemmer(profile, 0).stemWord if profile else None
            found = self._caches[profile] = _Cache(
                lambda raw: self._compute(stem, raw), self.cache_limit)
        return found

    def forms(self, profile: str | None, raw: str) -> tuple[str, str]:
        """(exact form, stemmed form) of a raw word for one stemmer profile."""
        return self.cache(profile)[raw]

    @staticmethod
    def stems(profile: str | None, raws: list[str]) -> list[str]:
        """The stemmed forms of many raw words (as forms()), in one call of the stemmer:
        what the engine needs of a rule set's words for each language it meets."""
        words = [unicodedata.normalize("NFKC", raw).casefold() for raw in raws]
        if profile:
            words = Stemmer.Stemmer(profile, 0).stemWords(words)   # its own: not shared
        return list(map(fold, words))

    @staticmethod
    def _compute(stem: Callable[[str], str] | None, raw: str) -> tuple[str, str]:
        word = unicodedata.normalize("NFKC", raw).casefold()
        exact = fold(word)
        return (exact, fold(stem(word))) if stem else (exact, exact)

    def analyse(self, article: Article) -> AnalyzedText:
        language = language_or_und(article.language)
        return AnalyzedText(
            title=analyse_field(article.title or ""),
            body=analyse_field(article.text or ""),
            language=language,
            profile=profile_for(language),
            sources=source_keys(article.source, article.url),
        )


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

    @cached_property
    def by_position(self) -> dict[int, list[Token]]:
        """Tokens at each position (a joined compound at its first and its last)."""
        found: dict[int, list[Token]] = {}
        for token in self.tokens:
            for position in {token.first, token.last}:
                found.setdefault(position, []).append(token)
        return found


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
        language = language_or_und(article.language)
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
