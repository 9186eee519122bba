"""Every command README.md shows runs exactly as written, in a folder laid out like the repository
with tiny artifacts at the paths the README names (so a documented command cannot break unnoticed).

Which commands (found anew on every run, so a command added to the README is tested without
editing this file):
- every line of a ```bash block (lines ending in ``\\`` joined, ``# comments`` dropped);
- the first cell of a table row, when it is a code span (`rasd validate ...`);
- elsewhere, inline code that starts with ``rasd``, ``make``, ``pip``, ``python`` or ``accelerate``,
  except a mention: a bare ``rasd COMMAND`` (two words) or a span with an upper-case placeholder
  (``rasd COMMAND --help``, ``--pred PRED.jsonl``);
- every ```python block, run as a script.

How each runs:
- ``rasd SUBCOMMAND ...`` with SUBCOMMAND in ``RUN``: through ``rasd.training.cli.main`` in this process
  (the shell's glob expansion included), with the mirror as working directory; it must exit 0.
  ``rasd push`` runs with the hub API replaced by a recorder.
- ``make TARGET`` with TARGET in ``MAKE_RUN``: the ``rasd`` lines of its recipe (``make -n``) run as above.
- a command matching a ``NOT_RUN`` pattern cannot run here (network, GPUs, this suite itself): it is
  checked as far as possible (it parses, its config loads, its extra exists) and listed with its reason.
- anything else fails, naming the command: add its subcommand to ``RUN`` (giving the mirror what it
  reads) or a pattern to ``NOT_RUN`` with the reason.

Giving the mirror tiny artifacts: ``build_mirror`` lays out ``<tmp>/rasd`` (the repository) and
``<tmp>/shared`` (``../shared`` beside it). Real small files are copied (``configs/``, the data card,
the sample article); big ones are replaced by tiny ones at the same path: the corpus
(``data/conflict-ar``, its markup from ``tests/data/tiny.txt``), the default encoder
(``models/default-encoder``, the 2-layer test encoder), a trained model (``runs/quickstart/model``,
random heads), the news corpus of the pretraining recipe (``../shared/data/news-raw``). Every
config in ``configs/`` is shrunk with ``TINY_TRAIN`` or ``TINY_PRETRAIN`` (its keys and paths stay as
written). A new command that reads another path needs a line in ``build_mirror`` that writes it.
"""
from __future__ import annotations

import glob
import gzip
import json
import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"

# subcommands that run here on tiny data
RUN = {"validate", "convert", "build-corpus", "build-default-model", "train", "evaluate", "extract",
       "export-onnx", "pretrain", "push", "events", "batch"}
MAKE_RUN = {"demo"}  # make targets whose rasd commands run here
NOT_RUN: list[tuple[str, str]] = [  # (pattern on the command, why it cannot run here)
    (r"make test", "it runs this very test suite"),
    (r"accelerate launch .*", "needs several GPUs and the recipe's encoder from the Hugging Face hub"),
    (r"pip install .*", "installs into the current environment from the network (test_packaging installs the "
                        "built wheel into a fresh one)"),
    (r"rasd serve .*", "a server runs until it is stopped (tests/test_serving.py runs it on a free loopback port)"),
    (r"curl .*", "needs the server of `rasd serve` running (tests/test_serving.py calls every endpoint)"),
    (r"ray (up|job submit) .*", "needs a Ray cluster (tests/test_ray_batch.py runs rasd batch on a local Ray)"),
    (r"kubectl .*", "needs a Kubernetes cluster with KubeRay"),
]
PROGRAMS = ("rasd", "make", "pip", "python", "accelerate")
TINY_TRAIN = {"model.max_length": 32, "model.window_stride": 8, "model.relation_hidden_size": 16,
              "train.epochs": 1, "train.batch_size": 4, "train.eval_batch_size": 4, "train.patience": 0,
              "train.progress_bar": False, "train.checkpoint_every": 0, "train.mixed_precision": "no"}
TINY_PRETRAIN = {"model.vocab_size": 200, "model.min_frequency": 1, "model.tokenizer_docs": 0,
                 "model.hidden_size": 32, "model.num_hidden_layers": 2, "model.num_attention_heads": 4,
                 "model.intermediate_size": 37, "model.max_position_embeddings": 64, "data.seq_length": 32,
                 "data.validation_docs": 3, "data.shuffle_buffer": 10, "train.max_steps": 2, "train.batch_size": 4,
                 "train.eval_every": 0, "train.checkpoint_every": 0, "train.log_every": 1,
                 "train.progress_bar": False, "train.mixed_precision": "no"}


# ---------------------------------------------------------------------------------------- finding commands
@dataclass(frozen=True)
class Command:
    text: str
    kind: str  # "shell" or "python"
    line: int  # where README.md shows it


def _is_mention(text: str) -> bool:
    words = text.split()
    return (words[0] == "rasd" and len(words) <= 2 and "--" not in text) or bool(re.search(r"\b[A-Z]{2,}\b", text))


def readme_commands(readme: str) -> list[Command]:
    found: list[Command] = []
    lines = readme.splitlines()
    i = 0
    while i < len(lines):
        fence = re.match(r"\s*```(\w*)", lines[i])
        if fence:
            language, start = fence.group(1), i + 1
            i += 1
            block = []
            while i < len(lines) and not lines[i].strip().startswith("```"):
                block.append(lines[i])
                i += 1
            if language in ("bash", "sh", "shell", "console"):
                logical: list[str] = []
                first = None
                for n, line in enumerate(block, start + 1):
                    first = first or n
                    stripped = line.rstrip()
                    logical.append(stripped.removesuffix("\\"))
                    if stripped.endswith("\\"):
                        continue
                    words = shlex.split(" ".join(logical), comments=True)
                    if words:
                        found.append(Command(shlex.join(words), "shell", first))
                    logical, first = [], None
            elif language == "python":
                found.append(Command("\n".join(block), "python", start + 1))
        i += 1
    # inline code, with line breaks inside a span joined
    text = readme
    for m in re.finditer(r"```.*?```", text, re.S):  # blank out fenced blocks, keeping line numbers
        text = text[:m.start()] + re.sub(r"[^\n]", " ", m.group()) + text[m.end():]
    for n, line in enumerate(text.splitlines(), 1):
        cells = line.split("|") if line.startswith("|") else []
        first_cell = re.fullmatch(r"\s*`([^`]+)`\s*", cells[1]) if len(cells) > 2 else None
        if first_cell and first_cell.group(1).split()[0] in PROGRAMS:
            found.append(Command(first_cell.group(1), "shell", n))
    for m in re.finditer(r"(?<!`)`([^`]+)`(?!`)", text):
        span = " ".join(m.group(1).split())
        n = text.count("\n", 0, m.start()) + 1
        row = text.splitlines()[n - 1]
        in_first_cell = row.startswith("|") and row.split("|")[1].strip() == f"`{m.group(1)}`"
        if span.split()[0] in PROGRAMS and not in_first_cell and not _is_mention(span):
            found.append(Command(span, "shell", n))
    unique: dict[str, Command] = {}
    for command in sorted(found, key=lambda c: c.line):
        unique.setdefault(command.text, command)
    return list(unique.values())


COMMANDS = readme_commands(README.read_text(encoding="utf-8"))


def test_the_readme_shows_the_commands_this_test_expects():
    texts = [c.text for c in COMMANDS]
    assert "make demo" in texts and "make test" in texts
    assert any(t.startswith("rasd extract --model runs/quickstart/model") for t in texts)
    assert any(c.kind == "python" for c in COMMANDS)
    assert not any(t.startswith("rasd train") and "--config" not in t and "--help" not in t for t in texts)


def test_the_command_finder_keeps_commands_and_drops_mentions():
    readme = ("Run `rasd train --config a.yaml`, not `rasd train` or `rasd COMMAND --help`.\n\n"
              "| command | what |\n|---|---|\n| `rasd build-corpus` | builds (`--like DIR`) |\n\n"
              "```bash\nmake demo   # the demo\naccelerate launch -m x \\\n    train --config c.yaml\n```\n")
    assert [c.text for c in readme_commands(readme)] == ["rasd train --config a.yaml", "rasd build-corpus",
                                                         "make demo", "accelerate launch -m x train --config c.yaml"]


# ---------------------------------------------------------------------------------------- the mirror
def _write_yaml_overrides(path: Path, overrides: dict) -> None:
    from rasd.training.configuration import apply_overrides

    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    apply_overrides(raw, [f"{k}={json.dumps(v)}" for k, v in overrides.items()])
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")


def _news_docs(n: int, seed: int) -> list[str]:
    import random

    rng = random.Random(seed)
    subjects, verbs, places = ["القوات", "الجيش", "الشرطة", "المسلحون"], ["هاجمت", "قصفت", "حاصرت"], ["المدينة", "القرية"]
    return [" ".join(f"{rng.choice(subjects)} {rng.choice(verbs)} {rng.choice(places)} يوم {rng.randint(1, 28)}."
                     for _ in range(rng.randint(3, 8))) for _ in range(n)]


def build_mirror(root: Path, tiny_encoder_dir: str, schema) -> Path:
    """``root/rasd`` laid out like the repository (with ``root/shared`` beside it), tiny at every path."""
    from transformers import AutoTokenizer

    from rasd.inference.modeling import RasdModel

    repo, shared = root / "rasd", root / "shared"
    shutil.copytree(ROOT / "configs", repo / "configs", ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    for path in (repo / "configs").rglob("*.yaml"):
        if not {"schema", "actors", "lexicons"} & set(path.parts):  # run configs only
            _write_yaml_overrides(path, TINY_PRETRAIN if "pretrain" in path.parts else TINY_TRAIN)
    (repo / "data" / "sample").mkdir(parents=True)
    shutil.copy(ROOT / "data" / "README.md", repo / "data" / "README.md")  # the data card, with its licence
    shutil.copy(ROOT / "data" / "sample" / "article.jsonl", repo / "data" / "sample" / "article.jsonl")
    # the corpus: copies of the tiny test documents under new ids, as markup and as compiled splits
    markup = (Path(__file__).parent / "data" / "tiny.txt").read_text(encoding="utf-8")
    copies = "\n\n".join(re.sub(r"^# id: (\S+)", rf"# id: \1-{k}", markup, flags=re.M) for k in range(8))
    (repo / "data" / "conflict-ar" / "markup").mkdir(parents=True)
    (repo / "data" / "conflict-ar" / "markup" / "tiny.txt").write_text(copies, encoding="utf-8")
    from rasd.training.corpus import build_corpus

    build_corpus(str(repo / "data" / "conflict-ar" / "markup"), str(repo / "data" / "conflict-ar"), schema)
    # the default encoder and a trained model (random heads: commands are checked, not predictions)
    shutil.copytree(tiny_encoder_dir, repo / "models" / "default-encoder")
    model = RasdModel.from_encoder(tiny_encoder_dir, schema, max_length=32, window_stride=8)
    model.save_pretrained(repo / "runs" / "quickstart" / "model")
    AutoTokenizer.from_pretrained(tiny_encoder_dir).save_pretrained(repo / "runs" / "quickstart" / "model")
    # ../shared/data/news-raw, read by configs/pretrain/cpu-news-small.yaml
    news = shared / "data" / "news-raw"
    news.mkdir(parents=True)
    with gzip.open(news / "train.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in _news_docs(40, 0))
    (news / "valid.jsonl").write_text("".join(json.dumps({"text": t}, ensure_ascii=False) + "\n"
                                              for t in _news_docs(5, 1)), encoding="utf-8")
    # ../shared/data/anercorp (CoNLL, PERS/LOC/ORG/MISC) and the news encoder configs/anercorp.yaml reads
    anercorp = shared / "data" / "anercorp"
    anercorp.mkdir(parents=True)
    _write_anercorp(anercorp / "train.conll", schema, copies=6)
    shutil.copytree(tiny_encoder_dir, repo / "models" / "news-encoder")
    return repo


def _write_anercorp(path: Path, schema, copies: int) -> None:
    """The tiny documents as CoNLL sentences with ANERcorp's labels (the rest tagged O)."""
    from rasd.training.convert import read_markup, to_bio

    labels = {"PER": "PERS", "GPE": "LOC", "LOC": "LOC", "ORG": "ORG", "FORCE": "ORG", "GROUP": "MISC"}
    docs, _ = read_markup(Path(__file__).parent / "data" / "tiny.txt")
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(copies):
            for doc in docs:
                words, tags = to_bio(doc)
                for word, tag in zip(words, tags):
                    mapped = labels.get(tag[2:]) if tag != "O" else None
                    f.write(f"{word}\t{tag[:2]}{mapped}\n" if mapped else f"{word}\tO\n")
                f.write("\n")


@pytest.fixture(scope="module")
def mirror(tmp_path_factory, tiny_encoder_dir, schema):
    return build_mirror(tmp_path_factory.mktemp("readme"), tiny_encoder_dir, schema)


# ---------------------------------------------------------------------------------------- running
class RecordingHub:
    """Stands in for ``huggingface_hub.HfApi``: records what would be created and uploaded."""

    calls: list[tuple] = []

    def __init__(self, token=None):
        pass

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id))
        return type("RepoUrl", (), {"url": f"https://huggingface.co/{repo_id}"})()

    def upload_folder(self, folder_path, repo_id, **kwargs):
        self.calls.append(("upload_folder", repo_id, sorted(os.listdir(folder_path))))


def _argv(words: list[str]) -> list[str]:
    """The shell's pathname expansion: a pattern that matches nothing stays as written."""
    out = []
    for word in words:
        matches = sorted(glob.glob(word)) if any(ch in word for ch in "*?[") else []
        out += matches or [word]
    return out


def run_rasd(text: str, capsys, monkeypatch) -> None:
    from rasd.training.cli import main

    words = _argv(shlex.split(text))[1:]
    if words and words[0] == "push":
        import huggingface_hub

        RecordingHub.calls = []
        monkeypatch.setattr(huggingface_hub, "HfApi", RecordingHub)
    status = main(words)
    out = capsys.readouterr()
    assert status == 0, f"README command `{text}` exited {status}:\n{out.out[-3000:]}\n{out.err[-3000:]}"
    if words and words[0] == "push":
        assert [c[0] for c in RecordingHub.calls] == ["create_repo", "upload_folder"]
        assert "README.md" in RecordingHub.calls[1][2]


def make_recipe(target: str) -> list[str]:
    """The rasd commands of a make target's recipe, as ``make -n`` prints them."""
    if not shutil.which("make"):
        pytest.fail(f"`make {target}` is in the README, and make is not installed to read its recipe")
    proc = subprocess.run(["make", "-n", "--no-print-directory", target, "RASD=rasd"], cwd=ROOT,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return [line.strip() for line in proc.stdout.splitlines() if line.strip().startswith("rasd ")]


def check_not_run(text: str) -> None:
    """What can be checked of a command that cannot run here."""
    from rasd.training.cli import build_parser

    words = shlex.split(text)
    if words[0] == "make":
        proc = subprocess.run(["make", "-n", words[1]], cwd=ROOT, capture_output=True, text=True)
        assert proc.returncode == 0, f"`{text}`: no such make target: {proc.stderr}"
    elif words[0] == "accelerate":
        assert "-m" in words and words[words.index("-m") + 1] == "rasd.training.cli", text
        args = build_parser().parse_args(words[words.index("-m") + 2:])
        if getattr(args, "config", None):
            from rasd.training.config import TrainConfig
            from rasd.training.configuration import load_config

            load_config(TrainConfig, ROOT / args.config, args.set or [])
    elif words[0] == "rasd":
        build_parser().parse_args(words[1:])
    elif words[:3] == ["ray", "job", "submit"]:
        assert words[words.index("--") + 1] == "rasd", text
        build_parser().parse_args(words[words.index("--") + 2:])
    elif words[:2] == ["kubectl", "apply"]:
        manifest = yaml.safe_load((ROOT / words[words.index("-f") + 1]).read_text(encoding="utf-8"))
        entrypoint = shlex.split(manifest["spec"]["entrypoint"])
        assert entrypoint[0] == "rasd", text
        build_parser().parse_args(entrypoint[1:])
    elif words[0] == "pip":
        from importlib.metadata import metadata

        extras = set(metadata("rasd").get_all("Provides-Extra") or [])
        for word in words[2:]:
            wanted = set(re.findall(r"\[([^\]]+)\]", word)[0].split(",")) if "[" in word else set()
            assert wanted <= extras, f"`{text}`: rasd has no extra {sorted(wanted - extras)} (it has {sorted(extras)})"


@pytest.mark.parametrize("command", COMMANDS, ids=[c.text[:80] if c.kind == "shell" else f"python@{c.line}"
                                                  for c in COMMANDS])
def test_readme_command_runs_as_written(command: Command, mirror, monkeypatch, capsys):
    monkeypatch.chdir(mirror)
    if command.kind == "python":
        exec(compile(command.text, f"README.md:{command.line}", "exec"), {"__name__": "__main__"})
        return
    for pattern, reason in NOT_RUN:
        if re.fullmatch(pattern, command.text):
            check_not_run(command.text)
            pytest.skip(f"not run here ({reason}); checked that it parses")
    words = shlex.split(command.text)
    if re.search(r"[|<>;&$`]", command.text.replace("->", "")):
        pytest.fail(f"README.md:{command.line}: `{command.text}` uses shell syntax this test does not run yet")
    if words[0] == "make" and len(words) == 2 and words[1] in MAKE_RUN:
        steps = make_recipe(words[1])
        assert steps, f"`{command.text}` runs no rasd command?"
        for step in steps:
            run_rasd(step, capsys, monkeypatch)
        return
    help_only = len(words) > 1 and (words[1].startswith("-") or words[2:3] in (["--help"], ["-h"]))
    if words[0] == "rasd" and len(words) > 1 and (words[1] in RUN or help_only):
        run_rasd(command.text, capsys, monkeypatch)
        return
    pytest.fail(f"README.md:{command.line}: `{command.text}` is new to this test: add its subcommand to RUN "
                "(and what it reads to build_mirror) or a pattern to NOT_RUN with the reason it cannot run here")

