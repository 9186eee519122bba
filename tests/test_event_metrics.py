"""Scoring event records and geocoding against gold records, and the acceptance figures on the test split."""
import json
from pathlib import Path

import pytest

from rasd.inference.documents import read_documents
from rasd.training.event_metrics import GoldEventsError, read_gold_events, score_event_records

from test_events import make_doc

ROOT = Path(__file__).resolve().parents[1]
TEST = ROOT / "data" / "conflict-ar" / "test.jsonl"
GOLD = ROOT / "data" / "conflict-ar" / "events" / "test.jsonl"


def _doc():
    return make_doc("قصفت الطائرات مدينة إدلب أمس ما أسفر عن مقتل خمسة مدنيين.",
                    {"e": ("قصفت", "BOMBARD"), "g": ("إدلب", "GPE"), "t": ("أمس", "TIME"), "c": ("مقتل", "CASUALTY"),
                     "n": ("خمسة", "NUM"), "v": ("مدنيين", "GROUP")},
                    [("e", "LOCATION", "g"), ("e", "TIME", "t"), ("c", "TARGET", "v"), ("v", "QUANTITY", "n")],
                    date="2024-12-07", doc_id="d1")


def _gold(**change):
    event = {"type": "BOMBARD", "date": "2024-12-06", "date_end": "2024-12-06", "place": "geonames:169389",
             "actor1": "", "actor2": "Civilians (Syria)", "fatalities": 5, "mentions": [[0, 4]]}
    event.update(change)
    start = _doc().text.index("إدلب")
    return {"d1": {"events": [event], "places": [{"start": start, "end": start + 4, "text": "إدلب",
                                                  "place": "geonames:169389"}]}}


def test_a_record_that_agrees_with_gold_scores_one(schema):
    scores = score_event_records([_doc()], _gold(), schema)
    assert scores["events"]["f1"] == 1.0 and scores["events"]["fatalities_with_count"] == 1.0
    assert all(v == 1.0 for v in scores["events"]["fields"].values())
    assert scores["geocoding"] == {"accuracy": 1.0, "support": 1, "within_km": 10.0}


@pytest.mark.parametrize("change, wrong_field", [
    ({"date": "2024-12-05", "date_end": "2024-12-05"}, "date"),
    ({"place": "geonames:170063"}, "place"),  # Aleppo, 60 km away
    ({"fatalities": 7}, "fatalities"),
    ({"actor2": "Civilians (Iraq)"}, "actor2"),
])
def test_a_wrong_field_is_counted_where_it_belongs(schema, change, wrong_field):
    scores = score_event_records([_doc()], _gold(**change), schema)["events"]
    assert scores["fields"][wrong_field] == 0.0
    assert all(v == 1.0 for k, v in scores["fields"].items() if k != wrong_field)
    # type + date + place decide the event-level match; actors and counts do not
    assert scores["f1"] == (0.0 if wrong_field in ("date", "place") else 1.0)


def test_a_malformed_gold_file_names_its_line(tmp_path):
    path = tmp_path / "gold.jsonl"
    path.write_text('{"id": "a", "events": []}\n{"id": "b", "events": [{"type": "ATTACK"}]}\n', encoding="utf-8")
    with pytest.raises(GoldEventsError, match=r"gold.jsonl:2: b event #0 lacks"):
        read_gold_events(path)


def test_gold_records_cover_the_test_split_with_valid_places():
    from rasd.inference.geocoding import default_gazetteer

    gold = read_gold_events(GOLD)
    docs = read_documents(TEST)
    assert sorted(gold) == sorted(d.id for d in docs) and len(docs) == 43
    gazetteer = default_gazetteer()
    for entry in gold.values():
        for event in entry["events"]:
            assert event["place"] is None or gazetteer.by_id(event["place"]) is not None, event
            assert event["fatalities"] is None or event["fatalities"] >= 0


def test_acceptance_on_the_test_split_with_gold_spans(schema):
    """Issue 14: geocoding puts >= 90% of gazetteer places within 10 km; fatalities exact in >= 90% of counted records."""
    scores = score_event_records(read_documents(TEST), read_gold_events(GOLD), schema)
    assert scores["geocoding"]["accuracy"] >= 0.9 and scores["geocoding"]["support"] >= 150
    assert scores["events"]["fatalities_with_count"] >= 0.9 and scores["events"]["fatalities_support"] >= 15


def test_rasd_evaluate_adds_event_scores_when_gold_records_lie_beside_the_data(tmp_path, capsys):
    from rasd.training.cli import main

    data = tmp_path / "small.jsonl"
    first = TEST.read_text(encoding="utf-8").splitlines()[:3]
    data.write_text("\n".join(first) + "\n", encoding="utf-8")
    ids = {json.loads(line)["id"] for line in first}
    (tmp_path / "events").mkdir()
    (tmp_path / "events" / "small.jsonl").write_text("".join(
        line + "\n" for line in GOLD.read_text(encoding="utf-8").splitlines() if json.loads(line)["id"] in ids),
        encoding="utf-8")
    assert main(["evaluate", "--pred", str(data), "--data", str(data), "--out", str(tmp_path / "eval")]) == 0
    assert "events: F1" in capsys.readouterr().out
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text(encoding="utf-8"))
    assert 0 <= metrics["events"]["f1"] <= 1 and metrics["geocoding"]["support"] > 0
    assert "Event records" in (tmp_path / "eval" / "report.md").read_text(encoding="utf-8")
