"""Arabic text handling, in one place: normalisation with an offset map, words and sentences.

Everything that looks at characters (training features, inference, pretraining masks, the
converters) goes through this module, so a word means the same thing everywhere.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, fields
from typing import Any

# Harakat, tanwin, shadda, sukun, dagger alef and Quranic marks: written sometimes, never needed to read a word.
_DIACRITICS = set(chr(c) for c in range(0x064B, 0x0660)) | {"\u0670"} | set(chr(c) for c in range(0x0610, 0x061B)) \
    | set(chr(c) for c in range(0x06D6, 0x06EE))
_TATWEEL = "\u0640"
_ALEF_VARIANTS = {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا"}
_ALEF_MAQSURA = {"ى": "ي"}
_TAA_MARBUTA = {"ة": "ه"}
_DIGITS = {**{chr(0x0660 + i): str(i) for i in range(10)}, **{chr(0x06F0 + i): str(i) for i in range(10)}}
_NUMBER_SEPARATORS = {"٬": ",", "٫": "."}  # Arabic thousands and decimal separators
# Zero-width and bidi controls that news feeds leave in; they carry no content.
_INVISIBLE = {"\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
              "\u2066", "\u2067", "\u2068", "\u2069", "\ufeff", "\u00ad"}

# Marks, tatweel and invisible controls belong to the word they sit in.
MARKS = "\u0610-\u061A\u064B-\u065F\u0670\u06D6-\u06ED\u0640\u00ad\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff"
# A word: a number with inner separators (2,000  و1.5  ١٬٥٠٠), or a run of letters, digits and marks
# (attached clitics stay in the word); any other visible character is a word of its own.
WORD_PATTERN = re.compile(rf"[\w{MARKS}]*\d(?:[.,٫٬]\d+)+|[\w{MARKS}]+|[^\s\w{MARKS}]", re.UNICODE)
_SENTENCE_END = re.compile(r"[.!?؟…]+(?=\s)|[.!?؟…]+$|\n")


@dataclass(frozen=True)
class NormalizationOptions:
    """Which folds ``normalize`` applies; each maps a character to at most one character."""

    diacritics: bool = True  # drop harakat, shadda, sukun, tanwin, dagger alef
    tatweel: bool = True  # drop the kashida ـ
    alef: bool = True  # أ إ آ ٱ -> ا
    alef_maqsura: bool = False  # ى -> ي
    taa_marbuta: bool = False  # ة -> ه
    digits: bool = True  # Arabic-Indic and Persian digits -> 0-9
    invisible: bool = True  # drop zero-width and bidi control characters

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> "NormalizationOptions":
        raw = dict(raw or {})
        known = {f.name for f in fields(cls)}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"unknown normalization options {sorted(unknown)}; known: {sorted(known)}")
        return cls(**raw)

    def to_dict(self) -> dict[str, bool]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class NormalizedText:
    """Normalised text with, for every normalised character, the index of its original character."""

    text: str
    original: str
    to_original: tuple[int, ...]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """Map ``[start, end)`` of the normalised text back to the original text.

        The end maps to the original position of the next kept character, so marks dropped
        after the last letter (a final shadda) stay inside the original span.
        """
        if start >= end:
            raise ValueError(f"empty span [{start}, {end})")
        o_start = self.to_original[start]
        o_end = self.to_original[end] if end < len(self.text) else len(self.original)
        # Trailing characters dropped before the next kept one are marks of the last letter,
        # except dropped white space, which never belongs to a span.
        while o_end > o_start + 1 and self.original[o_end - 1].isspace():
            o_end -= 1
        return o_start, o_end


def normalize(text: str, options: NormalizationOptions | None = None) -> NormalizedText:
    """Fold spelling variants and keep a map from every output character to the input."""
    opts = options or NormalizationOptions()
    drop = set()
    if opts.diacritics:
        drop |= _DIACRITICS
    if opts.tatweel:
        drop.add(_TATWEEL)
    if opts.invisible:
        drop |= _INVISIBLE
    table: dict[str, str] = {}
    if opts.alef:
        table.update(_ALEF_VARIANTS)
    if opts.alef_maqsura:
        table.update(_ALEF_MAQSURA)
    if opts.taa_marbuta:
        table.update(_TAA_MARBUTA)
    if opts.digits:
        table.update(_DIGITS)
    out, index = [], []
    for i, ch in enumerate(text):
        if ch in drop:
            continue
        out.append(table.get(ch, ch))
        index.append(i)
    return NormalizedText("".join(out), text, tuple(index))


# The comparison form: every spelling variant folded, so that lexicons match whatever the writer chose.
_FOLD_DROP = re.compile("[" + "".join(sorted(_DIACRITICS | _INVISIBLE | {_TATWEEL})) + "]")
_FOLD_TABLE = str.maketrans({**_ALEF_VARIANTS, **_ALEF_MAQSURA, **_TAA_MARBUTA, **_DIGITS, **_NUMBER_SEPARATORS})


def fold(text: str) -> str:
    """The comparison form of ``text``: no diacritics, tatweel or invisible controls; one alef (أ إ آ ٱ -> ا),
    ى -> ي, ة -> ه; ASCII digits, and ``٬``/``٫`` as ``,``/``.``.

    For matching words against lexicons and gazetteers, never for offsets (use ``normalize`` for those).
    """
    return _FOLD_DROP.sub("", text).translate(_FOLD_TABLE)


def clitic_readings(word: str) -> list[str]:
    """``word`` (folded) and what remains after peeling the proclitics و/ف, then ب/ل/ك, then the article ال
    (لل is ل + ال), most complete first: ``وبالحسكه`` gives ``وبالحسكه, بالحسكه, الحسكه, حسكه``.

    Every reading is a guess: a word that merely starts with these letters (فبراير, بضعه) yields readings
    too, so callers accept a reading only when it is a word they know (``strip_clitics``).
    """
    stems = [word]
    if word[:1] in ("و", "ف") and len(word) > 2:
        stems.append(word[1:])
    for stem in list(stems):
        if stem.startswith("لل") and len(stem) > 3:  # ل + ال contracts: للشهر = ل + الشهر
            stems.append("ال" + stem[2:])
        if stem[:1] in ("ب", "ل", "ك") and len(stem) > 2:
            stems.append(stem[1:])
    stems += [stem[2:] for stem in stems if stem.startswith("ال") and len(stem) > 3]
    return list(dict.fromkeys(stems))


def strip_clitics(word: str, known: "set[str] | dict[str, Any] | frozenset[str]") -> str:
    """The first reading of the folded ``word`` (``clitic_readings``) found in ``known``; else ``word``.

    Only readings that are known words are accepted, so a word that merely starts with one of these
    letters (فبراير, بضعة, كانون) is never cut.
    """
    return next((stem for stem in clitic_readings(word) if stem in known), word)


def stem_guess(word: str) -> str:
    """The most peeled reading of the folded ``word`` (``clitic_readings``), known word or not: a
    stem for features that have no lexicon to check against (وبالقوات -> قوات, بغداد -> غداد)."""
    return clitic_readings(word)[-1]


def phrase_readings(phrase: str) -> list[str]:
    """A folded multi-word name with the clitics of its first word peeled (``clitic_readings``) and the
    article on and off: ``والجيش السوري`` gives ``الجيش السوري``, ``جيش السوري`` …; ``حسكه`` gives ``الحسكه``."""
    first, _, rest = phrase.partition(" ")
    out: list[str] = []
    for reading in clitic_readings(first):
        out.append(f"{reading} {rest}".strip())
        if not reading.startswith("ال"):
            out.append(f"ال{reading} {rest}".strip())
    return list(dict.fromkeys(out))


def normalize_word(word: str, options: NormalizationOptions | None = None) -> str:
    """The normalised form of one word (what the tokenizer sees); never empty for a non-empty word."""
    folded = normalize(word, options).text
    # A word made only of dropped marks (a lone shadda or tatweel) must still reach the tokenizer
    # as something, so that every word keeps exactly one label.
    return folded or unicodedata.normalize("NFKC", word) or word


def split_words(text: str, mode: str = "arabic") -> list[tuple[int, int]]:
    """Character ranges of the words of ``text``.

    ``arabic``: punctuation split off, attached clitics kept (``وقوات`` is one word), numbers
    with separators kept whole. ``whitespace``: the text's own white-space tokens (CoNLL input).
    """
    if mode == "arabic":
        return [m.span() for m in WORD_PATTERN.finditer(text)]
    if mode == "whitespace":
        return [m.span() for m in re.finditer(r"\S+", text)]
    raise ValueError(f"unknown word splitter {mode!r}; use 'arabic' or 'whitespace'")


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character ranges of sentences: a sentence ends at . ! ? ؟ … (before white space) or a line break."""
    bounds, start = [], 0
    for m in _SENTENCE_END.finditer(text):
        end = m.end()
        if text[start:end].strip():
            bounds.append(_strip_range(text, start, end))
        start = end
    if text[start:].strip():
        bounds.append(_strip_range(text, start, len(text)))
    return bounds


def sentence_ids(words: list[tuple[int, int]], sentences: list[tuple[int, int]]) -> list[int]:
    """For every word, the index of the sentence it starts in."""
    out, s = [], 0
    for start, _ in words:
        while s + 1 < len(sentences) and start >= sentences[s + 1][0]:
            s += 1
        out.append(s)
    return out


def _strip_range(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
