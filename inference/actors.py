"""Actor mentions as ACLED-style actors: a canonical name and an actor type (ACLED's ``inter`` code).

The dictionary (``configs/actors/conflict-ar.yaml``, user-editable) maps aliases to actors and lists
the words of the rules for the common shapes:

* a military or police head word with a country or its adjective (الجيش السوري، قوات إسرائيلية،
  جنديان عراقيان، الشرطة الصومالية) -> "Military Forces of Syria", "Police Forces of Somalia";
* the same head words alone (الجيش، القوات الحكومية) -> the forces of the document's country;
* unnamed gunmen (مسلحون مجهولون) -> "Unidentified Armed Group (<country>)", a political militia;
* civilians and protesters -> "Civilians (<country>)", "Protesters (<country>)";
* a country acting (إسرائيل قصفت) -> "Government of <country>".

Mentions and aliases are compared folded (``text.fold``, hamza seats dropped), with the clitics of the
first word and the article tried away, so وقوات النظام، للجيش and الجيش name one actor. An unknown
mention stays as written (without a conjunction or preposition glued to an article: والمسلحين ->
المسلحين) with an empty type; ``DocumentActors`` gives every mention of one document with the same
name the same ``Actor``.
"""
from __future__ import annotations

import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from .resources import resolve_path
from .text import clitic_readings, fold, phrase_readings

if TYPE_CHECKING:
    from .geocoding import Gazetteer

__all__ = ["ACTOR_TYPES", "Actor", "ActorDictionary", "DocumentActors", "default_actors_path"]

logger = logging.getLogger(__name__)

# ACLED actor types and their ``inter`` codes.
ACTOR_TYPES = {
    "state_forces": 1, "rebel_group": 2, "political_militia": 3, "identity_militia": 4, "rioters": 5,
    "protesters": 6, "civilians": 7, "external_other": 8,
}
ACTOR_TYPE_NAMES = {
    "state_forces": "State forces", "rebel_group": "Rebel group", "political_militia": "Political militia",
    "identity_militia": "Identity militia", "rioters": "Rioters", "protesters": "Protesters",
    "civilians": "Civilians", "external_other": "External/Other forces",
}
_RULE_KEYS = ("military_heads", "government_forces", "police_heads", "unidentified", "civilians", "protesters",
              "country_adjectives")


class ActorDictionaryError(ValueError):
    """An actor dictionary file that cannot be used (the message names the file and the entry)."""


@dataclass(frozen=True)
class Actor:
    """An actor as ACLED names it; ``type`` is empty for an actor the dictionary does not know."""

    name: str
    type: str = ""  # a key of ACTOR_TYPES, or ""
    country: str = ""  # ISO alpha-2 where the actor belongs, when known
    text: str = ""  # the first mention it was read from

    @property
    def inter(self) -> int | None:
        return ACTOR_TYPES.get(self.type)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _key(text: str) -> str:
    from .geocoding import _key as place_key  # one index form for names of places and of actors

    return place_key(text)


DEFAULT_ACTORS = "configs/actors/conflict-ar.yaml"  # the starting dictionary: edit a copy, pass its path


def default_actors_path() -> Path | None:
    """``configs/actors/conflict-ar.yaml`` of the working directory, else the packaged one."""
    path = Path(resolve_path(DEFAULT_ACTORS))
    return path if path.is_file() else None


@dataclass
class ActorDictionary:
    """Aliases -> actors, and the rule words; ``ActorDictionary.from_yaml(path)`` or ``.default()``."""

    actors: dict[str, Actor] = field(default_factory=dict)  # folded alias -> actor
    rules: dict[str, frozenset[str]] = field(default_factory=dict)  # rule -> folded words
    adjectives: dict[str, str] = field(default_factory=dict)  # folded adjective -> ISO alpha-2

    @classmethod
    def from_yaml(cls, path: str | os.PathLike) -> "ActorDictionary":
        try:
            with open(path, encoding="utf-8") as f:
                raw = yaml.safe_load(f) or {}
        except OSError as err:
            raise ActorDictionaryError(f"{path}: {err.strerror or err}") from None
        except yaml.YAMLError as err:
            raise ActorDictionaryError(f"{path}: not valid YAML ({err})") from None
        try:
            return cls.from_dict(raw)
        except ActorDictionaryError as err:
            raise ActorDictionaryError(f"{path}: {err}") from None

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> "ActorDictionary":
        if not isinstance(raw, dict) or set(raw) - {"rules", "actors"}:
            raise ActorDictionaryError("an actor dictionary is a mapping with 'rules' and 'actors'")
        rules_raw = raw.get("rules") or {}
        unknown = set(rules_raw) - set(_RULE_KEYS)
        if unknown:
            raise ActorDictionaryError(f"unknown rules {sorted(unknown)}; known: {list(_RULE_KEYS)}")
        rules = {name: frozenset(_key(w) for w in rules_raw.get(name) or ()) for name in _RULE_KEYS[:-1]}
        adjectives = {_key(w): cc for cc, words in (rules_raw.get("country_adjectives") or {}).items() for w in words}
        actors: dict[str, Actor] = {}
        for n, entry in enumerate(raw.get("actors") or [], 1):
            if not isinstance(entry, dict) or not entry.get("name"):
                raise ActorDictionaryError(f"actor #{n} needs a 'name'")
            kind = entry.get("type", "")
            if kind and kind not in ACTOR_TYPES:
                raise ActorDictionaryError(f"actor {entry['name']!r}: unknown type {kind!r}; "
                                           f"use one of {list(ACTOR_TYPES)}")
            actor = Actor(str(entry["name"]), kind, str(entry.get("country") or ""))
            for alias in [entry["name"], *(entry.get("aliases") or [])]:
                actors[_key(str(alias))] = actor
        return cls(actors, rules, adjectives)

    @classmethod
    def default(cls) -> "ActorDictionary":
        """The dictionary at ``default_actors_path()``; rules and aliases empty when there is none."""
        path = default_actors_path()
        if path is None:
            logger.warning("no configs/actors/conflict-ar.yaml found: actors stay as written "
                           "(pass EventBuilder(schema, actors=PATH))")
            return cls()
        return cls.from_yaml(path)

    def for_document(self, country: str | None, gazetteer: "Gazetteer | None" = None) -> "DocumentActors":
        return DocumentActors(self, country, gazetteer)


class DocumentActors:
    """Resolves the actor mentions of one document, the same name to the same ``Actor``."""

    def __init__(self, dictionary: ActorDictionary, country: str | None, gazetteer: "Gazetteer | None") -> None:
        self.d = dictionary
        self.country = country or ""
        self.gazetteer = gazetteer
        self._seen: dict[str, Actor] = {}

    def resolve(self, text: str, names_a_place: bool = False) -> Actor:
        """The actor a mention names; ``names_a_place`` for a mention of a place acting (a GPE agent)."""
        key = _key(text)
        same = _document_key(key)
        if same in self._seen:  # the same name seen before in this document, whatever its clitics
            return self._seen[same]
        readings = phrase_readings(key) if key else []
        actor = self._lookup(key, readings, names_a_place) or Actor(_as_written(text), "", "", text)
        actor = Actor(actor.name, actor.type, actor.country, actor.text or text)
        self._seen[same] = actor
        return actor

    def _lookup(self, key: str, readings: list[str], names_a_place: bool) -> Actor | None:
        for reading in readings:
            if reading in self.d.actors:
                return self.d.actors[reading]
        rules = self.d.rules
        if names_a_place and self.gazetteer is not None:
            cc = self._country_named(key, exact=True)
            if cc:
                return Actor(f"Government of {self.gazetteer.country_name(cc)}", "state_forces", cc)
        for reading in readings:
            if reading in rules.get("unidentified", ()):
                return self._of_country("Unidentified Armed Group", "political_militia", self.country)
            if reading in rules.get("civilians", ()):
                return self._of_country("Civilians", "civilians", self.country)
            if reading in rules.get("protesters", ()):
                return self._of_country("Protesters", "protesters", self.country)
        for heads, name in (("police_heads", "Police Forces of"), ("military_heads", "Military Forces of")):
            for reading in readings:
                head = next((h for h in rules.get(heads, ()) if reading == h or reading.startswith(h + " ")), None)
                if head is None:
                    continue
                cc = self._country_named(reading[len(head):].strip())
                if cc:
                    return Actor(f"{name} {self.gazetteer.country_name(cc)}", "state_forces", cc)
        for reading in readings:
            if reading in rules.get("police_heads", ()) and self.country:
                return Actor(f"Police Forces of {self._country_name(self.country)}", "state_forces", self.country)
            if reading in rules.get("government_forces", ()) and self.country:
                return Actor(f"Military Forces of {self._country_name(self.country)}", "state_forces", self.country)
        return None

    def _of_country(self, name: str, kind: str, cc: str) -> Actor:
        return Actor(f"{name} ({self._country_name(cc)})" if cc else name, kind, cc)

    def _country_name(self, cc: str) -> str:
        return (self.gazetteer.country_name(cc) if self.gazetteer else "") or cc

    def _country_named(self, words: str, exact: bool = False) -> str | None:
        """The country that ``words`` name or qualify: سوريا، السوري، إسرائيلية، عراقيان."""
        if not words or self.gazetteer is None:
            return None
        for phrase in [words] if exact else [words, *words.split()]:
            for reading in phrase_readings(phrase):
                cc = self.gazetteer.country_code(reading)
                if not cc and not exact:
                    cc = self._adjective(reading)
                if cc:
                    return cc
        return None

    def _adjective(self, word: str) -> str | None:
        """The dictionary's adjectives (أمريكي) in any inflection, else the gazetteer's nisba reading."""
        stem = word[2:] if word.startswith("ال") else word
        for ending in ("", "ه", "ين", "ون", "ان", "ات"):
            base = stem[: len(stem) - len(ending)] if ending and stem.endswith(ending) else stem
            if (not ending or stem.endswith(ending)) and base in self.d.adjectives:
                return self.d.adjectives[base]
        return self.gazetteer.country_of_adjective(word)


def _document_key(key: str) -> str:
    """One form for a name whatever its clitics: the article form when the first word has one (والكتيبة،
    للكتيبة -> الكتيبة), else the word as written (وحداتها keeps its و)."""
    first, _, rest = key.partition(" ")
    readings = clitic_readings(first)
    first = next((r for r in readings if r.startswith("ال")), readings[0] if readings else first)
    return f"{first} {rest}".strip()


def _as_written(text: str) -> str:
    """A mention as written, without a conjunction or preposition glued to its article (والمسلحين)."""
    stripped = text.strip()
    first, _, rest = stripped.partition(" ")
    if fold(first).startswith("لل") and len(fold(first)) > 3:  # ل + ال: للأمم المتحدة -> الأمم المتحدة
        return ("ال" + first[2:] + (" " + rest if rest else "")).strip()
    for reading in clitic_readings(fold(first))[1:]:
        if reading.startswith("ال") and fold(first).endswith(reading):
            # keep the original spelling (diacritics and all) of what remains
            cut = len(first) - len(first.lstrip()) + _original_offset(first, len(fold(first)) - len(reading))
            return (first[cut:] + (" " + rest if rest else "")).strip()
    return stripped


def _original_offset(word: str, folded_prefix: int) -> int:
    """Index in ``word`` after its first ``folded_prefix`` folded characters."""
    count = 0
    for i, ch in enumerate(word):
        if count == folded_prefix:
            return i
        count += len(fold(ch))
    return len(word)
