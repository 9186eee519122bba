"""Arabic text handling: normalisation offsets, words, sentences."""
import pytest

from rasd.inference.text import NormalizationOptions, normalize, normalize_word, split_sentences, split_words

MIXED = "قُتِلَ جنديٌّ سوريّ في حمـــص (AFP) يوم ١٥ آذار، وفرّ ٢٠٠٠ مدني 🙏 إلى لبنان…\nوقال مسؤول: \"الوضع خطير\"."


def test_normalize_folds_marks_tatweel_alef_digits():
    n = normalize("أُعلِنَ في حمـــص ١٥٠ إصابة")
    assert n.text == "اعلن في حمص 150 إصابة".replace("إ", "ا")


@pytest.mark.parametrize("text", [MIXED, "ـــحلب", "فرّ", "a\u200fب", "  أ  "])
def test_every_normalised_word_maps_back_to_the_same_original_word(text):
    n = normalize(text)
    for (s, e), (os_, oe) in zip(split_words(n.text), split_words(text)):
        start, end = n.original_span(s, e)
        # the mapped span reads the original word (marks and tatweel included)
        assert normalize(text[start:end]).text == n.text[s:e]
        assert text[start:end].strip() == text[start:end]
    assert len(split_words(n.text)) == len(split_words(text))


def test_original_span_keeps_final_shadda_and_inner_tatweel():
    text = "وفرّ المدنيون من حمـــص"
    n = normalize(text)
    s = n.text.index("وفر")
    assert text[slice(*n.original_span(s, s + 3))] == "وفرّ"
    s = n.text.index("حمص")
    assert text[slice(*n.original_span(s, s + 3))] == "حمـــص"


def test_options_are_configurable_and_checked():
    opts = NormalizationOptions(alef=False, taa_marbuta=True, alef_maqsura=True)
    assert normalize("أسرى المدينة", opts).text == "أسري المدينه"
    with pytest.raises(ValueError, match="unknown normalization options"):
        NormalizationOptions.from_dict({"harakat": True})


def test_words_split_punctuation_keep_clitics_and_numbers():
    text = 'وقوات "الجيش" دخلت بحلب، 2,000 جندي و1.5 مليون (AFP).'
    words = [text[s:e] for s, e in split_words(text)]
    assert words == ["وقوات", '"', "الجيش", '"', "دخلت", "بحلب", "،", "2,000", "جندي", "و1.5", "مليون",
                     "(", "AFP", ")", "."]


def test_lone_marks_still_make_a_word_for_the_tokenizer():
    assert normalize_word("ّ") != ""
    assert normalize_word("ـ") != ""


def test_sentences_end_at_punctuation_and_line_breaks():
    text = "قصف على حمص. ونزح الآلاف؟ نعم\nسطر جديد… آخر"
    sents = [text[s:e] for s, e in split_sentences(text)]
    assert sents == ["قصف على حمص.", "ونزح الآلاف؟", "نعم", "سطر جديد…", "آخر"]
    assert split_sentences("العدد 2.5 مليون") == [(0, 15)]


def test_fold_is_the_one_comparison_form():
    from rasd.inference.text import fold

    assert fold("إلى مدينةِ حمـــص ١٬٥٠٠ و٢٫٥\u200f") == "الي مدينه حمص 1,500 و2.5"
    assert fold("آذار") == fold("اذار") and fold("أسرى") == fold("اسري")


def test_clitics_are_peeled_only_into_known_words():
    from rasd.inference.text import clitic_readings, fold, strip_clitics

    assert clitic_readings(fold("وبالحسكة")) == ["وبالحسكه", "بالحسكه", "الحسكه", "حسكه"]
    assert "الشهر" in clitic_readings("للشهر")
    known = {fold("حلب"), fold("فبراير")}
    assert strip_clitics(fold("بحلب"), known) == "حلب"
    assert strip_clitics(fold("فبراير"), known) == "فبراير"  # never cut a known word
    assert strip_clitics("وحدات", known) == "وحدات"  # nothing known: kept whole
