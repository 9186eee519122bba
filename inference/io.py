"""Reading raw inputs and writing extraction results: what ``rasd extract`` runs.

Inputs: a ``.jsonl`` file (records with ``text``, optional ``id`` and ``meta``), any other file
as text (the whole file one document, or one per line with ``lines=True``), or ``-`` for
standard input (JSONL when every non-empty line starts with ``{``, else one text per line).
A malformed line is reported as ``FILE:LINE: problem`` and skipped; the rest is processed.

Outputs, by the extension of ``output`` (``open_output``, the one writer entry point): ``.jsonl``
documents in the annotation contract (span ids, relations by id, ``score`` fields, an ``events``
list), ``.csv`` and ``.parquet`` one row per event record (ACLED's columns, then rasd's:
``rasd.inference.acled``), ``-`` JSONL on standard output. Documents stream through in chunks, so
memory stays flat (Parquet is written one row group per chunk).
"""
from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from .acled import COLUMNS, FLOAT_COLUMNS, INTEGER_COLUMNS, acled_row
from .documents import Document
from .errors import UserError
from .events import EventRecord, format_record

if TYPE_CHECKING:
    from .pipeline import ExtractorBase

__all__ = ["CHUNK_SIZE", "DEVICES", "OUTPUT_SUFFIXES", "OutputWriter", "chunks", "load_extractor", "open_output", "read_inputs",
           "read_jsonl_lines", "read_text_lines", "run_extraction", "unique_ids"]

CHUNK_SIZE = 256  # documents handed to the model at once
_JSONL_SUFFIXES = (".jsonl", ".ndjson")
OUTPUT_SUFFIXES = (".jsonl", ".csv", ".parquet")
_ROW_SUFFIXES = (".csv", ".parquet")
_STDIN_SPOOL_BYTES = 32 * 2**20  # standard input beyond this is spooled to a temporary file

Reporter = Callable[[str], None]
Inputs = Sequence[str | os.PathLike] | str | os.PathLike  # paths, "-" for standard input


# ---------------------------------------------------------------------------------------- readers
def _decode(raw: bytes, where: str, report: Reporter) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        report(f"{where}: not valid UTF-8 (byte {err.start})")
        return None


def _numbered(lines: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based number, line ends and a leading byte-order mark removed."""
    for n, raw in enumerate(lines, 1):
        if n == 1:
            raw = raw.removeprefix(b"\xef\xbb\xbf")
        raw = raw.rstrip(b"\r\n")
        if raw.strip():
            yield n, raw


def read_jsonl_lines(lines: Iterable[bytes], name: str, stem: str, report: Reporter) -> Iterator[Document]:
    """Documents from JSONL lines; ``id`` defaults to ``STEM-LINE``, ``meta`` is kept."""
    for n, raw in _numbered(lines):
        where = f"{name}:{n}"
        line = _decode(raw, where, report)
        if line is None:
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            report(f"{where}: invalid JSON ({err.msg} at column {err.colno})")
            continue
        if not isinstance(record, dict):
            report(f"{where}: a record must be a JSON object")
            continue
        doc_id = record.get("id")
        if "text" not in record:
            report(f"{where}: missing 'text'")
        elif not isinstance(record["text"], str):
            report(f"{where}: 'text' must be a string")
        elif not isinstance(record.get("meta") or {}, dict):
            report(f"{where}: 'meta' must be an object")
        elif doc_id is not None and (isinstance(doc_id, bool) or not isinstance(doc_id, (str, int))):
            report(f"{where}: 'id' must be a string")
        else:
            doc_id = str(doc_id) if doc_id not in (None, "") else f"{stem}-{n}"
            yield Document(doc_id, record["text"], dict(record.get("meta") or {}))


def read_text_lines(lines: Iterable[bytes], name: str, stem: str, report: Reporter) -> Iterator[Document]:
    """One document per non-blank line, with id ``STEM-LINE``."""
    for n, raw in _numbered(lines):
        text = _decode(raw, f"{name}:{n}", report)
        if text is not None:
            yield Document(f"{stem}-{n}", text)


def _read_path(path: str, lines: bool, report: Reporter) -> Iterator[Document]:
    stem = Path(path).stem
    try:
        with open(path, "rb") as f:
            if path.lower().endswith(_JSONL_SUFFIXES):
                yield from read_jsonl_lines(f, path, stem, report)
            elif lines:
                yield from read_text_lines(f, path, stem, report)
            else:
                text = _decode(f.read().removeprefix(b"\xef\xbb\xbf"), path, report)
                if text is not None:
                    yield Document(stem, text)
    except OSError as err:
        report(f"{path}: {err.strerror or err}")


def _read_stdin(report: Reporter) -> Iterator[Document]:
    """Standard input, spooled (to disk when large) because its format is known only after the last line."""
    stream = getattr(sys.stdin, "buffer", None) or (line.encode("utf-8") for line in sys.stdin)
    with tempfile.SpooledTemporaryFile(max_size=_STDIN_SPOOL_BYTES) as spool:
        jsonl = True
        for n, raw in enumerate(stream, 1):
            spool.write(raw)
            stripped = (raw.removeprefix(b"\xef\xbb\xbf") if n == 1 else raw).strip()
            jsonl = jsonl and (not stripped or stripped.startswith(b"{"))
        spool.seek(0)
        reader = read_jsonl_lines if jsonl else read_text_lines
        yield from reader(spool, "<stdin>", "stdin", report)


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def read_inputs(inputs: Inputs, lines: bool = False, report: Reporter = _to_stderr,
                warn: Reporter = _to_stderr) -> Iterator[Document]:
    """Documents of every input in order, each with an id unique over all inputs (``ID~2`` for a repeat).

    ``report`` gets each skipped input as ``FILE:LINE: problem``; ``warn`` gets renamed ids.
    """
    seen: dict[str, int] = {}
    for source in map(os.fspath, [inputs] if isinstance(inputs, (str, os.PathLike)) else inputs):
        docs = _read_stdin(report) if source == "-" else _read_path(source, lines, report)
        yield from unique_ids(docs, source, warn, seen)


def unique_ids(docs: Iterable[Document], source: str, warn: Reporter = _to_stderr,
               seen: dict[str, int] | None = None) -> Iterator[Document]:
    """``docs`` with each id unique over ``seen`` (``ID~2`` for a repeat, reported to ``warn``)."""
    seen = {} if seen is None else seen
    for doc in docs:
        # `rasd validate` rejects repeated ids, so a repeat is renamed, not dropped
        if doc.id in seen:
            base = doc.id
            while doc.id in seen:
                seen[base] += 1
                doc.id = f"{base}~{seen[base]}"
            warn(f"{source}: warning: repeated document id {base!r} renamed {doc.id!r}")
        seen[doc.id] = 1
        yield doc


def chunks(docs: Iterable[Document], size: int) -> Iterator[list[Document]]:
    """``docs`` in lists of ``size`` (the last shorter), read lazily."""
    chunk: list[Document] = []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ---------------------------------------------------------------------------------------- writers
class OutputWriter:
    """Writes documents (``.jsonl``, ``-``) or their event records as rows (``.csv``, ``.parquet``).

    ``write(docs)`` takes documents; ``write_records(records)`` takes records directly (merged ones, for
    instance) and needs a row format. Use it as a context manager, or call ``close()``.
    """

    def __init__(self, output: str | os.PathLike) -> None:
        self.path = os.fspath(output)
        suffix = Path(self.path).suffix.lower()
        if self.path != "-" and suffix not in OUTPUT_SUFFIXES:
            raise ValueError(f"output {self.path!r}: use a .jsonl, .csv or .parquet file, or - for JSONL on "
                             "standard output")
        self.rows = suffix in _ROW_SUFFIXES
        self.format = suffix.lstrip(".") if self.path != "-" else "jsonl"
        self.stream: IO[str] | None = None
        self._csv = None
        self._parquet = None
        if self.path == "-":
            self.stream = sys.stdout
            return
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        if self.format == "parquet":
            import pyarrow.parquet as pq

            self._parquet = pq.ParquetWriter(self.path, _parquet_schema())
        else:
            self.stream = open(self.path, "w", encoding="utf-8", newline="" if self.rows else None)
            if self.format == "csv":
                self._csv = csv.DictWriter(self.stream, fieldnames=list(COLUMNS))
                self._csv.writeheader()

    def write(self, docs: Iterable[Document]) -> None:
        docs = list(docs)
        if self.rows:
            self.write_records(record for doc in docs for record in doc.events)
            return
        assert self.stream is not None
        for doc in docs:
            self.stream.write(json.dumps(doc.to_dict(), ensure_ascii=False) + "\n")
        self.stream.flush()

    def write_records(self, records: Iterable[EventRecord | dict[str, Any]]) -> None:
        if not self.rows:
            raise ValueError(f"{self.path}: records are written as rows: use a .csv or .parquet output")
        rows = [acled_row(r if isinstance(r, EventRecord) else EventRecord.from_dict(r)) for r in records]
        if self._parquet is not None:
            if rows:
                import pyarrow as pa

                self._parquet.write_table(pa.Table.from_pylist(rows, schema=_parquet_schema()))
            return
        assert self._csv is not None and self.stream is not None
        self._csv.writerows({k: "" if v is None else v for k, v in row.items()} for row in rows)
        self.stream.flush()

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        elif self.stream is not None and self.stream is not sys.stdout:
            self.stream.close()

    def __enter__(self) -> "OutputWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_output(output: str | os.PathLike) -> OutputWriter:
    """The writer for ``output``, chosen by its extension (``.jsonl``, ``.csv``, ``.parquet``, ``-``)."""
    return OutputWriter(output)


def _parquet_schema() -> Any:
    import pyarrow as pa

    def kind(column: str) -> Any:
        if column in INTEGER_COLUMNS:
            return pa.int64()
        if column in FLOAT_COLUMNS:
            return pa.float64()
        return pa.string()

    return pa.schema([(column, kind(column)) for column in COLUMNS])


# ---------------------------------------------------------------------------------------- runner
DEVICES = ("cpu", "cuda")


def load_extractor(model: str | os.PathLike, quantized: bool = False, device: str | None = None,
                   threads: int | None = None) -> "ExtractorBase":
    """The extractor for ``model``: an ONNX export (a directory with ``model.onnx``) runs on
    onnxruntime without torch, anything else (a model directory or hub id) on torch.
    ``quantized`` picks the int8 ONNX encoder. ``device`` is ``cpu`` or ``cuda`` (default: cpu
    for ONNX, the model's own for torch); ``threads`` caps the CPU threads of one model call
    (for torch, process-wide: ``torch.set_num_threads``)."""
    from .onnx_extractor import ENCODER_FILE

    if device is not None and device not in DEVICES:
        raise UserError(f"device {device!r}: use one of {', '.join(DEVICES)}")
    if (Path(model) / ENCODER_FILE).is_file():
        from .onnx_extractor import OnnxExtractor

        providers = ("CUDAExecutionProvider", "CPUExecutionProvider") if device == "cuda" else ("CPUExecutionProvider",)
        if device == "cuda":
            import onnxruntime

            if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
                raise UserError(f"{model}: device 'cuda' needs onnxruntime-gpu (this onnxruntime has "
                                 f"{', '.join(onnxruntime.get_available_providers())})")
        return OnnxExtractor.from_pretrained(model, quantized=quantized, threads=threads, providers=providers)
    if quantized:
        raise UserError(f"{model}: int8 needs an ONNX export (rasd export-onnx --int8); it has no {ENCODER_FILE}")
    import torch

    from .extractor import Extractor

    if device == "cuda" and not torch.cuda.is_available():
        raise UserError("device 'cuda': torch sees no CUDA GPU here (torch.cuda.is_available() is False); "
                        "use --device cpu")
    if threads:
        torch.set_num_threads(threads)
    return Extractor.from_pretrained(model, device=device)


def run_extraction(model: "str | os.PathLike | ExtractorBase", inputs: Inputs, output: str | os.PathLike,
                   lines: bool = False, batch_size: int = 16, show_progress_bar: bool = True,
                   print_records: bool = False, quantized: bool = False, merge: bool = False) -> dict[str, Any]:
    """Extract spans, relations and event records from ``inputs`` into ``output``; return counts.

    ``model`` is a model directory, a hub id, an ONNX export directory (``quantized``: its int8
    encoder) or an already loaded extractor, torch or ONNX. With
    ``print_records`` each record is also printed as a readable block, on standard output (on
    standard error when the documents themselves go to standard output, so that stays JSONL).
    ``merge`` joins the records of different documents that report one event (``event_merge``) before
    writing them (a row output only).
    Returns ``{documents, spans, relations, events, errors, output}`` (and ``merged_events``); ``errors``
    lists the skipped inputs.
    """
    output = os.fspath(output)
    if output != "-" and not output.lower().endswith(OUTPUT_SUFFIXES):
        raise UserError(f"output {output!r}: use a .jsonl, .csv or .parquet file, or - for JSONL on standard output")
    if merge and not output.lower().endswith(_ROW_SUFFIXES):
        raise UserError(f"output {output!r}: merged records are rows: use a .csv or .parquet output")
    extractor = model if hasattr(model, "extract") else load_extractor(model, quantized=quantized)
    stats: dict[str, Any] = {"documents": 0, "spans": 0, "relations": 0, "events": 0, "errors": [], "output": output}
    progress = None
    if show_progress_bar:
        from tqdm.auto import tqdm

        progress = tqdm(unit="doc", desc="extract", file=sys.stderr)

    def warn(message: str) -> None:
        (progress.write if progress is not None else print)(message, file=sys.stderr)

    def report(message: str) -> None:
        stats["errors"].append(message)
        warn(message)

    record_stream = sys.stderr if output == "-" else sys.stdout
    writer = open_output(output)
    kept: list[EventRecord] = []  # with ``merge``, records wait for the last document
    try:
        for chunk in chunks(read_inputs(inputs, lines, report, warn), CHUNK_SIZE):
            docs = extractor.extract(chunk, batch_size=batch_size)
            if merge:
                kept += [record for doc in docs for record in doc.events]
            else:
                writer.write(docs)
            for doc in docs:
                stats["documents"] += 1
                stats["spans"] += len(doc.spans)
                stats["relations"] += len(doc.relations)
                stats["events"] += len(doc.events)
                if print_records:
                    for record in doc.events:
                        print(format_record(record) + "\n", file=record_stream)
            if progress is not None:  # a tqdm without total is falsy
                progress.update(len(docs))
        if merge:
            from .event_merge import merge_records

            merged = merge_records(kept)
            stats["merged_events"] = len(merged)
            writer.write_records(merged)
    finally:
        writer.close()
        if progress is not None:
            progress.close()
    return stats
