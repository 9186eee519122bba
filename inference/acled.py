"""ACLED's codebook as rasd uses it: valid event types, how a record's category is settled, and the
row an event record becomes (ACLED's columns and meanings, then rasd's own).

* **Types.** ``EVENT_TYPES`` lists ACLED's event types and their sub-event types. ``settle_category``
  turns a schema's default category into a valid one for a record: territory changes by the taking
  actor's type (state forces regain, others overtake), remote violence by its weapon or trigger
  (غارة، مسيّرة -> Air/drone strike; عبوة ناسفة -> Remote explosive/landmine/IED; انتحاري -> Suicide
  bomb), arrests by a non-state actor as abductions; anything not in the codebook (a model saved with
  an older schema) falls back to its event type's general sub-event type.
* **Rows.** ``acled_row`` gives ``ACLED_COLUMNS`` (``event_date`` ISO; ``iso`` numeric as ACLED writes
  it; ``inter1``/``inter2`` the actor-type codes, ``interaction`` both codes, the lower first;
  ``time_precision`` 1 day, 2 a week or less, 3 longer; ``event_date`` the middle day of a range, as
  ACLED codes an event known to a week or a month), then ``RASD_COLUMNS``.
"""
from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

from .actors import ACTOR_TYPES
from .text import fold

if TYPE_CHECKING:
    from .events import EventRecord

__all__ = ["ACLED_COLUMNS", "COLUMNS", "EVENT_TYPES", "RASD_COLUMNS", "acled_row", "settle_category",
           "time_precision"]

EVENT_TYPES: dict[str, tuple[str, ...]] = {
    "Battles": ("Armed clash", "Government regains territory", "Non-state actor overtakes territory"),
    "Explosions/Remote violence": ("Chemical weapon", "Air/drone strike", "Suicide bomb",
                                   "Shelling/artillery/missile attack", "Remote explosive/landmine/IED", "Grenade"),
    "Violence against civilians": ("Sexual violence", "Attack", "Abduction/forced disappearance"),
    "Protests": ("Peaceful protest", "Protest with intervention", "Excessive force against protesters"),
    "Riots": ("Violent demonstration", "Mob violence"),
    "Strategic developments": ("Agreement", "Arrests", "Change to group/activity", "Disrupted weapons use",
                               "Headquarters or base established", "Looting/property destruction",
                               "Non-violent transfer of territory", "Other"),
}
_GENERAL_SUB_TYPE = {
    "Battles": "Armed clash", "Explosions/Remote violence": "Shelling/artillery/missile attack",
    "Violence against civilians": "Attack", "Protests": "Peaceful protest", "Riots": "Violent demonstration",
    "Strategic developments": "Other",
}
_TERRITORY = ("Government regains territory", "Non-state actor overtakes territory")
_DISORDER = {"Battles": "Political violence", "Explosions/Remote violence": "Political violence",
             "Violence against civilians": "Political violence", "Protests": "Demonstrations",
             "Riots": "Demonstrations", "Strategic developments": "Strategic developments"}

# Words of a trigger or its weapon that say how remote violence was delivered (folded on use), checked
# in this order: a suicide car bomb is a suicide bomb.
_REMOTE_VIOLENCE_WORDS = (
    ("Chemical weapon", ("كيميائي", "كيماوي", "كيميائية", "كيماوية", "غاز السارين", "الكلور")),
    ("Suicide bomb", ("انتحاري", "انتحارية", "انتحاريا", "انتحاريون")),
    ("Remote explosive/landmine/IED", ("عبوة", "عبوات", "لغم", "ألغام", "مفخخة", "مفخخ", "ناسفة", "متفجرة",
                                       "متفجرات")),
    ("Grenade", ("قنبلة يدوية", "قنابل يدوية")),
    ("Air/drone strike", ("غارة", "غارات", "طائرة", "طائرات", "مسيرة", "مسيرات", "مسيّرة", "درون", "الطيران",
                          "طيران", "مقاتلات", "مقاتلة", "جوي", "جوية", "مروحية", "مروحيات")),
)
_REMOTE_VIOLENCE = tuple((sub, tuple(fold(w) for w in words)) for sub, words in _REMOTE_VIOLENCE_WORDS)
_NON_STATE = frozenset({"rebel_group", "political_militia", "identity_militia"})

ACLED_COLUMNS = (
    "event_id_cnty", "event_date", "year", "time_precision", "disorder_type", "event_type", "sub_event_type",
    "actor1", "assoc_actor_1", "inter1", "actor2", "assoc_actor_2", "inter2", "interaction", "civilian_targeting",
    "iso", "country", "admin1", "admin2", "location", "latitude", "longitude", "geo_precision", "source", "notes",
    "fatalities",
)
RASD_COLUMNS = (
    "rasd_event_id", "doc_ids", "rasd_event_type", "date_start", "date_end", "time_text", "actor1_text",
    "actor2_text", "location_text", "admin_chain", "place_id", "country_code", "admin1_code", "url", "title", "trigger_text",
    "mentions", "count_qualifier", "confidence",
)
COLUMNS = ACLED_COLUMNS + RASD_COLUMNS
# Columns that hold numbers (the rest are text); None where unknown.
INTEGER_COLUMNS = frozenset({"year", "time_precision", "inter1", "inter2", "interaction", "iso", "geo_precision",
                             "fatalities"})
FLOAT_COLUMNS = frozenset({"latitude", "longitude", "confidence"})


def settle_category(event_type: str, sub_event_type: str, actor1_type: str = "", words: str = "") -> tuple[str, str]:
    """A valid ACLED (event type, sub-event type) for a record whose schema says ``(event_type,
    sub_event_type)``, whose first actor has type ``actor1_type`` and whose trigger and weapons read
    ``words``. An unknown event type gives ``("", "")``."""
    if event_type not in EVENT_TYPES:
        return "", ""
    if sub_event_type in _TERRITORY or "/" in sub_event_type and all(
            part.strip() in _TERRITORY for part in sub_event_type.split(" / ")):
        if actor1_type == "state_forces":
            return "Battles", "Government regains territory"
        return "Battles", "Non-state actor overtakes territory"
    if sub_event_type not in EVENT_TYPES[event_type]:
        sub_event_type = _GENERAL_SUB_TYPE[event_type]
    if event_type == "Explosions/Remote violence" and sub_event_type == _GENERAL_SUB_TYPE[event_type]:
        folded = fold(words)
        sub_event_type = next((sub for sub, keys in _REMOTE_VIOLENCE if any(k in folded for k in keys)),
                              sub_event_type)
    if sub_event_type == "Arrests" and actor1_type in _NON_STATE:
        return "Violence against civilians", "Abduction/forced disappearance"
    return event_type, sub_event_type


def time_precision(start: str, end: str) -> int | None:
    """ACLED's time precision of an ISO date range: 1 a day, 2 up to a week, 3 longer."""
    if not start:
        return None
    days = (datetime.date.fromisoformat(end or start) - datetime.date.fromisoformat(start)).days + 1
    return 1 if days <= 1 else 2 if days <= 7 else 3


def _middle(start: str, end: str) -> str:
    if not start:
        return ""
    a, b = datetime.date.fromisoformat(start), datetime.date.fromisoformat(end or start)
    return (a + (b - a) / 2).isoformat()


def _interaction(inter1: int | None, inter2: int | None) -> int | None:
    if inter1 is None:
        return None
    codes = sorted(c for c in (inter1, inter2 or 0))
    return codes[0] * 10 + codes[1] if codes[0] else codes[1] * 10


def _inter(kind: str, actor_country: str, event_country: str) -> int | None:
    code = ACTOR_TYPES.get(kind)
    if code == 1 and actor_country and event_country and actor_country != event_country:
        return 8  # a state's forces abroad are external forces
    return code


def _iso3(country_code: str) -> str:
    try:
        import pycountry

        found = pycountry.countries.get(alpha_2=country_code) if country_code else None
    except ImportError:
        found = None
    return found.alpha_3 if found else "XXX"


def acled_row(record: "EventRecord") -> dict[str, Any]:
    """The record as one row of ``COLUMNS``: ACLED's columns, then rasd's. Numbers stay numbers (None
    where unknown); lists are joined with ``; ``."""
    join = "; ".join
    inter1 = _inter(record.actor1_type, record.actor1_country, record.country_code) if record.actor1 else None
    inter2 = _inter(record.actor2_type, record.actor2_country, record.country_code) if record.actor2 else None
    civilian = record.acled_event_type == "Violence against civilians" or (
        record.acled_event_type == "Explosions/Remote violence" and record.actor2_type == "civilians")
    numeric_iso = None
    if record.country_code:
        try:
            import pycountry

            found = pycountry.countries.get(alpha_2=record.country_code)
            numeric_iso = int(found.numeric) if found else None
        except ImportError:
            pass
    notes = list(record.notes) + [f"{name}: {', '.join(values)}" for name, values in (
        ("origin", record.origin), ("destination", record.destination), ("instruments", record.instruments))
        if values]
    return {
        "event_id_cnty": f"{_iso3(record.country_code)}-{record.event_id}",
        "event_date": _middle(record.date, record.date_end),
        "year": int(record.date[:4]) if record.date else None,
        "time_precision": time_precision(record.date, record.date_end),
        "disorder_type": _DISORDER.get(record.acled_event_type, ""),
        "event_type": record.acled_event_type,
        "sub_event_type": record.sub_event_type,
        "actor1": record.actor1,
        "assoc_actor_1": join(record.assoc_actor_1),
        "inter1": inter1,
        "actor2": record.actor2,
        "assoc_actor_2": join(record.assoc_actor_2),
        "inter2": inter2,
        "interaction": _interaction(inter1, inter2),
        "civilian_targeting": "Civilian targeting" if civilian else "",
        "iso": numeric_iso,
        "country": record.country,
        "admin1": record.admin1,
        "admin2": record.admin2,
        "location": record.place_name,
        "latitude": record.latitude,
        "longitude": record.longitude,
        "geo_precision": record.geo_precision,
        "source": record.source,
        "notes": join(notes),
        "fatalities": record.fatalities if record.fatalities is not None else 0 if _is_violent(record) else None,
        "rasd_event_id": record.event_id,
        "doc_ids": join(record.doc_ids or [record.doc_id]),
        "rasd_event_type": record.event_type,
        "date_start": record.date,
        "date_end": record.date_end,
        "time_text": record.time_text,
        "actor1_text": join(record.actors),
        "actor2_text": join(record.targets),
        "location_text": join(record.locations or record.origin or record.destination),
        "admin_chain": " > ".join(record.admin_chain),
        "place_id": record.place_id,
        "country_code": record.country_code,
        "admin1_code": record.admin1_code,
        "url": record.url,
        "title": record.title,
        "trigger_text": record.trigger_text,
        "mentions": join(f"{m['text']} [{m['start']}:{m['end']}]" for m in record.mentions),
        "count_qualifier": record.count_qualifier or "",
        "confidence": record.confidence,
    }


def _is_violent(record: "EventRecord") -> bool:
    """ACLED writes 0 fatalities for a violent event with no reported deaths."""
    return record.acled_event_type in ("Battles", "Explosions/Remote violence", "Violence against civilians")


def is_valid(event_type: str, sub_event_type: str) -> bool:
    return sub_event_type in EVENT_TYPES.get(event_type, ())

