"""Extractive summaries of one article, and the character spans of matched words in a sentence.

A summary is two or three sentences of the article itself, never rewritten and never cut inside a
sentence, so an alert quotes exactly what the source said. Sentences are chosen by

- position: news put the most important facts first;
- centrality: how much of the article a sentence represents (the cosine between the sentence's
  terms and the article's term counts, title words counting extra);
- the matched words of the rule (``highlight``): a subscriber wants to see why the alert came;

and printed in article order. Boilerplate never gets in: bylines ("… haben zu diesem Bericht
beigetragen", "(Reporting by …)"), agency credits, photo credits, "Lesen Sie auch"-style links and
all-caps teaser headlines of other stories.

Sentence splitting is a regex splitter with an abbreviation list per language (no model, nothing
downloaded at run time). It knows German quotation marks („…“, »…«), so a sentence may end inside
quotes (``„… angenommen.“ Dann``); initials and abbreviations ("Dr.", "z. B.", "U.S.", "т. е."),
ordinals ("3. Liga"), dates ("13. September", "2023. 9. 13") and decimals do not end a sentence.
A quotation of a few sentences stays whole; a long one (a speech) is split like any text. Where
it is unsure, it keeps text together: a sentence too long is harmless, a sentence cut in two is
not.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cache, lru_cache
from itertools import chain

import Stemmer

from monitor.language import fold_text, language_or_und, stemmer


@dataclass
class Summary:
    """The chosen sentences, in article order."""

    sentences: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return " ".join(self.sentences)


# --- words ----------------------------------------------------------------------------------------

_WORD = re.compile(r"\w+")


# Inflectional endings that still name the same thing: German and English genitive and plural,
# Russian case endings (after folding). Used where no stemmer is known, and for names, which
# stemmers often leave alone ("Putins", "Путина").
_ENDINGS = frozenset(
    "s es e en n er ern em ens ns "
    "а я у ю ом ем ой ей ы и е ов ев ам ям ами ями ах ях ым им ого его ому ему ая яя ую юю "
    "ые ых ими".split()
)
_MIN_STEM = 2  # "Un" in "Kim Jong Un" → "Ыном" in Russian


def _fold_phrase(phrase: str) -> tuple[str, ...]:
    """The folded words of a word or phrase, in order."""
    return tuple(fold_text(w) for w in _WORD.findall(phrase))


def _tokens(sentence: str) -> list[tuple[int, int, str]]:
    """(start, end, folded word) for every word of a sentence."""
    return [(m.start(), m.end(), _fold_word(m.group())) for m in _WORD.finditer(sentence)]


# Folding is most of the cost of tokenizing (NFKC, a translate, a regex): the planner of an
# article matched by many rules tokenizes its sentences once per rule, with the same words.
_fold_word = lru_cache(maxsize=100_000)(fold_text)


def highlight_spans(
    sentence: str, words: Iterable[str], *, language: str | None = None
) -> list[tuple[int, int]]:
    """Character spans (start, end) in `sentence` of the given words and phrases, for bold text.

    Matching ignores case and diacritics and accepts inflected forms ("Putin" marks "Putins",
    "Einladung" marks "Einladungen"); a phrase ("Kim Jong Un") marks its words in a row as one
    span. With a `language`, forms sharing a Snowball stem match too. Spans are sorted and never
    overlap; where two matches overlap, the one starting first (then the longer) wins.
    """
    return Highlighter([sentence], language=language).spans(words)[0]


class Highlighter:
    """highlight_spans for many word lists over the same sentences: an article's summary is
    highlighted once for every rule that matched it, so its sentences are tokenized, and the
    forms of each phrase word found among their words, once per article, not once per rule.

    `inflected=False` marks the words as they are (ignoring case and diacritics only): for
    the words the engine found in the article (its hits), whose forms it has decided on
    already; finding the forms again would be most of the cost of an alert's summary."""

    def __init__(self, sentences: Iterable[str], *, language: str | None = None,
                 inflected: bool = True):
        self.sentences = list(sentences)
        self._inflected = inflected
        self._stemmer = stemmer(language_or_und(language))
        self._words = [list(map(_fold_word, _WORD.findall(s))) for s in self.sentences]
        self._present = [set(words) for words in self._words]
        self._vocabulary = set().union(*self._present)
        self._by_stem: dict[str, set[str]] | None = None
        self._forms: dict[str, frozenset[str]] = {}
        self._tokens: list[list[tuple[int, int, str]]] | None = None   # when spans are asked

    def spans(self, words: Iterable[str]) -> list[list[tuple[int, int]]]:
        """For each sentence, the spans of these words and phrases (as highlight_spans)."""
        phrases = {_fold_phrase(phrase) for phrase in words}
        phrases.discard(())
        if self._tokens is None:
            self._tokens = [_tokens(sentence) for sentence in self.sentences]
        return [self._sentence_spans(tokens, number, phrases)
                for number, tokens in enumerate(self._tokens)]

    def counts(self, phrases: Iterable[tuple[str, ...]]) -> list[int]:
        """For each sentence, how many of these folded phrases spans() would mark in it.
        Words marked as they are (inflected=False) are counted with one set intersection
        per sentence, not one lookup per word and sentence."""
        phrases = [phrase for phrase in phrases if phrase]
        found = [0] * len(self.sentences)
        if not self._inflected:
            words = Counter(phrase[0] for phrase in phrases if len(phrase) == 1)
            phrases = [phrase for phrase in phrases if len(phrase) > 1]
            found = [sum(map(words.__getitem__, words.keys() & present))
                     for present in self._present]
        for phrase in phrases:
            for number in self.sentences_with(phrase):
                found[number] += 1
        return found

    def sentences_with(self, phrase: tuple[str, ...]) -> list[int]:
        """The numbers of the sentences in which spans() would mark the folded phrase."""
        if not phrase:
            return []
        forms = self._forms_of(phrase[0])
        having_first = [number for number, present in enumerate(self._present)
                        if not forms.isdisjoint(present)]
        if len(phrase) == 1:        # a sentence with one of its forms has the word
            return having_first
        return [number for number in having_first
                if next(self._starts(phrase, number), None) is not None]

    def _sentence_spans(self, tokens: list[tuple[int, int, str]], number: int,
                        phrases: set[tuple[str, ...]]) -> list[tuple[int, int]]:
        # Every occurrence as (first token, -length): sorted, the first start and at one start
        # the longest phrase comes first, which is the rule for overlaps.
        found = sorted((at, -len(phrase)) for phrase in phrases
                       for at in self._starts(phrase, number))
        spans: list[tuple[int, int]] = []
        position = 0
        for at, negative_length in found:
            if at >= position:
                position = at - negative_length
                spans.append((tokens[at][0], tokens[position - 1][1]))
        return spans

    def _starts(self, phrase: tuple[str, ...], number: int) -> Iterator[int]:
        """The token positions in sentence `number` where the folded phrase begins."""
        first, *rest = [self._forms_of(word) for word in phrase]
        if first.isdisjoint(self._present[number]):    # as for most phrases
            return
        words = self._words[number]
        for at in range(len(words) - len(rest)):
            if words[at] in first and all(
                    words[at + 1 + k] in forms for k, forms in enumerate(rest)):
                yield at

    def _forms_of(self, word: str) -> frozenset[str]:
        found = self._forms.get(word)
        if found is None and not self._inflected:
            found = self._forms[word] = frozenset({word} & self._vocabulary)
        elif found is None:
            if self._by_stem is None:
                self._by_stem = {}
                if self._stemmer is not None:
                    listed = sorted(self._vocabulary)
                    for token, stem in zip(listed, self._stemmer.stemWords(listed), strict=True):
                        self._by_stem.setdefault(stem, set()).add(token)
            found = self._forms[word] = _forms_of(word, self._vocabulary, self._by_stem,
                                                  self._stemmer)
        return found


# --- sentences ------------------------------------------------------------------------------------

# Abbreviations that never end a sentence (compared without case). Single letters ("z. B.",
# "J. R. R.", "т. е.", "г.") and dotted forms ("U.S.", "e.g.", "z.B.") are recognised by shape.
# Words that often end a sentence ("etc.", "usw.") or are words too ("Max.", "им.") are not
# listed: after them a capital letter starts a new sentence.
_ABBREVIATIONS_WRITTEN = {
    "de": "Dr Prof Hr Fr Frl Hrsg bzw ca vgl ggf evtl ebd inkl exkl zzgl Mio Mrd Tsd Nr St "
          "Str Tel Abs Kap Bd Jh Jhd bspw sog ehem geb gest verh Abb Anm Ziff Jan Feb Mär Apr Jun "
          "Jul Aug Sep Sept Okt Nov Dez allg betr bzgl gem gegr insb Dipl Ing Gebr mind Pfr",
    "en": "Mr Mrs Ms Dr Prof Sr Jr St Mt Ft vs Inc Ltd Co Corp Bros Gen Gov Sen Rep Rev Lt Col Sgt "
          "Capt Cmdr Adm Maj Supt Hon Pres Jan Feb Mar Apr Jun Jul Aug Sep Sept Oct Nov Dec Ave "
          "Blvd Rd approx dept Univ Assn al cf",
    "ru": "гг вв ул пр просп пл кв корп стр обл руб коп млн млрд тыс др см рис напр проф "
          "акад доц канд гр нач зам ген тов илл",
    "fr": "Mme Mlle Mgr Dr Pr env chap av apr hab",
    "es": "Sr Sra Srta Dr Dra Ud Uds pág núm aprox Avda",
    "pl": "np tzw ul al prof dr hab inż godz tys mln mld ok nr wg ds św",
}
_ABBREVIATIONS = {lang: frozenset(w.casefold() for w in words.split())
                  for lang, words in _ABBREVIATIONS_WRITTEN.items()}
_ANY_ABBREVIATION = frozenset("dr prof mr mrs ms st nr".split())
# Before a number these do not end a sentence either: "Nr. 5", "Art. 3", "S. 12", "No. 1".
_BEFORE_NUMBER = frozenset("nr no nos art abs kap bd vol abb fig tab ziff rn rz jg p pp s".split())
# Languages that write ordinal numbers with a dot: "3. Liga", "am 13. September".
_ORDINAL_DOT = frozenset("de pl cs sk hu fi da no nb nn is et lv sl hr sr bs tr".split())
_MONTHS = frozenset(
    "januar jänner februar märz april mai juni juli august september oktober november dezember "
    "jan feb mär apr jun jul aug sep sept okt nov dez".split()
)

_OPENERS = "\"'„“”«»‚‘‹›([{¿¡–—-"
# Terminal punctuation, then any closing quotes or brackets, then whitespace.
_CANDIDATE = re.compile(r"([.!?…؟]+)([\"'“”«»’‘‹›)\]}]*)(?=\s)")
# Scripts that end sentences without a following space (Chinese, Japanese, Hindi, Burmese).
_CANDIDATE_NO_SPACE = re.compile(r"[。！？।॥။]+[」』”’）)\"']*")
_NEXT = re.compile(r"\s*[\"'„“”«»‚‘‹›(\[{¿¡–—-]*\s*(\w+)?")
_LONG_QUOTATION = 300
_QUOTE = re.compile(r"[„“”«»\"]")
_TERMINAL = ".!?…؟。！？।॥။"
_CLOSING = "\"'“”«»’‘‹›)]}」』）"


def split_sentences(text: str, language: str) -> list[str]:
    """The sentences of a text, in order; paragraphs (lines) never share a sentence."""
    return [sentence for _, sentence in _sentences(_paragraphs(text), language_or_und(language))]


def _paragraphs(text: str) -> list[str]:
    """Non-empty lines; a line that stops mid-sentence is joined with a next one in lower case."""
    paragraphs: list[str] = []
    for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        line = " ".join(line.split())
        if not line:
            if paragraphs and paragraphs[-1]:
                paragraphs.append("")
            continue
        previous = paragraphs[-1] if paragraphs else ""
        if previous and line[0].islower() and not _ends_complete(previous) \
                and not previous.endswith(":"):
            paragraphs[-1] = f"{previous} {line}"
        else:
            paragraphs.append(line)
    return [p for p in paragraphs if p]


def _sentences(paragraphs: list[str], language: str) -> list[tuple[int, str]]:
    """(paragraph number, sentence) for every sentence of the paragraphs."""
    result: list[tuple[int, str]] = []
    for number, paragraph in enumerate(paragraphs):
        result.extend((number, sentence) for sentence in _split_paragraph(paragraph, language))
    return result


def _ends_complete(sentence: str) -> bool:
    """Ends like a whole sentence: terminal punctuation (maybe inside quotes) or a closing quote."""
    bare = sentence.rstrip(_CLOSING)
    return bool(bare) and (bare[-1] in _TERMINAL or bare != sentence and sentence[-1] in "“”«»\"")


def _split_paragraph(paragraph: str, language: str) -> list[str]:
    quoted = _quoted_spans(paragraph)
    cuts = [m.end() for m in _CANDIDATE.finditer(paragraph)
            if _ends_sentence(paragraph, m, language, quoted)]
    cuts += [m.end() for m in _CANDIDATE_NO_SPACE.finditer(paragraph)
             if not _inside(quoted, m.end())]
    sentences: list[str] = []
    start = 0
    for cut in sorted(set(cuts)) + [len(paragraph)]:
        sentence = paragraph[start:cut].strip()
        if sentence:
            sentences.append(sentence)
        start = cut
    return sentences


def _quoted_spans(paragraph: str) -> list[tuple[int, int]]:
    """(opening, closing) positions of the outermost quotations; none when quotes do not pair up.

    Longer quotations (speeches, statements) are left out, so they are split into their sentences.

    Whether a quote mark opens or closes is read from its neighbours (like Markdown's flanking
    rule), which works for „…“, »…«, «…», “…” and "…" alike.
    """
    spans: list[tuple[int, int]] = []
    depth = 0
    opened_at = 0
    for m in _QUOTE.finditer(paragraph):
        at = m.start()
        before = paragraph[at - 1] if at else " "
        after = paragraph[at + 1] if at + 1 < len(paragraph) else " "
        can_open = (m.group() == "„"
                    or (before.isspace() or before in _OPENERS) and not after.isspace())
        can_close = m.group() != "„" and not before.isspace() and (
            after.isspace() or not after.isalnum())
        if can_close and (depth > 0 or not can_open):
            if depth == 0:
                return []
            depth -= 1
            if depth == 0 and at - opened_at <= _LONG_QUOTATION:
                spans.append((opened_at, at))
        elif can_open:
            if depth == 0:
                opened_at = at
            depth += 1
    return spans if depth == 0 else []


def _inside(spans: list[tuple[int, int]], position: int) -> bool:
    return any(start < position <= end for start, end in spans)


def _ends_sentence(paragraph: str, m: re.Match[str], language: str,
                   quoted: list[tuple[int, int]]) -> bool:
    """Whether the terminal punctuation matched by `m` really ends a sentence."""
    if _inside(quoted, m.end()):
        return False
    after = _NEXT.match(paragraph, m.end())        # it matches the empty string too
    following = (after.group(1) if after else None) or ""
    if following[:1].islower():
        return False
    if m.group(1) != ".":
        return True
    token = paragraph[paragraph.rfind(" ", 0, m.start()) + 1:m.start()].lstrip(_OPENERS)
    if following[:1].isdigit():
        return not (token.isdigit() or token.casefold() in _BEFORE_NUMBER
                    or _is_abbreviation(token, language))
    if token.isdigit():
        if following.casefold() in _MONTHS:
            return False
        return not (language in _ORDINAL_DOT and len(token) <= 3)
    return not _is_abbreviation(token, language)


def _is_abbreviation(token: str, language: str) -> bool:
    if len(token) == 1:
        return token.isalpha()
    if "." in token:  # "U.S", "z.B", "e.g", "m.in": short letter groups joined by dots
        return all(0 < len(part) <= 3 and part.isalpha() for part in token.split("."))
    folded = token.casefold()
    return folded in _ANY_ABBREVIATION or folded in _ABBREVIATIONS.get(language, ())


# --- summaries ------------------------------------------------------------------------------------

# Boilerplate, matched on the lower-cased sentence: bylines, agency and photo credits anywhere in
# it; link teasers ("Lesen Sie auch", "Read more") and credit lines ("Foto: …") at its start.
_BOILERPLATE_ANYWHERE = re.compile(
    r"""zu\s+diesem\s+(?:bericht|artikel|beitrag)\s+beigetragen
    | contributed\s+(?:reporting\s+)?to\s+this\s+(?:report|story|article)
    | \bmit\s+material\s+(?:von|der|des|aus)\b
    | (?:reporting|editing|writing)\s+by\b
    | getty\s*images | picture\s+alliance | imago\s+images | shutterstock | unsplash | \(\s*foto\b
    | \bap\s+photo\b
    | © | alle\s+rechte\s+vorbehalten | all\s+rights\s+reserved
    | (?:sign\s+up|subscribe)\b.{0,40}\bnewsletter | newsletter\s+abonnieren
    | folgen\s+sie\s+uns | follow\s+us\b""",
    re.VERBOSE,
)
_BOILERPLATE_START = re.compile(
    r"""\W*(?:lesen\s+sie\s+(?:auch|mehr|hier|weiter) | mehr\s+(?:zum\s+thema|dazu|lesen)
    | auch\s+interessant | weiterlesen | weitere\s+informationen
    | das\s+k[öo]nnte\s+sie\s+(?:auch\s+)?interessieren
    | read\s+(?:more|also|next) | see\s+also | related | more\s+on\s+this | recommended
    | читайте\s+также | подробнее | смотрите\s+также | (?:à\s+)?lire\s+aussi
    | lea\s+también | leer\s+más
    | (?:foto|bild|bilder|titelbild|bildquelle|photo|photograph|image|picture|credit|фото|quelle
       |source|copyright)s?\b[^.!?]{0,40}?(?::|\bby\b))""",
    re.VERBOSE,
)
_MIN_CASED_LETTERS = 12
_SHORT_PARAGRAPH = 300
_CAPS_SHARE = 0.7

_STOPWORDS = frozenset(fold_text(w) for w in """
    der die das den dem des ein eine einer eines einem einen und oder aber auch als am an auf aus
    bei
    bis da dass daß du er es sie wir ihr ich im in ist sind war waren wird werden wurde wurden hat
    haben hatte hatten sein seine seiner seinen ihre ihren ihrem mit nach nicht noch nur ob so um
    über von vor wie zu zum zur sich man mehr schon sehr doch dann wenn weil was wer wo dies diese
    dieser dieses diesem diesen kann können soll sollen muss müssen will hier dort heute jetzt
    the a an and or but of to in on at for from by with as is are was were be been being has have
    had it its this that these those he she they we you his her their our not no yes will would
    can could
    said says also more than about after before into over under up out all so if which who what when
    и в во не на с со по к ко у о об от до из за для что это как а но же ли бы он она оно они мы вы
    я его ее её их был была было были быть есть так также уже еще ещё при под над между то этот
    эта эти
    le la les un une des du de et ou en dans sur pour par avec est sont pas que qui il elle ils au
    aux
    el los las y o en por para con es son no que se su sus al lo del una uno como
""".split())


@dataclass
class _Candidate:
    position: int
    text: str
    terms: frozenset[str]


def summarize(title: str, text: str, language: str, *, highlight: Iterable[str] = (),
              inflected: bool = True, max_sentences: int = 3) -> Summary:
    """Two or three sentences of the article that say what it is about, in article order.

    Sentences with the `highlight` words (a rule's words, or with `inflected=False` the
    article's own words that it matched, as highlight_spans) are preferred. A third sentence
    is added only while the summary stays short (about 500 characters); a single long sentence is
    kept whole, the caller decides about length. Empty text, or text that is all boilerplate,
    gives an empty summary.
    """
    lang = language_or_und(language)
    paragraphs = _paragraphs(text)
    sentences = _sentences(paragraphs, lang)
    teasers = {number for number, paragraph in enumerate(paragraphs) if _is_teaser(paragraph)}
    if len(teasers) == len(paragraphs):  # a text all in capitals: then capitals say nothing
        teasers = set()
    # A short paragraph with a credit in it is a caption or a credit line as a whole.
    # A sentence can hold a credit only where its paragraph does: one search per paragraph.
    with_credit = {number for number, paragraph in enumerate(paragraphs)
                   if _BOILERPLATE_ANYWHERE.search(paragraph.lower())}
    credits = {number for number in with_credit if len(paragraphs[number]) <= _SHORT_PARAGRAPH}
    usable = [(i, s) for i, (number, s) in enumerate(sentences)
              if number not in teasers and number not in credits
              and not _is_boilerplate(s, number in with_credit)]
    title_terms = _terms(title, lang)
    candidates = [_Candidate(i, s, _terms(s, lang)) for i, s in usable]
    complete = [c for c in candidates
                if _ends_complete(c.text) and len(c.terms) >= 3
                and _overlap(c.terms, title_terms) < 0.8]
    candidates = complete or candidates
    if not candidates or max_sentences < 1:
        return Summary([])

    phrases = [p for p in highlight if _WORD.search(p)]
    scores = _scores(candidates, title_terms, phrases, lang, inflected)
    ranked = sorted(range(len(candidates)), key=lambda i: -scores[i])
    chosen: list[_Candidate] = []
    length = 0
    for i in ranked:
        candidate = candidates[i]
        if len(chosen) == max_sentences:
            break
        if len(chosen) >= 2 and length + len(candidate.text) > _SHORT_SUMMARY:
            continue
        if any(_overlap(candidate.terms, other.terms) >= 0.5 for other in chosen):
            continue
        chosen.append(candidate)
        length += len(candidate.text)
    chosen.sort(key=lambda c: c.position)
    return Summary([c.text for c in chosen])


_SHORT_SUMMARY = 500
_WEIGHT_POSITION = 0.5
_WEIGHT_CENTRALITY = 0.5
_WEIGHT_HIGHLIGHT = 1.0
_TITLE_BONUS = 2


def _scores(candidates: list[_Candidate], title_terms: frozenset[str], phrases: list[str],
            language: str, inflected: bool) -> list[float]:
    """Position + centrality + share of the highlight phrases a sentence contains."""
    document = Counter(term for c in candidates for term in c.terms)
    for term in title_terms:
        document[term] += _TITLE_BONUS
    centrality = [
        sum(document[t] - 1 for t in c.terms) / math.sqrt(len(c.terms)) if c.terms else 0.0
        for c in candidates
    ]
    top = max(centrality) or 1.0
    # A phrase counts when highlight_spans would mark it in the sentence.
    found = [0] * len(candidates)
    if phrases:
        found = Highlighter([c.text for c in candidates], language=language,
                            inflected=inflected).counts(map(_fold_phrase, phrases))
    scores = []
    for rank, central in enumerate(centrality):        # one per candidate
        score = _WEIGHT_POSITION / (1 + rank / 3) + _WEIGHT_CENTRALITY * central / top
        if phrases:
            score += _WEIGHT_HIGHLIGHT * found[rank] / len(phrases)
        scores.append(score)
    return scores


def _forms_of(word: str, vocabulary: set[str], by_stem: dict[str, set[str]],
              stemmer: Stemmer.Stemmer | None) -> frozenset[str]:
    """The words of `vocabulary` that are forms of the folded `word`: the word itself, the
    word plus or minus one of _ENDINGS (the shorter one at least _MIN_STEM letters), and
    (with a stemmer, both longer than _MIN_STEM) the words of its stem; found by lookups,
    not by comparing every pair."""
    found = {word} & vocabulary
    if len(word) >= _MIN_STEM:
        found.update(t for t in (word + ending for ending in _ENDINGS) if t in vocabulary)
    found.update(t for t in (word[:-len(ending)] for ending in _ENDINGS if word.endswith(ending))
                 if len(t) >= _MIN_STEM and t in vocabulary)
    if stemmer is not None and len(word) > _MIN_STEM:
        found.update(t for t in by_stem.get(stemmer.stemWord(word), ()) if len(t) > _MIN_STEM)
    return frozenset(found)


def _terms(text: str, language: str) -> frozenset[str]:
    """The content words of a text as stems: no stop words, numbers or one-letter words."""
    table = _term_table(language)
    return frozenset(chain.from_iterable(
        map(table.__getitem__, _WORD.findall(unicodedata.normalize("NFKC", text)))))


class _TermTable(dict[str, tuple[str, ...]]):
    """word as written → its terms (usually one stem; none for a stop word or a number), so
    that a word is folded and stemmed once, not once per sentence it is in: summaries of
    many articles fold and stem the same few thousand words. Bounded."""

    LIMIT = 200_000

    def __init__(self, stemmer: Stemmer.Stemmer | None):
        super().__init__()
        self.stemmer = stemmer

    def __missing__(self, word: str) -> tuple[str, ...]:
        if len(self) >= self.LIMIT:
            self.clear()
        kept = [w for w in _WORD.findall(fold_text(word))
                if len(w) > 1 and not w.isdigit() and w not in _STOPWORDS]
        found = self[word] = tuple(self.stemmer.stemWords(kept) if self.stemmer else kept)
        return found


@cache
def _term_table(language: str) -> _TermTable:
    return _TermTable(stemmer(language))


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def _is_boilerplate(sentence: str, may_hold_credit: bool) -> bool:
    lowered = sentence.lower()
    return bool(may_hold_credit and _BOILERPLATE_ANYWHERE.search(lowered)
                or _BOILERPLATE_START.match(lowered))


def _is_teaser(paragraph: str) -> bool:
    """A short paragraph mostly in capitals: in news pages, the headline of another story."""
    if len(paragraph) > _SHORT_PARAGRAPH:
        return False
    upper = sum(map(str.isupper, paragraph))
    lower = sum(map(str.islower, paragraph))
    return upper + lower >= _MIN_CASED_LETTERS and upper >= _CAPS_SHARE * (upper + lower)
