"""Span ⇄ word-tag ⇄ subtoken alignment, and windows over long documents.

The one rule, used by training and inference alike: a span is a run of whole words; the first
subtoken of each word carries the word's BIO tag, the other subtokens carry -100 (ignored) and
take the word's tag at decoding.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from .schema import OUTSIDE

IGNORE_INDEX = -100


@dataclass(frozen=True)
class Misaligned:
    """A span whose boundaries fall inside a word (it cannot be expressed as word tags)."""

    start: int
    end: int
    label: str


def spans_to_word_tags(
    words: Sequence[tuple[int, int]],
    spans: Sequence[tuple[int, int, str]],
    first_tags: Sequence[str] = (),
) -> tuple[list[str], list[Misaligned]]:
    """BIO tags of ``words`` from character spans ``(start, end, label)``.

    ``first_tags`` optionally gives, per span, the tag prefix its first word had in a source
    file ("I" for a CoNLL span that began without B-), so conversions stay exact.
    Spans whose boundaries are not word boundaries are returned, not silently shifted.
    """
    tags = [OUTSIDE] * len(words)
    starts = {s: i for i, (s, _) in enumerate(words)}
    ends = {e: i for i, (_, e) in enumerate(words)}
    misaligned = []
    for k, (start, end, label) in enumerate(spans):
        first, last = starts.get(start), ends.get(end)
        if first is None or last is None or last < first:
            misaligned.append(Misaligned(start, end, label))
            continue
        prefix = first_tags[k] if k < len(first_tags) else "B"
        tags[first] = f"{prefix}-{label}"
        for i in range(first + 1, last + 1):
            tags[i] = f"I-{label}"
    return tags, misaligned


def word_tags_to_spans(
    words: Sequence[tuple[int, int]], tags: Sequence[str]
) -> list[tuple[int, int, str, int, int]]:
    """Spans ``(start, end, label, first_word, last_word)`` read from BIO tags.

    An ``I-`` tag that does not continue a span of its label opens one (as seqeval reads it),
    so no tagged word is ever lost.
    """
    spans = []
    cur_label, cur_first = None, -1
    for i, tag in enumerate(tags):
        prefix, label = (tag.split("-", 1) + [""])[:2] if tag != OUTSIDE else (OUTSIDE, "")
        continues = prefix == "I" and label == cur_label
        if cur_label is not None and not continues:
            spans.append((words[cur_first][0], words[i - 1][1], cur_label, cur_first, i - 1))
            cur_label = None
        if prefix in ("B", "I") and not continues:
            cur_label, cur_first = label, i
    if cur_label is not None:
        spans.append((words[cur_first][0], words[len(tags) - 1][1], cur_label, cur_first, len(tags) - 1))
    return spans


def first_subtoken_labels(word_ids: Sequence[int | None], word_labels: Sequence[int]) -> list[int]:
    """Label ids per subtoken: the word's label on its first subtoken, -100 elsewhere and on specials."""
    out, previous = [], None
    for wid in word_ids:
        if wid is None or wid == previous:
            out.append(IGNORE_INDEX)
        else:
            out.append(word_labels[wid])
        previous = wid
    return out


@dataclass(frozen=True)
class Window:
    """Words ``[first, last)`` of a document encoded together; ``core`` words are the ones it answers for."""

    first: int
    last: int
    core_first: int
    core_last: int


def make_windows(subtoken_counts: Sequence[int], max_subtokens: int, stride: int) -> list[Window]:
    """Cover words with windows of at most ``max_subtokens`` subtokens overlapping by about ``stride``.

    Every word belongs to the core of exactly one window (the one where it sits farthest from
    an edge), so predictions merged over cores lose and duplicate nothing.
    """
    if max_subtokens < 1:
        raise ValueError("max_subtokens must be positive")
    if stride >= max_subtokens:
        raise ValueError(f"stride ({stride}) must be smaller than the window ({max_subtokens} subtokens)")
    n = len(subtoken_counts)
    if n == 0:
        return []
    # A single word longer than the window is cut to the window by the tokenizer; count it as full.
    counts = [min(max(c, 1), max_subtokens) for c in subtoken_counts]
    spans: list[tuple[int, int]] = []
    first = 0
    while True:
        total, last = 0, first
        while last < n and total + counts[last] <= max_subtokens:
            total += counts[last]
            last += 1
        spans.append((first, last))
        if last >= n:
            break
        # step back over about ``stride`` subtokens so the next window overlaps this one
        back, nxt = 0, last
        while nxt > first + 1 and back + counts[nxt - 1] <= stride:
            nxt -= 1
            back += counts[nxt]
        first = nxt
    # the core boundary between two windows is the middle of their overlap
    cuts = [0] + [(spans[k + 1][0] + spans[k][1]) // 2 for k in range(len(spans) - 1)] + [n]
    return [Window(lo, hi, cuts[k], cuts[k + 1]) for k, (lo, hi) in enumerate(spans)]
