"""Inference throughput of rasd's extractor against ``transformers.pipeline("token-classification")``.

One command, one run, on the same encoder weights and the same documents:

    .venv/bin/python benchmarks/inference_speed.py                  # quickstart model + BERT-base-sized model
    .venv/bin/python benchmarks/inference_speed.py --no-base --repeats 5 --batch-sizes 1,4,16,64

Paths compared (each in its own worker process, so its peak RSS is its own; timed passes are
interleaved round-robin over paths and batch sizes, so load drift on a shared machine hits all
of them alike; every figure is the median of ``--repeats`` passes after a warm-up pass):

``pipeline``  ``pipeline("token-classification", aggregation_strategy="simple")`` loading a
              ``BertForTokenClassification`` directory whose encoder and classifier are *copies* of
              the rasd model's encoder and tagger (same id2label; the copy is checked to give the
              same logits), so both compute the same tagging. It gets each document as its
              normalised words joined by spaces (what rasd's encoder feeds the tokenizer), so both
              see the same subtokens; rasd pays for normalising and splitting inside its timed
              pass, the pipeline does not.
``torch``     ``rasd.inference.Extractor.predict_documents(relations=False)``: words → windows →
              encoder + tagger → constrained Viterbi → spans.
``onnx``      the same through ``OnnxExtractor`` on ``model.onnx`` (no torch in that process).
``onnx-int8`` the same on ``model.int8.onnx`` (dynamic int8 quantisation).

Then the full extraction (spans + relations + event records, ``extract()``) of the three rasd
paths on its own, at each path's best batch size.

What must agree (the script exits 1 when it does not), computed on untimed passes:

1. torch vs onnx (fp32): identical spans (offsets and labels) in every document.
2. pipeline vs torch, word level: for every word the pipeline gives a subtoken, the tag the
   pipeline predicts on the word's first subtoken (its ``aggregation_strategy="none"`` output,
   ``O`` when absent) equals the argmax of rasd's word log-probabilities (rasd reads each word at
   its first subtoken). Words whose top two rasd log-probabilities are within 1e-4 are ties and
   not counted.
3. pipeline vs torch, spans: the spans read from the pipeline's word tags (as in 2) equal those
   read from rasd's argmax tags in every document; and every span that the constrained Viterbi
   left untouched (no word of it, nor the word before or after it, got another tag from Viterbi
   than from the argmax) is found on both sides: read from the pipeline's tags and in rasd's
   final output. The pipeline's own ``simple`` groups are not compared for equality: they also
   group the tags of non-first subtokens, which rasd never trains or reads; how many of them
   equal a rasd span is reported for information.

A check or a speed figure counts only when the model predicts at least 100 spans on the
documents used (CONTRACTS.md); otherwise the run says so and exits 1.
Quality: span and relation F1 against the gold of ``--data`` for torch, onnx and onnx-int8;
``--seed-models`` adds more trained models (seeds) so the int8 difference is a mean ± std.

Threads: every path runs with ``--threads`` intra-op threads (default 1). On a 2-core machine
shared with other jobs, two threads made every path several times slower and erratic
(each parallel region waits for a thread that another process has descheduled).
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from measure import (JsonWorker, has_trained_model, machine_info, markdown_table, peak_rss_mib,  # beside this script
                     protocol_stream, rss_mib)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "runs" / "quickstart" / "model"
DEFAULT_DATA = ROOT / "data" / "conflict-ar" / "test.jsonl"
DEFAULT_WORK = ROOT / "runs" / "bench"  # exported ONNX, the pipeline copy, the BERT-base model (runs/ is git-ignored)
MIN_SPANS = 100
PATHS = ("pipeline", "torch", "onnx", "onnx-int8")
TIE = 1e-4


# ============================================================================ worker side
def _load_docs(path):
    from rasd.inference.documents import read_documents

    return read_documents(path)


def _pipeline_texts(docs, config: dict):
    """Each document as rasd's normalised words joined by single spaces, with the start of every word."""
    from rasd.inference.text import NormalizationOptions, normalize_word, split_words

    opts = NormalizationOptions.from_dict(config.get("normalization"))
    texts, starts, words = [], [], []
    for doc in docs:
        spans = split_words(doc.text, config.get("word_splitter", "arabic"))
        forms = [normalize_word(doc.text[s:e], opts) for s, e in spans]
        pos, st = 0, []
        for f in forms:
            st.append(pos)
            pos += len(f) + 1
        texts.append(" ".join(forms))
        starts.append(st)
        words.append(spans)
    return texts, starts, words


class PipelineWorker:
    def __init__(self, model_dir: str, threads: int | None) -> None:
        import torch
        from transformers import pipeline

        if threads:
            torch.set_num_threads(threads)
        # model_dir is the BertForTokenClassification copy written by ensure_pipeline_model
        self.pipe = pipeline("token-classification", model=model_dir, aggregation_strategy="simple", device=-1)
        self.tok = self.pipe.tokenizer
        self.config = json.loads((Path(model_dir) / "rasd_config.json").read_text(encoding="utf-8"))

    def set_docs(self, docs) -> None:
        self.docs = docs
        self.texts, self.starts, self.words = _pipeline_texts(docs, self.config)

    def run(self, batch_size: int, mode: str, limit: int | None = None) -> dict:
        texts = self.texts[:limit] if limit else self.texts
        t = time.perf_counter()
        out = self.pipe(texts, batch_size=batch_size)
        seconds = time.perf_counter() - t
        return {"seconds": seconds, "documents": len(texts), "groups": sum(len(o) for o in out)}

    def breakdown(self, batch_size: int) -> dict:
        """Seconds spent in the pipeline's preprocess (tokenizer), _forward (the model) and postprocess."""
        spent = {"preprocess": 0.0, "_forward": 0.0, "postprocess": 0.0}
        originals = {name: getattr(self.pipe, name) for name in spent}
        for name, fn in originals.items():
            setattr(self.pipe, name, _timed(fn, spent, name))
        try:
            total = self.run(batch_size, "spans")["seconds"]
        finally:
            for name in spent:
                delattr(self.pipe, name)
        return {"total": total, "tokenize": spent["preprocess"], "model": spent["_forward"],
                "postprocess": spent["postprocess"]}

    def artifacts(self, path: str) -> dict:
        """Word tags read at first subtokens (aggregation "none"), and the "simple" groups as spans."""
        none = self.pipe(self.texts, aggregation_strategy="none", batch_size=1)
        simple = self.pipe(self.texts, batch_size=1)
        rows = []
        for text, starts, words, ents, groups in zip(self.texts, self.starts, self.words, none, simple):
            start_word = {s: k for k, s in enumerate(starts)}
            end_word = {s + len(text[s:].split(" ", 1)[0]): k for k, s in enumerate(starts)}
            has_token = [False] * len(starts)
            for s, e in self.tok(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]:
                if s in start_word and e > s:
                    has_token[start_word[s]] = True
            tags = ["O"] * len(starts)
            for ent in ents:
                k = start_word.get(int(ent["start"]))
                if k is not None:
                    tags[k] = ent["entity"]
            spans = []
            for g in groups:
                a, b = start_word.get(int(g["start"])), end_word.get(int(g["end"]))
                spans.append([words[a][0], words[b][1], g["entity_group"]] if a is not None and b is not None
                             else None)
            rows.append({"tags": tags, "has_token": has_token, "simple_spans": spans})
        with open(path, "w", encoding="utf-8") as f:
            json.dump(rows, f)
        return {"written": path}


class RasdWorker:
    def __init__(self, kind: str, model_dir: str, onnx_dir: str | None, threads: int | None) -> None:
        self.kind = kind
        if kind == "torch":
            import torch

            from rasd.inference.extractor import Extractor

            if threads:
                torch.set_num_threads(threads)
            self.ex = Extractor.from_pretrained(model_dir)
            self._mode = torch.inference_mode
        else:
            from rasd.inference.onnx_extractor import OnnxExtractor

            self.ex = OnnxExtractor.from_pretrained(onnx_dir, quantized=kind == "onnx-int8", threads=threads)
            import contextlib

            self._mode = contextlib.nullcontext

    def set_docs(self, docs) -> None:
        self.docs = docs
        self.tokens = sum(len(w.input_ids) for d in docs for w in self.ex.encoder.encode_document(d).windows)

    def run(self, batch_size: int, mode: str, limit: int | None = None) -> dict:
        docs = self.docs[:limit] if limit else self.docs
        t = time.perf_counter()
        if mode == "spans":
            out = self.ex.predict_documents(docs, batch_size=batch_size, relations=False)
        else:
            out = self.ex.extract(docs, batch_size=batch_size, events=True)
        seconds = time.perf_counter() - t
        return {"seconds": seconds, "documents": len(docs), "spans": sum(len(d.spans) for d in out),
                "relations": sum(len(d.relations) for d in out), "events": sum(len(d.events) for d in out)}

    def breakdown(self, batch_size: int) -> dict:
        """Seconds spent encoding text (words, normalisation, tokenizer, windows), in the network and
        in the rest (Viterbi, spans), through the extractor's public steps."""
        with self._mode():
            t0 = time.perf_counter()
            encoded = [self.ex.encoder.encode_document(d) for d in self.docs]
            t1 = time.perf_counter()
            scores = self.ex.score_words(encoded, batch_size)
            t2 = time.perf_counter()
            self.ex.decode_spans(encoded, scores)
            t3 = time.perf_counter()
        return {"total": t3 - t0, "tokenize": t1 - t0, "model": t2 - t1, "postprocess": t3 - t2}

    def artifacts(self, path: str) -> dict:
        import numpy as np

        from rasd.inference.decoding import viterbi_bio

        docs = self.ex.predict_documents(self.docs, batch_size=8)
        rows = []
        with self._mode():
            for doc, pred in zip(self.docs, docs):
                enc = self.ex.encoder.encode_document(doc)
                # one window per batch: no padding at all
                scores = self.ex.score_words([enc], batch_size=1).log_probs[0]
                order = np.sort(scores, axis=-1)
                argmax = scores.argmax(-1)
                rows.append({
                    "doc": pred.to_dict(),
                    "argmax": [self.ex.tags[i] for i in argmax],
                    "margin": (order[:, -1] - order[:, -2]).tolist() if len(scores) else [],
                    "viterbi": [self.ex.tags[i] for i in viterbi_bio(scores, self.ex.tags)],
                    "words": [list(w) for w in enc.words],
                })
        with open(path, "w", encoding="utf-8") as f:
            json.dump(rows, f, ensure_ascii=False)
        return {"written": path, "tokens": self.tokens}


def _timed(fn, spent: dict, name: str):
    """``fn`` adding its run time to ``spent[name]``; a generator's time is counted step by step."""
    def steps(gen):
        while True:
            t = time.perf_counter()
            try:
                item = next(gen)
            except StopIteration:
                spent[name] += time.perf_counter() - t
                return
            spent[name] += time.perf_counter() - t
            yield item

    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            out = fn(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - t
        return steps(out) if inspect.isgenerator(out) else out

    return wrapper


def worker_main(args) -> int:
    # the protocol owns the real stdout; anything a library prints goes to stderr
    proto = protocol_stream()
    t = time.perf_counter()
    if args.worker == "pipeline":
        w = PipelineWorker(args.model, args.threads)
    else:
        w = RasdWorker(args.worker, args.model, args.onnx, args.threads)
    w.set_docs(_load_docs(args.data))
    proto.write(json.dumps({"ready": True, "load_seconds": time.perf_counter() - t, "rss_mib": rss_mib(),
                            "tokens": getattr(w, "tokens", None),
                            "torch_loaded": "torch" in sys.modules}) + "\n")
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            proto.write(json.dumps({"peak_rss_mib": peak_rss_mib(), "rss_mib": rss_mib(),
                                    "torch_loaded": "torch" in sys.modules}) + "\n")
            return 0
        if cmd["cmd"] == "run":
            result = w.run(cmd["batch_size"], cmd["mode"], cmd.get("limit"))
        elif cmd["cmd"] == "breakdown":
            result = w.breakdown(cmd["batch_size"])
        else:
            result = w.artifacts(cmd["path"])
        proto.write(json.dumps(result) + "\n")
    return 0


# ============================================================================ parent side
class Worker(JsonWorker):
    def __init__(self, kind: str, model: Path, onnx: Path | None, data: Path, threads: int | None) -> None:
        cmd = [sys.executable, __file__, "--worker", kind, "--model", str(model), "--data", str(data)]
        if onnx:
            cmd += ["--onnx", str(onnx)]
        if threads:
            cmd += ["--threads", str(threads)]
        super().__init__(cmd, kind)


def ensure_pipeline_model(model_dir: Path, out_dir: Path) -> Path:
    """Write a ``BertForTokenClassification`` (any ``AutoModelForTokenClassification``) whose encoder and
    classifier are copies of the rasd model's encoder and tagger, with the same id2label, and check
    that both give the same tag logits."""
    stamp = {"model": str(model_dir.resolve()),
             "mtime": max((model_dir / f).stat().st_mtime for f in ("config.json", "model.safetensors"))}
    info = out_dir / "source.json"
    if info.is_file() and json.loads(info.read_text()) == stamp:
        return out_dir
    code = f"""
import copy, json, shutil, torch
from pathlib import Path
from transformers import AutoModelForTokenClassification, AutoTokenizer
from rasd.inference.modeling import RasdModel
src, out = Path({str(model_dir)!r}), Path({str(out_dir)!r})
rasd = RasdModel.from_pretrained(src).eval()
cfg = copy.deepcopy(rasd.config.encoder)
cfg.id2label = {{int(k): v for k, v in rasd.config.id2label.items()}}
cfg.label2id = {{v: k for k, v in cfg.id2label.items()}}
cfg.num_labels = len(cfg.id2label)
clf = AutoModelForTokenClassification.from_config(cfg).eval()
clf.base_model.load_state_dict(rasd.encoder.state_dict(), strict=True)
clf.classifier.load_state_dict(rasd.tagger.state_dict(), strict=True)
ids = torch.randint(5, cfg.vocab_size, (2, 40), generator=torch.Generator().manual_seed(0))
mask = torch.ones_like(ids); mask[1, 25:] = 0
with torch.inference_mode():
    diff = (clf(input_ids=ids, attention_mask=mask).logits - rasd.tagger(rasd.encode(ids, mask)))[mask.bool()].abs().max()
assert diff < 1e-5, f"the pipeline model differs from the rasd model by {{diff}}"
clf.save_pretrained(out)
tok = AutoTokenizer.from_pretrained(src)
tok.model_max_length = getattr(cfg, "max_position_embeddings", 512)
tok.save_pretrained(out)
shutil.copy2(src / "config.json", out / "rasd_config.json")
"""
    print(f"copying {model_dir} into a BertForTokenClassification -> {out_dir} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONWARNINGS": "ignore", "TRANSFORMERS_VERBOSITY": "error"})
    info.write_text(json.dumps(stamp))
    return out_dir


def ensure_onnx(model_dir: Path, out_dir: Path) -> Path:
    """Export (fp32 + int8) unless ``out_dir`` already holds an export of this very model."""
    stamp = {"model": str(model_dir.resolve()),
             "mtime": max((model_dir / f).stat().st_mtime for f in ("config.json", "model.safetensors"))}
    info = out_dir / "onnx_export.json"
    if info.is_file() and (out_dir / "model.int8.onnx").is_file():
        if json.loads(info.read_text()).get("source") == stamp:
            return out_dir
    code = ("import json,sys; from rasd.training.export_onnx import export_onnx; "
            f"r = export_onnx({str(model_dir)!r}, {str(out_dir)!r}, quantize=True); "
            f"r['source'] = {json.dumps(stamp)}; "
            f"open({str(info)!r}, 'w').write(json.dumps(r, indent=2)); print(json.dumps(r))")
    print(f"exporting {model_dir} -> {out_dir} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return out_dir


def build_base_model(like: Path, out: Path) -> Path:
    """A BERT-base-sized rasd model (12 layers, 768 wide, 12 heads, random weights) with ``like``'s
    tokenizer, schema and windows."""
    if (out / "model.safetensors").is_file():
        return out
    code = f"""
import json, torch
from pathlib import Path
from transformers import AutoTokenizer, BertConfig, BertModel
from rasd.inference.modeling import RasdModel
from rasd.inference.schema import Schema
like, out = Path({str(like)!r}), Path({str(out)!r})
cfg = json.loads((like / "config.json").read_text())
tok = AutoTokenizer.from_pretrained(like)
torch.manual_seed(0)
enc = BertModel(BertConfig(vocab_size=len(tok), hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                           intermediate_size=3072, max_position_embeddings=512, pad_token_id=tok.pad_token_id),
                add_pooling_layer=False)
enc.save_pretrained(out.parent / "bert-base-encoder"); tok.save_pretrained(out.parent / "bert-base-encoder")
keys = ("max_length", "window_stride", "word_splitter", "normalization", "relation_max_sentences",
        "relation_max_subtokens", "relation_hidden_size", "label_embedding_size", "distance_buckets")
model = RasdModel.from_encoder(out.parent / "bert-base-encoder", Schema.from_dict(cfg["schema"]),
                               **{{k: cfg[k] for k in keys if k in cfg}})
model.save_pretrained(out); tok.save_pretrained(out)
"""
    print(f"building a BERT-base-sized random model -> {out} ...", file=sys.stderr)
    subprocess.run([sys.executable, "-c", code], check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "PYTHONWARNINGS": "ignore", "TRANSFORMERS_VERBOSITY": "error"})
    return out


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def benchmark_model(name: str, model_dir: Path, data: Path, work: Path, batch_sizes: list[int], repeats: int,
                    threads: int | None, full: bool) -> dict:
    from rasd.inference.schema import Schema

    schema = Schema.from_dict(json.loads((model_dir / "config.json").read_text(encoding="utf-8"))["schema"])
    onnx_dir = ensure_onnx(model_dir, work / f"{name}-onnx")
    pipe_dir = ensure_pipeline_model(model_dir, work / f"{name}-pipeline")
    workers = {}
    try:
        for kind in PATHS:
            workers[kind] = Worker(kind, pipe_dir if kind == "pipeline" else model_dir,
                                   onnx_dir if kind.startswith("onnx") else None, data, threads)
        tokens = workers["torch"].info["tokens"]
        times: dict[tuple[str, int], list[float]] = {}
        counts: dict[tuple[str, int], dict] = {}
        for bs in batch_sizes:  # warm-up: every path at every batch size, on a few documents
            for kind, w in workers.items():
                w.ask(cmd="run", batch_size=bs, mode="spans", limit=max(bs, 4))
        for r in range(repeats):
            for bs in batch_sizes:
                for kind, w in workers.items():
                    out = w.ask(cmd="run", batch_size=bs, mode="spans")
                    times.setdefault((kind, bs), []).append(out["seconds"])
                    counts[(kind, bs)] = out
            print(f"  {name}: pass {r + 1}/{repeats} done", file=sys.stderr)
        n_docs = counts[("torch", batch_sizes[0])]["documents"]
        speed = {}
        for (kind, bs), ts in times.items():
            m = median(ts)
            speed.setdefault(kind, {})[bs] = {"seconds": m, "docs_per_s": n_docs / m, "tokens_per_s": tokens / m,
                                              "runs": ts}
        best = {k: max(v, key=lambda b: v[b]["docs_per_s"]) for k, v in speed.items()}
        extraction = {}
        if full:
            for _ in range(repeats):
                for kind in PATHS[1:]:
                    out = workers[kind].ask(cmd="run", batch_size=best[kind], mode="full")
                    e = extraction.setdefault(kind, {"batch_size": best[kind], "runs": [], **out})
                    e["runs"].append(out["seconds"])
            for kind, e in extraction.items():
                e["seconds"] = median(e["runs"])
                e["docs_per_s"] = n_docs / e["seconds"]
        # where the time goes, each path at its best batch size (median over --repeats passes)
        breakdown = {}
        for _ in range(repeats):
            for kind, w in workers.items():
                out = w.ask(cmd="breakdown", batch_size=best[kind])
                for key, value in out.items():
                    breakdown.setdefault(kind, {}).setdefault(key, []).append(value)
        breakdown = {k: {"batch_size": best[k], **{key: median(v) for key, v in parts.items()}}
                     for k, parts in breakdown.items()}
        # untimed parity passes
        art = {}
        for kind, w in workers.items():
            path = work / f"{name}-{kind}-artifacts.json"
            w.ask(cmd="artifacts", path=str(path))
            art[kind] = json.loads(path.read_text(encoding="utf-8"))
        memory = {kind: {**w.close(), "after_load_mib": w.info["rss_mib"]} for kind, w in workers.items()}
        workers = {}
    finally:
        for w in workers.values():
            w.proc.kill()
    return {"name": name, "model": str(model_dir), "documents": n_docs, "tokens": tokens, "speed": speed,
            "best": best, "extraction": extraction, "breakdown": breakdown, "memory": memory,
            "checks": check_parity(art, data, schema)}


def check_parity(art: dict, data: Path, schema) -> dict:
    from rasd.inference.alignment import word_tags_to_spans
    from rasd.inference.documents import Document, read_documents

    torch_rows, pipe_rows = art["torch"], art["pipeline"]
    span_key = lambda row: [(s["start"], s["end"], s["label"]) for s in row["doc"]["spans"]]  # noqa: E731
    rel_key = lambda row: [(r["head"], r["tail"], r["label"]) for r in row["doc"]["relations"]]  # noqa: E731
    out: dict = {"spans_predicted": sum(len(r["doc"]["spans"]) for r in torch_rows)}
    out["enough_spans"] = out["spans_predicted"] >= MIN_SPANS
    for kind in ("onnx", "onnx-int8"):
        rows = art[kind]
        out[f"{kind}_span_docs_differing"] = sum(span_key(a) != span_key(b) for a, b in zip(rows, torch_rows))
        out[f"{kind}_relation_docs_differing"] = sum(rel_key(a) != rel_key(b) for a, b in zip(rows, torch_rows))
    # pipeline vs torch, word level
    compared = disagree = ties = untokenized = 0
    examples = []
    clean_compared = clean_differing = repaired = argmax_docs = argmax_equal = 0
    simple_total = simple_equal = 0
    for k, (t, p) in enumerate(zip(torch_rows, pipe_rows)):
        for w, (ours, theirs, has, margin) in enumerate(zip(t["argmax"], p["tags"], p["has_token"], t["margin"])):
            if not has:
                untokenized += 1
                continue
            if margin < TIE:
                ties += 1
                continue
            compared += 1
            if ours != theirs:
                disagree += 1
                if len(examples) < 5:
                    examples.append({"doc": k, "word": w, "rasd": ours, "pipeline": theirs})
        ours_spans = set(span_key(t))
        words = [tuple(x) for x in t["words"]]
        if all(p["has_token"]):
            argmax_docs += 1
            argmax_equal += {(s, e, l) for s, e, l, _, _ in word_tags_to_spans(words, t["argmax"])} == \
                {(s, e, l) for s, e, l, _, _ in word_tags_to_spans(words, p["tags"])}
        # Final spans where the constrained Viterbi changed nothing: a span none of whose words, nor
        # the word before or after it, got another tag from Viterbi than from the argmax must be
        # found by both (read from the pipeline's tags, and in rasd's output), and vice versa.
        fixed = [a != v for a, v in zip(t["argmax"], t["viterbi"])]
        repaired += sum(fixed)
        if all(p["has_token"]):
            def untouched(first, last):
                return not any(fixed[max(first - 1, 0):last + 2])

            theirs_all = word_tags_to_spans(words, p["tags"])
            theirs = {(s, e, l) for s, e, l, _, _ in theirs_all}
            for s, e, l, a, b in theirs_all:
                if untouched(a, b):
                    clean_compared += 1
                    clean_differing += (s, e, l) not in ours_spans
            for s, e, l, a, b in word_tags_to_spans(words, t["viterbi"]):
                if untouched(a, b):
                    clean_compared += 1
                    clean_differing += (s, e, l) not in theirs
        for s in p["simple_spans"]:
            simple_total += 1
            simple_equal += s is not None and tuple(s) in ours_spans
    out.update({"words_compared": compared, "words_disagreeing": disagree, "word_ties_skipped": ties,
                "words_without_pipeline_token": untokenized, "disagreement_examples": examples,
                "words_repaired_by_viterbi": repaired, "untouched_spans_compared": clean_compared,
                "untouched_spans_differing": clean_differing,
                "docs_argmax_compared": argmax_docs, "docs_argmax_spans_equal": argmax_equal,
                "docs": len(torch_rows), "pipeline_simple_groups": simple_total,
                "pipeline_simple_groups_equal_to_a_rasd_span": simple_equal})
    out["ok"] = bool(out["enough_spans"] and out["onnx_span_docs_differing"] == 0 and disagree == 0
                     and clean_differing == 0 and argmax_equal == argmax_docs)
    # quality against gold
    try:
        from rasd.training.metrics import score_documents

        gold = read_documents(data)
        quality = {}
        for kind in ("torch", "onnx", "onnx-int8"):
            pred = [Document.from_dict(r["doc"]) for r in art[kind]]
            m = score_documents(gold, pred, schema)
            quality[kind] = {"spans_f1": m["spans"]["micro"]["f1"], "relations_f1": m["relations"]["micro"]["f1"]}
        out["quality"] = quality
        out["int8_span_f1_drop_points"] = 100 * (quality["torch"]["spans_f1"] - quality["onnx-int8"]["spans_f1"])
        out["int8_relation_f1_drop_points"] = 100 * (quality["torch"]["relations_f1"]
                                                     - quality["onnx-int8"]["relations_f1"])
    except ImportError as err:  # rasd.training not installed: quality is skipped, parity still counts
        out["quality_error"] = str(err)
    return out


# ============================================================================ report
def report(res: dict, batch_sizes: list[int]) -> str:
    sp, best = res["speed"], res["best"]
    out = [f"### {res['name']}: {res['model']}",
           f"{res['documents']} documents, {res['tokens']} subtokens (special tokens included); "
           f"rasd predicts {res['checks']['spans_predicted']} spans."]
    rows = []
    for bs in batch_sizes:
        base = sp["pipeline"][bs]["docs_per_s"]
        rows.append([str(bs)] + [f"{sp[k][bs]['docs_per_s']:.1f}" for k in PATHS]
                    + [f"{sp[k][bs]['docs_per_s'] / base:.2f}x" for k in PATHS[1:]])
    out.append("\nSpans, documents/s (median), same batch size for every path:\n")
    out.append(markdown_table(rows, ["batch"] + list(PATHS) + [f"{k} / pipeline" for k in PATHS[1:]]))
    pipe_best = sp["pipeline"][best["pipeline"]]["docs_per_s"]
    rows = []
    for k in PATHS:
        s = sp[k][best[k]]
        mem = res["memory"][k]
        rows.append([k, str(best[k]), f"{s['docs_per_s']:.1f}", f"{s['tokens_per_s']:.0f}",
                     f"{s['docs_per_s'] / pipe_best:.2f}x", f"{mem['peak_rss_mib']:.0f}", f"{mem['after_load_mib']:.0f}"])
    out.append("\nEach path at its best batch size:\n")
    out.append(markdown_table(rows, ["path", "best batch", "docs/s", "tokens/s", "vs pipeline (best)",
                                "peak RSS MiB", "RSS after load MiB"]))
    if 1 in sp["pipeline"]:
        out.append("\nEach rasd path at its best batch size against the pipeline as usually called (batch_size=1): "
                   + ", ".join(f"{k} {sp[k][best[k]]['docs_per_s'] / sp['pipeline'][1]['docs_per_s']:.2f}x"
                               for k in PATHS[1:]))
    if res["extraction"]:
        rows = [[k, str(e["batch_size"]), f"{e['docs_per_s']:.1f}", str(e["spans"]), str(e["relations"]),
                 str(e["events"])] for k, e in res["extraction"].items()]
        out.append("\nFull extraction (spans + relations + event records), each at its best batch size:\n")
        out.append(markdown_table(rows, ["path", "batch", "docs/s", "spans", "relations", "events"]))
    if res.get("breakdown"):
        rows = [[k, str(b["batch_size"]), f"{1000 * b['total']:.0f}", f"{1000 * b['tokenize']:.0f}",
                 f"{1000 * b['model']:.0f}", f"{1000 * b['postprocess']:.0f}",
                 f"{100 * b['model'] / b['total']:.0f}%"] for k, b in res["breakdown"].items()]
        out.append("\nWhere the time goes (ms per pass over all documents, best batch size; tokenize = the "
                   "pipeline's preprocess / rasd's words + normalisation + tokenizer + windows; model = the "
                   "network call; rest = the pipeline's postprocess / rasd's padding, Viterbi and spans):\n")
        out.append(markdown_table(rows, ["path", "batch", "total", "tokenize", "model", "rest", "model share"]))
    c = res["checks"]
    out.append("\nChecks:\n")
    out.append(f"- torch vs onnx fp32: {c['onnx_span_docs_differing']} of {c['docs']} documents with different spans, "
               f"{c['onnx_relation_docs_differing']} with different relations")
    out.append(f"- torch vs onnx int8: {c['onnx-int8_span_docs_differing']} documents with different spans, "
               f"{c['onnx-int8_relation_docs_differing']} with different relations")
    out.append(f"- pipeline vs torch, word argmax tags: {c['words_disagreeing']} of {c['words_compared']} words differ "
               f"({c['word_ties_skipped']} ties skipped, {c['words_without_pipeline_token']} words without a "
               f"pipeline subtoken)")
    out.append(f"- pipeline vs torch, spans read from the word argmax tags (before Viterbi): "
               f"{c['docs_argmax_spans_equal']} of {c['docs_argmax_compared']} documents equal")
    out.append(f"- pipeline vs torch, final spans Viterbi left untouched (Viterbi changed {c['words_repaired_by_viterbi']} "
               f"word tags): {c['untouched_spans_differing']} of {c['untouched_spans_compared']} spans differ")
    out.append(f"- pipeline 'simple' groups equal to a rasd span: {c['pipeline_simple_groups_equal_to_a_rasd_span']} "
               f"of {c['pipeline_simple_groups']} (information: they also group non-first subtokens)")
    if "quality" in c:
        q = c["quality"]
        out.append(f"- F1 vs gold: torch spans {q['torch']['spans_f1']:.4f} relations {q['torch']['relations_f1']:.4f}; "
                   f"int8 spans {q['onnx-int8']['spans_f1']:.4f} relations {q['onnx-int8']['relations_f1']:.4f} "
                   f"(drop {c['int8_span_f1_drop_points']:+.2f} / {c['int8_relation_f1_drop_points']:+.2f} points)")
    out.append(f"- parity: {'OK' if c['ok'] else 'FAILED'}"
               + ("" if c["enough_spans"] else f" (fewer than {MIN_SPANS} spans: the run does not count)"))
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="trained rasd model directory")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="JSONL documents (gold used for F1)")
    p.add_argument("--batch-sizes", default="1,8,32")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1,
                   help="intra-op threads of every path (torch.set_num_threads / onnxruntime intra_op_num_threads); "
                        "0 leaves each library's default. Default 1: see benchmarks/README.md")
    p.add_argument("--base", action=argparse.BooleanOptionalAction, default=True,
                   help="also measure a BERT-base-sized random model with the same tokenizer")
    p.add_argument("--base-batch-sizes", default="1,16")
    p.add_argument("--base-repeats", type=int, default=2)
    p.add_argument("--base-docs", type=int, default=20, help="first N documents of --data for the BERT-base model")
    p.add_argument("--seed-models", type=Path, nargs="*", default=[],
                   help="more trained models (other seeds) for the int8 F1 difference as mean ± std")
    p.add_argument("--work-dir", type=Path, default=DEFAULT_WORK)
    p.add_argument("--json", type=Path, default=None, help="also write all figures as JSON")
    p.add_argument("--worker", choices=PATHS, help=argparse.SUPPRESS)
    p.add_argument("--onnx", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker_main(args)
    if not has_trained_model(args.model):
        return 2
    args.work_dir.mkdir(parents=True, exist_ok=True)
    args.threads = args.threads or None
    started = time.perf_counter()
    load_before = os.getloadavg()
    results = []
    bs = [int(x) for x in args.batch_sizes.split(",")]
    results.append(benchmark_model("quickstart", args.model, args.data, args.work_dir, bs, args.repeats,
                                   args.threads, full=True))
    print(report(results[-1], bs), flush=True)
    if args.base:
        base_dir = build_base_model(args.model, args.work_dir / "bert-base" / "model")
        bbs = [int(x) for x in args.base_batch_sizes.split(",")]
        subset = args.work_dir / f"base-docs-{args.base_docs}.jsonl"
        with open(args.data, encoding="utf-8") as f:
            subset.write_text("".join([line for line in f if line.strip()][:args.base_docs]), encoding="utf-8")
        results.append(benchmark_model("bert-base", base_dir, subset, args.work_dir, bbs, args.base_repeats,
                                       args.threads, full=True))
        print("\n" + report(results[-1], bbs), flush=True)
    seeds = int8_quality(results[0], args.seed_models, args.data, args.work_dir, args.threads)
    print("\n" + seeds["text"], flush=True)
    env = machine_info(args.threads, load_before, ("torch", "onnxruntime", "transformers", "numpy"))
    print(f"\n{env}\nwall time {time.perf_counter() - started:.0f} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": env, "results": results, "int8_seeds": seeds}, indent=2,
                                        default=str))
    return 0 if all(r["checks"]["ok"] for r in results) else 1


def int8_quality(main: dict, models: list[Path], data: Path, work: Path, threads: int | None) -> dict:
    """F1 drop of int8 against torch (points, spans and relations), over the main model and ``models``."""
    from rasd.inference.documents import Document, read_documents
    from rasd.inference.schema import Schema
    from rasd.training.metrics import score_documents

    gold = read_documents(data)
    rows = []
    if "quality" in main["checks"]:
        q = main["checks"]["quality"]
        rows.append({"model": main["model"], **{f"{k}_{m}": q[k][m] for k in ("torch", "onnx-int8")
                                                for m in ("spans_f1", "relations_f1")}})
    for i, model in enumerate(models):
        onnx_dir = ensure_onnx(model, work / f"seed{i + 1}-onnx")
        schema = Schema.from_dict(json.loads((model / "config.json").read_text(encoding="utf-8"))["schema"])
        row = {"model": str(model)}
        for kind in ("torch", "onnx-int8"):
            w = Worker(kind, model, onnx_dir if kind != "torch" else None, data, threads)
            path = work / f"seed{i + 1}-{kind}-artifacts.json"
            w.ask(cmd="artifacts", path=str(path))
            w.close()
            pred = [Document.from_dict(r["doc"]) for r in json.loads(path.read_text(encoding="utf-8"))]
            m = score_documents(gold, pred, schema)
            row[f"{kind}_spans_f1"], row[f"{kind}_relations_f1"] = m["spans"]["micro"]["f1"], m["relations"]["micro"]["f1"]
        rows.append(row)
    out = {"models": rows}
    lines = ["int8 F1 drop against torch on " + str(data) + " (points; positive = int8 worse):"]
    for metric in ("spans_f1", "relations_f1"):
        drops = [100 * (r[f"torch_{metric}"] - r[f"onnx-int8_{metric}"]) for r in rows]
        mean = statistics.mean(drops) if drops else float("nan")
        std = statistics.stdev(drops) if len(drops) > 1 else float("nan")
        out[metric] = {"drops": drops, "mean": mean, "std": std, "n": len(drops)}
        lines.append(f"- {metric}: {mean:+.2f} ± {std:.2f} over {len(drops)} model(s) "
                     f"({', '.join(f'{d:+.2f}' for d in drops)})")
    out["text"] = "\n".join(lines)
    return out


if __name__ == "__main__":
    sys.exit(main())
