"""The ``rasd train`` config: typed sections read from YAML (see ``configs/*.yaml``)."""
from __future__ import annotations

from dataclasses import dataclass

from rasd.inference.definition import ModelOptions
from rasd.inference.word_features import read_lexicon

from .configuration import field


@dataclass
class ModelSection(ModelOptions):
    """The model to build: an encoder, a label schema and the model options (declared once, in
    ``rasd.inference.definition.ModelOptions``, and saved with the model)."""

    encoder: str = field("models/default-encoder", "hub id or local directory of the BERT-like encoder to fine-tune")
    schema: str = field("configs/schema/conflict.yaml", "label schema YAML (entity/trigger labels, relations, type rules)")

    lexicon_file: str = field("", "YAML of label -> words loaded into model.lexicon (e.g. "
                                  "configs/lexicons/conflict-ar-triggers.yaml; empty: model.lexicon as given)")

    def options(self) -> ModelOptions:
        options = ModelOptions.from_mapping(vars(self))
        if self.lexicon_file:
            options.lexicon = read_lexicon(self.lexicon_file)
        return options


@dataclass
class DataSection:
    train: str = field("data/conflict-ar/train.jsonl", "training documents (JSONL, or CoNLL by .conll extension)")
    dev: str = field("data/conflict-ar/dev.jsonl", "dev documents scored each epoch; empty: carve from train")
    test: str = field("data/conflict-ar/test.jsonl", "test documents scored once at the end (empty: none)")
    dev_fraction: float = field(0.1, "share of train held out as dev (in contiguous blocks) when dev is empty")
    negatives_per_positive: float = field(4.0, "sampled no-relation pairs per gold relation in a window")


@dataclass
class TrainSection:
    output_dir: str = field("runs/quickstart", "where the model, checkpoints, logs and scores are written")
    epochs: int = field(20, "passes over the training windows")
    batch_size: int = field(8, "windows per device per step")
    grad_accum: int = field(1, "steps accumulated per optimizer update")
    word_dropout: float = field(0.0, "share of training words replaced by the unknown token (and their word feature)")
    weight_average: float = field(0.0, "decay of a moving average of the weights that is scored and saved instead of "
                                       "the last weights (0: off; 0.99 averages about the last 100 updates)")
    lr: float = field(5e-5, "peak learning rate of the encoder")
    head_lr: float = field(1e-3, "peak learning rate of the two heads")
    weight_decay: float = field(0.01, "AdamW weight decay (not on biases and LayerNorm)")
    warmup_ratio: float = field(0.1, "share of updates spent warming the learning rate up")
    max_grad_norm: float = field(1.0, "gradient clipping norm")
    mixed_precision: str = field("no", "no, fp16 or bf16 (GPU)")
    seed: int = field(42, "seed of weights, dropout, batching and negative sampling")
    patience: int = field(5, "epochs without dev improvement before stopping (0: never stop early)")
    checkpoint_every: int = field(100, "optimizer updates between resumable checkpoints (0: only at epoch ends)")
    max_steps: int = field(0, "stop after this many optimizer updates (0: no limit)")
    eval_batch_size: int = field(16, "windows per forward pass when scoring")
    log_every: int = field(10, "optimizer updates between log lines")
    progress_bar: bool = field(True, "show a progress bar with loss and throughput")


@dataclass
class TrainConfig:
    model: ModelSection = field(ModelSection(), "the model to build")
    data: DataSection = field(DataSection(), "where the documents are")
    train: TrainSection = field(TrainSection(), "the optimisation")
