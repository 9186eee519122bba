"""rasd evaluate: predicted or saved predictions, JSONL or CoNLL gold, report files with the contract's keys."""
import json
from pathlib import Path

import pytest

from rasd.inference.documents import write_documents
from rasd.inference.modeling import RasdModel
from rasd.inference.schema import Schema
from rasd.training.cli import main
from rasd.training.convert import read_conll
from rasd.training.evaluation import evaluate

ROOT = Path(__file__).resolve().parents[1]
CONLL = "غير\tB-PERS\nبيدرسن\tI-PERS\nوصل\tO\nإلى\tO\nجنيف\tB-LOC\n.\tO\n\nقالت\tO\nالأمم\tB-ORG\nالمتحدة\tI-ORG\nإن\tO\nحمص\tB-LOC\nهادئة\tO\n"


@pytest.fixture
def model_dir(tmp_path, tiny_encoder_dir, tiny_tokenizer, schema):
    model = RasdModel.from_encoder(tiny_encoder_dir, schema, max_length=32, window_stride=8)
    model.save_pretrained(tmp_path / "m")
    tiny_tokenizer.save_pretrained(tmp_path / "m")
    return tmp_path / "m"


def test_evaluate_writes_metrics_report_and_html(tmp_path, model_dir, tiny_docs, capsys):
    gold = tmp_path / "gold.jsonl"
    write_documents(tiny_docs, gold)
    assert main(["evaluate", "--model", str(model_dir), "--data", str(gold), "--out", str(tmp_path / "ev")]) == 0
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    for key in ("spans", "entities", "triggers", "arguments", "links", "relations"):
        assert key in metrics
    assert set(metrics["spans"]["micro"]) >= {"p", "r", "f1"}
    assert 0.0 <= metrics["combined_f1"] <= 1.0
    html = (tmp_path / "ev" / "report.html").read_text(encoding="utf-8")
    assert 'dir="rtl"' in html and (tmp_path / "ev" / "report.md").exists()
    assert "report.html" in capsys.readouterr().out


def test_scoring_gold_against_itself_is_perfect(tmp_path, tiny_docs):
    gold = tmp_path / "gold.jsonl"
    write_documents(tiny_docs, gold)
    metrics, _ = evaluate(str(gold), str(tmp_path / "ev"), pred=str(gold),
                          schema=str(ROOT / "configs/schema/conflict.yaml"))
    assert metrics["spans"]["micro"]["f1"] == 1.0 and metrics["relations"]["micro"]["f1"] == 1.0


def test_conll_gold_scores_the_same_as_its_jsonl_conversion(tmp_path, tiny_encoder_dir, tiny_tokenizer):
    aner = Schema.from_yaml(ROOT / "configs/schema/anercorp.yaml")
    model = RasdModel.from_encoder(tiny_encoder_dir, aner, max_length=32, window_stride=8)
    model.save_pretrained(tmp_path / "m")
    tiny_tokenizer.save_pretrained(tmp_path / "m")
    conll = tmp_path / "gold.conll"
    conll.write_text(CONLL, encoding="utf-8")
    jsonl = tmp_path / "gold.jsonl"
    write_documents(read_conll(conll, aner), jsonl)
    a, _ = evaluate(str(conll), str(tmp_path / "a"), model=str(tmp_path / "m"))
    b, _ = evaluate(str(jsonl), str(tmp_path / "b"), model=str(tmp_path / "m"))
    assert a == b
    # and the predictions of a random model are not trivially perfect or empty of gold
    assert a["spans"]["per_label"]["PERS"]["support"] == 1


def test_relations_on_gold_spans_keep_every_gold_span_and_score_only_relations(tiny_model, tiny_tokenizer, tiny_docs,
                                                                              schema):
    from rasd.inference.extractor import Extractor
    from rasd.training.metrics import relations_on_gold_spans

    predicted = Extractor(tiny_model, tiny_tokenizer).predict_relations(tiny_docs)
    for gold, pred in zip(tiny_docs, predicted):
        assert sorted(s.key for s in pred.spans) == sorted(s.key for s in gold.spans)
        assert all(schema.relation_allowed(r.label, r.head.label, r.tail.label) for r in pred.relations)
    oracle = relations_on_gold_spans(tiny_docs, predicted, schema)
    assert set(oracle) == {"arguments", "links", "relations"}
    # gold relations scored against themselves: the oracle of a perfect relation head is 1
    assert relations_on_gold_spans(tiny_docs, tiny_docs, schema)["relations"]["micro"]["f1"] == 1.0
