"""The ONNX path: export → OnnxExtractor gives the torch Extractor's spans and relations, and runs
with torch and transformers impossible to import."""
import json
import subprocess
import sys
import textwrap

import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

from rasd.inference.documents import Document, read_documents  # noqa: E402


def _long_doc(tiny_docs):
    # several 32-subtoken windows (the tiny model's max_length), so pairs cross window cores
    return Document("long", "\n".join(d.text for d in tiny_docs) * 2)


# Every word-level part on: char-CNN, hashed features with gazetteers, BiLSTM, CRF, pair features.
WORD_PARTS = dict(char_embedding_size=8, char_filters=6, word_features=["word", "affixes", "stem", "shape", "gazetteer"],
                  feature_buckets=997, feature_embedding_size=8, lstm_hidden_size=12, lstm_layers=2, crf=True,
                  pair_features=True)


@pytest.fixture(scope="module", params=["plain", "word-parts"])
def saved_model(request, tmp_path_factory, tiny_encoder_dir, schema):
    """The conftest ``tiny_model`` (same seed and sizes), plain and with every word-level part,
    saved once for the whole module."""
    import torch
    from transformers import AutoTokenizer

    from rasd.inference.modeling import RasdModel

    out = tmp_path_factory.mktemp("onnx-src") / "m"
    torch.manual_seed(0)
    parts = WORD_PARTS if request.param == "word-parts" else {}
    model = RasdModel.from_encoder(tiny_encoder_dir, schema, max_length=32, window_stride=8, **parts)
    if model.crf is not None:  # learned transitions that matter, not the zeros of a fresh CRF
        with torch.no_grad():
            model.crf.transitions.normal_(0, 1.0)
            model.crf.start.normal_(0, 1.0)
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_encoder_dir).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def exported(saved_model):
    from rasd.training.export_onnx import export_onnx

    out = saved_model.parent / "onnx"
    info = export_onnx(saved_model, out, quantize=True)
    return out, info


@pytest.fixture(scope="module")
def torch_extractor(saved_model):
    from rasd.inference.extractor import Extractor

    return Extractor.from_pretrained(saved_model)


def _spans(docs):
    return [[(s.start, s.end, s.label) for s in d.spans] for d in docs]


def _relations(docs):
    return [[(r.head.start, r.head.end, r.tail.start, r.tail.end, r.label) for r in d.relations] for d in docs]


def test_export_writes_a_self_sufficient_directory(exported, saved_model):
    out, info = exported
    names = ["model.onnx", "model.int8.onnx", "relations.onnx", "config.json", "tokenizer.json"]
    if json.loads((saved_model / "config.json").read_text())["crf"]:
        names.append("crf.json")
    for name in names:
        assert (out / name).is_file(), name
    assert info["max_abs_diff"]["tag_scores"] < 1e-3
    assert info["max_abs_diff"]["relation_probs"] < 1e-3
    assert json.loads((out / "onnx_export.json").read_text())["files"] == info["files"]


@pytest.mark.parametrize("batch_size", [1, 3])
def test_onnx_extractor_matches_the_torch_extractor(exported, torch_extractor, tiny_docs, batch_size):
    from rasd.inference.onnx_extractor import OnnxExtractor

    docs = list(tiny_docs) + [_long_doc(tiny_docs)]
    want = torch_extractor.predict_documents(docs, batch_size=batch_size)
    got = OnnxExtractor.from_pretrained(exported[0]).predict_documents(docs, batch_size=batch_size)
    # the comparison means something only if the (random) model predicts spans and relations
    assert sum(len(d.spans) for d in want) >= 10 and sum(len(d.relations) for d in want) >= 1
    assert len(want[-1].spans) > 0
    assert _spans(got) == _spans(want)
    assert _relations(got) == _relations(want)
    for a, b in zip(got, want):
        assert [s.score for s in a.spans] == pytest.approx([s.score for s in b.spans], abs=1e-4)
        assert [r.score for r in a.relations] == pytest.approx([r.score for r in b.relations], abs=1e-4)
        assert (a.id, a.text, a.meta) == (b.id, b.text, b.meta)


def test_int8_model_loads_and_predicts_valid_documents(exported, tiny_docs):
    from rasd.inference.onnx_extractor import OnnxExtractor

    docs = OnnxExtractor.from_pretrained(exported[0], quantized=True).extract(tiny_docs)
    assert len(docs) == len(tiny_docs)
    for doc in docs:
        assert all(0 <= s.start < s.end <= len(doc.text) for s in doc.spans)
        assert all(a.end <= b.start for a, b in zip(doc.spans, doc.spans[1:]))


def test_missing_int8_model_is_a_clear_error(tmp_path, exported):
    import shutil

    from rasd.inference.onnx_extractor import OnnxExtractor

    for name in ("model.onnx", "relations.onnx", "config.json", "tokenizer.json", "tokenizer_config.json", "crf.json"):
        if (exported[0] / name).is_file():
            shutil.copy2(exported[0] / name, tmp_path / name)
    assert OnnxExtractor.from_pretrained(tmp_path).extract("قصفت المدفعية بلدة كفرنبل.", events=False)
    with pytest.raises(FileNotFoundError, match="quantize=True"):
        OnnxExtractor.from_pretrained(tmp_path, quantized=True)


# A meta-path finder that refuses torch and transformers (and their submodules) with ImportError,
# as if they were not installed; optional imports guarded by `except ImportError` still work.
BLOCKER = """
import sys
class _Blocked:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "transformers"):
            raise ImportError(f"{name} is blocked in this test")
        return None
sys.meta_path.insert(0, _Blocked())
"""


def _run_blocked(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCKER + textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=300, env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin",
                                            "TOKENIZERS_PARALLELISM": "false"})


def test_blocker_really_blocks():
    proc = _run_blocked("import torch")
    assert proc.returncode != 0 and "blocked in this test" in proc.stderr


def test_onnx_extractor_needs_neither_torch_nor_transformers(exported, torch_extractor, tiny_docs):
    texts = [d.text for d in tiny_docs]
    code = f"""
    import json, sys
    from rasd.inference.onnx_extractor import OnnxExtractor
    ex = OnnxExtractor.from_pretrained({str(exported[0])!r})
    docs = ex.extract({texts!r}, dates=["2024-12-07"] * {len(texts)})
    assert "torch" not in sys.modules and "transformers" not in sys.modules
    print(json.dumps([[[s.start, s.end, s.label] for s in d.spans] for d in docs]))
    print(json.dumps([[[r.head.start, r.head.end, r.tail.start, r.tail.end, r.label] for r in d.relations] for d in docs]))
    """
    proc = _run_blocked(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    spans_line, relations_line = proc.stdout.strip().splitlines()[-2:]
    want = torch_extractor.predict_documents([Document(f"doc-{i + 1}", t) for i, t in enumerate(texts)])
    assert [[tuple(s) for s in d] for d in json.loads(spans_line)] == _spans(want)
    assert [[tuple(r) for r in d] for d in json.loads(relations_line)] == _relations(want)


def test_rasd_extract_runs_an_onnx_export_without_torch(exported, saved_model, tiny_docs, tmp_path):
    from rasd.inference.io import run_extraction

    txt = tmp_path / "news.jsonl"
    txt.write_text("".join(json.dumps({"id": d.id, "text": d.text}, ensure_ascii=False) + "\n" for d in tiny_docs),
                   encoding="utf-8")
    code = f"""
    import sys
    from rasd.inference.io import run_extraction
    stats = run_extraction({str(exported[0])!r}, [{str(txt)!r}], {str(tmp_path / "onnx.jsonl")!r},
                           show_progress_bar=False)
    assert "torch" not in sys.modules and "transformers" not in sys.modules
    assert stats["documents"] == {len(tiny_docs)} and not stats["errors"], stats
    """
    proc = _run_blocked(code)
    assert proc.returncode == 0, proc.stderr[-3000:]
    run_extraction(saved_model, [str(txt)], str(tmp_path / "torch.jsonl"), show_progress_bar=False)
    onnx_docs, torch_docs = (read_documents(tmp_path / name) for name in ("onnx.jsonl", "torch.jsonl"))
    assert _spans(onnx_docs) == _spans(torch_docs) and _relations(onnx_docs) == _relations(torch_docs)
    assert sum(len(d.spans) for d in torch_docs) > 0

    with pytest.raises(ValueError, match="int8 needs an ONNX export"):
        run_extraction(saved_model, [str(txt)], str(tmp_path / "x.jsonl"), quantized=True)
