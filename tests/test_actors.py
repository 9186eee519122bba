"""Actor normalisation: the dictionary's aliases, the rules for common shapes, one actor per name in a document."""
import pytest

from rasd.inference.actors import ACTOR_TYPES, ActorDictionary, ActorDictionaryError


@pytest.fixture(scope="module")
def actors():
    from rasd.inference.geocoding import default_gazetteer

    dictionary = ActorDictionary.from_yaml("configs/actors/conflict-ar.yaml")
    return lambda country: dictionary.for_document(country, default_gazetteer())


@pytest.mark.parametrize("mention, country, name, kind", [
    # aliases, whatever the clitics and article
    ("وقوات الدعم السريع", "SD", "Rapid Support Forces", "rebel_group"),
    ("للحوثيين", "YE", "Houthis (Ansar Allah)", "rebel_group"),
    ("حوثيين", "YE", "Houthis (Ansar Allah)", "rebel_group"),
    ("هيئة تحرير الشام", "SY", "Hayat Tahrir al-Sham", "rebel_group"),
    ("حزب الله", "LB", "Hezbollah", "political_militia"),
    # قوات/جيش + a country or its adjective, in any inflection
    ("الجيش السوري", "SY", "Military Forces of Syria", "state_forces"),
    ("قوات إسرائيلية", "PS", "Military Forces of Israel", "state_forces"),
    ("جنديان عراقيان", "IQ", "Military Forces of Iraq", "state_forces"),
    ("جنديا فرنسيا", "ML", "Military Forces of France", "state_forces"),
    ("الجيش البوركيني", "BF", "Military Forces of Burkina Faso", "state_forces"),
    ("الشرطة الصومالية", "SO", "Police Forces of Somalia", "state_forces"),
    # the forces alone: the document's country's
    ("للجيش", "LB", "Military Forces of Lebanon", "state_forces"),
    ("القوات الحكومية", "SY", "Military Forces of Syria", "state_forces"),
    ("قوات الأمن", "NE", "Police Forces of Niger", "state_forces"),
    # unnamed gunmen, civilians, protesters
    ("مسلحون مجهولون", "LY", "Unidentified Armed Group (Libya)", "political_militia"),
    ("والمدنيين", "YE", "Civilians (Yemen)", "civilians"),
    ("المتظاهرين", "SD", "Protesters (Sudan)", "protesters"),
])
def test_mentions_become_acled_actors(actors, mention, country, name, kind):
    actor = actors(country).resolve(mention)
    assert (actor.name, actor.type) == (name, kind)
    assert actor.inter == ACTOR_TYPES[kind] and actor.text == mention


def test_a_state_acting_is_its_government(actors):
    actor = actors("SY").resolve("وإسرائيل", names_a_place=True)
    assert (actor.name, actor.type, actor.country) == ("Government of Israel", "state_forces", "IL")


def test_unknown_actors_stay_as_written_and_merge_whatever_their_clitics(actors):
    doc = actors("SY")
    first = doc.resolve("والكتيبة الخضراء")
    assert (first.name, first.type) == ("الكتيبة الخضراء", "")  # the conjunction goes, the type stays empty
    assert doc.resolve("للكتيبة الخضراء") is first and doc.resolve("الكتيبة الخضراء") is first
    assert doc.resolve("وحداتها").name == "وحداتها"  # a و that belongs to the word stays


def test_a_broken_dictionary_names_the_file_and_entry(tmp_path):
    bad = tmp_path / "actors.yaml"
    bad.write_text("actors:\n  - {name: X, type: warlords}\n", encoding="utf-8")
    with pytest.raises(ActorDictionaryError, match=r"actors.yaml: actor 'X': unknown type 'warlords'"):
        ActorDictionary.from_yaml(bad)
    bad.write_text("rules: {heads: [قوات]}\n", encoding="utf-8")
    with pytest.raises(ActorDictionaryError, match="unknown rules"):
        ActorDictionary.from_yaml(bad)
