"""Event records from hand-annotated documents: merging, casualties, places, dates, counts, CSV."""
import pytest

from rasd.inference.documents import Document, Relation, Span
from rasd.inference.events import CSV_COLUMNS, EventBuilder, EventRecord, format_record
from rasd.inference.schema import Schema


def make_doc(text: str, spans: dict, relations: list, date: str | None = None, doc_id: str = "d") -> Document:
    """``spans``: name -> (surface, label) or (surface, label, occurrence); ``relations``: (head, label, tail)."""
    made = {}
    for name, spec in spans.items():
        surface, label, nth = spec if len(spec) == 3 else (*spec, 0)
        start = -1
        for _ in range(nth + 1):
            start = text.index(surface, start + 1)
        made[name] = Span(start, start + len(surface), label, surface, id=name)
    rels = [Relation(made[h], made[t], label) for h, label, t in relations]
    return Document(doc_id, text, {"date": date} if date else {}, list(made.values()), rels)


@pytest.fixture
def build(schema):
    return EventBuilder(schema).build


def test_mentions_sharing_an_argument_in_adjacent_sentences_merge(build):
    doc = make_doc(
        "قصفت قوات النظام مدينة حلب أمس. واستمر القصف على حلب حتى المساء.",
        {"e1": ("قصفت", "BOMBARD"), "f": ("قوات النظام", "FORCE"), "g1": ("حلب", "GPE"), "t": ("أمس", "TIME"),
         "e2": ("القصف", "BOMBARD"), "g2": ("حلب", "GPE", 1)},
        [("e1", "AGENT", "f"), ("e1", "LOCATION", "g1"), ("e1", "TIME", "t"), ("e2", "LOCATION", "g2")],
        date="2024-12-07")
    [record] = build(doc)
    assert record.event_type == "BOMBARD"
    assert [m["text"] for m in record.mentions] == ["قصفت", "القصف"]
    assert record.trigger_text == "قصفت"
    assert record.actors == ["قوات النظام"] and record.locations == ["حلب"]
    assert record.event_id == "d-e1" and record.date == "2024-12-06"


def test_a_mention_without_arguments_joins_the_event_of_the_previous_sentence(build):
    doc = make_doc(
        "اندلعت اشتباكات بين الجيش والمسلحين في درعا. وتواصلت المعارك حتى الفجر.",
        {"e1": ("اشتباكات", "ATTACK"), "f1": ("الجيش", "FORCE"), "f2": ("والمسلحين", "FORCE"),
         "g": ("درعا", "GPE"), "e2": ("المعارك", "ATTACK")},
        [("e1", "AGENT", "f1"), ("e1", "AGENT", "f2"), ("e1", "LOCATION", "g")])
    [record] = build(doc)
    assert len(record.mentions) == 2
    assert record.actors == ["الجيش", "والمسلحين"]
    row = record.to_csv_row()
    # a clash between two: ACLED's two sides, normalised, in the country of the place (درعا)
    assert (row["actor1"], row["actor2"]) == ("Military Forces of Syria", "Unidentified Armed Group (Syria)")
    assert (row["inter1"], row["inter2"], row["interaction"]) == ("1", "3", "13")
    assert (row["country"], row["admin1_code"], row["geo_precision"]) == ("Syria", "SY-DR", "1")
    assert row["actor1_text"] == "الجيش; والمسلحين"


def test_a_conjunction_or_article_does_not_change_what_an_argument_names(build):
    doc = make_doc(
        "اندلعت اشتباكات بين المعارضة والجيش في درعا. وقال ناشطون إن الجيش استخدم المدفعية في الاشتباكات.",
        {"e1": ("اشتباكات", "ATTACK"), "o": ("المعارضة", "FORCE"), "f1": ("والجيش", "FORCE"), "g": ("درعا", "GPE"),
         "s": ("وقال", "STATEMENT"), "p": ("ناشطون", "GROUP"), "f2": ("الجيش", "FORCE", 1),
         "w": ("المدفعية", "WEAPON"), "e2": ("الاشتباكات", "ATTACK")},
        [("e1", "AGENT", "o"), ("e1", "AGENT", "f1"), ("e1", "LOCATION", "g"), ("s", "AGENT", "p"),
         ("e2", "AGENT", "f2"), ("e2", "INSTRUMENT", "w")])
    attack, statement = build(doc)
    assert [m["text"] for m in attack.mentions] == ["اشتباكات", "الاشتباكات"]
    assert attack.actors == ["المعارضة", "والجيش"] and attack.instruments == ["المدفعية"]
    assert statement.event_type == "STATEMENT"


def test_mentions_with_different_agents_or_sentences_apart_stay_separate(build):
    doc = make_doc(
        "هاجمت قوات الحكومة بلدة الأتارب. وهاجمت فصائل المعارضة الأتارب أيضا. وساد الهدوء. ثم تجدد الهجوم.",
        {"e1": ("هاجمت", "ATTACK"), "f1": ("قوات الحكومة", "FORCE"), "g1": ("الأتارب", "GPE"),
         "e2": ("وهاجمت", "ATTACK"), "f2": ("فصائل المعارضة", "FORCE"), "g2": ("الأتارب", "GPE", 1),
         "e3": ("الهجوم", "ATTACK")},
        [("e1", "AGENT", "f1"), ("e1", "LOCATION", "g1"), ("e2", "AGENT", "f2"), ("e2", "LOCATION", "g2")])
    records = build(doc)
    assert [r.actors for r in records] == [["قوات الحكومة"], ["فصائل المعارضة"], []]
    assert [r.event_id for r in records] == ["d-e1", "d-e2", "d-e3"]
    assert [r.mentions[0]["start"] for r in records] == sorted(r.mentions[0]["start"] for r in records)


def test_a_casualty_that_results_from_an_attack_gives_it_fatalities_and_victims(build):
    text = "شنت طائرات حربية غارة على مدينة سرمدا، ما أسفر عن مقتل ثلاثة مدنيين وإصابة ١٢ آخرين."
    doc = make_doc(
        text,
        {"w": ("طائرات حربية", "WEAPON"), "e1": ("غارة", "BOMBARD"), "g": ("سرمدا", "GPE"),
         "e2": ("مقتل", "CASUALTY"), "n1": ("ثلاثة", "NUM"), "c1": ("مدنيين", "GROUP"),
         "e3": ("وإصابة", "CASUALTY"), "n2": ("١٢", "NUM"), "c2": ("آخرين", "GROUP")},
        [("e1", "INSTRUMENT", "w"), ("e1", "LOCATION", "g"), ("e2", "TARGET", "c1"), ("c1", "QUANTITY", "n1"),
         ("e3", "TARGET", "c2"), ("c2", "QUANTITY", "n2")])
    [record] = build(doc)
    assert record.event_type == "BOMBARD"
    assert record.fatalities == 3 and (record.count_low, record.count_high) == (3, 3)
    assert record.targets == ["مدنيين", "آخرين"]
    assert "injured: 12" in record.notes  # wounded are not fatalities
    assert [m["label"] for m in record.mentions] == ["BOMBARD", "CASUALTY", "CASUALTY"]
    assert record.instruments == ["طائرات حربية"]
    assert all(text[m["start"]:m["end"]] == m["text"] for m in record.mentions)


def test_a_casualty_caused_by_a_later_attack_attaches_to_it(build):
    doc = make_doc(
        "قتل أربعة جنود جراء هجوم على حاجز للجيش.",
        {"e1": ("قتل", "CASUALTY"), "n": ("أربعة", "NUM"), "f": ("جنود", "FORCE"), "e2": ("هجوم", "ATTACK"),
         "fac": ("حاجز للجيش", "FAC")},
        [("e1", "TARGET", "f"), ("f", "QUANTITY", "n"), ("e2", "TARGET", "fac")])
    [record] = build(doc)
    assert (record.event_type, record.acled_event_type, record.fatalities) == ("ATTACK", "Battles", 4)
    assert record.targets == ["حاجز للجيش", "جنود"]


@pytest.mark.parametrize("text, spans, relations, attached", [
    # ف of consequence, and a second casualty conjoined to an attached one
    ("أطلق الجنود النار فقُتل ثلاثة وأصيب خمسة.",
     {"v": ("أطلق", "ATTACK"), "c1": ("فقُتل", "CASUALTY"), "c2": ("وأصيب", "CASUALTY")}, [], 2),
    # a pronoun pointing back at the attack
    ("غارة على شقة قُتل فيها قيادي.", {"v": ("غارة", "BOMBARD"), "c1": ("قُتل", "CASUALTY")}, [], 1),
    # the toll of the clashes
    ("ارتفعت حصيلة الاشتباكات إلى 32 قتيلا.", {"v": ("الاشتباكات", "ATTACK"), "c1": ("قتيلا", "CASUALTY")}, [], 1),
    # the casualty first, then what caused it, or the attack as its genitive
    ("قُتل جنديان في اشتباكات.", {"c1": ("قُتل", "CASUALTY"), "v": ("اشتباكات", "ATTACK")}, [], 1),
    ("ارتفع عدد قتلى الهجوم.", {"c1": ("قتلى", "CASUALTY"), "v": ("الهجوم", "ATTACK")}, [], 1),
    # one actor attacks and kills
    ("نصب المسلحون كمينا وقتلوا العشرات.",
     {"f": ("المسلحون", "FORCE"), "v": ("كمينا", "ATTACK"), "c1": ("وقتلوا", "CASUALTY")},
     [("v", "AGENT", "f"), ("c1", "AGENT", "f")], 1),
    # juxtaposed, or a different actor: separate events
    ("قصفت الطائرات البلدة وقُتل جنديان.", {"v": ("قصفت", "BOMBARD"), "c1": ("وقُتل", "CASUALTY")}, [], 0),
    ("قصف الجيش البلدة ما أسفر عن مقتل مسلحين قتلتهم الشرطة.",
     {"f1": ("الجيش", "FORCE"), "v": ("قصف", "BOMBARD"), "c1": ("مقتل", "CASUALTY"), "f2": ("الشرطة", "FORCE")},
     [("v", "AGENT", "f1"), ("c1", "AGENT", "f2")], 0),
])
def test_casualty_attachment_patterns(build, text, spans, relations, attached):
    records = build(make_doc(text, spans, relations))
    violent = next(r for r in records if r.event_type != "CASUALTY")
    assert sum(m["label"] == "CASUALTY" for m in violent.mentions) == attached
    assert len(records) == 1 + (sum(label == "CASUALTY" for _, label, *_ in spans.values()) - attached)


def test_casualties_without_a_result_link_stand_alone(build):
    # next sentence, and juxtaposition without أسفر/أدى/جراء in the same sentence
    doc = make_doc(
        "اندلعت اشتباكات في حلب وقتل جنديان. وقتل خمسة مدنيين في إدلب.",
        {"e1": ("اشتباكات", "ATTACK"), "g1": ("حلب", "GPE"), "e2": ("وقتل", "CASUALTY"), "f": ("جنديان", "FORCE"),
         "e3": ("وقتل", "CASUALTY", 1), "n": ("خمسة", "NUM"), "c": ("مدنيين", "GROUP"), "g2": ("إدلب", "GPE")},
        [("e1", "LOCATION", "g1"), ("e2", "TARGET", "f"), ("e3", "TARGET", "c"), ("c", "QUANTITY", "n"),
         ("e3", "LOCATION", "g2")])
    attack, soldiers, civilians = build(doc)
    assert attack.fatalities is None
    assert (soldiers.event_type, soldiers.fatalities, soldiers.acled_event_type) == ("CASUALTY", 2, "Battles")
    # GROUP victims (schema.civilian_labels) make it violence against civilians
    assert (civilians.fatalities, civilians.acled_event_type, civilians.sub_event_type) == \
        (5, "Violence against civilians", "Attack")


def test_count_qualifier_is_kept_and_injuries_are_not_fatalities(build):
    doc = make_doc(
        "أسفر القصف على حلب عن سقوط أكثر من 20 قتيلا. وأصيب عشرات في غارة أخرى على إدلب.",
        {"e1": ("القصف", "BOMBARD"), "g1": ("حلب", "GPE"), "e2": ("قتيلا", "CASUALTY"), "n": ("أكثر من 20", "NUM"),
         "e3": ("وأصيب", "CASUALTY"), "n2": ("عشرات", "NUM"), "e4": ("غارة", "BOMBARD"), "g2": ("إدلب", "GPE")},
        [("e1", "LOCATION", "g1"), ("e2", "QUANTITY", "n"), ("e3", "QUANTITY", "n2"), ("e4", "LOCATION", "g2")])
    aleppo, idlib = build(doc)
    # أسفر before the attack (verb first) links it to the casualty as well as أسفر after it
    assert aleppo.fatalities == 20 and aleppo.count_qualifier == "more_than"
    assert aleppo.to_csv_row()["count_qualifier"] == "more_than"
    assert idlib.fatalities is None and idlib.notes == ["injured: 20-99"]


def test_a_vague_count_gives_a_range_and_the_lowest_figure():
    schema = Schema.from_yaml("configs/schema/conflict.yaml")
    doc = make_doc("قتل عشرات المسلحين.", {"e": ("قتل", "CASUALTY"), "n": ("عشرات", "NUM"), "f": ("المسلحين", "FORCE")},
                   [("e", "TARGET", "f"), ("f", "QUANTITY", "n")])
    [record] = EventBuilder(schema).build(doc)
    assert (record.fatalities, record.count_low, record.count_high) == (20, 20, 99)


def test_admin_chain_follows_located_in_through_the_document(build):
    doc = make_doc(
        "قصفت القوات بلدة الأتارب أمس. وتقع الأتارب في ريف حلب شمالي سوريا.",
        {"e": ("قصفت", "BOMBARD"), "g1": ("الأتارب", "GPE"), "g2": ("الأتارب", "GPE", 1),
         "g3": ("ريف حلب", "GPE"), "g4": ("سوريا", "GPE")},
        # the links sit on the second mention of the town; a predicted cycle back to it is cut
        [("e", "LOCATION", "g1"), ("g2", "LOCATED_IN", "g3"), ("g3", "LOCATED_IN", "g4"), ("g4", "LOCATED_IN", "g2")])
    [record] = build(doc)
    assert record.admin_chain == ["الأتارب", "ريف حلب", "سوريا"]
    assert record.to_csv_row()["admin_chain"] == "الأتارب > ريف حلب > سوريا"
    # the town itself is in the gazetteer, inside the governorate the text names
    assert (record.place_name, record.admin1_code, record.geo_precision) == ("Al Atārib", "SY-HL", 1)


def test_dates_resolve_against_the_report_date_only_when_it_is_known(build):
    spans = {"e": ("نزح", "FLEE"), "c": ("السكان", "GROUP"), "t": ("أواخر تشرين الثاني", "TIME")}
    text = "نزح السكان من البلدة أواخر تشرين الثاني."
    rels = [("e", "AGENT", "c"), ("e", "TIME", "t")]
    [dated] = build(make_doc(text, spans, rels, date="2024-12-07"))
    assert (dated.date, dated.date_end, dated.time_text) == ("2024-11-21", "2024-11-30", "أواخر تشرين الثاني")
    [undated] = build(make_doc(text, spans, rels))
    assert (undated.date, undated.date_end, undated.time_text) == ("", "", "أواخر تشرين الثاني")


def test_times_on_different_days_are_different_events(build):
    doc = make_doc(
        "تظاهر المئات أمس في الساحة. وتظاهر المئات اليوم في الساحة.",
        {"e1": ("تظاهر", "PROTEST"), "t1": ("أمس", "TIME"), "g1": ("الساحة", "LOC"),
         "e2": ("وتظاهر", "PROTEST"), "t2": ("اليوم", "TIME"), "g2": ("الساحة", "LOC", 1)},
        [("e1", "TIME", "t1"), ("e1", "LOCATION", "g1"), ("e2", "TIME", "t2"), ("e2", "LOCATION", "g2")],
        date="2024-12-07")
    assert [r.date for r in build(doc)] == ["2024-12-06", "2024-12-07"]


def test_csv_row_has_acled_columns_then_rasd_columns(build):
    from rasd.inference.acled import ACLED_COLUMNS, EVENT_TYPES

    doc = make_doc(
        "نزح نحو 300 شخص من الصنمين إلى دمشق.",
        {"e": ("نزح", "FLEE"), "n": ("نحو 300", "NUM"), "p": ("شخص", "GROUP"), "o": ("الصنمين", "GPE"),
         "d": ("دمشق", "GPE")},
        [("e", "AGENT", "p"), ("p", "QUANTITY", "n"), ("e", "ORIGIN", "o"), ("e", "DESTINATION", "d")],
        date="Sat, 07 Dec 2024 09:00:00 +0300")
    doc.meta.update(source="Example Wire", url="https://example.org/a/1", title="نزوح")
    [record] = build(doc)
    row = record.to_csv_row()
    assert tuple(row) == CSV_COLUMNS and CSV_COLUMNS[:len(ACLED_COLUMNS)] == ACLED_COLUMNS
    assert all(isinstance(v, str) for v in row.values())
    # FLEE's old "Displacement" is not ACLED's: the schema now says Strategic developments / Other
    assert row["sub_event_type"] in EVENT_TYPES[row["event_type"]]
    assert row["location_text"] == "الصنمين" and row["fatalities"] == ""
    assert (row["source"], row["url"], row["title"]) == ("Example Wire", "https://example.org/a/1", "نزوح")
    assert (row["country"], row["iso"], row["event_id_cnty"]) == ("Syria", "760", "SYR-d-e1")
    assert record.origin == ["الصنمين"] and record.destination == ["دمشق"]
    assert "count of شخص: 300 (approximately)" in record.notes
    assert "origin: الصنمين; destination: دمشق" in row["notes"]  # no ACLED column of their own
    assert row["mentions"] == "نزح [0:3]" and row["actor1"] == "Civilians (Syria)" and row["inter1"] == "7"
    block = format_record(record)
    assert "FLEE" in block and "دمشق" in block and "Civilians (Syria)" in block
    assert EventRecord(**record.to_dict()) == record


def test_a_schema_without_roles_or_links_gives_records_with_empty_fields():
    schema = Schema(name="bare", entities=("PLACE",), triggers=("FIGHT",))
    doc = make_doc("معركة في حلب.", {"e": ("معركة", "FIGHT"), "g": ("حلب", "PLACE")}, [("e", "LOCATION", "g")])
    [record] = EventBuilder(schema).build(doc)
    assert (record.event_type, record.trigger_text) == ("FIGHT", "معركة")
    assert record.locations == [] and record.admin_chain == [] and record.fatalities is None
    assert (record.acled_event_type, record.sub_event_type, record.date) == ("", "", "")


def test_labels_come_from_the_schema():
    schema = Schema.from_dict({
        "name": "other", "entities": ["NUMBER", "PEOPLE"], "triggers": ["STRIKE", "DEATH"],
        "roles": {"TARGET": ["PEOPLE"]},
        "links": {"QUANTITY": {"heads": ["PEOPLE", "DEATH"], "tails": ["NUMBER"]}},
        "event_categories": {"STRIKE": ["Explosions/Remote violence", "Air/drone strike"]},
    })
    doc = make_doc("ضربة أدت إلى مقتل سبعة.",
                   {"e1": ("ضربة", "STRIKE"), "e2": ("مقتل", "DEATH"), "n": ("سبعة", "NUMBER")},
                   [("e2", "QUANTITY", "n")])
    [record] = EventBuilder(schema).build(doc)
    assert (record.event_type, record.sub_event_type, record.fatalities) == ("STRIKE", "Air/drone strike", 7)


def test_empty_document_has_no_records(build):
    assert build(Document("empty", "")) == []


def test_counts_among_others_are_not_added_and_one_person_counts_one(build):
    doc = make_doc("قُتل خمسة مدنيين بينهم طفلان جراء صاروخ أطلقه الحوثيون على مأرب.",
                   {"c": ("قُتل", "CASUALTY"), "n": ("خمسة", "NUM"), "v1": ("مدنيين", "GROUP"), "v2": ("طفلان", "GROUP"),
                    "w": ("صاروخ", "WEAPON"), "e": ("أطلقه", "BOMBARD"), "f": ("الحوثيون", "FORCE"), "g": ("مأرب", "GPE")},
                   [("c", "TARGET", "v1"), ("c", "TARGET", "v2"), ("v1", "QUANTITY", "n"), ("e", "INSTRUMENT", "w"),
                    ("e", "AGENT", "f"), ("e", "TARGET", "g")])
    [record] = build(doc)  # the cause names the weapon before its trigger: one event
    assert (record.event_type, record.fatalities) == ("BOMBARD", 5)  # the two children are among the five
    assert (record.actor1, record.actor2) == ("Houthis (Ansar Allah)", "Civilians (Yemen)")
    [one] = build(make_doc("قُتلت امرأة في تعز.", {"c": ("قُتلت", "CASUALTY"), "v": ("امرأة", "GROUP")},
                           [("c", "TARGET", "v")]))
    assert one.fatalities == 1


def test_a_later_toll_attaches_to_the_attack_it_reports(build):
    doc = make_doc("قصفت طائرات التحالف مطار صنعاء. وقال المتحدث إن الضربات دقيقة. وأفادت الوزارة بسقوط ثلاثة قتلى.",
                   {"e": ("قصفت", "BOMBARD"), "g": ("مطار صنعاء", "FAC"), "s1": ("وقال", "STATEMENT"),
                    "s2": ("وأفادت", "STATEMENT"), "c": ("قتلى", "CASUALTY"), "n": ("ثلاثة", "NUM")},
                   [("e", "TARGET", "g"), ("c", "QUANTITY", "n")])
    bombard = next(r for r in build(doc) if r.event_type == "BOMBARD")
    assert bombard.fatalities == 3 and not any(r.event_type == "CASUALTY" for r in build(doc))
    # without a toll word, a later casualty stands alone (CONTRACTS: same sentence only)
    doc2 = make_doc("قصفت الطائرات البلدة. وقُتل ثلاثة في مكان آخر.",
                    {"e": ("قصفت", "BOMBARD"), "c": ("وقُتل", "CASUALTY"), "n": ("ثلاثة", "NUM")}, [("c", "QUANTITY", "n")])
    assert [r.event_type for r in build(doc2)] == ["BOMBARD", "CASUALTY"]


def test_an_unreadable_report_date_is_a_warning_naming_the_document(build, caplog):
    spans, rels = {"e": ("نزح", "FLEE"), "t": ("أمس", "TIME")}, [("e", "TIME", "t")]
    [record] = build(make_doc("نزح السكان أمس.", spans, rels, date="the day before", doc_id="feed-7"))
    assert record.date == "" and "feed-7" in caplog.text and "the day before" in caplog.text
    [rss] = build(make_doc("نزح السكان أمس.", spans, rels, date="Thu, 28 Nov 2024 10:00:00 GMT"))
    assert (rss.date, rss.time_precision) == ("2024-11-27", 1)
