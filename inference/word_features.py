"""What a word's letters say, as model inputs: character ids for the char-CNN and hashed ids of
the features a feature CRF lives on.

A tagger that learns from a few thousand sentences meets most names for the first time at test
time; it can still read them from their letters (affixes, the stem under the clitics, the
shape) and from gazetteers. Both inputs are computed from the word alone, without any
vocabulary: characters map to fixed ids by code point and features are hashed into
``buckets``, so a saved model needs no lists beside its weights and the same function serves
training, the torch extractor and the torch-free ONNX extractor.
"""
from __future__ import annotations

import re
import zlib
from functools import lru_cache
from typing import Sequence

from .gazetteers import country_names, gazetteer_form, name_words, place_names
from .text import clitic_readings, stem_guess

# The kinds of hashed features a model may switch on (``ModelOptions.word_features``).
FEATURE_KINDS = ("word", "affixes", "stem", "shape", "gazetteer")
_SLOTS = {"word": 1, "affixes": 6, "stem": 3, "shape": 1, "gazetteer": 2}

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

    def __init__(self, kinds: Sequence[str] = (), buckets: int = 1 << 16, max_chars: int = 24) -> None:
        unknown = set(kinds) - set(FEATURE_KINDS)
        if unknown:
            raise ValueError(f"unknown word features {sorted(unknown)}; known: {list(FEATURE_KINDS)}")
        if buckets < 2:
            raise ValueError(f"feature_buckets must be at least 2, not {buckets}")
        self.kinds = tuple(k for k in FEATURE_KINDS if k in kinds)
        self.buckets = buckets
        self.max_chars = max_chars
        self.slots = sum(_SLOTS[k] for k in self.kinds)
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
        folded = gazetteer_form(form).lower()
        folded = _DIGIT.sub("0", folded)
        readings = clitic_readings(folded)
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
                values.append(f"place={_membership(readings, place_names(), name_words('places'))}")
                values.append(f"country={_membership(readings, country_names(), name_words('countries'))}")
        return tuple(1 + zlib.crc32(v.encode("utf-8")) % (self.buckets - 1) for v in values)


def _membership(readings: list[str], names: frozenset[str], words: frozenset[str]) -> str:
    """``name`` when a clitic reading is a whole name, ``word`` when it is a word of one, else ``no``."""
    if any(r in names or ("ال" + r) in names for r in readings):
        return "name"
    if any(r in words for r in readings):
        return "word"
    return "no"


__all__ = ["CHAR_VOCAB_SIZE", "FEATURE_KINDS", "WordFeaturizer", "char_id", "word_shape"]
