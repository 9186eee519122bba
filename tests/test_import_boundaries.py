"""rasd.inference needs no training dependency: it runs with datasets, accelerate, seqeval and rasd.training blocked."""
import subprocess
import sys
import textwrap

BLOCKER = """
import sys
# A None entry in sys.modules makes a package look uninstalled: import raises
# ModuleNotFoundError and importlib.util.find_spec returns None (as transformers checks).
for name in {blocked!r}:
    sys.modules[name] = None
"""


def run_blocked(code: str, blocked: set) -> subprocess.CompletedProcess:
    script = BLOCKER.format(blocked=blocked) + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300,
                          env={"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin"})


def test_inference_runs_with_training_dependencies_blocked(tmp_path, tiny_model, tiny_tokenizer):
    tiny_model.save_pretrained(tmp_path / "m")
    tiny_tokenizer.save_pretrained(tmp_path / "m")
    code = f"""
    import rasd.inference as ri
    from rasd.inference import load_model, read_documents
    import rasd.inference.text, rasd.inference.alignment, rasd.inference.decoding, rasd.inference.events
    ex = load_model({str(tmp_path / 'm')!r})
    docs = ex.extract(["قصفت المدفعية بلدة كفرنبل أمس، وقُتل ثلاثة مدنيين."], dates=["2024-12-07"])
    assert docs[0].text.startswith("قصفت")
    print("ok", len(docs[0].spans))
    """
    proc = run_blocked(code, {"datasets", "accelerate", "seqeval", "rasd.training"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ok")


def test_blocker_really_blocks():
    proc = run_blocked("import seqeval", {"seqeval"})
    assert proc.returncode != 0 and "ModuleNotFoundError" in proc.stderr


def test_extract_command_loads_no_training_dependency(tmp_path, tiny_model, tiny_tokenizer):
    tiny_model.save_pretrained(tmp_path / "m")
    tiny_tokenizer.save_pretrained(tmp_path / "m")
    src = tmp_path / "in.txt"
    src.write_text("اشتباكات عنيفة في حلب.", encoding="utf-8")
    code = f"""
    from rasd.training.cli import main
    rc = main(["extract", "--model", {str(tmp_path / 'm')!r}, {str(src)!r}, "-o", {str(tmp_path / 'out.jsonl')!r}, "-q"])
    assert rc == 0
    print("ok")
    """
    proc = run_blocked(code, {"datasets", "accelerate", "seqeval"})
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_inference_and_the_cli_need_no_serving_dependency():
    code = """
    import rasd.inference.io, rasd.inference.extractor, rasd.inference.onnx_extractor, rasd.serving
    import rasd.serving.config, rasd.serving.batching
    from rasd.training.cli import build_parser
    build_parser().parse_args(["serve", "--model", "owner/model"])  # options listed without importing FastAPI
    print("ok")
    """
    proc = run_blocked(code, {"fastapi", "uvicorn", "starlette", "pydantic", "ray", "fsspec"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.startswith("ok")
