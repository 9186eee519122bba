"""``rasd batch``: extraction over a directory of shards on Ray Data, on a laptop or a cluster.

    from rasd.serving.ray_batch import run_batch
    summary = run_batch("runs/quickstart/onnx", "archive/", "out/", workers=2)

Inputs are JSONL (``.jsonl``, ``.ndjson``, optionally ``.gz``) or Parquet shards (columns ``text``,
optional ``id`` and ``meta``) under a directory or any fsspec URL (``s3://``, ``gs://``, ...).
Each shard becomes, under the output directory or URL and with the same relative name,
``NAME.jsonl`` and/or ``NAME.parquet`` (documents with spans, relations and event records, as
``rasd extract`` writes them) and ``NAME.events.csv`` or ``NAME.events.parquet`` (the event rows
that ``rasd extract -o x.csv`` writes, through the same writer), so a shard's outputs are exactly
those of ``rasd extract`` on that shard.

A shard is the unit of work and of resumption: ``map_batches`` sends one shard at a time to a
fixed pool of extractor actors (each loads the model once), an actor streams the shard through
the model in the chunks ``rasd extract`` uses and writes its outputs under temporary names that it
renames when the shard is complete. A shard whose outputs all exist is skipped, so a killed job
started again does only what is missing, and a shard that fails is reported and left unwritten.

``ray.init()`` joins the cluster named by ``address`` or ``$RAY_ADDRESS``, else starts Ray on
this machine. On a cluster, the model, the inputs and the outputs must be reachable from every
node (shared storage or URLs); a model given as a URL is copied to each actor's local disk.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Callable, Iterator, Sequence

from rasd.inference.documents import Document
from rasd.inference.errors import UserError
from rasd.inference.io import (CHUNK_SIZE, OUTPUT_SUFFIXES, chunks, load_extractor, open_output, read_jsonl_lines,
                               unique_ids)

from .memory import release_free_memory

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".jsonl.gz", ".ndjson.gz")
PARQUET_SUFFIXES = (".parquet",)
DOCUMENT_FORMATS = ("jsonl", "parquet")
EVENTS_SUFFIX = ".events"  # NAME.events.csv beside NAME.jsonl
# the file types io's writer writes event rows as (every output type but the documents' JSONL)
_EVENT_SUFFIXES = tuple(s for s in OUTPUT_SUFFIXES if s not in JSONL_SUFFIXES)
_PARQUET_ROWS = 1024  # rows read from a Parquet shard at a time

Reporter = Callable[[str], None]


# ------------------------------------------------------------------------------------- shards
@dataclass(frozen=True)
class Shard:
    url: str  # where to read it (a path or fsspec URL)
    name: str  # its path under the input root, without the suffix: the name of its outputs


def _fs(url: str):
    import fsspec

    return fsspec.core.url_to_fs(url)


def _strip_suffix(path: str) -> str | None:
    lower = path.lower()
    for suffix in JSONL_SUFFIXES + PARQUET_SUFFIXES:
        if lower.endswith(suffix):
            return path[:-len(suffix)]
    return None


def _is_local(fs) -> bool:
    return "file" in (fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,))


def _absolute(url: str) -> str:
    """Local paths made absolute (Ray workers do not share the driver's working directory)."""
    return url if "://" in url else os.path.abspath(url)


def list_shards(inputs: str) -> list[Shard]:
    """The JSONL and Parquet shards under ``inputs`` (a directory or URL, searched recursively,
    or a single file), sorted by name; two shards that would write the same outputs are an error."""
    inputs = _absolute(inputs)
    fs, root = _fs(inputs)
    if fs.isfile(root):
        files, root = [root], str(PurePosixPath(root).parent)
    elif fs.isdir(root):
        files = sorted(fs.find(root))
    else:
        raise FileNotFoundError(f"{inputs}: no such file or directory")
    shards: dict[str, Shard] = {}
    for path in files:
        relative = str(PurePosixPath(path).relative_to(PurePosixPath(root)))
        name = _strip_suffix(relative)
        if name is None or any(part.startswith(".") for part in PurePosixPath(relative).parts):
            continue  # other files, and hidden ones (our own temporary files among them)
        if name in shards:
            raise UserError(f"{shards[name].url} and {path} would both write {name}.*: rename one")
        shards[name] = Shard(fs.unstrip_protocol(path) if "://" in inputs else path, name)
    return [shards[k] for k in sorted(shards)]


def output_paths(output: str, name: str, formats: Sequence[str], events: str | None) -> dict[str, str]:
    """Where a shard's outputs go: ``{format: path}``, the event rows under ``"events"``."""
    base = f"{output.rstrip('/')}/{name}"
    paths = {fmt: f"{base}.{fmt}" for fmt in formats}
    if events:
        paths["events"] = f"{base}{EVENTS_SUFFIX}.{events}"
    return paths


# ------------------------------------------------------------------------------------- one shard
def read_shard(url: str, name: str, report: Reporter) -> Iterator[Document]:
    """The documents of one shard, read and checked as ``rasd extract`` reads a JSONL file (a bad
    record is reported as ``URL:LINE`` and skipped); Parquet rows count as lines."""
    import fsspec

    stem = PurePosixPath(name).name
    if url.lower().endswith(PARQUET_SUFFIXES):
        import pyarrow.parquet as pq

        with fsspec.open(url, "rb") as f:
            yield from read_jsonl_lines(_parquet_lines(pq.ParquetFile(f)), url, stem, report)
    else:
        with fsspec.open(url, "rb", compression="infer") as f:
            yield from read_jsonl_lines(f, url, stem, report)


def _parquet_lines(table) -> Iterator[bytes]:
    """Each Parquet row as a JSON line, so it meets the JSONL reader's checks and defaults."""
    columns = [c for c in ("id", "text", "meta") if c in table.schema_arrow.names]
    for batch in table.iter_batches(batch_size=_PARQUET_ROWS, columns=columns):
        for row in batch.to_pylist():
            if isinstance(row.get("meta"), str):  # meta stored as JSON text (as rasd batch writes it)
                try:
                    row["meta"] = json.loads(row["meta"])
                except ValueError:
                    pass  # left as text: the reader reports "'meta' must be an object"
            yield json.dumps(row, ensure_ascii=False, default=str).encode("utf-8")


class _ParquetDocuments:
    """Documents as Parquet rows: ``id``, ``text``, ``spans`` and ``relations`` as lists of
    structs (the JSONL contract's fields), ``meta`` and ``events`` as JSON text (their shape is open)."""

    def __init__(self, path: str) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        span = pa.struct([("id", pa.string()), ("start", pa.int64()), ("end", pa.int64()), ("label", pa.string()),
                          ("text", pa.string()), ("score", pa.float64())])
        relation = pa.struct([("head", pa.string()), ("tail", pa.string()), ("label", pa.string()),
                              ("score", pa.float64())])
        self.schema = pa.schema([("id", pa.string()), ("text", pa.string()), ("meta", pa.string()),
                                 ("spans", pa.list_(span)), ("relations", pa.list_(relation)),
                                 ("events", pa.string())])
        self.writer = pq.ParquetWriter(path, self.schema)

    def write(self, docs: Sequence[Document]) -> None:
        import pyarrow as pa

        rows = []
        for doc in docs:
            d = doc.to_dict()
            rows.append({"id": d["id"], "text": d["text"], "meta": json.dumps(d["meta"], ensure_ascii=False),
                         "spans": d["spans"], "relations": d["relations"],
                         "events": json.dumps(d.get("events", []), ensure_ascii=False)})
        self.writer.write_table(pa.Table.from_pylist(rows, schema=self.schema))

    def close(self) -> None:
        self.writer.close()


def _open_writer(fmt: str, path: str):
    # documents as Parquet are ours; JSONL documents and event rows are io's writer, chosen by the extension
    return _ParquetDocuments(path) if fmt == "parquet" else open_output(path)


def extract_shard(extractor, shard: Shard, output: str, formats: Sequence[str], events: str | None,
                  batch_size: int = 16) -> dict[str, Any]:
    """Extract one shard and write its outputs; returns its counts and the records it skipped.

    Outputs are written under temporary names and renamed (uploaded, for a URL) only once the
    whole shard is done, so a shard whose outputs exist is complete.
    """
    started = time.perf_counter()
    problems: list[str] = []
    counts = {"documents": 0, "spans": 0, "relations": 0, "events": 0}
    targets = output_paths(output, shard.name, formats, events)
    fs, _ = _fs(output)
    local = _is_local(fs)
    with tempfile.TemporaryDirectory(prefix="rasd-batch-") as scratch:
        staged: dict[str, str] = {}
        for kind, target in targets.items():
            if local:  # staged beside the target, so the final rename is atomic
                target_path = Path(_fs(target)[1])
                target_path.parent.mkdir(parents=True, exist_ok=True)
                # hidden, and ending as the target does: the writer picks its format by the extension
                staged[kind] = str(target_path.parent / f".tmp-{os.getpid()}-{target_path.name}")
            else:
                staged[kind] = os.path.join(scratch, f"{kind}-{PurePosixPath(target).name}")
        writers = {}
        try:
            for kind, path in staged.items():
                writers[kind] = _open_writer(kind if kind in DOCUMENT_FORMATS else "rows", path)
            docs = unique_ids(read_shard(shard.url, shard.name, problems.append), shard.url, problems.append)
            for chunk in chunks(docs, CHUNK_SIZE):
                out = extractor.extract(chunk, batch_size=batch_size)
                for writer in writers.values():
                    writer.write(out)
                counts["documents"] += len(out)
                counts["spans"] += sum(len(d.spans) for d in out)
                counts["relations"] += sum(len(d.relations) for d in out)
                counts["events"] += sum(len(d.events) for d in out)
            for writer in writers.values():
                writer.close()
            for kind, target in targets.items():
                if local:
                    os.replace(staged[kind], _fs(target)[1])
                else:
                    fs.put_file(staged[kind], _fs(target)[1])
        except BaseException:
            for writer in writers.values():
                _close_quietly(writer)
            for path in staged.values():  # nothing half-written stays behind (the scratch folder goes anyway)
                Path(path).unlink(missing_ok=True)
            raise
    return {"name": shard.name, **counts, "problems": problems, "seconds": time.perf_counter() - started}


def _close_quietly(writer) -> None:
    try:
        writer.close()
    except Exception:  # noqa: BLE001 - already failing; the first error is the one to report
        pass


def _pending(shards: list[Shard], output: str, formats: Sequence[str], events: str | None) -> list[Shard]:
    fs, _ = _fs(output)
    return [s for s in shards
            if not all(fs.exists(_fs(p)[1]) for p in output_paths(output, s.name, formats, events).values())]


def _local_model(model: str) -> str:
    """A model given as a URL, copied to this machine (each node of a cluster needs its own copy)."""
    if "://" not in model or model.startswith("file://"):
        return model.removeprefix("file://")
    fs, path = _fs(model)
    local = tempfile.mkdtemp(prefix="rasd-model-")
    fs.get(path.rstrip("/") + "/", local, recursive=True)
    return local


# ------------------------------------------------------------------------------------- Ray
class ShardWorker:
    """The Ray actor: loads the extractor once, then extracts the shards it is sent (one per batch)."""

    def __init__(self, model: str, quantized: bool, device: str | None, threads: int | None, batch_size: int,
                 output: str, formats: Sequence[str], events: str | None) -> None:
        started = time.perf_counter()
        self.extractor = load_extractor(_local_model(model), quantized=quantized, device=device, threads=threads)
        self.load_seconds = time.perf_counter() - started
        self.args = (output, list(formats), events, batch_size)
        self.first = True

    def __call__(self, batch):
        import pyarrow as pa

        output, formats, events, batch_size = self.args
        rows = []
        for url, name in zip(batch.column("url").to_pylist(), batch.column("name").to_pylist()):
            cpu = time.process_time()
            try:
                row = extract_shard(self.extractor, Shard(url, name), output, formats, events, batch_size)
                row["failed"] = ""
                release_free_memory()  # an actor lives for many shards
            except Exception as err:  # noqa: BLE001 - one bad shard must not stop the job; it stays unwritten
                row = {"name": name, "documents": 0, "spans": 0, "relations": 0, "events": 0, "problems": [],
                       "seconds": 0.0, "failed": f"{url}: {type(err).__name__}: {err}"}
            row["cpu_seconds"] = time.process_time() - cpu  # the actor's process: with other load, wall > CPU
            row["problems"] = json.dumps(row["problems"], ensure_ascii=False)
            row["worker"] = os.getpid()
            row["load_seconds"] = self.load_seconds if self.first else 0.0
            self.first = False
            rows.append(row)
        return pa.Table.from_pylist(rows)


def _init_ray(address: str | None, num_cpus: int | None, object_store_mb: int | None) -> float:
    import ray

    started = time.perf_counter()
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS")
        if address:
            ray.init(address=address, log_to_driver=False)
        else:  # a Ray of our own on this machine, nothing reachable from outside it
            ray.init(num_cpus=num_cpus, include_dashboard=False, log_to_driver=False,
                     object_store_memory=object_store_mb * 2**20 if object_store_mb else None)
    return time.perf_counter() - started


def _run_shards(summary: dict[str, Any], pending: list[Shard], model: str, quantized: bool, device: str | None,
                threads_per_worker: int, gpus_per_worker: float, batch_size: int, output: str,
                formats: Sequence[str], events: str | None, workers: int, report: Reporter | None) -> None:
    """The shards through a fixed pool of ``ShardWorker`` actors; their rows fill ``summary``."""
    import ray

    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    summary["workers"] = n_workers = max(1, min(workers, len(pending)))
    items = [{"url": s.url, "name": s.name} for s in pending]
    results = ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        ShardWorker, batch_size=1, batch_format="pyarrow", num_cpus=threads_per_worker,
        num_gpus=gpus_per_worker or None,
        compute=ray.data.ActorPoolStrategy(size=n_workers, max_tasks_in_flight_per_actor=1),
        fn_constructor_kwargs={"model": model, "quantized": quantized, "device": device,
                               "threads": threads_per_worker, "batch_size": batch_size, "output": output,
                               "formats": list(formats), "events": events})
    for row in results.iter_rows():
        row = dict(row)
        row["problems"] = json.loads(row["problems"])
        summary["rows"].append(row)
        if row["failed"]:
            summary["failed"].append(row["failed"])
        else:
            summary["written"] += 1
            for key in ("documents", "spans", "relations", "events"):
                summary[key] += row[key]
        summary["problems"] += row["problems"]
        if report:
            report(f"{row['name']}: " + (f"FAILED {row['failed']}" if row["failed"] else
                                         f"{row['documents']} documents, {row['events']} events in "
                                         f"{row['seconds']:.1f} s (worker {row['worker']})"))


def run_batch(model: str | os.PathLike, inputs: str | os.PathLike, output: str | os.PathLike,
              formats: Sequence[str] = ("jsonl",), events: str | None = "csv", workers: int = 2,
              threads_per_worker: int = 1, gpus_per_worker: float = 0.0, batch_size: int = 16,
              quantized: bool | None = None, device: str | None = None, overwrite: bool = False,
              address: str | None = None, num_cpus: int | None = None, object_store_mb: int | None = None,
              report: Reporter | None = None) -> dict[str, Any]:
    """Extract every shard under ``inputs`` that has no complete outputs under ``output``.

    ``formats``: document outputs (``jsonl``, ``parquet``); ``events``: the event rows' file type
    (``csv``, ``parquet``; ``None``: none). ``workers`` actors with ``threads_per_worker`` CPUs (and
    ``gpus_per_worker`` GPUs) each. ``quantized`` (default: when ``model`` is an ONNX export
    with an int8 encoder) runs the int8 encoder. ``report`` gets a line per shard as it finishes.
    Returns counts, per-shard rows, failures and timings.
    """
    from rasd.inference.onnx_extractor import ENCODER_INT8_FILE

    model, inputs, output = _absolute(os.fspath(model)), _absolute(os.fspath(inputs)), _absolute(os.fspath(output))
    unknown = set(formats) - set(DOCUMENT_FORMATS)
    if unknown or not (formats or events):
        raise UserError(f"document formats {sorted(unknown) or 'none'}: use {', '.join(DOCUMENT_FORMATS)} "
                         f"(and/or event rows)")
    if events is not None and f".{events}" not in _EVENT_SUFFIXES:
        raise UserError(f"event rows as {events!r}: use one of {', '.join(s[1:] for s in _EVENT_SUFFIXES)}")
    if _inside(output, inputs):
        raise UserError(f"output {output} lies inside the input {inputs}: its files would be read as shards")
    if quantized is None:
        quantized = "://" not in model and (Path(model) / ENCODER_INT8_FILE).is_file()
    started = time.perf_counter()
    shards = list_shards(inputs)
    pending = shards if overwrite else _pending(shards, output, formats, events)
    summary: dict[str, Any] = {"shards": len(shards), "skipped": len(shards) - len(pending), "written": 0,
                               "failed": [], "documents": 0, "spans": 0, "relations": 0, "events": 0,
                               "problems": [], "output": output, "quantized": quantized, "workers": 0,
                               "ray_init_seconds": 0.0, "max_load_seconds": 0.0, "busiest_worker_seconds": 0.0,
                               "worker_seconds": {}, "worker_cpu_seconds": 0.0, "seconds": 0.0, "rows": []}
    if not pending:
        summary["seconds"] = time.perf_counter() - started
        return summary
    import ray

    ours = not ray.is_initialized()  # a Ray this call starts, it also stops
    summary["ray_init_seconds"] = _init_ray(address, num_cpus, object_store_mb)
    try:
        _run_shards(summary, pending, model, quantized, device, threads_per_worker, gpus_per_worker, batch_size,
                    output, formats, events, workers, report)
    finally:
        if ours:
            ray.shutdown()
    busy: dict[int, float] = {}
    for row in summary["rows"]:
        busy[row["worker"]] = busy.get(row["worker"], 0.0) + row["seconds"]
    # the time Ray adds beside the extraction: start-up, actors loading the model, scheduling
    summary["worker_seconds"] = {str(pid): seconds for pid, seconds in busy.items()}
    summary["worker_cpu_seconds"] = sum(row["cpu_seconds"] for row in summary["rows"])
    summary["busiest_worker_seconds"] = max(busy.values(), default=0.0)
    summary["max_load_seconds"] = max((row["load_seconds"] for row in summary["rows"]), default=0.0)
    summary["seconds"] = time.perf_counter() - started
    return summary


def _inside(path: str, root: str) -> bool:
    if ("://" in path) != ("://" in root):
        return False
    return PurePosixPath(path.rstrip("/")) == PurePosixPath(root.rstrip("/")) or \
        PurePosixPath(path).is_relative_to(PurePosixPath(root))
