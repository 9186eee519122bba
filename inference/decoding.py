"""Tensor → structure: BIO-valid span decoding, candidate span pairs and relation decoding."""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from .alignment import word_tags_to_spans
from .schema import NO_RELATION, OUTSIDE, Schema


@dataclass(frozen=True)
class DecodedSpan:
    start: int  # character offsets into the document
    end: int
    label: str
    first_word: int
    last_word: int
    score: float


@lru_cache(maxsize=16)
def _transitions(tags: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Allowed previous→current moves (I-X only after B-X or I-X) and allowed first tags, as 0/-inf."""
    n = len(tags)
    allowed = np.zeros((n, n), dtype=np.float32)
    start = np.zeros(n, dtype=np.float32)
    for j, cur in enumerate(tags):
        if cur.startswith("I-"):
            start[j] = -np.inf
            label = cur[2:]
            for i, prev in enumerate(tags):
                if prev not in (f"B-{label}", f"I-{label}"):
                    allowed[i, j] = -np.inf
    return allowed, start


def viterbi_bio(log_probs: np.ndarray, tags: Sequence[str]) -> np.ndarray:
    """Best tag path under the BIO constraints; ``log_probs`` is [words, tags]."""
    n = log_probs.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    allowed, start = _transitions(tuple(tags))
    score = log_probs[0] + start
    back = np.zeros((n, len(tags)), dtype=np.int64)
    for t in range(1, n):
        # note: the loop is over words, each step is one vectorised [tags, tags] max
        cand = score[:, None] + allowed
        back[t] = cand.argmax(axis=0)
        score = cand[back[t], np.arange(len(tags))] + log_probs[t]
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(score.argmax())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def decode_spans(log_probs: np.ndarray, words: Sequence[tuple[int, int]], tags: Sequence[str]) -> list[DecodedSpan]:
    """Spans of one document from per-word tag log-probabilities (constrained Viterbi)."""
    path = viterbi_bio(log_probs, tags)
    names = [tags[i] for i in path]
    chosen = np.exp(log_probs[np.arange(len(path)), path]) if len(path) else np.zeros(0)
    return [DecodedSpan(s, e, label, a, b, float(chosen[a:b + 1].mean()))
            for s, e, label, a, b in word_tags_to_spans(words, names)]


def candidate_pairs(
    labels: Sequence[str],
    sentences: Sequence[int],
    starts: Sequence[int],
    ends: Sequence[int],
    schema: Schema,
    max_sentences: int,
    max_subtokens: int,
) -> list[tuple[int, int]]:
    """Ordered span pairs the relation head scores: allowed by the type rules, at most
    ``max_sentences`` sentences and ``max_subtokens`` subtokens apart (so cost grows linearly)."""
    n = len(labels)
    if n < 2 or not schema.has_relations:
        return []
    names = schema.span_labels
    index = {l: i for i, l in enumerate(names)}
    table = np.zeros((len(names), len(names)), dtype=bool)
    for i, h in enumerate(names):
        for j, t in enumerate(names):
            table[i, j] = schema.can_relate(h, t)
    lab = np.array([index[l] for l in labels])
    sent = np.asarray(sentences)
    st, en = np.asarray(starts), np.asarray(ends)
    ok = table[lab[:, None], lab[None, :]]
    ok &= np.abs(sent[:, None] - sent[None, :]) <= max_sentences
    gap = np.maximum(st[:, None], st[None, :]) - np.minimum(en[:, None], en[None, :])
    ok &= gap <= max_subtokens
    np.fill_diagonal(ok, False)
    heads, tails = np.nonzero(ok)
    return list(zip(heads.tolist(), tails.tolist()))


def decode_relations(
    probs: np.ndarray, pairs: Sequence[tuple[int, int]], classes: Sequence[str], threshold: float = 0.0
) -> list[tuple[int, int, str, float]]:
    """``(head, tail, label, score)`` for every pair whose most likely class is a relation (scoring at least ``threshold``)."""
    if len(pairs) == 0:
        return []
    best = probs.argmax(axis=-1)
    none = list(classes).index(NO_RELATION)
    out = []
    for k, (h, t) in enumerate(pairs):
        c = int(best[k])
        if c != none and probs[k, c] >= threshold:
            out.append((h, t, classes[c], float(probs[k, c])))
    return out


__all__ = ["DecodedSpan", "OUTSIDE", "candidate_pairs", "decode_relations", "decode_spans", "viterbi_bio"]
