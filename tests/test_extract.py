"""Extraction end to end with a random tiny model: offsets, odd and long inputs, determinism, readers, the CLI.

A random model predicts arbitrary spans, so these tests check structure, never predictions.
"""
import csv
import io
import json
import sys

import pytest
import torch

from rasd.inference.documents import Document
from rasd.inference.events import CSV_COLUMNS
from rasd.inference.extractor import Extractor
from rasd.inference.io import read_inputs, run_extraction
from rasd.inference.modeling import RasdModel
from rasd.training.cli import main
from rasd.training.validate import validate_files

MIXED = ("قَصَفَتْ الطائـــرات مدينةَ حلب 🙂 according to Reuters ✅ اليوم،\u200f وقُتِلَ ٣ مدنيين.\n"
         "ونـزح آلاف السكان نحو الحدود 🏃‍♂️ (AFP).")


@pytest.fixture
def model_dir(tmp_path, tiny_model, tiny_tokenizer):
    out = tmp_path / "model"
    tiny_model.save_pretrained(out)
    tiny_tokenizer.save_pretrained(out)
    return str(out)


def eager(extractor: Extractor) -> Extractor:
    """Make the random model put every word in a span and relate every pair it may, so checks are never vacuous."""
    with torch.no_grad():
        extractor.model.tagger.bias[extractor.tags.index("O")] = -10.0
        extractor.model.relations.mlp[-1].bias[extractor.classes.index("NONE")] = -10.0
    return extractor


def assert_well_formed(doc) -> None:
    previous_end = 0
    for s in sorted(doc.spans, key=lambda s: s.start):
        assert previous_end <= s.start < s.end <= len(doc.text)
        assert doc.text[s.start:s.end] == s.text and s.text == s.text.strip()
        previous_end = s.end
    for r in doc.relations:
        assert r.head in doc.spans and r.tail in doc.spans
    for record in doc.events:
        assert all(doc.text[m["start"]:m["end"]] == m["text"] for m in record.mentions)


def test_offsets_read_the_original_text_with_diacritics_tatweel_latin_and_emoji(model_dir):
    [doc] = eager(Extractor.from_pretrained(model_dir)).extract([MIXED])
    assert len(doc.spans) > 5 and doc.relations and doc.events
    assert_well_formed(doc)
    assert any(s.text == "قَصَفَتْ" for s in doc.spans) and any(s.text == "الطائـــرات" for s in doc.spans)


def sparse(extractor: Extractor, sample: str) -> Extractor:
    """Raise the random tagger's O bias until at most one word in 20 of ``sample`` starts a span,
    so a 100,000-character document has spans but stays a matter of seconds."""
    o, words = extractor.tags.index("O"), len(sample.split())
    for step in range(100):
        with torch.no_grad():
            extractor.model.tagger.bias[o] = 0.05 * step
        if len(extractor.predict_documents([Document("sample", sample)])[0].spans) <= words // 20:
            break
    return extractor


def test_empty_blank_and_very_long_documents(tiny_encoder_dir, tiny_tokenizer, schema):
    torch.manual_seed(0)
    model = RasdModel.from_encoder(tiny_encoder_dir, schema, max_length=128, window_stride=32)
    sentence = "قصفت القوات مدينة حلب أمس، ما أسفر عن مقتل ٣ مدنيين ونزوح مئات العائلات نحو الحدود. "
    extractor = sparse(Extractor(model, tiny_tokenizer), sentence * 20)
    long_text = (sentence * (100_000 // len(sentence) + 1))[:100_000]
    assert len(extractor.encoder.encode(long_text).windows) > 100
    empty, blank, long_doc = extractor.extract(["", " \n\t ", long_text], batch_size=64)
    assert (empty.spans, empty.events, blank.spans, blank.events) == ([], [], [], [])
    assert len(long_doc.text) == 100_000 and long_doc.spans
    assert long_doc.spans[-1].start > 90_000  # the last windows are predicted too
    assert_well_formed(long_doc)


def test_extraction_is_deterministic(model_dir):
    extractor = eager(Extractor.from_pretrained(model_dir))
    texts = [MIXED, "اندلعت اشتباكات بين الجيش والمسلحين في درعا أمس."]
    first = [d.to_dict() for d in extractor.extract(texts, dates=["2024-12-07", None])]
    second = [d.to_dict() for d in extractor.extract(texts, dates=["2024-12-07", None])]
    assert first == second and first[0]["events"]


def test_readers_keep_ids_and_meta_and_report_bad_lines(tmp_path, monkeypatch):
    jsonl = tmp_path / "news.jsonl"
    jsonl.write_text("\ufeff" + "\n".join([
        json.dumps({"id": "a", "text": "نص أول", "meta": {"date": "2024-12-07"}}, ensure_ascii=False),
        "",
        json.dumps({"text": "نص بلا معرف"}, ensure_ascii=False),
        json.dumps({"id": "b"}),
        json.dumps({"id": "c", "text": 5}),
        json.dumps({"id": "a", "text": "معرف مكرر"}, ensure_ascii=False),
    ]) + "\n", encoding="utf-8")
    txt = tmp_path / "notes.txt"
    txt.write_text("سطر أول\n\nسطر ثالث\n", encoding="utf-8")
    problems, warnings = [], []
    docs = list(read_inputs([str(jsonl), str(txt), str(tmp_path / "missing.txt")], report=problems.append,
                            warn=warnings.append))
    assert [(d.id, d.text) for d in docs] == [("a", "نص أول"), ("news-3", "نص بلا معرف"), ("a~2", "معرف مكرر"),
                                             ("notes", "سطر أول\n\nسطر ثالث\n")]
    assert docs[0].meta == {"date": "2024-12-07"}
    assert [p.split(": ")[0] for p in problems] == [f"{jsonl}:4", f"{jsonl}:5", f"{tmp_path / 'missing.txt'}"]
    assert len(warnings) == 1
    assert [d.id for d in read_inputs([str(txt)], lines=True)] == ["notes-1", "notes-3"]

    monkeypatch.setattr(sys, "stdin", io.StringIO('{"id": "x", "text": "نص"}\n\n{"text": "آخر"}\n'))
    assert [d.id for d in read_inputs(["-"])] == ["x", "stdin-3"]
    monkeypatch.setattr(sys, "stdin", io.StringIO('{"id": "x", "text": "نص"}\nسطر عادي\n'))
    assert [d.text for d in read_inputs(["-"])] == ['{"id": "x", "text": "نص"}', "سطر عادي"]


def test_cli_extract_skips_a_malformed_line_and_writes_valid_jsonl_and_csv(tmp_path, model_dir, schema, capsys):
    inp = tmp_path / "in.jsonl"
    inp.write_text("\n".join([
        json.dumps({"id": "n1", "text": "قصفت الطائرات مدينة حلب أمس، ما أسفر عن مقتل ثلاثة مدنيين.",
                    "meta": {"date": "2024-12-07", "source": "test"}}, ensure_ascii=False),
        '{"id": "broken", "text": "نص',
        json.dumps({"text": MIXED}, ensure_ascii=False),
    ]) + "\n", encoding="utf-8")
    out_jsonl, out_csv = tmp_path / "out" / "docs.jsonl", tmp_path / "out" / "events.csv"

    assert main(["extract", "--model", model_dir, "-q", "--keep-going", str(inp), "-o", str(out_jsonl)]) == 0
    captured = capsys.readouterr()
    assert f"{inp}:2:" in captured.err and "1 input skipped" in captured.err
    stats = json.loads(captured.err.strip().splitlines()[-1])  # the summary goes to stderr
    assert stats["documents"] == 2 and len(stats["errors"]) == 1 and stats["output"] == str(out_jsonl)
    written = [json.loads(line) for line in out_jsonl.read_text(encoding="utf-8").splitlines()]
    assert [d["id"] for d in written] == ["n1", "in-3"]
    assert written[0]["meta"] == {"date": "2024-12-07", "source": "test"}
    assert all("events" in d or not d["spans"] for d in written)
    n_docs, problems = validate_files([out_jsonl], schema)
    assert n_docs == 2 and [p for p in problems if p.severity == "error"] == []

    assert main(["extract", "--model", model_dir, "-q", "--print", str(inp), "-o", str(out_csv)]) == 1  # skipped
    assert "pass --keep-going" in capsys.readouterr().err
    with open(out_csv, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert all(len(row) == len(CSV_COLUMNS) for row in rows)
    assert len(rows) - 1 == sum(len(d.get("events", [])) for d in written)


def test_run_extraction_streams_text_lines_to_stdout(tmp_path, model_dir, capsys):
    txt = tmp_path / "lines.txt"
    txt.write_text("قصفت الطائرات حلب.\n\nنزح السكان.\n", encoding="utf-8")
    extractor = eager(Extractor.from_pretrained(model_dir))
    stats = run_extraction(extractor, [str(txt)], "-", lines=True, show_progress_bar=False, print_records=True)
    captured = capsys.readouterr()
    docs = [json.loads(line) for line in captured.out.splitlines()]
    assert [d["id"] for d in docs] == ["lines-1", "lines-3"]
    assert stats["documents"] == 2 and stats["events"] == sum(len(d.get("events", [])) for d in docs) > 0
    assert "lines-1-e1" in captured.err  # readable records go to stderr when stdout carries the documents
    with pytest.raises(ValueError, match=r"\.jsonl, \.csv or \.parquet"):
        run_extraction(extractor, [str(txt)], str(tmp_path / "out.txt"))


def test_cli_extract_writes_parquet_and_merges_reports(tmp_path, model_dir, capsys):
    pq = pytest.importorskip("pyarrow.parquet")
    from rasd.inference.acled import COLUMNS, EVENT_TYPES

    inp = tmp_path / "in.jsonl"
    inp.write_text("\n".join(json.dumps({"id": f"n{i}", "text": "قصفت الطائرات مدينة حلب أمس، ما أسفر عن مقتل ثلاثة مدنيين.",
                                         "meta": {"date": "2024-12-07", "source": f"wire {i}"}}, ensure_ascii=False)
                             for i in (1, 2)) + "\n", encoding="utf-8")
    assert main(["extract", "--model", model_dir, "-q", str(inp), "-o", str(tmp_path / "events.parquet")]) == 0
    table = pq.read_table(tmp_path / "events.parquet")
    assert table.column_names == list(COLUMNS)
    rows = table.to_pylist()
    assert all(r["sub_event_type"] in EVENT_TYPES[r["event_type"]] for r in rows if r["event_type"])
    assert {r["source"] for r in rows} <= {"wire 1", "wire 2"}
    assert main(["extract", "--model", model_dir, "-q", "--merge", str(inp), "-o", str(tmp_path / "m.csv")]) == 0
    stats = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert stats["merged_events"] <= stats["events"]
    with pytest.raises(ValueError, match="merged records are rows"):
        run_extraction(model_dir, [str(inp)], str(tmp_path / "m.jsonl"), merge=True, show_progress_bar=False)


def test_extract_on_cpu_with_one_thread(tmp_path, model_dir, capsys):
    from rasd.inference.io import load_extractor

    src = tmp_path / "in.txt"
    src.write_text("اشتباكات عنيفة في حلب.", encoding="utf-8")
    before = torch.get_num_threads()
    try:
        assert main(["extract", "--model", model_dir, "--device", "cpu", "--threads", "1", "-q", str(src),
                     "-o", str(tmp_path / "out.jsonl")]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert json.loads(capsys.readouterr().err.strip().splitlines()[-1])["documents"] == 1
    assert load_extractor(model_dir, device="cpu").device.type == "cpu"


def test_unknown_or_absent_devices_are_refused_with_the_reason(model_dir):
    from rasd.inference.io import load_extractor

    with pytest.raises(ValueError, match="use one of cpu, cuda"):
        load_extractor(model_dir, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            load_extractor(model_dir, device="cuda")
    assert main(["extract", "--model", model_dir, "--device", "gpu"]) == 2  # a usage error
