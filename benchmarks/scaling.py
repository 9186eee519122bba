"""Streaming extraction of 1x, 10x and 100x the corpus: time grows with the corpus, memory stays flat.

    .venv/bin/python benchmarks/scaling.py                       # torch and onnx-int8, test split x1/x10/x100
    .venv/bin/python benchmarks/scaling.py --factors 1,10 --paths torch --repeats 1

Each run is a fresh process that streams a JSONL file through the full extraction (spans,
relations, event records) and writes JSONL, the way ``rasd extract`` does: documents are read
lazily and handed to the model in chunks of ``rasd.inference.io.CHUNK_SIZE`` documents. The
torch path calls ``rasd.inference.io.run_extraction`` itself (the code behind ``rasd extract``);
the ONNX path runs the same loop (``read_inputs`` → chunks → ``extract`` → JSONL) because
``run_extraction`` loads only torch models. The input is the corpus repeated N times (ids made
unique), so every scale holds the same kind of documents.

Reported per path and scale (median of ``--repeats`` runs): wall time of the extraction (model
loading excluded), documents/s, peak RSS of the process (VmHWM) and its ratio to the 1x run.
The script exits 1 when the 100x peak RSS exceeds 1.5x the 1x peak RSS, or when a run outputs
another number of documents than it was given.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from inference_speed import DEFAULT_MODEL, DEFAULT_WORK, ensure_onnx  # noqa: E402
from measure import has_trained_model, peak_rss_mib, rss_mib, run_json_worker  # noqa: E402

DEFAULT_DATA = ROOT / "data" / "conflict-ar" / "test.jsonl"
MAX_MEMORY_RATIO = 1.5


def make_input(data: Path, factor: int, out: Path) -> int:
    """``data`` repeated ``factor`` times, ids suffixed so they stay unique; returns the document count."""
    records = [json.loads(line) for line in data.read_text(encoding="utf-8").splitlines() if line.strip()]
    n = 0
    with open(out, "w", encoding="utf-8") as f:
        for k in range(factor):
            for r in records:
                r = {"id": f"{r.get('id', n)}#{k}", "text": r["text"], "meta": r.get("meta") or {}}
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
                n += 1
    return n


# ---------------------------------------------------------------------------- worker
def worker(args) -> int:
    t0 = time.perf_counter()
    if args.worker == "torch":
        import torch

        from rasd.inference.extractor import Extractor

        if args.threads:
            torch.set_num_threads(args.threads)
        extractor = Extractor.from_pretrained(args.model)
    else:
        from rasd.inference.onnx_extractor import OnnxExtractor

        extractor = OnnxExtractor.from_pretrained(args.onnx, quantized=args.worker == "onnx-int8", threads=args.threads)
    load_seconds = time.perf_counter() - t0
    rss_loaded = rss_mib()
    t = time.perf_counter()
    stats = stream(extractor, args.input, args.output, args.batch_size)
    seconds = time.perf_counter() - t
    print(json.dumps({"seconds": seconds, "load_seconds": load_seconds, "rss_after_load_mib": rss_loaded,
                      "peak_rss_mib": peak_rss_mib(), "torch_loaded": "torch" in sys.modules, **stats}))
    return 0


def stream(extractor, input_path: str, output: str, batch_size: int) -> dict:
    from rasd.inference.io import run_extraction  # the code behind `rasd extract`, torch or ONNX alike

    stats = run_extraction(extractor, [input_path], output, batch_size=batch_size, show_progress_bar=False)
    return {key: stats[key] for key in ("documents", "spans", "relations", "events")}


# ---------------------------------------------------------------------------- parent
def run_one(path: str, model: Path, onnx: Path, input_path: Path, output: Path, batch_size: int,
            threads: int | None) -> dict:
    cmd = [sys.executable, __file__, "--worker", path, "--model", str(model), "--onnx", str(onnx),
           "--input", str(input_path), "--output", str(output), "--batch-size", str(batch_size)]
    if threads:
        cmd += ["--threads", str(threads)]
    return run_json_worker(cmd, f"{path} x {input_path.name}")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--data", type=Path, default=DEFAULT_DATA)
    p.add_argument("--factors", default="1,10,100")
    p.add_argument("--paths", default="torch,onnx-int8", help="any of torch, onnx, onnx-int8")
    p.add_argument("--batch-size", type=int, default=16, help="the extract() default")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=1, help="0: the libraries' default (see README.md)")
    p.add_argument("--work-dir", type=Path, default=DEFAULT_WORK)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--onnx", help=argparse.SUPPRESS)
    p.add_argument("--input", help=argparse.SUPPRESS)
    p.add_argument("--output", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return worker(args)
    if not has_trained_model(args.model):
        return 2
    args.work_dir.mkdir(parents=True, exist_ok=True)
    threads = args.threads or None
    paths = args.paths.split(",")
    onnx = ensure_onnx(args.model, args.work_dir / "quickstart-onnx") if any(x.startswith("onnx") for x in paths) \
        else args.work_dir / "none"
    factors = [int(x) for x in args.factors.split(",")]
    inputs = {f: args.work_dir / f"scaling-x{f}.jsonl" for f in factors}
    sizes = {f: make_input(args.data, f, path) for f, path in inputs.items()}
    runs: dict[tuple[str, int], list[dict]] = {}
    for r in range(args.repeats):  # interleaved, so load drift on a shared machine hits every cell alike
        for f in factors:
            for path in paths:
                out = run_one(path, args.model, onnx, inputs[f], args.work_dir / f"scaling-out-{path}-x{f}.jsonl",
                              args.batch_size, threads)
                runs.setdefault((path, f), []).append(out)
                print(f"  {path} x{f}: {out['seconds']:.1f} s, peak RSS {out['peak_rss_mib']:.0f} MiB", file=sys.stderr)
    ok = True
    table = []
    summary = {}
    for path in paths:
        base_rss = statistics.median(o["peak_rss_mib"] for o in runs[(path, factors[0])])
        for f in factors:
            outs = runs[(path, f)]
            secs = statistics.median(o["seconds"] for o in outs)
            rss = statistics.median(o["peak_rss_mib"] for o in outs)
            complete = all(o["documents"] == sizes[f] for o in outs)
            ok &= complete
            summary[f"{path} x{f}"] = {"documents": sizes[f], "seconds": secs, "docs_per_s": sizes[f] / secs,
                                       "peak_rss_mib": rss, "rss_ratio": rss / base_rss, "runs": outs}
            table.append(f"| {path} | {f}x | {sizes[f]} | {secs:.1f} | {sizes[f] / secs:.1f} | {rss:.0f} | "
                         f"{rss / base_rss:.2f} | {outs[0]['rss_after_load_mib']:.0f} | "
                         f"{outs[0]['spans']} / {outs[0]['relations']} / {outs[0]['events']} |")
        if max(factors) >= 100 and factors[0] == 1:
            ratio = summary[f"{path} x{max(factors)}"]["rss_ratio"]
            ok &= ratio <= MAX_MEMORY_RATIO
    print(f"Streaming extraction, batch size {args.batch_size}, {threads or 'default'} thread(s), median of "
          f"{args.repeats} runs; input: {args.data} repeated; via rasd.inference.io.run_extraction\n")
    print("| path | scale | documents | seconds | docs/s | peak RSS MiB | RSS vs 1x | RSS after load MiB | "
          "spans / relations / events |")
    print("|---|---|---|---|---|---|---|---|---|")
    print("\n".join(table))
    print(f"\nmemory: {'flat' if ok else 'NOT flat (or documents missing)'}: 100x peak RSS within "
          f"{MAX_MEMORY_RATIO}x of 1x is {'met' if ok else 'NOT met'}; load average now {os.getloadavg()[0]:.1f}")
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
