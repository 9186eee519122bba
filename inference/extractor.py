"""``Extractor``: a loaded rasd model that turns raw Arabic text into spans, relations and event records."""
from __future__ import annotations

import logging
import os
from typing import Sequence

import numpy as np
import torch

from .decoding import candidate_pairs, decode_relations, decode_spans
from .documents import Document, Relation, Span
from .encoding import DocumentEncoder, EncodedDocument
from .modeling import RasdModel
from .schema import Schema
from .text import split_words

logger = logging.getLogger(__name__)


class Extractor:
    """Predicts documents with a ``RasdModel``; batched by length, no gradients, deterministic."""

    def __init__(self, model: RasdModel, tokenizer, device: str | torch.device | None = None) -> None:
        self.model = model.eval()
        self.device = torch.device(device) if device else next(model.parameters()).device
        self.model.to(self.device)
        self.config = model.config
        self.schema: Schema = model.schema
        self.tags = [self.config.id2label[i] for i in range(len(self.config.id2label))]
        self.classes = [self.config.relation_id2label[i] for i in range(len(self.config.relation_id2label))]
        self.label_index = {l: i for i, l in enumerate(self.schema.span_labels)}
        self.encoder = DocumentEncoder(tokenizer, self.config.max_length, self.config.window_stride,
                                       self.config.word_splitter, self.config.normalization_options)
        self.pad_id = tokenizer.pad_token_id or 0

    @classmethod
    def from_pretrained(cls, path_or_hub_id: str | os.PathLike, device: str | None = None,
                        schema: Schema | None = None, **kwargs) -> "Extractor":
        """Load a trained rasd model directory (or hub id) with its tokenizer."""
        from transformers import AutoTokenizer

        model = RasdModel.from_pretrained(path_or_hub_id, schema=schema, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(path_or_hub_id)
        return cls(model, tokenizer, device)

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

    @torch.inference_mode()
    def predict_documents(self, docs: Sequence[Document], batch_size: int = 16,
                          show_progress_bar: bool = False) -> list[Document]:
        """Spans and relations for each document (its gold annotations, if any, are ignored)."""
        # a document converted from CoNLL keeps its own tokens as words, so spans line up with its gold
        encoded = [self.encoder.encode(d.text, split_words(d.text, d.meta["tokenization"])
                                       if "tokenization" in d.meta else None) for d in docs]
        # every window of every document, longest first so padding stays small
        jobs = [(di, wi) for di, e in enumerate(encoded) for wi in range(len(e.windows))]
        jobs.sort(key=lambda j: -len(encoded[j[0]].windows[j[1]].input_ids))
        hidden: dict[tuple[int, int], torch.Tensor] = {}
        word_scores = [np.zeros((len(e.words), len(self.tags)), dtype=np.float32) for e in encoded]
        progress = _progress(len(jobs), show_progress_bar)
        for b in range(0, len(jobs), batch_size):
            batch = jobs[b:b + batch_size]
            ids, mask = self._pad([encoded[di].windows[wi].input_ids for di, wi in batch])
            h = self.model.encode(ids, mask)
            log_probs = torch.log_softmax(self.model.tagger(h).float(), dim=-1).cpu().numpy()
            for k, (di, wi) in enumerate(batch):
                win = encoded[di].windows[wi]
                w = win.window
                core = slice(w.core_first - w.first, w.core_last - w.first)
                word_scores[di][w.core_first:w.core_last] = log_probs[k, win.word_start[core]]
                if self.schema.has_relations:
                    hidden[(di, wi)] = h[k, :len(win.input_ids)]
            if progress:
                progress.update(len(batch))
        if progress:
            progress.close()
        results = []
        for di, (doc, enc) in enumerate(zip(docs, encoded)):
            spans = decode_spans(word_scores[di], enc.words, self.tags)
            relations = self._relations(di, enc, spans, hidden) if spans and hidden else []
            out_spans = [Span(s.start, s.end, s.label, doc.text[s.start:s.end], s.score, f"s{k + 1}")
                         for k, s in enumerate(spans)]
            out_rels = [Relation(out_spans[h], out_spans[t], label, score) for h, t, label, score in relations]
            results.append(Document(doc.id, doc.text, dict(doc.meta), out_spans, out_rels))
        return results

    # ------------------------------------------------------------------ internals
    def _pad(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, :len(r)] = torch.tensor(r, dtype=torch.long)
            mask[i, :len(r)] = 1
        return ids.to(self.device), mask.to(self.device)

    def _relations(self, di: int, enc: EncodedDocument, spans, hidden) -> list[tuple[int, int, str, float]]:
        # document-level subtoken positions, for the distance rule
        counts = np.zeros(len(enc.words) + 1, dtype=np.int64)
        for win in enc.windows:
            w = win.window
            for i in range(w.first, w.last):
                j = i - w.first
                counts[i + 1] = win.word_end[j] - win.word_start[j] + 1
        cum = np.cumsum(counts)
        starts = [int(cum[s.first_word]) for s in spans]
        ends = [int(cum[s.last_word + 1]) - 1 for s in spans]
        pairs = candidate_pairs([s.label for s in spans], [enc.sentences[s.first_word] for s in spans], starts, ends,
                                self.schema, self.config.relation_max_sentences, self.config.relation_max_subtokens)
        if not pairs:
            return []
        # each pair is scored in the window whose core holds its head and that contains both spans
        by_window: dict[int, list[tuple[int, int]]] = {}
        for h, t in pairs:
            wi = self._window_for(enc, spans[h], spans[t])
            if wi is not None:
                by_window.setdefault(wi, []).append((h, t))
        found = []
        for wi, wpairs in sorted(by_window.items()):
            win = enc.windows[wi]
            first = win.window.first
            members = sorted({k for p in wpairs for k in p})
            local = {k: n for n, k in enumerate(members)}
            bounds = torch.tensor([[win.word_start[spans[k].first_word - first], win.word_end[spans[k].last_word - first]]
                                   for k in members], device=self.device)
            labels = torch.tensor([self.label_index[spans[k].label] for k in members], device=self.device)
            words = torch.tensor([spans[k].first_word for k in members], device=self.device)
            pair_t = torch.tensor([[local[h], local[t]] for h, t in wpairs], device=self.device)
            logits = self.model.relation_logits(hidden[(di, wi)][None], bounds[None], labels[None], words[None], pair_t[None])
            probs = torch.softmax(logits[0].float(), dim=-1).cpu().numpy()
            found += decode_relations(probs, wpairs, self.classes)
        return found

    @staticmethod
    def _window_for(enc: EncodedDocument, head, tail) -> int | None:
        lo, hi = min(head.first_word, tail.first_word), max(head.last_word, tail.last_word)
        fallback = None
        for wi, win in enumerate(enc.windows):
            w = win.window
            if w.first <= lo and hi < w.last:
                if w.core_first <= head.first_word < w.core_last:
                    return wi
                fallback = wi if fallback is None else fallback
        return fallback


def _progress(total: int, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, unit="window", desc="extract")


def load_model(path_or_hub_id: str | os.PathLike, device: str | None = None, **kwargs) -> Extractor:
    """``from rasd.inference import load_model``: the extractor of a trained model directory or hub id."""
    return Extractor.from_pretrained(path_or_hub_id, device=device, **kwargs)

