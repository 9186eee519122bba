"""The last BERT layer run at some positions only (the masked ones), with the stock layer's numbers:
what lets ``MaskedLM`` skip most of the last layer's work."""
from __future__ import annotations

import torch
from torch import nn


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
