"""The model definition, in one place and in pure Python: what a rasd model is, apart from its weights.

``ModelOptions`` declares every setting of a model once, each with its default and its meaning.
``RasdConfig`` (the Hugging Face config saved with the weights) inherits it, the ``model:``
section of a training config inherits it, and the ONNX extractor reads it back from
``config.json`` without torch or transformers. ``ModelDefinition`` joins the options to a label
schema and answers the questions every stage asks the same way: the tag and relation label
maps, and which words a document has (``words_of``).
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Mapping

from .documents import Document
from .schema import Schema
from .text import NormalizationOptions, split_words


def field(default: Any, help: str, **kwargs: Any) -> Any:
    """A dataclass field with a default and a one-line meaning (shown by ``rasd train --help``)."""
    if isinstance(default, (list, dict)) or dataclasses.is_dataclass(default):
        return dataclasses.field(default_factory=lambda: copy.deepcopy(default), metadata={"help": help}, **kwargs)
    return dataclasses.field(default=default, metadata={"help": help}, **kwargs)


@dataclass
class ModelOptions:
    """Every setting of a rasd model besides its encoder and label schema."""

    word_splitter: str = field("arabic", "how text is cut into words: arabic or whitespace")
    normalization: dict = field({}, "text folds before tokenizing (see rasd.inference.text.NormalizationOptions)")
    max_length: int = field(512, "subtokens per encoder window, special tokens included (capped by the encoder)")
    window_stride: int = field(128, "subtokens shared by consecutive windows of a long document")
    relation_max_sentences: int = field(1, "relation candidates at most this many sentences apart (0: same sentence)")
    relation_max_subtokens: int = field(128, "relation candidates at most this many subtokens apart")
    relation_hidden_size: int = field(256, "hidden width of the relation scorer")
    label_embedding_size: int = field(32, "size of the span-label and distance embeddings of the relation scorer")
    distance_buckets: int = field(8, "log-spaced buckets of signed word distance between two spans")
    classifier_dropout: float = field(0.1, "dropout before both heads")
    relation_loss_weight: float = field(1.0, "weight of the relation loss beside the tagging loss")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> "ModelOptions":
        """The options found in ``raw`` (a config dict, a ``RasdConfig``'s attributes); others keep their defaults."""
        return cls(**{name: raw[name] for name in cls.names() if name in raw and raw[name] is not None})

    def to_dict(self) -> dict[str, Any]:
        return {name: copy.deepcopy(getattr(self, name)) for name in self.names()}


def words_of(doc: Document, word_splitter: str = "arabic") -> list[tuple[int, int]]:
    """Character ranges of the words of ``doc``: the tokens it came with (a document converted
    from CoNLL keeps them in ``meta['tokenization']``), else ``word_splitter``'s words."""
    return split_words(doc.text, (doc.meta or {}).get("tokenization", word_splitter))


@dataclass(frozen=True)
class ModelDefinition:
    """A label schema and the model options: everything that decides how text becomes model input
    and how model output becomes spans and relations."""

    schema: Schema
    options: ModelOptions = dataclasses.field(default_factory=ModelOptions)
    saved_relation_id2label: Mapping[int, str] | None = None  # as saved with a model (authoritative)

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> "ModelDefinition":
        """The definition stored in a rasd ``config.json`` (or ``RasdConfig.to_dict()``)."""
        if raw.get("schema") is None:
            raise ValueError("this config carries no label schema: it is not a trained rasd model")
        relations = raw.get("relation_id2label") or None
        return cls(Schema.from_dict(raw["schema"]), ModelOptions.from_mapping(raw),
                   {int(k): v for k, v in relations.items()} if relations else None)

    @cached_property
    def id2label(self) -> dict[int, str]:
        """Tag classes of the tagging head (O, then B-/I- of every span label)."""
        return dict(enumerate(self.schema.bio_labels))

    @cached_property
    def label2id(self) -> dict[str, int]:
        return {v: k for k, v in self.id2label.items()}

    @cached_property
    def relation_id2label(self) -> dict[int, str]:
        """Classes of the relation head; 0 is the no-relation class."""
        return dict(self.saved_relation_id2label or enumerate(self.schema.relation_classes))

    @cached_property
    def relation_label2id(self) -> dict[str, int]:
        return {v: k for k, v in self.relation_id2label.items()}

    @cached_property
    def normalization(self) -> NormalizationOptions:
        return NormalizationOptions.from_dict(self.options.normalization)

    def words_of(self, doc: Document) -> list[tuple[int, int]]:
        return words_of(doc, self.options.word_splitter)

    def document_encoder(self, tokenizer):
        """The ``DocumentEncoder`` that cuts documents into this model's words and windows."""
        from .encoding import DocumentEncoder

        o = self.options
        return DocumentEncoder(tokenizer, o.max_length, o.window_stride, o.word_splitter, self.normalization)


__all__ = ["ModelDefinition", "ModelOptions", "field", "words_of"]
