"""Training features: documents → encoder windows with word tags, gold spans and span pairs."""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import numpy as np
import torch

from rasd.inference.alignment import IGNORE_INDEX, spans_to_word_tags
from rasd.inference.config import RasdConfig
from rasd.inference.decoding import candidate_pairs, pair_features
from rasd.inference.documents import Document
from rasd.inference.encoding import pad_model_inputs, word_input_arrays


logger = logging.getLogger(__name__)


@dataclass
class WindowFeatures:
    doc_id: str
    input_ids: list[int]
    word_starts: list[int]  # first subtoken of each window word
    word_ends: list[int]  # last subtoken of each window word
    labels: list[int]  # tag id of each window word
    word_inputs: dict = field(default_factory=dict)  # encoding.word_input_arrays of the window's words
    span_bounds: list[tuple[int, int]] = field(default_factory=list)  # first and last word, window positions
    span_labels: list[int] = field(default_factory=list)
    span_words: list[int] = field(default_factory=list)
    pairs: list[tuple[int, int]] = field(default_factory=list)
    pair_features: list[list[int]] = field(default_factory=list)
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
    featurizer = definition.featurizer if definition.uses_word_inputs else None
    chars = bool(definition.options.char_embedding_size)
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
        firsts = [word_of_start[s.start] for s in aligned]
        lasts = [word_of_end[s.end] for s in aligned]
        index_of = {id(s): k for k, s in enumerate(aligned)}
        gold = {(id(r.head), id(r.tail)): rel2id[r.label] for r in doc.relations if r.label in rel2id}
        stats.relations += len(gold)
        placed: set[tuple[int, int]] = set()
        for wi, win in enumerate(enc.windows):
            w = win.window
            feat = WindowFeatures(doc.id, win.input_ids, win.word_start, win.word_end,
                                  [tag2id[t] for t in tags[w.first:w.last]],
                                  word_input_arrays(enc.window_forms(wi), featurizer, chars))
            inside = [k for k, s in enumerate(aligned) if w.first <= firsts[k] and lasts[k] < w.last]
            for k in inside:
                feat.span_bounds.append((firsts[k] - w.first, lasts[k] - w.first))
                feat.span_labels.append(label_index[aligned[k].label])
                feat.span_words.append(firsts[k])
            if len(inside) > 1 and schema.has_relations:
                starts = [win.word_start[firsts[k] - w.first] for k in inside]
                ends = [win.word_end[lasts[k] - w.first] for k in inside]
                cands = candidate_pairs([aligned[k].label for k in inside], [enc.sentences[firsts[k]] for k in inside],
                                        starts, ends, schema, config.relation_max_sentences,
                                        config.relation_max_subtokens)
                positives, negatives = [], []
                for h, t in cands:
                    key = (id(aligned[inside[h]]), id(aligned[inside[t]]))
                    (positives if key in gold else negatives).append((h, t))
                # gold pairs the candidate rule would never propose still teach the head
                local = {k: n for n, k in enumerate(inside)}
                cand_set = set(cands)
                for (hk, tk), _ in gold.items():
                    h, t = local.get(index_of.get(hk, -1)), local.get(index_of.get(tk, -1))
                    if h is not None and t is not None and (h, t) not in cand_set:
                        positives.append((h, t))
                keep = max(min_negatives, int(negatives_per_positive * len(positives)))
                if len(negatives) > keep:
                    negatives = rng.sample(negatives, keep)
                for h, t in positives:
                    placed.add((id(aligned[inside[h]]), id(aligned[inside[t]])))
                chosen = sorted(positives + negatives)
                doc_pairs = [(inside[h], inside[t]) for h, t in chosen]
                pair_rows = pair_features([s.label for s in aligned], [enc.sentences[f] for f in firsts], firsts, lasts,
                                          schema, doc_pairs)
                for (h, t), row in zip(chosen, pair_rows.tolist()):
                    feat.pairs.append((h, t))
                    feat.pair_features.append(row)
                    feat.pair_labels.append(gold.get((id(aligned[inside[h]]), id(aligned[inside[t]])), 0))
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


@dataclass(frozen=True)
class WordDropout:
    """Replaces a share of the training words by the unknown token (every subtoken of the word,
    and its hashed word-form feature), so the model learns to tag words it has never seen from
    their letters and context. Drawn from (seed, epoch, batch), so a resumed run drops the same words."""

    rate: float
    unk_id: int
    word_feature_slot: int | None = None  # column of the "word" feature in feature_ids, if the model has one

    def apply(self, batch: Sequence[WindowFeatures], inputs: dict[str, torch.Tensor], key: Sequence[int]) -> None:
        generator = np.random.default_rng(list(key))
        for i, f in enumerate(batch):
            dropped = np.flatnonzero(generator.random(len(f.word_starts)) < self.rate)
            for j in dropped.tolist():
                inputs["input_ids"][i, f.word_starts[j]:f.word_ends[j] + 1] = self.unk_id
            if self.word_feature_slot is not None and len(dropped):
                inputs["feature_ids"][i, torch.from_numpy(dropped), self.word_feature_slot] = 0


def collate(batch: Sequence[WindowFeatures], pad_id: int, dropout: WordDropout | None = None,
            key: Sequence[int] = (0,)) -> dict[str, torch.Tensor]:
    """Pad a batch to its own longest window (dynamic padding); ``dropout`` drops words, drawn from ``key``."""
    inputs = {k: torch.from_numpy(v) for k, v in pad_model_inputs(
        [(f.input_ids, f.word_starts, f.word_inputs) for f in batch], pad_id).items()}
    if dropout is not None and dropout.rate > 0:
        dropout.apply(batch, inputs, key)
    b = len(batch)
    width = inputs["word_starts"].size(1)
    n_spans = max(1, max(len(f.span_labels) for f in batch))
    n_pairs = max(len(f.pairs) for f in batch)
    out = {
        **inputs,
        "labels": torch.full((b, width), IGNORE_INDEX, dtype=torch.long),
        "span_bounds": torch.zeros((b, n_spans, 2), dtype=torch.long),
        "span_labels": torch.zeros((b, n_spans), dtype=torch.long),
        "span_words": torch.zeros((b, n_spans), dtype=torch.long),
        "pairs": torch.zeros((b, n_pairs, 2), dtype=torch.long),
        "pair_features": torch.zeros((b, n_pairs, 4), dtype=torch.long),
        "pair_labels": torch.full((b, n_pairs), IGNORE_INDEX, dtype=torch.long),
    }
    for i, f in enumerate(batch):
        out["labels"][i, :len(f.labels)] = torch.tensor(f.labels)
        if f.span_labels:
            k = len(f.span_labels)
            out["span_bounds"][i, :k] = torch.tensor(f.span_bounds)
            out["span_labels"][i, :k] = torch.tensor(f.span_labels)
            out["span_words"][i, :k] = torch.tensor(f.span_words)
        if f.pairs:
            k = len(f.pairs)
            out["pairs"][i, :k] = torch.tensor(f.pairs)
            out["pair_features"][i, :k] = torch.tensor(f.pair_features)
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
                    skip: int = 0, dropout: WordDropout | None = None,
                    key: Sequence[int] = (0,)) -> Iterator[dict[str, torch.Tensor]]:
    """Collated batches from ``skip`` on; batch ``b`` drops its words with ``key + (b,)``."""
    for b in range(skip, len(batches)):
        yield collate([features[i] for i in batches[b]], pad_id, dropout, tuple(key) + (b,))
