"""``RasdConfig``: the Hugging Face config saved with a rasd model's weights.

It is the model definition (``ModelOptions``: every setting, declared once in
``rasd.inference.definition``) plus the encoder's own config, the label schema and both heads'
label maps, so a model directory needs nothing else.
"""
from __future__ import annotations

from typing import Any

from transformers import AutoConfig, PretrainedConfig
from transformers.configuration_utils import SubConfigSpec

from .definition import ModelDefinition, ModelOptions
from .schema import OUTSIDE, Schema
from .text import NormalizationOptions

from . import __version__ as RASD_VERSION


class RasdConfig(PretrainedConfig, ModelOptions):
    model_type = "rasd"
    sub_configs_defaults = {"encoder": SubConfigSpec(config_class=AutoConfig, model_type="bert")}

    encoder: PretrainedConfig | dict | None = None  # the wrapped encoder's config (any BERT-like model)
    schema: dict | None = None  # the label schema (Schema.to_dict())
    relation_id2label: dict | None = None  # relation head classes; 0 is the no-relation class
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
    def definition(self) -> ModelDefinition:
        """The pure-Python model definition this config carries."""
        if self.schema is None:
            raise ValueError("this RasdConfig carries no label schema")
        return ModelDefinition(Schema.from_dict(self.schema), ModelOptions.from_mapping(vars(self)),
                               self.relation_id2label)

    @property
    def options(self) -> ModelOptions:
        return ModelOptions.from_mapping(vars(self))

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
