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

* Hijri dates (``15 رمضان 1445 هـ``, ``أواخر شهر رمضان``) convert through ``hijridate`` (Umm al-Qura,
  1343-1500 AH); without a Hijri year, the most recent such Hijri month not after the report. صفر and رجب
  are also a number and a name, so they count as months only beside a day or year number.

Relative expressions need the report date; without it only text that carries a year resolves. Without
dateparser installed, only the hand rules resolve.

``parse_report_date`` reads a publication date as feeds write it (ISO 8601 with time and zone, RFC 2822
``pubDate``, ``2024/12/07``, ``07-12-2024``, Arabic month names) and raises ``ValueError`` on anything
else, so that a caller can say which document it could not date.
"""
from __future__ import annotations

import calendar
import datetime
import email.utils
import re
from dataclasses import dataclass

from .numbers import parse_count
from .text import fold, strip_clitics

__all__ = ["DateRange", "parse_report_date", "resolve_date"]


@dataclass(frozen=True)
class DateRange:
    """An inclusive range of days."""

    start: datetime.date
    end: datetime.date  # == start for a single day

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


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

# Hijri months become the tokens h1..h12 (ASCII, so they never meet an Arabic word).
_HIJRI_ONE_WORD = {"محرم": 1, "صفر": 2, "رجب": 7, "شعبان": 8, "رمضان": 9, "شوال": 10}
_HIJRI_TWO_WORDS = {("ربيع", "أول"): 3, ("ربيع", "ثاني"): 4, ("ربيع", "آخر"): 4, ("جمادى", "أولى"): 5,
                    ("جمادى", "أول"): 5, ("جمادى", "ثانية"): 6, ("جمادى", "آخرة"): 6, ("ذو", "قعدة"): 11,
                    ("ذي", "قعدة"): 11, ("ذو", "حجة"): 12, ("ذي", "حجة"): 12}
_HIJRI_AMBIGUOUS = frozenset({"h2", "h7"})  # صفر is also zero, رجب a name
_HIJRI_YEAR_RE = re.compile(r"1[3-5]\d\d")


def _canonical_words() -> dict[str, str]:
    table = {month: month for month in _GREGORIAN_MONTHS}
    table.update(_MONTH_ALIASES)
    table.update({day: day for day in _WEEKDAYS})
    table.update({word: word for word in _OTHER_WORDS})
    table.update(_SYNONYMS)
    table.update({month: f"h{number}" for month, number in _HIJRI_ONE_WORD.items()})
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
_HIJRI_TWO_WORD_RE = re.compile(
    r"(?<!\S)[وفبل]{0,2}(" + "|".join(sorted({fold(a) for a, _ in _HIJRI_TWO_WORDS})) + r") (?:ال)?("
    + "|".join(sorted({fold(b) for _, b in _HIJRI_TWO_WORDS}, key=len, reverse=True)) + r")(?!\S)")
_HIJRI_TWO_WORD_NAMES = {(fold(a), fold(b)): f"h{n}" for (a, b), n in _HIJRI_TWO_WORDS.items()}
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
    folded = _HIJRI_TWO_WORD_RE.sub(lambda m: _HIJRI_TWO_WORD_NAMES[m.group(1), m.group(2)], folded)
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
    """The report date from a date, a datetime or a string ``parse_report_date`` reads; else missing."""
    if value is None:
        return None
    try:
        return parse_report_date(value)
    except ValueError:
        return None


_ISO_DATE_RE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:$|[T\s])")
_YMD_RE = re.compile(r"(\d{4})[/.](\d{1,2})[/.](\d{1,2})(?:$|\s)")
_DMY_RE = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:$|\s)")


def parse_report_date(value: datetime.date | str) -> datetime.date:
    """The publication date in ``value``, as written in its own time zone (a feed's local day).

    Reads ``2024-12-07``, ``2024-12-07T10:00:00+03:00``, ``Thu, 28 Nov 2024 10:00:00 GMT`` (RFC 2822),
    ``2024/12/07``, ``07/12/2024`` (day first), ``7 ديسمبر 2024``, ``السبت 7 كانون الأول 2024``, with any
    digits. Raises ``ValueError`` naming the value when it holds no single day.
    """
    if isinstance(value, datetime.datetime):
        return value.date()
    if isinstance(value, datetime.date):
        return value
    if not isinstance(value, str):
        raise ValueError(f"report date {value!r} is not a string")
    text = fold(value).strip()
    for pattern, order in ((_ISO_DATE_RE, (0, 1, 2)), (_YMD_RE, (0, 1, 2)), (_DMY_RE, (2, 1, 0))):
        match = pattern.match(text)
        if match:
            year, month, dd = (int(match.group(i + 1)) for i in order)
            try:
                return datetime.date(year, month, dd)
            except ValueError:
                raise ValueError(f"report date {value!r} is not a calendar day") from None
    try:
        return email.utils.parsedate_to_datetime(text).date()
    except (TypeError, ValueError, IndexError):
        pass
    found = resolve_date(text, None) if text else None
    if found is not None and found.days == 1:
        return found.start
    raise ValueError(f"report date {value!r} is not a date (use ISO 2024-12-07, RFC 2822, or a day, month and year)")


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
# Hijri dates


def _hijri_month(word: str) -> int | None:
    return int(word[1:]) if len(word) > 1 and word[0] == "h" and word[1:].isdigit() else None


def _resolve_hijri(words: list[str], part: str | None, doc: datetime.date | None) -> DateRange | None:
    """``15 رمضان 1445 هـ``, ``رمضان 1445``, ``أواخر رمضان`` (against the report's Hijri year)."""
    from hijridate import Gregorian, Hijri

    index, month = next(((i, _hijri_month(w)) for i, w in enumerate(words) if _hijri_month(w)), (None, None))
    if month is None:
        return None
    before = words[index - 1] if index else ""
    dd = int(before) if _DAY_RE.fullmatch(before) else None
    year = next((int(w) for w in words[index + 1:index + 3] if _HIJRI_YEAR_RE.fullmatch(w)), None)
    if words[index] in _HIJRI_AMBIGUOUS and dd is None and year is None:
        return None
    try:
        if year is None:
            if doc is None:
                return None
            year = Gregorian(doc.year, doc.month, doc.day).to_hijri().year
            if Hijri(year, month, dd or 1).to_gregorian() > doc:  # not yet this Hijri year: the last one
                year -= 1
        if dd is not None:
            return _single(_plain(Hijri(year, month, dd).to_gregorian()))
        length = Hijri(year, month, 1).month_length()
        first, last = _PARTS[part] if part else (1, length)
        return DateRange(_plain(Hijri(year, month, first).to_gregorian()),
                         _plain(Hijri(year, month, min(last, length)).to_gregorian()))
    except (ValueError, OverflowError):  # outside the Umm al-Qura table, or no such day
        return None


def _plain(day: datetime.date) -> datetime.date:
    return datetime.date(day.year, day.month, day.day)


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

    if any(_hijri_month(word) for word in words):
        found = _resolve_hijri(words, part, doc)
        if found is not None:
            return found
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
