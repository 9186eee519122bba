"""Scoring and the evaluation report, on hand-built Arabic documents scored by hand."""
from __future__ import annotations

import json
import math
import random
import re
from typing import Any, Iterator, Sequence

import pytest

from rasd.inference.documents import Document, Relation, Span
from rasd.inference.schema import Schema
from rasd.inference.text import split_words
from rasd.training.metrics import confusion_matrix, error_examples, score_documents, seqeval_span_scores
from rasd.training.report import write_report

SCHEMA = Schema.from_dict({
    "name": "test",
    "entities": ["FORCE", "GPE", "GROUP", "NUM", "TIME"],
    "triggers": ["ATTACK", "BOMBARD", "CASUALTY"],
    "roles": {"AGENT": ["FORCE", "GPE"], "TARGET": ["FORCE", "GPE", "GROUP"], "LOCATION": ["GPE"],
              "TIME": ["TIME"]},
    "links": {"MEMBER_OF": {"heads": ["FORCE"], "tails": ["FORCE", "GPE"]},
              "LOCATED_IN": {"heads": ["GPE"], "tails": ["GPE"]},
              "QUANTITY": {"heads": ["FORCE", "GROUP", "CASUALTY"], "tails": ["NUM"]}},
})

_MARKUP = re.compile(r"\[([^\[\]]+)\]([A-Z_]+)")


def make_doc(doc_id: str, markup: str, relations: Sequence[tuple[int, int, str]] = ()) -> Document:
    """A document from ``[words]LABEL`` markup; relations name spans by their order in the text."""
    text, spans, cursor = "", [], 0
    for m in _MARKUP.finditer(markup):
        text += markup[cursor:m.start()]
        spans.append(Span(len(text), len(text) + len(m.group(1)), m.group(2), m.group(1)))
        text += m.group(1)
        cursor = m.end()
    text += markup[cursor:]
    return Document(doc_id, text, spans=spans, relations=[Relation(spans[h], spans[t], lab) for h, t, lab in relations])


def close(actual: float, expected: float) -> bool:
    return math.isclose(actual, expected, abs_tol=1e-12)


def assert_prf(scores: dict[str, float], p: float, r: float, f1: float) -> None:
    assert (scores["p"], scores["r"], scores["f1"]) == pytest.approx((p, r, f1), abs=1e-12)


def float_leaves(tree: Any) -> Iterator[float]:
    if isinstance(tree, dict):
        for value in tree.values():
            yield from float_leaves(value)
    elif isinstance(tree, float):
        yield tree


# --------------------------------------------------------------------------- spans
def test_span_micro_per_label_and_macro():
    gold = make_doc("d1", "[هاجمت]ATTACK [قوات المعارضة]FORCE مواقع [الجيش]FORCE في [حلب]GPE .")
    # 3 predictions: 2 exact, الجيش with the wrong label, حلب missed.
    pred = make_doc("d1", "[هاجمت]ATTACK [قوات المعارضة]FORCE مواقع [الجيش]GPE في حلب .")
    spans = score_documents([gold], [pred], SCHEMA)["spans"]

    # micro: P = 2/3, R = 2/4, F1 = 2·(1/3)/(7/6) = 4/7
    assert_prf(spans["micro"], 2 / 3, 2 / 4, 4 / 7)
    # ATTACK 1/1; FORCE: 1 of 2 found, no false positive; GPE: حلب missed, الجيش spurious
    assert_prf(spans["per_label"]["ATTACK"], 1.0, 1.0, 1.0)
    assert_prf(spans["per_label"]["FORCE"], 1.0, 1 / 2, 2 / 3)
    assert_prf(spans["per_label"]["GPE"], 0.0, 0.0, 0.0)
    assert [spans["per_label"][k]["support"] for k in ("ATTACK", "FORCE", "GPE")] == [1, 2, 1]
    # every schema label is listed, an absent one with support 0 and zeros
    assert list(spans["per_label"]) == list(SCHEMA.span_labels)
    assert spans["per_label"]["TIME"] == {"p": 0.0, "r": 0.0, "f1": 0.0, "support": 0}
    # macro over the labels present (ATTACK, FORCE, GPE): P = 2/3, R = 1.5/3, F1 = (1 + 2/3)/3 = 5/9
    assert_prf(spans["macro"], 2 / 3, 1 / 2, 5 / 9)


def test_entities_exclude_triggers():
    gold = make_doc("d1", "[هاجمت]ATTACK [قوات المعارضة]FORCE مواقع [الجيش]FORCE في [حلب]GPE .")
    pred = make_doc("d1", "[هاجمت]ATTACK [قوات المعارضة]FORCE مواقع [الجيش]GPE في حلب .")
    metrics = score_documents([gold], [pred], SCHEMA)
    # entities: gold 3, pred 2, correct 1 -> P = 1/2, R = 1/3, F1 = 2/5
    assert_prf(metrics["entities"]["micro"], 1 / 2, 1 / 3, 2 / 5)
    assert metrics["counts"]["entities"] == {"gold": 3, "pred": 2, "correct": 1}


def test_duplicate_predictions_collapse():
    gold = make_doc("d1", "[قصفت]BOMBARD الطائرات [حمص]GPE .")
    pred = make_doc("d1", "[قصفت]BOMBARD الطائرات [حمص]GPE .")
    pred.spans.append(Span(pred.spans[1].start, pred.spans[1].end, "GPE"))
    assert_prf(score_documents([gold], [pred], SCHEMA)["spans"]["micro"], 1.0, 1.0, 1.0)


# --------------------------------------------------------------------------- triggers
def test_trigger_identification_ignores_the_label():
    gold = make_doc("d1", "اندلعت [اشتباكات]ATTACK عنيفة أدت إلى [مقتل]CASUALTY [جنديين]FORCE .")
    # اندلعت is spurious; اشتباكات has the right offsets but the wrong label.
    pred = make_doc("d1", "[اندلعت]ATTACK [اشتباكات]BOMBARD عنيفة أدت إلى [مقتل]CASUALTY [جنديين]FORCE .")
    triggers = score_documents([gold], [pred], SCHEMA)["triggers"]
    # identification: gold {اشتباكات, مقتل}, pred {اندلعت, اشتباكات, مقتل}: P = 2/3, R = 1, F1 = 0.8
    assert_prf(triggers["identification"], 2 / 3, 1.0, 0.8)
    # classification: only مقتل: P = 1/3, R = 1/2, F1 = 0.4
    assert_prf(triggers["classification"], 1 / 3, 1 / 2, 0.4)


# --------------------------------------------------------------------------- arguments
BOMBING = "[قصفت]BOMBARD [قوات النظام]FORCE بلدة [كفرنبل]GPE [أمس]TIME ."


def test_argument_identification_ignores_the_role():
    gold = make_doc("d1", BOMBING, [(0, 1, "AGENT"), (0, 2, "TARGET"), (0, 3, "TIME")])
    # AGENT right, كفرنبل found with the wrong role, TIME missed.
    pred = make_doc("d1", BOMBING, [(0, 1, "AGENT"), (0, 2, "LOCATION")])
    arguments = score_documents([gold], [pred], SCHEMA)["arguments"]
    # identification: gold 3, pred 2, both found: P = 1, R = 2/3, F1 = 0.8
    assert_prf(arguments["identification"], 1.0, 2 / 3, 0.8)
    # classification: AGENT only: P = 1/2, R = 1/3, F1 = 0.4
    assert_prf(arguments["classification"], 1 / 2, 1 / 3, 0.4)
    assert arguments["per_role"]["AGENT"] == {"p": 1.0, "r": 1.0, "f1": 1.0, "support": 1}
    assert arguments["per_role"]["TARGET"] == {"p": 0.0, "r": 0.0, "f1": 0.0, "support": 1}
    assert arguments["per_role"]["LOCATION"] == {"p": 0.0, "r": 0.0, "f1": 0.0, "support": 0}
    assert list(arguments["per_role"]) == list(SCHEMA.roles)


@pytest.mark.parametrize("pred_markup", [
    "[قصفت قوات]BOMBARD النظام بلدة [كفرنبل]GPE [أمس]TIME .",  # trigger offsets wrong
    "[قصفت]ATTACK [قوات النظام]FORCE بلدة [كفرنبل]GPE [أمس]TIME .",  # trigger label wrong
])
def test_argument_of_a_wrong_trigger_is_wrong(pred_markup):
    gold = make_doc("d1", BOMBING, [(0, 2, "TARGET")])
    pred_doc = make_doc("d1", pred_markup)
    trigger, place = pred_doc.spans[0], next(s for s in pred_doc.spans if s.label == "GPE")
    pred_doc.relations = [Relation(trigger, place, "TARGET")]
    arguments = score_documents([gold], [pred_doc], SCHEMA)["arguments"]
    assert_prf(arguments["identification"], 0.0, 0.0, 0.0)
    assert_prf(arguments["classification"], 0.0, 0.0, 0.0)


def test_argument_is_matched_by_its_offsets_not_its_label():
    # ACE convention: the argument's own entity label is scored by the span metrics, not here.
    gold = make_doc("d1", BOMBING, [(0, 1, "AGENT")])
    pred = make_doc("d1", "[قصفت]BOMBARD [قوات النظام]GPE بلدة [كفرنبل]GPE [أمس]TIME .", [(0, 1, "AGENT")])
    metrics = score_documents([gold], [pred], SCHEMA)
    assert_prf(metrics["arguments"]["classification"], 1.0, 1.0, 1.0)
    assert_prf(metrics["spans"]["micro"], 3 / 4, 3 / 4, 3 / 4)


# --------------------------------------------------------------------------- links, relations, combined
CASUALTIES = "سقط [أكثر من 20]NUM [قتيلا]CASUALTY في [دوما]GPE شرق [دمشق]GPE ."


def test_links_relations_and_combined_f1():
    gold = make_doc("d1", CASUALTIES, [(1, 0, "QUANTITY"), (2, 3, "LOCATED_IN"), (1, 2, "LOCATION")])
    # The NUM span is too short, so its QUANTITY link is wrong too; LOCATED_IN is also
    # predicted in the wrong direction; the LOCATION argument is right.
    pred = make_doc("d1", "سقط أكثر من [20]NUM [قتيلا]CASUALTY في [دوما]GPE شرق [دمشق]GPE .",
                    [(1, 0, "QUANTITY"), (2, 3, "LOCATED_IN"), (3, 2, "LOCATED_IN"), (1, 2, "LOCATION")])
    metrics = score_documents([gold], [pred], SCHEMA)

    # links: gold 2, pred 3, correct 1 (LOCATED_IN): P = 1/3, R = 1/2, F1 = 0.4
    assert_prf(metrics["links"]["micro"], 1 / 3, 1 / 2, 0.4)
    assert metrics["links"]["per_label"]["QUANTITY"] == {"p": 0.0, "r": 0.0, "f1": 0.0, "support": 1}
    # LOCATED_IN: P = 1/2, R = 1, F1 = 2/3
    assert_prf(metrics["links"]["per_label"]["LOCATED_IN"], 1 / 2, 1.0, 2 / 3)
    assert metrics["links"]["per_label"]["MEMBER_OF"]["support"] == 0
    assert_prf(metrics["arguments"]["classification"], 1.0, 1.0, 1.0)
    # relations = arguments + links: gold 3, pred 4, correct 2: P = 1/2, R = 2/3, F1 = 4/7
    assert_prf(metrics["relations"]["micro"], 1 / 2, 2 / 3, 4 / 7)
    assert metrics["counts"]["relations"] == {"gold": 3, "pred": 4, "correct": 2}
    # spans: 3 of 4 on both sides -> F1 = 3/4; combined = (3/4 + 4/7) / 2 = 37/56
    assert close(metrics["spans"]["micro"]["f1"], 3 / 4)
    assert close(metrics["combined_f1"], 37 / 56)


def test_combined_f1_is_span_f1_without_relation_labels():
    ner = Schema.from_dict({"entities": ["GPE"]})
    gold = make_doc("d1", "وصل المبعوث إلى [دمشق]GPE [وحمص]GPE .")
    pred = make_doc("d1", "وصل المبعوث إلى [دمشق]GPE وحمص .")
    metrics = score_documents([gold], [pred], ner)
    assert close(metrics["combined_f1"], metrics["spans"]["micro"]["f1"])  # 2/3, not halved by relations


def test_contract_keys_are_floats_in_unit_interval():
    gold = make_doc("d1", CASUALTIES, [(1, 0, "QUANTITY")])
    metrics = score_documents([gold], [gold], SCHEMA)
    for path in ("spans.micro", "spans.macro", "entities.micro", "triggers.identification",
                 "triggers.classification", "arguments.identification", "arguments.classification",
                 "links.micro", "relations.micro"):
        node = metrics
        for key in path.split("."):
            node = node[key]
        assert set(node) == {"p", "r", "f1"}, path
    assert metrics["documents"] == 1
    assert all(0.0 <= x <= 1.0 for x in float_leaves(metrics))
    assert json.loads(json.dumps(metrics)) == metrics


# --------------------------------------------------------------------------- degenerate inputs
def test_empty_prediction_scores_zero_not_nan():
    gold = make_doc("d1", CASUALTIES, [(1, 0, "QUANTITY"), (1, 2, "LOCATION")])
    empty = score_documents([gold], [Document("d1", gold.text)], SCHEMA)
    assert all(x == 0.0 for x in float_leaves(empty))
    # a gold document without a prediction counts as an empty prediction
    assert score_documents([gold], [], SCHEMA) == empty
    # nothing on either side: still zeros, never NaN
    nothing = score_documents([Document("d1", "لا شيء هنا .")], [], SCHEMA)
    assert all(x == 0.0 for x in float_leaves(nothing))


def test_mismatched_documents_raise():
    gold = make_doc("sy-1", BOMBING)
    with pytest.raises(ValueError, match="ghost"):
        score_documents([gold], [Document("ghost", gold.text)], SCHEMA)
    with pytest.raises(ValueError, match="sy-1"):
        score_documents([gold], [Document("sy-1", gold.text + " ")], SCHEMA)
    with pytest.raises(ValueError, match="repeat the id 'sy-1'"):
        score_documents([gold, gold], [], SCHEMA)


# --------------------------------------------------------------------------- diagnostics
def test_confusion_matrix():
    gold = make_doc("d1", "[هاجمت]ATTACK [قوات المعارضة]FORCE مواقع [الجيش]FORCE في [حلب]GPE .")
    pred = make_doc("d1", "[هاجمت]ATTACK [قوات المعارضة]FORCE مواقع [الجيش]GPE في حلب [.]TIME")
    labels, matrix = confusion_matrix([gold], [pred], ["FORCE", "GPE", "ATTACK"])
    assert labels == ["FORCE", "GPE", "ATTACK", "TIME", "O"]  # TIME is not in the list but seen
    cell = {(labels[i], labels[j]): n for i, row in enumerate(matrix) for j, n in enumerate(row) if n}
    assert cell == {
        ("ATTACK", "ATTACK"): 1,
        ("FORCE", "FORCE"): 1,
        ("FORCE", "GPE"): 1,  # الجيش: same offsets, wrong label
        ("GPE", "O"): 1,  # حلب missed
        ("O", "TIME"): 1,  # spurious
    }


def test_error_examples():
    perfect = make_doc("ok", BOMBING, [(0, 1, "AGENT")])
    gold = make_doc("bad", BOMBING, [(0, 1, "AGENT"), (0, 3, "TIME")])
    pred = make_doc("bad", "[قصفت]BOMBARD [قوات النظام]FORCE بلدة [كفرنبل]FORCE أمس .", [(0, 1, "AGENT")])
    worse = make_doc("worse", CASUALTIES, [(1, 0, "QUANTITY")])
    examples = error_examples([perfect, gold, worse], [perfect, pred], k=5)

    assert [e["id"] for e in examples] == ["worse", "bad"]  # most errors first, none for "ok"
    assert examples[0]["errors"] == 5 and examples[0]["false_negatives"] == 5  # 4 spans, 1 link
    bad = examples[1]
    # gold: كفرنبل GPE and أمس TIME missed, the TIME argument missed; pred: كفرنبل FORCE spurious
    assert (bad["false_negatives"], bad["false_positives"]) == (3, 1)
    gold_status = {(s["text"], s["label"]): s["status"] for s in bad["gold"]["spans"]}
    assert gold_status == {("قصفت", "BOMBARD"): "correct", ("قوات النظام", "FORCE"): "correct",
                           ("كفرنبل", "GPE"): "false_negative", ("أمس", "TIME"): "false_negative"}
    assert [s["status"] for s in bad["pred"]["spans"] if s["text"] == "كفرنبل"] == ["false_positive"]
    assert [r["status"] for r in bad["gold"]["relations"]] == ["correct", "false_negative"]
    assert len(error_examples([perfect, gold, worse], [perfect, pred], k=1)) == 1


# --------------------------------------------------------------------------- agreement with seqeval
SENTENCES = [
    make_doc("s1", "[هاجمت]ATTACK [قوات المعارضة]FORCE مواقع [الجيش]FORCE في [حلب]GPE ."),
    make_doc("s2", BOMBING),
    make_doc("s3", CASUALTIES),
    make_doc("s4", "اندلعت [اشتباكات]ATTACK عنيفة أدت إلى [مقتل]CASUALTY [جنديين]FORCE ."),
    make_doc("s5", "[قتل]CASUALTY [مئات]NUM [المدنيين]GROUP في [ريف دمشق]GPE [خلال الساعات الماضية]TIME ."),
    make_doc("s6", "قالت مصادر إن [الجيش]FORCE [قصف]BOMBARD مدينة [حماة]GPE [والفصائل المسلحة]FORCE ، [اليوم]TIME ."),
]


def assert_same_span_scores(gold: list[Document], pred: list[Document]) -> None:
    ours = score_documents(gold, pred, SCHEMA)["spans"]
    theirs = seqeval_span_scores(gold, pred)
    for avg in ("micro", "macro"):
        assert (ours[avg]["p"], ours[avg]["r"], ours[avg]["f1"]) == pytest.approx(
            (theirs[avg]["p"], theirs[avg]["r"], theirs[avg]["f1"]), abs=1e-9), avg
    # seqeval lists the labels present in gold or predictions; the others are all zero for us
    for label, scores in ours["per_label"].items():
        expected = theirs["per_label"].get(label, {"p": 0.0, "r": 0.0, "f1": 0.0, "support": 0})
        assert scores == pytest.approx(expected, abs=1e-9), label


def test_span_scores_agree_with_seqeval_on_hand_made_predictions():
    pred = [
        make_doc("s1", "[هاجمت]ATTACK [قوات المعارضة]FORCE مواقع [الجيش]GPE في حلب ."),
        make_doc("s2", "[قصفت]BOMBARD [قوات]FORCE النظام بلدة [كفرنبل]GPE [أمس]TIME ."),
        make_doc("s3", "سقط أكثر من [20]NUM [قتيلا]CASUALTY في [دوما]GPE شرق [دمشق]GPE [.]TIME"),
        make_doc("s4", "[اندلعت]ATTACK [اشتباكات]BOMBARD عنيفة أدت إلى [مقتل]CASUALTY [جنديين]FORCE ."),
        make_doc("s6", "قالت مصادر إن [الجيش]FORCE [قصف]BOMBARD [مدينة حماة]GPE [والفصائل المسلحة]FORCE ، اليوم ."),
    ]
    assert_same_span_scores(SENTENCES, pred)


def perturb(doc: Document, rng: random.Random, new_id: str) -> Document:
    """A noisy prediction: spans dropped, relabelled, widened or narrowed by a word, and spurious ones."""
    words = split_words(doc.text)
    first_of = {start: i for i, (start, _) in enumerate(words)}
    last_of = {end: i for i, (_, end) in enumerate(words)}
    taken = [False] * len(words)
    ranges = []
    for span in doc.spans:
        first, last, label = first_of[span.start], last_of[span.end], span.label
        roll = rng.random()
        if roll < 0.15:
            continue
        if roll < 0.3:
            label = rng.choice(SCHEMA.span_labels)
        elif roll < 0.4:
            last = min(last + 1, len(words) - 1)
        elif roll < 0.5:
            first = max(first - 1, 0)
        elif roll < 0.6 and last > first:
            last -= 1
        ranges.append((first, last, label))
    for i in range(len(words)):
        if rng.random() < 0.1:
            ranges.append((i, i, rng.choice(SCHEMA.span_labels)))
    spans = []
    for first, last, label in ranges:  # keep the annotation flat, as the model's output is
        if not any(taken[first:last + 1]):
            taken[first:last + 1] = [True] * (last - first + 1)
            spans.append(Span(words[first][0], words[last][1], label))
    return Document(new_id, doc.text, spans=spans)


def test_span_scores_agree_with_seqeval_on_random_perturbations():
    rng = random.Random(13)
    gold = [Document(f"{d.id}-{k}", d.text, spans=d.spans) for k in range(30) for d in SENTENCES]
    pred = [perturb(d, rng, d.id) for d in gold]
    metrics = score_documents(gold, pred, SCHEMA)
    assert 0.2 < metrics["spans"]["micro"]["f1"] < 0.9  # the noise leaves both hits and errors
    assert_same_span_scores(gold, pred)


# --------------------------------------------------------------------------- report
def test_write_report(tmp_path):
    gold = [
        make_doc("d1", CASUALTIES, [(1, 0, "QUANTITY"), (1, 2, "LOCATION")]),
        make_doc("d2", "قال المتحدث <script>alert('x')</script> إن [الجيش]FORCE [قصف]BOMBARD [حمص]GPE .",
                 [(1, 0, "AGENT"), (1, 2, "TARGET")]),
    ]
    pred = [
        make_doc("d1", CASUALTIES, [(1, 0, "QUANTITY")]),
        make_doc("d2", "قال المتحدث <script>alert('x')</script> إن [الجيش]GPE [قصف]BOMBARD حمص .",
                 [(1, 0, "AGENT")]),
    ]
    metrics = score_documents(gold, pred, SCHEMA)
    paths = write_report(metrics, str(tmp_path / "eval"), gold=gold, pred=pred, schema=SCHEMA, title="تقييم <b>")

    assert set(paths) == {"metrics", "confusion", "markdown", "html"}
    assert sorted(p.name for p in (tmp_path / "eval").iterdir()) == [
        "confusion.png", "metrics.json", "report.html", "report.md"]
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text(encoding="utf-8")) == metrics
    assert (tmp_path / "eval" / "confusion.png").read_bytes().startswith(b"\x89PNG")

    page = (tmp_path / "eval" / "report.html").read_text(encoding="utf-8")
    assert '<html lang="ar" dir="rtl">' in page
    assert "data:image/png;base64," in page and 'src="confusion.png"' not in page  # self-contained
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "تقييم &lt;b&gt;" in page
    assert 'class="fn"' in page and 'class="fp"' in page and 'class="tp"' in page

    markdown = (tmp_path / "eval" / "report.md").read_text(encoding="utf-8")
    assert "| ATTACK |" in markdown and "| micro |" in markdown and "| AGENT |" in markdown
    assert "`d2`" in markdown and "✗ missed" in markdown and "✗ spurious" in markdown
    assert "<script>" not in markdown

