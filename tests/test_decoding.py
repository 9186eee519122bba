"""Decoding on hand-made scores: BIO-valid spans, candidate pairs, relation decisions."""
import random

import numpy as np
import pytest

from rasd.inference.decoding import candidate_pairs, decode_relations, decode_spans, viterbi_bio

TAGS = ["O", "B-GPE", "I-GPE", "B-FORCE", "I-FORCE"]
WORDS = [(0, 3), (4, 7), (8, 11), (12, 15)]


def scores(rows):
    """Log-probabilities from a preferred tag per word (0.9 on it, the rest spread)."""
    out = np.full((len(rows), len(TAGS)), np.log(0.1 / (len(TAGS) - 1)), dtype=np.float32)
    for i, tag in enumerate(rows):
        out[i, TAGS.index(tag)] = np.log(0.9)
    return out


def test_viterbi_never_emits_inside_without_its_begin():
    # greedy argmax would give O I-GPE I-FORCE ...: invalid twice
    path = [TAGS[i] for i in viterbi_bio(scores(["O", "I-GPE", "I-FORCE", "O"]), TAGS)]
    for prev, cur in zip(["O"] + path, path):
        if cur.startswith("I-"):
            assert prev in (f"B-{cur[2:]}", cur)


def test_valid_paths_are_kept_and_spans_read_words():
    spans = decode_spans(scores(["B-FORCE", "I-FORCE", "O", "B-GPE"]), WORDS, TAGS)
    assert [(s.start, s.end, s.label) for s in spans] == [(0, 7, "FORCE"), (12, 15, "GPE")]
    assert all(s.score == pytest.approx(0.9) for s in spans)


def test_empty_input():
    assert decode_spans(np.zeros((0, len(TAGS)), dtype=np.float32), [], TAGS) == []
    assert viterbi_bio(np.zeros((0, len(TAGS))), TAGS).shape == (0,)


def test_relation_decoding_thresholds_and_no_relation():
    classes = ["NONE", "AGENT", "TIME"]
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4]])
    assert decode_relations(probs, [(0, 1), (1, 0), (2, 0)], classes) == [(1, 0, "AGENT", 0.8), (2, 0, "TIME", 0.4)]
    assert decode_relations(probs, [(0, 1), (1, 0), (2, 0)], classes, threshold=0.5) == [(1, 0, "AGENT", 0.8)]
    assert decode_relations(np.zeros((0, 3)), [], classes) == []


def _brute_force(schema, labels, sentences, starts, ends, max_sentences, max_subtokens):
    return [(i, j) for i in range(len(labels)) for j in range(len(labels))
            if i != j and schema.can_relate(labels[i], labels[j]) and abs(sentences[i] - sentences[j]) <= max_sentences
            and max(starts[i], starts[j]) - min(ends[i], ends[j]) <= max_subtokens]


@pytest.mark.parametrize("seed", range(10))
def test_candidate_pairs_equal_the_brute_force_definition(schema, seed):
    rng = random.Random(seed)
    n = rng.randint(0, 50)
    labels = [rng.choice(schema.span_labels) for _ in range(n)]
    starts = sorted(rng.sample(range(600), n))
    ends = [s + rng.randint(0, 3) for s in starts]
    sentences = sorted(rng.randint(0, 6) for _ in range(n))
    for max_sentences in (0, 1, 2):
        got = candidate_pairs(labels, sentences, starts, ends, schema, max_sentences, 40)
        assert got == _brute_force(schema, labels, sentences, starts, ends, max_sentences, 40)
        assert all(i != j for i, j in got)  # no self-pairs
        assert all(schema.can_relate(labels[i], labels[j]) for i, j in got)


def test_candidate_pairs_include_both_directions_when_allowed(schema):
    labels = ["GPE", "GPE"]  # LOCATED_IN may go either way
    assert candidate_pairs(labels, [0, 0], [0, 5], [2, 7], schema, 0, 128) == [(0, 1), (1, 0)]
    assert candidate_pairs(["TIME", "WEAPON"], [0, 0], [0, 5], [2, 7], schema, 0, 128) == []


def _linear_window_for(enc, head, tail):
    lo, hi = min(head.first_word, tail.first_word), max(head.last_word, tail.last_word)
    fallback = None
    for wi, win in enumerate(enc.windows):
        w = win.window
        if w.first <= lo and hi < w.last:
            if w.core_first <= head.first_word < w.core_last:
                return wi
            fallback = wi if fallback is None else fallback
    return fallback


@pytest.mark.parametrize("seed", range(5))
def test_window_index_equals_a_scan_of_all_windows(seed):
    from rasd.inference.alignment import make_windows
    from rasd.inference.decoding import DecodedSpan, WindowIndex
    from rasd.inference.encoding import EncodedDocument, EncodedWindow

    rng = random.Random(seed)
    for _ in range(40):
        counts = [rng.randint(1, 5) for _ in range(rng.randint(1, 300))]
        windows = make_windows(counts, 40, rng.randint(0, 30))
        enc = EncodedDocument([(0, 1)] * len(counts), [0] * len(counts), [EncodedWindow(w, [], [], []) for w in windows])
        find = WindowIndex(enc)
        for _ in range(30):
            a, c = rng.randrange(len(counts)), rng.randrange(len(counts))
            head = DecodedSpan(0, 1, "X", a, min(len(counts) - 1, a + rng.randint(0, 3)), 1.0)
            tail = DecodedSpan(0, 1, "X", c, min(len(counts) - 1, c + rng.randint(0, 3)), 1.0)
            assert find(head, tail) == _linear_window_for(enc, head, tail)
