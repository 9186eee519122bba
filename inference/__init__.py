"""rasd.inference: load a trained rasd model and turn Arabic text into spans, relations and event records.

Imports only torch, transformers/tokenizers, PyYAML, numpy and small run-time helpers; never
datasets, accelerate, seqeval or ``rasd.training``.
"""
from .config import RASD_VERSION, RasdConfig
from .documents import Document, DocumentError, Relation, Span, read_documents, write_documents
from .modeling import RasdModel, SchemaMismatchError
from .schema import Schema, SchemaError

__version__ = RASD_VERSION

__all__ = [
    "Document", "DocumentError", "RasdConfig", "RasdModel", "Relation", "Schema", "SchemaError",
    "SchemaMismatchError", "Span", "read_documents", "write_documents", "__version__",
]
