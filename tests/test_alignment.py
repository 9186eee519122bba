"""Span ⇄ tag alignment and windows over long documents."""
import random

import pytest

from rasd.inference.alignment import first_subtoken_labels, make_windows, spans_to_word_tags, word_tags_to_spans
from rasd.inference.text import split_words


def test_spans_to_tags_and_back():
    text = "قال المرصد السوري إن 300 مقاتل انسحبوا من بلدة الصنمين"
    words = split_words(text)
    spans = [(4, 17, "ORG"), (21, 24, "NUM"), (25, 30, "FORCE"), (47, 54, "GPE")]
    tags, bad = spans_to_word_tags(words, spans)
    assert not bad
    assert tags[:3] == ["O", "B-ORG", "I-ORG"]
    assert [(s, e, l) for s, e, l, _, _ in word_tags_to_spans(words, tags)] == spans


def test_misaligned_spans_are_reported_not_shifted():
    text = "وقوات الجيش"
    tags, bad = spans_to_word_tags(split_words(text), [(1, 5, "FORCE")])
    assert tags == ["O", "O"] and bad[0].label == "FORCE"


def test_stray_inside_tag_opens_a_span():
    words = [(0, 1), (2, 3), (4, 5)]
    assert word_tags_to_spans(words, ["O", "I-LOC", "I-LOC"]) == [(2, 5, "LOC", 1, 2)]
    assert word_tags_to_spans(words, ["B-PER", "I-LOC", "O"]) == [(0, 1, "PER", 0, 0), (2, 3, "LOC", 1, 1)]


def test_first_subtoken_carries_the_label():
    assert first_subtoken_labels([None, 0, 0, 1, 2, 2, None], [5, 6, 7]) == [-100, 5, -100, 6, 7, -100, -100]


@pytest.mark.parametrize("seed", range(5))
def test_window_cores_partition_the_words(seed):
    rng = random.Random(seed)
    counts = [rng.randint(1, 6) for _ in range(rng.randint(1, 400))]
    windows = make_windows(counts, max_subtokens=30, stride=8)
    covered = []
    for w in windows:
        assert sum(counts[w.first:w.last]) <= 30
        assert w.first <= w.core_first <= w.core_last <= w.last
        covered += range(w.core_first, w.core_last)
    assert covered == list(range(len(counts)))


def test_20000_character_document_windowed_and_merged_without_loss_or_duplicates(tiny_tokenizer):
    from rasd.inference.decoding import decode_spans
    from rasd.inference.encoding import DocumentEncoder
    import numpy as np

    sentence = "قصفت المدفعية بلدة كفرنبل في ريف إدلب الجنوبي وقتل ثلاثة مدنيين. "
    text = (sentence * (20000 // len(sentence) + 1))[:20000]
    enc = DocumentEncoder(tiny_tokenizer, max_length=64, stride=16).encode(text)
    assert len(enc.windows) > 50
    # gold: every fourth word is a one-word GPE span; route its tag through the windows' cores
    words = enc.words
    tags = ["O", "B-GPE", "I-GPE"]
    gold = {i for i in range(0, len(words), 4)}
    scores = np.full((len(words), 3), -20.0, dtype=np.float32)
    filled = np.zeros(len(words), dtype=int)
    for win in enc.windows:
        w = win.window
        for i in range(w.core_first, w.core_last):
            scores[i, 1 if i in gold else 0] = 0.0
            filled[i] += 1
    assert (filled == 1).all()  # every word answered by exactly one window
    spans = decode_spans(scores, words, tags)
    assert [s.first_word for s in spans] == sorted(gold)
    assert all(text[s.start:s.end] == text[words[s.first_word][0]:words[s.first_word][1]] for s in spans)
