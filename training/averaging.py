"""An exponential moving average of a model's weights, scored and saved instead of the last weights.

Trained on a few thousand sentences, a tagger's weights jitter from one update to the next and
its dev score with them; their moving average sits nearer the middle of the region the updates
wander in, which scores more steadily (Polyak averaging). It is the plain mean of the weights
so far until ``1 / (1 - decay)`` updates, then an exponential average with ``decay``: the
``n``-th update moves it by ``1 - min(decay, 1 - 1 / n)``.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn


class WeightAverage:
    """The moving average of ``model``'s trainable parameters; ``state_dict``/``load_state_dict``
    make it part of a resumable checkpoint (``accelerator.register_for_checkpointing``)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"weight_average must be in (0, 1), not {decay}")
        self.decay = decay
        self.updates = 0
        self.shadow = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        """Move the average toward the current weights (after an optimizer update)."""
        self.updates += 1
        decay = min(self.decay, 1.0 - 1.0 / self.updates)
        for name, p in model.named_parameters():
            if name in self.shadow:
                self.shadow[name].lerp_(p.detach(), 1.0 - decay)

    @contextmanager
    def applied(self, model: nn.Module) -> Iterator[nn.Module]:
        """``model`` with the averaged weights in place (to score or save it), its own ones back after."""
        params = dict(model.named_parameters())
        saved = {name: params[name].detach().clone() for name in self.shadow}
        with torch.no_grad():
            for name, value in self.shadow.items():
                params[name].copy_(value)
        try:
            yield model
        finally:
            with torch.no_grad():
                for name, value in saved.items():
                    params[name].copy_(value)

    def state_dict(self) -> dict:
        return {"updates": self.updates, "shadow": self.shadow}

    def load_state_dict(self, state: dict) -> None:
        self.updates = int(state["updates"])
        for name, value in state["shadow"].items():
            self.shadow[name].copy_(value)


__all__ = ["WeightAverage"]
