"""The rasd command as a user meets it: one error path (exit 2 and a one-line fix for user errors,
exit 1 for failures, tracebacks only with --debug), --keep-going, --version, help that shows
defaults and config keys, and quiet output (no loading bar, accelerate's INFO lines only with -v)."""
import argparse
import json
import logging
import shutil
from pathlib import Path

import pytest

from rasd.training.cli import build_parser, main
from rasd.training.config import TrainConfig
from rasd.training.configuration import config_keys

ROOT = Path(__file__).resolve().parents[1]
TEXT = "قصفت الطائرات مدينة حلب أمس، ما أسفر عن مقتل ثلاثة مدنيين."


@pytest.fixture
def model_dir(saved_model_dir):
    return saved_model_dir


@pytest.fixture
def docs_file(tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text(json.dumps({"id": "d1", "text": TEXT}, ensure_ascii=False) + "\n", encoding="utf-8")
    return str(path)


def assert_user_error(argv, capsys, *fragments):
    status = main(argv)
    err = capsys.readouterr().err
    assert status == 2, err
    assert f"rasd {argv[0]}: error:" in err and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


# ---------------------------------------------------------------------------------------- the crash
def test_extract_with_its_progress_bar_writes_the_output(model_dir, docs_file, tmp_path, capsys):
    # without -q: the bar (a tqdm without total, which is falsy) once crashed `if progress:`
    out = tmp_path / "out.jsonl"
    assert main(["extract", "--model", model_dir, docs_file, "-o", str(out)]) == 0
    assert "extract" in capsys.readouterr().err  # the bar was drawn
    assert json.loads(out.read_text(encoding="utf-8"))["id"] == "d1"


# ---------------------------------------------------------------------------------------- user errors
def test_model_folder_without_weights(model_dir, docs_file, tmp_path, capsys):
    (Path(model_dir) / "model.safetensors").unlink()
    assert_user_error(["extract", "--model", model_dir, docs_file, "-o", str(tmp_path / "o.jsonl")], capsys,
                      "no model weights", "rasd train")


def test_missing_model_folder(docs_file, tmp_path, capsys):
    assert_user_error(["extract", "--model", "runs/nothing/model", docs_file, "-o", str(tmp_path / "o.jsonl")],
                      capsys, "no such model folder")


def test_output_that_is_neither_jsonl_nor_rows(model_dir, docs_file, tmp_path, capsys):
    assert_user_error(["extract", "--model", model_dir, docs_file, "-o", str(tmp_path / "out.txt")], capsys,
                      "use a .jsonl, .csv or .parquet file")


def test_missing_config_file(tmp_path, capsys):
    assert_user_error(["train", "--config", str(tmp_path / "nope.yaml")], capsys, "nope.yaml: no such file")


def test_missing_encoder_folder_names_the_command_that_builds_it(tmp_path, capsys):
    missing = str(tmp_path / "models" / "default-encoder")
    assert_user_error(["train", "--config", "configs/quickstart.yaml", "--set", f"model.encoder={missing}",
                       "--set", f"train.output_dir={tmp_path / 'run'}"], capsys,
                      f"rasd build-default-model --output {missing}")


def test_misspelt_config_key_lists_the_known_ones(tmp_path, capsys):
    config = tmp_path / "c.yaml"
    config.write_text("model:\n  encodr: x\n", encoding="utf-8")
    assert_user_error(["train", "--config", str(config)], capsys, "unknown key(s) ['encodr']", "'encoder'")
    config.write_text("model: {}\n", encoding="utf-8")
    assert_user_error(["train", "--config", str(config), "--set", "train.epochz=3"], capsys, "['epochz']")


def test_malformed_gold_file_names_the_line(model_dir, tmp_path, capsys):
    gold = tmp_path / "gold.jsonl"
    gold.write_text('{"id": "a", "text": "نص"}\n{"id": "b", "text": \n', encoding="utf-8")
    assert_user_error(["evaluate", "--model", model_dir, "--data", str(gold), "--out", str(tmp_path / "ev")], capsys,
                      f"{gold}:2: invalid JSON")


def test_schema_that_does_not_match_the_model(model_dir, tmp_path, capsys, tiny_docs):
    from rasd.inference.documents import write_documents

    gold = tmp_path / "gold.jsonl"
    write_documents(tiny_docs, gold)
    assert_user_error(["evaluate", "--model", model_dir, "--data", str(gold), "--out", str(tmp_path / "ev"),
                       "--schema", str(ROOT / "configs/schema/anercorp.yaml")], capsys, "other labels")


def test_evaluate_needs_exactly_one_of_model_and_pred(model_dir, tmp_path, capsys):
    assert_user_error(["evaluate", "--data", "g.jsonl", "--out", str(tmp_path)], capsys, "--model", "--pred")
    assert_user_error(["evaluate", "--model", model_dir, "--pred", "p.jsonl", "--data", "g.jsonl",
                       "--out", str(tmp_path)], capsys, "not allowed with")


def test_a_missing_training_extra_says_what_to_install(monkeypatch, capsys):
    import rasd.training.cli as cli

    def needs_seqeval(args):
        raise ModuleNotFoundError("No module named 'seqeval'", name="seqeval")  # as on a core-only install

    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_func(parser(), "evaluate", needs_seqeval))
    assert_user_error(["evaluate", "--pred", "p.jsonl", "--data", "g.jsonl", "--out", "ev"], capsys,
                      "needs seqeval", "pip install 'rasd[train]'")


def test_the_installed_metadata_names_the_extra_of_each_training_dependency():
    from rasd.training.cli import _extra_providing

    assert {m: _extra_providing(m) for m in ("datasets", "accelerate", "seqeval", "matplotlib", "onnxruntime")} == {
        "datasets": "train", "accelerate": "train", "seqeval": "train", "matplotlib": "train", "onnxruntime": "onnx"}
    assert _extra_providing("torch") is None  # a core dependency


def _with_func(parser: argparse.ArgumentParser, command: str, func) -> argparse.ArgumentParser:
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    subparsers.choices[command].set_defaults(func=func)
    return parser


# ---------------------------------------------------------------------------------------- failures
def test_a_failure_exits_1_in_one_line_and_debug_shows_the_traceback(monkeypatch, capsys):
    import rasd.training.cli as cli

    def broken(args):
        raise RuntimeError("something inside broke")

    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda: _with_func(parser(), "validate", broken))
    assert main(["validate", "x.jsonl"]) == 1
    err = capsys.readouterr().err
    assert "rasd validate: error: RuntimeError: something inside broke" in err and "--debug" in err
    assert "Traceback" not in err
    with pytest.raises(RuntimeError, match="inside broke"):
        main(["--debug", "validate", "x.jsonl"])
    with pytest.raises(RuntimeError, match="inside broke"):
        main(["validate", "--debug", "x.jsonl"])  # after the command too


def test_debug_shows_the_traceback_of_a_user_error_too(tmp_path):
    with pytest.raises(FileNotFoundError):
        main(["train", "--debug", "--config", str(tmp_path / "nope.yaml")])


# ---------------------------------------------------------------------------------------- extract
def test_skipped_inputs_fail_unless_keep_going(model_dir, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"id": "ok", "text": TEXT}, ensure_ascii=False) + "\n{broken\n[1]\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    assert main(["extract", "--model", model_dir, "-q", str(src), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "2 inputs skipped" in err and "1 document written" in err and "--keep-going" in err
    assert [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()] == ["ok"]
    assert main(["extract", "--model", model_dir, "-q", "--keep-going", str(src), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "2 inputs skipped" in err and json.loads(err.strip().splitlines()[-1])["documents"] == 1
    missing = tmp_path / "missing.txt"
    assert main(["extract", "--model", model_dir, "-q", str(missing), "-o", str(out)]) == 1
    assert f"{missing}:" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------- help and version
def test_version(capsys):
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"rasd {version('rasd')}"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_option_with_a_default_shows_it_in_the_help():
    parser = build_parser()
    checked = 0
    for name, sub in _subparsers(parser).items():
        text = " ".join(sub.format_help().split())
        for action in sub._actions:
            default = action.default
            if not action.option_strings or default in (None, False, argparse.SUPPRESS) or isinstance(default, bool):
                continue
            shown = " ".join(map(str, default)) if isinstance(default, list) else str(default) or "''"
            assert f"(default: {shown})" in text, f"rasd {name} {action.option_strings[-1]}: default not shown"
            checked += 1
        for action in sub._actions:
            assert action.help, f"rasd {name} {action.dest}: no help text"
    assert checked >= 15


def test_train_help_lists_every_config_key_with_its_meaning():
    text = " ".join(_subparsers(build_parser())["train"].format_help().split())
    keys = list(config_keys(TrainConfig))
    assert len(keys) > 20
    for key, default, help in keys:
        assert f"{key}: {' '.join(help.split())}" in text, key


def test_pretrain_help_lists_its_config_keys():
    from rasd.training.pretrain_config import PretrainConfig

    text = " ".join(_subparsers(build_parser())["pretrain"].format_help().split())
    assert all(f"{key}:" in text for key, _, _ in config_keys(PretrainConfig))


def test_config_keys_follow_new_fields():
    from dataclasses import dataclass

    from rasd.training.configuration import describe_config, field

    @dataclass
    class Inner:
        width: int = field(8, "how wide")

    @dataclass
    class Outer:
        inner: Inner = field(Inner(), "a section")
        name: str = field("", "what it is called")

    assert list(config_keys(Outer)) == [("inner.width", 8, "how wide"), ("name", "", "what it is called")]
    assert describe_config(Outer).splitlines() == ["  inner.width: how wide (default: 8)",
                                                   '  name: what it is called (default: "")']


# ---------------------------------------------------------------------------------------- quiet
def test_load_model_prints_no_loading_bar(model_dir, capsys):
    from transformers.utils import logging as hf_logging

    from rasd.inference import load_model
    from rasd.inference.modeling import RasdModel

    assert hf_logging.is_progress_bar_enabled()
    RasdModel.from_pretrained(model_dir)
    assert "Loading weights" in capsys.readouterr().err  # what a bare from_pretrained draws
    load_model(model_dir)
    captured = capsys.readouterr()
    assert "Loading weights" not in captured.err and captured.out == ""
    assert hf_logging.is_progress_bar_enabled()  # the caller's setting is back


@pytest.fixture
def tiny_run(tmp_path, tiny_docs, tiny_encoder_dir):
    """A config file for a two-update training run on the tiny documents, beside a data card."""
    from rasd.inference.documents import Document, write_documents

    data = tmp_path / "data"
    data.mkdir()
    (data / "README.md").write_text("---\nlicense: cc-by-4.0\npretty_name: tiny-news\n---\n# tiny-news: test text\n\n"
                                    "Invented Modern Standard Arabic news sentences for tests.\n", encoding="utf-8")
    copies = [Document(f"{d.id}-{k}", d.text, d.meta, d.spans, d.relations) for k in range(2) for d in tiny_docs]
    write_documents(copies, data / "train.jsonl")
    write_documents(tiny_docs, data / "test.jsonl")
    encoder = tmp_path / "encoder"
    shutil.copytree(tiny_encoder_dir, encoder)
    config = tmp_path / "run.yaml"
    config.write_text(f"""model: {{encoder: {encoder}, schema: {ROOT / 'configs/schema/conflict.yaml'}, max_length: 48,
  window_stride: 12, relation_hidden_size: 16}}
data: {{train: {data / 'train.jsonl'}, dev: {data / 'train.jsonl'}, test: {data / 'test.jsonl'}}}
train: {{output_dir: {tmp_path / 'run'}, epochs: 1, batch_size: 4, checkpoint_every: 1, progress_bar: false}}
""", encoding="utf-8")
    return config


def test_accelerate_info_lines_only_with_verbose(tiny_run, caplog):
    assert main(["train", "--config", str(tiny_run)]) == 0
    assert not [r for r in caplog.records if r.name.startswith("accelerate") and r.levelno < logging.WARNING]
    assert any(r.name.startswith("rasd") for r in caplog.records)  # rasd's own INFO lines stay
    caplog.clear()
    assert main(["-v", "train", "--config", str(tiny_run)]) == 0
    assert any(r.name.startswith("accelerate") and "Saving current state" in r.getMessage() for r in caplog.records)


def test_every_error_class_the_cli_treats_as_a_user_error_exists():
    from importlib import import_module

    from rasd.training.cli import USER_ERROR_CLASSES

    for module, name in USER_ERROR_CLASSES.items():
        assert issubclass(getattr(import_module(module), name), Exception), f"{module}.{name}"
