"""The optimizer both training loops use: AdamW, without weight decay on biases and LayerNorm
weights, fused where torch has the kernel."""
from __future__ import annotations

from typing import Any, Iterable

import torch

FUSED_ADAMW_DEVICES = ("cpu", "cuda")  # where torch >= 2.4 has a fused AdamW kernel


def decay_groups(named_parameters: Iterable[tuple[str, torch.nn.Parameter]], weight_decay: float,
                 **group: Any) -> list[dict[str, Any]]:
    """Two parameter groups: weights with ``weight_decay``, biases and LayerNorm weights without;
    ``group`` (e.g. ``lr=``) is added to both."""
    decay, no_decay = [], []
    for name, p in named_parameters:
        (no_decay if name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name else decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay, **group},
            {"params": no_decay, "weight_decay": 0.0, **group}]


def adamw(groups: list[dict[str, Any]], lr: float, fused: bool = True) -> torch.optim.AdamW:
    """AdamW over ``groups``.

    ``fused``: one kernel per tensor rather than a dozen element-wise passes, which on a CPU shared
    with other work costs a fraction of the for-loop's time (each pass waits for every thread); an
    older torch without the kernel for the parameters' device gets the for-loop.
    """
    if fused:
        try:
            return torch.optim.AdamW(groups, lr=lr, fused=True)
        except (RuntimeError, ValueError):  # torch < 2.4 on a CPU
            pass
    return torch.optim.AdamW(groups, lr=lr)


__all__ = ["FUSED_ADAMW_DEVICES", "adamw", "decay_groups"]
