"""Text → words → subtokens → encoder windows, the same way for training and inference."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache, partial
from typing import Sequence

import numpy as np

from .alignment import Window, make_windows
from .text import NormalizationOptions, normalize_word, sentence_ids, split_sentences, split_words


@dataclass
class EncodedWindow:
    window: Window
    input_ids: list[int]
    word_start: list[int]  # per window word: position of its first subtoken in input_ids
    word_end: list[int]  # per window word: position of its last subtoken

    def core_positions(self) -> tuple[slice, slice]:
        """The document words this window answers for, and their positions among the window's words."""
        w = self.window
        return slice(w.core_first, w.core_last), slice(w.core_first - w.first, w.core_last - w.first)


@dataclass
class EncodedDocument:
    words: list[tuple[int, int]]  # character ranges in the caller's text
    sentences: list[int]  # sentence index of every word
    windows: list[EncodedWindow]
    forms: list[str] = field(default_factory=list)  # every word as the model reads it (normalised)

    def window_forms(self, index: int) -> list[str]:
        w = self.windows[index].window
        return self.forms[w.first:w.last]


class DocumentEncoder:
    """Cuts text into the package's words and packs their subtokens into overlapping windows."""

    def __init__(self, tokenizer, max_length: int = 512, stride: int = 128, word_splitter: str = "arabic",
                 normalization: NormalizationOptions | None = None) -> None:
        if not getattr(tokenizer, "is_fast", True):
            raise ValueError("rasd needs a fast (Rust) tokenizer; load it with AutoTokenizer(..., use_fast=True)")
        self.tokenizer = tokenizer
        self.max_length = max_length
        self.stride = stride
        self.word_splitter = word_splitter
        self.normalization = normalization
        self.cls_id, self.sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
        self.unk_id = tokenizer.unk_token_id
        self.specials = (self.cls_id is not None) + (self.sep_id is not None)
        # News text repeats its words, so normalising each distinct form once saves a character loop per word.
        self._normalize = lru_cache(maxsize=1 << 16)(partial(normalize_word, options=normalization))
        self._backend = _backend_copy(tokenizer)

    def encode_document(self, doc) -> EncodedDocument:
        """Encode a ``Document`` (its words are ``definition.words_of``: one converted from CoNLL
        keeps its own tokens, so predicted spans line up with its gold)."""
        from .definition import words_of

        return self.encode(doc.text, words_of(doc, self.word_splitter))

    def encode(self, text: str, words: list[tuple[int, int]] | None = None) -> EncodedDocument:
        if words is None:
            words = split_words(text, self.word_splitter)
        sentences = sentence_ids(words, split_sentences(text))
        if not words:
            return EncodedDocument([], [], [], [])
        forms = [self._normalize(text[s:e]) for s, e in words]
        pieces = self._pieces(forms)
        # A word the tokenizer drops entirely still needs one position to carry its label.
        pieces = [p if p else [self.unk_id] for p in pieces]
        budget = self.max_length - self.specials
        pieces = [p[:budget] for p in pieces]
        windows = []
        for w in make_windows([len(p) for p in pieces], budget, min(self.stride, budget - 1)):
            ids = [self.cls_id] if self.cls_id is not None else []
            starts, ends = [], []
            for i in range(w.first, w.last):
                starts.append(len(ids))
                ids.extend(pieces[i])
                ends.append(len(ids) - 1)
            if self.sep_id is not None:
                ids.append(self.sep_id)
            windows.append(EncodedWindow(w, ids, starts, ends))
        return EncodedDocument(words, sentences, windows, forms)

    def _pieces(self, forms: list[str]) -> list[list[int]]:
        """Subtoken ids of every word, each word tokenized on its own."""
        if self._backend is not None:
            # the Rust tokenizer directly: the same ids as ``tokenizer(forms)`` without building a
            # Python encoding object per word (a third of the time of encoding a document)
            return [e.ids for e in self._backend.encode_batch(forms, add_special_tokens=False)]
        return self.tokenizer(forms, add_special_tokens=False)["input_ids"]


def _backend_copy(tokenizer):
    """A private copy of a fast tokenizer's Rust ``tokenizers.Tokenizer`` with truncation and
    padding off (transformers changes them on the shared one per call), or None."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or not hasattr(backend, "to_str"):
        return None
    try:
        copy = type(backend).from_str(backend.to_str())
        copy.no_truncation()
        copy.no_padding()
    except Exception:  # an exotic backend: fall back to the tokenizer's own __call__
        return None
    return copy


def window_batches(encoded: Sequence[EncodedDocument], batch_size: int) -> list[list[tuple[int, int]]]:
    """``(document, window)`` pairs in batches of ``batch_size``, longest windows first, so a
    batch holds windows of similar length and padding stays small."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    jobs = [(di, wi) for di, e in enumerate(encoded) for wi in range(len(e.windows))]
    jobs.sort(key=lambda j: -len(encoded[j[0]].windows[j[1]].input_ids))
    return [jobs[b:b + batch_size] for b in range(0, len(jobs), batch_size)]


def pad_windows(rows: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """``input_ids`` and ``attention_mask`` (int64, ``[rows, longest]``) of a batch of windows."""
    width = max(len(r) for r in rows)
    ids = np.full((len(rows), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(rows), width), dtype=np.int64)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = r
        mask[i, :len(r)] = 1
    return ids, mask


def word_input_arrays(forms: Sequence[str], featurizer=None, chars: bool = False) -> dict[str, np.ndarray]:
    """What a ``WordFeaturizer`` reads from a window's words: ``char_ids [W, max_chars]`` (when
    ``chars``; always that wide, so a word's vector never depends on the words batched beside it)
    and ``feature_ids [W, slots]`` (when it has feature kinds)."""
    out: dict[str, np.ndarray] = {}
    if featurizer is None:
        return out
    if chars:
        char_ids = np.zeros((len(forms), featurizer.max_chars), dtype=np.int64)
        for j, form in enumerate(forms):
            ids = featurizer.chars(form)
            char_ids[j, :len(ids)] = ids
        out["char_ids"] = char_ids
    if featurizer.slots:
        out["feature_ids"] = np.array([featurizer.features(f) for f in forms], dtype=np.int64).reshape(
            len(forms), featurizer.slots)
    return out


def pad_model_inputs(rows: Sequence[tuple[Sequence[int], Sequence[int], dict[str, np.ndarray]]],
                     pad_id: int) -> dict[str, np.ndarray]:
    """The padded int64 inputs of a batch of windows, each ``(input_ids, word_starts,
    word_input_arrays)``: ``input_ids``/``attention_mask [B, T]``, ``word_starts``/``word_mask
    [B, W]`` (each word's first subtoken) and the word arrays padded to ``[B, W, ...]``."""
    ids, mask = pad_windows([r[0] for r in rows], pad_id)
    n_words = max(1, max(len(r[1]) for r in rows))
    out = {"input_ids": ids, "attention_mask": mask,
           "word_starts": np.zeros((len(rows), n_words), dtype=np.int64),
           "word_mask": np.zeros((len(rows), n_words), dtype=np.int64)}
    for i, (_, starts, _) in enumerate(rows):
        out["word_starts"][i, :len(starts)] = starts
        out["word_mask"][i, :len(starts)] = 1
    for name in rows[0][2]:
        width = rows[0][2][name].shape[1:]
        out[name] = np.zeros((len(rows), n_words) + width, dtype=np.int64)
        for i, (_, _, arrays) in enumerate(rows):
            out[name][i, :len(arrays[name])] = arrays[name]
    return out


def model_inputs(windows: Sequence[tuple[Sequence[int], Sequence[int], Sequence[str]]], pad_id: int,
                 featurizer=None, chars: bool = False) -> dict[str, np.ndarray]:
    """``pad_model_inputs`` of windows given as ``(input_ids, word_starts, forms)``: what both
    extractors feed the network (training precomputes the same ``word_input_arrays``)."""
    return pad_model_inputs([(ids, starts, word_input_arrays(forms, featurizer, chars))
                             for ids, starts, forms in windows], pad_id)
