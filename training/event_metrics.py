"""Scores for event records and geocoding, against gold event records (``data/conflict-ar/events/test.jsonl``).

Gold file: one JSON object per document, ``{"id", "events": [...], "places": [...]}``. An event has
``type`` (the schema's trigger label), ``date`` and ``date_end`` (ISO, "" when the text gives no
date), ``place`` (``geonames:<id>`` or ``iso3166-2:<code>``; null when the text names no place the
gazetteers hold), ``actor1`` and ``actor2`` (normalised names, as ``rasd.inference.actors`` writes
them; as written when unknown), ``fatalities`` (int or null) and ``mentions`` (``[start, end]`` of its
trigger mentions). A place is ``{start, end, text, place}`` for every GPE and LOC mention.

Scores (``score_event_records``):

* ``events.{p,r,f1}``: a predicted record is correct when a gold record of its document has the same
  type, the same dates and the same place (the same id, or within ``WITHIN_KM``; both none counts);
  each gold record matches once.
* ``events.fields.<field>``: over predicted records aligned to gold ones (the same type, sharing a
  trigger mention), the share whose ``date``, ``place``, ``actor1``, ``actor2``, ``fatalities`` equal
  the gold value; ``events.fatalities_with_count`` the same for gold records that have a count.
* ``geocoding.accuracy``: over gold GPE/LOC mentions whose place the gazetteer holds, the share that
  the geocoder puts within ``WITHIN_KM`` of it (a mention the prediction lacks counts as wrong).
"""
from __future__ import annotations

import json
import os
from typing import Any, Iterable, Sequence

from rasd.inference.documents import Document
from rasd.inference.events import EventBuilder, EventRecord
from rasd.inference.geocoding import Gazetteer, Place, default_gazetteer, distance_km
from rasd.inference.schema import Schema

__all__ = ["WITHIN_KM", "default_gold_events_path", "read_gold_events", "score_event_records"]

WITHIN_KM = 10.0
FIELDS = ("date", "place", "actor1", "actor2", "fatalities")


class GoldEventsError(ValueError):
    """A gold event file that cannot be read (the message names the file, line and problem)."""


def default_gold_events_path(data: str | os.PathLike) -> str | None:
    """``events/X.jsonl`` beside a gold corpus ``X.jsonl`` (its own folder, so ``*.jsonl`` of the corpus
    stays documents), when it exists."""
    path = os.fspath(data)
    candidate = os.path.join(os.path.dirname(path), "events", os.path.basename(path))
    return candidate if path.endswith(".jsonl") and os.path.isfile(candidate) else None


def read_gold_events(path: str | os.PathLike) -> dict[str, dict[str, Any]]:
    """Document id -> ``{"events": [...], "places": [...]}``."""
    out: dict[str, dict[str, Any]] = {}
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError as err:
                raise GoldEventsError(f"{path}:{n}: invalid JSON ({err.msg})") from None
            if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
                raise GoldEventsError(f"{path}:{n}: each line is an object with an 'id'")
            for k, event in enumerate(raw.get("events") or []):
                missing = {"type", "date", "place", "actor1", "actor2", "fatalities", "mentions"} - set(event)
                if missing:
                    raise GoldEventsError(f"{path}:{n}: {raw['id']} event #{k} lacks {sorted(missing)}")
            out[raw["id"]] = {"events": raw.get("events") or [], "places": raw.get("places") or []}
    return out


def _same_place(a: str | None, b: str | None, gazetteer: Gazetteer) -> bool:
    if not a or not b:
        return not a and not b
    if a == b:
        return True
    pa, pb = gazetteer.by_id(a), gazetteer.by_id(b)
    return pa is not None and pb is not None and \
        distance_km(pa.latitude, pa.longitude, pb.latitude, pb.longitude) <= WITHIN_KM


def _prf(correct: int, predicted: int, gold: int) -> dict[str, float]:
    p = correct / predicted if predicted else 0.0
    r = correct / gold if gold else 0.0
    return {"p": p, "r": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def _predicted_records(doc: Document, builder: EventBuilder) -> list[EventRecord]:
    if doc.events:
        return [e if isinstance(e, EventRecord) else EventRecord.from_dict(e) for e in doc.events]
    return builder.build(doc)


def _overlap(record: EventRecord, gold: dict[str, Any]) -> tuple[int, int]:
    """Characters a record's trigger mentions share with a gold record's first mention (its main trigger),
    then with all of them."""
    own = [(m["start"], m["end"]) for m in record.mentions if m["label"] == record.event_type]

    def shared(spans: list[list[int]]) -> int:
        return sum(max(0, min(e, ge) - max(s, gs)) for s, e in own for gs, ge in spans)

    return shared(gold["mentions"][:1]), shared(gold["mentions"])


def score_event_records(pred_docs: Sequence[Document], gold_events: dict[str, dict[str, Any]], schema: Schema,
                        gazetteer: Gazetteer | None = None) -> dict[str, Any]:
    """``{"events": {...}, "geocoding": {...}}`` for predictions (documents with spans and relations, or
    with ``events`` already) against gold event records; documents without gold are skipped."""
    gazetteer = gazetteer or default_gazetteer()
    builder = EventBuilder(schema, gazetteer=gazetteer)
    n_gold = n_pred = correct = 0
    aligned: list[tuple[EventRecord, dict[str, Any]]] = []
    geo_hits = geo_support = 0
    place_labels = frozenset(schema.roles.get("LOCATION", ()))
    name_labels = place_labels & frozenset(schema.roles.get("AGENT", ()))
    for doc in pred_docs:
        gold = gold_events.get(doc.id)
        if gold is None:
            continue
        records = _predicted_records(doc, builder)
        n_gold += len(gold["events"])
        n_pred += len(records)
        # event level: type, dates and place
        free = list(gold["events"])
        for record in records:
            match = next((g for g in free if g["type"] == record.event_type and g["date"] == record.date
                          and g.get("date_end", g["date"]) == record.date_end
                          and _same_place(record.place_id or None, g["place"], gazetteer)), None)
            if match is not None:
                free.remove(match)
                correct += 1
        # fields: records aligned to gold ones through a shared trigger mention
        taken: set[int] = set()
        for g in gold["events"]:
            best = max((r for r in records if r.event_type == g["type"] and id(r) not in taken),
                       key=lambda r: _overlap(r, g), default=None)
            if best is not None and _overlap(best, g)[1] > 0:
                taken.add(id(best))
                aligned.append((best, g))
        # geocoding of every gold place mention the gazetteer holds
        predicted_places = gazetteer.geocode_document(doc, place_labels, name_labels, "LOCATED_IN") \
            if place_labels else {}
        by_offsets = {(start, end): place for (start, end, _), place in predicted_places.items()}
        for mention in gold["places"]:
            target = gazetteer.by_id(mention["place"]) if mention.get("place") else None
            if target is None:
                continue
            geo_support += 1
            found: Place | None = by_offsets.get((mention["start"], mention["end"]))
            if found is not None and distance_km(found.latitude, found.longitude,
                                                 target.latitude, target.longitude) <= WITHIN_KM:
                geo_hits += 1

    def field_ok(record: EventRecord, g: dict[str, Any], name: str) -> bool:
        if name == "date":
            return (record.date, record.date_end) == (g["date"], g.get("date_end", g["date"]))
        if name == "place":
            return _same_place(record.place_id or None, g["place"], gazetteer)
        if name == "fatalities":
            return record.fatalities == g["fatalities"]
        return getattr(record, name) == (g[name] or "")

    with_count = [(r, g) for r, g in aligned if g["fatalities"] is not None]
    return {
        "events": {
            **_prf(correct, n_pred, n_gold),
            "support": n_gold, "predicted": n_pred, "aligned": len(aligned),
            "fields": {name: (sum(field_ok(r, g, name) for r, g in aligned) / len(aligned) if aligned else 0.0)
                       for name in FIELDS},
            "fatalities_with_count": (sum(r.fatalities == g["fatalities"] for r, g in with_count) / len(with_count)
                                      if with_count else 0.0),
            "fatalities_support": len(with_count),
        },
        "geocoding": {"accuracy": geo_hits / geo_support if geo_support else 0.0, "support": geo_support,
                      "within_km": WITHIN_KM},
    }


def gold_events_from(records: Iterable[EventRecord]) -> list[dict[str, Any]]:
    """Gold-file entries for records (the drafting step of a new gold file; check every one by hand)."""
    return [{"type": r.event_type, "date": r.date, "date_end": r.date_end, "place": r.place_id or None,
             "location": r.place_name, "actor1": r.actor1, "actor2": r.actor2, "fatalities": r.fatalities,
             "mentions": [[m["start"], m["end"]] for m in r.mentions if m["label"] == r.event_type]}
            for r in records]
