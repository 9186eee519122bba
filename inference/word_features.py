"""What a word's letters say, as model inputs: character ids for the char-CNN and hashed ids of
the features a feature CRF lives on.

A tagger that learns from a few thousand sentences meets most names for the first time at test
time; it can still read them from their letters (affixes, the stem under the clitics, the
shape) and from the gazetteers the geocoder indexes (``rasd.inference.geocoding``: towns,
divisions and countries with Arabic names, from packages). Both inputs are computed from the word alone, without any
vocabulary: characters map to fixed ids by code point and features are hashed into
``buckets``, so a saved model needs no lists beside its weights and the same function serves
training, the torch extractor and the torch-free ONNX extractor.
"""
from __future__ import annotations

import re
import zlib
from functools import lru_cache
from typing import Mapping, Sequence

from .text import clitic_readings, fold, stem_guess

# The kinds of hashed features a model may switch on (``ModelOptions.word_features``).
FEATURE_KINDS = ("word", "affixes", "stem", "shape", "gazetteer", "lexicon")
_SLOTS = {"word": 1, "affixes": 6, "stem": 3, "shape": 1, "gazetteer": 2, "lexicon": 1}

# Character ids: 0 pads, Arabic letters and marks by code point, printable ASCII by code point,
# anything else hashed into a small range.
_ARABIC_BASE, _ARABIC_SIZE = 1, 256  # U+0600..U+06FF
_ASCII_BASE, _ASCII_SIZE = _ARABIC_BASE + _ARABIC_SIZE, 95  # U+0020..U+007E
_OTHER_BASE, _OTHER_SIZE = _ASCII_BASE + _ASCII_SIZE, 64
CHAR_VOCAB_SIZE = _OTHER_BASE + _OTHER_SIZE
_DIGIT = re.compile(r"\d")


def char_id(ch: str) -> int:
    cp = ord(ch)
    if 0x0600 <= cp <= 0x06FF:
        return _ARABIC_BASE + cp - 0x0600
    if 0x20 <= cp <= 0x7E:
        return _ASCII_BASE + cp - 0x20
    return _OTHER_BASE + cp % _OTHER_SIZE


def word_shape(form: str) -> str:
    """Digits, Latin, punctuation or Arabic, with the Arabic word's length (capped at 10)."""
    if not form:
        return "empty"
    if _DIGIT.search(form):
        return "number" if re.fullmatch(r"[\d.,٫٬]+", form) else "digits"
    if re.search("[A-Za-z]", form):
        return "latin"
    if not re.search(r"\w", form):
        return f"punct{form[:1]}"
    return f"ar{min(len(form), 10)}"


class WordFeaturizer:
    """Character ids and hashed feature ids of a word's normalised form (cached per form)."""

    def __init__(self, kinds: Sequence[str] = (), buckets: int = 1 << 16, max_chars: int = 24,
                 lexicon: Mapping[str, Sequence[str]] | None = None) -> None:
        unknown = set(kinds) - set(FEATURE_KINDS)
        if unknown:
            raise ValueError(f"unknown word features {sorted(unknown)}; known: {list(FEATURE_KINDS)}")
        if buckets < 2:
            raise ValueError(f"feature_buckets must be at least 2, not {buckets}")
        self.kinds = tuple(k for k in FEATURE_KINDS if k in kinds)
        self.buckets = buckets
        self.max_chars = max_chars
        self.slots = sum(_SLOTS[k] for k in self.kinds)
        if "lexicon" in self.kinds and not lexicon:
            raise ValueError("the lexicon word feature needs a lexicon (model.lexicon or model.lexicon_file)")
        self.lexicon = Lexicon(lexicon or {})
        self.chars = lru_cache(maxsize=1 << 16)(self._chars)
        self.features = lru_cache(maxsize=1 << 16)(self._features)

    def _chars(self, form: str) -> tuple[int, ...]:
        """Ids of the first ``max_chars`` characters (a long word keeps its first and last letters)."""
        if len(form) > self.max_chars:
            half = self.max_chars // 2
            form = form[:half] + form[len(form) - (self.max_chars - half):]
        return tuple(char_id(c) for c in form.lower())

    def _features(self, form: str) -> tuple[int, ...]:
        """One hashed id per slot of every enabled kind."""
        if not self.kinds:
            return ()
        folded = _DIGIT.sub("0", fold(form).lower())
        stem = stem_guess(folded)
        values: list[str] = []
        for kind in self.kinds:
            if kind == "word":
                values.append(f"w={folded}")
            elif kind == "affixes":
                values += [f"p{n}={folded[:n]}" for n in (1, 2, 3)] + [f"s{n}={folded[-n:]}" for n in (1, 2, 3)]
            elif kind == "stem":
                values += [f"stem={stem}", f"sp2={stem[:2]}", f"ss2={stem[-2:]}"]
            elif kind == "shape":
                values.append(f"shape={word_shape(folded)}")
            elif kind == "gazetteer":
                place, country = _gazetteer().word_membership(form)
                values += [f"place={place}", f"country={country}"]
            elif kind == "lexicon":
                values.append(f"lexicon={self.lexicon.label(folded) or 'no'}")
        return tuple(1 + zlib.crc32(v.encode("utf-8")) % (self.buckets - 1) for v in values)


class Lexicon:
    """Label -> words (``configs/lexicons/*.yaml``), matched on a word's stem: its clitic readings
    (``text.clitic_readings``), each also without a present-tense ي ت ن ا or a future س prefix,
    must start with an entry of three letters or more, or equal a shorter one. The longest
    entry wins; on a tie, the label listed first."""

    def __init__(self, words: Mapping[str, Sequence[str]]) -> None:
        self.entries: dict[str, str] = {}
        for label, entries in words.items():
            for entry in entries:
                self.entries.setdefault(fold(str(entry)).split()[0], label)
        self.lengths = sorted({len(e) for e in self.entries}, reverse=True)
        self.order = {entry: k for k, entry in enumerate(self.entries)}

    def label(self, folded: str) -> str | None:
        """The label of the entry the folded word matches, or None."""
        if not self.entries:
            return None
        stems = []
        for reading in clitic_readings(folded):
            future = [reading, reading[1:]] if len(reading) > 4 and reading[0] == "س" else [reading]
            for form in future:
                stems.append(form)
                if len(form) > 3 and form[0] in "يتنا":
                    stems.append(form[1:])
        best: tuple[int, int, str] | None = None  # (length, -order, label)
        for stem in stems:
            for n in self.lengths:
                if n > len(stem) or (n < 3 and n != len(stem)):
                    continue
                label = self.entries.get(stem[:n])
                if label is not None:
                    candidate = (n, -self.order[stem[:n]], label)
                    best = max(best, candidate) if best else candidate
                    break
        return best[2] if best else None


def read_lexicon(path: str) -> dict[str, list[str]]:
    """A lexicon YAML (label -> list of words), checked."""
    import yaml

    from .resources import resolve_path

    with open(resolve_path(path), encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    if not isinstance(raw, dict) or not all(isinstance(v, list) for v in raw.values()):
        raise ValueError(f"{path}: a lexicon is a mapping of label -> list of words")
    return {str(label): [str(w) for w in words] for label, words in raw.items()}


def _gazetteer():
    from .geocoding import default_gazetteer  # the geocoder's index: one home for place names

    return default_gazetteer()


__all__ = ["CHAR_VOCAB_SIZE", "FEATURE_KINDS", "Lexicon", "WordFeaturizer", "char_id", "read_lexicon", "word_shape"]
