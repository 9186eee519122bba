"""``Extractor``: a loaded rasd model that turns raw Arabic text into spans, relations and event records."""
from __future__ import annotations

import logging
import os
from typing import Any, Sequence

import numpy as np
import torch

from .decoding import TagTransitions
from .pipeline import ExtractorBase
from .documents import Document
from .modeling import RasdModel
from .schema import Schema

logger = logging.getLogger(__name__)


class Extractor(ExtractorBase):
    """Predicts documents with a ``RasdModel``; batched by length, no gradients, deterministic.

    ``extract``/``predict_documents`` and every decision made from the scores live in
    ``ExtractorBase`` (shared with the ONNX extractor); this class runs the torch model.
    """

    def __init__(self, model: RasdModel, tokenizer, device: str | torch.device | None = None) -> None:
        self.model = model.eval()
        self.device = torch.device(device) if device else next(model.parameters()).device
        self.model.to(self.device)
        self.config = model.config
        learned = None
        if model.crf is not None:
            learned = TagTransitions(*(t.detach().float().cpu().numpy() for t in model.crf.transition_scores()))
        self._setup(self.config.definition, self.config.definition.document_encoder(tokenizer), tokenizer.pad_token_id,
                    learned)

    @classmethod
    def from_pretrained(cls, path_or_hub_id: str | os.PathLike, device: str | None = None,
                        schema: Schema | None = None, **kwargs) -> "Extractor":
        """Load a trained rasd model directory (or hub id) with its tokenizer."""
        from transformers import AutoTokenizer

        from .progress import no_loading_bars

        with no_loading_bars():  # a library call prints nothing of its own
            model = RasdModel.from_pretrained(path_or_hub_id, schema=schema, **kwargs)
        tokenizer = AutoTokenizer.from_pretrained(path_or_hub_id)
        return cls(model, tokenizer, device)

    # ------------------------------------------------------------------ public API
    @torch.inference_mode()
    def predict_documents(self, docs: Sequence[Document], batch_size: int = 16,
                          show_progress_bar: bool = False, relations: bool = True) -> list[Document]:
        """Spans and relations for each document (its gold annotations, if any, are ignored);
        ``relations=False`` predicts spans only and skips the relation head."""
        return super().predict_documents(docs, batch_size=batch_size, show_progress_bar=show_progress_bar,
                                         relations=relations)

    # ------------------------------------------------------------------ backend
    def _forward_tags(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, torch.Tensor]:
        tensors = {k: torch.from_numpy(v).to(self.device) for k, v in inputs.items()}
        words = self.model.word_states(**tensors)
        return self.model.tag_scores(words).cpu().numpy(), words

    def _forward_relations(self, states: list[Any], inputs: dict[str, np.ndarray]) -> np.ndarray:
        words = torch.nn.utils.rnn.pad_sequence(states, batch_first=True)
        tensors = {k: torch.from_numpy(v).to(self.device) for k, v in inputs.items()}
        logits = self.model.relation_logits(words, **tensors)
        return torch.softmax(logits.float(), dim=-1).cpu().numpy()


def load_model(path_or_hub_id: str | os.PathLike, device: str | None = None, **kwargs) -> Extractor:
    """``from rasd.inference import load_model``: the extractor of a trained model directory or hub id."""
    return Extractor.from_pretrained(path_or_hub_id, device=device, **kwargs)

