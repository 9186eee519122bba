"""The embedded default encoder: a WordPiece tokenizer trained on our own text plus a small random BERT.

It is written as an ordinary Hugging Face directory, so ``AutoModel``/``AutoTokenizer`` load it
exactly as they load ``CAMeL-Lab/bert-base-arabic-camelbert-msa``, and every later step takes
either one through the same ``from_pretrained`` path.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator, Sequence

from rasd.inference.text import NormalizationOptions, normalize_word, split_words

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@dataclass
class DefaultEncoderSpec:
    """Size of the offline default BERT.

    By default it has no transformer layer: on a few thousand sentences, layers trained from
    random weights learn less than the word-level parts above them (char-CNN, word features,
    BiLSTM, CRF), so the encoder is the subtoken embedding table those parts start from; words
    seen once are left to their pieces, so the pieces an unseen word is made of are trained too.
    """

    vocab_size: int = 8000
    hidden_size: int = 256
    num_hidden_layers: int = 0
    num_attention_heads: int = 4
    intermediate_size: int = 1024
    max_position_embeddings: int = 512
    min_frequency: int = 2  # a word seen fewer times is left to its pieces (1: every training word is whole)
    vector_epochs: int = 0  # >0: start the embeddings from fastText vectors trained on the corpus for this many epochs


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
    """Write tokenizer + config + weights of the small default BERT to ``out_dir``: random, or
    with ``spec.vector_epochs`` its subtoken embeddings started from fastText vectors of the corpus."""
    import torch
    from transformers import BertConfig, BertModel

    spec = spec or DefaultEncoderSpec()
    texts = list(texts)
    tokenizer = train_wordpiece(texts, spec.vocab_size, min_frequency=spec.min_frequency)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer), hidden_size=spec.hidden_size, num_hidden_layers=spec.num_hidden_layers,
        num_attention_heads=spec.num_attention_heads, intermediate_size=spec.intermediate_size,
        max_position_embeddings=spec.max_position_embeddings, pad_token_id=tokenizer.pad_token_id)
    model = BertModel(config, add_pooling_layer=False)
    with torch.no_grad():
        if spec.vector_epochs:
            vectors = train_subword_vectors(texts, spec.hidden_size, spec.vector_epochs, seed=seed)
            model.embeddings.word_embeddings.weight.copy_(torch.from_numpy(subtoken_vectors(tokenizer, vectors)))
        if spec.vector_epochs or not spec.num_hidden_layers:
            # without layers (a BiLSTM reads the order) or with vectors that carry the meaning,
            # positions start at nothing rather than at noise added to every word
            model.embeddings.position_embeddings.weight.zero_()
            model.embeddings.token_type_embeddings.weight.zero_()
    os.makedirs(out_dir, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    logger.info("default encoder: vocabulary %d, %.1fM parameters -> %s", len(tokenizer),
                sum(p.numel() for p in model.parameters()) / 1e6, out_dir)
    return str(out_dir)


def train_subword_vectors(texts: Sequence[str], size: int, epochs: int, seed: int = 0, min_count: int = 3):
    """fastText skip-gram vectors (gensim) of the package's normalised words, with character
    2-5-grams, so any word, seen or not, gets a vector from its letters."""
    try:
        from gensim.models import FastText
    except ImportError as err:
        raise ModuleNotFoundError("subword vectors need gensim: pip install 'rasd[vectors]'") from err
    sentences = [line.split() for line in word_stream(texts)]
    model = FastText(vector_size=size, window=5, min_count=min_count, sg=1, min_n=2, max_n=5, epochs=epochs,
                     workers=max(1, min(4, os.cpu_count() or 1)), seed=seed, bucket=500_000)
    model.build_vocab(corpus_iterable=sentences)
    model.train(corpus_iterable=sentences, total_examples=len(sentences), epochs=epochs)
    logger.info("fastText: %d words, %d dimensions, %d epochs", len(model.wv), size, epochs)
    return model.wv


def subtoken_vectors(tokenizer, vectors) -> "np.ndarray":
    """One row per vocabulary entry: the fastText vector of the subtoken's letters (a ``##``
    continuation piece is read without its prefix), zeros for the special tokens, each row scaled
    to BERT's initial embedding norm so the rest of the network starts in familiar ranges."""
    import numpy as np

    vocab = tokenizer.get_vocab()
    table = np.zeros((len(vocab), vectors.vector_size), dtype=np.float32)
    for piece, index in vocab.items():
        if piece in SPECIAL_TOKENS:
            continue
        table[index] = vectors[piece.removeprefix("##")]
    norms = np.linalg.norm(table, axis=1, keepdims=True)
    target = 0.02 * np.sqrt(vectors.vector_size)  # the norm of a N(0, 0.02²) row
    return np.where(norms > 0, table / np.maximum(norms, 1e-12) * target, table).astype(np.float32)


def corpus_texts(path: str | os.PathLike) -> Iterator[str]:
    """The texts of a corpus file, annotated or not: CoNLL sentences, or the ``text`` of each
    record of a JSONL file (``.gz`` read as gzip), such as the raw news articles."""
    import gzip
    import json

    from .convert import CONLL_EXTENSIONS, read_conll

    path = str(path)
    if path.endswith(CONLL_EXTENSIONS):
        yield from (d.text for d in read_conll(path))
        return
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if line.strip():
                record = json.loads(line)
                if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                    raise ValueError(f"{path}:{n}: a corpus record needs a 'text' string")
                yield record["text"]


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
