"""The built wheel installs into a fresh virtual environment and works from any directory: its
schemas and configs are package data, and the core (no training extra) validates and extracts.

To keep the test offline and fast, the fresh environment sees this one's site-packages through a
``.pth`` line (torch and transformers are not installed again) and the wheel goes in with
``--no-deps``; the test checks that ``rasd`` is imported from the wheel, not from this source tree.
"""
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "inference", "training", "serving", "configs")
TEXT = "قصفت الطائرات مدينة حلب أمس، ما أسفر عن مقتل ثلاثة مدنيين."


def run(args, **kwargs) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)
    assert proc.returncode == 0, f"{args}\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built from a copy of the sources (the build leaves nothing in the clone)."""
    root = tmp_path_factory.mktemp("build")
    for name in SOURCES:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, root / "src" / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            (root / "src").mkdir(exist_ok=True)
            shutil.copy(src, root / "src" / name)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q",
         "-w", str(root / "dist"), str(root / "src")])
    [built] = (root / "dist").glob("rasd-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel installed; it borrows this one's dependencies."""
    env = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", "--without-pip", str(env)])
    python = env / "bin" / "python"
    site = Path(run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "borrowed-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)])
    return env


@pytest.fixture(scope="module")
def outside(tmp_path_factory, venv) -> dict:
    """A working directory outside the repository, and the environment the installed command runs in."""
    work = tmp_path_factory.mktemp("elsewhere")
    (work / "docs.jsonl").write_text(json.dumps({"id": "d1", "text": TEXT, "meta": {"date": "2024-12-07"}},
                                                ensure_ascii=False) + "\n", encoding="utf-8")
    env = {"PATH": f"{venv / 'bin'}:/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "HOME": str(work)}
    return {"cwd": work, "env": env}


def test_the_wheel_holds_the_schemas_configs_and_licence(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {p.relative_to(ROOT).as_posix() for p in (ROOT / "configs").rglob("*.yaml")}
    assert {f"rasd/{name}" for name in shipped} <= set(names)
    assert "rasd/configs/schema/conflict.yaml" in names and any(n.endswith("licenses/LICENSE") for n in names)
    assert {"rasd/serving/app.py", "rasd/serving/ray_batch.py"} <= set(names)
    metadata = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "License-Expression: Apache-2.0" in metadata
    core = [line for line in metadata.splitlines() if line.startswith("Requires-Dist:") and "extra ==" not in line]
    assert not [line for line in core if re.search(r"\b(datasets|accelerate|seqeval|matplotlib)\b", line)], core
    assert not [line for line in core if re.search(r"\b(fastapi|uvicorn|ray)\b", line)], core  # rasd[serve], rasd[ray]


def test_the_installed_package_comes_from_the_wheel(venv, outside):
    code = "import rasd.inference, rasd.training, rasd.configs; print(rasd.inference.__file__); print(rasd.configs.__file__)"
    paths = run([str(venv / "bin" / "python"), "-c", code], **outside).stdout.split()
    assert all(Path(p).is_relative_to(venv) for p in paths), paths


def test_validate_outside_the_repository_uses_the_packaged_schema(venv, outside):
    proc = run([str(venv / "bin" / "rasd"), "validate", "docs.jsonl"], **outside)
    assert "1 documents, 0 errors" in proc.stdout
    assert not (outside["cwd"] / "configs").exists()
    proc = run([str(venv / "bin" / "rasd"), "--version"], **outside)
    from rasd.inference import __version__

    assert proc.stdout.strip() == f"rasd {__version__}"


def test_extract_outside_the_repository(venv, outside, saved_model_dir):
    run([str(venv / "bin" / "rasd"), "extract", "--model", saved_model_dir, "docs.jsonl", "-o", "out.jsonl"],
        **outside)
    [doc] = [json.loads(line) for line in (outside["cwd"] / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert doc["id"] == "d1" and doc["text"] == TEXT
    run([str(venv / "bin" / "rasd"), "validate", "out.jsonl"], **outside)  # the output is valid JSONL


def test_the_core_validates_and_extracts_without_the_training_extra(venv, outside, saved_model_dir):
    from importlib.metadata import requires

    train_extra = {re.match(r"[A-Za-z0-9_.-]+", r).group().lower().replace("-", "_")
                   for r in requires("rasd") if 'extra == "train"' in r}
    assert {"datasets", "accelerate", "seqeval", "matplotlib"} <= train_extra
    code = textwrap.dedent(f"""
        import sys
        for name in {sorted(train_extra)!r}:
            sys.modules[name] = None  # as if not installed
        from rasd.training.cli import main
        assert main(["validate", "docs.jsonl"]) == 0
        assert main(["extract", "-q", "--model", {saved_model_dir!r}, "docs.jsonl", "-o", "core.csv"]) == 0
        assert main(["evaluate", "--pred", "docs.jsonl", "--data", "docs.jsonl", "--out", "ev"]) == 2  # needs the extra
    """)
    proc = run([str(venv / "bin" / "python"), "-c", code], **outside)
    assert "pip install 'rasd[train]'" in proc.stderr
    from rasd.inference.events import CSV_COLUMNS

    header = (outside["cwd"] / "core.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.split(",") == list(CSV_COLUMNS)
