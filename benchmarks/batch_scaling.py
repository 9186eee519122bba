"""Documents/s of ``rasd batch`` with 1 and 2 Ray workers, beside ``rasd extract`` in one process,
on the same shards: how close 2 workers come to 2x, and what Ray costs.

    .venv/bin/python benchmarks/batch_scaling.py --model runs/quickstart/onnx          # ONNX int8 (the default)
    .venv/bin/python benchmarks/batch_scaling.py --model runs/quickstart/model --factor 2 --workers 1,2

The corpus (train, dev and test: 330 documents) repeated ``--factor`` times is cut into
``--shards`` JSONL shards. ``rasd extract`` runs over all of them in one fresh process (its
extraction timed without the model load); ``rasd batch`` runs as the command itself, on a local
Ray with ``--num-cpus`` CPUs, each worker an actor with one thread, into a fresh output folder.

Reported per run: the command's wall time and documents/s end to end (Python start, Ray start,
actors loading the model, the shards, shutdown), documents/s once Ray is up, and the busiest
worker's time inside ``extract_shard`` (the extraction itself). Ray's overhead is what lies
between: start-up (``ray.init``), actor start and model load, and scheduling.
Every run must write every document; the script exits 1 otherwise.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from measure import has_trained_model, run_json_worker, worker_env  # noqa: E402

DEFAULT_DATA = [ROOT / "data" / "conflict-ar" / f"{split}.jsonl" for split in ("train", "dev", "test")]


def make_shards(data: list[Path], factor: int, shards: int, out: Path) -> int:
    records = [json.loads(line) for path in data for line in path.read_text(encoding="utf-8").splitlines()
               if line.strip()]
    rows = [{"id": f"{r.get('id', i)}#{k}", "text": r["text"], "meta": r.get("meta") or {}}
            for k in range(factor) for i, r in enumerate(records)]
    out.mkdir(parents=True, exist_ok=True)
    for s in range(shards):
        part = rows[s::shards]
        (out / f"part-{s:03d}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part),
                                                 encoding="utf-8")
    return len(rows)


def extract_worker(args) -> int:
    from rasd.inference.io import load_extractor, run_extraction

    t = time.perf_counter()
    extractor = load_extractor(args.model, quantized=not args.fp32 and (Path(args.model) / "model.int8.onnx").is_file(),
                               threads=1)
    load = time.perf_counter() - t
    shards = sorted(str(p) for p in Path(args.input).glob("*.jsonl"))
    t, cpu = time.perf_counter(), time.process_time()
    stats = run_extraction(extractor, shards, args.output, batch_size=args.batch_size, show_progress_bar=False)
    print(json.dumps({"documents": stats["documents"], "seconds": time.perf_counter() - t, "load_seconds": load,
                      "cpu_seconds": time.process_time() - cpu}))
    return 0


def run_extract(args, shards: Path, work: Path) -> dict:
    cmd = [sys.executable, __file__, "--worker", "--model", str(args.model), "--input", str(shards),
           "--output", str(work / "extract.jsonl"), "--batch-size", str(args.batch_size)] + (["--fp32"] if args.fp32 else [])
    t = time.perf_counter()
    out = run_json_worker(cmd, "rasd extract")
    return {**out, "wall": time.perf_counter() - t}


def run_batch(args, shards: Path, output: Path, workers: int) -> dict:
    cmd = [sys.executable, "-m", "rasd.training.cli", "batch", "--model", str(args.model), str(shards), str(output),
           "--workers", str(workers), "--threads-per-worker", "1", "--num-cpus", str(args.num_cpus),
           "--batch-size", str(args.batch_size)] + (["--fp32"] if args.fp32 else [])
    env = worker_env()
    env.pop("RAY_ADDRESS", None)  # a local Ray of its own, never a cluster the caller happens to point at
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"rasd batch failed:\n{proc.stderr[-3000:]}")
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "wall": wall}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=ROOT / "runs" / "quickstart" / "onnx",
                   help="ONNX export (int8 by default) or trained model directory")
    p.add_argument("--fp32", action="store_true", help="with an ONNX export: its fp32 encoder")
    p.add_argument("--data", type=Path, nargs="+", default=DEFAULT_DATA)
    p.add_argument("--factor", type=int, default=4, help="the corpus repeated this many times")
    p.add_argument("--shards", type=int, default=8)
    p.add_argument("--workers", default="1,2")
    p.add_argument("--num-cpus", type=int, default=2, help="CPUs of the local Ray")
    p.add_argument("--batch-size", type=int, default=16, help="the rasd extract / rasd batch default")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--input", help=argparse.SUPPRESS)
    p.add_argument("--output", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return extract_worker(args)
    if not has_trained_model(args.model):
        return 2
    workers = [int(w) for w in args.workers.split(",")]
    runs: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory(prefix="rasd-batch-scaling-") as tmp:
        work = Path(tmp)
        n = make_shards(args.data, args.factor, args.shards, work / "shards")
        for r in range(args.repeats):  # interleaved, so load drift on a shared machine hits every row alike
            runs.setdefault("extract", []).append(run_extract(args, work / "shards", work))
            for w in workers:
                out = run_batch(args, work / "shards", work / f"out-{w}-{r}", w)
                runs.setdefault(f"batch-{w}", []).append(out)
                print(f"  rasd batch, {w} workers: {out['wall']:.1f} s", file=sys.stderr)
    ok = True
    table = []
    med = statistics.median
    base = runs["extract"]
    base_dps = n / med(o["seconds"] for o in base)
    table.append(f"| rasd extract (one process) | 1 | {med(o['wall'] for o in base):.1f} | "
                 f"{n / med(o['wall'] for o in base):.1f} | {base_dps:.1f} | {med(o['seconds'] for o in base):.1f} "
                 f"({med(o['cpu_seconds'] for o in base):.1f} CPU) | "
                 f"model load {med(o['load_seconds'] for o in base):.1f} s | |")
    ok &= all(o["documents"] == n for o in base)
    batch_dps = {}
    for w in workers:
        outs = runs[f"batch-{w}"]
        ok &= all(o["documents"] == n and not o["failed"] for o in outs)
        wall = med(o["wall"] for o in outs)
        init = med(o["ray_init_seconds"] for o in outs)
        after_init = med(o["seconds"] - o["ray_init_seconds"] for o in outs)
        busiest = med(o["busiest_worker_seconds"] for o in outs)
        work = med(sum(o["worker_seconds"].values()) for o in outs)
        cpu = med(o["worker_cpu_seconds"] for o in outs)
        load = med(o["max_load_seconds"] for o in outs)
        batch_dps[w] = n / after_init
        table.append(f"| rasd batch | {w} | {wall:.1f} | {n / wall:.1f} | {n / after_init:.1f} | {busiest:.1f}; "
                     f"{work:.1f} ({cpu:.1f} CPU) | "
                     f"ray.init {init:.1f} s, actor + model load {load:.1f} s, scheduling "
                     f"{after_init - busiest - load:.1f} s | {batch_dps[w] / batch_dps[workers[0]]:.2f}x |")
    print(f"rasd batch scaling: {n} documents in {args.shards} shards ({args.factor}x the corpus), model {args.model} "
          f"({'fp32' if args.fp32 else 'int8 if exported'}), batch size {args.batch_size}, one thread per worker, "
          f"local Ray with {args.num_cpus} CPUs; median of {args.repeats}; load average now {os.getloadavg()[0]:.1f}\n")
    print("| path | workers | wall s (command) | docs/s end to end | docs/s once Ray is up | busiest worker s "
          "(extraction; all workers, their CPU s) | overhead | vs 1 worker |")
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(table))
    print(f"\nall documents written: {'yes' if ok else 'NO'}")
    if args.json:
        args.json.write_text(json.dumps({"documents": n, "runs": runs}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
