"""Validator of the JSONL annotation contract: every problem, with its document, on its own line."""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Iterable

from rasd.inference.alignment import spans_to_word_tags
from rasd.inference.documents import iter_jsonl
from rasd.inference.schema import Schema
from rasd.inference.text import split_words


@dataclass(frozen=True)
class Problem:
    where: str  # file:line
    doc_id: str
    message: str
    severity: str = "error"  # "error" fails validation, "warning" does not

    def __str__(self) -> str:
        return f"{self.where}: {self.doc_id}: {self.severity}: {self.message}"


def validate_record(raw: Any, schema: Schema, where: str = "") -> list[Problem]:
    """All contract violations of one parsed JSONL record."""
    if not isinstance(raw, dict):
        return [Problem(where, "?", "a document must be a JSON object")]
    doc_id = raw.get("id")
    name = doc_id if isinstance(doc_id, str) and doc_id else "?"
    out: list[Problem] = []

    def bad(message: str, severity: str = "error") -> None:
        out.append(Problem(where, name, message, severity))

    if name == "?":
        bad("missing or empty string 'id'")
    text = raw.get("text")
    if not isinstance(text, str):
        bad("'text' must be a string")
        return out
    if "meta" in raw and not isinstance(raw["meta"], dict):
        bad("'meta' must be an object")
    spans_raw = raw.get("spans", [])
    if not isinstance(spans_raw, list):
        bad("'spans' must be a list")
        spans_raw = []
    labels = set(schema.span_labels)
    spans: dict[str, tuple[int, int, str]] = {}
    for i, s in enumerate(spans_raw):
        sid = str(s.get("id", f"#{i}")) if isinstance(s, dict) else f"#{i}"
        if not isinstance(s, dict):
            bad(f"span {sid} is not an object")
            continue
        start, end, label = s.get("start"), s.get("end"), s.get("label")
        if not isinstance(start, int) or not isinstance(end, int) or isinstance(start, bool) or isinstance(end, bool):
            bad(f"span {sid}: start and end must be integers")
            continue
        if "id" not in s:
            bad(f"span #{i} has no id")
        elif sid in spans:
            bad(f"duplicate span id {sid}")
        if end <= start:
            bad(f"span {sid}: end {end} is not after start {start}")
            continue
        if start < 0 or end > len(text):
            bad(f"span {sid}: offsets [{start}, {end}) lie outside the text (length {len(text)})")
            continue
        mention = text[start:end]
        if mention != mention.strip():
            bad(f"span {sid} {mention!r} starts or ends with white space")
        if label not in labels:
            bad(f"span {sid}: unknown label {label!r}")
        spans[sid] = (start, end, label)
    ordered = sorted(spans.items(), key=lambda kv: (kv[1][0], kv[1][1]))
    for (a, (s1, e1, _)), (b, (s2, e2, _)) in zip(ordered, ordered[1:]):
        if s2 < e1:
            bad(f"spans {a} [{s1}, {e1}) and {b} [{s2}, {e2}) overlap")
    meta = raw.get("meta") if isinstance(raw.get("meta"), dict) else {}
    words = split_words(text, meta.get("tokenization", "arabic"))
    _, misaligned = spans_to_word_tags(words, list(spans.values()))
    for m in misaligned:
        bad(f"span [{m.start}, {m.end}) {text[m.start:m.end]!r} does not start and end on word boundaries "
            "(a model cannot learn it)", "warning")

    rels_raw = raw.get("relations", [])
    if not isinstance(rels_raw, list):
        bad("'relations' must be a list")
        rels_raw = []
    relation_labels = set(schema.relation_labels)
    seen = set()
    for r in rels_raw:
        if not isinstance(r, dict) or not {"head", "tail", "label"} <= set(r):
            bad(f"relation {r!r} needs head, tail and label")
            continue
        head, tail, label = r["head"], r["tail"], r["label"]
        desc = f"relation {head} {label} {tail}"
        if label not in relation_labels:
            bad(f"{desc}: unknown relation label {label!r}")
        missing = [x for x in (head, tail) if x not in spans]
        if missing:
            bad(f"{desc} names missing span(s) {', '.join(map(str, missing))}")
            continue
        if head == tail:
            bad(f"{desc} relates a span to itself")
        if (head, label, tail) in seen:
            bad(f"duplicate {desc}")
        seen.add((head, label, tail))
        h_label, t_label = spans[head][2], spans[tail][2]
        if label in relation_labels and h_label in labels and t_label in labels \
                and not schema.relation_allowed(label, h_label, t_label):
            bad(f"{desc}: the schema does not allow {label} from {h_label} to {t_label}")
    return out


def validate_files(paths: Iterable[str | os.PathLike], schema: Schema) -> tuple[int, list[Problem]]:
    """Validate JSONL files; returns the number of documents read and every problem found."""
    problems: list[Problem] = []
    seen_ids: dict[str, str] = {}
    n_docs = 0
    for path in paths:
        if not os.path.exists(path):
            problems.append(Problem(str(path), "-", "file not found"))
            continue
        for n, raw, error in iter_jsonl(path):
            where = f"{path}:{n}"
            if error:
                problems.append(Problem(where, "?", error.split(": ", 1)[-1]))
                continue
            n_docs += 1
            problems += validate_record(raw, schema, where)
            doc_id = raw.get("id") if isinstance(raw, dict) else None
            if isinstance(doc_id, str) and doc_id:
                if doc_id in seen_ids:
                    problems.append(Problem(where, doc_id, f"duplicate document id (first at {seen_ids[doc_id]})"))
                else:
                    seen_ids[doc_id] = where
    return n_docs, problems
