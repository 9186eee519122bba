"""What every benchmark measures with: this process's memory, and workers run in processes of their own.

Each path under test runs in a fresh process so that its peak memory is its own and no library it
loads (torch, onnxruntime) is already warm; the worker prints its figures as a JSON line. A worker
that serves several commands (``JsonWorker``) reads one JSON command per stdin line and answers each
with one JSON line on the stdout that ``protocol_stream`` keeps for it.
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


def protocol_stream():
    """Worker side: the real stdout, line-buffered, for the JSON protocol alone; anything a library
    prints from now on goes to stderr."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return proto


class JsonWorker:
    """Parent side: a worker process started with ``cmd``; ``info`` is its first JSON line (ready)."""

    def __init__(self, cmd: list[str], name: str, **env: str) -> None:
        self.name = name
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                     env=worker_env(**env),
                                     stderr=subprocess.DEVNULL if not os.environ.get("RASD_BENCH_DEBUG") else None)
        self.info = self._read()

    def _read(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"worker {self.name} died (rerun with RASD_BENCH_DEBUG=1 to see its stderr)")
        return json.loads(line)

    def ask(self, **cmd) -> dict:
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> dict:
        """Send ``quit`` and return the worker's last line (its peak memory)."""
        out = self.ask(cmd="quit")
        self.proc.wait(timeout=60)
        return out


def markdown_table(rows: list[list[str]], head: list[str]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def machine_info(threads: int | None, load_before: tuple[float, ...] | None = None,
                 libraries: tuple[str, ...] = ("torch", "transformers", "numpy")) -> str:
    """One line: CPUs, load average, threads per worker and the versions of ``libraries``."""
    import importlib
    import platform

    load = os.getloadavg()
    before = f"{load_before[0]:.1f} at the start, " if load_before else ""
    versions = ", ".join(f"{name} {importlib.import_module(name).__version__}" for name in libraries)
    return (f"machine: {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), 1-minute load average "
            f"{before}{load[0]:.1f} at the end (other jobs share the machine); intra-op threads per worker: "
            f"{threads or 'library defaults'}; {versions}; python {platform.python_version()}")


def has_trained_model(model: Path) -> bool:
    """True when ``model`` holds a trained rasd model; else say how to make one on stderr."""
    if (Path(model) / "config.json").is_file():
        return True
    print(f"no trained model at {model}; train one first:\n  rasd train --config configs/quickstart.yaml",
          file=sys.stderr)
    return False
