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

from .decoding import (DecodedSpan, WindowIndex, candidate_pairs, decode_relations, decode_spans,
                       span_subtoken_positions, viterbi_bio_batch)
from .definition import ModelDefinition
from .documents import Document, Relation, Span
from .encoding import EncodedDocument, pad_windows, window_batches
from .schema import Schema

@dataclass
class RelationJob:
    """The pairs of one document scored in one of its windows, as relation-head inputs."""

    doc: int
    window: int
    pairs: list[tuple[int, int]]  # (head, tail) indices into the document's spans
    bounds: np.ndarray  # [spans, 2] first and last subtoken of each member span in the window
    labels: np.ndarray  # [spans] span label index (schema.span_labels)
    words: np.ndarray  # [spans] document index of each span's first word
    local_pairs: np.ndarray  # [pairs, 2] indices into the member spans


def relation_jobs(doc_index: int, enc: EncodedDocument, spans: Sequence[DecodedSpan], schema: Schema,
                  label_index: dict[str, int], max_sentences: int, max_subtokens: int) -> list[RelationJob]:
    """Candidate pairs of one document, grouped by the window that scores them."""
    if len(spans) < 2:
        return []
    starts, ends = span_subtoken_positions(enc, spans)
    pairs = candidate_pairs([s.label for s in spans], [enc.sentences[s.first_word] for s in spans], starts, ends,
                            schema, max_sentences, max_subtokens)
    by_window: dict[int, list[tuple[int, int]]] = {}
    find = WindowIndex(enc)
    for h, t in pairs:
        wi = find(spans[h], spans[t])
        if wi is not None:
            by_window.setdefault(wi, []).append((h, t))
    jobs = []
    for wi, wpairs in sorted(by_window.items()):
        win = enc.windows[wi]
        first = win.window.first
        members = sorted({k for p in wpairs for k in p})
        local = {k: n for n, k in enumerate(members)}
        jobs.append(RelationJob(
            doc_index, wi, wpairs,
            np.array([[win.word_start[spans[k].first_word - first], win.word_end[spans[k].last_word - first]]
                      for k in members], dtype=np.int64),
            np.array([label_index[spans[k].label] for k in members], dtype=np.int64),
            np.array([spans[k].first_word for k in members], dtype=np.int64),
            np.array([[local[h], local[t]] for h, t in wpairs], dtype=np.int64)))
    return jobs


def pad_relation_jobs(jobs: Sequence[RelationJob]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``span_bounds [B, S, 2]``, ``span_labels [B, S]``, ``span_words [B, S]``, ``pairs [B, P, 2]``
    (int64, zero padded: padded pairs point at span 0 and their scores are dropped)."""
    n_spans = max(len(j.labels) for j in jobs)
    n_pairs = max(len(j.local_pairs) for j in jobs)
    bounds = np.zeros((len(jobs), n_spans, 2), dtype=np.int64)
    labels = np.zeros((len(jobs), n_spans), dtype=np.int64)
    words = np.zeros((len(jobs), n_spans), dtype=np.int64)
    pairs = np.zeros((len(jobs), n_pairs, 2), dtype=np.int64)
    for b, j in enumerate(jobs):
        bounds[b, :len(j.labels)] = j.bounds
        labels[b, :len(j.labels)] = j.labels
        words[b, :len(j.labels)] = j.words
        pairs[b, :len(j.local_pairs)] = j.local_pairs
    return bounds, labels, words, pairs


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

    def _setup(self, definition: ModelDefinition, encoder, pad_id: int | None) -> None:
        self.definition = definition
        self.schema = definition.schema
        self.tags = [definition.id2label[i] for i in range(len(definition.id2label))]
        self.classes = [definition.relation_id2label[i] for i in range(len(definition.relation_id2label))]
        self.label_index = {l: i for i, l in enumerate(self.schema.span_labels)}
        self.encoder = encoder  # a DocumentEncoder
        self.pad_id = pad_id or 0
        self.relation_max_sentences = definition.options.relation_max_sentences
        self.relation_max_subtokens = definition.options.relation_max_subtokens

    # ------------------------------------------------------------------ backend
    def _forward_tags(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, Any]:
        """Tag log-probabilities ``[batch, seq, tags]`` (numpy float32) and the encoder states
        ``[batch, seq, hidden]`` in the backend's own array type."""
        raise NotImplementedError

    def _forward_relations(self, hidden: list[Any], span_bounds: np.ndarray, span_labels: np.ndarray,
                           span_words: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        """Relation class probabilities ``[batch, pairs, classes]`` (numpy) for windows whose
        encoder states ``hidden`` (one ``[length, hidden]`` row each, lengths differ) are given."""
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
            if progress:
                progress.update(len(block))
        if progress:
            progress.close()
        return results

    # ------------------------------------------------------------------ internals
    def _blocks(self, docs: Iterable[Document]) -> Iterator[list[tuple[Document, EncodedDocument]]]:
        block: list[tuple[Document, EncodedDocument]] = []
        tokens = 0
        for doc in docs:
            enc = self.encoder.encode_document(doc)
            block.append((doc, enc))
            tokens += sum(len(w.input_ids) for w in enc.windows)
            if tokens >= self.block_tokens:
                yield block
                block, tokens = [], 0
        if block:
            yield block

    def score_words(self, encoded: Sequence[EncodedDocument], batch_size: int = 16,
                    keep_hidden: bool = False) -> "WordScores":
        """The network's half of a prediction: every word's tag log-probabilities (from the window
        whose core holds it) and, with ``keep_hidden``, each window's states for the relation head."""
        scores = WordScores([np.zeros((len(e.words), len(self.tags)), dtype=np.float32) for e in encoded], {})
        for batch in window_batches(encoded, batch_size):
            rows = [encoded[di].windows[wi].input_ids for di, wi in batch]
            ids, mask = pad_windows(rows, self.pad_id)
            log_probs, states = self._forward_tags(ids, mask)
            for k, (di, wi) in enumerate(batch):
                core, positions = encoded[di].windows[wi].core_positions()
                scores.log_probs[di][core] = log_probs[k, positions]
                if keep_hidden:
                    scores.hidden[(di, wi)] = states[k, :len(rows[k])]
        return scores

    def decode_spans(self, encoded: Sequence[EncodedDocument], scores: "WordScores") -> list[list[DecodedSpan]]:
        """Spans of every document from its word scores (constrained Viterbi, batched over documents)."""
        paths = viterbi_bio_batch(scores.log_probs, self.tags)
        return [decode_spans(scores.log_probs[di], enc.words, self.tags, paths[di]) for di, enc in enumerate(encoded)]

    def _predict_block(self, block: list[tuple[Document, EncodedDocument]], batch_size: int,
                       with_relations: bool = True) -> list[Document]:
        encoded = [enc for _, enc in block]
        keep_hidden = with_relations and self.schema.has_relations
        scores = self.score_words(encoded, batch_size, keep_hidden)
        spans = self.decode_spans(encoded, scores)
        # per document, per window: the relations found there (a document's windows are joined in order)
        relations: list[dict[int, list[tuple[int, int, str, float]]]] = [{} for _ in encoded]
        if keep_hidden:
            jobs = [job for di, enc in enumerate(encoded)
                    for job in relation_jobs(di, enc, spans[di], self.schema, self.label_index,
                                             self.relation_max_sentences, self.relation_max_subtokens)]
            for chunk in _relation_chunks(jobs, max(batch_size, 1), self.relation_pair_budget):
                states = [scores.hidden[(j.doc, j.window)] for j in chunk]
                probs = self._forward_relations(states, *pad_relation_jobs(chunk))
                for k, job in enumerate(chunk):
                    relations[job.doc][job.window] = decode_relations(probs[k, :len(job.pairs)], job.pairs,
                                                                      self.classes)
        return [to_document(doc, spans[di], [r for wi in sorted(relations[di]) for r in relations[di][wi]])
                for di, (doc, _) in enumerate(block)]


@dataclass
class WordScores:
    """What ``ExtractorBase.score_words`` returns for a block of documents."""

    log_probs: list[np.ndarray]  # per document: [words, tags] tag log-probabilities
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
