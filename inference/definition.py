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
    # Word-level parts between the encoder and the heads; each is off at its zero value, which
    # leaves the plain "first subtoken → linear" tagger of a fine-tuned BERT.
    char_embedding_size: int = field(0, "character embedding size of the char-CNN word vectors (0: no char-CNN)")
    char_filters: int = field(50, "char-CNN filters per kernel width")
    char_kernel_sizes: list = field([2, 3, 4], "char-CNN kernel widths, in characters")
    max_word_chars: int = field(24, "characters of a word the char-CNN reads (a longer word keeps both ends)")
    word_features: list = field([], "hashed word features: any of word, affixes, stem, shape, gazetteer ([]: none)")
    feature_buckets: int = field(65536, "hash buckets of the word features")
    feature_embedding_size: int = field(50, "size of the summed word-feature embedding")
    lstm_hidden_size: int = field(0, "hidden size per direction of a BiLSTM over the words (0: no BiLSTM)")
    lstm_layers: int = field(1, "stacked BiLSTM layers")
    word_dropout_rate: float = field(0.0, "dropout on the word vectors entering and leaving the BiLSTM")
    crf: bool = field(False, "learn BIO tag transitions (linear-chain CRF) instead of only forbidding illegal ones")
    pair_features: bool = field(False, "give the relation scorer the sentence gap, the triggers between and the nearness rank of each pair")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> "ModelOptions":
        """The options found in ``raw`` (a config dict, a ``RasdConfig``'s attributes); others keep their defaults."""
        return cls(**{name: raw[name] for name in cls.names() if name in raw and raw[name] is not None})

    def to_dict(self) -> dict[str, Any]:
        return {name: copy.deepcopy(getattr(self, name)) for name in self.names()}


# The oldest rasd whose saved models this version reads: 0.1 models tagged subtokens and had no
# word-level parts, so their weights do not fit the 0.2 heads.
OLDEST_READABLE_VERSION = (0, 2)


class ModelVersionError(ValueError):
    """A saved model written by a rasd whose models this rasd cannot load."""


def check_model_version(version: str | None, where: object = "the model") -> None:
    """Raise ``ModelVersionError`` naming the fix when ``version`` predates what this rasd reads."""
    try:
        parts = tuple(int(p) for p in str(version or "0").split(".")[:2])
    except ValueError:
        return  # a development version string: let the weights decide
    if parts < OLDEST_READABLE_VERSION:
        raise ModelVersionError(
            f"{where} was saved by rasd {version}, whose model tagged subtokens; rasd "
            f"{'.'.join(map(str, OLDEST_READABLE_VERSION))} and later tag words (with optional char-CNN, word "
            "features, BiLSTM and CRF), so its weights do not fit. Retrain it with this version: "
            "rasd train --config CONFIG.yaml (the run's config.yaml records the settings it was trained with).")


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

    @property
    def uses_word_inputs(self) -> bool:
        """Whether the model reads characters or word features besides the encoder's subtokens."""
        return bool(self.options.char_embedding_size or self.options.word_features)

    @cached_property
    def featurizer(self):
        """The ``WordFeaturizer`` of this model's character and feature inputs."""
        from .word_features import WordFeaturizer

        o = self.options
        return WordFeaturizer(o.word_features, o.feature_buckets, o.max_word_chars)

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


__all__ = ["ModelDefinition", "ModelOptions", "ModelVersionError", "check_model_version", "field", "words_of"]
