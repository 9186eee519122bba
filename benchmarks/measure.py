"""What every benchmark measures with: this process's memory, and workers run in processes of their own.

Each path under test runs in a fresh process so that its peak memory is its own and no library it
loads (torch, onnxruntime) is already warm; the worker prints its figures as a JSON line.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

# Offline like the tests, one thread pool per library, and no log noise on the worker's stderr.
WORKER_ENV = {"TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error",
              "PYTHONWARNINGS": "ignore"}


def _status_kib(field: str, pid: int | str = "self") -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def peak_rss_mib(pid: int | str = "self") -> float:
    """Peak resident memory (VmHWM) of this process, or of process ``pid``, MiB."""
    return _status_kib("VmHWM", pid) / 1024


def rss_mib(pid: int | str = "self") -> float:
    """Resident memory (VmRSS) of this process, or of process ``pid``, MiB."""
    return _status_kib("VmRSS", pid) / 1024


def worker_env(**extra: str) -> dict[str, str]:
    return {**os.environ, **WORKER_ENV, **extra}


def run_json_worker(cmd: list[str], what: str, **env: str) -> dict:
    """Run ``cmd`` to the end and return the JSON of its last output line; fail with its stderr."""
    proc = subprocess.run(cmd, capture_output=True, text=True, env=worker_env(**env))
    if proc.returncode != 0:
        raise RuntimeError(f"{what} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def has_trained_model(model: Path) -> bool:
    """True when ``model`` holds a trained rasd model; else say how to make one on stderr."""
    if (Path(model) / "config.json").is_file():
        return True
    print(f"no trained model at {model}; train one first:\n  rasd train --config configs/quickstart.yaml",
          file=sys.stderr)
    return False
