"""``RasdModel``: any Hugging Face BERT-like encoder with a BIO tagging head and a span-pair relation head."""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PreTrainedModel
from transformers.utils import ModelOutput

from .config import RASD_VERSION, RasdConfig
from .schema import NO_RELATION, Schema

logger = logging.getLogger(__name__)


@dataclass
class RasdOutput(ModelOutput):
    loss: torch.Tensor | None = None
    tag_loss: torch.Tensor | None = None
    relation_loss: torch.Tensor | None = None
    tag_logits: torch.Tensor | None = None  # [batch, subtokens, tags]
    relation_logits: torch.Tensor | None = None  # [batch, pairs, relation classes]
    hidden_states: torch.Tensor | None = None  # [batch, subtokens, hidden]


class SchemaMismatchError(ValueError):
    """A checkpoint whose labels differ from the schema the caller asked for."""


def distance_bucket(distance: torch.Tensor, buckets: int) -> torch.Tensor:
    """Signed log-spaced bucket of a word distance: 0 is adjacent, sign keeps the direction."""
    magnitude = torch.clamp(torch.log2(distance.abs().float() + 1).long(), max=buckets - 1)
    return torch.where(distance < 0, buckets + magnitude, magnitude)


class SpanPairScorer(nn.Module):
    """Scores ordered (head span, tail span) pairs from their endpoints, labels, the context between them and their distance."""

    def __init__(self, config: RasdConfig, hidden: int, num_span_labels: int, num_classes: int) -> None:
        super().__init__()
        self.buckets = config.distance_buckets
        self.label_embedding = nn.Embedding(num_span_labels, config.label_embedding_size)
        self.distance_embedding = nn.Embedding(2 * config.distance_buckets, config.label_embedding_size)
        span_size = 2 * hidden + config.label_embedding_size
        self.mlp = nn.Sequential(
            nn.Linear(2 * span_size + hidden + config.label_embedding_size, config.relation_hidden_size),
            nn.GELU(),
            nn.Dropout(config.classifier_dropout),
            nn.Linear(config.relation_hidden_size, num_classes),
        )

    def forward(
        self,
        hidden: torch.Tensor,  # [B, T, H]
        span_bounds: torch.Tensor,  # [B, S, 2] first and last subtoken of each span
        span_labels: torch.Tensor,  # [B, S]
        span_words: torch.Tensor,  # [B, S] index of the span's first word (for distances)
        pairs: torch.Tensor,  # [B, P, 2] indices into the spans
    ) -> torch.Tensor:
        batch = torch.arange(hidden.size(0), device=hidden.device)[:, None]
        starts, ends = span_bounds[..., 0], span_bounds[..., 1]
        spans = torch.cat([hidden[batch, starts], hidden[batch, ends], self.label_embedding(span_labels)], dim=-1)
        head, tail = pairs[..., 0], pairs[..., 1]
        head_repr, tail_repr = spans[batch, head], spans[batch, tail]
        # Mean of the subtokens strictly between the two spans, through a prefix sum so the cost
        # stays linear in the number of pairs (no [pairs, tokens, hidden] tensor).
        prefix = torch.cat([torch.zeros_like(hidden[:, :1]), hidden.cumsum(dim=1)], dim=1)
        left_end = torch.minimum(ends[batch, head], ends[batch, tail]) + 1
        right_start = torch.maximum(starts[batch, head], starts[batch, tail])
        gap = (right_start - left_end).clamp(min=0)
        right_start = left_end + gap
        between = (prefix[batch, right_start] - prefix[batch, left_end]) / gap.clamp(min=1).unsqueeze(-1)
        distance = span_words[batch, tail] - span_words[batch, head]
        features = torch.cat(
            [head_repr, tail_repr, between, self.distance_embedding(distance_bucket(distance, self.buckets))], dim=-1)
        return self.mlp(features)


class RasdPreTrainedModel(PreTrainedModel):
    config_class = RasdConfig
    base_model_prefix = "rasd"
    supports_gradient_checkpointing = True

    def _init_weights(self, module: nn.Module) -> None:
        # The encoder initialises (or loads) itself; only the heads start here.
        std = 0.02
        if isinstance(module, nn.Linear):
            module.weight.data.normal_(mean=0.0, std=std)
            if module.bias is not None:
                module.bias.data.zero_()
        elif isinstance(module, nn.Embedding):
            module.weight.data.normal_(mean=0.0, std=std)


class RasdModel(RasdPreTrainedModel):
    """Encoder → dropout → linear BIO tagger, plus a ``SpanPairScorer`` over the schema's allowed pairs."""

    def __init__(self, config: RasdConfig) -> None:
        super().__init__(config)
        if config.schema is None:
            raise ValueError("RasdModel needs a config with a label schema: use RasdModel.from_encoder(..., schema=...)")
        self.schema = config.label_schema
        self.encoder = encoder_from_config(config.encoder)
        hidden = config.encoder.hidden_size
        self.dropout = nn.Dropout(config.classifier_dropout)
        self.tagger = nn.Linear(hidden, len(config.id2label))
        span_labels = self.schema.span_labels
        self.relations = SpanPairScorer(config, hidden, len(span_labels), len(config.relation_id2label))
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
        model = super().from_pretrained(*args, **kwargs)
        saved = model.config.label_schema
        if schema is not None:
            check_schema_matches(saved, schema, args[0] if args else kwargs.get("pretrained_model_name_or_path"))
        if model.config.rasd_version != RASD_VERSION:
            logger.warning("%s was saved by rasd %s; this is rasd %s", args[0] if args else "model",
                           model.config.rasd_version, RASD_VERSION)
        return model

    # ------------------------------------------------------------------ forward
    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state

    def relation_logits(self, hidden, span_bounds, span_labels, span_words, pairs) -> torch.Tensor:
        logits = self.relations(self.dropout(hidden), span_bounds, span_labels, span_words, pairs)
        batch = torch.arange(hidden.size(0), device=hidden.device)[:, None]
        table = self.allowed_table(logits.device)
        allowed = table[span_labels[batch, pairs[..., 0]], span_labels[batch, pairs[..., 1]]]
        # Pairs the schema forbids can only be "no relation": the head never learns them.
        return logits.masked_fill(~allowed, torch.finfo(logits.dtype).min)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        labels: torch.Tensor | None = None,
        span_bounds: torch.Tensor | None = None,
        span_labels: torch.Tensor | None = None,
        span_words: torch.Tensor | None = None,
        pairs: torch.Tensor | None = None,
        pair_labels: torch.Tensor | None = None,
        **_: torch.Tensor,
    ) -> RasdOutput:
        hidden = self.encode(input_ids, attention_mask)
        tag_logits = self.tagger(self.dropout(hidden))
        relation_logits = None
        if pairs is not None and pairs.size(1) > 0:
            relation_logits = self.relation_logits(hidden, span_bounds, span_labels, span_words, pairs)
        loss = tag_loss = relation_loss = None
        if labels is not None:
            tag_loss = nn.functional.cross_entropy(tag_logits.flatten(0, 1).float(), labels.flatten(), ignore_index=-100)
            loss = tag_loss
            if relation_logits is not None and pair_labels is not None and (pair_labels >= 0).any():
                relation_loss = nn.functional.cross_entropy(
                    relation_logits.flatten(0, 1).float(), pair_labels.flatten(), ignore_index=-100)
                loss = loss + self.config.relation_loss_weight * relation_loss
        return RasdOutput(loss=loss, tag_loss=tag_loss, relation_loss=relation_loss, tag_logits=tag_logits,
                          relation_logits=relation_logits, hidden_states=hidden)


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
