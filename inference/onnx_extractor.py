"""``OnnxExtractor``: the rasd extractor on onnxruntime, for CPU serving without torch or transformers.

    from rasd.inference.onnx_extractor import OnnxExtractor
    extractor = OnnxExtractor.from_pretrained("runs/quickstart/onnx", quantized=True)
    docs = extractor.extract(["..."], dates=["2024-12-07"])

The directory is what ``rasd.training.export_onnx.export_onnx`` writes: ``model.onnx`` (encoder
+ tagger), optionally ``model.int8.onnx``, ``relations.onnx`` (the relation scorer),
``config.json`` and ``tokenizer.json``. At run time this needs only ``onnxruntime``,
``tokenizers`` and ``numpy`` (``pip install 'rasd[onnx]'``): the windows, the constrained
Viterbi, the candidate pairs and the output documents are the torch ``Extractor``'s own code
(``rasd.inference.decoding.ExtractorBase``), so both paths make the same decisions from the same
scores.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .pipeline import ExtractorBase
from .definition import ModelDefinition

ENCODER_FILE = "model.onnx"
ENCODER_INT8_FILE = "model.int8.onnx"
RELATION_FILE = "relations.onnx"
_DEFAULT_SPECIALS = {"cls_token": "[CLS]", "sep_token": "[SEP]", "unk_token": "[UNK]", "pad_token": "[PAD]"}


class TokenizerAdapter:
    """The small part of a transformers fast tokenizer that ``DocumentEncoder`` uses, over a bare
    ``tokenizers.Tokenizer`` (read from ``tokenizer.json``)."""

    is_fast = True

    def __init__(self, backend, special_tokens: dict[str, str | None] | None = None) -> None:
        self.backend_tokenizer = backend
        backend.no_truncation()
        backend.no_padding()
        specials = {**_DEFAULT_SPECIALS, **(special_tokens or {})}
        self.cls_token_id = self._id(specials.get("cls_token"))
        self.sep_token_id = self._id(specials.get("sep_token"))
        self.unk_token_id = self._id(specials.get("unk_token"))
        self.pad_token_id = self._id(specials.get("pad_token"))

    @classmethod
    def from_dir(cls, path: str | os.PathLike) -> "TokenizerAdapter":
        from tokenizers import Tokenizer

        path = Path(path)
        if not (path / "tokenizer.json").is_file():
            raise FileNotFoundError(f"{path} has no tokenizer.json; export the model with rasd.training.export_onnx")
        specials: dict[str, str | None] = {}
        config = path / "tokenizer_config.json"
        if config.is_file():
            with open(config, encoding="utf-8") as f:
                raw = json.load(f)
            for key in _DEFAULT_SPECIALS:
                if key in raw:
                    value = raw[key]
                    specials[key] = value.get("content") if isinstance(value, dict) else value
        return cls(Tokenizer.from_file(str(path / "tokenizer.json")), specials)

    def _id(self, token: str | None) -> int | None:
        return None if token is None else self.backend_tokenizer.token_to_id(token)

    def __call__(self, texts: Sequence[str], add_special_tokens: bool = False) -> dict[str, list[list[int]]]:
        encodings = self.backend_tokenizer.encode_batch(list(texts), add_special_tokens=add_special_tokens)
        return {"input_ids": [e.ids for e in encodings]}


class OnnxExtractor(ExtractorBase):
    """``extract``/``predict_documents`` as ``rasd.inference.Extractor``, on onnxruntime sessions.

    With ``model.onnx`` the spans and relations are the torch extractor's. With the int8 model
    (``quantized=True``) activations are quantised with one scale per batch tensor, so a
    document's scores can move slightly with the documents batched beside it; ``batch_size=1``
    makes every document's result independent of the others.
    """

    def __init__(self, encoder_session, relation_session, config: dict[str, Any], tokenizer: TokenizerAdapter) -> None:
        self.session = encoder_session
        self.relation_session = relation_session
        self.config = config
        definition = ModelDefinition.from_config(config)
        self._setup(definition, definition.document_encoder(tokenizer), tokenizer.pad_token_id)
        if definition.schema.has_relations and relation_session is None:
            raise FileNotFoundError(f"the schema has relations but no {RELATION_FILE} was given")
        self._outputs = ["tag_log_probs", "hidden_states"] if definition.schema.has_relations else ["tag_log_probs"]

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike, quantized: bool = False, threads: int | None = None,
                        providers: Sequence[str] = ("CPUExecutionProvider",), session_options=None) -> "OnnxExtractor":
        """Load an exported directory; ``quantized`` picks ``model.int8.onnx``. ``threads`` sets
        onnxruntime's intra-op threads (default: its own choice, one per physical core)."""
        try:
            import onnxruntime as ort
        except ImportError as err:  # pragma: no cover - the [onnx] extra is missing
            raise ModuleNotFoundError("the ONNX extractor needs onnxruntime: pip install 'rasd[onnx]'") from err
        path = Path(path)
        with open(path / "config.json", encoding="utf-8") as f:
            config = json.load(f)
        if config.get("model_type") != "rasd" or "schema" not in config:
            raise ValueError(f"{path}/config.json is not a rasd model config")
        model_file = path / (ENCODER_INT8_FILE if quantized else ENCODER_FILE)
        if not model_file.is_file():
            hint = " (export with quantize=True)" if quantized else ""
            raise FileNotFoundError(f"{model_file} not found{hint}; run rasd.training.export_onnx.export_onnx first")
        if session_options is None:
            session_options = ort.SessionOptions()
            session_options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # Windows come in every length, and onnxruntime keeps a memory plan per input shape:
            # with plans on, RSS grows with the number of distinct shapes seen (a long stream sees
            # them all); off, it stays flat at no measurable cost in speed.
            session_options.enable_mem_pattern = False
            if threads:
                session_options.intra_op_num_threads = threads
        providers = list(providers)
        session = ort.InferenceSession(str(model_file), sess_options=session_options, providers=providers)
        relation_session = None
        if (path / RELATION_FILE).is_file():
            relation_session = ort.InferenceSession(str(path / RELATION_FILE), sess_options=session_options,
                                                    providers=providers)
        return cls(session, relation_session, config, TokenizerAdapter.from_dir(path))

    # ------------------------------------------------------------------ backend
    def _forward_tags(self, input_ids: np.ndarray, attention_mask: np.ndarray) -> tuple[np.ndarray, Any]:
        out = self.session.run(self._outputs, {"input_ids": input_ids, "attention_mask": attention_mask})
        return out[0], (out[1] if len(out) > 1 else None)

    def _forward_relations(self, hidden: list[Any], span_bounds: np.ndarray, span_labels: np.ndarray,
                           span_words: np.ndarray, pairs: np.ndarray) -> np.ndarray:
        width = max(len(h) for h in hidden)
        states = np.zeros((len(hidden), width, hidden[0].shape[-1]), dtype=hidden[0].dtype)
        for k, h in enumerate(hidden):
            states[k, :len(h)] = h
        return self.relation_session.run(["relation_probs"], {
            "hidden_states": states, "span_bounds": span_bounds, "span_labels": span_labels,
            "span_words": span_words, "pairs": pairs})[0]


def load_onnx_model(path: str | os.PathLike, quantized: bool = False, **kwargs) -> OnnxExtractor:
    """The ONNX counterpart of ``rasd.inference.load_model``."""
    return OnnxExtractor.from_pretrained(path, quantized=quantized, **kwargs)


__all__ = ["OnnxExtractor", "TokenizerAdapter", "load_onnx_model"]
