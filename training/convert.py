"""Converters into and out of the JSONL contract: CoNLL/BIO and the inline annotation markup.

CoNLL → JSONL → CoNLL is exact (a span that began with ``I-`` in the source is remembered in
``meta.conll_i_starts``); JSONL → BIO → JSONL is exact for spans that align with words.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Iterable, Iterator

from rasd.inference.alignment import spans_to_word_tags, word_tags_to_spans
from rasd.inference.definition import words_of
from rasd.inference.documents import Document, Relation, Span
from rasd.inference.schema import OUTSIDE, Schema
from rasd.inference.text import split_words

WHITESPACE = "whitespace"


class ConversionError(ValueError):
    """Input that cannot be converted (the message names the file, line or document)."""


# ----------------------------------------------------------------------------- CoNLL
def read_conll(path: str | os.PathLike, schema: Schema | None = None, doc_prefix: str | None = None) -> list[Document]:
    """One document per sentence block of ``token<TAB or space>TAG`` lines; labels go through the schema's aliases."""
    prefix = doc_prefix or os.path.splitext(os.path.basename(path))[0]
    docs, block, start_line = [], [], 1
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n").rstrip("\r")
            if not line.strip():
                if block:
                    docs.append(_conll_block(block, f"{prefix}-{len(docs) + 1:05d}", path, start_line, schema))
                block, start_line = [], n + 1
                continue
            if line.startswith("-DOCSTART-"):
                continue
            parts = line.split("\t") if "\t" in line else line.rsplit(" ", 1)
            if len(parts) < 2 or not parts[0]:
                raise ConversionError(f"{path}:{n}: expected 'token<TAB>TAG', got {line!r}")
            block.append((n, parts[0], parts[-1].strip()))
    if block:
        docs.append(_conll_block(block, f"{prefix}-{len(docs) + 1:05d}", path, start_line, schema))
    return docs


def _conll_block(block, doc_id: str, path, start_line: int, schema: Schema | None) -> Document:
    tokens = [tok for _, tok, _ in block]
    for n, tok, tag in block:
        if any(ch.isspace() for ch in tok):
            raise ConversionError(f"{path}:{n}: token {tok!r} contains white space")
        if tag != OUTSIDE and not re.fullmatch(r"[BI]-\S+", tag):
            raise ConversionError(f"{path}:{n}: tag {tag!r} is not O, B-X or I-X")
    text = " ".join(tokens)
    words = split_words(text, WHITESPACE)
    tags = [tag for _, _, tag in block]
    spans, i_starts = [], []
    for start, end, label, first, _ in word_tags_to_spans(words, tags):
        sid = f"s{len(spans) + 1}"
        if tags[first].startswith("I-"):
            i_starts.append(sid)
        label = schema.canonical(label) if schema else label
        spans.append(Span(start, end, label, text[start:end], None, sid))
    meta = {"source": os.path.basename(str(path)), "line": start_line, "tokenization": WHITESPACE}
    if i_starts:
        meta["conll_i_starts"] = i_starts
    return Document(doc_id, text, meta, spans, [])


def to_bio(doc: Document) -> tuple[list[str], list[str]]:
    """``(words, tags)`` of a document; raises if a span does not align with word boundaries."""
    words = words_of(doc)
    i_starts = set(doc.meta.get("conll_i_starts", ()))
    spans = sorted(doc.spans, key=lambda s: s.start)
    tags, misaligned = spans_to_word_tags(words, [(s.start, s.end, s.label) for s in spans],
                                         ["I" if s.id in i_starts else "B" for s in spans])
    if misaligned:
        bad = ", ".join(f"[{m.start},{m.end}) {m.label} {doc.text[m.start:m.end]!r}" for m in misaligned)
        raise ConversionError(f"{doc.id}: spans not on word boundaries: {bad}")
    return [doc.text[s:e] for s, e in words], tags


def write_conll(docs: Iterable[Document], path: str | os.PathLike) -> int:
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for doc in docs:
            words, tags = to_bio(doc)
            f.writelines(f"{w}\t{t}\n" for w, t in zip(words, tags))
            f.write("\n")
            n += 1
    return n


def from_bio(doc_id: str, text: str, tags: list[str], mode: str = "arabic") -> Document:
    """A document whose spans are read from word tags (the inverse of ``to_bio``)."""
    words = split_words(text, mode)
    if len(words) != len(tags):
        raise ConversionError(f"{doc_id}: {len(tags)} tags for {len(words)} words")
    spans = [Span(s, e, label, text[s:e], None, f"s{k + 1}")
             for k, (s, e, label, _, _) in enumerate(word_tags_to_spans(words, tags))]
    return Document(doc_id, text, {}, spans, [])


# ----------------------------------------------------------------------------- markup
_MARKUP_SPAN = re.compile(r"\[\[([^\[\]|]+)\|([A-Za-z_]+)\|([A-Za-z0-9_]+)\]\]")


@dataclass
class MarkupProblem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


def _markup_blocks(path: str | os.PathLike) -> Iterator[tuple[int, list[str]]]:
    block, start = [], 1
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if line.startswith("# id:") and block:
                yield start, block
                block, start = [], n
            if line.strip() or block:
                block.append(line)
    if block:
        yield start, block


def read_markup(path: str | os.PathLike) -> tuple[list[Document], list[MarkupProblem]]:
    """Documents written in the inline markup of ``shared/tools/markup.py``.

    ``[[mention|LABEL|id]]`` marks a span, ``@ head LABEL tail`` a relation, ``# key: value`` a
    meta field (``# id:`` starts a document). Problems are collected, not raised, so one bad
    block does not hide the others; schema rules are checked by the validator afterwards.
    """
    docs, problems = [], []
    for start, lines in _markup_blocks(path):
        where = f"{path}:{start}"
        meta, text_lines, rel_lines = {}, [], []
        for line in lines:
            if line.startswith("#"):
                key, _, value = line[1:].partition(":")
                meta[key.strip()] = value.strip()
            elif line.startswith("@"):
                rel_lines.append(line)
            elif line.strip():
                text_lines.append(line.strip())
        doc_id = meta.pop("id", "")
        if not doc_id:
            problems.append(MarkupProblem(where, "block without '# id:'"))
            continue
        text, spans = "", {}
        for i, raw in enumerate(text_lines):
            if i:
                text += "\n"
            pos = 0
            for m in _MARKUP_SPAN.finditer(raw):
                text += raw[pos:m.start()]
                mention, label, sid = m.groups()
                if mention != mention.strip():
                    problems.append(MarkupProblem(doc_id, f"span {sid} has outer white space"))
                if sid in spans:
                    problems.append(MarkupProblem(doc_id, f"duplicate span id {sid}"))
                spans[sid] = Span(len(text), len(text) + len(mention), label, mention, None, sid)
                text += mention
                pos = m.end()
            text += raw[pos:]
        if "[[" in text or "]]" in text:
            problems.append(MarkupProblem(doc_id, "unparsed markup left in the text"))
        relations = []
        for line in rel_lines:
            parts = line[1:].split()
            if len(parts) != 3:
                problems.append(MarkupProblem(doc_id, f"bad relation line {line!r} (want '@ head LABEL tail')"))
                continue
            head, label, tail = parts
            if head not in spans or tail not in spans:
                problems.append(MarkupProblem(doc_id, f"relation {head} {label} {tail} names a missing span"))
                continue
            relations.append(Relation(spans[head], spans[tail], label))
        docs.append(Document(doc_id, text, meta, list(spans.values()), relations))
    return docs, problems


# ----------------------------------------------------------------------------- any corpus
CONLL_EXTENSIONS = (".conll", ".bio", ".iob", ".tsv")


def read_corpus(path: str | os.PathLike, schema: Schema) -> list[Document]:
    """Documents of a JSONL or CoNLL file (by extension), labels mapped through the schema's aliases.

    A label the schema does not know is an error naming the document, not a silent drop.
    """
    from rasd.inference.documents import read_documents

    if str(path).endswith(CONLL_EXTENSIONS):
        docs = read_conll(path, schema)
    else:
        docs = read_documents(path)
    known_spans, known_rels = set(schema.span_labels), set(schema.relation_labels)
    for doc in docs:
        for s in doc.spans:
            s.label = schema.canonical(s.label)
            if s.label not in known_spans:
                raise ConversionError(f"{path}: {doc.id}: span label {s.label!r} is not in schema {schema.name!r}")
        for r in doc.relations:
            if r.label not in known_rels:
                raise ConversionError(f"{path}: {doc.id}: relation label {r.label!r} is not in schema {schema.name!r}")
    return docs
