"""Full-extraction throughput of rasd 0.2 (this tree) against rasd 0.1 (its code and its quickstart model).

One command, one run, on the same documents (issue 12's inference criterion: documents/s of full
extraction at least half of rasd 0.1's):

    .venv/bin/python benchmarks/version_speed.py                       # runs/quickstart/model vs rasd 0.1
    .venv/bin/python benchmarks/version_speed.py --model DIR --repeats 7 --batch-sizes 1,8,32

Paths compared (each in its own worker process, so its peak RSS and imports are its own):

``0.1``  the code of ``--old-commit`` (default ac2cd78, rasd 0.1.0), unpacked by ``git archive`` into
         ``runs/bench/rasd-<commit>/src`` and imported as ``rasd.inference`` through a folder put first
         on the worker's PYTHONPATH (``rasd/inference`` and ``rasd/training`` link to the old
         checkout); its model is the old quickstart recipe trained *with the old code* (old
         ``rasd build-default-model`` + old ``rasd train --config configs/quickstart.yaml``, ~7 min on
         2 cores; made once under ``runs/bench/rasd-<commit>/quickstart``, then reused).
``0.2``  this tree's ``rasd.inference`` with ``--model`` (default ``runs/quickstart/model``).

Both run ``Extractor.from_pretrained(model).extract(docs, batch_size=B)``: spans, relations and
event records. After a warm-up pass, timed passes are interleaved (one worker computes at a time;
the other waits on its stdin) and each figure is the median of ``--repeats`` passes, at every
batch size of ``--batch-sizes`` (same batch size for both) and each at its own best.

Where the time goes (a separate set of passes, medians): for both versions, through the calls both
expose (encode text: ``encoder.encode_document``; spans: ``predict_documents(relations=False)``;
relations: ``predict_documents()`` minus that; event records: ``EventBuilder(schema).build``); for
0.2, step by step through ``rasd.inference.pipeline.ExtractorBase``'s public steps
(``encoder.encode_document``, ``score_words``, ``decode_spans``, ``score_relations``,
``EventBuilder.build``), with what each step spends on its parts (word features with a warm
and a cold cache, the CRF's Viterbi and marginals, geocoding). Nothing is patched.

A speed figure counts only when the model predicts at least 100 spans on the documents used
(CONTRACTS.md). The script exits 1 when either model predicts fewer, 0 otherwise (it prints
whether the 0.5x criterion is met; it does not fail on it).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from measure import (JsonWorker, has_trained_model, machine_info, markdown_table, peak_rss_mib,  # beside this script
                     protocol_stream, rss_mib, worker_env)

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_MODEL = ROOT / "runs" / "quickstart" / "model"
DEFAULT_DATA = ROOT / "data" / "conflict-ar" / "test.jsonl"
DEFAULT_WORK = ROOT / "runs" / "bench"  # runs/ is git-ignored
OLD_COMMIT = "ac2cd78"  # rasd 0.1.0: subtoken tagging with a 4-layer random BERT and a linear head
OLD_PATHS = ("inference", "training", "configs", "data/conflict-ar")  # what the old CLI reads, relative to its root
VERSIONS = ("0.1", "0.2")
MIN_SPANS = 100


# ============================================================================ rasd 0.1: code and model
def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout.strip()


def ensure_old_code(commit: str, work: Path) -> tuple[Path, Path]:
    """``(src, path)``: the files of ``commit`` unpacked in ``src``, and a folder whose ``rasd/inference``
    and ``rasd/training`` link to them (put it first on PYTHONPATH to import the old code)."""
    sha = _git("rev-parse", "--verify", f"{commit}^{{commit}}")
    home = work / f"rasd-{sha[:7]}"
    src, path = home / "src", home / "path"
    stamp = src / ".commit"
    if not (stamp.is_file() and stamp.read_text().strip() == sha):
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir(parents=True)
        print(f"unpacking rasd {commit} ({sha[:12]}) -> {src} ...", file=sys.stderr)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", sha, *OLD_PATHS], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
        stamp.write_text(sha + "\n")
    package = path / "rasd"
    package.mkdir(parents=True, exist_ok=True)
    for name in ("inference", "training"):
        link = package / name
        if not link.is_symlink():
            link.symlink_to(Path("..", "..", "src", name))
    return src, path


def ensure_old_model(src: Path, path: Path, out: Path) -> Path:
    """The quickstart model of the old code: trained with that code when ``out/model`` holds none."""
    model = out / "model"
    if (model / "config.json").is_file():
        return model
    env = worker_env(PYTHONPATH=str(path))
    cli = [sys.executable, "-c", "import sys; from rasd.training.cli import main; sys.exit(main(sys.argv[1:]))"]
    out.mkdir(parents=True, exist_ok=True)
    log = out / "train.log"
    steps = [["build-default-model", "--corpus", "data/conflict-ar/train.jsonl", "--output", "models/default-encoder"],
             ["train", "--config", "configs/quickstart.yaml", "--set", f"train.output_dir={out.resolve()}"]]
    with open(log, "w", encoding="utf-8") as f:
        for step in steps:
            print(f"old rasd {' '.join(step)}  (log: {log}; training takes ~7 min on 2 cores) ...", file=sys.stderr)
            f.write(f"$ rasd {' '.join(step)}\n")
            f.flush()
            proc = subprocess.run(cli + step, cwd=src, env=env, stdout=f, stderr=subprocess.STDOUT)
            if proc.returncode != 0:
                raise RuntimeError(f"old rasd {step[0]} failed (exit {proc.returncode}); see {log}")
    if not (model / "config.json").is_file():
        raise RuntimeError(f"old rasd train wrote no model to {model}; see {log}")
    return model


# ============================================================================ worker side
def _timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


class ExtractionWorker:
    """One version's extractor on the documents; ``rasd.inference`` is whichever PYTHONPATH gives."""

    def __init__(self, model_dir: str, data: str, copies: int, threads: int | None) -> None:
        import dataclasses

        import torch

        from rasd.inference.documents import read_documents
        from rasd.inference.extractor import Extractor

        if threads:
            torch.set_num_threads(threads)
        self.torch = torch
        self.ex = Extractor.from_pretrained(model_dir)
        docs = read_documents(data)
        # copies get ids of their own; their gold annotations are ignored by extract() anyway
        self.docs = [dataclasses.replace(d, id=f"{d.id}#{c}" if c else d.id) for c in range(copies) for d in docs]
        self.tokens = sum(len(w.input_ids) for d in self.docs for w in self.ex.encoder.encode_document(d).windows)

    def run(self, batch_size: int, limit: int | None = None) -> dict:
        docs = self.docs[:limit] if limit else self.docs
        out, seconds = _timed(self.ex.extract, docs, batch_size=batch_size)
        return {"seconds": seconds, "documents": len(docs), "spans": sum(len(d.spans) for d in out),
                "relations": sum(len(d.relations) for d in out), "events": sum(len(d.events) for d in out)}

    def coarse(self, batch_size: int) -> dict:
        """Seconds of what both versions expose: encoding, spans only, spans + relations, event records."""
        from rasd.inference.events import EventBuilder

        _, encode = _timed(lambda: [self.ex.encoder.encode_document(d) for d in self.docs])
        _, spans = _timed(self.ex.predict_documents, self.docs, batch_size=batch_size, relations=False)
        predicted, with_relations = _timed(self.ex.predict_documents, self.docs, batch_size=batch_size)
        builder = EventBuilder(self.ex.schema)
        _, events = _timed(lambda: [builder.build(d) for d in predicted])
        return {"encode": encode, "spans": spans, "spans_relations": with_relations, "events": events}

    def predictions(self, path: str) -> dict:
        out = self.ex.extract(self.docs, batch_size=8)
        with open(path, "w", encoding="utf-8") as f:
            for d in out:
                f.write(json.dumps(d.to_dict(), ensure_ascii=False) + "\n")
        return {"written": path}


class StepsWorker(ExtractionWorker):
    """rasd 0.2 only: the pipeline's public steps, one at a time."""

    def steps(self, batch_size: int) -> dict:
        import numpy as np

        from rasd.inference import pipeline
        from rasd.inference.decoding import crf_marginals, viterbi_bio_batch
        from rasd.inference.encoding import window_batches, word_input_arrays
        from rasd.inference.events import EventBuilder
        from rasd.inference.word_features import WordFeaturizer

        ex = self.ex
        spent: dict[str, float] = {}

        def add(name: str, seconds: float) -> None:
            spent[name] = spent.get(name, 0.0) + seconds

        with self.torch.inference_mode():
            encoded, seconds = _timed(lambda: [ex.encoder.encode_document(d) for d in self.docs])
            add("encode", seconds)
            out_docs = []
            for block in pipeline.token_blocks(zip(self.docs, encoded), ex.block_tokens):
                docs, enc = [d for d, _ in block], [e for _, e in block]
                scores, seconds = _timed(ex.score_words, enc, batch_size, keep_hidden=ex.schema.has_relations)
                add("network", seconds)
                spans, seconds = _timed(ex.decode_spans, enc, scores)
                add("decode_spans", seconds)
                relations, seconds = _timed(ex.score_relations, enc, spans, scores, batch_size)
                add("relations", seconds)
                block_docs, seconds = _timed(lambda: [pipeline.to_document(d, spans[di], relations[di])
                                                      for di, d in enumerate(docs)])
                add("to_document", seconds)
                out_docs += block_docs
                # parts of the steps above, timed again on their own (not added to the total)
                _, seconds = _timed(lambda: [pipeline.relation_jobs(di, e, spans[di], ex.schema, ex.label_index,
                                                                    ex.relation_max_sentences, ex.relation_max_subtokens)
                                             for di, e in enumerate(enc)])
                add("part_relation_pairs", seconds)
                _, seconds = _timed(viterbi_bio_batch, scores.log_probs, ex.tags, learned=ex.learned)
                add("part_viterbi", seconds)
                if ex.learned is not None:
                    _, seconds = _timed(lambda: [crf_marginals(lp, ex.tags, ex.learned) for lp in scores.log_probs])
                    add("part_crf_marginals", seconds)
                if ex.definition.uses_word_inputs:
                    chars = bool(ex.definition.options.char_embedding_size)
                    forms = [enc[di].window_forms(wi) for batch in window_batches(enc, batch_size)
                             for di, wi in batch]
                    _, seconds = _timed(lambda: [word_input_arrays(f, ex.definition.featurizer, chars) for f in forms])
                    add("part_word_features_warm", seconds)
                    o = ex.definition.options
                    cold = WordFeaturizer(o.word_features, o.feature_buckets, o.max_word_chars, o.lexicon)  # empty caches
                    _, seconds = _timed(lambda: [word_input_arrays(f, cold, chars) for f in forms])
                    add("part_word_features_cold", seconds)
            builder = EventBuilder(ex.schema)
            events, seconds = _timed(lambda: [builder.build(d) for d in out_docs])
            add("events", seconds)
            gazetteer = builder.gazetteer
            if gazetteer is not None:
                def geocode():
                    for d in out_docs:
                        gazetteer.geocode_document(d, builder.place_labels, builder.place_name_labels,
                                                   builder.located_in)
                        gazetteer.document_country(d.meta, [d.text[s.start:s.end] for s in d.spans
                                                            if s.label in builder.place_name_labels])
                _, seconds = _timed(geocode)
                add("part_geocoding", seconds)
        n_relations = sum(len(d.relations) for d in out_docs)
        return {"seconds": spent, "spans": sum(len(d.spans) for d in out_docs), "relations": n_relations,
                "events": sum(len(e) for e in events), "words": int(np.sum([len(e.words) for e in encoded]))}


def worker_main(args) -> int:
    # the protocol owns the real stdout; anything a library prints goes to stderr
    proto = protocol_stream()
    t = time.perf_counter()
    import rasd.inference

    where = Path(rasd.inference.__file__).resolve().parent
    expected = Path(args.expect_code).resolve()
    if where != expected:
        raise RuntimeError(f"worker {args.worker} imported rasd.inference from {where}, not {expected}")
    worker = (StepsWorker if args.worker == "0.2" else ExtractionWorker)(args.model, args.data, args.copies,
                                                                         args.threads)
    proto.write(json.dumps({"ready": True, "load_seconds": time.perf_counter() - t, "rss_mib": rss_mib(),
                            "tokens": worker.tokens, "documents": len(worker.docs), "code": str(where),
                            "version": getattr(rasd.inference, "__version__", "?")}) + "\n")
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["cmd"] == "quit":
            proto.write(json.dumps({"peak_rss_mib": peak_rss_mib(), "rss_mib": rss_mib()}) + "\n")
            return 0
        if cmd["cmd"] == "run":
            result = worker.run(cmd["batch_size"], cmd.get("limit"))
        elif cmd["cmd"] == "coarse":
            result = worker.coarse(cmd["batch_size"])
        elif cmd["cmd"] == "steps":
            result = worker.steps(cmd["batch_size"])
        else:
            result = worker.predictions(cmd["path"])
        proto.write(json.dumps(result) + "\n")
    return 0


# ============================================================================ parent side
class Worker(JsonWorker):
    """A version's worker: ``code_path`` first on its PYTHONPATH (rasd 0.1), and the folder its
    ``rasd.inference`` must come from (the worker refuses to start otherwise)."""

    def __init__(self, version: str, model: Path, code_path: Path | None, expect_code: Path, args) -> None:
        cmd = [sys.executable, __file__, "--worker", version, "--model", str(model), "--data", str(args.data),
               "--copies", str(args.copies), "--expect-code", str(expect_code)]
        env = {}
        if args.threads:
            cmd += ["--threads", str(args.threads)]
            # numpy's BLAS (CRF, relation features) gets the same number of threads as torch
            env = {k: str(args.threads) for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        if code_path is not None:
            env["PYTHONPATH"] = os.pathsep.join([str(code_path), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
        super().__init__(cmd, f"rasd {version}", **env)


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def benchmark(args, old_model: Path, old_path: Path, old_src: Path) -> dict:
    batch_sizes = [int(x) for x in args.batch_sizes.split(",")]
    models = {"0.1": old_model, "0.2": args.model}
    workers: dict[str, Worker] = {}
    try:
        workers["0.1"] = Worker("0.1", old_model, old_path, old_src / "inference", args)
        workers["0.2"] = Worker("0.2", args.model, None, ROOT / "inference", args)
        n_docs, tokens = workers["0.2"].info["documents"], workers["0.2"].info["tokens"]
        # warm-up: every version at every batch size on all documents (loads the gazetteer, fills caches)
        for bs in batch_sizes:
            for w in workers.values():
                w.ask(cmd="run", batch_size=bs)
        times: dict[tuple[str, int], list[float]] = {}
        counts: dict[str, dict] = {}
        for r in range(args.repeats):
            for bs in batch_sizes:
                for v, w in workers.items():
                    out = w.ask(cmd="run", batch_size=bs)
                    times.setdefault((v, bs), []).append(out["seconds"])
                    counts[v] = {k: out[k] for k in ("spans", "relations", "events")}
            print(f"  pass {r + 1}/{args.repeats} done", file=sys.stderr)
        speed: dict[str, dict[int, dict]] = {}
        for (v, bs), ts in times.items():
            m = median(ts)
            speed.setdefault(v, {})[bs] = {"seconds": m, "docs_per_s": n_docs / m, "runs": ts}
        best = {v: max(s, key=lambda b: s[b]["docs_per_s"]) for v, s in speed.items()}
        # where the time goes, each version at its best batch size
        coarse: dict[str, dict[str, list[float]]] = {}
        steps: dict[str, list[float]] = {}
        step_counts = {}
        for _ in range(args.repeats):
            for v, w in workers.items():
                for key, value in w.ask(cmd="coarse", batch_size=best[v]).items():
                    coarse.setdefault(v, {}).setdefault(key, []).append(value)
            out = workers["0.2"].ask(cmd="steps", batch_size=best["0.2"])
            for key, value in out.pop("seconds").items():
                steps.setdefault(key, []).append(value)
            step_counts = out
        quality = {}
        for v, w in workers.items():
            path = args.work_dir / f"version-{v}-predictions.jsonl"
            w.ask(cmd="predictions", path=str(path))
            quality[v] = _quality(path, args.data, models[v] / "config.json")
        memory = {v: {**w.close(), "after_load_mib": w.info["rss_mib"], "load_seconds": w.info["load_seconds"]}
                  for v, w in workers.items()}
        info = {v: {k: w.info[k] for k in ("code", "version")} for v, w in workers.items()}
        workers = {}
    finally:
        for w in workers.values():
            w.proc.kill()
    return {"models": {v: str(m) for v, m in models.items()}, "code": info, "documents": n_docs, "tokens": tokens,
            "batch_sizes": batch_sizes, "speed": speed, "best": best, "counts": counts,
            "coarse": {v: {k: median(x) for k, x in parts.items()} for v, parts in coarse.items()},
            "steps": {k: median(x) for k, x in steps.items()}, "step_counts": step_counts,
            "memory": memory, "quality": quality}


def _quality(pred_path: Path, data: Path, schema_path: Path) -> dict:
    """Span and relation F1 of the first copy of the documents against their gold (for information)."""
    try:
        from rasd.training.metrics import score_documents
    except ImportError as err:  # rasd.training not installed: no F1, the speed figures still count
        return {"error": str(err)}
    from rasd.inference.documents import read_documents
    from rasd.inference.schema import Schema

    gold = read_documents(data)
    pred = read_documents(pred_path)[:len(gold)]
    schema = Schema.from_dict(json.loads(schema_path.read_text(encoding="utf-8"))["schema"])
    m = score_documents(gold, pred, schema)
    return {"spans_f1": m["spans"]["micro"]["f1"], "relations_f1": m["relations"]["micro"]["f1"]}


# ============================================================================ report
STEP_ROWS = [  # (key, what it is) of StepsWorker.steps, in pipeline order; part_* are parts of the step above
    ("encode", "encode text: `encoder.encode_document` (words, normalisation, tokenizer, windows)"),
    ("network", "network: `score_words` (word inputs, padding, encoder + word layers + tagger)"),
    ("part_word_features_warm", "  of which word features (`encoding.word_input_arrays`), caches warm"),
    ("part_word_features_cold", "  the same with empty caches (a fresh `WordFeaturizer`: text never seen)"),
    ("decode_spans", "decode spans: `decode_spans` (Viterbi, CRF marginals, spans)"),
    ("part_viterbi", "  of which `viterbi_bio_batch`"),
    ("part_crf_marginals", "  of which `crf_marginals` (forward-backward)"),
    ("relations", "relations: `score_relations` (candidate pairs and their features, the relation head)"),
    ("part_relation_pairs", "  of which `pipeline.relation_jobs` (candidate pairs, pair features)"),
    ("to_document", "`pipeline.to_document`"),
    ("events", "event records: `EventBuilder.build` (rules, dates, geocoding, actors)"),
    ("part_geocoding", "  of which geocoding (`Gazetteer.geocode_document`, `document_country`)"),
]


def report(res: dict) -> str:
    sp, best, n = res["speed"], res["best"], res["documents"]
    ok = all(res["counts"][v]["spans"] >= MIN_SPANS * res.get("copies", 1) for v in VERSIONS)
    out = [f"{n} documents, {res['tokens']} subtokens of rasd 0.2's tokenizer; rasd 0.1: {res['models']['0.1']} "
           f"(code {res['code']['0.1']['code']}, version {res['code']['0.1']['version']}); rasd 0.2: "
           f"{res['models']['0.2']} (code {res['code']['0.2']['code']}, version {res['code']['0.2']['version']})."]
    rows = [[str(bs), f"{sp['0.1'][bs]['docs_per_s']:.1f}", f"{sp['0.2'][bs]['docs_per_s']:.1f}",
             f"{sp['0.2'][bs]['docs_per_s'] / sp['0.1'][bs]['docs_per_s']:.2f}x"] for bs in res["batch_sizes"]]
    out.append("\nFull extraction (`extract(docs, batch_size=B)`: spans + relations + event records), documents/s, "
               "median of the timed passes, same batch size for both:\n")
    out.append(markdown_table(rows, ["batch", "rasd 0.1", "rasd 0.2", "0.2 / 0.1"]))
    ratio = sp["0.2"][best["0.2"]]["docs_per_s"] / sp["0.1"][best["0.1"]]["docs_per_s"]
    rows = []
    for v in VERSIONS:
        s, c, m, q = sp[v][best[v]], res["counts"][v], res["memory"][v], res["quality"][v]
        rows.append([f"rasd {v}", str(best[v]), f"{s['docs_per_s']:.1f}", f"{1000 * s['seconds']:.0f}",
                     str(c["spans"]), str(c["relations"]), str(c["events"]), f"{m['peak_rss_mib']:.0f}",
                     f"{m['after_load_mib']:.0f}", f"{m['load_seconds']:.1f}",
                     f"{q['spans_f1']:.3f} / {q['relations_f1']:.3f}" if "spans_f1" in q else "?"])
    out.append("\nEach at its best batch size:\n")
    out.append(markdown_table(rows, ["version", "best batch", "docs/s", "ms per pass", "spans", "relations", "events",
                                "peak RSS MiB", "RSS after load MiB", "load s", "test F1 spans / relations"]))
    verdict = "met" if ratio >= 0.5 else "NOT met"
    out.append(f"\nrasd 0.2 / rasd 0.1, best vs best: {ratio:.2f}x (issue 12: at least 0.5x: {verdict})"
               + ("" if ok else f"; a model predicts fewer than {MIN_SPANS} spans per copy: the run does not count"))
    c1, c2 = res["coarse"]["0.1"], res["coarse"]["0.2"]

    def parts(c):
        return {"encode text": c["encode"], "network + decode spans": c["spans"] - c["encode"],
                "relations": c["spans_relations"] - c["spans"], "event records": c["events"],
                "total": c["spans_relations"] + c["events"]}

    p1, p2 = parts(c1), parts(c2)
    rows = [[k, f"{1000 * p1[k]:.0f}", f"{1000 * p2[k]:.0f}", f"{1000 * (p2[k] - p1[k]):+.0f}"] for k in p1]
    out.append(f"\nWhere the time goes, both versions (ms per pass over the {n} documents, each at its best batch "
               "size; from `encoder.encode_document`, `predict_documents(relations=False)`, `predict_documents()` "
               "and `EventBuilder.build`, medians):\n")
    out.append(markdown_table(rows, ["step", "rasd 0.1", "rasd 0.2", "difference"]))
    st = res["steps"]
    total = sum(v for k, v in st.items() if not k.startswith("part_"))
    rows = [[what, f"{1000 * st[key]:.0f}", "" if key.startswith("part_") else f"{100 * st[key] / total:.0f}%"]
            for key, what in STEP_ROWS if key in st]
    rows.append(["total of the steps", f"{1000 * total:.0f}", "100%"])
    out.append(f"\nrasd 0.2 step by step (ms per pass, batch {best['0.2']}, medians; "
               f"{res['step_counts']['words']} words, {res['step_counts']['spans']} spans, "
               f"{res['step_counts']['relations']} relations, {res['step_counts']['events']} event records):\n")
    out.append(markdown_table(rows, ["step", "ms", "share"]))
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="trained rasd 0.2 model directory")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="JSONL documents (their gold gives the F1)")
    p.add_argument("--copies", type=int, default=1, help="extract the documents this many times per pass")
    p.add_argument("--batch-sizes", default="1,8,32")
    p.add_argument("--repeats", type=int, default=5, help="timed passes per version and batch size (median)")
    p.add_argument("--threads", type=int, default=1,
                   help="intra-op threads of each worker (torch, and numpy's BLAS); 0 leaves the libraries' "
                        "defaults. Default 1: see benchmarks/README.md")
    p.add_argument("--old-commit", default=OLD_COMMIT, help="the rasd 0.1 commit to compare with")
    p.add_argument("--old-model", type=Path, default=None,
                   help="a model trained with the old code (default: train one under runs/bench/rasd-<commit>)")
    p.add_argument("--work-dir", type=Path, default=DEFAULT_WORK)
    p.add_argument("--json", type=Path, default=None, help="also write all figures as JSON")
    p.add_argument("--worker", choices=VERSIONS, help=argparse.SUPPRESS)
    p.add_argument("--expect-code", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker_main(args)
    if not has_trained_model(args.model):
        return 2
    args.work_dir.mkdir(parents=True, exist_ok=True)
    args.threads = args.threads or None
    started, load_before = time.perf_counter(), os.getloadavg()
    old_src, old_path = ensure_old_code(args.old_commit, args.work_dir)
    old_model = args.old_model or ensure_old_model(old_src, old_path, old_src.parent / "quickstart")
    res = benchmark(args, old_model, old_path, old_src)
    res["copies"] = args.copies
    print(report(res), flush=True)
    env = machine_info(args.threads, load_before)
    print(f"\n{env}\nwall time {time.perf_counter() - started:.0f} s", flush=True)
    if args.json:
        args.json.write_text(json.dumps({"machine": env, **res}, indent=2, default=str))
    return 0 if all(res["counts"][v]["spans"] >= MIN_SPANS * args.copies for v in VERSIONS) else 1


if __name__ == "__main__":
    sys.exit(main())
