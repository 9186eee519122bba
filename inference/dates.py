"""Resolve Arabic time expressions from news reports ("أمس", "فجر الثلاثاء", "أواخر كانون الأول 2023")
to a date range, against the date of the report.

The text is folded and its clitics peeled (وأمس, بالأمس), and Levantine/Iraqi and Maghrebi month names
are rewritten to the Gregorian names dateparser knows (كانون الأول, دجنبر -> ديسمبر). Then:

* dateparser (imported lazily, ``languages=['ar']``, past preferred, day-month-year order) resolves what it
  does well: اليوم/أمس/غدا, Gregorian month names with or without day and year, numeric dates and bare
  years. Its ``period`` ("day", "month", "year") gives the width of the range, and a month or a day with
  no year lands on the most recent one not after the report.
* Hand rules cover what it lacks or reads differently:
  - weekday names are the most recent such day on or before the report (dateparser skips the report
    day itself, but "السبت" in a Saturday report means that day); with الماضي strictly before it;
  - أول أمس; منذ/قبل N يوم/أسبوع/شهر/عام with number words (a vague count such as بضعة gives a range);
  - الأسبوع الماضي is the 7 days before the report; الشهر/العام الماضي or الجاري the calendar period;
  - الليلة الماضية is yesterday (the night began the day before); خلال الساعات الماضية is yesterday
    through the report day; الأيام الماضية is the week up to the report day;
  - أوائل/مطلع/بداية a month is days 1-10, منتصف/أواسط 11-20, أواخر/نهاية 21 to its end (other periods
    are returned whole); two days or two months ("15 و16 مارس") span from the first to the second.

Relative expressions need the report date; without it only text that carries a year resolves. Without
dateparser installed, only the hand rules resolve.
"""
from __future__ import annotations

import calendar
import datetime
import re
from dataclasses import dataclass

from .numbers import parse_count
from .text import fold, strip_clitics

__all__ = ["DateRange", "resolve_date"]


@dataclass(frozen=True)
class DateRange:
    """An inclusive range of days."""

    start: datetime.date
    end: datetime.date  # == start for a single day


# ---------------------------------------------------------------------------------------------
# Lexicon. Entries are written as spelled in print; _canonical_words folds them once.

_GREGORIAN_MONTHS = ("يناير", "فبراير", "مارس", "أبريل", "مايو", "يونيو", "يوليو", "أغسطس", "سبتمبر", "أكتوبر",
                     "نوفمبر", "ديسمبر")
_MONTH_ALIASES = {
    # Egyptian and Gulf spellings
    "إبريل": "أبريل", "يونيه": "يونيو", "يوليه": "يوليو", "اغسطس": "أغسطس",
    # Levantine and Iraqi (the two-word ones are matched by _TWO_WORD_MONTH_RE)
    "شباط": "فبراير", "آذار": "مارس", "نيسان": "أبريل", "أيار": "مايو", "حزيران": "يونيو", "تموز": "يوليو",
    "آب": "أغسطس", "أيلول": "سبتمبر",
    # Algerian and Tunisian
    "جانفي": "يناير", "فيفري": "فبراير", "أفريل": "أبريل", "ماي": "مايو", "جوان": "يونيو", "جويلية": "يوليو",
    "أوت": "أغسطس",
    # Moroccan
    "يوليوز": "يوليو", "غشت": "أغسطس", "شتنبر": "سبتمبر", "نونبر": "نوفمبر", "دجنبر": "ديسمبر",
}
_TWO_WORD_MONTHS = {("كانون", "ثاني"): "يناير", ("تشرين", "أول"): "أكتوبر", ("تشرين", "ثاني"): "نوفمبر",
                    ("كانون", "أول"): "ديسمبر"}
_WEEKDAYS = {"الاثنين": 0, "الثلاثاء": 1, "الأربعاء": 2, "الخميس": 3, "الجمعة": 4, "السبت": 5, "الأحد": 6}
_SYNONYMS = {
    "الأمس": "أمس", "البارحة": "أمس", "غداً": "غدا",
    "ليلة": "الليلة", "ليل": "الليلة", "الليل": "الليلة",
    "الماضية": "الماضي", "المنصرم": "الماضي", "المنصرمة": "الماضي", "الفائت": "الماضي", "الفائتة": "الماضي",
    "السابق": "الماضي", "السابقة": "الماضي", "الأخير": "الماضي", "الأخيرة": "الماضي",
    "الحالي": "الجاري", "الحالية": "الجاري", "الجارية": "الجاري", "هذه": "هذا",
    "القادم": "المقبل", "القادمة": "المقبل", "المقبلة": "المقبل",
    "السنة": "العام", "الساعات": "ساعات", "الساعة": "ساعة", "الأيام": "أيام",
    "مطلع": "أوائل", "بداية": "أوائل", "بدايات": "أوائل", "أواسط": "منتصف", "نهاية": "أواخر",
}
_OTHER_WORDS = (
    "اليوم", "أمس", "غدا", "أول", "الليلة", "الماضي", "الجاري", "هذا", "المقبل", "الأسبوع", "الشهر", "العام", "القليلة",
    "منذ", "قبل", "أوائل", "منتصف", "أواخر", "كانون", "تشرين",
    "يوم", "يومين", "أيام", "أسبوع", "أسبوعين", "أسابيع", "شهر", "شهرين", "أشهر", "شهور", "عام", "عامين",
    "أعوام", "سنة", "سنتين", "سنوات", "سنين", "ساعة", "ساعتين", "ساعات", "يوما", "أسبوعا", "شهرا", "عاما",
)

# Ago units: (unit, count implied by the word); a plural with no number is "a few" (3-9). The
# accusative singular (يوما) follows the numbers 11-99: "منذ عشرين يوما".
_AGO_UNITS = {
    "يوم": ("day", 1), "يوما": ("day", 1), "يومين": ("day", 2), "أيام": ("day", None),
    "أسبوع": ("week", 1), "أسبوعا": ("week", 1), "أسبوعين": ("week", 2), "أسابيع": ("week", None),
    "شهر": ("month", 1), "شهرا": ("month", 1), "شهرين": ("month", 2), "أشهر": ("month", None),
    "شهور": ("month", None), "عام": ("year", 1), "عاما": ("year", 1), "سنة": ("year", 1), "عامين": ("year", 2),
    "سنتين": ("year", 2),
    "أعوام": ("year", None), "سنوات": ("year", None), "سنين": ("year", None),
    "ساعة": ("hour", 1), "ساعتين": ("hour", 2), "ساعات": ("hour", None),
}
_PART_OF_MONTH = {"أوائل": (1, 10), "منتصف": (11, 20), "أواخر": (21, 31)}


def _canonical_words() -> dict[str, str]:
    table = {month: month for month in _GREGORIAN_MONTHS}
    table.update(_MONTH_ALIASES)
    table.update({day: day for day in _WEEKDAYS})
    table.update({word: word for word in _OTHER_WORDS})
    table.update(_SYNONYMS)
    return {fold(word): fold(canonical) for word, canonical in table.items()}


_CANONICAL = _canonical_words()  # folded word -> folded canonical word
_MONTHS = frozenset(fold(month) for month in _GREGORIAN_MONTHS)
_WEEKDAY_NUMBERS = {fold(day): number for day, number in _WEEKDAYS.items()}
_AGO_UNIT_WORDS = {fold(word): unit for word, unit in _AGO_UNITS.items()}
_PARTS = {fold(word): days for word, days in _PART_OF_MONTH.items()}
_TODAY, _YESTERDAY, _TOMORROW = fold("اليوم"), fold("أمس"), fold("غدا")


def _word_pattern(pattern: str) -> re.Pattern[str]:
    """Compile ``pattern`` written in print spelling against folded canonical words."""
    return re.compile(fold(pattern))


# Months in two words, with an optional article and clitics on the first: وكانون الأول.
_TWO_WORD_MONTH_RE = _word_pattern(r"(?<!\S)[وفبل]{0,2}(كانون|تشرين) (?:ال)?(أول|ثاني)(?!\S)")
_TWO_WORD_MONTH_NAMES = {(first, fold(second)): fold(month) for (first, second), month in _TWO_WORD_MONTHS.items()}
# Punctuation becomes a space, except separators inside a numeric date (15/3/2019, 2019-03-15).
_PUNCTUATION_RE = re.compile(r"[^\w\s/.\-]|(?<!\d)[/.\-]|[/.\-](?!\d)")
_CLITICS_BEFORE_DIGIT_RE = re.compile(r"^[وف]?[بل]?(?:ال)?(?=\d)")  # و15, بـ15, الـ24
_NUMERIC_DATE_RE = re.compile(r"\d{1,4}[/.\-]\d{1,2}[/.\-]\d{1,4}")
_YEAR_RE = re.compile(r"(?:19|20)\d\d")
_DAY_RE = re.compile(r"\d{1,2}")

_DAY_BEFORE_YESTERDAY_RE = _word_pattern(r"\bأول (?:من )?أمس\b")
_LAST_NIGHT_RE = _word_pattern(r"\bالليلة الماضي\b")
_RECENT_HOURS_RE = _word_pattern(r"\bساع(?:ات|ة) (?:القليلة )?الماضي\b")
_RECENT_DAYS_RE = _word_pattern(r"\bأيام (?:القليلة )?الماضي\b")
_AGO_RE = re.compile(  # the count is at most three words: "منذ ثلاثة أيام", "قبل نحو عشرين يوما"
    fold(r"\b(?:منذ|قبل) (?:(?P<count>\S+(?: \S+){0,2}?) )?")
    + rf"(?P<unit>{'|'.join(sorted(_AGO_UNIT_WORDS, key=len, reverse=True))})\b"
)
_PERIOD_RE = _word_pattern(r"\b(?:هذا )?(?P<unit>الأسبوع|الشهر|العام)(?: (?P<direction>الماضي|الجاري|المقبل))?\b")
_WEEKDAY_RE = re.compile(
    rf"\b(?P<day>{'|'.join(_WEEKDAY_NUMBERS)})\b" + fold(r"(?: (?P<direction>الماضي|المقبل))?")
)
_PAST, _NEXT = fold("الماضي"), fold("المقبل")
_WEEK, _MONTH = fold("الأسبوع"), fold("الشهر")


# ---------------------------------------------------------------------------------------------
# Words


def _canonical(word: str) -> str:
    word = _CLITICS_BEFORE_DIGIT_RE.sub("", word)
    return _CANONICAL.get(strip_clitics(word, _CANONICAL), word)


def _words(text: str) -> list[str]:
    """Folded, canonical words; month names in the Gregorian spelling, a month written twice
    (ديسمبر/كانون الأول) once. Words outside the lexicon are kept folded (number words)."""
    folded = _PUNCTUATION_RE.sub(" ", fold(text))
    folded = _TWO_WORD_MONTH_RE.sub(lambda m: _TWO_WORD_MONTH_NAMES[m.group(1), m.group(2)], folded)
    words = [_canonical(word) for word in folded.split()]
    return [word for index, word in enumerate(words) if not (index and word in _MONTHS and word == words[index - 1])]


# ---------------------------------------------------------------------------------------------
# Calendar arithmetic


def _month_range(year: int, month: int) -> DateRange:
    return DateRange(datetime.date(year, month, 1), datetime.date(year, month, calendar.monthrange(year, month)[1]))


def _year_range(year: int) -> DateRange:
    return DateRange(datetime.date(year, 1, 1), datetime.date(year, 12, 31))


def _add_months(day: datetime.date, months: int) -> datetime.date:
    """``day`` shifted by whole months, clamped to the end of a shorter month."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    return datetime.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def _single(day: datetime.date) -> DateRange:
    return DateRange(day, day)


def _as_date(value: datetime.date | str | None) -> datetime.date | None:
    """The report date from a date, a datetime or an ISO string; an unreadable one counts as missing."""
    if isinstance(value, datetime.datetime):
        return value.date()
    if value is None or isinstance(value, datetime.date):
        return value
    try:
        return datetime.date.fromisoformat(fold(value).strip()[:10])
    except ValueError:
        return None


# ---------------------------------------------------------------------------------------------
# dateparser


def _dateparser_range(phrase: str, base: datetime.date) -> DateRange | None:
    """dateparser's reading of ``phrase`` relative to ``base``, widened to its period."""
    try:
        from dateparser.date import DateDataParser
    except ImportError:
        return None
    settings = {
        "RELATIVE_BASE": datetime.datetime.combine(base, datetime.time(12)),
        "PREFER_DATES_FROM": "past",
        "DATE_ORDER": "DMY",
    }
    data = DateDataParser(languages=["ar"], settings=settings).get_date_data(phrase)
    if data.date_obj is None:
        return None
    day = data.date_obj.date()
    if data.period == "month":
        return _month_range(day.year, day.month)
    if data.period == "year":
        return _year_range(day.year)
    return _single(day)


def _is_explicit(word: str) -> bool:
    return word in _MONTHS or bool(_YEAR_RE.fullmatch(word) or _NUMERIC_DATE_RE.fullmatch(word))


def _resolve_explicit(words: list[str], doc: datetime.date | None) -> DateRange | None:
    """Dates written with a month name, a numeric date or a year, one or two of them (15 و16 مارس)."""
    has_month = any(word in _MONTHS for word in words)
    # A day number means nothing without a month ("24 ساعة"); a year or a numeric date does.
    tokens = [word for word in words if word in _MONTHS or _NUMERIC_DATE_RE.fullmatch(word)
              or (word.isdigit() and (has_month or _YEAR_RE.fullmatch(word)))]
    has_year = any(_YEAR_RE.fullmatch(token) or _NUMERIC_DATE_RE.fullmatch(token) for token in tokens)
    if doc is None and not has_year:
        return None
    # With a year written, the base never matters; without one, doc is set.
    base = doc or datetime.date(2000, 1, 1)

    months = [index for index, token in enumerate(tokens) if token in _MONTHS]
    days = [index for index, token in enumerate(tokens) if _DAY_RE.fullmatch(token)]
    if len(months) == 2:
        cut = months[0] + 1
    elif len(months) == 1 and len(days) == 2 and days[1] < months[0]:
        cut = days[0] + 1
    elif len(months) > 1 or len(days) > 1:
        return None
    else:
        return _dateparser_range(" ".join(tokens), base)

    left, right = tokens[:cut], tokens[cut:]
    # The second part carries what both share: "15 و16 مارس 2019", "نوفمبر وديسمبر 2024".
    if not any(token in _MONTHS for token in left):
        left += [token for token in right if token in _MONTHS]
    if not any(_YEAR_RE.fullmatch(token) for token in left):
        left += [token for token in right if _YEAR_RE.fullmatch(token)]
    first, last = _dateparser_range(" ".join(left), base), _dateparser_range(" ".join(right), base)
    if first is None or last is None or first.start > last.end:
        return None
    return DateRange(first.start, last.end)


# ---------------------------------------------------------------------------------------------
# Hand rules for relative expressions


def _weekday(match: re.Match[str], doc: datetime.date) -> DateRange:
    weekday = _WEEKDAY_NUMBERS[match.group("day")]
    if match.group("direction") == _NEXT:
        return _single(doc + datetime.timedelta(days=(weekday - doc.weekday() - 1) % 7 + 1))
    back = (doc.weekday() - weekday) % 7
    if back == 0 and match.group("direction") == _PAST:  # "السبت الماضي" in a Saturday report
        back = 7
    return _single(doc - datetime.timedelta(days=back))


def _ago(match: re.Match[str], doc: datetime.date) -> DateRange:
    unit, implied = _AGO_UNIT_WORDS[match.group("unit")]
    count = parse_count(match.group("count")) if match.group("count") else None
    if count is not None:
        low, high = count.low, count.high
    elif implied is not None:
        low = high = implied
    else:
        low, high = 3, 9

    def shift(amount: int) -> datetime.date:
        if unit == "month":
            return _add_months(doc, -amount)
        if unit == "year":
            return _add_months(doc, -12 * amount)
        days = {"day": amount, "week": 7 * amount, "hour": amount // 24}[unit]
        return doc - datetime.timedelta(days=days)

    return DateRange(shift(high), shift(low))


def _period(match: re.Match[str], doc: datetime.date) -> DateRange | None:
    direction = match.group("direction")
    offset = -1 if direction == _PAST else 1 if direction == _NEXT else 0
    unit = match.group("unit")
    if unit == _WEEK:
        if offset < 0:
            return DateRange(doc - datetime.timedelta(days=7), doc - datetime.timedelta(days=1))
        if offset > 0:
            return DateRange(doc + datetime.timedelta(days=1), doc + datetime.timedelta(days=7))
        return None  # the first day of the current week differs across the Arab world
    if unit == _MONTH:
        shifted = _add_months(doc, offset)
        return _month_range(shifted.year, shifted.month)
    return _year_range(doc.year + offset)


def _resolve_relative(words: list[str], doc: datetime.date) -> DateRange | None:
    phrase = " ".join(words)
    if _DAY_BEFORE_YESTERDAY_RE.search(phrase):
        return _single(doc - datetime.timedelta(days=2))
    if _LAST_NIGHT_RE.search(phrase):
        return _single(doc - datetime.timedelta(days=1))
    if _RECENT_HOURS_RE.search(phrase):
        return DateRange(doc - datetime.timedelta(days=1), doc)
    if _RECENT_DAYS_RE.search(phrase):
        return DateRange(doc - datetime.timedelta(days=7), doc)
    if match := _AGO_RE.search(phrase):
        return _ago(match, doc)
    if match := _PERIOD_RE.search(phrase):
        return _period(match, doc)

    # اليوم/أمس/غدا win over a weekday written beside them: "اليوم السبت", "أمس الجمعة".
    anchor = next((word for word in words if word in (_TODAY, _YESTERDAY, _TOMORROW)), None)
    if anchor is not None:
        return _dateparser_range(anchor, doc)
    if match := _WEEKDAY_RE.search(phrase):
        return _weekday(match, doc)
    return None


# ---------------------------------------------------------------------------------------------
# Public API


def resolve_date(text: str, doc_date: datetime.date | str | None) -> DateRange | None:
    """The days ``text`` refers to, reading relative expressions against the report date ``doc_date``.

    None when the text holds no date, or holds only a relative one and ``doc_date`` is missing.
    """
    doc = _as_date(doc_date)
    words = _words(text)
    part = next((word for word in words if word in _PARTS), None)
    if part is not None:
        words = [word for word in words if word != part]

    if any(_is_explicit(word) for word in words):
        found = _resolve_explicit(words, doc)
    elif doc is not None:
        found = _resolve_relative(words, doc)
    else:
        found = None

    if found is None or part is None or found != _month_range(found.start.year, found.start.month):
        return found
    first, last = _PARTS[part]
    return DateRange(found.start.replace(day=first), found.start.replace(day=min(last, found.end.day)))
