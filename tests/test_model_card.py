"""Model cards: every model folder rasd train writes carries a Hugging Face card (front matter with
model-index scores) and eval_results.json; encoders rasd builds carry a card that says how they
were made; rasd push publishes a folder with its card (the hub API replaced by a recorder)."""
import json
import shutil
from pathlib import Path

import pytest

from rasd.training.cli import main
from rasd.training.config import TrainConfig
from rasd.training.configuration import load_config
from rasd.training.model_card import (RANDOM_INIT_TAG, dataset_facts, encoder_facts, read_card,
                                      write_encoder_card)
from rasd.training.trainer import train

ROOT = Path(__file__).resolve().parents[1]
DATA_CARD = ("---\nlicense: cc-by-4.0\npretty_name: tiny-news\nlanguage: [ar]\n---\n# tiny-news: test text\n\n"
             "Invented Modern Standard Arabic news sentences, written for tests.\n")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny_docs, tiny_encoder_dir):
    """A finished two-update run on the tiny documents: random-init encoder, data beside a data card."""
    from rasd.inference.documents import Document, write_documents

    root = tmp_path_factory.mktemp("card")
    data = root / "data"
    data.mkdir()
    (data / "README.md").write_text(DATA_CARD, encoding="utf-8")
    copies = [Document(f"{d.id}-{k}", d.text, d.meta, d.spans, d.relations) for k in range(2) for d in tiny_docs]
    write_documents(copies, data / "train.jsonl")
    write_documents(tiny_docs, data / "test.jsonl")
    encoder = root / "encoder"
    shutil.copytree(tiny_encoder_dir, encoder)
    write_encoder_card(encoder, random_init=True, description="A tiny encoder with random weights.")
    config = load_config(TrainConfig, None, [
        f"model.encoder={encoder}", f"model.schema={ROOT / 'configs/schema/conflict.yaml'}", "model.max_length=48",
        "model.window_stride=12", "model.relation_hidden_size=16", f"data.train={data / 'train.jsonl'}",
        f"data.dev={data / 'train.jsonl'}", f"data.test={data / 'test.jsonl'}", f"train.output_dir={root / 'run'}",
        "train.epochs=1", "train.batch_size=4", "train.checkpoint_every=0", "train.progress_bar=false"])
    result = train(config)
    return root / "run" / "model", result, len(tiny_docs)


def test_a_trained_model_folder_has_a_card_with_its_data_labels_scores_and_limits(trained, schema):
    model_dir, result, n_test = trained
    meta, body = read_card(model_dir / "README.md")
    assert meta["language"] == ["ar"] and meta["license"] == "cc-by-4.0" and meta["datasets"] == ["tiny-news"]
    assert RANDOM_INIT_TAG in meta["tags"] and "rasd" in meta["tags"]
    [index] = meta["model-index"]
    scores = {(r["dataset"]["split"], m["name"]): m["value"] for r in index["results"] for m in r["metrics"]}
    for split in ("dev", "test"):
        assert scores[(split, "span micro F1 (entities and triggers)")] == round(result[split]["spans"]["micro"]["f1"], 4)
        assert scores[(split, "relation micro F1")] == round(result[split]["relations"]["micro"]["f1"], 4)
    assert f"{n_test} documents; licence: cc-by-4.0" in body  # the test split and its licence
    assert "Invented Modern Standard Arabic news sentences" in body  # the register, from the data card
    assert "random weights" in body and "Intended use and limits" in body
    assert all(label in body for label in schema.entities + schema.triggers + schema.relation_labels)
    assert "epochs: 1" in body  # the config that made it
    assert json.loads((model_dir / "eval_results.json").read_text()) == {"dev": result["dev"], "test": result["test"]}


def test_the_card_loads_with_huggingface_hub(trained):
    from huggingface_hub import ModelCard

    card = ModelCard.load(trained[0] / "README.md")
    assert {r.dataset_split for r in card.data.eval_results} == {"dev", "test"}


def test_data_without_a_card_has_an_unknown_licence(tmp_path):
    (tmp_path / "x.jsonl").write_text("", encoding="utf-8")
    assert dataset_facts(tmp_path / "x.jsonl").license == "unknown"
    card = dataset_facts(ROOT / "data" / "conflict-ar" / "train.jsonl")
    assert (card.name, card.license) == ("conflict-ar", "apache-2.0")  # the shipped corpus's data card


def test_encoder_origin_is_read_from_its_card(tmp_path, tiny_encoder_dir):
    assert encoder_facts("CAMeL-Lab/bert-base-arabic-camelbert-msa").origin == "hub"
    assert encoder_facts(tiny_encoder_dir).origin == "unknown"
    encoder = tmp_path / "enc"
    encoder.mkdir()
    write_encoder_card(encoder, random_init=False, description="Pretrained.", corpus=[str(ROOT / "data/conflict-ar/train.jsonl")],
                       metrics={"val_loss": 2.5})
    assert encoder_facts(str(encoder)).origin == "rasd-pretrained"
    meta, body = read_card(encoder / "README.md")
    assert meta["license"] == "apache-2.0" and "val_loss: 2.5" in body


def test_build_default_model_writes_a_random_init_card(tmp_path, tiny_docs, capsys):
    from rasd.inference.documents import write_documents

    write_documents(tiny_docs, tmp_path / "docs.jsonl")
    out = tmp_path / "enc"
    assert main(["build-default-model", "--corpus", str(tmp_path / "docs.jsonl"), "--output", str(out),
                 "--vocab-size", "300"]) == 0
    assert encoder_facts(str(out)).origin == "random"


class RecordingHub:
    calls: list = []

    def __init__(self, token=None):
        self.token = token

    def create_repo(self, repo_id, **kwargs):
        self.calls.append(("create_repo", repo_id, kwargs.get("private")))

    def upload_folder(self, folder_path, repo_id, **kwargs):
        self.calls.append(("upload_folder", repo_id, sorted(p.name for p in Path(folder_path).iterdir())))


@pytest.fixture
def hub(monkeypatch):
    import huggingface_hub

    RecordingHub.calls = []
    monkeypatch.setattr(huggingface_hub, "HfApi", RecordingHub)
    return RecordingHub.calls


def test_push_uploads_the_folder_with_its_card(trained, hub, capsys):
    assert main(["push", str(trained[0]), "--repo-id", "someone/rasd-tiny", "--private"]) == 0
    assert hub[0] == ("create_repo", "someone/rasd-tiny", True)
    assert hub[1][0:2] == ("upload_folder", "someone/rasd-tiny")
    assert {"README.md", "eval_results.json", "model.safetensors", "config.json"} <= set(hub[1][2])
    assert "https://huggingface.co/someone/rasd-tiny" in capsys.readouterr().out


def test_push_refuses_a_folder_without_card_or_with_an_unknown_licence(trained, hub, tmp_path, capsys):
    folder = tmp_path / "m"
    shutil.copytree(trained[0], folder)
    card = (folder / "README.md").read_text(encoding="utf-8")
    (folder / "README.md").write_text(card.replace("license: cc-by-4.0", "license: unknown"), encoding="utf-8")
    assert main(["push", str(folder), "--repo-id", "someone/x"]) == 2
    assert "licence is unknown" in capsys.readouterr().err
    (folder / "README.md").unlink()
    assert main(["push", str(folder), "--repo-id", "someone/x"]) == 2
    assert "no model card" in capsys.readouterr().err
    assert hub == []
