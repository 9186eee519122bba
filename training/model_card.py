"""Model cards: the ``README.md`` (Hugging Face format) and ``eval_results.json`` of a saved model folder.

A card is rendered from structured data (:class:`CardFacts`): what the model was trained on and
under which licence, its labels, its dev and test scores, the command and config that made it,
its intended use and its limits. The front matter carries ``language``, ``license``, ``tags``,
``datasets`` and a ``model-index`` with the scores, so the hub shows them.

``eval_results.json`` holds the same scores for programs: ``{"dev": METRICS, "test": METRICS}``,
each METRICS the ``metrics.json`` dict of ``rasd evaluate`` (``spans.micro.f1``, ``relations.micro.f1``,
``combined_f1``, ...); a split that was not scored is absent.

What a training file is and its licence come from its data card: the nearest ``README.md`` in the
file's folder or above it, read as a Hugging Face dataset card (YAML front matter with ``license``
and ``pretty_name``; its first paragraph says what the text is). A file without one gets
licence ``unknown``, and ``rasd push`` refuses to publish until the card says otherwise.
"""
from __future__ import annotations

import json
import os
import re
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

__all__ = ["CardFacts", "DatasetFacts", "EncoderFacts", "card_metadata", "dataset_facts", "encoder_facts",
           "read_card", "render_model_card", "run_card_facts", "write_encoder_card", "write_model_card",
           "write_run_card"]

CARD_FILE = "README.md"
EVAL_RESULTS_FILE = "eval_results.json"
UNKNOWN_LICENSE = "unknown"
RANDOM_INIT_TAG = "rasd-random-init"  # on the card of an encoder with random weights
PRETRAINED_TAG = "rasd-pretrained"  # on the card of an encoder rasd pretrain wrote
LANGUAGE = "ar"
# the scores shown on the hub (model-index), as (metrics.json key path, task, name)
CARD_METRICS = (
    ("spans.micro.f1", "token-classification", "span micro F1 (entities and triggers)"),
    ("triggers.classification.f1", "token-classification", "trigger classification F1"),
    ("arguments.classification.f1", "relation-extraction", "argument classification F1"),
    ("links.micro.f1", "relation-extraction", "link micro F1"),
    ("relations.micro.f1", "relation-extraction", "relation micro F1"),
    ("combined_f1", "token-classification", "combined F1 (mean of span and relation F1)"),
)
_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)


# ---------------------------------------------------------------------------------------- facts
@dataclass
class DatasetFacts:
    """A data file and what its data card says about it."""

    path: str
    name: str
    license: str = UNKNOWN_LICENSE
    summary: str = ""  # the data card's first paragraph: what the text is (register, source)
    card: str | None = None  # the data card's path
    documents: int | None = None


@dataclass
class EncoderFacts:
    """Where the fine-tuned encoder came from."""

    name: str
    origin: str  # "random" (no pretraining), "rasd-pretrained", "hub" or "unknown"
    summary: str = ""


@dataclass
class CardFacts:
    """Everything a fine-tuned model's card says."""

    name: str
    encoder: EncoderFacts
    entities: list[str]
    triggers: list[str]
    relations: list[str]
    data: dict[str, DatasetFacts]  # split -> data; "train" always
    scores: dict[str, dict[str, Any]]  # split -> metrics.json dict
    config: dict[str, Any] = field(default_factory=dict)  # the resolved run config
    command: str | None = None
    best_epoch: int | None = None

    @property
    def license(self) -> str:
        """The training data's licence when every part says the same one, else ``unknown``."""
        licenses = {d.license for d in self.data.values()}
        return licenses.pop() if len(licenses) == 1 else UNKNOWN_LICENSE


# ---------------------------------------------------------------------------------------- reading cards
def read_card(path: str | os.PathLike) -> tuple[dict[str, Any], str]:
    """The YAML front matter and the body of a Markdown card (an empty mapping without front matter)."""
    text = Path(path).read_text(encoding="utf-8")
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    meta = yaml.safe_load(match.group(1)) or {}
    return (meta if isinstance(meta, dict) else {}), text[match.end():]


def _first_paragraph(body: str) -> str:
    for block in re.split(r"\n\s*\n", body):
        block = block.strip()
        if block and not block.startswith(("#", "|", "<!--", "```")):
            return " ".join(line.strip() for line in block.splitlines())
    return ""


def _title(body: str) -> str:
    match = re.search(r"^#\s+(.+)$", body, re.M)
    return match.group(1).strip() if match else ""


def dataset_facts(path: str | os.PathLike, documents: int | None = None) -> DatasetFacts:
    """What the nearest data card (``README.md`` in the file's folder or above) says about ``path``."""
    path = os.fspath(path)
    folder = Path(path).resolve().parent
    for candidate in (folder, *folder.parents)[:4]:
        card = candidate / CARD_FILE
        if card.is_file():
            meta, body = read_card(card)
            name = meta.get("pretty_name") or _title(body).split(":")[0].strip() or candidate.name
            return DatasetFacts(path, name, str(meta.get("license") or UNKNOWN_LICENSE), _first_paragraph(body),
                                str(card), documents)
    return DatasetFacts(path, Path(path).parent.name or Path(path).stem, documents=documents)


def encoder_facts(encoder: str) -> EncoderFacts:
    """Random, pretrained by rasd, or a hub checkpoint: read from the encoder folder's own card."""
    card = Path(encoder) / CARD_FILE
    if card.is_file():
        meta, body = read_card(card)
        tags = meta.get("tags") or []
        origin = "random" if RANDOM_INIT_TAG in tags else "rasd-pretrained" if PRETRAINED_TAG in tags else "unknown"
        return EncoderFacts(encoder, origin, _first_paragraph(body))
    if Path(encoder).exists():
        return EncoderFacts(encoder, "unknown")
    return EncoderFacts(encoder, "hub")


def invoking_command() -> str | None:
    """The ``rasd ...`` command line of this process, when it is the rasd command (also under accelerate)."""
    program = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else ""
    if program in ("rasd", "cli.py"):
        return shlex.join(["rasd", *sys.argv[1:]])
    return None


def run_card_facts(config: Any, schema: Any, result: Mapping[str, Any],
                   documents: Mapping[str, int] | None = None) -> CardFacts:
    """The facts of a finished ``rasd train`` run: its config, schema and ``train()`` result."""
    from .configuration import to_dict

    documents = documents or {}
    splits = {"train": config.data.train, "dev": config.data.dev, "test": config.data.test}
    data = {split: dataset_facts(path, documents.get(split)) for split, path in splits.items() if path}
    if "dev" not in data and "dev" in result:  # carved out of train
        data["dev"] = DatasetFacts(f"{config.data.train} (held-out blocks)", data["train"].name, data["train"].license,
                                   data["train"].summary, data["train"].card, documents.get("dev"))
    return CardFacts(
        name=Path(config.train.output_dir).name or "rasd-model",
        encoder=encoder_facts(config.model.encoder),
        entities=list(schema.entities), triggers=list(schema.triggers), relations=list(schema.relation_labels),
        data=data, scores={split: result[split] for split in ("dev", "test") if split in result},
        config=to_dict(config), command=invoking_command(), best_epoch=result.get("best_epoch"))


# ---------------------------------------------------------------------------------------- rendering
def _metric(metrics: Mapping[str, Any], dotted: str) -> float | None:
    value: Any = metrics
    for key in dotted.split("."):
        if not isinstance(value, Mapping) or key not in value:
            return None
        value = value[key]
    return float(value)


def card_metadata(facts: CardFacts):
    """The front matter as huggingface_hub's ``ModelCardData`` (it writes ``model-index``)."""
    from huggingface_hub import EvalResult, ModelCardData

    results = []
    for split, metrics in facts.scores.items():
        dataset = facts.data.get(split)
        for dotted, task, name in CARD_METRICS:
            value = _metric(metrics, dotted)
            if value is not None and dataset is not None:
                results.append(EvalResult(task_type=task, dataset_type=dataset.name, dataset_name=dataset.name,
                                          dataset_split=split, metric_type="f1", metric_value=round(value, 4),
                                          metric_name=name))
    tags = ["rasd", "arabic", "event-extraction", "conflict-events", "token-classification", "relation-extraction"]
    if facts.encoder.origin == "random":
        tags.append(RANDOM_INIT_TAG)
    base_model = facts.encoder.name if facts.encoder.origin == "hub" else None
    return ModelCardData(language=[LANGUAGE], license=facts.license, library_name="rasd", tags=tags,
                         datasets=sorted({d.name for d in facts.data.values()}), base_model=base_model,
                         pipeline_tag="token-classification", model_name=facts.name,
                         eval_results=results or None)


def _score_table(scores: Mapping[str, Mapping[str, Any]]) -> str:
    splits = list(scores)
    rows = ["| score | " + " | ".join(splits) + " |", "|---|" + "---|" * len(splits)]
    for dotted, _, name in CARD_METRICS:
        values = [_metric(scores[s], dotted) for s in splits]
        rows.append(f"| {name} | " + " | ".join("" if v is None else f"{v:.3f}" for v in values) + " |")
    return "\n".join(rows)


def _encoder_text(encoder: EncoderFacts) -> str:
    if encoder.origin == "random":
        return (f"`{encoder.name}`, an encoder with **random weights** (no pretraining): everything the model "
                "knows of Arabic comes from its training documents, so expect lower scores on text unlike them.")
    if encoder.origin == "rasd-pretrained":
        return f"`{encoder.name}`, pretrained with `rasd pretrain`" + (f": {encoder.summary}" if encoder.summary else ".")
    if encoder.origin == "hub":
        return f"[`{encoder.name}`](https://huggingface.co/{encoder.name}) from the Hugging Face hub (see its card)."
    return f"`{encoder.name}` (a local encoder whose card does not say how it was made)."


def render_model_card(facts: CardFacts) -> str:
    """The card's Markdown, front matter included."""
    data_lines = []
    for split, d in facts.data.items():
        size = f", {d.documents} documents" if d.documents is not None else ""
        data_lines.append(f"- **{split}:** `{d.path}` ({d.name}{size}; licence: {d.license})")
    train = facts.data["train"]
    register = f" {train.summary}" if train.summary else ""
    made_by = f"`{facts.command}`" if facts.command else "`rasd.training.train()` from Python"
    best = f"; best dev epoch {facts.best_epoch}" if facts.best_epoch is not None and facts.best_epoch >= 0 else ""
    unknown = [f"`{d.path}`" for d in facts.data.values() if d.license == UNKNOWN_LICENSE]
    licence_note = (f"\n\nThe licence of {', '.join(unknown)} is not recorded in a data card: check it before "
                    "sharing this model." if unknown else "")
    body = f"""
# {facts.name}

A `rasd` model: Arabic news in, conflict-event data out. One encoder with two
heads tags entity and event-trigger spans (BIO over words) and labels the relations between them
(event arguments and entity links); `rasd` turns them into ACLED-style event records.

```python
from rasd.inference import load_model

extractor = load_model("path/to/this/folder")  # or its hub id
[doc] = extractor.extract(["..."], dates=["2024-12-07"])
```

## Training data

{chr(10).join(data_lines)}

{train.name}:{register}{licence_note}

## Labels

- **Entities:** {", ".join(facts.entities) or "none"}
- **Event triggers:** {", ".join(facts.triggers) or "none"}
- **Relations:** {", ".join(facts.relations) or "none"}

## Scores

Strict span offsets and labels, relations scored on predicted spans (end to end{best}).

{_score_table(facts.scores) if facts.scores else "Not scored."}

## How it was made

Encoder: {_encoder_text(facts.encoder)}

Command: {made_by}, with this config (also `config.yaml` in the run folder):

```yaml
{yaml.safe_dump(facts.config, allow_unicode=True, sort_keys=False).rstrip()}
```

## Intended use and limits

- **For:** turning Arabic news reports into candidate event records (who did what to whom, where,
  when, how many) for conflict researchers and event-data teams, with a person reviewing the output.
- **Not for:** decisions about individuals, or counts used without review: a missed or wrong span
  changes a record.
- **Register:** it knows the text it was trained on ({train.name}).{register} Dialects, social media
  and other registers will score lower than the figures above.
- **Labels:** it finds only the labels listed above; anything else in a text is invisible to it.
"""
    from huggingface_hub import ModelCard

    return str(ModelCard(f"---\n{card_metadata(facts).to_yaml()}\n---\n{body}"))


def write_model_card(model_dir: str | os.PathLike, facts: CardFacts) -> Path:
    """Write ``README.md`` and ``eval_results.json`` into ``model_dir``; returns the card's path."""
    out = Path(model_dir)
    (out / EVAL_RESULTS_FILE).write_text(json.dumps(facts.scores, indent=2) + "\n", encoding="utf-8")
    card = out / CARD_FILE
    card.write_text(render_model_card(facts), encoding="utf-8")
    return card


def write_run_card(model_dir: str | os.PathLike, config: Any, schema: Any, result: Mapping[str, Any],
                   documents: Mapping[str, int] | None = None) -> Path:
    """The card of a finished ``rasd train`` run (what ``Trainer`` calls once its test scores are known)."""
    return write_model_card(model_dir, run_card_facts(config, schema, result, documents))


# ---------------------------------------------------------------------------------------- encoders
def write_encoder_card(out_dir: str | os.PathLike, *, random_init: bool, description: str,
                       corpus: list[str] = (), metrics: Mapping[str, Any] | None = None) -> Path:
    """The card of an encoder folder (``rasd build-default-model``, ``rasd pretrain``): how it was made,
    on what, and its tag, which the card of a model fine-tuned from it reads."""
    from huggingface_hub import ModelCard, ModelCardData

    data = [dataset_facts(path) for path in corpus]
    licenses = {d.license for d in data}
    license = licenses.pop() if len(licenses) == 1 else UNKNOWN_LICENSE
    tags = ["rasd", "arabic", "fill-mask", RANDOM_INIT_TAG if random_init else PRETRAINED_TAG]
    meta = ModelCardData(language=[LANGUAGE], license=license, library_name="transformers", tags=tags,
                         datasets=sorted({d.name for d in data}) or None)
    lines = [f"- `{d.path}` ({d.name}; licence: {d.license})" for d in data]
    scores = "".join(f"\n- {key}: {value}" for key, value in (metrics or {}).items() if value is not None)
    body = (f"\n# {Path(out_dir).name}\n\n{description}\n\n"
            + ("## Text it was built from\n\n" + "\n".join(lines) + "\n\n" if lines else "")
            + (f"## Scores\n{scores}\n\n" if scores else "")
            + f"Made by `{invoking_command() or 'rasd'}`.\n")
    card = Path(out_dir) / CARD_FILE
    card.write_text(str(ModelCard(f"---\n{meta.to_yaml()}\n---\n{body}")), encoding="utf-8")
    return card
