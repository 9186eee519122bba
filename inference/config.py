"""``RasdConfig``: the single source of truth of a saved rasd model.

It carries the encoder's own config, the label schema, both heads' label maps, the word
splitter, the normalisation and the window sizes, so a model directory needs nothing else.
"""
from __future__ import annotations

from typing import Any

from transformers import AutoConfig, PretrainedConfig
from transformers.configuration_utils import SubConfigSpec

from .schema import OUTSIDE, Schema
from .text import NormalizationOptions

from . import __version__ as RASD_VERSION


class RasdConfig(PretrainedConfig):
    model_type = "rasd"
    sub_configs_defaults = {"encoder": SubConfigSpec(config_class=AutoConfig, model_type="bert")}

    encoder: PretrainedConfig | dict | None = None  # the wrapped encoder's config (any BERT-like model)
    schema: dict | None = None  # the label schema (Schema.to_dict())
    relation_id2label: dict | None = None  # relation head classes; 0 is the no-relation class
    word_splitter: str = "arabic"  # how text is cut into words: "arabic" or "whitespace"
    normalization: dict | None = None  # NormalizationOptions applied to each word before tokenizing
    max_length: int = 512  # subtokens per encoder window, special tokens included
    window_stride: int = 128  # subtokens shared by consecutive windows of a long document
    relation_max_sentences: int = 1  # pairs may be up to this many sentences apart (0: same sentence)
    relation_max_subtokens: int = 128  # and at most this many subtokens apart
    relation_hidden_size: int = 256  # width of the relation scorer's hidden layer
    label_embedding_size: int = 32  # size of the span-label embedding fed to the relation head
    distance_buckets: int = 8  # log-spaced buckets of signed word distance between the two spans
    classifier_dropout: float = 0.1  # dropout before both heads
    relation_loss_weight: float = 1.0  # weight of the relation loss beside the tagging loss
    rasd_version: str = RASD_VERSION  # package version that wrote the model

    def __post_init__(self, **kwargs: Any) -> None:
        super().__post_init__(**kwargs)
        if self.schema is None:
            return  # a bare config (AutoConfig round trips); RasdModel refuses to build without a schema
        schema = Schema.from_dict(self.schema)
        tags = list(schema.bio_labels)
        if self.id2label is None or len(self.id2label) != len(tags) or list(self.id2label.values()) != tags:
            self.id2label = dict(enumerate(tags))
        if OUTSIDE not in self.id2label.values():
            raise ValueError("the tag set of a rasd model must contain 'O'")
        self.label2id = {v: k for k, v in self.id2label.items()}
        self.relation_id2label = {int(k): v for k, v in (self.relation_id2label or {}).items()} or dict(
            enumerate(schema.relation_classes))
        self.normalization = NormalizationOptions.from_dict(self.normalization).to_dict()

    @property
    def label_schema(self) -> Schema:
        if self.schema is None:
            raise ValueError("this RasdConfig carries no label schema")
        return Schema.from_dict(self.schema)

    @property
    def normalization_options(self) -> NormalizationOptions:
        return NormalizationOptions.from_dict(self.normalization)

    @property
    def relation_label2id(self) -> dict[str, int]:
        return {v: k for k, v in self.relation_id2label.items()}
