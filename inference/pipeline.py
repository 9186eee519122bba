"""The prediction pipeline shared by every rasd extractor: documents → windows → batched word
scores → constrained Viterbi → candidate pairs → batched relation scores → documents (→ event
records).

``ExtractorBase`` is the backend-independent half of an extractor; the torch ``Extractor`` and
the ``OnnxExtractor`` implement only the two network calls, so both make the same decisions from
the same scores. The decisions themselves (Viterbi, spans, pairs, relation classes) are the pure
functions of ``rasd.inference.decoding``. Numpy only: no torch.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .decoding import (DecodedSpan, TagTransitions, WindowIndex, candidate_pairs, decode_relations, decode_spans,
                       pair_features, span_subtoken_positions, viterbi_bio_batch)
from .definition import ModelDefinition
from .documents import Document, Relation, Span
from .encoding import EncodedDocument, model_inputs, window_batches
from .schema import Schema

@dataclass
class RelationJob:
    """The pairs of one document scored in one of its windows, as relation-head inputs."""

    doc: int
    window: int
    pairs: list[tuple[int, int]]  # (head, tail) indices into the document's spans
    bounds: np.ndarray  # [spans, 2] first and last word of each member span, as positions in the window
    labels: np.ndarray  # [spans] span label index (schema.span_labels)
    words: np.ndarray  # [spans] document index of each span's first word
    local_pairs: np.ndarray  # [pairs, 2] indices into the member spans
    features: np.ndarray  # [pairs, 4] decoding.pair_features


def relation_jobs(doc_index: int, enc: EncodedDocument, spans: Sequence[DecodedSpan], schema: Schema,
                  label_index: dict[str, int], max_sentences: int, max_subtokens: int) -> list[RelationJob]:
    """Candidate pairs of one document, grouped by the window that scores them."""
    if len(spans) < 2:
        return []
    starts, ends = span_subtoken_positions(enc, spans)
    labels = [s.label for s in spans]
    sentences = [enc.sentences[s.first_word] for s in spans]
    pairs = candidate_pairs(labels, sentences, starts, ends, schema, max_sentences, max_subtokens)
    features = pair_features(labels, sentences, [s.first_word for s in spans], [s.last_word for s in spans],
                             schema, pairs)
    by_window: dict[int, list[int]] = {}
    find = WindowIndex(enc)
    for k, (h, t) in enumerate(pairs):
        wi = find(spans[h], spans[t])
        if wi is not None:
            by_window.setdefault(wi, []).append(k)
    jobs = []
    for wi, ks in sorted(by_window.items()):
        wpairs = [pairs[k] for k in ks]
        first = enc.windows[wi].window.first
        members = sorted({m for p in wpairs for m in p})
        local = {m: n for n, m in enumerate(members)}
        jobs.append(RelationJob(
            doc_index, wi, wpairs,
            np.array([[spans[m].first_word - first, spans[m].last_word - first] for m in members], dtype=np.int64),
            np.array([label_index[spans[m].label] for m in members], dtype=np.int64),
            np.array([spans[m].first_word for m in members], dtype=np.int64),
            np.array([[local[h], local[t]] for h, t in wpairs], dtype=np.int64),
            features[ks]))
    return jobs


def pad_relation_jobs(jobs: Sequence[RelationJob]) -> dict[str, np.ndarray]:
    """``span_bounds [B, S, 2]``, ``span_labels [B, S]``, ``span_words [B, S]``, ``pairs [B, P, 2]``
    and ``pair_features [B, P, 4]`` (int64, zero padded: padded pairs point at span 0 and their
    scores are dropped)."""
    n_spans = max(len(j.labels) for j in jobs)
    n_pairs = max(len(j.local_pairs) for j in jobs)
    out = {"span_bounds": np.zeros((len(jobs), n_spans, 2), dtype=np.int64),
           "span_labels": np.zeros((len(jobs), n_spans), dtype=np.int64),
           "span_words": np.zeros((len(jobs), n_spans), dtype=np.int64),
           "pairs": np.zeros((len(jobs), n_pairs, 2), dtype=np.int64),
           "pair_features": np.zeros((len(jobs), n_pairs, 4), dtype=np.int64)}
    for b, j in enumerate(jobs):
        out["span_bounds"][b, :len(j.labels)] = j.bounds
        out["span_labels"][b, :len(j.labels)] = j.labels
        out["span_words"][b, :len(j.labels)] = j.words
        out["pairs"][b, :len(j.local_pairs)] = j.local_pairs
        out["pair_features"][b, :len(j.local_pairs)] = j.features
    return out


def token_blocks(items: Iterable[tuple[Document, EncodedDocument]],
                 block_tokens: int) -> Iterator[list[tuple[Document, EncodedDocument]]]:
    """Consecutive (document, encoding) pairs in blocks of about ``block_tokens`` subtokens: the
    unit ``ExtractorBase`` predicts at once (bounded memory on a stream of any length)."""
    block: list[tuple[Document, EncodedDocument]] = []
    tokens = 0
    for doc, enc in items:
        block.append((doc, enc))
        tokens += sum(len(w.input_ids) for w in enc.windows)
        if tokens >= block_tokens:
            yield block
            block, tokens = [], 0
    if block:
        yield block


def _relation_chunks(jobs: list[RelationJob], max_windows: int, pair_budget: int) -> Iterator[list[RelationJob]]:
    """Jobs in batches of similar pair counts: at most ``max_windows`` windows and about
    ``pair_budget`` padded pairs each."""
    jobs = sorted(jobs, key=lambda j: -len(j.pairs))
    chunk: list[RelationJob] = []
    for job in jobs:
        # longest first, so the chunk's padded width is its first job's pair count
        if chunk and (len(chunk) >= max_windows or (len(chunk) + 1) * len(chunk[0].pairs) > pair_budget):
            yield chunk
            chunk = []
        chunk.append(job)
    if chunk:
        yield chunk


class ExtractorBase:
    """What every rasd extractor does around its network: text → windows → batched tag scores →
    constrained Viterbi → candidate pairs → batched relation scores → documents (→ event records).

    A backend sets the attributes named in ``_setup`` and implements ``_forward_tags`` and
    ``_forward_relations``; everything else, and so every decision made from the scores, is shared.
    """

    # Documents are processed in blocks of about this many subtokens: windows are batched by
    # length within a block, and encoder states kept for the relation head never outlive it,
    # so memory does not grow with the number of documents passed in one call.
    block_tokens = 16384
    relation_pair_budget = 2048  # padded pairs per relation-head call (each pair is a few KiB of features)

    def _setup(self, definition: ModelDefinition, encoder, pad_id: int | None,
               learned: TagTransitions | None = None) -> None:
        self.definition = definition
        self.schema = definition.schema
        self.tags = [definition.id2label[i] for i in range(len(definition.id2label))]
        self.classes = [definition.relation_id2label[i] for i in range(len(definition.relation_id2label))]
        self.label_index = {l: i for i, l in enumerate(self.schema.span_labels)}
        self.encoder = encoder  # a DocumentEncoder
        self.pad_id = pad_id or 0
        self.learned = learned  # the CRF's transitions, when the model has one
        self.relation_max_sentences = definition.options.relation_max_sentences
        self.relation_max_subtokens = definition.options.relation_max_subtokens
        self._featurizer = definition.featurizer if definition.uses_word_inputs else None

    # ------------------------------------------------------------------ backend
    def _forward_tags(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, Any]:
        """Per-word tag scores ``[batch, words, tags]`` (numpy float32: log-probabilities, or CRF
        emissions) and the word states ``[batch, words, size]`` in the backend's own array type,
        for the batch ``inputs`` of ``encoding.model_inputs``."""
        raise NotImplementedError

    def _forward_relations(self, states: list[Any], inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Relation class probabilities ``[batch, pairs, classes]`` (numpy) for windows whose word
        states (one ``[words, size]`` row each, lengths differ) are given, and the pairs
        ``inputs`` of ``pad_relation_jobs``."""
        raise NotImplementedError

    # ------------------------------------------------------------------ public API
    def extract(self, texts: Sequence[str | Document] | str, batch_size: int = 16,
                dates: Sequence[str | None] | None = None, events: bool = True,
                show_progress_bar: bool = False) -> list[Document]:
        """Predict every text (a string or a ``Document``, whose ``meta`` is kept).

        ``dates`` gives each document's publication date (ISO) for resolving relative times;
        a ``Document`` may carry it as ``meta['date']`` instead.
        """
        if isinstance(texts, (str, Document)):
            texts = [texts]
        docs = [t if isinstance(t, Document) else Document(f"doc-{i + 1}", t) for i, t in enumerate(texts)]
        if dates is not None:
            if len(dates) != len(docs):
                raise ValueError(f"{len(dates)} dates for {len(docs)} texts")
            for d, date in zip(docs, dates):
                if date:
                    d.meta = {**d.meta, "date": date}
        out = self.predict_documents(docs, batch_size=batch_size, show_progress_bar=show_progress_bar)
        if events:
            from .events import EventBuilder

            builder = EventBuilder(self.schema)
            for doc in out:
                doc.events = builder.build(doc)
        return out

    def predict_documents(self, docs: Sequence[Document], batch_size: int = 16,
                          show_progress_bar: bool = False, relations: bool = True) -> list[Document]:
        """Spans and relations for each document (its gold annotations, if any, are ignored);
        ``relations=False`` predicts spans only and skips the relation head."""
        progress = _progress(len(docs) if hasattr(docs, "__len__") else None, show_progress_bar)
        results: list[Document] = []
        for block in self._blocks(docs):
            results += self._predict_block(block, batch_size, relations)
            if progress is not None:
                progress.update(len(block))
        if progress is not None:
            progress.close()
        return results

    # ------------------------------------------------------------------ internals
    def _blocks(self, docs: Iterable[Document]) -> Iterator[list[tuple[Document, EncodedDocument]]]:
        return token_blocks(((doc, self.encoder.encode_document(doc)) for doc in docs), self.block_tokens)

    def score_words(self, encoded: Sequence[EncodedDocument], batch_size: int = 16,
                    keep_hidden: bool = False) -> "WordScores":
        """The network's half of a prediction: every word's tag log-probabilities (from the window
        whose core holds it) and, with ``keep_hidden``, each window's states for the relation head."""
        scores = WordScores([np.zeros((len(e.words), len(self.tags)), dtype=np.float32) for e in encoded], {})
        chars = bool(self.definition.options.char_embedding_size)
        for batch in window_batches(encoded, batch_size):
            windows = [encoded[di].windows[wi] for di, wi in batch]
            inputs = model_inputs([(w.input_ids, w.word_start, encoded[di].window_forms(wi))
                                   for w, (di, wi) in zip(windows, batch)], self.pad_id, self._featurizer, chars)
            tag_scores, states = self._forward_tags(inputs)
            for k, (di, wi) in enumerate(batch):
                core, positions = windows[k].core_positions()
                scores.log_probs[di][core] = tag_scores[k, positions]
                if keep_hidden:
                    scores.hidden[(di, wi)] = states[k, :len(windows[k].word_start)]
        return scores

    def decode_spans(self, encoded: Sequence[EncodedDocument], scores: "WordScores") -> list[list[DecodedSpan]]:
        """Spans of every document from its word scores (constrained Viterbi, batched over documents)."""
        paths = viterbi_bio_batch(scores.log_probs, self.tags, learned=self.learned)
        return [decode_spans(scores.log_probs[di], enc.words, self.tags, paths[di], self.learned)
                for di, enc in enumerate(encoded)]

    def predict_relations(self, docs: Sequence[Document], batch_size: int = 16) -> list[Document]:
        """Relations between each document's own spans (gold ones, say), the tagger's output
        unused: the relation head alone, for an oracle figure that leaves span errors out. Spans
        that do not fall on word boundaries are dropped."""
        results: list[Document] = []
        for block in self._blocks(docs):
            encoded = [enc for _, enc in block]
            scores = self.score_words(encoded, batch_size, keep_hidden=self.schema.has_relations)
            spans = [_given_spans(doc, enc, self.label_index) for doc, enc in block]
            relations = self.score_relations(encoded, spans, scores, batch_size) if self.schema.has_relations else None
            results += [to_document(doc, spans[di], relations[di] if relations else [])
                        for di, (doc, _) in enumerate(block)]
        return results

    def _predict_block(self, block: list[tuple[Document, EncodedDocument]], batch_size: int,
                       with_relations: bool = True) -> list[Document]:
        encoded = [enc for _, enc in block]
        keep_hidden = with_relations and self.schema.has_relations
        scores = self.score_words(encoded, batch_size, keep_hidden)
        spans = self.decode_spans(encoded, scores)
        relations = self.score_relations(encoded, spans, scores, batch_size) if keep_hidden else None
        return [to_document(doc, spans[di], relations[di] if relations else []) for di, (doc, _) in enumerate(block)]

    def score_relations(self, encoded: Sequence[EncodedDocument], spans: Sequence[Sequence[DecodedSpan]],
                        scores: "WordScores", batch_size: int = 16) -> list[list[tuple[int, int, str, float]]]:
        """The relation step: per document, the relations the head finds between ``spans`` (candidate
        pairs of ``relation_jobs``, the head over chunks of them; a document's windows in order).
        ``scores`` must come from ``score_words(..., keep_hidden=True)``."""
        found: list[dict[int, list[tuple[int, int, str, float]]]] = [{} for _ in encoded]
        jobs = [job for di, enc in enumerate(encoded)
                for job in relation_jobs(di, enc, spans[di], self.schema, self.label_index,
                                         self.relation_max_sentences, self.relation_max_subtokens)]
        for chunk in _relation_chunks(jobs, max(batch_size, 1), self.relation_pair_budget):
            states = [scores.hidden[(j.doc, j.window)] for j in chunk]
            probs = self._forward_relations(states, pad_relation_jobs(chunk))
            for k, job in enumerate(chunk):
                found[job.doc][job.window] = decode_relations(probs[k, :len(job.pairs)], job.pairs, self.classes)
        return [[r for wi in sorted(per_window) for r in per_window[wi]] for per_window in found]


def _given_spans(doc: Document, enc: EncodedDocument, labels: dict[str, int]) -> list[DecodedSpan]:
    """``doc``'s own spans with a known label that fall on its word boundaries, as decoded spans, in text order."""
    first = {s: i for i, (s, _) in enumerate(enc.words)}
    last = {e: i for i, (_, e) in enumerate(enc.words)}
    return [DecodedSpan(s.start, s.end, s.label, first[s.start], last[s.end], 1.0)
            for s in sorted(doc.spans, key=lambda s: (s.start, s.end))
            if s.start in first and s.end in last and s.label in labels]


@dataclass
class WordScores:
    """What ``ExtractorBase.score_words`` returns for a block of documents."""

    log_probs: list[np.ndarray]  # per document: [words, tags] tag log-probabilities (CRF emissions with a CRF)
    hidden: dict[tuple[int, int], Any]  # (document, window) -> that window's states, in the backend's array type


def to_document(doc: Document, spans: Sequence[DecodedSpan], relations: Sequence[tuple[int, int, str, float]]) -> Document:
    """The predicted copy of ``doc``: its id, text and meta, with span ids ``s1, s2, …``."""
    out_spans = [Span(s.start, s.end, s.label, doc.text[s.start:s.end], s.score, f"s{k + 1}")
                 for k, s in enumerate(spans)]
    out_rels = [Relation(out_spans[h], out_spans[t], label, score) for h, t, label, score in relations]
    return Document(doc.id, doc.text, dict(doc.meta), out_spans, out_rels)


def _progress(total: int | None, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="doc", desc="extract")


__all__ = ["ExtractorBase", "RelationJob", "WordScores", "pad_relation_jobs", "relation_jobs", "to_document"]
