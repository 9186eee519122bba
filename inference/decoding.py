"""Scores → structure, as pure functions: BIO-valid span decoding (constrained Viterbi), the
candidate span pairs the relation head scores, relation decoding, and which window scores a pair.

The prediction pipeline that calls them (``ExtractorBase``) is ``rasd.inference.pipeline``.
Numpy only: no torch.
"""
from __future__ import annotations

import bisect

from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence

import numpy as np

from .alignment import word_tags_to_spans
from .encoding import EncodedDocument
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


@dataclass(frozen=True)
class TagTransitions:
    """Learned tag transition scores of a linear-chain CRF (``RasdModel.crf``), as numpy arrays."""

    transitions: np.ndarray  # [previous tag, current tag]
    start: np.ndarray  # [tag] score of starting a document with the tag
    end: np.ndarray  # [tag] score of ending one with it

    @classmethod
    def from_lists(cls, raw: dict) -> "TagTransitions":
        return cls(*(np.asarray(raw[k], dtype=np.float32) for k in ("transitions", "start", "end")))

    def to_lists(self) -> dict:
        return {"transitions": self.transitions.tolist(), "start": self.start.tolist(), "end": self.end.tolist()}


def _moves(tags: Sequence[str], learned: TagTransitions | None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(transitions, start, end)``: the BIO constraints (0/-inf), plus the learned scores if any."""
    allowed, start = _transitions(tuple(tags))
    if learned is None:
        return allowed, start, np.zeros(len(tags), dtype=np.float32)
    return allowed + learned.transitions, start + learned.start, learned.end


def viterbi_bio(log_probs: np.ndarray, tags: Sequence[str], learned: TagTransitions | None = None) -> np.ndarray:
    """Best tag path under the BIO constraints; ``log_probs`` is [words, tags] (CRF emissions
    with ``learned`` transitions)."""
    n = log_probs.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    allowed, start, end = _moves(tags, learned)
    score = log_probs[0] + start
    back = np.zeros((n, len(tags)), dtype=np.int64)
    for t in range(1, n):
        # note: the loop is over words, each step is one vectorised [tags, tags] max
        cand = score[:, None] + allowed
        back[t] = cand.argmax(axis=0)
        score = cand[back[t], np.arange(len(tags))] + log_probs[t]
    score = score + end
    path = np.empty(n, dtype=np.int64)
    path[-1] = int(score.argmax())
    for t in range(n - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return path


def crf_marginals(emissions: np.ndarray, tags: Sequence[str], learned: TagTransitions) -> np.ndarray:
    """Per-word tag probabilities ``[words, tags]`` of a linear-chain CRF (forward-backward):
    the confidence of a decoded tag, where a plain tagger uses its softmax.

    Run in probability space with each step rescaled to sum 1 (a matrix-vector product a word,
    not a [tags, tags] log-sum-exp): a word's marginals are its forward times its backward
    vector, normalised, so the per-step scales cancel."""
    n = emissions.shape[0]
    if n == 0:
        return np.zeros((0, len(tags)), dtype=np.float32)
    trans, start, end = (a.astype(np.float64) for a in _moves(tags, learned))
    em = emissions.astype(np.float64)
    em = np.exp(em - em.max(axis=1, keepdims=True))
    moves = np.exp(trans - np.max(trans[np.isfinite(trans)], initial=0.0))
    alpha = np.empty_like(em)
    beta = np.empty_like(em)
    a = np.exp(start - np.max(start[np.isfinite(start)], initial=0.0)) * em[0]
    alpha[0] = a / max(a.sum(), _TINY)
    for t in range(1, n):
        a = (alpha[t - 1] @ moves) * em[t]
        alpha[t] = a / max(a.sum(), _TINY)
    b = np.exp(end - np.max(end[np.isfinite(end)], initial=0.0))
    beta[-1] = b / max(b.sum(), _TINY)
    for t in range(n - 2, -1, -1):
        b = moves @ (em[t + 1] * beta[t + 1])
        beta[t] = b / max(b.sum(), _TINY)
    joint = alpha * beta
    return (joint / np.maximum(joint.sum(axis=1, keepdims=True), _TINY)).astype(np.float32)


_TINY = 1e-300


def viterbi_bio_batch(log_probs: Sequence[np.ndarray], tags: Sequence[str], group: int = 64,
                      learned: TagTransitions | None = None) -> list[np.ndarray]:
    """``viterbi_bio`` of many documents at once (the same paths, ties broken the same way).

    Documents of similar length go in groups and each step over word positions is vectorised
    over a group, so the Python loop runs once per position of a group's longest document, not
    once per word. A step costs O(tags), not O(tags²): a tag any tag may follow takes the best
    previous score; only I- tags look at their few allowed predecessors.
    """
    if learned is not None:
        # learned transitions score every move, so each step is a full [tags, tags] max
        return [viterbi_bio(lp, tags, learned) for lp in log_probs]
    out = [np.zeros(0, dtype=np.int64) for _ in log_probs]
    order = sorted((i for i, lp in enumerate(log_probs) if len(lp)), key=lambda i: len(log_probs[i]))
    if not order:
        return out
    allowed, start = _transitions(tuple(tags))
    n_tags = len(tags)
    free = np.flatnonzero((allowed == 0).all(axis=0))  # tags reachable from every tag
    bound = np.flatnonzero(~(allowed == 0).all(axis=0))  # tags with a restricted set of predecessors
    width_prev = max((int((allowed[:, j] == 0).sum()) for j in bound), default=0)
    # predecessors of each restricted tag in increasing order (argmax keeps the first maximum),
    # padded with a sentinel column of -inf scores
    prev = np.full((len(bound), max(width_prev, 1)), n_tags, dtype=np.int64)
    for r, j in enumerate(bound):
        ok = np.flatnonzero(allowed[:, j] == 0)
        prev[r, :len(ok)] = ok
    for g in range(0, len(order), group):
        members = order[g:g + group]
        lengths = np.array([len(log_probs[i]) for i in members])
        width = int(lengths.max())
        dtype = np.result_type(*(log_probs[i].dtype for i in members), allowed.dtype)
        lp = np.zeros((len(members), width, n_tags), dtype=dtype)
        for k, i in enumerate(members):
            lp[k, :lengths[k]] = log_probs[i]
        rows = np.arange(len(members))
        score = lp[:, 0] + start
        back = np.zeros((len(members), width, n_tags), dtype=np.int64)
        padded = np.full((len(members), n_tags + 1), -np.inf, dtype=dtype)
        for t in range(1, width):
            best_prev = score.argmax(axis=1)
            step = np.empty_like(score)
            step[:, free] = score[rows, best_prev][:, None]
            back[:, t, free] = best_prev[:, None]
            if len(bound):
                padded[:, :n_tags] = score
                cand = padded[:, prev]  # [docs, restricted tags, predecessors]
                pick = cand.argmax(axis=2)
                step[:, bound] = np.take_along_axis(cand, pick[:, :, None], axis=2)[:, :, 0]
                chosen = prev[np.arange(len(bound)), pick]
                # a tag no predecessor can reach scores -inf; viterbi_bio then points back at tag 0
                back[:, t, bound] = np.where(np.isneginf(step[:, bound]), 0, chosen)
            step += lp[:, t]
            score = np.where((t < lengths)[:, None], step, score)  # a finished document keeps its scores
        path = np.zeros((len(members), width), dtype=np.int64)
        path[rows, lengths - 1] = score.argmax(axis=1)
        for t in range(width - 1, 0, -1):
            live = t < lengths
            path[live, t - 1] = back[live, t, path[live, t]]
        for k, i in enumerate(members):
            out[i] = path[k, :lengths[k]].copy()
    return out


def decode_spans(log_probs: np.ndarray, words: Sequence[tuple[int, int]], tags: Sequence[str],
                 path: np.ndarray | None = None, learned: TagTransitions | None = None) -> list[DecodedSpan]:
    """Spans of one document from per-word tag log-probabilities, or CRF emissions with
    ``learned`` transitions (constrained Viterbi; ``path`` when it is already known, e.g. from
    ``viterbi_bio_batch``). A span's score is the mean probability of its words' tags."""
    if path is None:
        path = viterbi_bio(log_probs, tags, learned)
    names = [tags[i] for i in path]
    probs = crf_marginals(log_probs, tags, learned) if learned is not None else np.exp(log_probs)
    chosen = probs[np.arange(len(path)), path] if len(path) else np.zeros(0)
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
    ``max_sentences`` sentences and ``max_subtokens`` subtokens apart.

    Pairs are only formed between a sentence and the ``max_sentences`` after it, so the cost
    grows with the document's length, not with the square of its span count.
    """
    n = len(labels)
    if n < 2 or not schema.has_relations:
        return []
    index = {l: i for i, l in enumerate(schema.span_labels)}
    table = np.asarray(schema.relatable_matrix, dtype=bool)
    lab = np.array([index[l] for l in labels])
    sent = np.asarray(sentences)
    st, en = np.asarray(starts), np.asarray(ends)
    order = np.argsort(sent, kind="stable")
    keys = sent[order]
    pairs = []
    for s in np.unique(keys):
        here = order[np.searchsorted(keys, s, "left"):np.searchsorted(keys, s, "right")]
        near = order[np.searchsorted(keys, s, "left"):np.searchsorted(keys, s + max_sentences, "right")]
        later = near[len(here):]
        # (this sentence → this and later sentences) and (later sentences → this sentence)
        for heads, tails in ((here, near), (later, here)):
            if len(heads) == 0 or len(tails) == 0:
                continue
            ok = table[lab[heads][:, None], lab[tails][None, :]]
            gap = np.maximum(st[heads][:, None], st[tails][None, :]) - np.minimum(en[heads][:, None], en[tails][None, :])
            ok &= gap <= max_subtokens
            ok &= heads[:, None] != tails[None, :]
            h, t = np.nonzero(ok)
            pairs += zip(heads[h].tolist(), tails[t].tolist())
    return sorted(pairs)


def pair_features(labels: Sequence[str], sentences: Sequence[int], first_words: Sequence[int],
                  last_words: Sequence[int], schema: Schema, pairs: Sequence[tuple[int, int]]) -> np.ndarray:
    """What an argument decision needs beside the two spans' vectors, per pair ``[pairs, 4]`` (int64):

    0. the sentence gap, tail minus head, clipped to -2..2 (stored +2);
    1. how many trigger spans stand strictly between the two (0..3+): an argument usually
       belongs to the nearest trigger;
    2. the tail's nearness rank: how many spans with the tail's label are nearer the head (0..3+);
    3. the head's nearness rank: how many spans with the head's label are nearer the tail (0..3+).

    Spans are a document's (gold or predicted), so training and prediction see the same features.
    """
    if len(pairs) == 0:
        return np.zeros((0, 4), dtype=np.int64)
    h, t = np.asarray(pairs, dtype=np.int64).T
    sent = np.asarray(sentences, dtype=np.int64)
    first = np.asarray(first_words, dtype=np.int64)
    last = np.asarray(last_words, dtype=np.int64)
    label_ids = np.unique(np.asarray(labels), return_inverse=True)[1]
    trigger = np.array([schema.is_trigger(l) for l in labels], dtype=bool)
    out = np.empty((len(h), 4), dtype=np.int64)
    out[:, 0] = np.clip(sent[t] - sent[h], -2, 2) + 2
    left, right = np.minimum(last[h], last[t]), np.maximum(first[h], first[t])
    inside = (first[None, :] > left[:, None]) & (last[None, :] < right[:, None])  # [pairs, spans]
    out[:, 1] = np.minimum((inside & trigger[None, :]).sum(axis=1), 3)

    def gap(a: np.ndarray) -> np.ndarray:  # words between span a[k] and every span: [pairs, spans]
        return np.maximum(first[None, :] - last[a][:, None], first[a][:, None] - last[None, :])

    spans = np.arange(len(labels))
    for column, anchor, other in ((2, h, t), (3, t, h)):
        distance = gap(anchor)
        nearer = (distance < distance[np.arange(len(h)), other][:, None]) & (label_ids[None, :] == label_ids[other][:, None])
        nearer &= (spans[None, :] != anchor[:, None]) & (spans[None, :] != other[:, None])
        out[:, column] = np.minimum(nearer.sum(axis=1), 3)
    return out


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


def span_subtoken_positions(enc: EncodedDocument, spans: Sequence[DecodedSpan]) -> tuple[list[int], list[int]]:
    """Document-level positions of each span's first and last subtoken (for the distance rule)."""
    counts = np.zeros(len(enc.words) + 1, dtype=np.int64)
    for win in enc.windows:
        w = win.window
        counts[w.first + 1:w.last + 1] = np.asarray(win.word_end) - np.asarray(win.word_start) + 1
    cum = np.cumsum(counts)
    return [int(cum[s.first_word]) for s in spans], [int(cum[s.last_word + 1]) - 1 for s in spans]


class WindowIndex:
    """Finds the window that scores a pair in O(log windows): cores partition the words and
    window starts and ends only grow, so both lookups are binary searches."""

    def __init__(self, enc: EncodedDocument) -> None:
        self.windows = [w.window for w in enc.windows]
        self.core_firsts = [w.core_first for w in self.windows]
        self.lasts = [w.last for w in self.windows]

    def __call__(self, head: DecodedSpan, tail: DecodedSpan) -> int | None:
        """The window whose core holds the head, if it contains both spans; else the first window
        that contains both; None when no window does."""
        lo, hi = min(head.first_word, tail.first_word), max(head.last_word, tail.last_word)
        k = bisect.bisect_right(self.core_firsts, head.first_word) - 1
        if k >= 0 and self.windows[k].first <= lo and hi < self.windows[k].last:
            return k
        i = bisect.bisect_right(self.lasts, hi)  # the first window that reaches past ``hi``
        if i < len(self.windows) and self.windows[i].first <= lo:
            return i
        return None


def window_for(enc: EncodedDocument, head: DecodedSpan, tail: DecodedSpan) -> int | None:
    """The window that scores one pair (see ``WindowIndex``)."""
    return WindowIndex(enc)(head, tail)


__all__ = ["DecodedSpan", "OUTSIDE", "TagTransitions", "crf_marginals", "pair_features", "WindowIndex", "candidate_pairs", "decode_relations", "decode_spans",
           "span_subtoken_positions", "viterbi_bio", "viterbi_bio_batch", "window_for"]
