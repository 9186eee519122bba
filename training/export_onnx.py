"""Export a trained rasd model to ONNX for CPU inference without torch or transformers.

Two graphs, because the relation head scores pairs of *decoded* spans (constrained Viterbi over
whole documents sits in between):

``model.onnx``
    ``input_ids, attention_mask [batch, seq] int64`` → ``tag_log_probs [batch, seq, tags]`` (the
    tagger's log-softmax, float32) and ``hidden_states [batch, seq, hidden]``.
``relations.onnx``
    ``hidden_states [1, seq, hidden]``, ``span_bounds [1, spans, 2]``, ``span_labels [1, spans]``,
    ``span_words [1, spans]``, ``pairs [1, pairs, 2]`` (int64) → ``relation_probs [1, pairs, classes]``
    (softmax over the relation classes, pairs the schema forbids already forced to "no relation").

With ``quantize=True`` the encoder graph is also written as ``model.int8.onnx`` (dynamic int8
quantisation of its matrix multiplications, onnxruntime's ``quantize_dynamic``). The relation
scorer stays float32: it is a two-layer MLP run once per window, and quantising it saves nothing.

The output directory also gets the model's ``config.json`` and tokenizer files, so
``rasd.inference.onnx_extractor.OnnxExtractor.from_pretrained(out_dir)`` loads it alone.

    from rasd.training.export_onnx import export_onnx
    export_onnx("runs/quickstart/model", "runs/quickstart/onnx", quantize=True)
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
import warnings
from pathlib import Path

from rasd.inference.onnx_extractor import ENCODER_FILE, ENCODER_INT8_FILE, RELATION_FILE

logger = logging.getLogger(__name__)

OPSET = 17
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def export_onnx(model_dir: str | os.PathLike, out_dir: str | os.PathLike, quantize: bool = False,
                check: bool = True, attn_implementation: str = "eager") -> dict:
    """Write ``model.onnx`` (+ ``model.int8.onnx`` with ``quantize``), ``relations.onnx``, the config
    and the tokenizer of the rasd model in ``model_dir`` to ``out_dir``; return what was written.

    ``check`` runs both graphs in onnxruntime on a padded batch and compares them with torch.
    ``attn_implementation="eager"`` traces the plain matmul/softmax attention, which
    onnxruntime's graph optimiser fuses on CPU.
    """
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as err:  # pragma: no cover - the [onnx] extra is missing
        raise ModuleNotFoundError("ONNX export needs the onnx extra: pip install 'rasd[onnx]'") from err
    import torch

    from rasd.inference.modeling import RasdModel

    model_dir, out = Path(model_dir), Path(out_dir)
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir} is not a saved rasd model (no config.json)")
    if not (model_dir / "tokenizer.json").is_file():
        raise FileNotFoundError(f"{model_dir} has no tokenizer.json (a fast tokenizer); the ONNX extractor needs one")
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    model = RasdModel.from_pretrained(model_dir, attn_implementation=attn_implementation).eval()
    result: dict = {"out_dir": str(out), "files": []}

    with torch.no_grad(), warnings.catch_warnings():
        # the TorchScript exporter (the dynamo one needs onnxscript) warns that it is legacy, and
        # that negative indices would break advanced indexing: ours are positions, never negative
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        warnings.filterwarnings("ignore", message=".*advanced indexing.*negative values.*")
        _export_encoder(model, out / ENCODER_FILE)
        result["files"].append(ENCODER_FILE)
        if model.schema.has_relations:
            _export_relations(model, out / RELATION_FILE)
            result["files"].append(RELATION_FILE)
    if quantize:
        quantize_encoder(out / ENCODER_FILE, out / ENCODER_INT8_FILE)
        result["files"].append(ENCODER_INT8_FILE)
    for name in ("config.json",) + TOKENIZER_FILES:
        if (model_dir / name).is_file():
            shutil.copy2(model_dir / name, out / name)
            result["files"].append(name)
    if check:
        result["max_abs_diff"] = check_export(model, out)
    result["seconds"] = round(time.perf_counter() - started, 2)
    result["sizes_mb"] = {f: round((out / f).stat().st_size / 2**20, 2) for f in result["files"]
                          if f.endswith(".onnx")}
    with open(out / "onnx_export.json", "w", encoding="utf-8") as f:
        json.dump(result, f, indent=2)
    logger.info("ONNX export -> %s (%s)", out, ", ".join(result["files"]))
    return result


# ---------------------------------------------------------------------- graphs
def _encoder_module(model):
    import torch
    from torch import nn

    class EncoderTagger(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder, self.tagger = model.encoder, model.tagger

        def forward(self, input_ids, attention_mask):
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            return torch.log_softmax(self.tagger(hidden).float(), dim=-1), hidden

    return EncoderTagger().eval()


def _relation_module(model):
    import torch
    from torch import nn

    class RelationScorer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, hidden, span_bounds, span_labels, span_words, pairs):
            logits = self.model.relation_logits(hidden, span_bounds, span_labels, span_words, pairs)
            return torch.softmax(logits.float(), dim=-1)

    return RelationScorer().eval()


def _example_batch(model, batch: int = 2, length: int = 12):
    import torch

    vocab = model.config.encoder.vocab_size
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(5, vocab, (batch, length), generator=g)
    mask = torch.ones(batch, length, dtype=torch.long)
    mask[-1, length // 2:] = 0  # one padded row, so the mask is traced as a real input
    return ids, mask


def _export_encoder(model, path: Path) -> None:
    import torch

    ids, mask = _example_batch(model)
    torch.onnx.export(
        _encoder_module(model), (ids, mask), str(path), dynamo=False, opset_version=OPSET,
        input_names=["input_ids", "attention_mask"], output_names=["tag_log_probs", "hidden_states"],
        dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
                      "tag_log_probs": {0: "batch", 1: "sequence"}, "hidden_states": {0: "batch", 1: "sequence"}})


def _relation_example(model, length: int = 12, spans: int = 3):
    import torch

    hidden = torch.randn(1, length, model.config.encoder.hidden_size, generator=torch.Generator().manual_seed(0))
    bounds = torch.tensor([[[1, 2], [4, 4], [7, 9]]])[:, :spans]
    labels = torch.tensor([[len(model.schema.entities), 0, 1]])[:, :spans] % len(model.schema.span_labels)
    words = torch.tensor([[0, 2, 4]])[:, :spans]
    pairs = torch.tensor([[[0, 1], [0, 2], [2, 1]]])
    return hidden, bounds, labels, words, pairs


def _export_relations(model, path: Path) -> None:
    import torch

    names = ["hidden_states", "span_bounds", "span_labels", "span_words", "pairs"]
    torch.onnx.export(
        _relation_module(model), _relation_example(model), str(path), dynamo=False, opset_version=OPSET,
        input_names=names, output_names=["relation_probs"],
        dynamic_axes={"hidden_states": {0: "batch", 1: "sequence"}, "span_bounds": {0: "batch", 1: "spans"},
                      "span_labels": {0: "batch", 1: "spans"}, "span_words": {0: "batch", 1: "spans"},
                      "pairs": {0: "batch", 1: "pairs"}, "relation_probs": {0: "batch", 1: "pairs"}})


def quantize_encoder(src: Path, dst: Path) -> None:
    """Dynamic int8 quantisation (weights int8, activations quantised on the fly) of the MatMuls."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm"])


# ---------------------------------------------------------------------- check
def check_export(model, out: Path, atol: float = 1e-3) -> dict:
    """Run the exported graphs on shapes other than the traced ones and compare with torch."""
    import numpy as np
    import onnxruntime as ort
    import torch

    result = {}
    ids, mask = _example_batch(model, batch=3, length=17)
    with torch.no_grad():
        want_lp, want_h = _encoder_module(model)(ids, mask)
    sess = ort.InferenceSession(str(out / ENCODER_FILE), providers=["CPUExecutionProvider"])
    got_lp, got_h = sess.run(None, {"input_ids": ids.numpy(), "attention_mask": mask.numpy()})
    keep = mask.bool().numpy()
    diff = float(np.abs(got_lp - want_lp.numpy())[keep].max())
    result["tag_log_probs"] = diff
    if diff > atol:
        raise RuntimeError(f"the exported encoder differs from torch by {diff:.2e} (> {atol}); export failed")
    if (out / RELATION_FILE).is_file():
        hidden, bounds, labels, words, _ = _relation_example(model, length=17, spans=3)
        pairs = torch.tensor([[[0, 1], [1, 0], [0, 2], [2, 0], [1, 2]]])
        with torch.no_grad():
            want = _relation_module(model)(hidden, bounds, labels, words, pairs).numpy()
        rel = ort.InferenceSession(str(out / RELATION_FILE), providers=["CPUExecutionProvider"])
        got = rel.run(None, {"hidden_states": hidden.numpy(), "span_bounds": bounds.numpy(),
                             "span_labels": labels.numpy(), "span_words": words.numpy(), "pairs": pairs.numpy()})[0]
        diff = float(np.abs(got - want).max())
        result["relation_probs"] = diff
        if diff > atol:
            raise RuntimeError(f"the exported relation scorer differs from torch by {diff:.2e} (> {atol})")
    return result


__all__ = ["export_onnx", "quantize_encoder", "check_export"]
