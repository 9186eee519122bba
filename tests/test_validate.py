"""The validator reports every violation class with the document id, one line each."""
import json

import pytest

from rasd.training.cli import main
from rasd.training.validate import validate_files, validate_record

TEXT = "قصف الجيش مدينة حمص أمس"


def doc(**over):
    d = {"id": "d1", "text": TEXT, "meta": {},
         "spans": [{"id": "s1", "start": 0, "end": 3, "label": "BOMBARD"},
                   {"id": "s2", "start": 4, "end": 9, "label": "FORCE"},
                   {"id": "s3", "start": 16, "end": 19, "label": "GPE"}],
         "relations": [{"head": "s1", "tail": "s2", "label": "AGENT"}, {"head": "s1", "tail": "s3", "label": "LOCATION"}]}
    d.update(over)
    return d


def messages(record, schema):
    return [p.message for p in validate_record(record, schema, "f:1") if p.severity == "error"]


def test_a_valid_document_has_no_problem(schema):
    assert validate_record(doc(), schema) == []


@pytest.mark.parametrize("spans, relations, expected", [
    ([{"id": "s1", "start": 0, "end": 99, "label": "GPE"}], [], "outside the text"),
    ([{"id": "s1", "start": 3, "end": 9, "label": "FORCE"}], [], "white space"),
    ([{"id": "s1", "start": 4, "end": 9, "label": "FORCE"}, {"id": "s2", "start": 6, "end": 15, "label": "GPE"}], [],
     "overlap"),
    ([{"id": "s1", "start": 9, "end": 4, "label": "FORCE"}], [], "not after start"),
    ([{"id": "s1", "start": 4, "end": 9, "label": "ARMY"}], [], "unknown label 'ARMY'"),
    ([{"id": "s1", "start": 0, "end": 3, "label": "BOMBARD"}], [{"head": "s1", "tail": "s9", "label": "AGENT"}],
     "missing span"),
    ([{"id": "s1", "start": 0, "end": 3, "label": "BOMBARD"}, {"id": "s2", "start": 4, "end": 9, "label": "FORCE"}],
     [{"head": "s1", "tail": "s2", "label": "COMMANDS"}], "unknown relation label"),
    ([{"id": "s1", "start": 0, "end": 3, "label": "BOMBARD"}, {"id": "s2", "start": 4, "end": 9, "label": "FORCE"}],
     [{"head": "s1", "tail": "s2", "label": "INSTRUMENT"}], "does not allow INSTRUMENT from BOMBARD to FORCE"),
    ([{"id": "s1", "start": 0, "end": 3, "label": "BOMBARD"}, {"id": "s1", "start": 4, "end": 9, "label": "FORCE"}], [],
     "duplicate span id s1"),
])
def test_each_violation_class_is_reported(schema, spans, relations, expected):
    found = messages(doc(spans=spans, relations=relations), schema)
    assert any(expected in m for m in found), found


def test_files_report_bad_json_with_line_number_and_duplicate_ids(tmp_path, schema, capsys):
    path = tmp_path / "bad.jsonl"
    good = json.dumps(doc(), ensure_ascii=False)
    broken = json.dumps(doc(id="d2", spans=[{"id": "s1", "start": 0, "end": 99, "label": "GPE"}], relations=[]),
                        ensure_ascii=False)
    path.write_text("\n".join([good, '{"id": "d3", "text": ', good, broken]) + "\n", encoding="utf-8")
    n, problems = validate_files([path], schema)
    assert n == 3
    text = "\n".join(map(str, problems))
    assert f"{path}:2" in text and "invalid JSON" in text
    assert "duplicate document id" in text and f"{path}:3: d1" in text
    assert f"{path}:4: d2" in text and "outside the text" in text
    # the CLI prints all of them, keeps going and fails
    assert main(["validate", str(path), "--schema", "configs/schema/conflict.yaml"]) == 1
    out = capsys.readouterr().out
    assert out.count("error") >= 3 and "3 documents" in out


def test_cli_passes_a_clean_file(tmp_path, capsys):
    path = tmp_path / "ok.jsonl"
    path.write_text(json.dumps(doc(), ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["validate", str(path)]) == 0
