"""Training features: documents → encoder windows with word tags, gold spans and span pairs."""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import torch

from rasd.inference.alignment import IGNORE_INDEX, spans_to_word_tags
from rasd.inference.config import RasdConfig
from rasd.inference.decoding import candidate_pairs
from rasd.inference.documents import Document


logger = logging.getLogger(__name__)


@dataclass
class WindowFeatures:
    doc_id: str
    input_ids: list[int]
    labels: list[int]
    span_bounds: list[tuple[int, int]] = field(default_factory=list)
    span_labels: list[int] = field(default_factory=list)
    span_words: list[int] = field(default_factory=list)
    pairs: list[tuple[int, int]] = field(default_factory=list)
    pair_labels: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class FeatureStats:
    """What the limits of the model cost on gold data (reported, never silent)."""

    documents: int = 0
    windows: int = 0
    misaligned_spans: int = 0
    relations: int = 0
    relations_outside_candidates: int = 0
    relations_lost: int = 0  # gold relations whose spans are misaligned or never share a window


def build_features(docs: Sequence[Document], tokenizer, config: RasdConfig, negatives_per_positive: float = 4.0,
                   min_negatives: int = 8, seed: int = 0) -> tuple[list[WindowFeatures], FeatureStats]:
    """Features of every window of every document, with relation negatives sampled deterministically."""
    schema = config.label_schema
    tag2id = config.label2id
    rel2id = config.relation_label2id
    label_index = {l: i for i, l in enumerate(schema.span_labels)}
    definition = config.definition
    encoder = definition.document_encoder(tokenizer)
    rng = random.Random(seed)
    stats = FeatureStats(documents=len(docs))
    features = []
    for doc in docs:
        words = definition.words_of(doc)
        enc = encoder.encode(doc.text, words)
        spans = sorted(doc.spans, key=lambda s: s.start)
        tags, misaligned = spans_to_word_tags(words, [(s.start, s.end, s.label) for s in spans])
        stats.misaligned_spans += len(misaligned)
        word_of_start = {s: i for i, (s, _) in enumerate(words)}
        word_of_end = {e: i for i, (_, e) in enumerate(words)}
        aligned = [s for s in spans if s.start in word_of_start and s.end in word_of_end]
        gold = {(id(r.head), id(r.tail)): rel2id[r.label] for r in doc.relations if r.label in rel2id}
        stats.relations += len(gold)
        placed: set[tuple[int, int]] = set()
        for win in enc.windows:
            w = win.window
            ids = win.input_ids
            labels = [IGNORE_INDEX] * len(ids)
            for j, i in enumerate(range(w.first, w.last)):
                labels[win.word_start[j]] = tag2id[tags[i]]
            inside = [s for s in aligned if w.first <= word_of_start[s.start] and word_of_end[s.end] < w.last]
            feat = WindowFeatures(doc.id, ids, labels)
            for s in inside:
                a, b = word_of_start[s.start] - w.first, word_of_end[s.end] - w.first
                feat.span_bounds.append((win.word_start[a], win.word_end[b]))
                feat.span_labels.append(label_index[s.label])
                feat.span_words.append(word_of_start[s.start])
            if len(inside) > 1 and schema.has_relations:
                cands = candidate_pairs([s.label for s in inside],
                                        [enc.sentences[word_of_start[s.start]] for s in inside],
                                        [b[0] for b in feat.span_bounds], [b[1] for b in feat.span_bounds], schema,
                                        config.relation_max_sentences, config.relation_max_subtokens)
                positives, negatives = [], []
                for h, t in cands:
                    key = (id(inside[h]), id(inside[t]))
                    (positives if key in gold else negatives).append((h, t))
                # gold pairs the candidate rule would never propose still teach the head
                index = {id(s): k for k, s in enumerate(inside)}
                cand_set = set(cands)
                for (hk, tk), _ in gold.items():
                    if hk in index and tk in index and (index[hk], index[tk]) not in cand_set:
                        positives.append((index[hk], index[tk]))
                keep = max(min_negatives, int(negatives_per_positive * len(positives)))
                if len(negatives) > keep:
                    negatives = rng.sample(negatives, keep)
                for h, t in positives:
                    placed.add((id(inside[h]), id(inside[t])))
                for h, t in sorted(positives + negatives):
                    feat.pairs.append((h, t))
                    feat.pair_labels.append(gold.get((id(inside[h]), id(inside[t])), 0))
            features.append(feat)
            stats.windows += 1
        for r in doc.relations:
            if (id(r.head), id(r.tail)) not in placed:
                stats.relations_lost += 1
        stats.relations_outside_candidates += _outside_candidates(doc, enc, words, config, schema)
    if stats.misaligned_spans:
        logger.warning("%d gold spans do not align with words and cannot be learned", stats.misaligned_spans)
    return features, stats


def _outside_candidates(doc, enc, words, config, schema) -> int:
    starts = {s: i for i, (s, _) in enumerate(words)}
    n = 0
    for r in doc.relations:
        h, t = starts.get(r.head.start), starts.get(r.tail.start)
        if h is None or t is None:
            continue
        if abs(enc.sentences[h] - enc.sentences[t]) > config.relation_max_sentences:
            n += 1
    return n


def collate(batch: Sequence[WindowFeatures], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad a batch to its own longest window (dynamic padding)."""
    b = len(batch)
    width = max(len(f) for f in batch)
    n_spans = max(1, max(len(f.span_labels) for f in batch))
    n_pairs = max(len(f.pairs) for f in batch)
    out = {
        "input_ids": torch.full((b, width), pad_id, dtype=torch.long),
        "attention_mask": torch.zeros((b, width), dtype=torch.long),
        "labels": torch.full((b, width), IGNORE_INDEX, dtype=torch.long),
        "span_bounds": torch.zeros((b, n_spans, 2), dtype=torch.long),
        "span_labels": torch.zeros((b, n_spans), dtype=torch.long),
        "span_words": torch.zeros((b, n_spans), dtype=torch.long),
        "pairs": torch.zeros((b, n_pairs, 2), dtype=torch.long),
        "pair_labels": torch.full((b, n_pairs), IGNORE_INDEX, dtype=torch.long),
    }
    for i, f in enumerate(batch):
        n = len(f)
        out["input_ids"][i, :n] = torch.tensor(f.input_ids)
        out["attention_mask"][i, :n] = 1
        out["labels"][i, :n] = torch.tensor(f.labels)
        if f.span_labels:
            k = len(f.span_labels)
            out["span_bounds"][i, :k] = torch.tensor(f.span_bounds)
            out["span_labels"][i, :k] = torch.tensor(f.span_labels)
            out["span_words"][i, :k] = torch.tensor(f.span_words)
        if f.pairs:
            k = len(f.pairs)
            out["pairs"][i, :k] = torch.tensor(f.pairs)
            out["pair_labels"][i, :k] = torch.tensor(f.pair_labels)
    return out


def length_grouped_order(lengths: Sequence[int], batch_size: int, seed: int, mega: int = 50) -> list[list[int]]:
    """Batches of similar length: shuffle, sort inside mega-batches, shuffle the batches."""
    rng = random.Random(seed)
    order = list(range(len(lengths)))
    rng.shuffle(order)
    batches = []
    step = batch_size * mega
    for m in range(0, len(order), step):
        chunk = sorted(order[m:m + step], key=lambda i: -lengths[i])
        batches += [chunk[k:k + batch_size] for k in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


def iterate_batches(features: Sequence[WindowFeatures], batches: Sequence[list[int]], pad_id: int,
                    skip: int = 0) -> Iterator[dict[str, torch.Tensor]]:
    for batch in batches[skip:]:
        yield collate([features[i] for i in batch], pad_id)
