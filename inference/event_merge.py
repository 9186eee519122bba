"""One event, many reports: join the records of different documents that report the same event.

Two records report one event when they have the same ACLED event type, their date ranges overlap,
they lie at the same place at town level (the same GeoNames town, ``geo_precision`` 1 or 2: admin2 or
finer; a record placed only at a province or a country never merges), they come from different
documents, and their actors are compatible: each side names the same actor or one of them leaves it
empty (for battles, the two sides may be named in either order).

The merged record is the most precise of its reports (the finest place, then the narrowest dates,
then the first id), with:

* ``doc_ids`` every source document, ``source`` and ``url`` every distinct value, joined with ``; ``;
* dates: the days all reports share (the overlap of their ranges);
* actors: the first named one of each side where the chosen report leaves it empty; associated actors
  of all reports;
* ``fatalities``: the lowest count any report gives (ACLED's rule: when sources differ, the most
  conservative figure), with that report's range and qualifier; every report's count in ``notes``.

Records are grouped by (event type, town) and swept in date order, each compared only with the groups
still open on its first day, so the work grows with the number of records per day and place. The
result does not depend on the order of the input.
"""
from __future__ import annotations

import copy
import os
from collections import defaultdict
from typing import Any, Iterable, Sequence

from .acled import time_precision
from .events import EventRecord

__all__ = ["merge_events_file", "merge_records", "same_event"]


def _mergeable(record: EventRecord) -> bool:
    return bool(record.acled_event_type and record.date and record.place_id and record.geo_precision in (1, 2))


def _compatible(a: str, b: str) -> bool:
    return not a or not b or a == b


def same_event(a: EventRecord, b: EventRecord) -> bool:
    """Whether two records may report one event (the rules of this module, dates included)."""
    if not (_mergeable(a) and _mergeable(b)) or a.doc_id == b.doc_id:
        return False
    if (a.acled_event_type, a.place_id) != (b.acled_event_type, b.place_id):
        return False
    if not (a.date <= (b.date_end or b.date) and b.date <= (a.date_end or a.date)):
        return False
    return _actors_compatible(a, b)


def _actors_compatible(a: EventRecord, b: EventRecord) -> bool:
    straight = _compatible(a.actor1, b.actor1) and _compatible(a.actor2, b.actor2)
    swapped = a.acled_event_type == "Battles" and _compatible(a.actor1, b.actor2) and _compatible(a.actor2, b.actor1)
    return straight or swapped


def merge_records(records: Iterable[EventRecord]) -> list[EventRecord]:
    """The records with every group that reports one event joined into one record, in date order."""
    records = sorted(records, key=lambda r: (r.date, r.date_end, r.event_id))
    buckets: dict[tuple[str, str], list[EventRecord]] = defaultdict(list)
    out: list[EventRecord] = []
    for record in records:
        if _mergeable(record):
            buckets[record.acled_event_type, record.place_id].append(record)
        else:
            out.append(record)
    for bucket in buckets.values():
        groups: list[list[EventRecord]] = []
        open_groups: list[list[EventRecord]] = []
        for record in bucket:  # in date order
            # a group whose every report ended before this record began can take nothing more
            open_groups = [g for g in open_groups if max(r.date_end or r.date for r in g) >= record.date]
            group = next((g for g in open_groups if all(same_event(record, r) for r in g)), None)
            if group is None:
                group = []
                groups.append(group)
                open_groups.append(group)
            group.append(record)
        out += [_merge(g) if len(g) > 1 else g[0] for g in groups]
    return sorted(out, key=lambda r: (r.date, r.date_end, r.event_id))


def _merge(group: list[EventRecord]) -> EventRecord:
    def precision(r: EventRecord) -> tuple:
        return (r.geo_precision or 9, r.time_precision or 9, r.event_id)

    group = sorted(group, key=precision)
    merged = copy.deepcopy(group[0])
    merged.date = max(r.date for r in group)
    merged.date_end = min(r.date_end or r.date for r in group)
    merged.time_precision = time_precision(merged.date, merged.date_end)
    for side in ("actor1", "actor2"):
        if not getattr(merged, side):
            donor = next((r for r in group if getattr(r, side)), None)
            if donor is not None:
                for suffix in ("", "_type", "_country"):
                    setattr(merged, side + suffix, getattr(donor, side + suffix))
    for side in ("assoc_actor_1", "assoc_actor_2"):
        names = [n for r in group for n in getattr(r, side)]
        setattr(merged, side, [n for n in dict.fromkeys(names) if n not in (merged.actor1, merged.actor2)])
    counted = [r for r in group if r.fatalities is not None]
    if counted:
        lowest = min(counted, key=lambda r: (r.fatalities, r.event_id))
        merged.fatalities, merged.count_low, merged.count_high = lowest.fatalities, lowest.count_low, lowest.count_high
        merged.count_qualifier = lowest.count_qualifier
        if len({r.fatalities for r in counted}) > 1:
            merged.notes.append("fatalities reported: " + "; ".join(f"{r.doc_id}: {r.fatalities}" for r in counted))
    merged.doc_ids = sorted({d for r in group for d in (r.doc_ids or [r.doc_id])})
    merged.source = "; ".join(dict.fromkeys(r.source for r in group if r.source))
    merged.url = "; ".join(dict.fromkeys(r.url for r in group if r.url))
    merged.notes.append(f"merged from {len(group)} reports: " + ", ".join(sorted(r.event_id for r in group)))
    return merged


def merge_events_file(inputs: Sequence[str | os.PathLike], output: str | os.PathLike) -> dict[str, Any]:
    """``rasd events merge``: the records of JSONL documents (``rasd extract -o X.jsonl``), merged, as
    rows in ``output`` (``.csv`` or ``.parquet``). Returns ``{documents, events, merged_events, output}``."""
    from .documents import read_documents
    from .io import open_output

    records: list[EventRecord] = []
    documents = 0
    for path in inputs:
        for doc in read_documents(path):
            documents += 1
            records += [e if isinstance(e, EventRecord) else EventRecord.from_dict(e) for e in doc.events]
    merged = merge_records(records)
    with open_output(output) as writer:
        writer.write_records(merged)
    return {"documents": documents, "events": len(records), "merged_events": len(merged), "output": os.fspath(output)}
