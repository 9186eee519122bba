"""rasd serve: the service runs on a free loopback port (in-process uvicorn, and the real command
as a subprocess) and every endpoint and every rejection is checked over HTTP."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager

import pytest

pytest.importorskip("fastapi", reason="rasd serve needs the serve extra: pip install 'rasd[serve]'")
pytest.importorskip("uvicorn", reason="rasd serve needs the serve extra: pip install 'rasd[serve]'")
httpx = pytest.importorskip("httpx", reason="the service tests call it with httpx (the serve extra)")

import torch  # noqa: E402

from rasd.inference.documents import Document  # noqa: E402
from rasd.inference.extractor import Extractor  # noqa: E402
from rasd.inference.io import run_extraction  # noqa: E402
from rasd.serving.app import create_app, read_evaluation  # noqa: E402
from rasd.serving.config import ServeConfig  # noqa: E402

TEXTS = ["قصفت الطائرات مدينة حلب أمس، ما أسفر عن مقتل ثلاثة مدنيين.",
         "اندلعت اشتباكات بين الجيش والمسلحين في درعا أمس.",
         "فرّ نحو 2000 جندي إلى العراق مع دخول قوات المعارضة مدينة حمص."]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, tiny_encoder_dir, schema):
    from transformers import AutoTokenizer

    from rasd.inference.modeling import RasdModel

    out = tmp_path_factory.mktemp("serve") / "model"
    torch.manual_seed(0)
    model = RasdModel.from_encoder(tiny_encoder_dir, schema, max_length=32, window_stride=8)
    with torch.no_grad():  # every word in a span and every allowed pair related, so outputs are never empty
        model.tagger.bias[model.config.label2id["O"]] = -10.0
        model.relations.mlp[-1].bias[0] = -10.0
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(tiny_encoder_dir).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def extractor(model_dir):
    return Extractor.from_pretrained(model_dir)


def free_port() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def running(app):
    """The app on uvicorn in a thread, on a free loopback port; stopped as SIGTERM stops it."""
    import uvicorn

    sock = free_port()
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=30))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{sock.getsockname()[1]}", timeout=30) as client:
            yield client, server, thread
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def wait_ready(client, seconds: float = 60) -> httpx.Response:
    deadline = time.monotonic() + seconds
    while True:
        r = client.get("/readyz")
        if r.status_code == 200 or time.monotonic() > deadline or "failed" in r.text:
            return r
        time.sleep(0.05)


def post(client, body, **kwargs) -> httpx.Response:
    return client.post("/v1/extract", json=body, **kwargs)


def test_extract_answers_what_rasd_extract_writes(tmp_path, model_dir, extractor):
    docs = [{"id": "n1", "text": TEXTS[0], "meta": {"date": "2024-12-07", "source": "test"}},
            {"id": "n2", "text": TEXTS[1]}, {"id": 7, "text": TEXTS[2]}]
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in docs) + "\n", encoding="utf-8")
    run_extraction(extractor, [source], tmp_path / "out.jsonl", batch_size=8, show_progress_bar=False)
    want = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sum(len(d["spans"]) for d in want) > 10 and any(d.get("events") for d in want)
    [alone] = extractor.extract([Document("n1", TEXTS[0], {"date": "2024-12-07"})], batch_size=8)

    with running(create_app(str(model_dir), ServeConfig(batch_size=8))) as (client, _, _):
        assert client.get("/healthz").json() == {"status": "ok"}
        assert wait_ready(client).status_code == 200
        r = post(client, {"documents": docs})
        assert r.status_code == 200, r.text
        assert r.json()["documents"] == want
        single = post(client, {"text": TEXTS[0], "meta": {"date": "2024-12-07"}, "id": "n1"})
        assert single.status_code == 200 and single.json()["documents"] == [alone.to_dict()]
        unnamed = post(client, {"documents": [{"text": TEXTS[1]}, {"text": TEXTS[2], "id": ""}]})
        assert [d["id"] for d in unnamed.json()["documents"]] == ["doc-1", "doc-2"]


def test_model_card_endpoint_and_openapi(model_dir, extractor, schema):
    (model_dir / "eval_results.json").write_text(json.dumps({"test": {"spans": {"micro": {"f1": 0.5}}}}))
    try:
        with running(create_app(str(model_dir), ServeConfig(max_documents=5))) as (client, _, _):
            wait_ready(client)
            info = client.get("/v1/model").json()
    finally:
        (model_dir / "eval_results.json").unlink()
    assert info["backend"].startswith("torch") and info["rasd_version"] and info["server_version"]
    assert info["labels"]["spans"] == list(schema.span_labels) and "O" in info["labels"]["tags"]
    assert info["schema"] == schema.to_dict()
    assert info["evaluation"]["scores"]["test"]["spans"]["micro"]["f1"] == 0.5
    assert info["limits"]["max_documents"] == 5
    with running(create_app(extractor)) as (client, _, _):
        spec = client.get("/openapi.json").json()
        assert {"/v1/extract", "/v1/model", "/healthz", "/readyz"} <= set(spec["paths"])
        assert client.get("/docs").status_code == 200
        assert client.get("/v1/model").json()["evaluation"] is None  # a loaded extractor has no folder


def test_evaluation_scores_fall_back_to_the_training_run(tmp_path):
    model = tmp_path / "run" / "model"
    model.mkdir(parents=True)
    assert read_evaluation(model) is None
    (tmp_path / "run" / "scores.json").write_text('{"dev": {"combined_f1": 0.4}}')
    assert read_evaluation(model) is None  # not a run folder (no config.yaml)
    (tmp_path / "run" / "config.yaml").write_text("train: {}\n")
    assert read_evaluation(model)["scores"] == {"dev": {"combined_f1": 0.4}}
    (model / "eval_results.json").write_text("{not json")
    assert "unreadable" in read_evaluation(model)["error"]


def test_every_rejection_names_its_limit_or_field(extractor):
    config = ServeConfig(max_documents=3, max_characters=500, max_body_bytes=20_000)
    with running(create_app(extractor, config)) as (client, _, _):
        wait_ready(client)
        r = post(client, {"documents": [{"text": "نص"}] * 4})
        assert r.status_code == 413 and "max_documents" in r.json()["detail"] and "4 documents" in r.json()["detail"]
        r = post(client, {"documents": [{"text": "ن" * 300}, {"text": "ن" * 300}]})
        assert r.status_code == 413 and "max_characters" in r.json()["detail"] and "600" in r.json()["detail"]
        r = post(client, {"text": "ن" * 30_000})
        assert r.status_code == 413 and "max_body_bytes" in r.json()["detail"]

        def chunks():
            yield b'{"text": "'
            for _ in range(30):
                yield "ن".encode() * 500
            yield b'"}'

        r = client.post("/v1/extract", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413 and "max_body_bytes" in r.json()["detail"]
        small = client.post("/v1/extract", content=iter([b'{"text": "', "نص".encode(), b'"}']),
                            headers={"content-type": "application/json"})
        assert small.status_code == 200 and small.json()["documents"][0]["text"] == "نص"  # chunked, under the limit

        malformed = {
            "documents[1].text": {"documents": [{"text": "نص"}, {"id": "b"}]},
            "documents[0].meta": {"documents": [{"text": "نص", "meta": "2024-12-07"}]},
            "documents[0].txt": {"documents": [{"txt": "نص"}]},
            "documents[0].id": {"documents": [{"text": "نص", "id": 1.5}]},
            "documents[1].id: repeated id 'a'": {"documents": [{"id": "a", "text": "x"}, {"id": "a", "text": "y"}]},
            "documents: List should have at least 1 item": {"documents": []},
            "documents: Field required": {"docs": []},
        }
        for field, body in malformed.items():
            r = post(client, body)
            assert r.status_code == 422, (field, r.text)
            assert field in r.json()["detail"], (field, r.json()["detail"])
        r = client.post("/v1/extract", content=b'{"text": "unterminated', headers={"content-type": "application/json"})
        assert r.status_code == 422 and "invalid JSON" in r.json()["detail"]
        # after all that the server still serves
        assert post(client, {"text": TEXTS[0]}).status_code == 200


def test_api_key_protects_the_v1_endpoints_only(extractor):
    with running(create_app(extractor, ServeConfig(api_key="s3cret"))) as (client, _, _):
        assert post(client, {"text": TEXTS[0]}).status_code == 401
        r = post(client, {"text": TEXTS[0]}, headers={"X-API-Key": "wrong"})
        assert r.status_code == 401 and "X-API-Key" in r.json()["detail"]
        assert client.get("/v1/model").status_code == 401
        assert post(client, {"text": TEXTS[0]}, headers={"X-API-Key": "s3cret"}).status_code == 200
        assert client.get("/v1/model", headers={"X-API-Key": "s3cret"}).status_code == 200
        assert client.get("/healthz").status_code == 200 and client.get("/readyz").status_code == 200


class Slow:
    """The extractor, ``seconds`` slower per call; counts calls."""

    def __init__(self, extractor, seconds: float) -> None:
        self.inner, self.seconds, self.calls = extractor, seconds, 0
        self.config, self.schema, self.tags, self.classes = (extractor.config, extractor.schema, extractor.tags,
                                                             extractor.classes)
        self.device = extractor.device

    def extract(self, docs, **kwargs):
        self.calls += 1
        time.sleep(self.seconds)
        return self.inner.extract(docs, **kwargs)


def test_past_the_time_budget_the_answer_is_503_and_the_server_keeps_serving(extractor):
    slow = Slow(extractor, 1.0)
    with running(create_app(slow, ServeConfig(timeout_s=0.3))) as (client, _, _):
        started = time.monotonic()
        r = post(client, {"text": TEXTS[0]})
        assert r.status_code == 503 and "timeout_s" in r.json()["detail"]
        assert time.monotonic() - started < 0.9  # answered at the budget, not when the model finished
        assert client.get("/healthz").status_code == 200  # the event loop is free while the model runs
        slow.seconds = 0.0
        time.sleep(0.8)  # the timed-out batch finishes in the background
        assert post(client, {"text": TEXTS[1]}).status_code == 200


def test_concurrent_requests_are_batched_together(extractor):
    slow = Slow(extractor, 0.3)
    config = ServeConfig(max_batch_documents=16, max_wait_ms=50)
    with running(create_app(slow, config)) as (client, _, _):
        def one(i, out):
            out[i] = post(client, {"id": f"r{i}", "text": TEXTS[i % 3]})

        results: dict = {}
        threads = [threading.Thread(target=one, args=(i, results)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert all(results[i].status_code == 200 for i in range(8))
        assert [results[i].json()["documents"][0]["id"] for i in range(8)] == [f"r{i}" for i in range(8)]
        served = client.get("/v1/model").json()["served"]
    assert served["requests"] == 8 and served["documents"] == 8
    assert slow.calls == served["batches"] < 8


def test_shutdown_answers_the_requests_in_flight(extractor):
    slow = Slow(extractor, 1.0)
    with running(create_app(slow)) as (client, server, thread):
        result: dict = {}
        request = threading.Thread(target=lambda: result.update(r=post(client, {"text": TEXTS[0]})))
        request.start()
        time.sleep(0.3)  # the request is now with the model
        server.should_exit = True  # what uvicorn does on SIGTERM
        request.join(30)
        thread.join(30)
        assert result["r"].status_code == 200 and result["r"].json()["documents"][0]["spans"]
        assert not thread.is_alive()
    assert slow.calls == 1


def test_a_model_that_fails_to_load_is_not_ready(tmp_path):
    with running(create_app(str(tmp_path / "missing"))) as (client, _, _):
        r = wait_ready(client)
        assert r.status_code == 503 and "failed to load" in r.json()["detail"]
        assert client.get("/healthz").status_code == 200
        r = post(client, {"text": "نص"})
        assert r.status_code == 503 and "failed to load" in r.json()["detail"]


def test_rasd_serve_command_serves_logs_and_stops_on_sigterm(model_dir):
    sock = free_port()
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "RASD_API_KEY": "k"}
    proc = subprocess.Popen([sys.executable, "-m", "rasd.training.cli", "serve", "--model", str(model_dir),
                             "--port", str(port), "--threads", "1", "--max-documents", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            deadline = time.monotonic() + 120
            while True:
                try:
                    if client.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert proc.poll() is None and time.monotonic() < deadline, "rasd serve did not get ready"
                time.sleep(0.2)
            headers = {"X-API-Key": "k"}
            assert post(client, {"documents": [{"text": TEXTS[0]}, {"text": TEXTS[1]}]}, headers=headers).status_code == 200
            assert post(client, {"documents": [{"text": "x"}] * 3}, headers=headers).status_code == 413
            assert post(client, {"text": "x"}).status_code == 401
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    # uvicorn re-raises the SIGTERM it caught once shutdown is complete, as a service manager expects
    assert proc.returncode in (0, -signal.SIGTERM), out[-3000:]
    assert "Application shutdown complete" in out and "stopped; served" in out
    assert "loaded" in out and "POST /v1/extract 200" in out and "2 documents" in out
    assert "POST /v1/extract 413" in out and "POST /v1/extract 401" in out
    assert f"127.0.0.1:{port}" in out  # loopback only by default
