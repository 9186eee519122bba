"""``rasd pretrain``: masked-LM pretraining of a BERT-like encoder on raw Arabic text, with accelerate.

Two starts: continue any Hugging Face masked-LM checkpoint (domain adaptation, optionally adding
frequent domain words to its vocabulary), or train a WordPiece tokenizer on the corpus and a new
BERT from scratch. Corpora stream through ``datasets`` (memory stays flat in corpus size), are cut
into the package's words, tokenized, packed into sequences at word boundaries and masked by whole
words. Only what the loss reads is computed (``MaskedLM``): the MLM head and most of the last encoder
layer run at the masked positions alone, for the stock model's loss and gradients. On a CPU that is
most of the speed: ``benchmarks/pretrain_speed.py --threads 2`` (4 layers x 256, 24k vocabulary,
batches 64 x 128) trains 2.6-2.8x the stock ``BertForMaskedLM``'s tokens/s on two idle cores (best
steps; 2.4-2.7x at the median steps), against 2.2-2.3x with the head alone at the masked positions;
on cores busy with other work the ratio falls to about 2x.

The result, ``<output_dir>/model``, is an ordinary ``BertForMaskedLM``-style directory (weights and
tokenizer) that any ``rasd train`` config takes as ``model.encoder``.
"""
from __future__ import annotations

import logging
import math
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass
from functools import lru_cache, partial
from itertools import islice
from typing import Callable, Iterable, Iterator

import torch
from torch import nn

from rasd.inference.text import NormalizationOptions, normalize_word, split_words

from .configuration import ConfigError, field, save_config
from .runs import AcceleratedRun

logger = logging.getLogger(__name__)

MODEL_DIR = "model"
TOKENIZER_DIR = "tokenizer"
STATE_FILE = "pretrain_state.json"
PACK_DOCS = 64  # documents tokenized and packed together; each pack ends in at most one short sequence
IGNORE = -100  # label of unscored positions, as in every HF loss
FINE_TUNING_DROPOUT = 0.1  # BERT's own default, written into a scratch encoder's saved config


# ---------------------------------------------------------------------------------------- config
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


@dataclass
class PretrainState:
    """Where a run stands; saved with every checkpoint."""

    global_step: int = 0  # optimizer updates so far
    epoch: int = 0  # passes over the training stream begun
    tokens_seen: int = 0  # non-padding input tokens, all processes
    data_states: list | None = None  # per process, the training stream's position (IterableDataset.state_dict())


# ---------------------------------------------------------------------------------------- masking
def whole_word_mask(word_ids: torch.Tensor, probability: float,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """Choose ``round(probability * words)`` words of each row (at least one) and mark all their pieces.

    ``word_ids`` [batch, tokens] numbers the words of each row 0, 1, ... with -1 for [CLS], [SEP] and
    padding. Returns a bool tensor of the same shape, true on every piece of a chosen word and nowhere else.
    """
    chosen = _choose_words(word_ids, probability, generator)
    return chosen.gather(1, word_ids.clamp(min=0)) & (word_ids >= 0)


def _choose_words(word_ids: torch.Tensor, probability: float, generator: torch.Generator | None) -> torch.Tensor:
    """[batch, words] bool: an exact share of each row's words, picked uniformly."""
    n_words = word_ids.max(dim=1).values + 1  # rows without words give 0
    width = max(int(n_words.max()), 1)
    exists = torch.arange(width) < n_words[:, None]
    # Random ranks among a row's real words; absent words sort last and are never chosen.
    scores = torch.rand(word_ids.size(0), width, generator=generator).masked_fill(~exists, 2.0)
    rank = scores.argsort(dim=1).argsort(dim=1)
    k = (n_words * probability).round().clamp(min=1)
    return (rank < k[:, None]) & exists


def mask_tokens(input_ids: torch.Tensor, word_ids: torch.Tensor, mask_token_id: int, vocab_size: int,
                probability: float = 0.15, generator: torch.Generator | None = None,
                whole_word: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """BERT's corruption: of the chosen words, 80% become [MASK], 10% random tokens, 10% stay.

    The 80/10/10 draw is made once per word and applied to all its pieces, so a word is never half
    hidden. With ``whole_word=False`` every subtoken is its own word. Returns (inputs, labels), the
    labels holding the original ids at chosen positions and -100 elsewhere.
    """
    if not whole_word:
        # number the real tokens 0, 1, ... as words of one piece; -1 (special or padding) stays -1
        real = word_ids >= 0
        word_ids = torch.where(real, real.cumsum(dim=1) - 1, word_ids)
    selected = whole_word_mask(word_ids, probability, generator)
    action = torch.rand(word_ids.size(0), max(int(word_ids.max()) + 1, 1), generator=generator)
    action = action.gather(1, word_ids.clamp(min=0))  # the word's draw on each of its pieces
    to_mask = selected & (action < 0.8)
    to_random = selected & (action >= 0.8) & (action < 0.9)
    inputs = input_ids.masked_fill(to_mask, mask_token_id)
    random_ids = torch.randint(vocab_size, input_ids.shape, generator=generator)
    inputs = torch.where(to_random, random_ids, inputs)
    labels = input_ids.masked_fill(~selected, IGNORE)
    return inputs, labels


# ---------------------------------------------------------------------------------------- model
def mlm_head_name(model: nn.Module) -> str:
    """The attribute holding the module a masked-LM model applies to its encoder's hidden states
    (``cls`` in BERT, ``lm_head`` in RoBERTa)."""
    heads = [name for name, module in model.named_children() if module is not model.base_model]
    if len(heads) != 1:
        raise ValueError(f"{type(model).__name__} has no single MLM head module; set train.masked_only: false")
    return heads[0]


class MaskedLM(nn.Module):
    """A Hugging Face masked-LM model whose forward returns the MLM loss.

    ``masked_only`` computes only what the loss reads, the outputs at the masked positions: the head
    (a vocabulary-wide projection, the costliest layer of a small encoder) runs on those positions
    alone, and so does most of the last encoder layer, whose self-attention still takes its keys and
    values from every position (see :func:`last_layer_at`). Every other position's output never
    enters the loss, so it is the same number as the stock model's (and so are the gradients, and on
    the CPU even the dropout masks), at a fraction of the cost. The weights stay the stock model's.
    """

    def __init__(self, model: nn.Module, masked_only: bool = True) -> None:
        super().__init__()
        self.mlm = model
        self.masked_only = masked_only
        # the head's name, not the module: registered twice, its weights would be saved twice
        self.head_name = mlm_head_name(model) if masked_only else None
        self.last_layer_fallback = bert_like_fallback(model.base_model) if masked_only else None
        if self.last_layer_fallback:
            logger.info("masked-only loss: the last encoder layer runs on every position (%s)",
                        self.last_layer_fallback)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        if not self.masked_only:
            return self.mlm(input_ids=input_ids, attention_mask=attention_mask, labels=labels).loss
        head = getattr(self.mlm, self.head_name)
        # the scored positions in row-major order, the order of hidden[scored] and labels[scored]
        # (note: nonzero is a CPU-GPU sync point, once per step)
        rows, cols = (labels != IGNORE).nonzero(as_tuple=True)
        if self.last_layer_fallback or not len(rows):  # (nothing to score: the loss is nan, as the stock one)
            hidden = self.mlm.base_model(input_ids=input_ids, attention_mask=attention_mask)[0]
            scored = hidden[rows, cols]
        else:
            scored = self._encode_at(input_ids, attention_mask, rows, cols)
        logits = head(scored)
        return SoftmaxCrossEntropy.apply(logits.float(), labels[rows, cols])

    def _encode_at(self, input_ids: torch.Tensor, attention_mask: torch.Tensor, rows: torch.Tensor,
                   cols: torch.Tensor) -> torch.Tensor:
        """The encoder's last hidden states at (rows, cols): ``BertModel.forward`` step for step (the
        embeddings, the extended attention mask, the layers), but the last layer runs at (rows, cols) alone."""
        from transformers.masking_utils import create_bidirectional_mask

        base = self.mlm.base_model
        hidden = base.embeddings(input_ids=input_ids)
        mask = create_bidirectional_mask(config=base.config, inputs_embeds=hidden, attention_mask=attention_mask)
        *layers, last = base.encoder.layer
        for layer in layers:
            hidden = layer(hidden, mask)
            if isinstance(hidden, tuple):  # layers of some models still return (hidden states, ...)
                hidden = hidden[0]
        return last_layer_at(last, hidden, mask, rows, cols)


class SoftmaxCrossEntropy(torch.autograd.Function):
    """``nn.functional.cross_entropy(logits, target)`` (the mean over rows), its value and gradient, for
    vocabulary-wide logits [rows, classes]: one [rows, classes] buffer instead of three.

    The stock loss writes the log-probabilities to a new buffer, and its backward two more (zeros with
    -1 at the targets, then the gradient). Here the softmax is the only new buffer and the backward
    turns it into the gradient in place. On a CPU, where each new buffer of this size has its pages
    faulted in afresh, that is about half the cost of the loss. So its backward can run only once.
    """

    @staticmethod
    def forward(ctx, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        top = logits.amax(dim=1, keepdim=True)
        probs = torch.sub(logits, top).exp_()
        total = probs.sum(dim=1, keepdim=True)
        probs.div_(total)
        # log softmax at the target: logit - (top + log total)
        loss = (total.log_().add_(top) - logits.gather(1, target[:, None])).mean()
        ctx.save_for_backward(probs, target)
        ctx.spent = False
        return loss

    @staticmethod
    def backward(ctx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        if ctx.spent:
            raise RuntimeError("SoftmaxCrossEntropy turns its saved softmax into the gradient: backward runs once")
        ctx.spent = True
        probs, target = ctx.saved_tensors
        probs[torch.arange(len(target), device=target.device), target] -= 1
        return probs.mul_(grad / len(target)), None


# Attention implementations whose mask is a plain [batch, 1, queries, keys] tensor (or None) that
# can be cut to some query rows. flash_attention_2 takes a 2D padding mask and assumes that fewer
# queries than keys are the last ones (decoding); flex_attention takes a BlockMask.
ROW_MASK_ATTENTION = ("eager", "sdpa")


def bert_like_fallback(base: nn.Module) -> str | None:
    """Why :func:`last_layer_at` cannot stand in for the last layer of the encoder ``base``; None if it can.

    The shortcut calls the layer's submodules itself, so it holds only where they are BERT's (BERT,
    RoBERTa, XLM-R and their kin): anything else (relative positions, a decoder's cross-attention,
    an embedding projection, a new attention form) is run by its own code on every position instead.
    """
    if getattr(base, "config", None) is None:
        return "no config"
    config = base.config
    if getattr(config, "is_decoder", False) or getattr(config, "add_cross_attention", False):
        return "a decoder"
    if getattr(config, "_attn_implementation", None) not in ROW_MASK_ATTENTION:
        return f"attention implementation {getattr(config, '_attn_implementation', None)!r}"
    if {name for name, _ in base.named_children()} - {"embeddings", "encoder", "pooler"}:
        return f"{type(base).__name__} has modules other than embeddings, encoder and pooler"
    layers = getattr(getattr(base, "encoder", None), "layer", None)
    if not isinstance(layers, nn.ModuleList) or not len(layers):
        return "no encoder.layer list"
    last = layers[-1]
    sa = getattr(getattr(last, "attention", None), "self", None)
    out = getattr(getattr(last, "attention", None), "output", None)
    linear, norm, dropout = nn.Linear, nn.LayerNorm, nn.Dropout
    structure = [
        (sa, {"query": linear, "key": linear, "value": linear, "dropout": dropout}),
        (out, {"dense": linear, "LayerNorm": norm, "dropout": dropout}),
        (getattr(last, "output", None), {"dense": linear, "LayerNorm": norm, "dropout": dropout}),
    ]
    for module, parts in structure:
        if module is None or any(not isinstance(getattr(module, name, None), kind) for name, kind in parts.items()):
            return f"{type(last).__name__} is not laid out as a BertLayer"
    if not isinstance(getattr(last, "intermediate", None), nn.Module):
        return f"{type(last).__name__} has no intermediate (feed-forward) module"
    if getattr(sa, "position_embedding_type", "absolute") != "absolute":
        return f"position_embedding_type {sa.position_embedding_type!r}"  # scores depend on the query position
    heads, size = getattr(sa, "num_attention_heads", None), getattr(sa, "attention_head_size", None)
    if not heads or not size or heads * size != sa.query.out_features or not hasattr(sa, "scaling"):
        return f"{type(sa).__name__} has no num_attention_heads x attention_head_size = query width, or no scaling"
    return None


def stock_dropout_draw(like: torch.Tensor, shape: tuple[int, ...], p: float) -> torch.Tensor:
    """The 0/1 keep mask that ``nn.functional.dropout(x, p)`` draws for an ``x`` of ``shape`` (``like``'s
    dtype and device), which then multiplies ``x`` by ``mask / (1 - p)``.

    This is ATen's dropout on the CPU (an ``empty_like(x).bernoulli_(1 - p)``), so the mask is the one
    the stock layer would have drawn from the same random state, and the state moves on as far. (On
    a GPU, dropout draws otherwise: the masks differ from the stock ones, not their distribution.)
    """
    return torch.empty(shape, dtype=like.dtype, device=like.device).bernoulli_(1 - p)


def last_layer_at(layer: nn.Module, hidden: torch.Tensor, mask: torch.Tensor | None, rows: torch.Tensor,
                  cols: torch.Tensor) -> torch.Tensor:
    """The output of the BERT layer ``layer`` over ``hidden`` [batch, tokens, width] at the positions
    (rows, cols) only, [len(rows), width]: exactly ``layer(hidden, mask)[rows, cols]``.

    The keys and values come from every position, as in the stock layer; the queries, the attention
    output projection, the residual + LayerNorm and the feed-forward block run on the chosen
    positions alone. ``mask`` is the extended attention mask the layer would get (None, a bool mask
    true where attention is allowed, or an additive float mask), [batch or 1, 1, queries or 1, keys].

    Dropout is applied where the stock layer applies it and, in training, the masks are cut from a
    draw as large as the stock layer's, in its order, so the random stream (and on the CPU every
    mask, the attention dropout of the sdpa kernel included) is the same as when the whole layer runs.
    """
    sa, attention_out = layer.attention.self, layer.attention.output
    batch, tokens, _ = hidden.shape
    heads, head_size = sa.num_attention_heads, sa.attention_head_size
    n = len(rows)
    # The chosen positions of each sequence side by side, [batch, most chosen in a sequence]; the
    # slots a shorter sequence leaves free hold a zero query (at position 0), whose result is dropped.
    counts = torch.bincount(rows, minlength=batch)
    slots = torch.arange(n, device=rows.device) - (counts.cumsum(0) - counts)[rows]
    width_q = int(counts.max())  # note: a CPU-GPU sync point
    positions = cols.new_zeros(batch, width_q).index_put((rows, slots), cols)

    def split_heads(x: torch.Tensor) -> torch.Tensor:  # [batch, length, heads * size] -> [batch, heads, length, size]
        return x.view(batch, -1, heads, head_size).transpose(1, 2)

    x = hidden[rows, cols]  # the residual input at the chosen positions
    query = sa.query(x)
    query = split_heads(query.new_zeros(batch, width_q, query.size(-1)).index_put((rows, slots), query))
    key, value = split_heads(sa.key(hidden)), split_heads(sa.value(hidden))
    if mask is not None and mask.size(-2) != 1:  # the mask rows of the chosen queries
        mask = mask.expand(batch, -1, -1, -1)
        mask = mask.gather(2, positions[:, None, :, None].expand(-1, mask.size(1), -1, mask.size(3)))

    p = sa.dropout.p if sa.training else 0.0
    if p == 0:  # the same math as eager attention; sdpa takes either kind of mask
        context = nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=mask, scale=sa.scaling)
    else:  # eager_attention_forward's math, which is also that of sdpa's kernel with dropout on the CPU
        scores = torch.matmul(query, key.transpose(2, 3)) * sa.scaling
        if mask is not None and mask.dtype == torch.bool:
            scores = scores.masked_fill(~mask, torch.finfo(scores.dtype).min)
        elif mask is not None:
            scores = scores + mask
        probs = scores.softmax(dim=-1)
        # the stock layer's draw over all the query rows, cut to the chosen ones
        keep = stock_dropout_draw(probs, (batch, heads, tokens, tokens), p)
        probs = probs * keep.gather(2, positions[:, None, :, None].expand(-1, heads, -1, tokens)).div_(1 - p)
        context = torch.matmul(probs, value)
    context = context.transpose(1, 2).reshape(batch, width_q, heads * head_size)[rows, slots]

    def dropout_at(module: nn.Dropout, y: torch.Tensor) -> torch.Tensor:
        """``module`` applied to the whole [batch, tokens, width] output, read at the chosen positions."""
        if not module.training or module.p == 0:
            return y
        return y * stock_dropout_draw(y, (batch, tokens, y.size(-1)), module.p)[rows, cols].div_(1 - module.p)

    attended = attention_out.LayerNorm(dropout_at(attention_out.dropout, attention_out.dense(context)) + x)
    out = layer.output
    return out.LayerNorm(dropout_at(out.dropout, out.dense(layer.intermediate(attended))) + attended)


def build_model(section: PretrainModelSection, tokenizer) -> nn.Module:
    """A new BERT sized by ``section``, or the ``init_from`` checkpoint grown to the tokenizer's vocabulary."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer, BertConfig, BertForMaskedLM

    if not section.init_from:
        config = BertConfig(vocab_size=len(tokenizer), hidden_size=section.hidden_size,
                            num_hidden_layers=section.num_hidden_layers,
                            num_attention_heads=section.num_attention_heads,
                            intermediate_size=section.intermediate_size,
                            max_position_embeddings=section.max_position_embeddings,
                            hidden_dropout_prob=section.dropout, attention_probs_dropout_prob=section.dropout,
                            pad_token_id=tokenizer.pad_token_id)
        return BertForMaskedLM(config)
    model = AutoModelForMaskedLM.from_pretrained(section.init_from)
    base_tokenizer = AutoTokenizer.from_pretrained(section.init_from)
    new_ids = list(range(len(base_tokenizer), len(tokenizer)))
    if not new_ids:
        return model
    if len(tokenizer) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tokenizer), mean_resizing=False)  # old rows are kept as they are
    # A new word starts as the mean of the pieces the checkpoint knew it by, so it begins where the
    # model already was instead of at noise.
    words = tokenizer.convert_ids_to_tokens(new_ids)
    pieces = base_tokenizer(words, add_special_tokens=False)["input_ids"]
    with torch.no_grad():
        for layer in (model.get_input_embeddings(), model.get_output_embeddings()):  # tied: the same rows twice
            for new_id, old in zip(new_ids, pieces):
                layer.weight[new_id] = layer.weight[old].mean(dim=0)
                if getattr(layer, "bias", None) is not None:
                    layer.bias[new_id] = layer.bias[old].mean()
    logger.info("added %d domain words to the vocabulary of %s", len(new_ids), section.init_from)
    return model


# ---------------------------------------------------------------------------------------- tokenizer
def corpus_words(texts: Iterable[str], options: NormalizationOptions) -> Iterator[str]:
    """The package's words of ``texts``, normalised as the tokenizer sees them."""
    for text in texts:
        for start, end in split_words(text):
            yield normalize_word(text[start:end], options)


def frequent_new_words(texts: Iterable[str], tokenizer, count: int, options: NormalizationOptions) -> list[str]:
    """The ``count`` most frequent alphabetic words that ``tokenizer`` cuts into pieces or does not know."""
    frequency = Counter(corpus_words(texts, options))
    found = []
    for word, _ in frequency.most_common():
        if len(found) == count:
            break
        if not word.isalpha():
            continue  # numbers and punctuation gain nothing from a token of their own
        pieces = tokenizer.tokenize(word)
        if len(pieces) > 1 or pieces == [tokenizer.unk_token]:
            found.append(word)
    return found


def build_tokenizer(section: PretrainModelSection, texts: Iterable[str]):
    """The run's tokenizer: a WordPiece trained on ``texts`` (scratch), or the checkpoint's plus domain words."""
    from tokenizers import AddedToken
    from transformers import AutoTokenizer

    from .default_model import train_wordpiece

    options = NormalizationOptions.from_dict(section.normalization)
    if not section.init_from:
        tokenizer = train_wordpiece(texts, section.vocab_size, options, min_frequency=section.min_frequency)
        tokenizer.model_max_length = section.max_position_embeddings
        return tokenizer
    tokenizer = AutoTokenizer.from_pretrained(section.init_from)
    if section.add_domain_tokens:
        words = frequent_new_words(texts, tokenizer, section.add_domain_tokens, options)
        # single_word: the new token matches a whole word only, never the inside of a longer one
        tokenizer.add_tokens([AddedToken(w, single_word=True) for w in words])
    return tokenizer


# ---------------------------------------------------------------------------------------- data
def stream_texts(paths: list[str], text_field: str):
    """An IterableDataset with one ``text`` column over .txt / .jsonl / .jsonl.gz files, read lazily."""
    from datasets import concatenate_datasets, load_dataset

    by_kind: dict[str, list[str]] = {}
    for path in paths:
        name = path.removesuffix(".gz").removesuffix(".bz2").removesuffix(".xz")
        if name.endswith((".jsonl", ".json")):
            by_kind.setdefault("json", []).append(path)
        elif name.endswith(".txt"):
            by_kind.setdefault("text", []).append(path)
        else:
            raise ValueError(f"{path}: a corpus is .txt (a document per line), .jsonl or .jsonl.gz")
    parts = []
    for kind, files in by_kind.items():
        ds = load_dataset(kind, data_files=files, split="train", streaming=True)
        if kind == "json":
            ds = ds.select_columns([text_field])
            if text_field != "text":
                ds = ds.rename_column(text_field, "text")
        parts.append(ds)
    return parts[0] if len(parts) == 1 else concatenate_datasets(parts)


class SequencePacker:
    """Fills sequences ``[CLS] words [SEP] words ... [SEP]`` up to ``seq_length``, never cutting a word.

    Documents follow one another inside a sequence, each closed by [SEP]. ``word_ids`` numbers the
    words of each sequence from 0 (-1 on [CLS]/[SEP]), which is what whole-word masking needs.
    """

    def __init__(self, seq_length: int, cls_id: int, sep_id: int) -> None:
        self.seq_length, self.cls_id, self.sep_id = seq_length, cls_id, sep_id
        self.input_ids: list[list[int]] = []
        self.word_ids: list[list[int]] = []
        self._start()

    def _start(self) -> None:
        self.ids, self.words, self.next_word = [self.cls_id], [-1], 0

    def add_word(self, pieces: list[int]) -> None:
        pieces = pieces[:self.seq_length - 2]  # a word longer than a whole sequence keeps its head
        if len(self.ids) + len(pieces) > self.seq_length - 1:  # leave room for the closing [SEP]
            self.flush()
        self.ids += pieces
        self.words += [self.next_word] * len(pieces)
        self.next_word += 1

    def end_document(self) -> None:
        if self.next_word and self.ids[-1] != self.sep_id:
            self.ids.append(self.sep_id)
            self.words.append(-1)
        if len(self.ids) >= self.seq_length - 1:
            self.flush()

    def flush(self) -> None:
        if self.next_word:
            if self.ids[-1] != self.sep_id:
                self.ids.append(self.sep_id)
                self.words.append(-1)
            self.input_ids.append(self.ids)
            self.word_ids.append(self.words)
        self._start()


def pack_documents(batch: dict[str, list], tokenizer, seq_length: int,
                   normal_form: Callable[[str], str]) -> dict[str, list[list[int]]]:
    """``datasets.map`` function (batched): documents -> packed sequences of whole words."""
    docs = [[normal_form(text[s:e]) for s, e in split_words(text)] for text in batch["text"] if text]
    docs = [words for words in docs if words]
    packer = SequencePacker(seq_length, tokenizer.cls_token_id, tokenizer.sep_token_id)
    if docs:
        encoded = tokenizer(docs, is_split_into_words=True, add_special_tokens=False, verbose=False)
        for i in range(len(docs)):
            ids, words = encoded["input_ids"][i], encoded.word_ids(i)
            start = 0
            for end in range(1, len(ids) + 1):
                if end == len(ids) or words[end] != words[start]:
                    packer.add_word(ids[start:end])
                    start = end
            packer.end_document()
    packer.flush()
    return {"input_ids": packer.input_ids, "word_ids": packer.word_ids}


def packed_sequences(texts, tokenizer, seq_length: int, options: NormalizationOptions):
    # Word frequencies are Zipfian: remembering the normal form of frequent words makes it nearly free.
    normal_form = lru_cache(maxsize=1 << 18)(partial(normalize_word, options=options))
    pack = partial(pack_documents, tokenizer=tokenizer, seq_length=seq_length, normal_form=normal_form)
    return texts.map(pack, batched=True, batch_size=PACK_DOCS, remove_columns=["text"])


def collate(sequences: list[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad packed sequences into tensors; padding has word id -1 so it is never masked."""
    lengths = torch.tensor([len(s["input_ids"]) for s in sequences])
    width = int(lengths.max())
    input_ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    word_ids = torch.full((len(sequences), width), -1, dtype=torch.long)
    for row, s in enumerate(sequences):
        input_ids[row, :len(s["input_ids"])] = torch.tensor(s["input_ids"])
        word_ids[row, :len(s["word_ids"])] = torch.tensor(s["word_ids"])
    attention_mask = (torch.arange(width) < lengths[:, None]).long()
    return {"input_ids": input_ids, "word_ids": word_ids, "attention_mask": attention_mask}


# ---------------------------------------------------------------------------------------- training
FUSED_ADAMW_DEVICES = ("cpu", "cuda")  # where torch >= 2.4 has a fused AdamW kernel


def adamw(model: nn.Module, lr: float, weight_decay: float, fused: bool = True) -> torch.optim.AdamW:
    """AdamW without weight decay on biases and LayerNorm weights.

    ``fused``: one kernel per tensor rather than a dozen element-wise passes, which on a CPU shared
    with other work costs a fraction of the for-loop's time (each pass waits for every thread); an
    older torch without the kernel for the parameters' device gets the for-loop.
    """
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if fused:
        try:
            return torch.optim.AdamW(groups, lr=lr, fused=True)
        except (RuntimeError, ValueError):  # torch < 2.4 on a CPU
            pass
    return torch.optim.AdamW(groups, lr=lr)


class Pretrainer(AcceleratedRun):
    state_file = STATE_FILE

    def __init__(self, config: PretrainConfig, resume: bool = False) -> None:
        super().__init__(config.train)
        self.config = config
        self.resume = resume

    # ------------------------------------------------------------------ setup
    def _build(self) -> None:
        from datasets.distributed import split_dataset_by_node
        from transformers import AutoTokenizer, get_linear_schedule_with_warmup

        m, d, t = self.config.model, self.config.data, self.config.train
        acc = self.accelerator
        if not d.train:
            raise ConfigError("data.train: give at least one corpus (.txt, .jsonl or .jsonl.gz)")
        if self.resume and not self.has_checkpoint():
            raise FileNotFoundError(f"--resume: no checkpoint in {self.checkpoint_dir}; start without --resume")
        options = NormalizationOptions.from_dict(m.normalization)
        texts = stream_texts(d.train, d.text_field)
        if d.validation:
            validation_texts = stream_texts(d.validation, d.text_field).take(d.validation_docs)
        else:
            validation_texts, texts = texts.take(d.validation_docs), texts.skip(d.validation_docs)

        # The tokenizer is built once, by the main process, and read back from the run directory by
        # every process and by a resumed run, so all of them tokenize alike.
        tokenizer_dir = os.path.join(self.out, TOKENIZER_DIR)
        with acc.main_process_first():
            if acc.is_main_process and not self.resume:
                corpus = islice((ex["text"] or "" for ex in texts), m.tokenizer_docs or None)
                build_tokenizer(m, corpus).save_pretrained(tokenizer_dir)
            self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        if self.tokenizer.mask_token_id is None or self.tokenizer.cls_token_id is None:
            raise ValueError(f"{m.init_from or 'the tokenizer'} has no [MASK] or [CLS] token: "
                             "not a BERT-like masked LM")

        model = build_model(m, self.tokenizer)
        positions = getattr(model.config, "max_position_embeddings", d.seq_length)
        if d.seq_length > positions:
            raise ConfigError(f"data.seq_length {d.seq_length} exceeds the encoder's {positions} positions")
        logger.info("masked LM: vocabulary %d, %.1fM parameters", len(self.tokenizer),
                    sum(p.numel() for p in model.parameters()) / 1e6)

        if d.shuffle_buffer:
            texts = texts.shuffle(seed=t.seed, buffer_size=d.shuffle_buffer)
        texts = split_dataset_by_node(texts, rank=acc.process_index, world_size=acc.num_processes)
        stream = packed_sequences(texts, self.tokenizer, d.seq_length, options)
        if d.shuffle_buffer:
            # sequences cut from one document sit side by side; a second buffer spreads them over batches
            stream = stream.shuffle(seed=t.seed + 1, buffer_size=d.shuffle_buffer)
        self.train_stream = stream
        self.validation_batches = self._validation_batches(
            packed_sequences(validation_texts, self.tokenizer, d.seq_length, options))

        optimizer = adamw(model, t.lr, t.weight_decay, fused=acc.device.type in FUSED_ADAMW_DEVICES)
        # accelerate steps a prepared scheduler once per process at every update, so count in those steps
        world = acc.num_processes
        scheduler = get_linear_schedule_with_warmup(optimizer, int(t.warmup_ratio * t.max_steps) * world,
                                                    t.max_steps * world)
        self.model, self.optimizer, self.scheduler = acc.prepare(MaskedLM(model, t.masked_only), optimizer, scheduler)

    def _validation_batches(self, sequences) -> list[dict[str, torch.Tensor]]:
        """Validation sequences, masked once with a fixed seed so every evaluation scores the same predictions."""
        t = self.config.train
        sequences = list(sequences)
        if not sequences:
            raise ValueError("the validation documents hold no text")
        generator = torch.Generator().manual_seed(t.seed)
        batches = []
        for start in range(0, len(sequences), t.batch_size):
            batch = collate(sequences[start:start + t.batch_size], self.tokenizer.pad_token_id)
            batch["input_ids"], batch["labels"] = self._mask(batch, generator)
            batches.append(batch)
        return batches

    def _mask(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        t = self.config.train
        return mask_tokens(batch["input_ids"], batch["word_ids"], self.tokenizer.mask_token_id, len(self.tokenizer),
                           t.mlm_probability, generator, whole_word=t.whole_word_mask)

    def _sequences(self, state: PretrainState) -> Iterator[dict]:
        """Packed training sequences without end: pass after pass over the corpus (``state.epoch`` counts them)."""
        while True:
            self.train_stream.set_epoch(state.epoch)  # a new shuffle order each pass
            seen = False
            for sequence in self.train_stream:
                seen = True
                yield sequence
            if not seen:
                raise ValueError(f"{self.config.data.train}: no training text")
            state.epoch += 1

    # ------------------------------------------------------------------ checkpoints
    def _save_checkpoint(self, state: PretrainState) -> None:
        from accelerate.utils import gather_object

        state.data_states = gather_object([self.train_stream.state_dict()])
        self.save_run_state(asdict(state))

    def _load_checkpoint(self) -> PretrainState:
        state = PretrainState(**self.load_run_state())
        if len(state.data_states) != self.accelerator.num_processes:
            raise ValueError(f"{self.checkpoint_dir} was written by {len(state.data_states)} process(es); resume with as many")
        self.train_stream.set_epoch(state.epoch)
        self.train_stream.load_state_dict(state.data_states[self.accelerator.process_index])
        logger.info("resumed at update %d (pass %d, %d tokens seen)", state.global_step, state.epoch, state.tokens_seen)
        return state

    # ------------------------------------------------------------------ loop
    def train(self) -> dict:
        self._build()
        t = self.config.train
        acc = self.accelerator
        state = self._load_checkpoint() if self.resume else PretrainState()
        if acc.is_main_process:
            save_config(self.config, os.path.join(self.out, "config.yaml"))
        if not self.resume:
            self._evaluate(state)  # the starting point, to compare the end with
        progress = None
        if t.progress_bar and acc.is_main_process:
            from tqdm.auto import tqdm

            progress = tqdm(total=t.max_steps, initial=state.global_step, desc="pretrain", unit="step")
        generator = torch.Generator()
        micro_step = state.global_step * t.grad_accum
        sequences = self._sequences(state)
        self.model.train()
        # Throughput counts training only: evaluations and checkpoints are timed and left out.
        run_tokens, paused, started = 0, 0.0, time.perf_counter()
        loss_sum, loss_count, train_loss = torch.zeros((), device=acc.device), 0, None
        while state.global_step < t.max_steps:
            batch = collate(list(islice(sequences, t.batch_size)), self.tokenizer.pad_token_id)
            # Masks depend only on (seed, process, micro-batch), so a resumed run masks as the uninterrupted one.
            generator.manual_seed(hash((t.seed, acc.process_index, micro_step)))
            micro_step += 1
            inputs, labels = self._mask(batch, generator)
            with acc.accumulate(self.model):
                loss = self.model(input_ids=inputs.to(acc.device), labels=labels.to(acc.device),
                                  attention_mask=batch["attention_mask"].to(acc.device))
                acc.backward(loss)
                if acc.sync_gradients:
                    acc.clip_grad_norm_(self.model.parameters(), t.max_grad_norm)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad()
            loss_sum += loss.detach()
            loss_count += 1
            # each process counts its own tokens; their sequences are equally full, so scale by their number
            tokens = int(batch["attention_mask"].sum()) * acc.num_processes
            run_tokens += tokens
            state.tokens_seen += tokens
            if not acc.sync_gradients:
                continue
            state.global_step += 1
            rate = run_tokens / max(1e-9, time.perf_counter() - started - paused)
            if progress:
                progress.update(1)
            if state.global_step % t.log_every == 0 or state.global_step == t.max_steps:
                train_loss = (loss_sum / loss_count).item()  # note: a CPU-GPU sync, only when logging
                loss_sum.zero_()
                loss_count = 0
                self.log({"step": state.global_step, "epoch": state.epoch, "loss": train_loss,
                           "lr": self.scheduler.get_last_lr()[0], "tokens_seen": state.tokens_seen,
                           "tokens_per_s": round(rate, 1)})
                if progress:
                    progress.set_postfix(loss=f"{train_loss:.3f}", tok_s=f"{rate:.0f}")
            if state.global_step == t.max_steps:
                break
            pause = time.perf_counter()
            if t.eval_every and state.global_step % t.eval_every == 0:
                self._evaluate(state)
            if t.checkpoint_every and state.global_step % t.checkpoint_every == 0:
                self._save_checkpoint(state)
            paused += time.perf_counter() - pause
        if progress:
            progress.close()
        rate = run_tokens / max(1e-9, time.perf_counter() - started - paused)
        if run_tokens:  # else nothing changed since the checkpoint this run resumed from
            self._save_checkpoint(state)
        val_loss = self._evaluate(state)
        model_dir = self.save_model(os.path.join(self.out, MODEL_DIR))
        return {"steps": state.global_step, "tokens_seen": state.tokens_seen, "tokens_per_s": round(rate, 1),
                "train_loss": train_loss, "val_loss": val_loss, "val_perplexity": perplexity(val_loss),
                "model_dir": model_dir}

    @torch.no_grad()
    def _evaluate(self, state: PretrainState) -> float | None:
        """Masked-LM loss on the validation sequences (main process; mean over predicted tokens)."""
        acc = self.accelerator
        loss = None
        if acc.is_main_process:
            model = acc.unwrap_model(self.model)
            was_training = model.training
            model.eval()
            total, count = 0.0, 0
            for batch in self.validation_batches:
                n = int((batch["labels"] != IGNORE).sum())
                with acc.autocast():
                    batch_loss = model(input_ids=batch["input_ids"].to(acc.device),
                                       attention_mask=batch["attention_mask"].to(acc.device),
                                       labels=batch["labels"].to(acc.device))
                total += batch_loss.item() * n
                count += n
            model.train(was_training)
            loss = total / count
            self.log({"step": state.global_step, "val_loss": loss, "val_perplexity": perplexity(loss)})
            logger.info("update %d: validation loss %.4f, perplexity %.2f", state.global_step, loss, perplexity(loss))
        acc.wait_for_everyone()
        return loss

    def save_model(self, path: str) -> str:
        """Write the masked-LM model and its tokenizer as one ordinary Hugging Face directory."""
        acc = self.accelerator
        acc.wait_for_everyone()
        if acc.is_main_process:
            mlm = acc.unwrap_model(self.model).mlm
            if not self.config.model.init_from:
                # Dropout off is a pretraining speed-up only; fine-tuning on small data wants BERT's regulariser.
                mlm.config.hidden_dropout_prob = mlm.config.attention_probs_dropout_prob = FINE_TUNING_DROPOUT
            mlm.save_pretrained(path)
            self.tokenizer.save_pretrained(path)
        return path


def perplexity(loss: float | None) -> float | None:
    return None if loss is None else math.exp(loss)


def pretrain(config: PretrainConfig, resume: bool = False) -> dict:
    """Run a masked-LM pretraining job; returns the final train/validation loss, perplexity and throughput."""
    return Pretrainer(config, resume=resume).train()
