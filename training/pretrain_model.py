"""The masked-LM model of ``rasd pretrain``: the encoder it starts from (new or a checkpoint grown to
new words) and ``MaskedLM``, which computes the loss at the masked positions only."""
from __future__ import annotations

import logging

import torch
from torch import nn

from .pretrain_config import PretrainModelSection
from .pretrain_last_layer import bert_like_fallback, last_layer_at
from .pretrain_masking import IGNORE

logger = logging.getLogger(__name__)


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
