"""The shipped corpus: valid, covered, varied, split deterministically, and described truthfully by its card."""
import filecmp
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rasd.inference.documents import read_documents
from rasd.training.corpus import SPLITS, build_corpus, counts_table, label_counts
from rasd.training.validate import validate_files

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "conflict-ar"
FILES = [CORPUS / f"{s}.jsonl" for s in SPLITS]


@pytest.fixture(scope="module")
def splits():
    return {s: read_documents(CORPUS / f"{s}.jsonl") for s in SPLITS}


def test_every_document_passes_the_validator(schema):
    n, problems = validate_files(FILES, schema)
    assert n >= 300
    assert problems == []  # no errors and no warnings (every span on word boundaries)


def test_coverage_minimums(splits, schema):
    counts = label_counts([d for docs in splits.values() for d in docs])
    assert counts["documents"] >= 300 and counts["sentences"] >= 1200
    for label in schema.triggers:
        assert counts["spans"].get(label, 0) >= 60, label
    for label in schema.entities:
        assert counts["spans"].get(label, 0) >= 60, label
    for label in schema.relation_labels:
        assert counts["relations"].get(label, 0) >= 40, label


def test_every_label_is_in_every_split(splits, schema):
    for name, docs in splits.items():
        counts = label_counts(docs)
        missing = [l for l in schema.span_labels if not counts["spans"].get(l)]
        missing += [l for l in schema.relation_labels if not counts["relations"].get(l)]
        assert not missing, f"{name} lacks {missing}"


def test_data_card_counts_match_a_recount(splits, schema):
    card = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    table = re.search(r"<!-- counts:start -->\n(.*?)\n<!-- counts:end -->", card, re.S).group(1)
    counts = {name: label_counts(docs) for name, docs in splits.items()}
    counts["all"] = label_counts([d for docs in splits.values() for d in docs])
    assert table == counts_table(counts, schema)


def test_markup_sources_rebuild_the_shipped_jsonl(tmp_path, schema):
    build_corpus(str(CORPUS / "markup"), str(tmp_path), schema)
    for name in SPLITS:
        assert filecmp.cmp(tmp_path / f"{name}.jsonl", CORPUS / f"{name}.jsonl", shallow=False), name


def test_split_sizes_are_about_80_10_10(splits):
    total = sum(len(d) for d in splits.values())
    assert 0.7 <= len(splits["train"]) / total <= 0.85
    assert 0.07 <= len(splits["dev"]) / total <= 0.15 and 0.07 <= len(splits["test"]) / total <= 0.15
    ids = [d.id for docs in splits.values() for d in docs]
    assert len(ids) == len(set(ids))


def test_corpus_passes_the_shared_variety_check(shared):
    corpus_check = shared("tools", "corpus_check.py")
    proc = subprocess.run([sys.executable, str(corpus_check), *map(str, FILES)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_a_missing_shared_path_skips_or_fails_on_ci(shared, monkeypatch):
    monkeypatch.delenv("RASD_REQUIRE_SHARED", raising=False)
    with pytest.raises(pytest.skip.Exception, match="absent"):
        shared("no", "such", "tool.py")
    monkeypatch.setenv("RASD_REQUIRE_SHARED", "1")
    with pytest.raises(pytest.fail.Exception, match="RASD_REQUIRE_SHARED"):
        shared("no", "such", "tool.py")


def test_agreement_figures_match_the_card(splits, schema):
    from rasd.training.convert import read_markup
    from rasd.training.corpus import agreement

    second, problems = read_markup(CORPUS / "agreement" / "second-annotator.txt")
    assert not problems and len(second) == 20
    first = {d.id: d for docs in splits.values() for d in docs}
    assert all(first[d.id].text == d.text for d in second)  # the second annotator saw the same text
    scores = agreement(list(first.values()), second, schema)
    card = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    for key, row in (("spans", "spans (offsets + label)"), ("triggers", "triggers (offsets + label)"),
                     ("arguments", "arguments (trigger + argument offsets + role)"), ("relations", "relations (arguments and links)")):
        assert f"| {row} | {scores[key]:.3f} |" in card, key
