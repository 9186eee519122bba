"""Export a trained rasd model to ONNX for CPU inference without torch or transformers.

Two graphs, because the relation head scores pairs of *decoded* spans (constrained Viterbi over
whole documents sits in between):

``model.onnx``
    ``input_ids, attention_mask [batch, seq]``, ``word_starts, word_mask [batch, words]`` and,
    when the model reads them, ``char_ids [batch, words, chars]`` and ``feature_ids [batch,
    words, slots]`` (int64, ``rasd.inference.encoding.model_inputs``) → ``tag_scores [batch, words,
    tags]`` (log-softmax, or CRF emissions) and ``word_states [batch, words, size]``.
``relations.onnx``
    ``word_states [1, words, size]``, ``span_bounds [1, spans, 2]``, ``span_labels [1, spans]``,
    ``span_words [1, spans]``, ``pairs [1, pairs, 2]`` (and ``pair_features [1, pairs, 4]`` when the
    model uses them; int64) → ``relation_probs [1, pairs, classes]`` (softmax over the relation
    classes, pairs the schema forbids already forced to "no relation").

A model with a CRF also gets ``crf.json``: its learned tag transitions, which the shared numpy
Viterbi reads.

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

from rasd.inference.onnx_extractor import CRF_FILE, ENCODER_FILE, ENCODER_INT8_FILE, RELATION_FILE

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
    if model.crf is not None:
        from rasd.inference.decoding import TagTransitions

        learned = TagTransitions(*(t.detach().float().numpy() for t in model.crf.transition_scores()))
        with open(out / CRF_FILE, "w", encoding="utf-8") as f:
            json.dump(learned.to_lists(), f)
        result["files"].append(CRF_FILE)
    if quantize:
        quantize_encoder(out / ENCODER_FILE, out / ENCODER_INT8_FILE)
        result["files"].append(ENCODER_INT8_FILE)
    # the model card and its scores travel with the export (rasd serve's /v1/model reads them)
    for name in ("config.json", "README.md", "eval_results.json") + TOKENIZER_FILES:
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
def _word_input_names(model) -> list[str]:
    """The encoder graph's inputs: the windows, plus the word arrays the model reads."""
    names = ["input_ids", "attention_mask", "word_starts", "word_mask"]
    if model.chars is not None:
        names.append("char_ids")
    if model.features is not None:
        names.append("feature_ids")
    return names


def _relation_input_names(model) -> list[str]:
    names = ["word_states", "span_bounds", "span_labels", "span_words", "pairs"]
    if model.relations.pair_embedding is not None:
        names.append("pair_features")
    return names


def _encoder_module(model):
    from torch import nn

    names = _word_input_names(model)

    class WordTagger(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *inputs):
            words = self.model.word_states(**dict(zip(names, inputs)))
            return self.model.tag_scores(words), words

    return WordTagger().eval()


def _relation_module(model):
    import torch
    from torch import nn

    names = _relation_input_names(model)

    class RelationScorer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, words, *inputs):
            logits = self.model.relation_logits(words, **dict(zip(names[1:], inputs)))
            return torch.softmax(logits.float(), dim=-1)

    return RelationScorer().eval()


def _example_batch(model, batch: int = 2, length: int = 12) -> tuple:
    """Example inputs of the encoder graph: ``batch`` windows of ``length`` subtokens, one padded."""
    import numpy as np
    import torch

    from rasd.inference.encoding import pad_model_inputs, word_input_arrays

    vocab = model.config.encoder.vocab_size
    g = torch.Generator().manual_seed(0)
    definition = model.config.definition
    featurizer = definition.featurizer if definition.uses_word_inputs else None
    rows = []
    for b in range(batch):
        n = length if b < batch - 1 else length // 2  # one padded row, so the masks are traced as real inputs
        ids = torch.randint(5, vocab, (n,), generator=g).tolist()
        starts = list(range(1, n - 1, 2))
        forms = ["قصفت", "الطائرات", "مدينة", "حمص", "أمس", "2000", "جندي", "x"][:len(starts)]
        forms += ["و"] * (len(starts) - len(forms))
        rows.append((ids, starts, word_input_arrays(forms, featurizer, model.chars is not None)))
    inputs = pad_model_inputs(rows, 0)
    return tuple(torch.from_numpy(np.ascontiguousarray(inputs[n])) for n in _word_input_names(model))


def _export_encoder(model, path: Path) -> None:
    import torch

    names = _word_input_names(model)
    dynamic = {"input_ids": {0: "batch", 1: "sequence"}, "attention_mask": {0: "batch", 1: "sequence"},
               "word_starts": {0: "batch", 1: "words"}, "word_mask": {0: "batch", 1: "words"},
               "char_ids": {0: "batch", 1: "words"}, "feature_ids": {0: "batch", 1: "words"},
               "tag_scores": {0: "batch", 1: "words"}, "word_states": {0: "batch", 1: "words"}}
    torch.onnx.export(
        _encoder_module(model), _example_batch(model), str(path), dynamo=False, opset_version=OPSET,
        input_names=names, output_names=["tag_scores", "word_states"],
        dynamic_axes={k: v for k, v in dynamic.items() if k in names or k in ("tag_scores", "word_states")})


def _relation_example(model, length: int = 12, spans: int = 3):
    import torch

    words = torch.randn(1, length, model.word_state_size, generator=torch.Generator().manual_seed(0))
    bounds = torch.tensor([[[1, 2], [4, 4], [7, 9]]])[:, :spans]
    labels = torch.tensor([[len(model.schema.entities), 0, 1]])[:, :spans] % len(model.schema.span_labels)
    span_words = torch.tensor([[0, 2, 4]])[:, :spans]
    pairs = torch.tensor([[[0, 1], [0, 2], [2, 1]]])
    example = [words, bounds, labels, span_words, pairs]
    if model.relations.pair_embedding is not None:
        example.append(torch.tensor([[[2, 0, 0, 1], [3, 1, 0, 0], [1, 3, 3, 3]]]))
    return tuple(example)


def _export_relations(model, path: Path) -> None:
    import torch

    names = _relation_input_names(model)
    dynamic = {"word_states": {0: "batch", 1: "words"}, "span_bounds": {0: "batch", 1: "spans"},
               "span_labels": {0: "batch", 1: "spans"}, "span_words": {0: "batch", 1: "spans"},
               "pairs": {0: "batch", 1: "pairs"}, "pair_features": {0: "batch", 1: "pairs"},
               "relation_probs": {0: "batch", 1: "pairs"}}
    torch.onnx.export(
        _relation_module(model), _relation_example(model), str(path), dynamo=False, opset_version=OPSET,
        input_names=names, output_names=["relation_probs"],
        dynamic_axes={k: v for k, v in dynamic.items() if k in names or k == "relation_probs"})


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
    example = _example_batch(model, batch=3, length=17)
    with torch.no_grad():
        want_scores, _ = _encoder_module(model)(*example)
    sess = ort.InferenceSession(str(out / ENCODER_FILE), providers=["CPUExecutionProvider"])
    names = _word_input_names(model)
    wanted = {i.name for i in sess.get_inputs()}  # the exporter drops inputs a model does not read
    got_scores, _ = sess.run(None, {n: t.numpy() for n, t in zip(names, example) if n in wanted})
    keep = example[names.index("word_mask")].bool().numpy()
    diff = float(np.abs(got_scores - want_scores.numpy())[keep].max())
    result["tag_scores"] = diff
    if diff > atol:
        raise RuntimeError(f"the exported encoder differs from torch by {diff:.2e} (> {atol}); export failed")
    if (out / RELATION_FILE).is_file():
        example = list(_relation_example(model, length=17, spans=3))
        example[4] = torch.tensor([[[0, 1], [1, 0], [0, 2], [2, 0], [1, 2]]])
        if len(example) > 5:
            example[5] = torch.tensor([[[2, 0, 0, 1], [3, 1, 0, 0], [1, 3, 3, 3], [0, 0, 1, 1], [4, 2, 2, 0]]])
        with torch.no_grad():
            want = _relation_module(model)(*example).numpy()
        rel = ort.InferenceSession(str(out / RELATION_FILE), providers=["CPUExecutionProvider"])
        wanted = {i.name for i in rel.get_inputs()}
        got = rel.run(None, {n: t.numpy() for n, t in zip(_relation_input_names(model), example) if n in wanted})[0]
        diff = float(np.abs(got - want).max())
        result["relation_probs"] = diff
        if diff > atol:
            raise RuntimeError(f"the exported relation scorer differs from torch by {diff:.2e} (> {atol})")
    return result


__all__ = ["export_onnx", "quantize_encoder", "check_export"]
