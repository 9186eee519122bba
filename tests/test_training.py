"""rasd train: runs, resumes exactly, is deterministic, and runs under a 2-process accelerate launch."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from rasd.inference.documents import Document, write_documents
from rasd.training.config import TrainConfig
from rasd.training.configuration import ConfigError, load_config
from rasd.training.trainer import train

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def run_config(tmp_path, tiny_docs, tiny_encoder_dir):
    data = tmp_path / "docs.jsonl"
    copies = [Document(f"{d.id}-{k}", d.text, d.meta, d.spans, d.relations) for k in range(4) for d in tiny_docs]
    write_documents(copies, data)

    def make(name, **train):
        overrides = [f"model.encoder={tiny_encoder_dir}", f"model.schema={ROOT / 'configs/schema/conflict.yaml'}",
                     "model.max_length=48", "model.window_stride=12", "model.relation_hidden_size=16",
                     f"data.train={data}", f"data.dev={data}", "data.test=",
                     f"train.output_dir={tmp_path / name}", "train.batch_size=4", "train.epochs=3",
                     "train.lr=1e-3", "train.head_lr=3e-3", "train.progress_bar=false", "train.log_every=1",
                     "train.checkpoint_every=2", "train.patience=0"]
        overrides += [f"train.{k}={v}" for k, v in train.items()]
        return load_config(TrainConfig, None, overrides)
    return make


def weights(run_dir):
    return load_file(str(Path(run_dir) / "model" / "model.safetensors"))


def test_training_writes_model_config_and_logs(run_config):
    config = run_config("a")
    result = train(config)
    out = Path(config.train.output_dir)
    assert (out / "model" / "model.safetensors").exists() and (out / "model" / "tokenizer.json").exists()
    assert (out / "config.yaml").exists() and (out / "scores.json").exists()
    log = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in log if "loss" in r]
    assert len([r for r in log if "dev_combined_f1" in r]) == 3
    assert losses[-1] < losses[0]
    assert 0.0 <= result["dev"]["combined_f1"] <= 1.0


def test_same_seed_and_config_give_identical_metrics(run_config):
    a, b = train(run_config("a")), train(run_config("b"))
    assert a["dev"] == b["dev"]


def test_resume_after_interruption_continues_at_the_right_step(run_config):
    full = run_config("full")
    train(full)

    class Killed(Exception):
        pass

    def kill_at_5(state):
        if state.global_step == 5:
            raise Killed  # dies after update 5; the last checkpoint is update 4

    part = run_config("part")
    with pytest.raises(Killed):
        train(part, on_step=kill_at_5)
    state = json.loads((Path(part.train.output_dir) / "checkpoint" / "trainer_state.json").read_text())
    assert state["global_step"] == 4
    seen = []
    train(part, resume=True, on_step=lambda s: seen.append(s.global_step))
    assert seen[0] == 5  # update 5 is redone, nothing before it
    a, b = weights(full.train.output_dir), weights(part.train.output_dir)
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6, msg=k)


def test_resume_without_checkpoint_is_a_clear_error(run_config):
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        train(run_config("none"), resume=True)


def test_every_shipped_config_parses():
    paths = sorted((ROOT / "configs").glob("*.yaml"))
    assert len(paths) >= 6
    for path in paths:
        load_config(TrainConfig, path)
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(TrainConfig, None, ["train.learning_rate=1"])


def test_two_process_cpu_launch_runs(run_config, tmp_path):
    config = run_config("ddp", epochs=1, max_steps=2)
    from rasd.training.configuration import save_config

    cfg = tmp_path / "ddp.yaml"
    save_config(config, cfg)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--num_processes", "2", "--cpu",
           "--num_machines", "1", "--mixed_precision", "no", "--dynamo_backend", "no",
           "-m", "rasd.training.cli", "train", "--config", str(cfg)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (Path(config.train.output_dir) / "model" / "model.safetensors").exists()
    assert "dev: span F1" in proc.stdout


@pytest.mark.parametrize("recipe", ["camelbert-msa", "arabertv02", "conflibert-arabic", "marbertv2"])
def test_hub_recipes_build_and_train_with_their_word_parts(recipe, run_config, tiny_encoder_dir):
    """Each GPU recipe, its encoder swapped for a tiny local BERT (no hub here): the word-level
    parts it turns on build, train and are saved with the model."""
    recipe_config = load_config(TrainConfig, ROOT / "configs" / f"{recipe}.yaml")
    config = run_config(recipe, epochs=1, mixed_precision="no")
    parts = ("char_embedding_size", "word_features", "lstm_hidden_size", "word_dropout_rate", "crf", "pair_features",
             "normalization")
    for name in parts:
        setattr(config.model, name, getattr(recipe_config.model, name))
    assert recipe_config.model.crf and recipe_config.model.lstm_hidden_size and recipe_config.model.char_embedding_size
    result = train(config)
    saved = json.loads((Path(config.train.output_dir) / "model" / "config.json").read_text())
    assert {name: saved[name] for name in parts if name != "normalization"} == \
           {name: getattr(recipe_config.model, name) for name in parts if name != "normalization"}
    assert 0.0 <= result["dev"]["combined_f1"] <= 1.0


def test_a_bare_yaml_no_stays_the_word_no_in_a_string_field():
    config = load_config(TrainConfig, None, ["train.mixed_precision=no"])
    assert config.train.mixed_precision == "no"


def test_weight_average_is_what_gets_scored_saved_and_resumed(run_config):
    from rasd.training.averaging import WeightAverage

    full = run_config("avg-full", weight_average=0.9)
    train(full)
    plain = run_config("avg-plain")
    train(plain)
    a, b = weights(full.train.output_dir), weights(plain.train.output_dir)
    assert any(not torch.equal(a[k], b[k]) for k in a)  # the saved weights are the average, not the last

    class Killed(Exception):
        pass

    def kill_at_5(state):
        if state.global_step == 5:
            raise Killed

    part = run_config("avg-part", weight_average=0.9)
    with pytest.raises(Killed):
        train(part, on_step=kill_at_5)
    train(part, resume=True)  # the average travels with the checkpoint, so the resumed run saves the same
    c = weights(part.train.output_dir)
    for k in a:
        torch.testing.assert_close(a[k], c[k], rtol=0, atol=1e-6, msg=k)
    with pytest.raises(ValueError, match="weight_average"):
        WeightAverage(torch.nn.Linear(2, 2), 1.5)
