"""Table tests for resolving Arabic time expressions and counts; every expected value is worked by hand."""
import datetime
import sys

import pytest

from rasd.inference.dates import DateRange, resolve_date
from rasd.inference.numbers import Count, dual_count, parse_count

D = datetime.date
DOC = D(2024, 12, 7)  # a Saturday


def day(year: int, month: int, dd: int) -> DateRange:
    return DateRange(D(year, month, dd), D(year, month, dd))


def span(start: tuple[int, int, int], end: tuple[int, int, int]) -> DateRange:
    return DateRange(D(*start), D(*end))


DATE_CASES = [
    # today, yesterday, tomorrow; clitics, diacritics, tatweel
    ("اليوم", day(2024, 12, 7)),
    ("أمس", day(2024, 12, 6)),
    ("وأمس", day(2024, 12, 6)),
    ("بالأمس", day(2024, 12, 6)),
    ("أمسِ", day(2024, 12, 6)),
    ("البارحة", day(2024, 12, 6)),
    ("مساء أمس الجمعة", day(2024, 12, 6)),
    ("أول أمس", day(2024, 12, 5)),
    ("أول من أمس", day(2024, 12, 5)),
    ("غداً", day(2024, 12, 8)),
    # weekdays: the most recent on or before the report day; الماضي strictly before
    ("اليوم السبت", day(2024, 12, 7)),
    ("السبت", day(2024, 12, 7)),
    ("السبت الماضي", day(2024, 11, 30)),
    ("الأحد", day(2024, 12, 1)),
    ("الثلاثاء", day(2024, 12, 3)),
    ("الثلاثـاء", day(2024, 12, 3)),
    ("فجر الثلاثاء", day(2024, 12, 3)),
    ("مساء الجمعة", day(2024, 12, 6)),
    ("يوم الاثنين الماضي", day(2024, 12, 2)),
    ("في وقت متأخر من مساء الجمعة", day(2024, 12, 6)),
    # ago, with digits, Arabic-Indic digits, number words, duals and vague counts
    ("منذ ثلاثة أيام", day(2024, 12, 4)),
    ("منذ ٣ أيام", day(2024, 12, 4)),
    ("قبل يومين", day(2024, 12, 5)),
    ("قبل أسبوع", day(2024, 11, 30)),
    ("قبل أسبوعين", day(2024, 11, 23)),
    ("منذ عشرين يوماً", day(2024, 11, 17)),
    ("قبل شهرين", day(2024, 10, 7)),
    ("منذ بضعة أيام", span((2024, 11, 28), (2024, 12, 4))),
    # recent periods
    ("خلال الساعات الماضية", span((2024, 12, 6), (2024, 12, 7))),
    ("خلال الـ24 ساعة الماضية", span((2024, 12, 6), (2024, 12, 7))),
    ("الليلة الماضية", day(2024, 12, 6)),
    ("الأسبوع الماضي", span((2024, 11, 30), (2024, 12, 6))),
    ("الشهر الماضي", span((2024, 11, 1), (2024, 11, 30))),
    ("العام الماضي", span((2023, 1, 1), (2023, 12, 31))),
    # months: Gregorian, Levantine/Iraqi, Maghrebi, combined; no year -> most recent not after the report
    ("ديسمبر", span((2024, 12, 1), (2024, 12, 31))),
    ("جانفي", span((2024, 1, 1), (2024, 1, 31))),
    ("تموز", span((2024, 7, 1), (2024, 7, 31))),
    ("كانون الأول 2023", span((2023, 12, 1), (2023, 12, 31))),
    ("ديسمبر/كانون الأول 2024", span((2024, 12, 1), (2024, 12, 31))),
    ("كانون الأول (ديسمبر) 2024", span((2024, 12, 1), (2024, 12, 31))),
    ("حزيران 2014", span((2014, 6, 1), (2014, 6, 30))),
    ("فيفري 2023", span((2023, 2, 1), (2023, 2, 28))),
    ("ماي 2021", span((2021, 5, 1), (2021, 5, 31))),
    ("يوليوز 2022", span((2022, 7, 1), (2022, 7, 31))),
    ("أوت 2020", span((2020, 8, 1), (2020, 8, 31))),
    ("اغسطس 2020", span((2020, 8, 1), (2020, 8, 31))),
    ("دجنبر 2019", span((2019, 12, 1), (2019, 12, 31))),
    # parts of a month
    ("أواخر نوفمبر", span((2024, 11, 21), (2024, 11, 30))),
    ("مطلع الشهر الجاري", span((2024, 12, 1), (2024, 12, 10))),
    ("منتصف آذار", span((2024, 3, 11), (2024, 3, 20))),
    ("أوائل أيلول 2023", span((2023, 9, 1), (2023, 9, 10))),
    ("وأواخر شباط 2024", span((2024, 2, 21), (2024, 2, 29))),
    ("نهاية الأسبوع الماضي", span((2024, 11, 30), (2024, 12, 6))),  # not a month: returned whole
    # full dates and years
    ("15 مارس 2019", day(2019, 3, 15)),
    ("في 15 مارس 2019", day(2019, 3, 15)),
    ("١٥ آذار ٢٠١٩", day(2019, 3, 15)),
    ("2019-03-15", day(2019, 3, 15)),
    ("15/3/2019", day(2019, 3, 15)),
    ("3 ديسمبر", day(2024, 12, 3)),
    ("15 ديسمبر", day(2023, 12, 15)),  # 15 December 2024 is after the report
    ("الخميس 5 ديسمبر", day(2024, 12, 5)),
    ("يومي 15 و16 نوفمبر", span((2024, 11, 15), (2024, 11, 16))),
    ("بين نوفمبر وديسمبر 2023", span((2023, 11, 1), (2023, 12, 31))),
    ("عام 2019", span((2019, 1, 1), (2019, 12, 31))),
    ("2019", span((2019, 1, 1), (2019, 12, 31))),
    # nothing to resolve
    ("", None),
    ("مرحبا بكم", None),
    ("قتل 5 أشخاص", None),
]


@pytest.mark.parametrize("text, expected", DATE_CASES)
def test_resolve_date(text, expected):
    assert resolve_date(text, DOC) == expected


@pytest.mark.parametrize("text, doc_date, expected", [
    ("أمس", None, None),
    ("الثلاثاء", None, None),
    ("منذ ثلاثة أيام", None, None),
    ("مارس", None, None),
    ("15 مارس 2019", None, day(2019, 3, 15)),
    ("كانون الأول 2023", None, span((2023, 12, 1), (2023, 12, 31))),
    ("أمس", "2024-12-07", day(2024, 12, 6)),
    ("أمس", datetime.datetime(2024, 3, 1, 10, 30), day(2024, 2, 29)),
    ("أمس", "not a date", None),
    ("يناير", D(2025, 1, 15), span((2025, 1, 1), (2025, 1, 31))),
    ("ديسمبر", D(2025, 1, 15), span((2024, 12, 1), (2024, 12, 31))),
])
def test_resolve_date_doc_dates(text, doc_date, expected):
    assert resolve_date(text, doc_date) == expected


def test_hand_rules_work_without_dateparser(monkeypatch):
    for module in ("dateparser", "dateparser.date"):  # None in sys.modules makes the import fail
        monkeypatch.setitem(sys.modules, module, None)
    assert resolve_date("منذ ثلاثة أيام", DOC) == day(2024, 12, 4)
    assert resolve_date("الثلاثاء", DOC) == day(2024, 12, 3)
    assert resolve_date("15 مارس 2019", DOC) is None


NUMBER_CASES = [
    # digits and separators
    ("2000", Count(2000, 2000)),
    ("2,000", Count(2000, 2000)),
    ("2.000", Count(2000, 2000)),  # three-digit groups, no multiplier: thousands
    ("٣٠٠", Count(300, 300)),
    ("١٬٥٠٠", Count(1500, 1500)),
    ("۱۲", Count(12, 12)),
    ("١٥ قتيلاً", Count(15, 15)),
    ("2.5", None),  # not a whole count
    # number words
    ("ثلاثة آلاف", Count(3000, 3000)),
    ("خمسة عشر", Count(15, 15)),
    ("مئة", Count(100, 100)),
    ("مائة", Count(100, 100)),
    ("ثلاث مئة", Count(300, 300)),
    ("ثلاثمائة", Count(300, 300)),
    ("خمسمائة وخمسين", Count(550, 550)),
    ("ألفين", Count(2000, 2000)),
    ("ألفي", Count(2000, 2000)),
    ("عشرين", Count(20, 20)),
    ("ثلاثه", Count(3, 3)),
    ("ثَلاثَةُ", Count(3, 3)),
    # digits with multipliers
    ("3 آلاف", Count(3000, 3000)),
    ("1.5 مليون", Count(1_500_000, 1_500_000)),
    ("1,5 مليون", Count(1_500_000, 1_500_000)),
    ("مليوني", Count(2_000_000, 2_000_000)),
    # vague quantities
    ("عشرات", Count(20, 99)),
    ("العشرات", Count(20, 99)),
    ("وعشرات", Count(20, 99)),
    ("بمئات", Count(200, 999)),
    ("مئات", Count(200, 999)),
    ("آلاف", Count(2000, 9999)),
    ("عشرات الآلاف", Count(20_000, 99_999)),
    ("مئات الآلاف", Count(200_000, 999_999)),
    ("ملايين", Count(2_000_000, 9_999_999)),
    ("بضعة", Count(3, 9)),
    ("عدة", Count(3, 9)),
    ("عدة مئات", Count(300, 999)),
    ("بضعة آلاف", Count(3000, 9999)),
    ("عشرات المدنيين", Count(20, 99)),
    # qualifiers: the figure is kept as written
    ("حوالي 30", Count(30, 30, "approximately")),
    ("نحو ثلاثين", Count(30, 30, "approximately")),
    ("قرابة 50", Count(50, 50, "approximately")),
    ("زهاء 200", Count(200, 200, "approximately")),
    ("ما يقارب 100", Count(100, 100, "approximately")),
    ("ما يناهز 40", Count(40, 40, "approximately")),
    ("أكثر من 100", Count(100, 100, "more_than")),
    ("ما يزيد على 20", Count(20, 20, "more_than")),
    ("أزيد من 15", Count(15, 15, "more_than")),
    ("أقل من 10", Count(10, 10, "less_than")),
    ("ما لا يقل عن 12", Count(12, 12, "at_least")),
    ("12 على الأقل", Count(12, 12, "at_least")),
    ("ما لا يزيد عن 50", Count(50, 50, "at_most")),
    # ranges
    ("بين 10 و15", Count(10, 15)),
    ("10 إلى 15", Count(10, 15)),
    ("10-15", Count(10, 15)),
    ("من 10 حتى 20 شخصا", Count(10, 20)),
    ("بين عشرين وثلاثين", Count(20, 30)),
    ("بين خمسة وعشرين وثلاثين", Count(25, 30)),
    ("بين 3 و5 آلاف", Count(3000, 5000)),
    # first count in the span; duals
    ("30 قتيلا و 50 جريحا", Count(30, 30)),
    ("مقتل جنديين", Count(2, 2)),
    ("قتيلان", Count(2, 2)),
    # no number
    ("", None),
    ("مرحبا", None),
    ("مقتل مدنيين", None),
]


@pytest.mark.parametrize("text, expected", NUMBER_CASES)
def test_parse_count(text, expected):
    assert parse_count(text) == expected


@pytest.mark.parametrize("word, expected", [
    ("قتيلان", 2),
    ("جنديين", 2),
    ("مدنيَّين", 2),  # fatha before the ending: dual
    ("مدنيِّين", None),  # kasra: plural
    ("شخصين", 2),
    ("وطفلين", 2),
    ("جريحين", 2),
    ("مدنيين", None),  # undiacritised: read as the plural
    ("ومسلحين", None),
    ("لاجئين", None),
    ("الآخرين", None),
    ("لبنان", None),
    ("سكان", None),
    ("عشرين", None),
    ("البحرين", None),  # a country, not "two seas"
    ("والبحرين", None),
    ("تشرين", None),  # a Levantine month
    ("برلين", None),
])
def test_dual_count(word, expected):
    assert dual_count(word) == expected


# ---------------------------------------------------------------------------------------------
# Report dates as feeds write them, and Hijri dates


@pytest.mark.parametrize("value, expected", [
    ("2024-12-07", D(2024, 12, 7)),
    ("2024-12-07T23:30:00-05:00", D(2024, 12, 7)),  # the feed's own local day, not UTC
    ("2024-12-07T10:00:00Z", D(2024, 12, 7)),
    ("2024-12-07 10:00:00", D(2024, 12, 7)),
    ("Thu, 28 Nov 2024 10:00:00 GMT", D(2024, 11, 28)),  # RSS pubDate (RFC 2822)
    ("Sat, 07 Dec 2024 01:15:00 +0300", D(2024, 12, 7)),
    ("2024/12/07", D(2024, 12, 7)),
    ("07/12/2024", D(2024, 12, 7)),  # day first, as Arab outlets write it
    ("٢٠٢٤-١٢-٠٧", D(2024, 12, 7)),
    ("7 ديسمبر 2024", D(2024, 12, 7)),
    ("السبت 7 كانون الأول 2024", D(2024, 12, 7)),
    ("7 جانفي 2025", D(2025, 1, 7)),
    (datetime.datetime(2024, 12, 7, 9, 30), D(2024, 12, 7)),
])
def test_report_dates_in_feed_formats(value, expected):
    from rasd.inference.dates import parse_report_date

    assert parse_report_date(value) == expected


@pytest.mark.parametrize("value", ["next week", "2024-13-40", "ديسمبر 2024", "", "12/2024"])
def test_an_unreadable_report_date_is_an_error_naming_it(value):
    from rasd.inference.dates import parse_report_date

    with pytest.raises(ValueError, match="report date"):
        parse_report_date(value)


def test_relative_dates_resolve_against_an_rss_pub_date():
    assert resolve_date("أمس", "Thu, 28 Nov 2024 10:00:00 GMT") == day(2024, 11, 27)


HIJRI_REPORT = D(2024, 4, 20)  # 11 Shawwal 1445


@pytest.mark.parametrize("text, expected", [
    ("15 رمضان 1445 هـ", day(2024, 3, 25)),
    ("١٥ رمضان ١٤٤٥هـ", day(2024, 3, 25)),
    ("3 ذي الحجة 1444 هـ", day(2023, 6, 21)),
    ("5 صفر 1446", day(2024, 8, 9)),
    ("رمضان 1445", span((2024, 3, 11), (2024, 4, 9))),
    ("ربيع الأول 1445", span((2023, 9, 16), (2023, 10, 15))),
    ("بجمادى الآخرة 1445", span((2023, 12, 14), (2024, 1, 12))),
    # no Hijri year: the most recent such month not after the report
    ("أواخر شهر رمضان", span((2024, 3, 31), (2024, 4, 9))),
    ("10 محرم", day(2023, 7, 28)),
])
def test_hijri_dates_convert_to_gregorian(text, expected):
    assert resolve_date(text, HIJRI_REPORT) == expected


def test_ambiguous_hijri_month_words_need_a_number():
    assert resolve_date("صفر", HIJRI_REPORT) is None  # zero, not the month
    assert resolve_date("15 رمضان 1520", HIJRI_REPORT) is None  # outside the conversion table
