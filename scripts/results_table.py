"""Print the mean ± sd tables of docs/results.md from the runs of scripts/results.sh
(pretraining comparison) or scripts/ablation.sh (the word-level levers).

    python scripts/results_table.py runs/results
    python scripts/results_table.py ablation runs/ablation
"""
from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path

ARMS = {"random": "random init (news tokenizer, random weights)", "pretrained": "news-pretrained"}
CONFLICT = [("span F1", "spans.micro.f1"), ("trigger cls F1", "triggers.classification.f1"),
            ("argument cls F1", "arguments.classification.f1"), ("link F1", "links.micro.f1"),
            ("relation F1", "relations.micro.f1")]
NER = [("micro F1", "spans.micro.f1")] + [(label, f"spans.per_label.{label}.f1")
                                          for label in ("PERS", "LOC", "ORG", "MISC")]


def lookup(scores: dict, dotted: str) -> float:
    for key in dotted.split("."):
        scores = scores[key]
    return scores


def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else float("nan")
    return f"{statistics.mean(values):.3f} ± {sd:.3f}"


def table(title: str, columns: list[tuple[str, str]], runs: dict[str, list[dict]]) -> str:
    lines = [f"**{title}**", "", "| encoder | seeds | " + " | ".join(name for name, _ in columns) + " |",
             "|---|---|" + "---:|" * len(columns)]
    for arm, label in ARMS.items():
        scores = runs.get(arm, [])
        if scores:
            cells = [mean_sd([lookup(s, key) for s in scores]) for _, key in columns]
            lines.append(f"| {label} | {len(scores)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def collect(out: Path, task: str, file: str, split: str | None) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {}
    for arm in ARMS:
        for path in sorted(out.glob(f"{task}-{arm}-*/{file}")):
            scores = json.loads(path.read_text(encoding="utf-8"))
            runs.setdefault(arm, []).append(scores[split] if split else scores)
    return runs


ABLATION = {
    "quickstart": "**the shipped quickstart**: every lever, relation loss weight 4",
    "full": "every lever, relation loss weight 1 (the base of the rows below)",
    "no-chars": "− char-CNN",
    "no-features": "− word features (affixes, stem, shape, gazetteers)",
    "no-gazetteer": "− gazetteer features only",
    "no-lexicon": "− trigger lexicon feature only",
    "no-lstm": "− BiLSTM",
    "no-crf": "− CRF (BIO constraints only)",
    "no-pair-features": "− relation pair features",
    "rasd-0.1": "rasd 0.1: no lever, 4-layer random BERT, its tokenizer and settings",
    "news-vectors": "every lever + fastText news vectors (needs ../shared)",
}
ABLATION_COLUMNS = [("span F1", "spans.micro.f1"), ("entity F1", "entities.micro.f1")] + CONFLICT[1:] + [
    ("relation F1 on gold spans", "relations_on_gold_spans.relations.micro.f1")]  # the oracle: relation errors alone


def ablation_table(out: Path) -> str:
    lines = ["| model | seeds | " + " | ".join(name for name, _ in ABLATION_COLUMNS) + " |",
             "|---|---|" + "---:|" * len(ABLATION_COLUMNS)]
    for name, label in ABLATION.items():
        scores = [json.loads(p.read_text(encoding="utf-8"))["test"] for p in sorted(out.glob(f"{name}-*/scores.json"))]
        if scores:
            cells = [mean_sd([lookup(s, key) for s in scores]) for _, key in ABLATION_COLUMNS]
            lines.append(f"| {label} | {len(scores)} | " + " | ".join(cells) + " |")
    crf = out / "crf" / "test.pred.jsonl"
    if crf.is_file():  # deterministic (L-BFGS), so one run; spans only, so no relation columns
        from rasd.inference.documents import read_documents
        from rasd.inference.schema import Schema
        from rasd.training.metrics import score_documents

        schema = Schema.from_yaml("configs/schema/conflict.yaml")
        scores = score_documents(read_documents("data/conflict-ar/test.jsonl"), read_documents(crf), schema)
        cells = [f"{lookup(scores, key):.3f}" if key.split(".")[0] in ("spans", "entities", "triggers") else "–"
                 for _, key in ABLATION_COLUMNS]
        lines.append("| linear-chain CRF (`scripts/crf_conflict.py`) | 1 | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    if argv[:1] == ["ablation"]:
        print(ablation_table(Path(argv[1] if len(argv) > 1 else "runs/ablation")))
        return
    root = Path(argv[0] if argv else "runs/results")
    print(table("Conflict test split", CONFLICT, collect(root, "quickstart", "scores.json", "test")), end="\n\n")
    print(table("ANERcorp dev", NER, collect(root, "anercorp", "scores.json", "dev")), end="\n\n")
    print(table("AQMAR (ANERcorp models, cross-domain)", NER, collect(root, "aqmar", "metrics.json", None)))


if __name__ == "__main__":
    main(sys.argv[1:])
