"""Scoring: span, trigger, argument and link P/R/F1, the confusion matrix and error examples.

Everything is scored end to end on the predicted spans: every item is a tuple of offsets and
labels, compared as sets per document (duplicates collapse), so a relation counts only when
the spans it joins are also right. The keys of ``score_documents`` are the ``metrics.json``
contract of ``CONTRACTS.md``.

Precision, recall and F1 are 0.0 when undefined (no predictions, no gold, or both zero), never
NaN, so that ``metrics.json`` stays valid JSON and an empty prediction scores as bad, not as
missing.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Sequence

from ..inference.alignment import spans_to_word_tags
from ..inference.documents import Document, Relation
from ..inference.schema import OUTSIDE, Schema
from ..inference.text import split_words


@dataclass
class Tally:
    """Gold, predicted and correct counts of one kind of tuple."""

    gold: int = 0
    pred: int = 0
    correct: int = 0

    def update(self, gold: set, pred: set) -> None:
        self.gold += len(gold)
        self.pred += len(pred)
        self.correct += len(gold & pred)

    def __add__(self, other: "Tally") -> "Tally":
        return Tally(self.gold + other.gold, self.pred + other.pred, self.correct + other.correct)

    def scores(self) -> dict[str, float]:
        p = self.correct / self.pred if self.pred else 0.0
        r = self.correct / self.gold if self.gold else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        return {"p": p, "r": r, "f1": f1}

    def counts(self) -> dict[str, int]:
        return {"gold": self.gold, "pred": self.pred, "correct": self.correct}


# ---------------------------------------------------------------------------- pairing
def pair_documents(gold: Sequence[Document], pred: Sequence[Document]) -> list[tuple[Document, Document]]:
    """Match predictions to gold documents by ``id``, in gold order.

    A gold document without a prediction is paired with an empty one (everything missed);
    a prediction for an unknown id, a repeated id or a different text raises ``ValueError``.
    """
    gold_ids = _unique_ids(gold, "gold")
    unknown = [doc_id for doc_id in _unique_ids(pred, "predicted") if doc_id not in gold_ids]
    if unknown:
        raise ValueError(f"predicted documents {sorted(unknown)[:5]} have no gold document with the same id")
    pred_by_id = {doc.id: doc for doc in pred}
    pairs = []
    for g in gold:
        p = pred_by_id.get(g.id) or Document(g.id, g.text)
        if p.text != g.text:
            raise ValueError(f"document {g.id!r}: the predicted text differs from the gold text")
        pairs.append((g, p))
    return pairs


def _unique_ids(docs: Sequence[Document], side: str) -> set[str]:
    ids: set[str] = set()
    for doc in docs:
        if doc.id in ids:
            raise ValueError(f"{side} documents repeat the id {doc.id!r}")
        ids.add(doc.id)
    return ids


# ---------------------------------------------------------------------------- tuples
def _argument_tuple(r: Relation) -> tuple:
    # ACE convention: the trigger with its event type, the argument by its offsets, then the role.
    return (r.head.start, r.head.end, r.head.label, r.tail.start, r.tail.end, r.label)


def _link_tuple(r: Relation) -> tuple:
    return (r.head.key, r.tail.key, r.label)


def _document_tuples(doc: Document, schema: Schema) -> dict[str, set]:
    """Every scored kind of tuple of one document; the label is always a tuple's last item.

    A relation whose label is a schema role is an event argument; every other relation
    (``MEMBER_OF``, ``QUANTITY`` from a CASUALTY trigger, labels unknown to the schema) is a link.
    """
    spans = {s.key for s in doc.spans}
    triggers = {k for k in spans if schema.is_trigger(k[2])}
    arguments = {_argument_tuple(r) for r in doc.relations if schema.is_role(r.label)}
    return {
        "spans": spans,
        "entities": spans - triggers,
        "trigger_identification": {(start, end) for start, end, _ in triggers},
        "trigger_classification": triggers,
        "argument_identification": {a[:-1] for a in arguments},
        "argument_classification": arguments,
        "links": {_link_tuple(r) for r in doc.relations if not schema.is_role(r.label)},
    }


def _by_label(tuples: Iterable[tuple]) -> dict[str, set]:
    groups: dict[str, set] = defaultdict(set)
    for t in tuples:
        groups[t[-1]].add(t)
    return groups


def _tally_by_label(tallies: dict[str, Tally], gold: set, pred: set) -> None:
    gold_groups, pred_groups = _by_label(gold), _by_label(pred)
    for label in gold_groups.keys() | pred_groups.keys():
        tallies[label].update(gold_groups.get(label, set()), pred_groups.get(label, set()))


def _per_label(tallies: dict[str, Tally], labels: Iterable[str]) -> dict[str, dict[str, float]]:
    """Scores of every label of the schema (support 0 included), then any other label seen."""
    ordered = list(dict.fromkeys([*labels, *sorted(tallies)]))
    return {label: {**tallies[label].scores(), "support": tallies[label].gold} for label in ordered}


def _macro(tallies: dict[str, Tally]) -> dict[str, float]:
    # Averaged over the labels present in gold or predictions (as seqeval and scikit-learn do):
    # a schema label absent from both says nothing about the model.
    present = [t.scores() for t in tallies.values() if t.gold or t.pred]
    if not present:
        return {"p": 0.0, "r": 0.0, "f1": 0.0}
    return {k: sum(s[k] for s in present) / len(present) for k in ("p", "r", "f1")}


# ---------------------------------------------------------------------------- scores
def score_documents(gold: Sequence[Document], pred: Sequence[Document], schema: Schema) -> dict[str, Any]:
    """Score predicted documents against gold ones; returns the ``metrics.json`` dict.

    Spans are strict (offsets and label). Triggers: identification needs the offsets,
    classification the label too. Arguments: identification needs the trigger (offsets and
    label) and the argument's offsets, classification the role too. Links need both spans
    (offsets and labels) and the link label. ``relations`` pools argument classification and
    links; ``combined_f1`` is the mean of the span and relation micro F1 (the span F1 alone
    when the schema has no relation labels, as for plain NER).
    """
    pairs = pair_documents(gold, pred)
    kinds = ("spans", "entities", "trigger_identification", "trigger_classification",
             "argument_identification", "argument_classification", "links")
    totals = {kind: Tally() for kind in kinds}
    span_tallies: dict[str, Tally] = defaultdict(Tally)
    role_tallies: dict[str, Tally] = defaultdict(Tally)
    link_tallies: dict[str, Tally] = defaultdict(Tally)

    for g, p in pairs:
        gt, pt = _document_tuples(g, schema), _document_tuples(p, schema)
        for kind in kinds:
            totals[kind].update(gt[kind], pt[kind])
        _tally_by_label(span_tallies, gt["spans"], pt["spans"])
        _tally_by_label(role_tallies, gt["argument_classification"], pt["argument_classification"])
        _tally_by_label(link_tallies, gt["links"], pt["links"])

    relations = totals["argument_classification"] + totals["links"]
    spans_f1, relations_f1 = totals["spans"].scores()["f1"], relations.scores()["f1"]
    counts = {kind: tally.counts() for kind, tally in totals.items()}
    counts["relations"] = relations.counts()
    return {
        "documents": len(pairs),
        "combined_f1": (spans_f1 + relations_f1) / 2 if schema.has_relations else spans_f1,
        "spans": {
            "micro": totals["spans"].scores(),
            "macro": _macro(span_tallies),
            "per_label": _per_label(span_tallies, schema.span_labels),
        },
        "entities": {"micro": totals["entities"].scores()},
        "triggers": {
            "identification": totals["trigger_identification"].scores(),
            "classification": totals["trigger_classification"].scores(),
        },
        "arguments": {
            "identification": totals["argument_identification"].scores(),
            "classification": totals["argument_classification"].scores(),
            "per_role": _per_label(role_tallies, schema.roles),
        },
        "links": {
            "micro": totals["links"].scores(),
            "per_label": _per_label(link_tallies, schema.links),
        },
        "relations": {"micro": relations.scores()},
        "counts": counts,
    }


# ---------------------------------------------------------------------------- diagnostics
def relations_on_gold_spans(gold: Sequence[Document], pred: Sequence[Document], schema: Schema) -> dict[str, Any]:
    """The relation scores of predictions made on the gold spans (``ExtractorBase.predict_relations``):
    what the relation head gets right when no span is wrong, beside the end-to-end figures."""
    scores = score_documents(gold, pred, schema)
    return {"arguments": scores["arguments"], "links": scores["links"], "relations": scores["relations"]}


def confusion_matrix(
    gold: Sequence[Document], pred: Sequence[Document], labels: Sequence[str]
) -> tuple[list[str], list[list[int]]]:
    """Span label confusions: rows are gold labels, columns predicted labels.

    Spans are matched by identical offsets. A gold span with no prediction at its offsets is
    counted in the ``O`` column (missed), a prediction with no gold span at its offsets in the
    ``O`` row (spurious). Labels seen in the data but not in ``labels`` are appended before
    ``O``, so no span is dropped; the returned label list names the rows and columns.
    """
    pairs = pair_documents(gold, pred)
    seen = {s.label for g, p in pairs for s in (*g.spans, *p.spans)}
    names = [*dict.fromkeys(labels), *sorted(seen - set(labels)), OUTSIDE]
    index = {label: i for i, label in enumerate(names)}
    matrix = [[0] * len(names) for _ in names]
    for g, p in pairs:
        gold_at, pred_at = _labels_by_offsets(g), _labels_by_offsets(p)
        for offsets in gold_at.keys() | pred_at.keys():
            gold_labels, pred_labels = gold_at.get(offsets, set()), pred_at.get(offsets, set())
            for label in gold_labels & pred_labels:
                matrix[index[label]][index[label]] += 1
            # Flat annotation leaves at most one label per offsets on each side; should a system
            # predict several, the unmatched ones pair up in label order and the rest go to O.
            gold_rest, pred_rest = sorted(gold_labels - pred_labels), sorted(pred_labels - gold_labels)
            for k in range(max(len(gold_rest), len(pred_rest))):
                row = gold_rest[k] if k < len(gold_rest) else OUTSIDE
                col = pred_rest[k] if k < len(pred_rest) else OUTSIDE
                matrix[index[row]][index[col]] += 1
    return names, matrix


def _labels_by_offsets(doc: Document) -> dict[tuple[int, int], set[str]]:
    out: dict[tuple[int, int], set[str]] = defaultdict(set)
    for s in doc.spans:
        out[(s.start, s.end)].add(s.label)
    return out


def error_examples(
    gold: Sequence[Document], pred: Sequence[Document], k: int = 10, *, schema: Schema | None = None
) -> list[dict[str, Any]]:
    """The ``k`` documents with the most span and relation errors (false positives + negatives).

    Each example holds the text and, for gold and prediction, its spans and relations with a
    ``status``: ``correct``, ``false_negative`` (gold only) or ``false_positive`` (prediction
    only). A relation is correct when its label and both spans (offsets and labels) match;
    given the ``schema``, an argument is judged as ``score_documents`` judges it (its own
    label is not compared). Documents without errors are left out; ties keep the gold order.
    """
    def relation_key(r: Relation) -> tuple:
        return _argument_tuple(r) if schema is not None and schema.is_role(r.label) else _link_tuple(r)

    examples = []
    for g, p in pair_documents(gold, pred):
        gold_spans, pred_spans = {s.key for s in g.spans}, {s.key for s in p.spans}
        gold_rels, pred_rels = {relation_key(r) for r in g.relations}, {relation_key(r) for r in p.relations}
        false_negatives = len(gold_spans - pred_spans) + len(gold_rels - pred_rels)
        false_positives = len(pred_spans - gold_spans) + len(pred_rels - gold_rels)
        if not false_negatives + false_positives:
            continue
        examples.append({
            "id": g.id,
            "text": g.text,
            "errors": false_negatives + false_positives,
            "false_negatives": false_negatives,
            "false_positives": false_positives,
            "gold": _annotations(g, pred_spans, pred_rels, relation_key, "false_negative"),
            "pred": _annotations(p, gold_spans, gold_rels, relation_key, "false_positive"),
        })
    examples.sort(key=lambda e: -e["errors"])  # stable: ties stay in gold order
    return examples[:k]


def _annotations(
    doc: Document, other_spans: set, other_relations: set, relation_key: Callable[[Relation], tuple], miss: str
) -> dict[str, list]:
    """Spans and relations of ``doc`` as plain dicts, ``miss`` where the other side lacks them."""
    spans, relations, seen_spans, seen_relations = [], [], set(), set()
    for s in sorted(doc.spans, key=lambda s: s.key):
        if s.key in seen_spans:  # duplicates collapse, as in scoring
            continue
        seen_spans.add(s.key)
        spans.append({"start": s.start, "end": s.end, "label": s.label, "text": doc.text[s.start:s.end],
                      "status": "correct" if s.key in other_spans else miss})
    for r in doc.relations:
        key = relation_key(r)
        if key in seen_relations:
            continue
        seen_relations.add(key)
        relations.append({"head": doc.text[r.head.start:r.head.end], "head_label": r.head.label,
                          "tail": doc.text[r.tail.start:r.tail.end], "tail_label": r.tail.label,
                          "label": r.label, "status": "correct" if key in other_relations else miss})
    return {"spans": spans, "relations": relations}


# ---------------------------------------------------------------------------- seqeval
def seqeval_span_scores(
    gold: Sequence[Document], pred: Sequence[Document], word_mode: str = "arabic"
) -> dict[str, Any]:
    """Span scores computed by seqeval (strict IOB2) on the word-tag view of the documents.

    An independent check of ``score_documents``: for spans that align with words the two
    must agree. Returns ``{"micro", "macro", "per_label"}`` shaped like ``score_documents``'s
    ``spans`` entry. A span that does not align with words raises ``ValueError``.
    """
    # seqeval is a training/evaluation dependency only (rasd.inference never imports it).
    from seqeval.metrics import classification_report
    from seqeval.scheme import IOB2

    gold_tags, pred_tags = [], []
    for g, p in pair_documents(gold, pred):
        words = split_words(g.text, word_mode)
        for doc, sequences in ((g, gold_tags), (p, pred_tags)):
            tags, misaligned = spans_to_word_tags(words, [s.key for s in doc.spans])
            if misaligned:
                raise ValueError(f"document {doc.id!r}: spans {misaligned[:3]} do not align with words")
            sequences.append(tags)
    report = classification_report(gold_tags, pred_tags, mode="strict", scheme=IOB2,
                                   output_dict=True, zero_division=0)

    def convert(row: dict[str, float]) -> dict[str, float]:
        return {"p": float(row["precision"]), "r": float(row["recall"]), "f1": float(row["f1-score"]),
                "support": int(row["support"])}

    averages = {"micro avg", "macro avg", "weighted avg"}
    return {
        "micro": convert(report["micro avg"]),
        "macro": convert(report["macro avg"]),
        "per_label": {label: convert(row) for label, row in report.items() if label not in averages},
    }
