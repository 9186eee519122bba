"""ACLED rows (valid types, actor codes, CSV and Parquet) and merging reports of one event."""
import csv
import json

import pytest

from rasd.inference.acled import ACLED_COLUMNS, COLUMNS, EVENT_TYPES, acled_row, settle_category, time_precision
from rasd.inference.event_merge import merge_records, same_event
from rasd.inference.events import EventBuilder, EventRecord
from rasd.inference.io import open_output

from test_events import make_doc


@pytest.mark.parametrize("given, actor_type, words, expected", [
    (("Battles", "Non-state actor overtakes territory"), "state_forces", "", ("Battles", "Government regains territory")),
    (("Battles", "Non-state actor overtakes territory"), "rebel_group", "", ("Battles", "Non-state actor overtakes territory")),
    # a model saved with the old schema: the combined string and "Displacement" were not ACLED's
    (("Battles", "Government regains territory / Non-state actor overtakes territory"), "state_forces", "",
     ("Battles", "Government regains territory")),
    (("Strategic developments", "Displacement"), "", "", ("Strategic developments", "Other")),
    (("Explosions/Remote violence", "Shelling/artillery/missile attack"), "", "غارة جوية",
     ("Explosions/Remote violence", "Air/drone strike")),
    (("Explosions/Remote violence", "Shelling/artillery/missile attack"), "", "انفجار عبوة ناسفة",
     ("Explosions/Remote violence", "Remote explosive/landmine/IED")),
    (("Explosions/Remote violence", "Shelling/artillery/missile attack"), "", "هجوم انتحاري بسيارة مفخخة",
     ("Explosions/Remote violence", "Suicide bomb")),
    (("Explosions/Remote violence", "Shelling/artillery/missile attack"), "", "قصف مدفعي",
     ("Explosions/Remote violence", "Shelling/artillery/missile attack")),
    (("Strategic developments", "Arrests"), "rebel_group", "", ("Violence against civilians", "Abduction/forced disappearance")),
    (("Strategic developments", "Arrests"), "state_forces", "", ("Strategic developments", "Arrests")),
    (("Not a type", "Armed clash"), "", "", ("", "")),
])
def test_categories_are_settled_to_valid_acled_types(given, actor_type, words, expected):
    assert settle_category(*given, actor_type, words) == expected


def test_every_schema_category_is_valid_acled(schema):
    for event_type, sub_event_type in [*schema.event_categories.values(), *schema.civilian_categories.values()]:
        assert sub_event_type in EVENT_TYPES[event_type], (event_type, sub_event_type)


@pytest.mark.parametrize("start, end, precision", [("2024-12-07", "2024-12-07", 1), ("2024-12-01", "2024-12-07", 2),
                                                   ("2024-11-01", "2024-11-30", 3), ("", "", None)])
def test_time_precision_follows_the_width_of_the_dates(start, end, precision):
    assert time_precision(start, end) == precision


def _record(event_id, doc_id, date, place="geonames:170063", actor1="Military Forces of Syria",
            actor2="Hayat Tahrir al-Sham", fatalities=None, kind="Battles", precision=1, **kw):
    return EventRecord(event_id, doc_id, "ATTACK", kind, "Armed clash", date=date, date_end=kw.pop("date_end", date),
                       actor1=actor1, actor1_type="state_forces" if actor1 else "", actor2=actor2,
                       actor2_type="rebel_group" if actor2 else "", place_id=place, place_name="Aleppo",
                       country="Syria", country_code="SY", geo_precision=precision, fatalities=fatalities,
                       count_low=fatalities, count_high=fatalities, doc_ids=[doc_id], **kw)


def test_reports_that_agree_merge_into_one_record_listing_every_document():
    reports = [
        _record("a-e1", "a", "2024-12-06", fatalities=12, source="Wire A", url="https://a.example/1"),
        _record("b-e2", "b", "2024-12-06", actor2="", fatalities=9, source="Wire B"),  # one side unnamed
        _record("c-e1", "c", "2024-12-01", date_end="2024-12-07", actor1="Hayat Tahrir al-Sham",
                actor2="Military Forces of Syria", source="Wire A"),  # sides named the other way round, a week
    ]
    [merged] = merge_records(reports)
    assert merged.doc_ids == ["a", "b", "c"] and merged.source == "Wire A; Wire B"
    assert merged.fatalities == 9  # the most conservative count, as ACLED codes conflicting reports
    assert "fatalities reported: a: 12; b: 9" in merged.notes
    assert (merged.date, merged.date_end, merged.time_precision) == ("2024-12-06", "2024-12-06", 1)
    assert merged.actor2 == "Hayat Tahrir al-Sham"
    assert [r.event_id for r in merge_records(list(reversed(reports)))] == [merged.event_id]  # order-free


@pytest.mark.parametrize("other", [
    _record("b-e1", "b", "2024-12-08"),  # another day
    _record("b-e1", "b", "2024-12-06", place="geonames:169389"),  # another town
    _record("b-e1", "b", "2024-12-06", actor1="Military Forces of Russia"),  # another actor
    _record("b-e1", "b", "2024-12-06", kind="Explosions/Remote violence"),  # another type
    _record("b-e1", "b", "2024-12-06", place="iso3166-2:SY-HL", precision=3),  # only a province
    _record("a-e2", "a", "2024-12-06"),  # the same document: two events it reports apart
])
def test_near_misses_do_not_merge(other):
    first = _record("a-e1", "a", "2024-12-06")
    assert not same_event(first, other)
    assert len(merge_records([first, other])) == 2


def test_rows_of_a_built_record_have_valid_types_and_actor_codes(schema):
    doc = make_doc(
        "سيطرت قوات النظام على بلدة سراقب بعد معارك مع هيئة تحرير الشام أمس.",
        {"e": ("سيطرت", "CAPTURE"), "f1": ("قوات النظام", "FORCE"), "g": ("سراقب", "GPE"),
         "f2": ("هيئة تحرير الشام", "FORCE"), "t": ("أمس", "TIME")},
        [("e", "AGENT", "f1"), ("e", "TARGET", "g"), ("e", "TARGET", "f2"), ("e", "TIME", "t")], date="2024-12-07")
    [record] = EventBuilder(schema).build(doc)
    row = acled_row(record)
    assert (row["event_type"], row["sub_event_type"]) == ("Battles", "Government regains territory")
    assert (row["actor1"], row["inter1"], row["actor2"], row["inter2"], row["interaction"]) == \
        ("Military Forces of Syria", 1, "Hayat Tahrir al-Sham", 2, 12)
    assert (row["event_date"], row["year"], row["time_precision"], row["disorder_type"]) == \
        ("2024-12-06", 2024, 1, "Political violence")


def test_csv_and_parquet_rows_carry_the_same_values(tmp_path, schema):
    pq = pytest.importorskip("pyarrow.parquet")
    doc = make_doc("قتل مسلحون مجهولون خمسة مدنيين في الموصل أمس.",
                   {"e": ("قتل", "CASUALTY"), "f": ("مسلحون مجهولون", "FORCE"), "n": ("خمسة", "NUM"),
                    "c": ("مدنيين", "GROUP"), "g": ("الموصل", "GPE"), "t": ("أمس", "TIME")},
                   [("e", "AGENT", "f"), ("e", "TARGET", "c"), ("c", "QUANTITY", "n"), ("e", "LOCATION", "g"),
                    ("e", "TIME", "t")], date="2024-12-07")
    doc.events = EventBuilder(schema).build(doc)
    for suffix in ("csv", "parquet"):
        with open_output(tmp_path / f"events.{suffix}") as writer:
            writer.write([doc])
    with open(tmp_path / "events.csv", encoding="utf-8", newline="") as f:
        [row] = list(csv.DictReader(f))
    table = pq.read_table(tmp_path / "events.parquet")
    assert table.column_names == list(COLUMNS)
    [prow] = table.to_pylist()
    assert (prow["fatalities"], prow["inter1"], prow["inter2"], prow["geo_precision"]) == (5, 3, 7, 1)
    assert (row["fatalities"], row["actor1"], row["actor2"]) == ("5", "Unidentified Armed Group (Iraq)", "Civilians (Iraq)")
    assert prow["civilian_targeting"] == row["civilian_targeting"] == "Civilian targeting"
    assert prow["sub_event_type"] in EVENT_TYPES[prow["event_type"]]
    assert abs(prow["latitude"] - 36.34) < 0.1 and prow["admin1"] == row["admin1"] == "Ninawa"
    with pytest.raises(ValueError, match="rows"):
        open_output(tmp_path / "docs.jsonl").write_records(doc.events)


def test_cli_events_merge_writes_merged_rows(tmp_path, capsys):
    from rasd.training.cli import main

    docs = []
    for doc_id, count in (("a", 12), ("b", 9)):
        record = _record(f"{doc_id}-e1", doc_id, "2024-12-06", fatalities=count)
        docs.append({"id": doc_id, "text": "x", "events": [record.to_dict()]})
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in docs) + "\n", encoding="utf-8")
    assert main(["events", "merge", str(path), "-o", str(tmp_path / "merged.csv")]) == 0
    stats = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (stats["events"], stats["merged_events"]) == (2, 1)
    with open(tmp_path / "merged.csv", encoding="utf-8", newline="") as f:
        [row] = list(csv.DictReader(f))
    assert (row["doc_ids"], row["fatalities"]) == ("a; b", "9")
    assert tuple(row)[:len(ACLED_COLUMNS)] == ACLED_COLUMNS
