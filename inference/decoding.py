"""Tensor → structure: BIO-valid span decoding, candidate span pairs and relation decoding.

Also ``ExtractorBase``, the backend-independent half of an extractor (windows, batching,
decoding, relation pairs, output documents), shared by the torch ``Extractor`` and the
``OnnxExtractor``, so both turn the same scores into the same structures. Numpy only: no torch.
"""
from __future__ import annotations

import bisect

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from .alignment import word_tags_to_spans
from .documents import Document, Relation, Span
from .encoding import EncodedDocument, pad_windows, window_batches
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


def viterbi_bio_batch(log_probs: Sequence[np.ndarray], tags: Sequence[str], group: int = 64) -> list[np.ndarray]:
    """``viterbi_bio`` of many documents at once (the same paths, ties broken the same way).

    Documents of similar length go in groups and each step over word positions is vectorised
    over a group, so the Python loop runs once per position of a group's longest document, not
    once per word. A step costs O(tags), not O(tags²): a tag any tag may follow takes the best
    previous score; only I- tags look at their few allowed predecessors.
    """
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
                 path: np.ndarray | None = None) -> list[DecodedSpan]:
    """Spans of one document from per-word tag log-probabilities (constrained Viterbi; ``path``
    when it is already known, e.g. from ``viterbi_bio_batch``)."""
    if path is None:
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

    def _setup(self, schema: Schema, id2label: dict[int, str], relation_id2label: dict[int, str], encoder,
               pad_id: int | None, relation_max_sentences: int, relation_max_subtokens: int) -> None:
        self.schema = schema
        self.tags = [id2label[i] for i in range(len(id2label))]
        self.classes = [relation_id2label[i] for i in range(len(relation_id2label))]
        self.label_index = {l: i for i, l in enumerate(schema.span_labels)}
        self.encoder = encoder  # a DocumentEncoder
        self.pad_id = pad_id or 0
        self.relation_max_sentences = relation_max_sentences
        self.relation_max_subtokens = relation_max_subtokens

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

    def _predict_block(self, block: list[tuple[Document, EncodedDocument]], batch_size: int,
                       with_relations: bool = True) -> list[Document]:
        encoded = [enc for _, enc in block]
        keep_hidden = with_relations and self.schema.has_relations
        hidden: dict[tuple[int, int], Any] = {}
        word_scores = [np.zeros((len(e.words), len(self.tags)), dtype=np.float32) for e in encoded]
        for batch in window_batches(encoded, batch_size):
            rows = [encoded[di].windows[wi].input_ids for di, wi in batch]
            ids, mask = pad_windows(rows, self.pad_id)
            log_probs, states = self._forward_tags(ids, mask)
            for k, (di, wi) in enumerate(batch):
                core, positions = encoded[di].windows[wi].core_positions()
                word_scores[di][core] = log_probs[k, positions]
                if keep_hidden:
                    hidden[(di, wi)] = states[k, :len(rows[k])]
        paths = viterbi_bio_batch(word_scores, self.tags)
        spans = [decode_spans(word_scores[di], enc.words, self.tags, paths[di]) for di, enc in enumerate(encoded)]
        # per document, per window: the relations found there (a document's windows are joined in order)
        relations: list[dict[int, list[tuple[int, int, str, float]]]] = [{} for _ in encoded]
        if keep_hidden:
            jobs = [job for di, enc in enumerate(encoded)
                    for job in relation_jobs(di, enc, spans[di], self.schema, self.label_index,
                                             self.relation_max_sentences, self.relation_max_subtokens)]
            for chunk in _relation_chunks(jobs, max(batch_size, 1), self.relation_pair_budget):
                probs = self._forward_relations([hidden[(j.doc, j.window)] for j in chunk], *pad_relation_jobs(chunk))
                for k, job in enumerate(chunk):
                    relations[job.doc][job.window] = decode_relations(probs[k, :len(job.pairs)], job.pairs,
                                                                      self.classes)
        return [to_document(doc, spans[di], [r for wi in sorted(relations[di]) for r in relations[di][wi]])
                for di, (doc, _) in enumerate(block)]


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


__all__ = ["DecodedSpan", "ExtractorBase", "OUTSIDE", "RelationJob", "candidate_pairs", "decode_relations",
           "decode_spans", "pad_relation_jobs", "relation_jobs", "span_subtoken_positions", "to_document",
           "viterbi_bio", "viterbi_bio_batch", "window_for"]
