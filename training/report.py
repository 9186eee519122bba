"""Render an evaluation directory from a ``score_documents`` dict.

``write_report`` writes ``metrics.json`` (the data), ``confusion.png``, ``report.md`` and a
self-contained right-to-left ``report.html`` with the worst documents highlighted. The
Markdown and HTML pages are two renderings of the same tables.
"""
from __future__ import annotations

import base64
import html
import json
import os
from dataclasses import dataclass
from typing import Any, Sequence

from ..inference.documents import Document
from ..inference.schema import OUTSIDE, Schema
from .metrics import confusion_matrix, error_examples

STATUS_NAMES = {"correct": "correct", "false_negative": "missed", "false_positive": "spurious"}
# Short CSS classes for the statuses of ``error_examples``.
STATUS_CLASSES = {"correct": "tp", "false_negative": "fn", "false_positive": "fp"}


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]


def write_report(
    metrics: dict[str, Any],
    out_dir: str,
    *,
    gold: Sequence[Document],
    pred: Sequence[Document],
    schema: Schema,
    title: str = "rasd evaluation",
    examples: int = 10,
) -> dict[str, str]:
    """Write ``metrics.json``, ``confusion.png``, ``report.md`` and ``report.html`` into ``out_dir``.

    ``gold`` and ``pred`` are the documents ``metrics`` was computed from; they give the
    confusion matrix and the ``examples`` documents with the most errors. Returns the paths
    written, by kind (``metrics``, ``confusion``, ``markdown``, ``html``).
    """
    os.makedirs(out_dir, exist_ok=True)
    paths = {
        "metrics": os.path.join(out_dir, "metrics.json"),
        "confusion": os.path.join(out_dir, "confusion.png"),
        "markdown": os.path.join(out_dir, "report.md"),
        "html": os.path.join(out_dir, "report.html"),
    }
    with open(paths["metrics"], "w", encoding="utf-8") as f:
        json.dump(metrics, f, ensure_ascii=False, indent=2)
        f.write("\n")

    labels, matrix = confusion_matrix(gold, pred, schema.span_labels)
    plot_confusion(labels, matrix, paths["confusion"])
    worst = error_examples(gold, pred, k=examples, schema=schema)
    tables = metric_tables(metrics)
    subtitle = (f"schema {schema.name}, {metrics['documents']} documents, "
                f"combined F1 {_fmt(metrics['combined_f1'])}")

    with open(paths["markdown"], "w", encoding="utf-8") as f:
        f.write(render_markdown(title, subtitle, tables, worst))
    with open(paths["confusion"], "rb") as f:
        image = base64.b64encode(f.read()).decode("ascii")
    with open(paths["html"], "w", encoding="utf-8") as f:
        f.write(render_html(title, subtitle, tables, worst, image))
    return paths


# ---------------------------------------------------------------------------- tables
def _fmt(x: float) -> str:
    return f"{x:.3f}"


def _row(name: str, scores: dict[str, float], support: int) -> list[str]:
    return [name, _fmt(scores["p"]), _fmt(scores["r"]), _fmt(scores["f1"]), str(support)]


def _label_rows(per_label: dict[str, dict[str, float]]) -> list[list[str]]:
    return [_row(label, s, s["support"]) for label, s in per_label.items()]


def metric_tables(metrics: dict[str, Any]) -> list[Table]:
    """The score tables of the report; support is the number of gold items."""
    counts = metrics["counts"]
    header = ["", "P", "R", "F1", "support"]
    spans, arguments, links = metrics["spans"], metrics["arguments"], metrics["links"]
    return [
        Table("Spans (strict offsets and label)", ["label", *header[1:]], [
            *_label_rows(spans["per_label"]),
            _row("micro", spans["micro"], counts["spans"]["gold"]),
            _row("macro", spans["macro"], counts["spans"]["gold"]),
            _row("entities (micro)", metrics["entities"]["micro"], counts["entities"]["gold"]),
        ]),
        Table("Triggers", header, [
            _row("identification (offsets)", metrics["triggers"]["identification"],
                 counts["trigger_identification"]["gold"]),
            _row("classification (+ label)", metrics["triggers"]["classification"],
                 counts["trigger_classification"]["gold"]),
        ]),
        Table("Arguments (trigger offsets and label, argument offsets)", ["role", *header[1:]], [
            _row("identification", arguments["identification"], counts["argument_identification"]["gold"]),
            _row("classification (+ role)", arguments["classification"],
                 counts["argument_classification"]["gold"]),
            *_label_rows(arguments["per_role"]),
        ]),
        Table("Links (both spans and the link label)", ["label", *header[1:]], [
            _row("micro", links["micro"], counts["links"]["gold"]),
            *_label_rows(links["per_label"]),
        ]),
        Table("Relations (arguments and links)", header, [
            _row("micro", metrics["relations"]["micro"], counts["relations"]["gold"]),
        ]),
        *_event_tables(metrics),
    ]


def _event_tables(metrics: dict[str, Any]) -> list[Table]:
    """Event records and geocoding (training/event_metrics.py), when gold records were given."""
    if "events" not in metrics:
        return []
    events, geo = metrics["events"], metrics["geocoding"]
    fields = [[f"{name} accuracy", _fmt(value), "", "", str(events["aligned"])]
              for name, value in events["fields"].items()]
    return [Table("Event records (type + date + place; fields over records aligned by trigger)",
                  ["", "P", "R", "F1", "support"], [
                      _row("events", events, events["support"]), *fields,
                      ["fatalities, records with a count", _fmt(events["fatalities_with_count"]), "", "",
                       str(events["fatalities_support"])],
                      [f"geocoding, mentions within {geo['within_km']:g} km", _fmt(geo["accuracy"]), "", "",
                       str(geo["support"])],
                  ])]


# ---------------------------------------------------------------------------- confusion image
def plot_confusion(labels: Sequence[str], matrix: Sequence[Sequence[int]], path: str) -> None:
    """Save the span confusion matrix as a PNG: colour is the share of the gold row, text the count."""
    # matplotlib is imported here, and drawn through the Agg canvas without pyplot, so that
    # importing rasd never loads it and the caller's matplotlib backend is left alone.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    n = len(labels)
    shares = [[c / (sum(row) or 1) for c in row] for row in matrix]
    size = 2.5 + 0.42 * n
    fig = Figure(figsize=(size, size * 0.9))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    image = ax.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    for i, row in enumerate(matrix):
        for j, count in enumerate(row):
            if count:
                ax.text(j, i, str(count), ha="center", va="center", fontsize=7,
                        color="white" if shares[i][j] > 0.6 else "black")
    ax.set_xticks(range(n), labels, rotation=90, fontsize=8)
    ax.set_yticks(range(n), labels, fontsize=8)
    ax.set_xlabel(f"predicted ({OUTSIDE} = no span at these offsets)")
    ax.set_ylabel(f"gold ({OUTSIDE} = no span at these offsets)")
    ax.set_title("Span labels, matched by offsets")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of gold row")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


# ---------------------------------------------------------------------------- Markdown
def _md(text: str) -> str:
    """Text safe in a Markdown table cell: HTML-escaped, one line, pipes escaped."""
    return html.escape(" ".join(text.split())).replace("|", "\\|")


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _md_span(span: dict[str, Any]) -> str:
    mark = "" if span["status"] == "correct" else f" ✗ {STATUS_NAMES[span['status']]}"
    return f"`{_md(span['label'])}` {_md(span['text'])}{mark}"


def _md_relation(rel: dict[str, Any]) -> str:
    mark = "" if rel["status"] == "correct" else f" ✗ {STATUS_NAMES[rel['status']]}"
    # No arrowhead: the cell may be laid out right to left, and reading order already puts the head first.
    return f"{_md(rel['head'])} —`{_md(rel['label'])}`— {_md(rel['tail'])}{mark}"


def _side_by_side(example: dict[str, Any]) -> list[list[str]]:
    """Rows of (gold, predicted): spans aligned by offsets, then relations, correct ones first."""
    gold, pred = example["gold"], example["pred"]
    by_offsets: dict[tuple[int, int], tuple[list, list]] = {}
    for side, spans in ((0, gold["spans"]), (1, pred["spans"])):
        for s in spans:
            by_offsets.setdefault((s["start"], s["end"]), ([], []))[side].append(_md_span(s))
    rows = [["<br>".join(g), "<br>".join(p)] for _, (g, p) in sorted(by_offsets.items())]
    rows += [[_md_relation(r)] * 2 for r in gold["relations"] if r["status"] == "correct"]
    rows += [[_md_relation(r), ""] for r in gold["relations"] if r["status"] != "correct"]
    rows += [["", _md_relation(r)] for r in pred["relations"] if r["status"] != "correct"]
    return rows


def render_markdown(title: str, subtitle: str, tables: Sequence[Table], examples: Sequence[dict]) -> str:
    parts = [f"# {_md(title)}", _md(subtitle)]
    for table in tables:
        parts += [f"## {table.title}", _md_table(table.header, table.rows)]
    parts += ["## Span confusion", "![span label confusion matrix](confusion.png)"]
    parts += ["## Documents with the most errors",
              "✗ missed: gold only (false negative); ✗ spurious: predicted only (false positive)."]
    if not examples:
        parts.append("No errors.")
    for n, ex in enumerate(examples, 1):
        parts += [
            f"### {n}. `{_md(ex['id'])}`: {ex['false_negatives']} missed, {ex['false_positives']} spurious",
            f"> {_md(ex['text'])}",
            _md_table(["gold", "predicted"], _side_by_side(ex)),
        ]
    return "\n\n".join(parts) + "\n"


# ---------------------------------------------------------------------------- HTML
_CSS = """
body { font-family: "Noto Naskh Arabic", "Amiri", "Segoe UI", Tahoma, sans-serif; margin: 2em auto;
       max-width: 72em; padding: 0 1em; color: #222; line-height: 1.6; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.ltr { direction: ltr; text-align: left; }
img { max-width: 100%; }
.example { border-top: 1px solid #ccc; padding-top: 0.5em; margin-top: 1.5em; }
.sides { display: grid; grid-template-columns: 1fr 1fr; gap: 1.5em; }
.text { font-size: 1.15em; line-height: 2.4; white-space: pre-wrap; }
mark { border-radius: 3px; padding: 0 2px; }
mark sup { font-size: 0.6em; font-family: monospace; margin: 0 2px; }
.tp { background: #d4edda; }
.fn { background: #f8d7da; outline: 1px dashed #c0392b; }
.fp { background: #ffe5b4; outline: 1px dashed #d35400; }
.legend mark { margin: 0 0.4em; }
"""


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in table.header)
    body = "".join(
        "<tr><td>" + html.escape(row[0]) + "</td>"
        + "".join(f'<td class="num">{html.escape(cell)}</td>' for cell in row[1:]) + "</tr>"
        for row in table.rows
    )
    return f"<h2>{html.escape(table.title)}</h2>\n<table><tr>{head}</tr>{body}</table>"


def _highlight(text: str, spans: Sequence[dict[str, Any]]) -> str:
    """``text`` escaped, each span in a ``<mark>`` of its status with its label as superscript."""
    out, cursor = [], 0
    for s in sorted(spans, key=lambda s: (s["start"], s["end"])):
        if s["start"] < cursor:  # an overlapping (invalid) prediction: listed, not drawn twice
            continue
        label, status = html.escape(s["label"]), s["status"]
        out.append(html.escape(text[cursor:s["start"]]))
        out.append(f'<mark class="{STATUS_CLASSES[status]}" title="{label}: {STATUS_NAMES[status]}">'
                   f'{html.escape(text[s["start"]:s["end"]])}<sup dir="ltr">{label}</sup></mark>')
        cursor = s["end"]
    out.append(html.escape(text[cursor:]))
    return "".join(out)


def _relations_table(relations: Sequence[dict[str, Any]]) -> str:
    if not relations:
        return "<p>no relations</p>"
    rows = "".join(
        f'<tr class="{STATUS_CLASSES[r["status"]]}" title="{STATUS_NAMES[r["status"]]}">'
        f'<td>{html.escape(r["head"])}</td><td dir="ltr">{html.escape(r["label"])}</td>'
        f'<td>{html.escape(r["tail"])}</td></tr>'
        for r in relations
    )
    return f"<table><tr><th>head</th><th>relation</th><th>tail</th></tr>{rows}</table>"


def _html_example(n: int, ex: dict[str, Any]) -> str:
    sides = "".join(
        f'<div><h4>{name}</h4><div class="text" dir="rtl">{_highlight(ex["text"], ex[key]["spans"])}</div>'
        f'{_relations_table(ex[key]["relations"])}</div>'
        for name, key in (("gold", "gold"), ("predicted", "pred"))
    )
    return (f'<div class="example"><h3><span dir="ltr">{n}. {html.escape(ex["id"])}: '
            f'{ex["false_negatives"]} missed, {ex["false_positives"]} spurious</span></h3>'
            f'<div class="sides">{sides}</div></div>')


def render_html(
    title: str, subtitle: str, tables: Sequence[Table], examples: Sequence[dict], confusion_png_base64: str
) -> str:
    """A self-contained page (inline CSS and image): Arabic right to left, score tables left to right."""
    legend = ('<p class="legend">'
              '<mark class="tp">correct</mark><mark class="fn">missed (false negative)</mark>'
              '<mark class="fp">spurious (false positive)</mark></p>')
    body = "\n".join(_html_example(n, ex) for n, ex in enumerate(examples, 1)) or "<p>No errors.</p>"
    return f"""<!DOCTYPE html>
<html lang="ar" dir="rtl">
<head>
<meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{_CSS}</style>
</head>
<body>
<div class="ltr" dir="ltr">
<h1>{html.escape(title)}</h1>
<p>{html.escape(subtitle)}</p>
{"".join(_html_table(t) for t in tables)}
<h2>Span confusion</h2>
<img alt="span label confusion matrix" src="data:image/png;base64,{confusion_png_base64}">
<h2>Documents with the most errors</h2>
{legend}
</div>
{body}
</body>
</html>
"""
