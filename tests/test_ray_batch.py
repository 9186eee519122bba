"""rasd batch on a local two-worker Ray: per shard, exactly the documents and event rows of
rasd extract; a second run redoes only the shard whose output was deleted; a bad shard fails alone."""
import json

import pytest

for module in ("ray", "pyarrow", "fsspec"):
    pytest.importorskip(module, reason="rasd batch needs the ray extra: pip install 'rasd[ray]'")
pytest.importorskip("onnxruntime", reason="rasd batch runs ONNX exports by default: pip install 'rasd[onnx]'")

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from rasd.serving.ray_batch import list_shards, run_batch  # noqa: E402
from rasd.training.cli import main  # noqa: E402

TEXTS = ["قصفت الطائرات مدينة حلب أمس، ما أسفر عن مقتل ثلاثة مدنيين.",
         "اندلعت اشتباكات بين الجيش والمسلحين في درعا أمس.",
         "فرّ نحو 2000 جندي إلى العراق مع دخول قوات المعارضة مدينة حمص.",
         "تظاهر مئات الطلاب في الخرطوم احتجاجاً على ارتفاع الأسعار."]


@pytest.fixture(scope="module")
def export(tmp_path_factory, tiny_encoder_dir, schema):
    """The tiny model, made to tag every word and relate every allowed pair, exported with its int8 encoder."""
    import torch
    from transformers import AutoTokenizer

    from rasd.inference.modeling import RasdModel
    from rasd.training.export_onnx import export_onnx

    root = tmp_path_factory.mktemp("batch-model")
    torch.manual_seed(0)
    model = RasdModel.from_encoder(tiny_encoder_dir, schema, max_length=32, window_stride=8)
    with torch.no_grad():
        model.tagger.bias[model.config.label2id["O"]] = -10.0
        model.relations.mlp[-1].bias[0] = -10.0
    model.save_pretrained(root / "model")
    AutoTokenizer.from_pretrained(tiny_encoder_dir).save_pretrained(root / "model")
    export_onnx(root / "model", root / "onnx", quantize=True)
    return root / "onnx"


@pytest.fixture(scope="module")
def local_ray():
    import ray

    ray.init(num_cpus=2, object_store_memory=100 * 2**20, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def records(n: int, prefix: str) -> list[dict]:
    return [{"id": f"{prefix}{i}", "text": TEXTS[i % len(TEXTS)] * (1 + i % 3), "meta": {"date": "2024-12-07"}}
            for i in range(n)]


def write_jsonl(path, rows, extra_lines=()) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(r, ensure_ascii=False) for r in rows] + list(extra_lines)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def read_jsonl(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def extract(export, source, out) -> None:
    assert main(["extract", "--model", str(export), "--int8", "-q", "--keep-going", str(source), "-o", str(out)]) == 0


def test_batch_gives_rasd_extract_documents_and_resumes_shard_by_shard(tmp_path, export, local_ray, capsys):
    shards = tmp_path / "in"
    # a repeated id and a broken line: renamed and reported as rasd extract does
    write_jsonl(shards / "a.jsonl", records(5, "a") + [{"id": "a1", "text": TEXTS[3]}],
                extra_lines=['{"id": "broken", "text": '])
    write_jsonl(shards / "sub" / "b.jsonl", records(7, "b") + [{"text": TEXTS[0]}])
    parquet_rows = [{"text": r["text"], "meta": json.dumps(r["meta"])} for r in records(4, "c")]
    pq.write_table(pa.Table.from_pylist(parquet_rows), shards / "c.parquet")
    (shards / "d.parquet").write_bytes(b"not a parquet file")
    (shards / "notes.txt").write_text("not a shard")
    assert [s.name for s in list_shards(str(shards))] == ["a", "c", "d", "sub/b"]

    out = tmp_path / "out"
    args = ["batch", "--model", str(export), str(shards), str(out), "--workers", "2", "--format", "jsonl,parquet"]
    assert main(args) == 1  # d.parquet failed
    captured = capsys.readouterr()
    summary = json.loads(captured.out.strip().splitlines()[-1])
    assert summary["written"] == 3 and summary["skipped"] == 0 and summary["workers"] == 2
    assert summary["quantized"] is True  # the export's int8 encoder, by default
    assert len(summary["failed"]) == 1 and "d.parquet" in summary["failed"][0]
    assert not list(out.glob("d.*"))  # a failed shard is left unwritten
    assert any(p.startswith(f"{shards / 'a.jsonl'}:7:") for p in summary["problems"])
    assert f"{shards / 'a.jsonl'}:7:" in captured.err

    # each shard's documents and event rows are rasd extract's on the same records
    reference = tmp_path / "reference"
    write_jsonl(reference / "c.jsonl", [{**r, "meta": json.loads(r["meta"])} for r in parquet_rows])
    for name, source in (("a", shards / "a.jsonl"), ("sub/b", shards / "sub" / "b.jsonl"),
                         ("c", reference / "c.jsonl")):
        want_docs, want_rows = tmp_path / "want" / f"{name}.jsonl", tmp_path / "want" / f"{name}.csv"
        extract(export, source, want_docs)
        extract(export, source, want_rows)
        got = read_jsonl(out / f"{name}.jsonl")
        assert got == read_jsonl(want_docs), name
        assert (out / f"{name}.events.csv").read_bytes() == want_rows.read_bytes(), name
        table = pq.read_table(out / f"{name}.parquet").to_pylist()
        assert [r["id"] for r in table] == [d["id"] for d in got]
        assert [[(s["start"], s["end"], s["label"]) for s in r["spans"]] for r in table] == \
            [[(s["start"], s["end"], s["label"]) for s in d["spans"]] for d in got]
        assert [json.loads(r["events"]) for r in table] == [d.get("events", []) for d in got]
    a_docs = read_jsonl(out / "a.jsonl")
    assert [d["id"] for d in a_docs][-1] == "a1~2" and sum(len(d["spans"]) for d in a_docs) > 10
    assert any(d.get("events") for d in a_docs)

    # a second run after deleting one output rewrites that shard only (and retries the failed one)
    kept = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and not p.name.startswith("b.")}
    b_docs = (out / "sub" / "b.jsonl").read_text(encoding="utf-8")
    (out / "sub" / "b.jsonl").unlink()
    summary = run_batch(export, shards, out, formats=("jsonl", "parquet"), workers=2)
    assert (summary["skipped"], summary["written"], len(summary["failed"])) == (2, 1, 1)
    assert [r["name"] for r in summary["rows"] if not r["failed"]] == ["sub/b"]
    assert (out / "sub" / "b.jsonl").read_text(encoding="utf-8") == b_docs
    assert {p: p.stat().st_mtime_ns for p in kept} == kept
    assert not [p for p in out.rglob(".tmp-*")]  # no temporary file left behind


def test_bad_arguments_are_refused_before_ray_starts(tmp_path, export):
    (tmp_path / "in").mkdir()
    with pytest.raises(ValueError, match="inside the input"):
        run_batch(export, tmp_path / "in", tmp_path / "in" / "out")
    with pytest.raises(ValueError, match="use jsonl, parquet"):
        run_batch(export, tmp_path / "in", tmp_path / "out", formats=("xml",))
    with pytest.raises(ValueError, match="event rows as 'xlsx'"):
        run_batch(export, tmp_path / "in", tmp_path / "out", events="xlsx")
    with pytest.raises(FileNotFoundError, match="no such file"):
        run_batch(export, tmp_path / "missing", tmp_path / "out")
    write_jsonl(tmp_path / "in" / "x.jsonl", records(1, "x"))
    pq.write_table(pa.Table.from_pylist(records(1, "y")[:1]), tmp_path / "in" / "x.parquet")
    with pytest.raises(ValueError, match="would both write x"):
        list_shards(str(tmp_path / "in"))
