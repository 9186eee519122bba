"""``OnnxExtractor``: the rasd extractor on onnxruntime, for CPU serving without torch or transformers.

    from rasd.inference.onnx_extractor import OnnxExtractor
    extractor = OnnxExtractor.from_pretrained("runs/quickstart/onnx", quantized=True)
    docs = extractor.extract(["..."], dates=["2024-12-07"])

The directory is what ``rasd.training.export_onnx.export_onnx`` writes: ``model.onnx`` (encoder
+ word-level parts + tagger), optionally ``model.int8.onnx``, ``relations.onnx`` (the relation
scorer), ``config.json``, ``tokenizer.json`` and, for a model with a CRF, ``crf.json``. At run
time this needs only ``onnxruntime``, ``tokenizers`` and ``numpy`` (``pip install 'rasd[onnx]'``):
the windows, the word inputs, the constrained Viterbi, the candidate pairs and the output
documents are the torch ``Extractor``'s own code (``rasd.inference.pipeline.ExtractorBase``), so
both paths make the same decisions from the same scores.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .pipeline import ExtractorBase
from .decoding import TagTransitions
from .definition import ModelDefinition, check_model_version

ENCODER_FILE = "model.onnx"
ENCODER_INT8_FILE = "model.int8.onnx"
RELATION_FILE = "relations.onnx"
CRF_FILE = "crf.json"
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

    def __init__(self, encoder_session, relation_session, config: dict[str, Any], tokenizer: TokenizerAdapter,
                 learned: TagTransitions | None = None) -> None:
        self.session = encoder_session
        self.relation_session = relation_session
        self.config = config
        definition = ModelDefinition.from_config(config)
        if definition.options.crf and learned is None:
            raise FileNotFoundError(f"the model has a CRF but no {CRF_FILE} was given; export it again with rasd export-onnx")
        self._setup(definition, definition.document_encoder(tokenizer), tokenizer.pad_token_id, learned)
        if definition.schema.has_relations and relation_session is None:
            raise FileNotFoundError(f"the schema has relations but no {RELATION_FILE} was given")
        self._inputs = {i.name for i in encoder_session.get_inputs()}
        self._relation_inputs = {i.name for i in relation_session.get_inputs()} if relation_session else set()
        self._outputs = ["tag_scores", "word_states"] if definition.schema.has_relations else ["tag_scores"]

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
        check_model_version(config.get("rasd_version"), path)
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
        learned = None
        if (path / CRF_FILE).is_file():
            with open(path / CRF_FILE, encoding="utf-8") as f:
                learned = TagTransitions.from_lists(json.load(f))
        return cls(session, relation_session, config, TokenizerAdapter.from_dir(path), learned)

    # ------------------------------------------------------------------ backend
    def _forward_tags(self, inputs: dict[str, np.ndarray]) -> tuple[np.ndarray, Any]:
        out = self.session.run(self._outputs, {k: v for k, v in inputs.items() if k in self._inputs})
        return out[0], (out[1] if len(out) > 1 else None)

    def _forward_relations(self, states: list[Any], inputs: dict[str, np.ndarray]) -> np.ndarray:
        width = max(len(h) for h in states)
        words = np.zeros((len(states), width, states[0].shape[-1]), dtype=states[0].dtype)
        for k, h in enumerate(states):
            words[k, :len(h)] = h
        feed = {k: v for k, v in inputs.items() if k in self._relation_inputs}
        return self.relation_session.run(["relation_probs"], {"word_states": words, **feed})[0]


def load_onnx_model(path: str | os.PathLike, quantized: bool = False, **kwargs) -> OnnxExtractor:
    """The ONNX counterpart of ``rasd.inference.load_model``."""
    return OnnxExtractor.from_pretrained(path, quantized=quantized, **kwargs)


__all__ = ["OnnxExtractor", "TokenizerAdapter", "load_onnx_model"]
