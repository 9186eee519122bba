"""Print the mean ± sd tables of docs/results.md from the runs of scripts/results.sh.

    python scripts/results_table.py runs/results
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


def main(out: str) -> None:
    root = Path(out)
    print(table("Conflict test split", CONFLICT, collect(root, "quickstart", "scores.json", "test")), end="\n\n")
    print(table("ANERcorp dev", NER, collect(root, "anercorp", "scores.json", "dev")), end="\n\n")
    print(table("AQMAR (ANERcorp models, cross-domain)", NER, collect(root, "aqmar", "metrics.json", None)))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "runs/results")
