"""Gold event records for data/conflict-ar/test.jsonl: the draft (EventBuilder on the gold spans) with
every record checked against the text and corrected by hand (CORRECTIONS below)."""
import copy, json, sys
from rasd.inference.documents import read_documents

G = lambda i: f"geonames:{i}"
TRIPOLI, GAZA, KHARTOUM, OMDURMAN, SIRTE, HOMS = G(2210247), G(281133), G(379252), G(365137), G(2210554), G(169577)
DAMASCUS, TAIZ, SANAA, MAALOULA, PALMYRA, OUAGA, NIAMEY = G(170654), G(70225), G(71137), G(167375), G(163808), G(2357048), G(2440485)
SDEROT, ASHKELON, KILIS, QANDALA, BELEDWEYNE = G(293619), G(295620), G(307864), G(53157), G(64460)

MF = "Military Forces of "
UAG = "Unidentified Armed Group "
LNA, GNA = MF + "Libya (Haftar faction)", MF + "Libya (Government of National Accord)"
RSF, SAF, HOUTHI, IS = "Rapid Support Forces", MF + "Sudan", "Houthis (Ansar Allah)", "Islamic State"

# doc -> {index: field overrides, "del": [...], "merge": [(into, from)], "add": [(trigger, occurrence, fields)], "places": {text: id}}
CORRECTIONS = {
    "hm-004": {1: {"place": TRIPOLI, "fatalities": None}, 5: {"place": None},
               6: {"actor2": LNA}, 7: {"actor1": LNA}},
    "hm-006": {1: {"date": "2023-10-07", "date_end": "2023-11-16"}, 3: {"actor1": "Civilians (Palestine)"},
               4: {"actor2": "Civilians (Palestine)"}},
    "hm-015": {1: {"actor2": "قوى الحرية والتغيير"}, 2: {"place": KHARTOUM},
               3: {"place": KHARTOUM, "actor1": "Protesters (Sudan)"}, 8: {"actor1": "Protesters (Sudan)"},
               14: {"actor1": "Protesters (Sudan)"}, "places": {"نهر النيل": None}},
    "hm-025": {0: {"actor2": ""}, 1: {"actor1": MF + "Iraq", "actor2": "Police Forces of Iraq"},
               2: {"actor1": "المنظمة الدولية للهجرة"}},
    "hm-032": {},
    "hm-050": {0: {"place": None, "actor1": MF + "United States", "actor2": ""},
               1: {"actor1": "Government of United States"}, 4: {"actor1": "Government of Russia"},
               7: {"actor2": "Government of Russia"}, "merge": [(0, 5)]},
    "iq-019": {1: {"actor1": MF + "United States"}, 5: {"actor1": "Government of Iraq", "date": "2014-06-01",
                                                         "date_end": "2014-08-31"}},
    "ly-002": {1: {"actor1": "المجلس الوطني الانتقالي"}, 2: {"place": SIRTE, "date": "", "date_end": ""},
               4: {"place": SIRTE}},
    "ly-011": {1: {"place": TRIPOLI}, 4: {"actor1": GNA, "actor2": LNA, "place": None}},
    "ly-014": {0: {"date": "", "date_end": ""}, 2: {"actor2": "Protesters (Libya)", "place": None},
               4: {"actor2": "عناصر"}, "merge": [(0, 1)]},
    "ly-018": {4: {"actor1": "Civilians (Libya)"}},
    "ps-026": {0: {"actor1": MF + "Israel", "fatalities": 2}, 1: {"place": SDEROT, "date": "2019-11-12",
                                                                  "date_end": "2019-11-12"},
               3: {"date": "2019-11-12", "date_end": "2019-11-13", "place": None},
               "places": {"سديروت": SDEROT, "وعسقلان": ASHKELON, "الشجاعية": None}},
    "sd-001": {3: {"place": KHARTOUM}, 5: {"actor2": RSF, "place": KHARTOUM}},
    "sd-005": {0: {"actor1": "الحكومة السودانية"}, 1: {"place": None, "actor1": "", "actor2": ""},
               2: {"place": None}, 3: {"place": None}, 4: {"actor1": SAF}, 5: {"actor1": ""},
               7: {"actor1": "Government of South Sudan"}, 8: {"actor1": MF + "South Sudan", "place": None},
               "places": {"دولة الجنوب": G(7909807)}},
    "sd-007": {0: {"place": OMDURMAN}, 1: {"actor1": "", "mentions": [[219, 224]]},
               2: {"actor1": SAF, "place": OMDURMAN}, 5: {"place": OMDURMAN, "actor2": "Civilians (Sudan)"},
               "add": [("اعترفت", 0, {"type": "STATEMENT", "actor1": RSF, "actor2": "", "place": None,
                                      "date": "", "date_end": "", "fatalities": None})]},
    "sd-008": {0: {"actor2": "Civilians (Sudan)", "fatalities": 2}, 2: {"actor2": "Civilians (Sudan)"},
               4: {"actor1": "الأمم المتحدة"}},
    "sd-013": {},
    "sd-017": {4: {"actor1": SAF}, 5: {"actor1": RSF}, "merge": [(0, 3)],
               "places": {"للنيل الأزرق": None}},
    "sd-019": {3: {"actor1": "Civilians (Sudan)"}, 4: {"place": None}},
    "sd-022": {},
    "sh-005": {0: {"place": None}, 1: {"actor2": "Government of France", "place": None},
               3: {"date": "2013-01-01", "date_end": "2022-02-17", "actor2": MF + "France", "place": None}},
    "sh-012": {0: {"actor1": MF + "Burkina Faso"}, 1: {"actor1": MF + "Burkina Faso"},
               2: {"actor1": MF + "Burkina Faso"}, 5: {"actor1": "Protesters (Burkina Faso)", "place": OUAGA},
               8: {"place": OUAGA}, 9: {"date": "2022-01-23", "date_end": "2022-01-23", "place": None}},
    "sh-019": {0: {"actor1": "Protesters (Niger)"}, 1: {"actor1": "Protesters (Niger)", "place": NIAMEY},
               2: {"actor2": "Protesters (Niger)"}},
    "so-004": {0: {"actor2": ""}, 1: {"date": "2022-09-16", "date_end": "2022-09-18", "actor2": ""},
               3: {"actor1": "Al Shabaab", "place": None}, 4: {"actor1": MF + "Somalia", "place": None},
               5: {"actor2": "Civilians (Somalia)"}, 6: {"actor1": "Ma'awisley Militia"},
               7: {"place": BELEDWEYNE, "actor1": "Civilians (Somalia)"}},
    "so-006": {1: {"actor2": IS, "place": None}, 3: {"actor1": "Puntland Dervish Force", "actor2": IS,
                                                      "date": "2025-01-20", "date_end": "2025-02-03"},
               4: {"place": QANDALA}, 5: {"date": "2025-01-01", "date_end": "2025-02-03", "actor2": IS},
               "places": {"ولاية بونتلاند": None}},
    "so-022": {},
    "sy-001": {3: {"fatalities": None, "actor1": "", "actor2": "", "place": None, "mentions": [[193, 199]]},
               5: {"date": "2011-03-01", "date_end": "2012-02-08"}, 7: {"place": HOMS, "actor1": "Civilians (Syria)"},
               "add": [("قتلت", 0, {"type": "CASUALTY", "actor1": MF + "Syria", "actor2": "الإرهابيين",
                                    "place": HOMS, "date": "", "date_end": "", "fatalities": 20})]},
    "sy-006": {3: {"place": HOMS}, "places": {"سهل البقاع": "iso3166-2:LB-BI"}},
    "sy-013": {0: {"actor2": ""}},
    "sy-016": {2: {"place": None}, "merge": [(0, 1)]},
    "sy-022": {2: {"actor1": MF + "Syria", "place": None}, 3: {"actor2": ""},
               6: {"date": "2025-03-06", "date_end": "2025-03-08", "fatalities": 200, "place": None},
               7: {"actor1": "Civilians (Syria)", "place": None}},
    "sy-027": {0: {"actor2": IS}, 1: {"actor1": IS},
               3: {"mentions": [[393, 400]], "actor1": IS, "actor2": "", "fatalities": None, "place": PALMYRA,
                   "date": "2015-05-01", "date_end": "2015-05-31"},
               4: {"actor1": IS, "place": PALMYRA},
               "add": [("أعدموا", 0, {"type": "CASUALTY", "actor1": IS, "actor2": "Civilians (Syria)", "place": PALMYRA,
                                      "date": "", "date_end": "", "fatalities": 20})],
               "extra_mentions": {0: [[244, 252]]}},
    "sy-038": {0: {"actor1": "Protesters (Syria)"}, 1: {"actor1": "Hayat Tahrir al-Sham", "place": None},
               2: {"actor2": "Protesters (Syria)"}},
    "sy-043": {0: {"actor1": "Civilians (Syria)"}, "places": {"كيليس": KILIS}},
    "sy-054": {0: {"actor1": "Protesters (Syria)"}, 1: {"place": DAMASCUS},
               2: {"place": DAMASCUS, "actor1": "Protesters (Syria)"}, "places": {"الميدان": None}},
    "sy-055": {0: {"actor2": ""}, 1: {"actor2": MF + "Syria"}, 4: {"actor1": "Al Nusra Front", "place": MAALOULA},
               5: {"actor1": "Al Nusra Front", "place": MAALOULA}, 7: {"place": None},
               8: {"place": MAALOULA}, 10: {"actor2": "Civilians (Syria)"},
               12: {"actor1": "Government of United States", "actor2": "Government of Russia"},
               "merge": [(8, 11)], "places": {"وعين التينة": None}},
    "ye-001": {1: {"actor2": "Civilians (Yemen)", "fatalities": 5}, "del": [0]},
    "ye-004": {1: {"place": TAIZ, "actor2": "Civilians (Yemen)", "fatalities": 1, "date": "2016-08-21",
                   "date_end": "2016-08-21"},
               2: {"date": "", "date_end": "", "place": TAIZ},
               3: {"date": "2015-01-01", "date_end": "2016-08-22", "place": TAIZ}, 6: {"place": TAIZ},
               "del": [0], "places": {"الروضة": None, "المدينة": TAIZ}},
    "ye-013": {0: {"actor1": MF + "Yemen"}},
    "ye-020": {0: {"fatalities": 3}, 3: {"place": None}, 6: {"actor1": HOUTHI, "actor2": "Government of Israel",
                                                              "place": None},
               "merge": [(0, 2)], "del": [5]},
    "ye-028": {0: {"actor1": "Protesters (Yemen)"}, 3: {"actor2": HOUTHI}},
    "ye-031": {5: {"place": SANAA, "actor2": "Protesters (Yemen)"},
               9: {"date": "2011-02-21", "date_end": "2011-03-21", "actor1": "Protesters (Yemen)", "place": SANAA},
               10: {"actor1": "Government of United States"}},
    "ye-032": {0: {"actor1": MF + "United States", "fatalities": 31, "actor2": "Civilians (Yemen)"},
               7: {"actor1": HOUTHI, "actor2": ""}, "merge": [(0, 2)], "del": [5]},
}

FIELDS = ("type", "date", "date_end", "place", "actor1", "actor2", "fatalities", "mentions")


def main(draft_path, test_path, out_path):
    drafts = {d["id"]: d for d in json.load(open(draft_path))}
    docs = {d.id: d for d in read_documents(test_path)}
    lines = []
    for doc_id, doc in docs.items():
        draft = drafts[doc_id]
        fix = CORRECTIONS.get(doc_id)
        assert fix is not None, f"{doc_id} not reviewed"
        events = [{k: e[k] for k in FIELDS} for e in draft["events"]]
        for idx, over in fix.items():
            if isinstance(idx, int):
                events[idx].update(over)
        for idx, spans in fix.get("extra_mentions", {}).items():
            events[idx]["mentions"] += spans
        drop = set(fix.get("del", []))
        for into, frm in fix.get("merge", []):
            events[into]["mentions"] += events[frm]["mentions"]
            drop.add(frm)
        for word, nth, fields in fix.get("add", []):
            start = -1
            for _ in range(nth + 1):
                start = doc.text.index(word, start + 1)
            events.append({**fields, "mentions": [[start, start + len(word)]]})
        events = [e for k, e in enumerate(events) if k not in drop]
        for e in events:
            e["date_end"] = e["date_end"] or e["date"]
            e["mentions"] = sorted(e["mentions"])
        events.sort(key=lambda e: e["mentions"][0])
        places = []
        for p in draft["places"]:
            place = fix.get("places", {}).get(p["text"], p["place"])
            places.append({"start": p["start"], "end": p["end"], "text": p["text"], "place": place})
        lines.append(json.dumps({"id": doc_id, "events": events, "places": places}, ensure_ascii=False))
    with open(out_path, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(len(lines), "documents,", sum(len(json.loads(l)["events"]) for l in lines), "events")


if __name__ == "__main__":
    main(*sys.argv[1:])
