"""``RasdModel``: any Hugging Face BERT-like encoder, word-level parts, a BIO tagger and a span-pair relation scorer.

    subtokens → encoder → each word's first subtoken ─┐
    word letters → char-CNN ──────────────────────────┼→ BiLSTM → tagger (→ CRF)
    word features (affixes, stem, shape, gazetteers) ─┘         → relation scorer

Every word-level part is switched by ``ModelOptions`` and saved with the model; with all of
them off the model is the plain "first subtoken → linear" tagger of a fine-tuned BERT. Both
heads work on words: the tagger scores each word, the relation scorer reads each span's first
and last word.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel
from transformers.utils import ModelOutput

from .config import RASD_VERSION, RasdConfig
from .definition import check_model_version
from .schema import NO_RELATION, Schema
from .word_features import CHAR_VOCAB_SIZE

logger = logging.getLogger(__name__)

# Pair features of the relation scorer (``decoding.pair_features``): each a small integer.
PAIR_FEATURE_VALUES = (5, 4, 4, 4)  # sentence gap, triggers between, tail's nearness rank, head's nearness rank
_PAIR_OFFSETS = [sum(PAIR_FEATURE_VALUES[:k]) for k in range(len(PAIR_FEATURE_VALUES))]


@dataclass
class RasdOutput(ModelOutput):
    loss: torch.Tensor | None = None
    tag_loss: torch.Tensor | None = None
    relation_loss: torch.Tensor | None = None
    tag_logits: torch.Tensor | None = None  # [batch, words, tags] (CRF emissions when the model has a CRF)
    relation_logits: torch.Tensor | None = None  # [batch, pairs, relation classes]
    hidden_states: torch.Tensor | None = None  # [batch, words, word state size]


class SchemaMismatchError(ValueError):
    """A checkpoint whose labels differ from the schema the caller asked for."""


def distance_bucket(distance: torch.Tensor, buckets: int) -> torch.Tensor:
    """Signed log-spaced bucket of a word distance: 0 is adjacent, sign keeps the direction."""
    magnitude = torch.clamp(torch.log2(distance.abs().float() + 1).long(), max=buckets - 1)
    return torch.where(distance < 0, buckets + magnitude, magnitude)


class CharCNN(nn.Module):
    """A word vector from its letters: character embeddings, convolutions of a few widths, max over positions."""

    def __init__(self, embedding_size: int, filters: int, kernel_sizes: list[int]) -> None:
        super().__init__()
        self.embedding = nn.Embedding(CHAR_VOCAB_SIZE, embedding_size, padding_idx=0)
        self.convs = nn.ModuleList(nn.Conv1d(embedding_size, filters, k, padding=k // 2) for k in kernel_sizes)
        self.output_size = filters * len(kernel_sizes)

    def forward(self, char_ids: torch.Tensor) -> torch.Tensor:  # [B, W, C] -> [B, W, output]
        b, w, c = char_ids.shape
        x = self.embedding(char_ids.reshape(b * w, c)).transpose(1, 2)
        pooled = torch.cat([conv(x).amax(dim=2) for conv in self.convs], dim=1)
        return torch.tanh(pooled).reshape(b, w, self.output_size)


class BiLSTM(nn.Module):
    """A bidirectional LSTM over the words of padded windows whose outputs do not depend on the
    padding: the backward direction reads each window reversed within its own length, so padded
    positions come after the real words in both directions (no packed sequences, so it exports to ONNX)."""

    def __init__(self, input_size: int, hidden_size: int, layers: int, dropout: float) -> None:
        super().__init__()
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList()
        for k in range(layers):
            size = input_size if k == 0 else 2 * hidden_size
            self.forward_layers.append(nn.LSTM(size, hidden_size, batch_first=True))
            self.backward_layers.append(nn.LSTM(size, hidden_size, batch_first=True))
        self.dropout = nn.Dropout(dropout)
        self.output_size = 2 * hidden_size

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:  # [B, W, in], [B, W] -> [B, W, 2h]
        lengths = mask.long().sum(dim=1, keepdim=True)
        positions = torch.arange(x.size(1), device=x.device).unsqueeze(0)
        # index of each position in the window reversed within its length (padding stays in place)
        reverse = torch.where(positions < lengths, lengths - 1 - positions, positions)
        index = reverse.unsqueeze(-1)
        for k, (fwd, bwd) in enumerate(zip(self.forward_layers, self.backward_layers)):
            if k:
                x = self.dropout(x)
            ahead, _ = fwd(x)
            back, _ = bwd(x.gather(1, index.expand(-1, -1, x.size(-1))))
            back = back.gather(1, index.expand(-1, -1, back.size(-1)))
            x = torch.cat([ahead, back], dim=-1)
        return x


class LinearChainCRF(nn.Module):
    """Learned BIO tag transitions (and start/end scores) on top of the tagger's emissions.

    Transitions the BIO scheme forbids (``I-X`` after anything but ``B-X``/``I-X``, ``I-X`` first)
    are fixed at a large negative score, so training never spends probability on them (a window
    whose gold begins with ``I-X``, cut from inside a span, is spared the first-tag rule). Decoding
    is numpy Viterbi in ``rasd.inference.decoding`` with ``transition_scores()``.
    """

    def __init__(self, tags: list[str]) -> None:
        super().__init__()
        n = len(tags)
        self.tags = list(tags)
        self.transitions = nn.Parameter(torch.zeros(n, n))  # [previous, current]
        self.start = nn.Parameter(torch.zeros(n))
        self.end = nn.Parameter(torch.zeros(n))
        self._forbidden: tuple[torch.Tensor, torch.Tensor] | None = None  # built on first use (see RasdModel)

    NEG = -10000.0

    def forbidden(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        """``[prev, cur]`` moves and first tags the BIO scheme forbids."""
        if self._forbidden is None or self._forbidden[0].device != device:
            n = len(self.tags)
            moves = torch.zeros(n, n, dtype=torch.bool)
            first = torch.zeros(n, dtype=torch.bool)
            for j, cur in enumerate(self.tags):
                if cur.startswith("I-"):
                    first[j] = True
                    for i, prev in enumerate(self.tags):
                        moves[i, j] = prev not in (f"B-{cur[2:]}", f"I-{cur[2:]}")
            self._forbidden = (moves.to(device), first.to(device))
        return self._forbidden

    def transition_scores(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(transitions [prev, cur], start, end)`` with the forbidden moves at a large negative score."""
        moves, first = self.forbidden(self.transitions.device)
        return self.transitions.masked_fill(moves, self.NEG), self.start.masked_fill(first, self.NEG), self.end

    def nll(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Negative log-likelihood of the gold tag paths, summed over the batch ([B, W, T], [B, W], [B, W])."""
        emissions = emissions.float()
        mask = mask.bool()
        tags = tags.clamp(min=0)  # padded positions carry -100; they are masked out below
        trans, start, end = self.transition_scores()
        # A window that a long document was cut into may begin inside a span (gold I-X first);
        # only a document's first word may not, so such rows keep the learned start scores unmasked.
        cut = self.forbidden(emissions.device)[1][tags[:, 0]]
        start = torch.where(cut.unsqueeze(1), self.start.unsqueeze(0), start.unsqueeze(0))  # [B, T]
        on = mask.to(emissions.dtype)
        # the gold path's score at once; only the partition function needs the recursion
        last = tags.gather(1, (mask.long().sum(1) - 1).clamp(min=0).unsqueeze(1)).squeeze(1)
        gold = (start.gather(1, tags[:, :1]).squeeze(1)
                + (emissions.gather(2, tags.unsqueeze(2)).squeeze(2) * on).sum(1)
                + (trans[tags[:, :-1], tags[:, 1:]] * on[:, 1:]).sum(1) + end[last])
        alpha = start + emissions[:, 0]
        for t in range(1, emissions.size(1)):
            nxt = torch.logsumexp(alpha.unsqueeze(2) + trans.unsqueeze(0), dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t].unsqueeze(1), nxt, alpha)
        partition = torch.logsumexp(alpha + end, dim=1)
        return (partition - gold).sum()


class SpanPairScorer(nn.Module):
    """Scores ordered (head span, tail span) pairs from their first and last word states, labels,
    the words between them, their distance and (optionally) the pair features."""

    def __init__(self, config: RasdConfig, hidden: int, num_span_labels: int, num_classes: int) -> None:
        super().__init__()
        size = config.label_embedding_size
        self.buckets = config.distance_buckets
        self.label_embedding = nn.Embedding(num_span_labels, size)
        self.distance_embedding = nn.Embedding(2 * config.distance_buckets, size)
        self.pair_embedding = nn.Embedding(sum(PAIR_FEATURE_VALUES), size) if config.pair_features else None
        span_size = 2 * hidden + size
        features = 2 * span_size + hidden + size + (len(PAIR_FEATURE_VALUES) * size if config.pair_features else 0)
        self.mlp = nn.Sequential(
            nn.Linear(features, config.relation_hidden_size),
            nn.GELU(),
            nn.Dropout(config.classifier_dropout),
            nn.Linear(config.relation_hidden_size, num_classes),
        )

    def forward(
        self,
        hidden: torch.Tensor,  # [B, W, H] word states
        span_bounds: torch.Tensor,  # [B, S, 2] first and last word of each span (positions in the window)
        span_labels: torch.Tensor,  # [B, S]
        span_words: torch.Tensor,  # [B, S] document index of the span's first word (for distances)
        pairs: torch.Tensor,  # [B, P, 2] indices into the spans
        pair_features: torch.Tensor | None = None,  # [B, P, 4] (decoding.pair_features)
    ) -> torch.Tensor:
        batch = torch.arange(hidden.size(0), device=hidden.device)[:, None]
        starts, ends = span_bounds[..., 0], span_bounds[..., 1]
        spans = torch.cat([hidden[batch, starts], hidden[batch, ends], self.label_embedding(span_labels)], dim=-1)
        head, tail = pairs[..., 0], pairs[..., 1]
        head_repr, tail_repr = spans[batch, head], spans[batch, tail]
        # Mean of the words strictly between the two spans, through a prefix sum so the cost stays
        # linear in the number of pairs (no [pairs, words, hidden] tensor).
        prefix = torch.cat([torch.zeros_like(hidden[:, :1]), hidden.cumsum(dim=1)], dim=1)
        left_end = torch.minimum(ends[batch, head], ends[batch, tail]) + 1
        right_start = torch.maximum(starts[batch, head], starts[batch, tail])
        gap = (right_start - left_end).clamp(min=0)
        right_start = left_end + gap
        between = (prefix[batch, right_start] - prefix[batch, left_end]) / gap.clamp(min=1).unsqueeze(-1)
        distance = span_words[batch, tail] - span_words[batch, head]
        parts = [head_repr, tail_repr, between, self.distance_embedding(distance_bucket(distance, self.buckets))]
        if self.pair_embedding is not None:
            if pair_features is None:
                raise ValueError("this model's relation scorer needs pair_features (decoding.pair_features)")
            offsets = torch.tensor(_PAIR_OFFSETS, dtype=pair_features.dtype, device=pair_features.device)
            parts.append(self.pair_embedding(pair_features + offsets).flatten(-2))
        return self.mlp(torch.cat(parts, dim=-1))


class RasdPreTrainedModel(PreTrainedModel):
    config_class = RasdConfig
    base_model_prefix = "rasd"
    supports_gradient_checkpointing = True

    def _init_weights(self, module: nn.Module) -> None:
        # The encoder initialises (or loads) itself; the LSTM, convolutions and CRF keep their
        # own initialisation; linear layers and embeddings (the char-CNN's and the word features'
        # too: at unit scale they drown the encoder's states early on, measured worse) start here.
        std = 0.02
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=std)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=std)
            if module.padding_idx is not None:
                module.weight.data[module.padding_idx].zero_()


class RasdModel(RasdPreTrainedModel):
    """Encoder → word vectors (+ char-CNN, word features) → (BiLSTM) → BIO tagger (+ CRF), and a
    ``SpanPairScorer`` over the schema's allowed pairs."""

    def __init__(self, config: RasdConfig) -> None:
        super().__init__(config)
        if config.schema is None:
            raise ValueError("RasdModel needs a config with a label schema: use RasdModel.from_encoder(..., schema=...)")
        self.schema = config.label_schema
        self.encoder = encoder_from_config(config.encoder)
        size = config.encoder.hidden_size
        self.chars = None
        if config.char_embedding_size:
            self.chars = CharCNN(config.char_embedding_size, config.char_filters, list(config.char_kernel_sizes))
            size += self.chars.output_size
        self.features = None
        if config.word_features:
            self.features = nn.Embedding(config.feature_buckets, config.feature_embedding_size, padding_idx=0)
            size += config.feature_embedding_size
        self.word_dropout = nn.Dropout(config.word_dropout_rate)
        self.lstm = None
        if config.lstm_hidden_size:
            self.lstm = BiLSTM(size, config.lstm_hidden_size, config.lstm_layers, config.word_dropout_rate)
            size = self.lstm.output_size
        self.word_state_size = size
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.tagger = nn.Linear(size, len(config.id2label))
        self.crf = LinearChainCRF([config.id2label[i] for i in range(len(config.id2label))]) if config.crf else None
        self.relations = SpanPairScorer(config, size, len(self.schema.span_labels), len(config.relation_id2label))
        # Built on first use, not here: from_pretrained constructs the module on the meta device,
        # where a tensor made in __init__ would hold no values.
        self._allowed: torch.Tensor | None = None
        self.post_init()

    def allowed_table(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """``[head label, tail label, relation class]`` booleans: what the schema's type rules permit."""
        if self._allowed is None or self._allowed.device != torch.device(device):
            self._allowed = self._allowed_table(self.schema, self.config).to(device)
        return self._allowed

    @staticmethod
    def _allowed_table(schema: Schema, config: RasdConfig) -> torch.Tensor:
        labels = schema.span_labels
        rel2id = config.relation_label2id
        table = torch.zeros(len(labels), len(labels), len(rel2id), dtype=torch.bool)
        table[..., rel2id[NO_RELATION]] = True
        for i, h in enumerate(labels):
            for j, t in enumerate(labels):
                for rel in schema.allowed_relations(h, t):
                    table[i, j, rel2id[rel]] = True
        return table

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_encoder(cls, encoder_name_or_path: str | os.PathLike, schema: Schema, **config_kwargs) -> "RasdModel":
        """A new rasd model around a pretrained encoder (a hub id such as
        ``CAMeL-Lab/bert-base-arabic-camelbert-msa`` or a local directory); the heads start random."""
        encoder_config = AutoConfig.from_pretrained(encoder_name_or_path)
        if isinstance(encoder_config, RasdConfig):
            raise ValueError(f"{encoder_name_or_path} is already a rasd model; load it with RasdModel.from_pretrained")
        config = RasdConfig(encoder=encoder_config.to_dict(), schema=schema.to_dict(), **config_kwargs)
        config.max_length = min(config.max_length, getattr(encoder_config, "max_position_embeddings", config.max_length))
        model = cls(config)
        model.encoder = _encoder_from_pretrained(encoder_name_or_path)
        return model

    @classmethod
    def from_pretrained(cls, *args, schema: Schema | None = None, **kwargs) -> "RasdModel":
        """Load a saved rasd model; with ``schema``, fail unless the checkpoint's labels are the same."""
        where = args[0] if args else kwargs.get("pretrained_model_name_or_path")
        hub = {k: kwargs[k] for k in ("cache_dir", "revision", "token", "local_files_only") if k in kwargs}
        check_model_version(RasdConfig.from_pretrained(where, **hub).rasd_version, where)
        model = super().from_pretrained(*args, **kwargs)
        saved = model.config.label_schema
        if schema is not None:
            check_schema_matches(saved, schema, where)
        if model.config.rasd_version != RASD_VERSION:
            logger.warning("%s was saved by rasd %s; this is rasd %s", where, model.config.rasd_version, RASD_VERSION)
        return model

    # ------------------------------------------------------------------ forward
    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Subtoken states of the encoder ``[B, T, H]``."""
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def word_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, word_starts: torch.Tensor,
                    word_mask: torch.Tensor, char_ids: torch.Tensor | None = None,
                    feature_ids: torch.Tensor | None = None) -> torch.Tensor:
        """One state per word ``[B, W, word_state_size]``: its first subtoken's encoder state, joined
        to its char-CNN vector and feature embedding, through the BiLSTM when the model has them."""
        hidden = self.encode(input_ids, attention_mask)
        parts = [hidden.gather(1, word_starts.unsqueeze(-1).expand(-1, -1, hidden.size(-1)))]
        if self.chars is not None:
            if char_ids is None:
                raise ValueError("this model reads characters: pass char_ids (encoding.model_inputs)")
            parts.append(self.chars(char_ids).to(hidden.dtype))
        if self.features is not None:
            if feature_ids is None:
                raise ValueError("this model reads word features: pass feature_ids (encoding.model_inputs)")
            parts.append(self.features(feature_ids).sum(dim=-2).to(hidden.dtype))
        words = torch.cat(parts, dim=-1) if len(parts) > 1 else parts[0]
        if self.lstm is not None:
            words = self.lstm(self.word_dropout(words), word_mask)
            words = self.word_dropout(words)
        return words

    def tag_scores(self, words: torch.Tensor) -> torch.Tensor:
        """What decoding reads per word: CRF emissions with a CRF, else tag log-probabilities."""
        logits = self.tagger(words).float()
        return logits if self.crf is not None else torch.log_softmax(logits, dim=-1)

    def relation_logits(self, words, span_bounds, span_labels, span_words, pairs, pair_features=None) -> torch.Tensor:
        logits = self.relations(self.dropout(words), span_bounds, span_labels, span_words, pairs, pair_features)
        batch = torch.arange(words.size(0), device=words.device)[:, None]
        table = self.allowed_table(logits.device)
        allowed = table[span_labels[batch, pairs[..., 0]], span_labels[batch, pairs[..., 1]]]
        # Pairs the schema forbids can only be "no relation": the head never learns them.
        return logits.masked_fill(~allowed, torch.finfo(logits.dtype).min)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        word_starts: torch.Tensor,
        word_mask: torch.Tensor,
        char_ids: torch.Tensor | None = None,
        feature_ids: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,  # [B, W] tag ids, -100 on padding
        span_bounds: torch.Tensor | None = None,
        span_labels: torch.Tensor | None = None,
        span_words: torch.Tensor | None = None,
        pairs: torch.Tensor | None = None,
        pair_features: torch.Tensor | None = None,
        pair_labels: torch.Tensor | None = None,
        **_: torch.Tensor,
    ) -> RasdOutput:
        words = self.word_states(input_ids, attention_mask, word_starts, word_mask, char_ids, feature_ids)
        tag_logits = self.tagger(self.dropout(words))
        relation_logits = None
        if pairs is not None and pairs.size(1) > 0:
            relation_logits = self.relation_logits(words, span_bounds, span_labels, span_words, pairs, pair_features)
        loss = tag_loss = relation_loss = None
        if labels is not None:
            if self.crf is not None:
                tag_loss = self.crf.nll(tag_logits, labels, word_mask.bool() & (labels >= 0)) / labels.size(0)
            else:
                tag_loss = nn.functional.cross_entropy(tag_logits.flatten(0, 1).float(), labels.flatten(),
                                                       ignore_index=-100)
            loss = tag_loss
            if relation_logits is not None and pair_labels is not None and (pair_labels >= 0).any():
                relation_loss = nn.functional.cross_entropy(
                    relation_logits.flatten(0, 1).float(), pair_labels.flatten(), ignore_index=-100)
                loss = loss + self.config.relation_loss_weight * relation_loss
        return RasdOutput(loss=loss, tag_loss=tag_loss, relation_loss=relation_loss, tag_logits=tag_logits,
                          relation_logits=relation_logits, hidden_states=words)


def encoder_from_config(config) -> nn.Module:
    """A randomly initialised encoder for ``config``, without the pooler where the model allows it."""
    # The pooler is unused by both heads; BERT-like models drop it on request, others do not know the flag.
    try:
        return AutoModel.from_config(config, add_pooling_layer=False)
    except TypeError:
        return AutoModel.from_config(config)


def _encoder_from_pretrained(name_or_path):
    try:
        return AutoModel.from_pretrained(name_or_path, add_pooling_layer=False)
    except TypeError:
        return AutoModel.from_pretrained(name_or_path)


def check_schema_matches(saved: Schema, wanted: Schema, where: object = "the checkpoint") -> None:
    """Raise ``SchemaMismatchError`` listing the differences between two schemas' labels."""
    problems = []
    for name in ("entities", "triggers"):
        a, b = list(getattr(saved, name)), list(getattr(wanted, name))
        if a != b:
            problems.append(f"{name}: checkpoint {a} vs schema {b}")
    # relation order is not compared: the config's JSON sorts mapping keys, and the relation
    # head's classes are fixed by relation_id2label anyway
    if set(saved.relation_labels) != set(wanted.relation_labels):
        problems.append(f"relations: checkpoint {sorted(saved.relation_labels)} vs schema {sorted(wanted.relation_labels)}")
    if problems:
        raise SchemaMismatchError(
            f"{where} was trained with other labels than the schema given ({'; '.join(problems)}). "
            "Train a new model with this schema (rasd train --config ...), or drop the schema argument "
            "to use the checkpoint's own labels.")


def register_auto_classes() -> None:
    """Make ``AutoConfig``/``AutoModel`` resolve ``model_type: rasd`` directories."""
    try:
        AutoConfig.register("rasd", RasdConfig)
        AutoModel.register(RasdConfig, RasdModel)
    except ValueError:
        pass  # already registered in this process


register_auto_classes()
