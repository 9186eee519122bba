"""Event records: one per event, not per mention, built from a document's triggers and relations.

``EventBuilder(schema).build(doc)`` reads the spans and relations of a document (gold or
predicted) and returns ACLED-style records:

* **Merging.** Trigger mentions of one label in the same or the next sentence form one record
  when they are compatible: they share an argument (the same role naming the same thing; a
  place also matches a place that contains it through ``LOCATED_IN``), or one of them has no
  argument at all, and nothing conflicts (different agents, unrelated places, or times that
  resolve to disjoint days mean different events).
* **Casualties.** A casualty mention (a trigger label that may head the ``QUANTITY`` link)
  attaches to the nearest violent mention (a trigger whose ACLED category is a political-violence
  type: ATTACK, BOMBARD and CAPTURE in the default schema) of the same sentence when the text
  says one results from the other and their arguments do not conflict:

  - the casualty comes later, and a result word stands between them, right before the attack or
    opens the casualty (``هجوم … أسفر عن / أدى إلى / خلّف مقتل``, ``أسفر القصف عن``,
    ``ارتفعت حصيلة الاشتباكات إلى 30 قتيلا``, ``أودى بحياة``), a pronoun points back at the
    attack (``غارة قُتل فيها``, ``عملية قُتل خلالها``), the casualty opens with the ف of consequence
    (``أطلقوا النار فقُتل``), or both have the same agent (``نصبوا كمينا وقتلوا العشرات``);
  - the casualty comes first, and the attack follows it at once (``قتلى الهجوم``), after a cause
    word (``مقتل 5 مدنيين جراء / إثر / في / حين …``) or with the cause preposition attached
    (``بقصف``);
  - a casualty right after an attached one shares its cause (``فقُتل ثلاثة وأصيب 80``).

  Juxtaposition alone (``قصف … وقُتل …``) is not enough: a sentence often lists separate
  incidents, and a wrong attachment loses an event, while a missed one leaves a stand-alone
  casualty record. An attached casualty gives the record its count (``fatalities``) and its
  victims (into ``targets``); other casualties stand alone.
* **Counts.** The ``QUANTITY`` link of the casualty trigger, else of its victims (``TARGET``,
  else ``AGENT``) summed, read by ``numbers.parse_count``; a dual noun (قتيلان، جنديان) counts 2.
  Deaths go to ``fatalities`` (the low end of a range, as ACLED codes the stated minimum);
  injuries (جرحى، إصابة) go to ``notes``. Distinct casualty mentions of one sentence add up;
  mentions repeated in a later sentence restate the toll, so the largest sentence total wins.
* **Dates.** The first ``TIME`` argument resolves against ``meta['date']``
  (``dates.resolve_date``); without a report date only a time that carries its year resolves,
  and the record keeps ``time_text`` with an empty ``date``. An event without a ``TIME``
  argument gets no date: the publication date is not the event date.

Role and link names (``AGENT`` … ``INSTRUMENT``, ``LOCATED_IN``, ``QUANTITY``) are those of the
default schema and are used only when the schema defines them, so another schema yields records
with those fields empty. Trigger labels are never named: they come from the schema.
"""
from __future__ import annotations

import bisect
import logging
import re
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .acled import COLUMNS, acled_row, settle_category, time_precision
from .dates import DateRange, parse_report_date, resolve_date
from .documents import Document, Span
from .numbers import Count, dual_count, parse_count, single_count
from .schema import Schema
from .text import fold, split_sentences

if TYPE_CHECKING:
    from .actors import Actor, ActorDictionary
    from .geocoding import Gazetteer, Place

__all__ = ["CSV_COLUMNS", "EventBuilder", "EventRecord", "format_record"]

logger = logging.getLogger(__name__)

# Roles and links of the default schema (configs/schema/conflict.yaml).
AGENT, TARGET, LOCATION, ORIGIN, DESTINATION, TIME, INSTRUMENT = (
    "AGENT", "TARGET", "LOCATION", "ORIGIN", "DESTINATION", "TIME", "INSTRUMENT")
LOCATED_IN, QUANTITY, MEMBER_OF = "LOCATED_IN", "QUANTITY", "MEMBER_OF"
_PLACE_ROLES = (LOCATION, ORIGIN, DESTINATION)

# ACLED's political-violence event types: triggers in these categories take the casualties they cause.
VIOLENT_EVENT_TYPES = frozenset({"Battles", "Explosions/Remote violence", "Violence against civilians"})

CSV_COLUMNS = COLUMNS  # ACLED's columns, then rasd's (rasd.inference.acled)
_DEFAULT = "default"  # EventBuilder's gazetteer and actors: the shared ones, loaded at first use


def _name_key(text: str) -> str:
    """What a mention names, for comparing mentions: folded, without a leading conjunction or article
    (والجيش، الجيش and جيش name one force; stripping both sides alike keeps وزارة equal to itself)."""
    key = fold(text).strip()
    while len(key) > 3 and key[0] in "وف":
        key = key[1:]
    return key[2:] if len(key) > 3 and key.startswith("ال") else key


def _folded_words(*forms: str) -> frozenset[str]:
    return frozenset(fold(f) for f in forms)


# Words that make a casualty the result of an earlier violent trigger: between the two, right
# before the trigger (أسفر الهجوم عن) or opening the casualty trigger (أودى بحياة).
_RESULT_WORDS = _folded_words(
    "أسفر", "أسفرت", "أسفرا", "يسفر", "تسفر", "أدى", "أدت", "أديا", "يؤدي", "تؤدي", "خلف", "خلفت", "خلفا", "خلفوا",
    "أوقع", "أوقعت", "أوقعا", "أوقعوا", "يوقع", "توقع", "أودى", "أودت", "يودي", "تودي", "حصيلة")
# A preposition with a pronoun pointing back at the violent event: غارة قُتل فيها.
_RESUMPTIVE = _folded_words(
    "فيها", "فيه", "خلالها", "خلاله", "جراءها", "جراءه", "جرائها", "جرائه", "بسببها", "بسببه", "إثرها", "إثره")
# The word right before a later violent trigger that caused the casualty: مقتل 5 جراء القصف.
# (عقب and بعد "after" are left out: succession is not cause: أعدموا الأسرى عقب سيطرتهم is its own event)
_CAUSE_WORDS = _folded_words("جراء", "إثر", "نتيجة", "بسبب", "في", "خلال", "حين", "حينما", "عندما")
# Words that make a casualty a toll reported later about an earlier attack: الحصيلة بلغت، بسقوط قتلى.
_TOLL_WORDS = _folded_words("حصيلة", "الحصيلة", "سقوط", "بسقوط", "وسقوط")
# A casualty trigger that names injuries rather than deaths (جرح، جرحى، جريح، إصابة، أصيب، مصابين).
_INJURY = re.compile("جرح|جريح|اصاب|اصيب|مصاب")
_ARMED_CLASH = "Armed clash"  # ACLED's sub-event type of a clash between two sides
_GOVERNMENT, _MILITARY = "Government of ", "Military Forces of "  # rasd.inference.actors' names of a state
# Words before a count that is part of another one: خمسة مدنيين بينهم طفلان.
_SUBSET_WORDS = _folded_words("بينهم", "منهم", "بينهن", "منهن", "بينها", "منها")
_WORD = re.compile(r"\w+")


@dataclass
class EventRecord:
    """One event: its ACLED-style category, who, whom, where, when, how many, and the mentions it rests on."""

    event_id: str
    doc_id: str
    event_type: str  # the trigger label
    acled_event_type: str = ""
    sub_event_type: str = ""
    date: str = ""  # ISO; empty when the time is unknown or unresolved
    date_end: str = ""  # ISO, equal to ``date`` for one day
    time_text: str = ""
    actors: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)  # also the victims of attached casualties
    locations: list[str] = field(default_factory=list)
    origin: list[str] = field(default_factory=list)
    destination: list[str] = field(default_factory=list)
    admin_chain: list[str] = field(default_factory=list)  # the place, then each LOCATED_IN parent
    fatalities: int | None = None  # deaths, the low end of ``count_low``..``count_high``
    count_low: int | None = None
    count_high: int | None = None
    count_qualifier: str | None = None  # approximately, more_than, at_least, ...
    instruments: list[str] = field(default_factory=list)
    trigger_text: str = ""
    mentions: list[dict[str, Any]] = field(default_factory=list)  # start, end, text, label, score
    notes: list[str] = field(default_factory=list)  # injuries, how many took part
    # normalised actors (rasd.inference.actors): ACLED's actor1 (who acts) and actor2 (the other side or
    # the victims), with their types and countries; assoc_* the other actors on each side
    actor1: str = ""
    actor1_type: str = ""
    actor1_country: str = ""
    assoc_actor_1: list[str] = field(default_factory=list)
    actor2: str = ""
    actor2_type: str = ""
    actor2_country: str = ""
    assoc_actor_2: list[str] = field(default_factory=list)
    # the place (rasd.inference.geocoding): where the event happened, as far as the text says
    place_id: str = ""  # geonames:<id> or iso3166-2:<code>
    place_name: str = ""
    place_name_ar: str = ""
    country: str = ""
    country_code: str = ""  # ISO alpha-2
    admin1: str = ""
    admin1_code: str = ""  # ISO 3166-2
    admin2: str = ""
    latitude: float | None = None
    longitude: float | None = None
    geo_precision: int | None = None  # ACLED: 1 town, 2 part of a region or near a town, 3 province or country
    time_precision: int | None = None  # ACLED: 1 day, 2 a week or less, 3 longer
    # where the report came from (the document's meta), and the documents a merged record rests on
    source: str = ""
    url: str = ""
    title: str = ""
    doc_ids: list[str] = field(default_factory=list)
    confidence: float | None = None  # mean score of the trigger mentions (predictions only)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "EventRecord":
        """A record from ``to_dict`` output (a JSONL ``events`` entry); unknown keys are an error naming them."""
        from dataclasses import fields

        unknown = set(raw) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"event record {raw.get('event_id', '?')}: unknown fields {sorted(unknown)}")
        return cls(**raw)

    def to_csv_row(self) -> dict[str, str]:
        """The record as one CSV row of ``CSV_COLUMNS`` (ACLED's, then rasd's), every value a string."""
        return {k: "" if v is None else str(v) for k, v in acled_row(self).items()}


def format_record(record: EventRecord) -> str:
    """A short readable block for a terminal: one field per line, empty fields left out."""
    category = " / ".join(x for x in (record.acled_event_type, record.sub_event_type) if x)
    lines = [f"{record.event_id}  {record.event_type}" + (f"  ({category})" if category else "")]
    date = record.date if record.date_end in ("", record.date) else f"{record.date} .. {record.date_end}"
    fatalities = None
    if record.fatalities is not None:
        fatalities = _format_count(Count(record.count_low, record.count_high, record.count_qualifier))
    place = ""
    if record.place_name:
        where = ", ".join(x for x in (record.place_name, record.admin1, record.country) if x)
        place = f"{where}  ({record.latitude:.4f}, {record.longitude:.4f}; precision {record.geo_precision})"
    elif record.country:
        place = record.country

    def actor(name: str, kind: str, assoc: list[str]) -> str:
        text = name + (f" [{kind.replace('_', ' ')}]" if kind else "")
        return text + (f" with {'; '.join(assoc)}" if assoc else "")

    fields = [
        ("trigger", record.trigger_text + (f"  ({len(record.mentions)} mentions)" if len(record.mentions) > 1 else "")),
        ("date", " ".join(x for x in (date, f"({record.time_text})" if record.time_text else "") if x)),
        ("actor1", actor(record.actor1, record.actor1_type, record.assoc_actor_1) if record.actor1 else ""),
        ("actor2", actor(record.actor2, record.actor2_type, record.assoc_actor_2) if record.actor2 else ""),
        ("as written", " / ".join(x for x in ("; ".join(record.actors), "; ".join(record.targets)) if x)),
        ("place", place),
        ("location", "; ".join(record.locations)),
        ("admin chain", " > ".join(record.admin_chain) if len(record.admin_chain) > 1 else ""),
        ("origin", "; ".join(record.origin)),
        ("destination", "; ".join(record.destination)),
        ("instruments", "; ".join(record.instruments)),
        ("fatalities", fatalities),
        ("notes", "; ".join(record.notes)),
        ("source", " ".join(x for x in (record.source, record.url) if x)),
    ]
    lines += [f"  {name:<13}{value}" for name, value in fields if value]
    return "\n".join(lines)


def _format_count(count: Count) -> str:
    text = str(count.low) if count.low == count.high else f"{count.low}-{count.high}"
    return text + (f" ({count.qualifier.replace('_', ' ')})" if count.qualifier else "")


@dataclass
class _Mention:
    span: Span
    sentence: int
    args: dict[str, list[Span]]  # role -> tails, in relation order


@dataclass
class _Draft:
    """A record under construction: same-label mentions, and the casualties attached to them."""

    label: str
    mentions: list[_Mention] = field(default_factory=list)
    casualties: list[_Mention] = field(default_factory=list)
    # the mentions' arguments, one span per distinct name, so comparisons stay cheap
    args: dict[str, list[Span]] = field(default_factory=dict)
    _seen: set[tuple[str, str]] = field(default_factory=set)

    def add(self, mention: _Mention, name: Callable[[Span], str]) -> None:
        self.mentions.append(mention)
        for role, tails in mention.args.items():
            for tail in tails:
                if (role, name(tail)) not in self._seen:
                    self._seen.add((role, name(tail)))
                    self.args.setdefault(role, []).append(tail)


class EventBuilder:
    """Turns a document's spans and relations into ``EventRecord``s, in the order of their first mention.

    ``casualty_labels`` (default: trigger labels that may head ``QUANTITY``) and ``violent_labels``
    (default: other triggers whose ACLED event type is in ``VIOLENT_EVENT_TYPES``) override what the
    schema implies.
    """

    def __init__(self, schema: Schema, casualty_labels: Iterable[str] | None = None,
                 violent_labels: Iterable[str] | None = None, gazetteer: "Gazetteer | str | None" = _DEFAULT,
                 actors: "ActorDictionary | str | None" = _DEFAULT) -> None:
        self.schema = schema
        self._gazetteer = gazetteer
        self._actors = actors
        self.roles = frozenset(schema.roles)
        self.located_in = LOCATED_IN if LOCATED_IN in schema.links else None
        self.quantity = QUANTITY if QUANTITY in schema.links else None
        if casualty_labels is None:
            heads = schema.links[QUANTITY].heads if self.quantity else ()
            casualty_labels = [label for label in heads if schema.is_trigger(label)]
        self.casualty_labels = frozenset(casualty_labels)
        if violent_labels is None:
            violent_labels = [label for label in schema.triggers
                              if schema.event_categories.get(label, ("",))[0] in VIOLENT_EVENT_TYPES]
        self.violent_labels = frozenset(violent_labels) - self.casualty_labels

        # place labels: what a LOCATION may be (GPE, LOC, FAC); of them, those that may also act (a GPE)
        # name places, the others are often common nouns (الساحة، المطار)
        self.place_labels = frozenset(schema.roles.get(LOCATION, ()))
        self.place_name_labels = self.place_labels & frozenset(schema.roles.get(AGENT, ()))
        self.member_of = MEMBER_OF if MEMBER_OF in schema.links else None
        # a named person: what may be a member (MEMBER_OF head) but not have members (a tail), and is not
        # a group of civilians: in the default schema PER
        rule = schema.links.get(MEMBER_OF) if self.member_of else None
        self.person_labels = (frozenset(rule.heads) - frozenset(rule.tails) - frozenset(schema.civilian_labels)
                              if rule else frozenset())

    @property
    def gazetteer(self) -> "Gazetteer | None":
        """The gazetteer records are geocoded with (None: no geocoding)."""
        if self._gazetteer == _DEFAULT:
            from .geocoding import default_gazetteer

            self._gazetteer = default_gazetteer()
        return self._gazetteer  # type: ignore[return-value]

    @property
    def actors(self) -> "ActorDictionary | None":
        """The actor dictionary actors are normalised with (None: actors stay as written)."""
        if self._actors == _DEFAULT:
            from .actors import ActorDictionary

            self._actors = ActorDictionary.default()
        elif isinstance(self._actors, str):
            from .actors import ActorDictionary

            self._actors = ActorDictionary.from_yaml(self._actors)
        return self._actors  # type: ignore[return-value]

    def build(self, doc: Document) -> list[EventRecord]:
        return _DocumentEvents(self, doc).records()


class _DocumentEvents:
    """The per-document state of ``EventBuilder.build``: argument, link and sentence lookups."""

    def __init__(self, builder: EventBuilder, doc: Document) -> None:
        self.b = builder
        self.doc = doc
        self.report_date = self._report_date()
        self._names: dict[tuple, str] = {}
        self.sentences = split_sentences(doc.text) or [(0, len(doc.text))]
        self.sentence_starts = [start for start, _ in self.sentences]
        self.args: dict[tuple, dict[str, list[Span]]] = {}
        self.parent: dict[tuple, Span] = {}  # place -> the place containing it
        self.parent_by_text: dict[str, Span] = {}  # the same, for another mention of the place's name
        self.count_of: dict[tuple, Span] = {}  # counted span -> its NUM
        self.member_of: dict[tuple, Span] = {}  # member or unit -> the force it belongs to
        best_parent: dict[tuple, float] = {}
        heads: dict[tuple, Span] = {}
        for rel in doc.relations:
            head, tail = rel.head.key, rel.tail
            if rel.label in builder.roles and builder.schema.is_trigger(rel.head.label):
                tails = self.args.setdefault(head, {}).setdefault(rel.label, [])
                if tail.key not in {t.key for t in tails}:
                    tails.append(tail)
            elif rel.label == builder.located_in:
                score = 1.0 if rel.score is None else rel.score
                if score > best_parent.get(head, -1.0):
                    best_parent[head] = score
                    self.parent[head] = tail
                    heads[head] = rel.head
            elif rel.label == builder.quantity:
                self.count_of.setdefault(head, tail)
            elif rel.label == builder.member_of:
                self.member_of.setdefault(head, tail)
        for key, span in sorted(heads.items(), key=lambda kv: kv[1].start):
            self.parent_by_text.setdefault(self.name(span), self.parent[key])
        self._chains: dict[tuple, list[Span]] = {}
        self._dates: dict[str, DateRange | None] = {}
        gazetteer = builder.gazetteer
        self.places: dict[tuple, "Place"] = {}
        self.country = None
        if gazetteer is not None:
            self.places = gazetteer.geocode_document(doc, builder.place_labels, builder.place_name_labels,
                                                     builder.located_in)
            names = [self.text(s) for s in doc.spans if s.label in builder.place_name_labels]
            self.country = gazetteer.document_country(doc.meta, names)
        dictionary = builder.actors
        self.actor_names = dictionary.for_document(self.country, gazetteer) if dictionary is not None else None

    def _report_date(self) -> Any:
        """``meta['date']`` read as a day; an unreadable one is warned about (relative dates stay empty)."""
        value = (self.doc.meta or {}).get("date")
        if value in (None, ""):
            return None
        try:
            return parse_report_date(value)
        except ValueError as err:
            logger.warning("%s: %s; its relative dates stay empty", self.doc.id, err)
            return None

    # ------------------------------------------------------------------ lookups
    def text(self, span: Span) -> str:
        return self.doc.text[span.start:span.end]

    def name(self, span: Span) -> str:
        if span.key not in self._names:
            self._names[span.key] = _name_key(self.text(span))
        return self._names[span.key]

    def sentence(self, span: Span) -> int:
        return max(bisect.bisect_right(self.sentence_starts, span.start) - 1, 0)

    def chain(self, place: Span) -> list[Span]:
        """``place`` and the places containing it, following LOCATED_IN (cycles cut)."""
        if place.key not in self._chains:
            out, seen, current = [place], {self.name(place)}, place
            while True:
                parent = self.parent.get(current.key) or self.parent_by_text.get(self.name(current))
                if parent is None or self.name(parent) in seen:
                    break
                out.append(parent)
                seen.add(self.name(parent))
                current = parent
            self._chains[place.key] = out
        return self._chains[place.key]

    def resolve(self, span: Span) -> DateRange | None:
        text = self.text(span)
        if text not in self._dates:
            self._dates[text] = resolve_date(text, self.report_date)
        return self._dates[text]

    # ------------------------------------------------------------------ records
    def records(self) -> list[EventRecord]:
        triggers = sorted((s for s in self.doc.spans if self.b.schema.is_trigger(s.label)), key=lambda s: s.start)
        mentions = [_Mention(s, self.sentence(s), self.args.get(s.key, {})) for s in triggers]
        attached = self.attach_casualties(mentions)
        drafts = self.merge([m for k, m in enumerate(mentions) if k not in attached])
        home = {id(m): d for d in drafts for m in d.mentions}
        for k, target in attached.items():
            home[id(mentions[target])].casualties.append(mentions[k])
        drafts.sort(key=lambda d: d.mentions[0].span.start)
        return [self.record(d, n) for n, d in enumerate(drafts, 1)]

    def attach_casualties(self, mentions: list[_Mention]) -> dict[int, int]:
        """Index of each attached casualty mention -> index of the violent mention it results from."""
        violent = [k for k, m in enumerate(mentions) if m.span.label in self.b.violent_labels]
        out = {}
        for k, m in enumerate(mentions):
            if m.span.label not in self.b.casualty_labels:
                continue
            i = bisect.bisect_left(violent, k)
            # the nearest violent mention on each side, in the same sentence (other triggers in between,
            # such as a reporting verb, do not break the link)
            before = violent[i - 1] if i > 0 and mentions[violent[i - 1]].sentence == m.sentence else None
            after = violent[i] if i < len(violent) and mentions[violent[i]].sentence == m.sentence else None
            if before is not None and (out.get(k - 1) == before or self.results_from(mentions[before], m)):
                # (a casualty right after one already attached shares its cause: فقُتل ثلاثة وأصيب 80)
                out[k] = before
            elif after is not None and self.caused_by(m, mentions[after]):
                out[k] = after
            elif after is None and before is None:
                toll_of = self.toll_of(m, [mentions[v] for v in violent[:i]])
                if toll_of is not None:
                    out[k] = violent[toll_of]
        return out

    def toll_of(self, casualty: _Mention, earlier: list[_Mention]) -> int | None:
        """Index in ``earlier`` of the attack a later toll reports: a casualty in a sentence with no violent
        trigger, with no place, time or agent of its own, that the text gives as a toll or a fall of
        victims (أعلنت الوزارة أن الحصيلة بلغت 31 قتيلا، أفادت بسقوط ثلاثة قتلى) takes the first violent
        mention of the two sentences before it (the attack the report is about)."""
        if any(casualty.args.get(role) for role in (AGENT, TIME, *_PLACE_ROLES)):
            return None
        start, _ = self.sentences[casualty.sentence]
        if not any(w in _TOLL_WORDS for w in self.words(start, casualty.span.start)):
            return None
        return next((k for k, v in enumerate(earlier) if 0 < casualty.sentence - v.sentence <= 2
                     and not self.conflict(v.args, casualty.args)), None)

    def words(self, start: int, end: int) -> list[str]:
        return _WORD.findall(fold(self.doc.text[start:end]))

    def results_from(self, violent: _Mention, casualty: _Mention) -> bool:
        """Does the text say that ``casualty``, later in the sentence, results from ``violent``?"""
        if self.conflict(violent.args, casualty.args):
            return False
        v, c = violent.span, casualty.span
        sentence_start, sentence_end = self.sentences[casualty.sentence]
        between = self.words(v.end, c.start)
        own = self.words(c.start, c.end)
        return (
            # هجوم أسفر عن مقتل، أسفر الهجوم عن مقتل، ارتفعت حصيلة الاشتباكات إلى 30 قتيلا، هجوم أودى بحياة
            any(_is_result_word(w) for w in between + self.words(sentence_start, v.start)[-1:] + own[:1])
            # غارة قُتل فيها، عملية قُتل خلالها، اشتباكات سقط فيها قتلى
            or any(w in _RESUMPTIVE for w in between + self.words(c.end, sentence_end)[:1])
            # the ف of consequence: أطلقوا النار فقُتل ثلاثة (فقد "lost" is a word of its own)
            or bool(own) and own[0].startswith("ف") and not own[0].startswith("فقد")
            # one actor attacks and kills: نصبوا كمينا وقتلوا العشرات
            or any(self.same(AGENT, x, y) for x in violent.args.get(AGENT, []) for y in casualty.args.get(AGENT, []))
        )

    def caused_by(self, casualty: _Mention, violent: _Mention) -> bool:
        """Does the text say that ``casualty`` results from ``violent``, which follows it in the sentence?"""
        if self.conflict(violent.args, casualty.args):
            return False
        between = self.words(casualty.span.end, violent.span.start)
        trigger = self.name(violent.span)
        # the cause may name the weapon first: قُتل خمسة جراء صاروخ أطلقه الحوثيون
        weapons = [w for w in violent.args.get(INSTRUMENT, []) if casualty.span.end <= w.start < violent.span.start]
        before_weapon = self.words(casualty.span.end, weapons[0].start) if weapons else []
        return (
            not self.doc.text[casualty.span.end:violent.span.start].strip()  # قتلى الهجوم، ضحايا القصف
            or bool(between) and between[-1] in _CAUSE_WORDS  # مقتل 5 مدنيين جراء / في / حين ...
            or bool(before_weapon) and before_weapon[-1] in _CAUSE_WORDS
            or trigger.startswith("ب") and len(trigger) > 3  # بقصف، بغارة: the preposition is a clitic
        )

    def merge(self, mentions: list[_Mention]) -> list[_Draft]:
        drafts: list[_Draft] = []
        active: dict[str, list[_Draft]] = {}  # per label, drafts whose last mention may still be joined
        for m in mentions:
            open_drafts = [d for d in active.get(m.span.label, []) if m.sentence - d.mentions[-1].sentence <= 1]
            joined = next((d for d in reversed(open_drafts) if self.compatible(d.args, m.args)), None)
            if joined is None:
                joined = _Draft(m.span.label)
                drafts.append(joined)
                open_drafts.append(joined)
            joined.add(m, self.name)
            active[m.span.label] = open_drafts
        return drafts

    def compatible(self, a: dict[str, list[Span]], b: dict[str, list[Span]]) -> bool:
        if self.conflict(a, b):
            return False
        if not any(a.values()) or not any(b.values()):
            return True
        return any(self.same(role, x, y) for role in a.keys() & b.keys() for x in a[role] for y in b[role])

    def conflict(self, a: dict[str, list[Span]], b: dict[str, list[Span]]) -> bool:
        """Different agents, unrelated places, or times on disjoint days: not the same event."""
        for role in (AGENT, *_PLACE_ROLES):
            if a.get(role) and b.get(role) and not any(self.same(role, x, y) for x in a[role] for y in b[role]):
                return True
        times_a = [r for r in map(self.resolve, a.get(TIME, [])) if r]
        times_b = [r for r in map(self.resolve, b.get(TIME, [])) if r]
        return bool(times_a and times_b) and not any(
            x.start <= y.end and y.start <= x.end for x in times_a for y in times_b)

    def same(self, role: str, x: Span, y: Span) -> bool:
        if x.key == y.key or self.name(x) == self.name(y):
            return True
        if role in _PLACE_ROLES:  # a town and the governorate it lies in describe one event's place
            return self.name(x) in {self.name(p) for p in self.chain(y)} or \
                self.name(y) in {self.name(p) for p in self.chain(x)}
        return False

    # ------------------------------------------------------------------ one record
    def record(self, draft: _Draft, number: int) -> EventRecord:
        schema, first = self.b.schema, draft.mentions[0]
        own = draft.args
        extra: dict[str, list[Span]] = {}  # arguments of the attached casualties
        for c in draft.casualties:
            for role, tails in c.args.items():
                extra.setdefault(role, []).extend(tails)

        def texts(spans: Iterable[Span]) -> list[str]:
            out: dict[str, str] = {}
            for s in spans:
                out.setdefault(self.name(s), self.text(s))
            return list(out.values())

        def own_or_extra(role: str) -> list[Span]:
            return own.get(role) or extra.get(role, [])

        is_casualty = draft.label in self.b.casualty_labels
        victims = own.get(TARGET, []) + extra.get(TARGET, [])
        civilian = any(v.label in schema.civilian_labels for v in victims)
        category = (schema.civilian_categories.get(draft.label) if civilian else None) \
            or schema.event_categories.get(draft.label) or ("", "")
        places = own_or_extra(LOCATION)
        origin, destination = own.get(ORIGIN, []), own.get(DESTINATION, [])
        anchor = (places or origin or destination or [None])[0]
        times = own_or_extra(TIME)
        time_text = self.text(times[0]) if times else ""
        dates = self.resolve(times[0]) if times else None

        record = EventRecord(
            event_id=f"{self.doc.id}-e{number}",
            doc_id=self.doc.id,
            event_type=draft.label,
            acled_event_type=category[0],
            sub_event_type=category[1],
            date=dates.start.isoformat() if dates else "",
            date_end=dates.end.isoformat() if dates else "",
            time_text=time_text,
            actors=texts(own.get(AGENT, [])),
            targets=texts(victims),
            locations=texts(places),
            origin=texts(origin),
            destination=texts(destination),
            admin_chain=[self.text(p) for p in self.chain(anchor)] if anchor else [],
            instruments=texts(own.get(INSTRUMENT, []) + extra.get(INSTRUMENT, [])),
            trigger_text=self.text(first.span),
            mentions=[self.mention(m) for m in sorted(draft.mentions + draft.casualties, key=lambda m: m.span.start)],
        )
        casualties = draft.mentions + draft.casualties if is_casualty else draft.casualties
        deaths = self.toll([c for c in casualties if not _INJURY.search(self.name(c.span))])
        injured = self.toll([c for c in casualties if _INJURY.search(self.name(c.span))])
        if deaths:
            record.fatalities, record.count_low, record.count_high = deaths.low, deaths.low, deaths.high
            record.count_qualifier = deaths.qualifier
        if injured:
            record.notes.append(f"injured: {_format_count(injured)}")
        if not is_casualty:
            record.notes += self.participant_counts(own.get(AGENT, []) + own.get(TARGET, []))
        violent = draft.label in self.b.violent_labels or civilian or (is_casualty and bool(draft.casualties))
        self.add_actors(record, own.get(AGENT, []), victims, violent, category[1] == _ARMED_CLASH)
        # where it happened: the scene, else where a movement starts or ends, else the place attacked
        # (a place addressed by a statement is an actor, not the scene)
        attacked = [v for v in victims if v.label in self.b.place_labels] if violent else []
        self.add_place(record, places + origin + destination + attacked)
        words = " ".join([record.trigger_text, *record.instruments, *(m["text"] for m in record.mentions)])
        record.acled_event_type, record.sub_event_type = settle_category(
            record.acled_event_type, record.sub_event_type, record.actor1_type, words)
        record.time_precision = time_precision(record.date, record.date_end)
        meta = self.doc.meta or {}
        record.source, record.url, record.title = (str(meta.get(k) or "") for k in ("source", "url", "title"))
        record.doc_ids = [self.doc.id]
        scores = [m["score"] for m in record.mentions if m["score"] is not None]
        record.confidence = round(sum(scores) / len(scores), 4) if scores else None
        return record

    def actor(self, span: Span, acting: bool = True) -> "Actor | None":
        """The normalised actor of a mention; a member or unit (جندي) acts for the force it belongs to.
        A place is an actor only when it acts (a state as an agent); a place attacked is the event's place."""
        places = self.b.place_labels - (self.b.place_name_labels if acting else frozenset())
        if self.actor_names is None or span.label in places:
            return None
        parent = self.member_of.get(span.key)
        if parent is not None:
            found = self.actor_names.resolve(self.text(parent), parent.label in self.b.place_name_labels)
            if found.type:
                return found
        return self.actor_names.resolve(self.text(span), span.label in self.b.place_name_labels)

    def add_actors(self, record: EventRecord, agents: list[Span], victims: list[Span], violent: bool,
                   clash: bool) -> None:
        """ACLED's sides: actor1 the first agent; actor2 the first victim, else (in a clash, between two)
        the second agent; the others of each side as associated actors. A state acting in a violent event
        is its military (إسرائيل قصفت), elsewhere its government; a place attacked is no actor, a place
        addressed (طالب فرنسا) is."""
        def distinct(spans: list[Span], acting: bool) -> list["Actor"]:
            out: dict[str, "Actor"] = {}
            for actor in filter(None, (self.actor(s, acting) for s in spans)):
                if violent and actor.name.startswith(_GOVERNMENT):
                    actor = replace(actor, name=_MILITARY + actor.name[len(_GOVERNMENT):])
                out.setdefault(actor.name, actor)
            return list(out.values())

        side1, side2 = distinct(agents, True), distinct(victims, not violent)
        if not side2 and len(side1) > 1 and clash:
            side1, side2 = side1[:1] + side1[2:], side1[1:2]
        side2 = [a for a in side2 if a.name not in {b.name for b in side1}]
        if side1:
            record.actor1, record.actor1_type, record.actor1_country = side1[0].name, side1[0].type, side1[0].country
            record.assoc_actor_1 = [a.name for a in side1[1:]]
        if side2:
            record.actor2, record.actor2_type, record.actor2_country = side2[0].name, side2[0].type, side2[0].country
            record.assoc_actor_2 = [a.name for a in side2[1:]]

    def add_place(self, record: EventRecord, spans: list[Span]) -> None:
        """The first place argument that geocodes; else a larger place containing it (LOCATED_IN), at
        precision 2 at best (the event is somewhere in it); else the document's country alone."""
        place = None
        for span in spans:
            chain = self.chain(span)
            found = next(((k, self.places[p.key]) for k, p in enumerate(chain) if p.key in self.places), None)
            if found is not None:
                steps, place = found
                if steps and place.precision < 2:
                    place = replace(place, precision=2)
                break
            if span.label in self.b.place_name_labels:
                break  # a named place the gazetteer lacks: not the next argument (where a flight ended)
        if place is None:
            if self.country and self.b.gazetteer is not None:
                record.country_code, record.country = self.country, self.b.gazetteer.country_name(self.country)
            return
        record.place_id, record.place_name, record.place_name_ar = place.id, place.name, place.name_ar
        record.country, record.country_code = place.country, place.country_code
        record.admin1, record.admin1_code, record.admin2 = place.admin1, place.admin1_code, place.admin2
        record.latitude, record.longitude, record.geo_precision = place.latitude, place.longitude, place.precision

    def mention(self, m: _Mention) -> dict[str, Any]:
        score = None if m.span.score is None else round(float(m.span.score), 4)
        return {"start": m.span.start, "end": m.span.end, "text": self.text(m.span), "label": m.span.label,
                "score": score}

    def toll(self, casualties: list[_Mention]) -> Count | None:
        """The count of a record's casualty mentions: summed within a sentence, the largest sentence total."""
        per_sentence: dict[int, dict[tuple, Count]] = {}
        for c in casualties:
            for source, count in self.casualty_counts(c):
                per_sentence.setdefault(c.sentence, {}).setdefault(source, count)
        totals = [_sum(list(counts.values())) for counts in per_sentence.values() if counts]
        return max(totals, key=lambda c: (c.low, c.high)) if totals else None

    def casualty_counts(self, c: _Mention) -> list[tuple[tuple, Count]]:
        """``(source span, count)`` of one casualty: its own NUM or dual, else its victims' (TARGET, else
        AGENT): their NUMs or duals, one for a named person or a singular noun of one (امرأة), none for a
        part of another victim (خمسة مدنيين بينهم طفلان: the children are among the five)."""
        own = self.count(c.span)
        if own:
            return [own]
        victims = [v for v in c.args.get(TARGET) or c.args.get(AGENT) or [] if not self.is_subset(v)]
        out = []
        for victim in victims:
            found = self.count(victim)
            if found is None and victim.label not in self.b.place_labels and (
                    victim.label in self.b.person_labels or single_count(self.text(victim))):
                found = (victim.key, Count(1, 1))
            if found:
                out.append(found)
        return out

    def is_subset(self, span: Span) -> bool:
        """Whether ``span`` (or its NUM) follows بينهم/منهم: a part of victims already counted."""
        num = self.count_of.get(span.key)
        start = min(span.start, num.start) if num is not None else span.start
        return any(w in _SUBSET_WORDS for w in self.words(max(0, start - 20), start)[-2:])

    def count(self, span: Span, dual: bool = True) -> tuple[tuple, Count] | None:
        """``(source span, count)`` from the span's QUANTITY link, else (with ``dual``) a dual noun."""
        num = self.count_of.get(span.key)
        parsed = parse_count(self.text(num)) if num is not None else None
        if parsed:
            return num.key, parsed
        two = dual_count(self.text(span)) if dual else None
        return (span.key, Count(two, two)) if two else None

    def participant_counts(self, spans: list[Span]) -> list[str]:
        """Notes on how many acted or were acted on (QUANTITY links only: a name such as البحرين looks dual)."""
        notes, seen = [], set()
        for s in spans:
            found = self.count(s, dual=False)
            if found and self.name(s) not in seen:
                seen.add(self.name(s))
                notes.append(f"count of {self.text(s)}: {_format_count(found[1])}")
        return notes


def _is_result_word(word: str) -> bool:
    return _name_key(word) in _RESULT_WORDS or word in _RESULT_WORDS


def _sum(counts: list[Count]) -> Count:
    qualifier = next((c.qualifier for c in counts if c.qualifier), None)
    return Count(sum(c.low for c in counts), sum(c.high for c in counts), qualifier)
