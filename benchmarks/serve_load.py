"""Load test of ``rasd serve`` on loopback, beside ``rasd extract`` on the same documents.

    .venv/bin/python benchmarks/serve_load.py --model runs/quickstart/model               # torch
    .venv/bin/python benchmarks/serve_load.py --model runs/quickstart/onnx --int8         # ONNX int8
    .venv/bin/python benchmarks/serve_load.py --model M --requests 300 --concurrency 1,8  # a quick look

Starts ``rasd serve`` as a subprocess on a free 127.0.0.1 port (nothing leaves the machine) and
sends ``--requests`` requests at each number of concurrent clients, each level stopped after
``--max-seconds`` at most. A valid request carries ``--docs-per-request`` corpus documents (real
article lengths, with their ``meta.date``); every ``--bad-every``-th request is a bad one instead,
in turn: too many documents (413), too many characters (413), a document without text (422),
broken JSON (422), ``meta`` that is not an object (422).

Reported per level: documents/s of the valid requests, their p50/p95/p99 latency, errors (a
valid request not answered 200, or a bad one not answered its status) and the server's CPU time
per document (robust to other load on the machine), and the server's peak resident memory
(VmHWM) after the level's 1000th and after its last request (the same load: it must stay flat;
more clients make larger batches, whose working set is larger); and, for the same
documents, model and batch size, the documents/s of ``rasd extract`` (``run_extraction`` in a
fresh process, model loading excluded): what the service costs over the library.
Exits 1 on any error or when a level's peak memory grew by more than ``MAX_MEMORY_GROWTH``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from measure import has_trained_model, peak_rss_mib, rss_mib, run_json_worker, worker_env  # noqa: E402

DEFAULT_DATA = [ROOT / "data" / "conflict-ar" / f"{split}.jsonl" for split in ("train", "dev", "test")]
MAX_MEMORY_GROWTH = 0.10  # a level's peak RSS after its last request vs after its 1000th
MAX_DOCUMENTS = 64  # the server's limits (its defaults), which the bad requests overstep
MAX_CHARACTERS = 200_000
BAD_KINDS = ("too many documents", "too many characters", "no text", "broken JSON", "meta not an object")
BAD_STATUS = {"too many documents": 413, "too many characters": 413, "no text": 422, "broken JSON": 422,
              "meta not an object": 422}


def load_documents(paths: list[Path]) -> list[dict]:
    docs = []
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                docs.append({"id": str(r.get("id", len(docs))), "text": r["text"], "meta": {"date": (r.get("meta") or {}).get("date")}})
    return docs


def bad_body(kind: str) -> bytes:
    if kind == "too many documents":
        return json.dumps({"documents": [{"text": "نص"}] * (MAX_DOCUMENTS + 1)}).encode()
    if kind == "too many characters":
        return json.dumps({"text": "ن" * (MAX_CHARACTERS + 1)}, ensure_ascii=False).encode()
    if kind == "no text":
        return json.dumps({"documents": [{"id": "x", "meta": {}}]}).encode()
    if kind == "broken JSON":
        return b'{"documents": [{"text": "'
    return json.dumps({"documents": [{"text": "نص", "meta": "2024-12-07"}]}, ensure_ascii=False).encode()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


# ---------------------------------------------------------------------------- the library baseline
def library_worker(args) -> int:
    from rasd.inference.io import load_extractor, run_extraction

    extractor = load_extractor(args.model, quantized=args.int8, threads=args.threads or None)
    run_extraction(extractor, [args.input], args.output, batch_size=args.batch_size,
                   show_progress_bar=False)  # warm-up pass
    started, cpu = time.perf_counter(), time.process_time()
    stats = run_extraction(extractor, [args.input], args.output, batch_size=args.batch_size, show_progress_bar=False)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(json.dumps({"documents": stats["documents"], "seconds": seconds, "cpu_s": cpu}))
    return 0


def library_docs_per_s(args, docs: list[dict], work: Path) -> dict:
    source = work / "library-input.jsonl"
    source.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in docs) + "\n", encoding="utf-8")
    cmd = [sys.executable, __file__, "--worker", "--model", str(args.model), "--input", str(source),
           "--output", str(work / "library-output.jsonl"), "--batch-size", str(args.batch_size),
           "--threads", str(args.threads)] + (["--int8"] if args.int8 else [])
    out = run_json_worker(cmd, "rasd extract baseline")
    return {**out, "docs_per_s": out["documents"] / out["seconds"], "cpu_ms_per_doc": 1000 * out["cpu_s"] / out["documents"]}


# ---------------------------------------------------------------------------- the server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(args, port: int, log) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "rasd.training.cli", "serve", "--model", str(args.model), "--host", "127.0.0.1",
           "--port", str(port), "--batch-size", str(args.batch_size), "--max-documents", str(MAX_DOCUMENTS),
           "--max-characters", str(MAX_CHARACTERS)] + (["--int8"] if args.int8 else []) + args.serve_args
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    env = worker_env()
    env.pop("RASD_API_KEY", None)
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)


async def wait_ready(client, proc: subprocess.Popen, seconds: float = 300) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"rasd serve exited with {proc.returncode}")
        try:
            if (await client.get("/readyz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise RuntimeError("rasd serve did not get ready")


async def run_level(client, clients: int, n_requests: int, max_seconds: float, bodies: list[bytes],
                    docs_per_body: int, bad_every: int, done_before: int, server_pid: int,
                    rss_marks: dict[int, float]) -> dict:
    """``n_requests`` requests from ``clients`` concurrent clients; each finished thousandth
    request of the whole run records the server's peak RSS (VmHWM) in ``rss_marks``."""
    headers = {"content-type": "application/json"}
    counter = iter(range(n_requests))
    latencies: list[float] = []
    errors: list[str] = []
    bad_counts = {kind: 0 for kind in BAD_KINDS}
    finished = 0
    peak_at_1000 = None
    started = time.perf_counter()
    stop_at = started + max_seconds

    async def one_client() -> None:
        nonlocal finished, peak_at_1000
        for i in counter:
            if time.perf_counter() > stop_at:
                return
            if bad_every and i % bad_every == bad_every - 1:
                kind = BAD_KINDS[(i // bad_every) % len(BAD_KINDS)]
                body, want = bad_body(kind), BAD_STATUS[kind]
            else:
                kind, body, want = None, bodies[i % len(bodies)], 200
            t = time.perf_counter()
            try:
                r = await client.post("/v1/extract", content=body, headers=headers)
                status = r.status_code
                detail = "" if status == want else r.text[:200]
            except Exception as err:  # noqa: BLE001 - counted as an error, the run goes on
                status, detail = -1, f"{type(err).__name__}: {err}"
            if status != want:
                errors.append(f"request {i} ({kind or 'valid'}): {status}, wanted {want}: {detail}")
            elif kind:
                bad_counts[kind] += 1
            else:
                latencies.append(time.perf_counter() - t)
            finished += 1
            if finished == 1000:
                peak_at_1000 = peak_rss_mib(server_pid)
            total = done_before + finished
            if total % 1000 == 0:
                rss_marks[total] = peak_rss_mib(server_pid)

    server_cpu, client_cpu = cpu_seconds(server_pid), time.process_time()
    await asyncio.gather(*(one_client() for _ in range(clients)))
    seconds = time.perf_counter() - started
    server_cpu, client_cpu = cpu_seconds(server_pid) - server_cpu, time.process_time() - client_cpu
    return {"clients": clients, "requests": finished, "valid": len(latencies), "bad": sum(bad_counts.values()),
            "bad_by_kind": bad_counts, "errors": errors, "seconds": seconds,
            "docs_per_s": len(latencies) * docs_per_body / seconds,
            "p50_ms": 1000 * percentile(latencies, 50), "p95_ms": 1000 * percentile(latencies, 95),
            "p99_ms": 1000 * percentile(latencies, 99), "stopped_early": finished < n_requests,
            "server_cpu_s": server_cpu, "client_cpu_s": client_cpu,
            "server_cpu_ms_per_doc": 1000 * server_cpu / max(1, len(latencies) * docs_per_body),
            "peak_rss_at_1000_mib": peak_at_1000, "peak_rss_end_mib": peak_rss_mib(server_pid)}


async def run_server_levels(args, docs: list[dict], work: Path) -> dict:
    import httpx

    per = args.docs_per_request
    bodies = [json.dumps({"documents": docs[k:k + per]}, ensure_ascii=False).encode()
              for k in range(0, len(docs) - per + 1, per)]
    port = free_port()
    log_path = work / "server.log"
    with open(log_path, "w") as log:
        proc = start_server(args, port, log)
        try:
            limits = httpx.Limits(max_connections=max(args.levels), max_keepalive_connections=max(args.levels))
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120, limits=limits) as client:
                t = time.perf_counter()
                await wait_ready(client, proc)
                ready_seconds = time.perf_counter() - t
                rss_ready = rss_mib(proc.pid)
                rss_marks: dict[int, float] = {}
                levels, done = [], 0
                for clients in args.levels:
                    level = await run_level(client, clients, args.requests, args.max_seconds, bodies, per,
                                            args.bad_every, done, proc.pid, rss_marks)
                    done += level["requests"]
                    levels.append(level)
                    print(f"  {clients} clients: {level['requests']} requests, {level['docs_per_s']:.1f} docs/s, "
                          f"p50 {level['p50_ms']:.0f} ms, {len(level['errors'])} errors; CPU s: server "
                          f"{level['server_cpu_s']:.1f}, client {level['client_cpu_s']:.1f} in "
                          f"{level['seconds']:.1f} s", file=sys.stderr)
                rss_end, peak_end = rss_mib(proc.pid), peak_rss_mib(proc.pid)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
    return {"levels": levels, "ready_seconds": ready_seconds, "rss_ready_mib": rss_ready,
            "peak_rss_marks_mib": rss_marks, "rss_end_mib": rss_end, "peak_rss_end_mib": peak_end, "requests": done,
            "server_log": str(log_path)}


# ---------------------------------------------------------------------------- report
def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", type=Path, default=ROOT / "runs" / "quickstart" / "model",
                   help="trained model directory or ONNX export (rasd export-onnx)")
    p.add_argument("--int8", action="store_true", help="with an ONNX export: its int8 encoder")
    p.add_argument("--data", type=Path, nargs="+", default=DEFAULT_DATA, help="JSONL documents sent (text, meta)")
    p.add_argument("--requests", type=int, default=2000, help="requests per concurrency level")
    p.add_argument("--concurrency", default="1,8,32", help="concurrent clients, one level each")
    p.add_argument("--max-seconds", type=float, default=600, help="a level stops after this long")
    p.add_argument("--docs-per-request", type=int, default=1)
    p.add_argument("--bad-every", type=int, default=20, help="every Nth request is a bad one (0: none)")
    p.add_argument("--batch-size", type=int, default=0, help="windows per model call, server and library alike "
                                                               "(0: 8 on torch, 1 on ONNX: the server's default)")
    p.add_argument("--threads", type=int, default=1, help="CPU threads of the model, server and library alike "
                                                          "(0: the library's default)")
    p.add_argument("--serve-args", nargs=argparse.REMAINDER, default=[],
                   help="the rest of the line goes to rasd serve as it is (e.g. --max-wait-ms 0)")
    p.add_argument("--json", type=Path, default=None, help="also write the figures here")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--input", help=argparse.SUPPRESS)
    p.add_argument("--output", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        return library_worker(args)
    if not has_trained_model(args.model):
        return 2
    args.levels = [int(x) for x in args.concurrency.split(",")]
    if not args.batch_size:
        args.batch_size = 1 if (args.model / "model.onnx").is_file() else 8
    docs = load_documents(args.data)
    with tempfile.TemporaryDirectory(prefix="rasd-serve-load-") as tmp:
        work = Path(tmp)
        library = library_docs_per_s(args, docs, work)
        server = asyncio.run(run_server_levels(args, docs, work))
        log_tail = Path(server["server_log"]).read_text(errors="replace").splitlines()[-3:]
    # within a level the load is the same, so its memory must not grow; between levels the
    # working set grows with the batches that more clients make (bounded by --max-batch-documents)
    growths = [lv["peak_rss_end_mib"] / lv["peak_rss_at_1000_mib"] - 1 for lv in server["levels"]
               if lv["peak_rss_at_1000_mib"]]
    growth = max(growths, default=0.0)
    errors = [e for level in server["levels"] for e in level["errors"]]
    ok = not errors and growth <= MAX_MEMORY_GROWTH
    backend = "onnx-int8" if args.int8 else ("onnx" if (args.model / "model.onnx").is_file() else "torch")
    chars = statistics.mean(len(d["text"]) for d in docs)
    print(f"rasd serve vs rasd extract: {args.model} ({backend}), batch size {args.batch_size}, "
          f"{args.threads or 'default'} thread(s); {len(docs)} documents of {chars:.0f} characters on average, "
          f"{args.docs_per_request} per valid request, every {args.bad_every}th request a bad one; "
          f"client and server on one machine (load average {os.getloadavg()[0]:.1f})\n")
    print("| clients | requests | valid | bad (rejected as expected) | docs/s | p50 ms | p95 ms | p99 ms | errors | "
          "server CPU ms/doc | peak RSS MiB, 1000th → last request | docs/s vs library |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for lv in server["levels"]:
        at_1000 = f"{lv['peak_rss_at_1000_mib']:.0f}" if lv["peak_rss_at_1000_mib"] else "-"
        print(f"| {lv['clients']} | {lv['requests']}{' (time bound)' if lv['stopped_early'] else ''} | {lv['valid']} | "
              f"{lv['bad']} | {lv['docs_per_s']:.1f} | {lv['p50_ms']:.0f} | {lv['p95_ms']:.0f} | {lv['p99_ms']:.0f} | "
              f"{len(lv['errors'])} | {lv['server_cpu_ms_per_doc']:.1f} | {at_1000} → {lv['peak_rss_end_mib']:.0f} | "
              f"{lv['docs_per_s'] / library['docs_per_s']:.2f}x |")
    print(f"| rasd extract (library) | | {library['documents']} documents | | {library['docs_per_s']:.1f} | | | | | "
          f"{library['cpu_ms_per_doc']:.1f} | | 1.00x |")
    print(f"\nserver: ready {server['ready_seconds']:.1f} s after start, RSS {server['rss_ready_mib']:.0f} MiB then, "
          f"{server['rss_end_mib']:.0f} MiB at the end ({server['requests']} requests); peak RSS within a level grew "
          f"{growth:+.1%} at most ({'flat' if growth <= MAX_MEMORY_GROWTH else 'NOT flat'}; levels with fewer than "
          f"1000 requests are not judged)")
    for e in errors[:10]:
        print("error:", e)
    print("server log ends:", *log_tail, sep="\n  ")
    if args.json:
        args.json.write_text(json.dumps({"library": library, **server}, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
