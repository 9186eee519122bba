"""rasd.inference: load a trained rasd model and turn Arabic text into spans, relations and event records.

    from rasd.inference import load_model
    extractor = load_model("runs/quickstart/model")
    docs = extractor.extract(["..."], dates=["2024-12-07"])

Imports only torch, transformers/tokenizers, PyYAML, numpy and small run-time helpers; never
datasets, accelerate, seqeval or ``rasd.training``. Names are imported on first use, so reading
documents or a schema does not pay for importing torch.
"""
from importlib import import_module

__version__ = "0.2.0"

_EXPORTS = {
    "Document": "documents", "DocumentError": "documents", "Relation": "documents", "Span": "documents",
    "read_documents": "documents", "write_documents": "documents",
    "Schema": "schema", "SchemaError": "schema",
    "RasdConfig": "config", "RasdModel": "modeling", "SchemaMismatchError": "modeling",
    "Extractor": "extractor", "load_model": "extractor",
    "EventRecord": "events", "EventBuilder": "events", "format_record": "events",
    "Gazetteer": "geocoding", "Place": "geocoding", "ActorDictionary": "actors", "Actor": "actors",
    "merge_records": "event_merge", "open_output": "io",
    "UserError": "errors",
}

__all__ = sorted(_EXPORTS) + ["__version__"]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
