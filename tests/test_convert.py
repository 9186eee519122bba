"""Converters: CoNLL ⇄ JSONL exact, JSONL → BIO → JSONL exact on the whole shipped corpus, markup → JSONL."""
from pathlib import Path

import pytest

from rasd.inference.documents import read_documents, write_documents
from rasd.training.cli import main
from rasd.training.convert import ConversionError, from_bio, read_conll, read_markup, to_bio, write_conll

CORPUS = sorted((Path(__file__).resolve().parents[1] / "data" / "conflict-ar").glob("*.jsonl"))

CONLL = """قال\tO
المرصد\tB-ORG
السوري\tI-ORG
إن\tO
(أ\tO
ف\tO
ب)\tO
قوات\tI-ORG
النظام\tI-ORG
دخلت\tO
حمص\tB-LOC

غير\tB-PERS
بيدرسن\tI-PERS
وصل\tO
إلى\tO
جنيف\tB-LOC
.\tO
"""


def test_conll_to_jsonl_to_conll_is_exact(tmp_path):
    src = tmp_path / "in.conll"
    src.write_text(CONLL, encoding="utf-8")
    docs = read_conll(src)
    assert [docs[0].text[s.start:s.end] for s in docs[0].spans] == ["المرصد السوري", "قوات النظام", "حمص"]
    jsonl, back = tmp_path / "mid.jsonl", tmp_path / "out.conll"
    write_documents(docs, jsonl)
    write_conll(read_documents(jsonl), back)
    assert back.read_text(encoding="utf-8") == CONLL + "\n"


def test_conll_labels_go_through_schema_aliases(tmp_path):
    from rasd.inference.schema import Schema

    src = tmp_path / "in.conll"
    src.write_text("غير\tB-PER\nبيدرسن\tI-PER\n", encoding="utf-8")
    aner = Schema.from_yaml(Path(__file__).resolve().parents[1] / "configs/schema/anercorp.yaml")
    assert [s.label for s in read_conll(src, aner)[0].spans] == ["PERS"]


def test_conll_errors_name_the_line(tmp_path):
    src = tmp_path / "bad.conll"
    src.write_text("قال\tO\nحمص\tX-LOC\n", encoding="utf-8")
    with pytest.raises(ConversionError, match=r"bad.conll:2"):
        read_conll(src)


def test_bio_round_trip_on_the_whole_corpus_has_zero_differences():
    n_docs = n_spans = 0
    assert CORPUS, "the shipped corpus data/conflict-ar/*.jsonl is missing (make corpus)"
    for path in CORPUS:
        for doc in read_documents(path):
            words, tags = to_bio(doc)
            back = from_bio(doc.id, doc.text, tags)
            assert [(s.start, s.end, s.label) for s in back.spans] == sorted((s.start, s.end, s.label) for s in doc.spans)
            n_docs += 1
            n_spans += len(doc.spans)
    assert n_docs >= 300 and n_spans > 5000


def test_markup_reader_matches_the_shared_compiler(tmp_path):
    docs, problems = read_markup(Path(__file__).parent / "data" / "tiny.txt")
    assert not problems
    d = docs[0]
    assert d.meta == {"date": "2024-12-07", "region": "Syria"}
    assert {d.text[s.start:s.end] for s in d.spans} >= {"المرصد السوري لحقوق الإنسان", "حوالي 300", "الصنمين"}
    assert ("انسحبوا", "ORIGIN", "الصنمين") in {(r.head.text, r.label, r.tail.text) for r in d.relations}


def test_markup_problems_are_listed(tmp_path):
    src = tmp_path / "bad.txt"
    src.write_text("# id: x-1\n[[حمص|GPE|g1]] [[قصف|BOMBARD|e1]]\n@ e1 LOCATION g9\n@ e1 bad\n", encoding="utf-8")
    _, problems = read_markup(src)
    text = "\n".join(map(str, problems))
    assert "missing span" in text and "bad relation line" in text


def test_cli_convert_markup_and_conll(tmp_path):
    out = tmp_path / "tiny.jsonl"
    assert main(["convert", str(Path(__file__).parent / "data" / "tiny.txt"), str(out)]) == 0
    assert main(["validate", str(out)]) == 0
    conll = tmp_path / "tiny.conll"
    assert main(["convert", str(out), str(conll), "--to", "conll"]) == 0
    assert conll.read_text(encoding="utf-8").count("\n\n") == 3
