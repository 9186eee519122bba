"""The ``rasd pretrain`` config: typed sections read from YAML (see ``configs/pretrain/*.yaml``).

Only dataclasses and checks: importing it loads neither torch nor datasets, so ``rasd pretrain
--help`` can list every key.
"""
from __future__ import annotations

from dataclasses import dataclass

from rasd.inference.text import NormalizationOptions

from .configuration import ConfigError, field


@dataclass
class PretrainModelSection:
    init_from: str = field("", "hub id or directory of a masked-LM checkpoint to continue; empty: new BERT from scratch")
    add_domain_tokens: int = field(0, "continuing: add this many frequent corpus words that the checkpoint's tokenizer "
                                      "splits; their embeddings start at the mean of their old pieces")
    tokenizer_docs: int = field(0, "training documents read to train the tokenizer or count domain words (0: all)")
    normalization: dict = field({}, "text folds before tokenizing (rasd.inference.text.NormalizationOptions); "
                                    "give rasd train the same")
    vocab_size: int = field(24000, "scratch: WordPiece vocabulary size")
    min_frequency: int = field(2, "scratch: fewest occurrences of a WordPiece merge")
    hidden_size: int = field(256, "scratch: hidden width")
    num_hidden_layers: int = field(4, "scratch: transformer layers")
    num_attention_heads: int = field(4, "scratch: attention heads")
    intermediate_size: int = field(1024, "scratch: feed-forward width")
    max_position_embeddings: int = field(512, "scratch: longest input the encoder will ever take")
    dropout: float = field(0.1, "scratch: hidden and attention dropout while pretraining (0 learns faster on short "
                                "budgets); the saved encoder carries BERT's 0.1 for fine-tuning")

    def __post_init__(self) -> None:
        NormalizationOptions.from_dict(self.normalization)  # fail at load time on an unknown fold
        if self.add_domain_tokens and not self.init_from:
            raise ConfigError("model.add_domain_tokens needs model.init_from (a scratch tokenizer already has the "
                              "corpus words)")


@dataclass
class PretrainDataSection:
    train: list[str] = field([], "training corpora: .txt (a document per line), .jsonl or .jsonl.gz files or globs")
    validation: list[str] = field([], "validation corpora; empty: hold out the first validation_docs training docs")
    text_field: str = field("text", "the field of a JSONL record that holds the text")
    validation_docs: int = field(200, "documents scored for validation loss and perplexity")
    seq_length: int = field(128, "subtokens per packed sequence, [CLS] and [SEP] included")
    shuffle_buffer: int = field(10000, "documents, then packed sequences, shuffled in buffers this big (0: file order)")

    def __post_init__(self) -> None:
        if self.seq_length < 8:
            raise ConfigError(f"data.seq_length must be at least 8, got {self.seq_length}")
        if self.validation_docs < 1:
            raise ConfigError("data.validation_docs must be at least 1")


@dataclass
class PretrainTrainSection:
    output_dir: str = field("runs/pretrain", "where the model, tokenizer, checkpoints and metrics are written")
    max_steps: int = field(10000, "optimizer updates (the corpus is read again as often as needed)")
    batch_size: int = field(32, "sequences per device per step")
    grad_accum: int = field(1, "steps accumulated per optimizer update")
    lr: float = field(5e-4, "peak learning rate")
    warmup_ratio: float = field(0.06, "share of updates spent warming the learning rate up, then linear decay to 0")
    weight_decay: float = field(0.01, "AdamW weight decay (not on biases and LayerNorm)")
    max_grad_norm: float = field(1.0, "gradient clipping norm")
    mlm_probability: float = field(0.15, "share of words (or tokens) chosen for prediction")
    whole_word_mask: bool = field(True, "choose whole words (all their pieces) rather than single subtokens")
    masked_only: bool = field(True, "run the MLM head on masked positions only (same loss, far less compute)")
    mixed_precision: str = field("no", "no, fp16 or bf16 (GPU)")
    seed: int = field(42, "seed of weights, shuffling, masking and dropout")
    checkpoint_every: int = field(500, "optimizer updates between resumable checkpoints (one is written at the end)")
    eval_every: int = field(500, "optimizer updates between validation scores (0: only before and after)")
    log_every: int = field(20, "optimizer updates between lines of metrics.jsonl")
    progress_bar: bool = field(True, "show a progress bar with loss and tokens/s")

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ConfigError("train.max_steps must be at least 1: a streamed corpus has no length to stop at")
        if not 0 < self.mlm_probability < 1:
            raise ConfigError(f"train.mlm_probability must be in (0, 1), got {self.mlm_probability}")
        if self.mixed_precision not in ("no", "fp16", "bf16"):
            raise ConfigError(f"train.mixed_precision must be no, fp16 or bf16, got {self.mixed_precision!r}")


@dataclass
class PretrainConfig:
    model: PretrainModelSection = field(PretrainModelSection(), "the encoder and its tokenizer")
    data: PretrainDataSection = field(PretrainDataSection(), "the text corpora")
    train: PretrainTrainSection = field(PretrainTrainSection(), "the optimisation")
