"""Resolve counts written in Arabic news text ("نحو 30", "عشرات الآلاف", "قتيلان") to integers.

Conventions:

* The figure is kept as written and the qualifier says how to read it: ``أكثر من 100`` is
  ``Count(100, 100, "more_than")``, not 101, because ACLED codes the stated number.
* Vague quantities become ranges: a plural of a unit U (عشرات, مئات, آلاف, ملايين, stacked as in
  ``عشرات الآلاف``) is (2U, 10U - 1); ``بضعة``/``عدة`` in front of U is (3U, 10U - 1), alone (3, 9).
* Separators: ``٬`` groups thousands and ``٫`` marks decimals. A ``,`` followed by groups of exactly
  three digits groups thousands, otherwise it is a decimal comma. A ``.`` is a decimal point in front of
  a multiplier word (``1.5 مليون``); with no multiplier, ``2.000`` in three-digit groups is 2000, since
  a count of people is an integer. A count that is still fractional is not a count (None).
* Number words go through ``pyarabic.number.text2number`` (imported lazily); without pyarabic only
  digits, vague plurals and duals are read.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from .text import MARKS, fold, strip_clitics

__all__ = ["Count", "parse_count", "dual_count", "single_count"]


@dataclass(frozen=True)
class Count:
    """A count as reported: ``low == high`` for an exact figure, a range for vague ones."""

    low: int
    high: int  # == low for an exact count
    qualifier: str | None = None  # approximately, more_than, less_than, at_least, at_most


# ---------------------------------------------------------------------------------------------
# Lexicon

# Entries are written as spelled in print and folded once here, so they match folded text.
# First match wins, so negated forms come first: "ما لا يقل عن" also contains "يقل عن".
_QUALIFIERS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(fold(pattern)), qualifier) for pattern, qualifier in (
        (r"لا يقل (?:عن|على)|على الأقل|بالحد الأدنى", "at_least"),
        (r"لا (?:يزيد|يتجاوز|يتعدى)|على الأكثر|كحد أقصى", "at_most"),
        (r"أكثر من|أزيد من|(?:يزيد|يربو) (?:عن|على)|يفوق|يتجاوز", "more_than"),
        (r"أقل من|يقل (?:عن|على)", "less_than"),
        (r"(?<!\w)[وب]{0,2}(?:حوالي|حوالى|نحو|قرابة|زهاء|تقريبا)(?!\w)|يقارب|يناهز|يقرب من", "approximately"),
    )
)

_FEW = frozenset(fold(word) for word in ("بضع", "بضعة", "عدة"))
_VAGUE_UNITS = {fold(word): unit for word, unit in (("عشرات", 10), ("مئات", 100))}
_PLURAL_MULTIPLIERS = {fold(word): unit for word, unit in (("آلاف", 10**3), ("ملايين", 10**6), ("مليارات", 10**9))}
_MULTIPLIERS = {
    **_PLURAL_MULTIPLIERS,
    **{fold(word): unit for word, unit in (
        ("ألف", 10**3), ("ألفا", 10**3), ("مليون", 10**6), ("مليونا", 10**6), ("مليار", 10**9), ("مليارا", 10**9),
    )},
}
# Spellings pyarabic's lexicon lacks: construct-state duals (ألفي قتيل), feminine "two", accusatives.
_EXTRA_NUMBER_WORDS = {fold(word): spelled for word, spelled in (
    ("ألفي", "ألفين"), ("مليوني", "مليونين"), ("ملياري", "مليارين"), ("مئتي", "مئتين"), ("مائتي", "مئتين"),
    ("مائتين", "مئتين"), ("مائتان", "مئتان"), ("اثنتان", "اثنان"), ("اثنتين", "اثنين"), ("اثنتي", "اثني"),
    ("مليونا", "مليون"), ("مليارا", "مليار"),
)}
# "ثلاث مئة" written apart means 300, but text2number adds it up as 3 + 100.
_HUNDRED_WORDS = frozenset(fold(word) for word in ("مئة", "مائة"))
_HUNDREDS_APART = {
    fold(unit + ending): unit + "مئة"
    for unit in ("ثلاث", "أربع", "خمس", "ست", "سبع", "ثمان", "تسع") for ending in ("", "ة", "ي")
}

_RANGE_WORDS = frozenset(fold(word) for word in ("إلى", "الى", "حتى"))
_DIGIT_DASH_RE = re.compile(r"(?<=\d)\s*[-–—]\s*(?=\d)")
# Punctuation becomes a space, except separators inside a number (2,000  1.5  ١٬٥٠٠).
_PUNCTUATION_RE = re.compile(rf"[^\w\s.,٫٬{MARKS}]|(?<!\d)[.,٫٬]|[.,٫٬](?!\d)")
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_THOUSANDS_COMMA_RE = re.compile(r"\d{1,3}(?:,\d{3})+")
_THOUSANDS_DOT_RE = re.compile(r"\d{1,3}(?:\.\d{3})+")
_DECIMAL_RE = re.compile(r"\d+(?:[.,]\d+)?")
_CLITICS_BEFORE_DIGIT_RE = re.compile(r"^[وف]?[بل]?(?:ال)?(?=\d)")


@lru_cache(maxsize=1)
def _number_words() -> dict[str, str]:
    """Folded spelling -> pyarabic's spelling, so that ثلاثه, الف and مائه reach text2number intact."""
    try:
        from pyarabic.number_const import NUMBER_WORDS
    except ImportError:
        return {}
    return {**{fold(word): word for word in NUMBER_WORDS}, **_EXTRA_NUMBER_WORDS}


@lru_cache(maxsize=1)
def _quantity_words() -> frozenset[str]:
    return frozenset(_number_words()) | _FEW | set(_VAGUE_UNITS) | set(_MULTIPLIERS)


# ---------------------------------------------------------------------------------------------
# Tokens and quantity runs


class _Token(NamedTuple):
    raw: str  # as written, diacritics kept (dual_count reads them)
    word: str  # folded, clitics peeled when that gives a known word
    joined: bool  # carried a و/ف conjunction: where "بين X وY" splits


class _Quantity(NamedTuple):
    low: int
    high: int
    scale: int  # the multiplier word applied (1000 in "ثلاثة آلاف"), shared by "بين 3 و5 آلاف"


def _tokenize(text: str) -> list[_Token]:
    tokens = []
    for raw in _PUNCTUATION_RE.sub(" ", _DIGIT_DASH_RE.sub(" إلى ", text)).split():
        folded = fold(raw)
        word = _CLITICS_BEFORE_DIGIT_RE.sub("", folded)
        if word == folded:
            word = strip_clitics(folded, _quantity_words())
        tokens.append(_Token(raw, word, joined=folded[:1] in ("و", "ف") and word != folded))
    return tokens


def _is_quantity(token: _Token) -> bool:
    return bool(_NUMBER_RE.fullmatch(token.word)) or token.word in _quantity_words() or dual_count(token.raw) == 2


def _runs(tokens: list[_Token]) -> list[tuple[int, int]]:
    """(start, end) of each maximal stretch of quantity tokens; a bare "و" between two stays inside."""
    runs: list[tuple[int, int]] = []
    start = None
    for index, token in enumerate(tokens):
        bridges = (token.word == "و" and start is not None and index + 1 < len(tokens)
                   and _is_quantity(tokens[index + 1]))
        if _is_quantity(token) or bridges:
            start = index if start is None else start
        elif start is not None:
            runs.append((start, index))
            start = None
    return runs + [(start, len(tokens))] if start is not None else runs


def _digits_value(number: str, before_multiplier: bool) -> float | None:
    if _THOUSANDS_COMMA_RE.fullmatch(number) or (not before_multiplier and _THOUSANDS_DOT_RE.fullmatch(number)):
        return float(re.sub(r"[.,]", "", number))
    if _DECIMAL_RE.fullmatch(number):
        return float(number.replace(",", "."))
    return None


def _trailing_scale(words: list[str], vague: bool = False) -> int:
    """Product of the multiplier words at the start of ``words``: آلاف in "3 آلاف", and with ``vague``
    also عشرات/مئات as in "عدة مئات"."""
    units = {**_VAGUE_UNITS, **_MULTIPLIERS} if vague else _MULTIPLIERS
    scale = 1
    for word in words:
        if word not in units:
            break
        scale *= units[word]
    return scale


def _spell(words: list[str]) -> tuple[list[str], int]:
    """pyarabic spellings of the leading number words, and the scale of the last one."""
    lexicon = _number_words()
    spelled: list[str] = []
    scale, previous = 1, None
    for word in words:
        if word not in lexicon:
            break
        if word in _HUNDRED_WORDS and previous in _HUNDREDS_APART:
            spelled[-1] = _HUNDREDS_APART[previous]
        else:
            spelled.append(lexicon[word])
        scale, previous = _MULTIPLIERS.get(word, 1), word
    return spelled, scale


def _evaluate(run: list[_Token]) -> _Quantity | None:
    words = [token.word for token in run if token.word != "و"]
    if not words:
        return None
    head = words[0]

    if _NUMBER_RE.fullmatch(head):
        scale = _trailing_scale(words[1:])
        value = _digits_value(head, before_multiplier=scale > 1)
        if value is None or not float(value * scale).is_integer():
            return None
        return _Quantity(int(value * scale), int(value * scale), scale)

    if head in _FEW or head in _VAGUE_UNITS or head in _PLURAL_MULTIPLIERS:
        unit = (_VAGUE_UNITS.get(head) or _PLURAL_MULTIPLIERS.get(head) or 1) * _trailing_scale(words[1:], vague=True)
        return _Quantity((3 if head in _FEW else 2) * unit, 10 * unit - 1, unit)

    if head not in _number_words():  # a dual noun (قتيلان), or a number word pyarabic could not read
        return _Quantity(2, 2, 1) if dual_count(run[0].raw) == 2 else None

    from pyarabic.number import text2number

    spelled, scale = _spell(words)
    value = text2number(" ".join(spelled))
    if value == 0 and "صفر" not in spelled:
        return None
    return _Quantity(value, value, scale)


def _span(left: _Quantity, right: _Quantity) -> tuple[int, int]:
    low = left.low
    if left.scale == 1 and right.scale > 1 and left.low * right.scale <= right.high:
        low = left.low * right.scale  # "بين 3 و5 آلاف": one multiplier word serves both ends
    return min(low, right.high), max(low, right.high)


def _split_between(run: list[_Token]) -> tuple[_Quantity, _Quantity] | None:
    """Split the run after "بين" at a conjunction: the last split whose halves rise (X < Y) wins.

    "بين خمسة وعشرين وثلاثين" has two conjunctions; only 25 / 30 reads as a range.
    """
    fallback = None
    for cut in range(len(run) - 1, 0, -1):
        if not (run[cut].joined or run[cut].word == "و"):
            continue
        left, right = _evaluate(run[:cut]), _evaluate(run[cut:])
        if left is None or right is None:
            continue
        if left.low < right.low:
            return left, right
        fallback = fallback or (left, right)
    return fallback


# ---------------------------------------------------------------------------------------------
# Public API


def parse_count(text: str) -> Count | None:
    """The first count in ``text`` (digits, number words, vague plurals, ranges, duals), or None."""
    folded = fold(text)
    qualifier = next((name for pattern, name in _QUALIFIERS if pattern.search(folded)), None)
    tokens = _tokenize(text)
    runs = _runs(tokens)
    if not runs:
        return None

    (start, end), first = runs[0], tokens[runs[0][0]:runs[0][1]]
    if any(token.word == "بين" for token in tokens[:start]):
        halves = _split_between(first)
        if halves is not None:
            return Count(*_span(*halves), qualifier)
    if len(runs) > 1 and any(token.word in _RANGE_WORDS for token in tokens[end:runs[1][0]]):
        left, right = _evaluate(first), _evaluate(tokens[runs[1][0]:runs[1][1]])
        if left is not None and right is not None:
            return Count(*_span(left, right), qualifier)

    quantity = _evaluate(first)
    if quantity is None:
        return None
    return Count(quantity.low, quantity.high, qualifier)


# Words ending in -ان/-ين that are not duals: broken plurals (سكان, فتيان), "others", and names common
# in conflict news.
_NOT_DUAL = frozenset(fold(word) for word in (
    "سكان", "شبان", "فتيان", "صبيان", "غلمان", "جيران", "فرسان", "رهبان", "إخوان", "نيران", "بلدان", "جدران",
    "قضبان", "شجعان", "لبنان", "إيران", "عمان", "سودان", "جولان", "عثمان", "سلمان", "رمضان", "شعبان", "إنسان",
    "مكان", "زمان", "ميدان", "طيران", "عدوان", "بركان", "سلطان", "ديوان", "عنوان", "حيوان", "رضوان", "عدنان",
    "عمران", "حزيران", "نيسان", "فلسطين", "آخرين", "حسين", "ياسين", "سنين",
    # proper names and months that end like a dual
    "بحرين", "نهرين", "رافدين", "تشرين", "برلين", "قزوين", "حرمين", "جنين", "بنين", "صفين", "حطين",
))
# Nouns whose plural is broken (جنود, صبية, مرضى, جرحى), so their -ين form can only be a dual.
_BROKEN_PLURAL_NISBA = frozenset(fold(w) for w in ("جندي", "صبي", "مريض", "جريح", "قتيل", "أسير", "طفل", "رجل",
                                                    "شاب", "ضابط", "شرطي", "حارس", "صحفي", "مسعف"))
_DUAL_ENDING_MARKS_RE = re.compile("([\u064B-\u0652]*)ي\u0652?ن[\u064B-\u0652]*$")
_FATHA, _KASRA = "\u064E", "\u0650"


def dual_count(word: str) -> int | None:
    """2 when ``word`` is a dual noun (قتيلان, جنديين, مدنيَّين), else None.

    Undiacritised -ين is also the sound masculine plural (مدنيين, مسلحين, ناشطين), so those shapes
    give None unless a fatha before the ending marks the dual (a kasra marks the plural).
    """
    raw = word.strip()
    marks = _DUAL_ENDING_MARKS_RE.search(raw)
    folded = fold(raw)
    readings = _readings(folded)
    if any(reading in _NOT_DUAL for reading in readings) or (marks and _KASRA in marks.group(1)):
        return None
    number = next((_number_words()[w] for w in (folded, *readings) if w in _number_words()), None)
    if number is not None:  # اثنين is two; عشرين and ألفين only look like duals
        return 2 if fold(number) in ("اثنان", "اثنين") else None
    if marks and _FATHA in marks.group(1):
        return 2

    verdicts = [_dual_shape(reading) for reading in readings]
    verdicts = [verdict for verdict in verdicts if verdict is not None]
    # Every way of peeling the clitics must read as a dual: ومسلحين is و + مسلحين, a plural.
    return 2 if verdicts and all(verdicts) else None


def _readings(folded: str) -> set[str]:
    """``folded`` with and without a leading conjunction and preposition; an article is always peeled."""
    readings = {folded}
    for prefixes in (("و", "ف"), ("ب", "ل")):
        readings |= {reading[len(p):] for reading in readings for p in prefixes if reading.startswith(p)}
    return {reading[2:] if reading.startswith("ال") else reading for reading in readings}


def _dual_shape(word: str) -> bool | None:
    """True for a dual shape, False for a shape the sound plural shares, None when not a dual ending."""
    stem, ending = word[:-2], word[-2:]
    if ending not in ("ان", "ين") or len(stem) < 3 or word.endswith("ستان"):  # أفغانستان
        return None
    if ending == "ان":  # the sound plural ends in -ون, so -ان is a dual
        return True
    shares_plural = (
        (stem.endswith("ي") and stem not in _BROKEN_PLURAL_NISBA)  # nisba: مدنيين
        or (stem.startswith("م") and len(stem) >= 4 and stem not in _BROKEN_PLURAL_NISBA)  # participles: مسلحين
        or (len(stem) == 4 and "ا" in (stem[1], stem[2]))  # فاعل, فعّال: ناشطين, فلاحين
    )
    return not shares_plural


# Singular nouns of one person: a casualty that names one (قُتلت امرأة) counts one.
_ONE_PERSON = frozenset(fold(w) for w in (
    "امرأة", "امرأه", "سيدة", "فتاة", "طفل", "طفلة", "رضيع", "رضيعة", "رجل", "شاب", "شابة", "مسن", "مسنة", "جندي",
    "ضابط", "شرطي", "عنصر", "مدني", "مواطن", "مواطنة", "صحفي", "صحفية", "طبيب", "مسعف", "ناشط", "قيادي", "قائد",
    "مسلح", "مقاتل", "حارس", "سائق", "شخص", "طالب", "معلم", "راع", "مزارع", "صياد",
))


def single_count(word: str) -> int | None:
    """1 when ``word`` (a victim with no number) is the singular noun of one person (امرأة، طفلا، جنديا), else None."""
    readings = _readings(fold(word.strip()))
    readings |= {r[:-1] for r in readings if r.endswith("ا") and len(r) > 3}  # the accusative of an indefinite
    return 1 if readings & _ONE_PERSON else None
