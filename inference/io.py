"""Reading raw inputs and writing extraction results: what ``rasd extract`` runs.

Inputs: a ``.jsonl`` file (records with ``text``, optional ``id`` and ``meta``), any other file
as text (the whole file one document, or one per line with ``lines=True``), or ``-`` for
standard input (JSONL when every non-empty line starts with ``{``, else one text per line).
A malformed line is reported as ``FILE:LINE: problem`` and skipped; the rest is processed.

Outputs, by the extension of ``output``: ``.jsonl`` documents in the annotation contract (span
ids, relations by id, ``score`` fields, an ``events`` list), ``.csv`` one row per event record,
``-`` JSONL on standard output. Documents stream through in chunks, so memory stays flat.
"""
from __future__ import annotations

import csv
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

from .documents import Document
from .events import CSV_COLUMNS, format_record

if TYPE_CHECKING:
    from .decoding import ExtractorBase

__all__ = ["CHUNK_SIZE", "DEVICES", "load_extractor", "read_inputs", "read_jsonl_lines", "read_text_lines", "run_extraction",
           "unique_ids"]

CHUNK_SIZE = 256  # documents handed to the model at once
_JSONL_SUFFIXES = (".jsonl", ".ndjson")
_OUTPUT_SUFFIXES = (".jsonl", ".csv")
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


def _chunks(docs: Iterable[Document], size: int) -> Iterator[list[Document]]:
    chunk: list[Document] = []
    for doc in docs:
        chunk.append(doc)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# ---------------------------------------------------------------------------------------- writers
class _Writer:
    """Writes documents as JSONL or their event records as CSV rows, on a file or standard output."""

    def __init__(self, output: str) -> None:
        self.csv = output.lower().endswith(".csv")
        if output == "-":
            self.stream: IO[str] = sys.stdout
        else:
            Path(output).parent.mkdir(parents=True, exist_ok=True)
            self.stream = open(output, "w", encoding="utf-8", newline="" if self.csv else None)
        self.rows = None
        if self.csv:
            self.rows = csv.DictWriter(self.stream, fieldnames=list(CSV_COLUMNS))
            self.rows.writeheader()

    def write(self, docs: Iterable[Document]) -> None:
        for doc in docs:
            if self.rows is not None:
                self.rows.writerows(record.to_csv_row() for record in doc.events)
            else:
                self.stream.write(json.dumps(doc.to_dict(), ensure_ascii=False) + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.stream is not sys.stdout:
            self.stream.close()


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
        raise ValueError(f"device {device!r}: use one of {', '.join(DEVICES)}")
    if (Path(model) / ENCODER_FILE).is_file():
        from .onnx_extractor import OnnxExtractor

        providers = ("CUDAExecutionProvider", "CPUExecutionProvider") if device == "cuda" else ("CPUExecutionProvider",)
        if device == "cuda":
            import onnxruntime

            if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
                raise ValueError(f"{model}: device 'cuda' needs onnxruntime-gpu (this onnxruntime has "
                                 f"{', '.join(onnxruntime.get_available_providers())})")
        return OnnxExtractor.from_pretrained(model, quantized=quantized, threads=threads, providers=providers)
    if quantized:
        raise ValueError(f"{model}: int8 needs an ONNX export (rasd export-onnx --int8); it has no {ENCODER_FILE}")
    import torch

    from .extractor import Extractor

    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("device 'cuda': torch sees no CUDA GPU here (torch.cuda.is_available() is False)")
    if threads:
        torch.set_num_threads(threads)
    return Extractor.from_pretrained(model, device=device)


def run_extraction(model: "str | os.PathLike | ExtractorBase", inputs: Inputs, output: str | os.PathLike,
                   lines: bool = False, batch_size: int = 16, show_progress_bar: bool = True,
                   print_records: bool = False, quantized: bool = False) -> dict[str, Any]:
    """Extract spans, relations and event records from ``inputs`` into ``output``; return counts.

    ``model`` is a model directory, a hub id, an ONNX export directory (``quantized``: its int8
    encoder) or an already loaded extractor, torch or ONNX. With
    ``print_records`` each record is also printed as a readable block, on standard output (on
    standard error when the documents themselves go to standard output, so that stays JSONL).
    Returns ``{documents, spans, relations, events, errors, output}``; ``errors`` lists the skipped inputs.
    """
    output = os.fspath(output)
    if output != "-" and not output.lower().endswith(_OUTPUT_SUFFIXES):
        raise ValueError(f"output {output!r}: use a .jsonl or .csv file, or - for JSONL on standard output")
    extractor = model if hasattr(model, "extract") else load_extractor(model, quantized=quantized)
    stats: dict[str, Any] = {"documents": 0, "spans": 0, "relations": 0, "events": 0, "errors": [], "output": output}
    progress = None
    if show_progress_bar:
        from tqdm.auto import tqdm

        progress = tqdm(unit="doc", desc="extract", file=sys.stderr)

    def warn(message: str) -> None:
        (progress.write if progress else print)(message, file=sys.stderr)

    def report(message: str) -> None:
        stats["errors"].append(message)
        warn(message)

    record_stream = sys.stderr if output == "-" else sys.stdout
    writer = _Writer(output)
    try:
        for chunk in _chunks(read_inputs(inputs, lines, report, warn), CHUNK_SIZE):
            docs = extractor.extract(chunk, batch_size=batch_size)
            writer.write(docs)
            for doc in docs:
                stats["documents"] += 1
                stats["spans"] += len(doc.spans)
                stats["relations"] += len(doc.relations)
                stats["events"] += len(doc.events)
                if print_records:
                    for record in doc.events:
                        print(format_record(record) + "\n", file=record_stream)
            if progress:
                progress.update(len(docs))
    finally:
        writer.close()
        if progress:
            progress.close()
    return stats
