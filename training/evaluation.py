"""``rasd evaluate``: score a model (or saved predictions) on gold documents and write the report."""
from __future__ import annotations

import logging
import os

from rasd.inference.documents import read_documents
from rasd.inference.schema import Schema

from .convert import read_corpus
from .event_metrics import default_gold_events_path
from .metrics import score_documents
from .report import write_report

logger = logging.getLogger(__name__)


def evaluate(data: str, out_dir: str, *, model: str | None = None, pred: str | None = None,
             schema: str | Schema | None = None, batch_size: int = 16,
             events: str | None = None) -> tuple[dict, dict[str, str]]:
    """Score ``model`` (predicting now) or ``pred`` (a JSONL of predictions) against ``data``.

    ``data`` is JSONL or CoNLL. The schema is the model's own unless one is given; with
    ``pred`` and no schema, the default conflict schema is used. Event records and geocoding are
    scored too (``events`` and ``geocoding`` keys) when gold event records are given (``events``)
    or lie beside ``data`` (``events/X.jsonl``). Returns the metrics and the paths of the written files.
    """
    if (model is None) == (pred is None):
        raise ValueError("give exactly one of model (to predict) or pred (saved predictions)")
    if isinstance(schema, str):
        schema = Schema.from_yaml(schema)
    if model is not None:
        from rasd.inference.extractor import Extractor

        extractor = Extractor.from_pretrained(model, schema=schema)
        schema = extractor.schema
        gold = read_corpus(data, schema)
        predictions = extractor.predict_documents(gold, batch_size=batch_size)
    else:
        schema = schema or Schema.from_yaml(os.path.join("configs", "schema", "conflict.yaml"))
        gold = read_corpus(data, schema)
        predictions = read_documents(pred)
        for doc in predictions:
            for s in doc.spans:
                s.label = schema.canonical(s.label)
    metrics = score_documents(gold, predictions, schema)
    events = events or default_gold_events_path(data)
    if events:
        from .event_metrics import read_gold_events, score_event_records

        metrics.update(score_event_records(predictions, read_gold_events(events), schema))
    title = f"rasd evaluation: {os.path.basename(model or pred)} on {os.path.basename(data)}"
    paths = write_report(metrics, out_dir, gold=gold, pred=predictions, schema=schema, title=title)
    logger.info("evaluation report -> %s", paths["html"])
    return metrics, paths
