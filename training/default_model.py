"""The embedded default encoder: a WordPiece tokenizer trained on our own text plus a small random BERT.

It is written as an ordinary Hugging Face directory, so ``AutoModel``/``AutoTokenizer`` load it
exactly as they load ``CAMeL-Lab/bert-base-arabic-camelbert-msa``, and every later step takes
either one through the same ``from_pretrained`` path.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Iterable, Iterator

from rasd.inference.text import NormalizationOptions, normalize_word, split_words

logger = logging.getLogger(__name__)

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@dataclass
class DefaultEncoderSpec:
    """Size of the offline default BERT (random weights)."""

    vocab_size: int = 8000
    hidden_size: int = 256
    num_hidden_layers: int = 4
    num_attention_heads: int = 4
    intermediate_size: int = 1024
    max_position_embeddings: int = 512
    min_frequency: int = 2  # a word seen fewer times is left to its pieces (1: every training word is whole)


def word_stream(texts: Iterable[str], options: NormalizationOptions | None = None) -> Iterator[str]:
    """Texts as the tokenizer will see them: the package's words, normalised, joined by spaces."""
    for text in texts:
        yield " ".join(normalize_word(text[s:e], options) for s, e in split_words(text))


def train_wordpiece(texts: Iterable[str], vocab_size: int, options: NormalizationOptions | None = None,
                    min_frequency: int = 2):
    """A BERT WordPiece tokenizer (transformers) trained on ``texts`` with the package's word splitter."""
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import BertTokenizer

    backend = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                        special_tokens=SPECIAL_TOKENS, continuing_subword_prefix="##")
    backend.train_from_iterator(word_stream(texts, options), trainer=trainer)
    # Arabic has no case; accent stripping would also fold marks the normaliser already handles.
    return BertTokenizer(vocab=backend.get_vocab(), do_lower_case=False, strip_accents=False,
                         tokenize_chinese_chars=False)


def build_default_encoder(texts: Iterable[str], out_dir: str | os.PathLike, spec: DefaultEncoderSpec | None = None,
                          seed: int = 0) -> str:
    """Write tokenizer + config + random weights of the small default BERT to ``out_dir``."""
    import torch
    from transformers import BertConfig, BertModel

    spec = spec or DefaultEncoderSpec()
    tokenizer = train_wordpiece(texts, spec.vocab_size, min_frequency=spec.min_frequency)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=spec.hidden_size, num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads, intermediate_size=spec.intermediate_size,
        max_position_embeddings=spec.max_position_embeddings, pad_token_id=tokenizer.pad_token_id)
    model = BertModel(config, add_pooling_layer=False)
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    logger.info("default encoder: vocabulary %d, %.1fM parameters -> %s", len(tokenizer),
                sum(p.numel() for p in model.parameters()) / 1e6, out_dir)
    return str(out_dir)


def build_random_like(encoder: str | os.PathLike, out_dir: str | os.PathLike, seed: int = 0) -> str:
    """Write ``encoder``'s tokenizer and architecture with fresh random weights to ``out_dir``.

    The control arm of a pretraining comparison: the same vocabulary and size, none of what
    pretraining learned, so a difference in fine-tuning is the pretraining's doing.
    """
    import torch
    from transformers import AutoConfig, AutoTokenizer

    from rasd.inference.modeling import encoder_from_config

    config = AutoConfig.from_pretrained(encoder)
    tokenizer = AutoTokenizer.from_pretrained(encoder)
    torch.manual_seed(seed)
    model = encoder_from_config(config)
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    logger.info("random weights shaped like %s -> %s", encoder, out_dir)
    return str(out_dir)
