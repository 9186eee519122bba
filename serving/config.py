"""``ServeConfig``: the limits and batching of ``rasd serve`` (no web framework imported here, so
the command line can list these options without loading FastAPI)."""
from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from rasd.inference.errors import UserError

API_KEY_ENV = "RASD_API_KEY"  # rasd serve reads the API key from this variable, never from its arguments
API_KEY_HEADER = "X-API-Key"


@dataclass
class ServeConfig:
    max_documents: int = field(default=64, metadata={"help": "documents per request; more is refused with 413"})
    max_characters: int = field(default=200_000, metadata={
        "help": "characters of text per request, all documents together; more is refused with 413"})
    max_body_bytes: int = field(default=0, metadata={
        "help": "bytes of request body; more is refused with 413 before it is read (0: 6 per allowed character + 1 MiB)"})
    timeout_s: float = field(default=30.0, metadata={
        "help": "seconds a request may take, waiting for the model included; past it the answer is 503"})
    batch_size: int = field(default=0, metadata={
        "help": "windows per model call (0: 8 on torch, 1 on ONNX, their best in benchmarks/RESULTS.md)"})
    max_batch_documents: int = field(default=32, metadata={
        "help": "documents of concurrent requests predicted together in one batch"})
    max_wait_ms: float = field(default=2.0, metadata={
        "help": "how long a request waits for others to join its batch"})
    max_queue: int = field(default=256, metadata={"help": "requests waiting for the model; more are refused with 503"})
    graceful_timeout_s: float = field(default=60.0, metadata={
        "help": "on shutdown, how long requests in flight may take to finish"})
    api_key: str = field(default="", metadata={
        "help": f"when set, /v1/ endpoints need the header {API_KEY_HEADER} with this value "
                f"(rasd serve reads it from ${API_KEY_ENV})"})

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (int, float)) and value < 0:
                raise UserError(f"serve option {f.name} must not be negative, not {value}")
        for name in ("max_documents", "max_characters", "max_batch_documents", "max_queue"):
            if getattr(self, name) < 1:
                raise UserError(f"serve option {name} must be at least 1")
        if self.timeout_s <= 0:
            raise UserError("serve option timeout_s must be positive")

    @property
    def body_limit(self) -> int:
        # a character is at most 6 bytes of JSON ("\u0627" when the client escapes non-ASCII)
        return self.max_body_bytes or 6 * self.max_characters + 2**20

    def limits(self) -> dict[str, Any]:
        """The limits a client must respect (shown by ``GET /v1/model``)."""
        return {"max_documents": self.max_documents, "max_characters": self.max_characters,
                "max_body_bytes": self.body_limit, "timeout_s": self.timeout_s}
