"""Documents, spans and relations: the JSONL annotation contract as plain dataclasses.

Offsets are Python ``str`` indices into ``Document.text`` (the caller's original text), end
exclusive. Relations hold their head and tail ``Span`` objects; on disk they name span ids.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator


class DocumentError(ValueError):
    """A document that does not follow the annotation contract (the message names it)."""


@dataclass
class Span:
    start: int
    end: int
    label: str
    text: str = ""
    score: float | None = None
    id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "start": self.start, "end": self.end, "label": self.label}
        if self.text:
            out["text"] = self.text
        if self.score is not None:
            out["score"] = round(float(self.score), 4)
        return out

    @property
    def key(self) -> tuple[int, int, str]:
        return (self.start, self.end, self.label)


@dataclass
class Relation:
    head: Span
    tail: Span
    label: str
    score: float | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"head": self.head.id, "tail": self.tail.id, "label": self.label}
        if self.score is not None:
            out["score"] = round(float(self.score), 4)
        return out


@dataclass
class Document:
    id: str
    text: str
    meta: dict[str, Any] = field(default_factory=dict)
    spans: list[Span] = field(default_factory=list)
    relations: list[Relation] = field(default_factory=list)
    # filled by extraction: event records as dicts or dataclasses (see rasd.inference.events)
    events: list[Any] = field(default_factory=list)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "Document":
        """Build a document from one JSONL record; raises DocumentError naming the document."""
        if not isinstance(raw, dict):
            raise DocumentError("a document must be a JSON object")
        doc_id = raw.get("id")
        if not isinstance(doc_id, str) or not doc_id:
            raise DocumentError("document without a string 'id'")
        text = raw.get("text")
        if not isinstance(text, str):
            raise DocumentError(f"{doc_id}: 'text' must be a string")
        meta = raw.get("meta") or {}
        if not isinstance(meta, dict):
            raise DocumentError(f"{doc_id}: 'meta' must be an object")
        spans: dict[str, Span] = {}
        for i, s in enumerate(raw.get("spans") or []):
            try:
                start, end, label = int(s["start"]), int(s["end"]), str(s["label"])
            except (KeyError, TypeError, ValueError):
                raise DocumentError(f"{doc_id}: span #{i} needs integer 'start', 'end' and a 'label'") from None
            sid = str(s.get("id") or f"s{i + 1}")
            if sid in spans:
                raise DocumentError(f"{doc_id}: duplicate span id {sid}")
            if not 0 <= start < end <= len(text):
                raise DocumentError(f"{doc_id}: span {sid} [{start}, {end}) lies outside the text of length {len(text)}")
            spans[sid] = Span(start, end, label, text[start:end], s.get("score"), sid)
        relations = []
        for r in raw.get("relations") or []:
            try:
                head, tail = spans[r["head"]], spans[r["tail"]]
            except KeyError:
                raise DocumentError(f"{doc_id}: relation {r} names a missing span") from None
            relations.append(Relation(head, tail, str(r["label"]), r.get("score")))
        return cls(doc_id, text, dict(meta), list(spans.values()), relations, list(raw.get("events") or []))

    def to_dict(self) -> dict[str, Any]:
        self.assign_span_ids()
        out: dict[str, Any] = {
            "id": self.id,
            "text": self.text,
            "meta": self.meta,
            "spans": [s.to_dict() for s in self.spans],
            "relations": [r.to_dict() for r in self.relations],
        }
        if self.events:
            out["events"] = [e if isinstance(e, dict) else e.to_dict() for e in self.events]
        return out

    def assign_span_ids(self) -> None:
        """Give every span without an id a fresh ``s<n>`` id."""
        taken = {s.id for s in self.spans if s.id}
        n = 0
        for s in self.spans:
            if not s.id:
                n += 1
                while f"s{n}" in taken:
                    n += 1
                s.id = f"s{n}"
                taken.add(s.id)


def iter_jsonl(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield ``(line_number, record, error)`` for every non-empty line; bad JSON gives an error, not an exception."""
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                yield n, json.loads(line), None
            except json.JSONDecodeError as err:
                yield n, None, f"{path}:{n}: invalid JSON ({err.msg} at column {err.colno})"


def read_documents(path: str | os.PathLike) -> list[Document]:
    """Load a JSONL file of documents; the first bad line raises DocumentError with its line number."""
    docs = []
    for n, raw, error in iter_jsonl(path):
        if error:
            raise DocumentError(error)
        try:
            docs.append(Document.from_dict(raw))
        except DocumentError as err:
            raise DocumentError(f"{path}:{n}: {err}") from None
    return docs


def write_documents(docs: Iterable[Document], path: str | os.PathLike) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for doc in docs:
            f.write(json.dumps(doc.to_dict(), ensure_ascii=False) + "\n")
            n += 1
    return n
