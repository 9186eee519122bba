"""The REST service behind ``rasd serve``: ``create_app(model)`` returns a FastAPI application.

    from rasd.serving.app import create_app
    app = create_app("runs/quickstart/model")          # or an ONNX export, quantized=True for int8
    # uvicorn.run(app, host="127.0.0.1", port=8000)

Endpoints: ``POST /v1/extract`` (one document ``{id, text, meta}`` or ``{"documents": [...]}``;
answers ``{"documents": [...]}``, each the JSONL contract's document that ``rasd extract``
writes: spans, relations by id, scores and event records), ``GET /v1/model`` (schema, labels,
versions, the model's evaluation scores, the limits), ``GET /healthz`` (the process answers),
``GET /readyz`` (the model is loaded), and the OpenAPI docs at ``/docs``.

The model is loaded on a background thread at start-up, so ``/healthz`` answers at once and
``/readyz`` says when extraction can start. Requests go through a ``MicroBatcher``: concurrent
requests share model batches on one worker thread, never on the event loop.
"""
from __future__ import annotations

import asyncio
import itertools
import json
import logging
import os
import secrets
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Union

from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator

from rasd.inference import __version__
from rasd.inference.documents import Document

from .batching import BatcherClosedError, MicroBatcher, QueueFullError
from .config import API_KEY_HEADER, ServeConfig
from .memory import release_free_memory

logger = logging.getLogger(__name__)

EVAL_RESULTS_FILE = "eval_results.json"  # the model card's scores, saved beside the weights
RUN_SCORES_FILE = "scores.json"  # what `rasd train` writes in its run folder, beside config.yaml
TRIM_EVERY_BATCHES = 10  # batches between handing freed memory back (see rasd.serving.memory)


# ---------------------------------------------------------------------------------- request bodies
class DocumentIn(BaseModel):
    """One document to extract from; ``meta.date`` (ISO) resolves relative dates."""

    model_config = ConfigDict(extra="forbid")
    id: Union[StrictStr, StrictInt, None] = Field(None, description="document id (default: doc-N, its position)")
    text: StrictStr = Field(..., description="the raw text; offsets in the answer index it")
    meta: dict[str, Any] = Field(default_factory=dict, description="kept as given; meta.date is the publication date")


class ExtractRequest(BaseModel):
    """``{"documents": [...]}``, or a single document's fields at the top level."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [
        {"documents": [{"id": "n1", "text": "قصفت الطائرات مدينة حلب أمس، ما أسفر عن مقتل ثلاثة مدنيين.",
                        "meta": {"date": "2024-12-07"}}]}]})
    documents: list[DocumentIn] = Field(..., min_length=1, description="the documents, answered in this order")

    @model_validator(mode="before")
    @classmethod
    def _one_document(cls, raw: Any) -> Any:
        if isinstance(raw, dict) and "documents" not in raw and "text" in raw:
            return {"documents": [raw]}
        return raw


class ExtractResponse(BaseModel):
    documents: list[dict[str, Any]] = Field(..., description="the JSONL contract's documents, as `rasd extract` "
                                                            "writes them: spans, relations, scores, events")


# ---------------------------------------------------------------------------------- model
def read_evaluation(model: str | os.PathLike) -> dict[str, Any] | None:
    """The model's evaluation scores: ``eval_results.json`` in its folder, else the ``scores.json``
    of the training run it sits in (a folder with ``config.yaml``); ``None`` when neither exists."""
    folder = Path(model)
    candidates = [folder / EVAL_RESULTS_FILE]
    if (folder.parent / "config.yaml").is_file():
        candidates.append(folder.parent / RUN_SCORES_FILE)
    for path in candidates:
        if path.is_file():
            try:
                with open(path, encoding="utf-8") as f:
                    return {"file": str(path), "scores": json.load(f)}
            except (OSError, ValueError) as err:
                return {"file": str(path), "error": f"unreadable: {err}"}
    return None


def model_info(extractor, model: str | os.PathLike | None, backend: str) -> dict[str, Any]:
    """What ``GET /v1/model`` shows about a loaded extractor (torch or ONNX)."""
    config = extractor.config if isinstance(extractor.config, dict) else extractor.config.to_dict()
    schema = extractor.schema
    return {
        "path": None if model is None else str(model),
        "backend": backend,
        "rasd_version": config.get("rasd_version"),
        "server_version": __version__,
        "max_length": config.get("max_length"),
        "window_stride": config.get("window_stride"),
        "labels": {"spans": list(schema.span_labels), "tags": list(extractor.tags),
                   "relations": list(extractor.classes)},
        "schema": schema.to_dict(),
        "evaluation": None if model is None else read_evaluation(model),
    }


def _backend(extractor, quantized: bool) -> tuple[str, int]:
    """The backend's name and its default batch size (its best in benchmarks/RESULTS.md)."""
    from rasd.inference.onnx_extractor import OnnxExtractor

    if isinstance(extractor, OnnxExtractor):
        provider = extractor.session.get_providers()[0].removesuffix("ExecutionProvider").lower()
        return f"onnx{'-int8' if quantized else ''} ({provider})", 1
    return f"torch ({getattr(extractor, 'device', 'cpu')})", 8


class _State:
    """What the endpoints share: filled by the loader thread, read by the handlers."""

    def __init__(self) -> None:
        self.extractor = None
        self.batcher: MicroBatcher | None = None
        self.info: dict[str, Any] | None = None
        self.error: str | None = None
        self.shutting_down = False


def _load(state: _State, model, config: ServeConfig, quantized: bool, device: str | None,
          threads: int | None) -> None:
    started = time.perf_counter()
    path = None if hasattr(model, "extract") else model
    try:
        if path is None:
            extractor = model
        else:
            from rasd.inference.io import load_extractor

            extractor = load_extractor(path, quantized=quantized, device=device, threads=threads)
        backend, default_batch = _backend(extractor, quantized)
        batch_size = config.batch_size or default_batch

        batches = itertools.count(1)

        def predict(docs: list[Document]) -> list[dict[str, Any]]:
            out = [doc.to_dict() for doc in extractor.extract(docs, batch_size=batch_size)]
            if next(batches) % TRIM_EVERY_BATCHES == 0:
                release_free_memory()
            return out

        state.info = {**model_info(extractor, path, backend), "batch_size": batch_size}
        state.batcher = MicroBatcher(predict, config.max_batch_documents, config.max_wait_ms / 1000,
                                     config.max_queue)
        state.extractor = extractor
    except Exception as err:  # noqa: BLE001 - /readyz reports it; the process stays up to say so
        state.error = f"{type(err).__name__}: {err}"
        logger.error("model %s failed to load: %s", path, state.error)
        return
    logger.info("model %s loaded in %.1f s: %s, batch size %d; ready", path or type(model).__name__,
                time.perf_counter() - started, state.info["backend"], batch_size)


# ---------------------------------------------------------------------------------- middleware
def _json_response(status: int, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"detail": detail}, status_code=status, headers=headers)


class _BodyLimit:
    """Refuses a body over ``limit`` bytes with 413 before the application reads it: by its
    Content-Length, or, for a chunked body, once the chunks pass the limit."""

    def __init__(self, app, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            if int(length) > self.limit:
                return await self._refuse(int(length), scope, receive, send)
            return await self.app(scope, receive, send)
        if scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        chunks, size = [], 0
        while True:  # chunked: buffer (at most the limit), then hand the body on in one piece
            message = await receive()
            if message["type"] != "http.request":
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > self.limit:
                return await self._refuse(size, scope, receive, send)
            if not message.get("more_body"):
                break
        body, replayed = b"".join(chunks), False

        async def replay():
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    async def _refuse(self, size: int, scope, receive, send) -> None:
        response = _json_response(413, f"request body of {size:,}+ bytes is over the limit of {self.limit:,} bytes "
                                       f"(max_body_bytes)")
        await response(scope, receive, send)


class _AccessLog:
    """One log line per request: what was asked, its status, how long it took, and what the
    handler put in ``request.state.served`` (documents, spans, events, time waiting for the model)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500

        async def send_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            ms = 1000 * (time.perf_counter() - started)
            served = (scope.get("state") or {}).get("served", "")
            probe = scope["path"] in ("/healthz", "/readyz")
            logger.log(logging.DEBUG if probe else logging.INFO, "%s %s %d %.1f ms%s",
                       scope["method"], scope["path"], status, ms, f" {served}" if served else "")


# ---------------------------------------------------------------------------------- the app
def _field(loc: tuple) -> str:
    """``("body", "documents", 0, "text")`` → ``documents[0].text``."""
    out = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _describe(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        return f"body: invalid JSON ({(error.get('ctx') or {}).get('error', error.get('msg'))})"
    return f"{_field(tuple(error.get('loc') or ()))}: {error.get('msg')}"


def create_app(model: "str | os.PathLike | Any", config: ServeConfig | None = None, quantized: bool = False,
               device: str | None = None, threads: int | None = None) -> FastAPI:
    """The service for ``model``: a model directory, hub id or ONNX export (``quantized``: its
    int8 encoder), loaded on a background thread at start-up, or an extractor already loaded."""
    config = config or ServeConfig()
    state = _State()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if hasattr(model, "extract"):
            _load(state, model, config, quantized, device, threads)
        else:
            threading.Thread(target=_load, args=(state, model, config, quantized, device, threads),
                             name="rasd-model-loader", daemon=True).start()
        yield
        # uvicorn calls this after the requests in flight have been answered
        state.shutting_down = True
        if state.batcher is not None:
            await asyncio.to_thread(state.batcher.close, config.graceful_timeout_s)
        logger.info("stopped%s", f"; served {state.batcher.stats.to_dict()}" if state.batcher else "")

    app = FastAPI(title="rasd", version=__version__, lifespan=lifespan,
                  description="Arabic news → conflict-event data: spans, relations and event records.")
    app.state.rasd = state
    app.add_middleware(_BodyLimit, limit=config.body_limit)
    app.add_middleware(_AccessLog)

    key_header = APIKeyHeader(name=API_KEY_HEADER, auto_error=False,
                              description="needed when the server was started with an API key")

    async def check_key(key: str | None = Depends(key_header)) -> None:  # async: no thread-pool hop per request
        if config.api_key and not (key and secrets.compare_digest(key.encode(), config.api_key.encode())):
            raise HTTPException(401, f"missing or wrong {API_KEY_HEADER} header")

    def ready() -> MicroBatcher:
        if state.shutting_down:
            raise HTTPException(503, "the server is shutting down", headers={"Retry-After": "1"})
        if state.error:
            raise HTTPException(503, f"the model failed to load: {state.error}")
        if state.batcher is None:
            raise HTTPException(503, "the model is still loading", headers={"Retry-After": "1"})
        return state.batcher

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        detail = "; ".join(_describe(e) for e in errors[:5]) + (f"; and {len(errors) - 5} more" if len(errors) > 5 else "")
        return JSONResponse({"detail": detail, "errors": jsonable_encoder(errors)}, status_code=422)

    @app.get("/healthz", summary="the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="the model is loaded and takes requests",
             responses={503: {"description": "loading, failed to load, or shutting down"}})
    async def readyz() -> JSONResponse:
        try:
            ready()
        except HTTPException as err:
            return JSONResponse({"status": "not ready", "detail": err.detail}, status_code=503)
        return JSONResponse({"status": "ready"})

    @app.get("/v1/model", summary="schema, labels, versions, evaluation scores and limits",
             dependencies=[Depends(check_key)])
    async def model_card() -> dict[str, Any]:
        batcher = ready()
        return {**state.info, "limits": config.limits(), "served": batcher.stats.to_dict()}

    @app.post("/v1/extract", summary="spans, relations and event records of one or many documents",
              response_model=ExtractResponse, dependencies=[Depends(check_key)],
              responses={401: {"description": "missing or wrong API key"},
                         413: {"description": "too many documents, characters or bytes (the limit is named)"},
                         422: {"description": "malformed body (the field is named)"},
                         503: {"description": "not ready, too busy, or past the time budget"}})
    async def extract(body: ExtractRequest, request: Request) -> JSONResponse:
        started = time.perf_counter()
        batcher = ready()
        if len(body.documents) > config.max_documents:
            raise HTTPException(413, f"{len(body.documents)} documents is over the limit of {config.max_documents} "
                                     f"per request (max_documents)")
        characters = sum(len(d.text) for d in body.documents)
        if characters > config.max_characters:
            raise HTTPException(413, f"{characters:,} characters is over the limit of {config.max_characters:,} "
                                     f"per request (max_characters)")
        docs = _documents(body.documents)
        try:
            future = batcher.submit(docs)
        except QueueFullError as err:
            raise HTTPException(503, f"too busy: {err}", headers={"Retry-After": "1"}) from None
        except BatcherClosedError as err:
            raise HTTPException(503, str(err), headers={"Retry-After": "1"}) from None
        budget = config.timeout_s - (time.perf_counter() - started)
        try:
            # on timeout the future is cancelled: dropped if it still waits, its result discarded if it runs
            results = await asyncio.wait_for(asyncio.wrap_future(future), timeout=budget)
        except (asyncio.TimeoutError, TimeoutError):
            raise HTTPException(503, f"not answered within the time budget of {config.timeout_s:g} s (timeout_s); "
                                     f"send fewer documents or retry later", headers={"Retry-After": "1"}) from None
        except Exception as err:  # noqa: BLE001 - the model failed on this request; the server goes on
            raise HTTPException(500, f"extraction failed: {type(err).__name__}: {err}") from None
        request.state.served = (
            f"{len(docs)} documents, {characters:,} characters -> {sum(len(d['spans']) for d in results)} spans, "
            f"{sum(len(d['relations']) for d in results)} relations, "
            f"{sum(len(d.get('events', ())) for d in results)} events; waited "
            f"{1000 * getattr(future, 'queued_seconds', 0.0):.1f} ms for the model")
        return JSONResponse({"documents": results})

    return app


def _documents(items: list[DocumentIn]) -> list[Document]:
    """Documents with their ids (``doc-N`` by position when none is given); a repeated id is a 422."""
    first: dict[str, int] = {}
    docs = []
    for i, item in enumerate(items):
        doc_id = str(item.id) if item.id not in (None, "") else f"doc-{i + 1}"
        if doc_id in first:
            raise HTTPException(422, f"documents[{i}].id: repeated id {doc_id!r} (also documents[{first[doc_id]}])")
        first[doc_id] = i
        docs.append(Document(doc_id, item.text, dict(item.meta)))
    return docs


def serve(model: "str | os.PathLike", host: str = "127.0.0.1", port: int = 8000, config: ServeConfig | None = None,
          quantized: bool = False, device: str | None = None, threads: int | None = None) -> None:
    """Run the service with uvicorn until SIGINT/SIGTERM; requests in flight are answered first."""
    import uvicorn

    config = config or ServeConfig()
    app = create_app(model, config, quantized=quantized, device=device, threads=threads)
    # log_config=None: uvicorn's lines go through the logging that the rasd command set up;
    # the access log is ours (_AccessLog), with durations and what was served
    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False,
                timeout_graceful_shutdown=config.graceful_timeout_s)
