"""Shared tiny fixtures: a few annotated Arabic documents, a tokenizer trained on them and a
2-layer, 32-wide BERT, all built offline in seconds."""
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
SCHEMA_PATH = ROOT / "configs" / "schema" / "conflict.yaml"
SHARED = ROOT.parent / "shared"  # third-party data and team tools beside the clone (CI and the team only)


@pytest.fixture
def shared():
    """``shared("tools", "x.py")``: that path under ``../shared``; the test skips, with the reason, when it
    is absent (a user's clone), and fails instead where RASD_REQUIRE_SHARED=1 (CI, which has it)."""
    def path(*parts: str) -> Path:
        found = SHARED.joinpath(*parts)
        if not found.exists():
            message = f"{found} is absent: ../shared sits beside the clone only on CI and the team's machines"
            if os.environ.get("RASD_REQUIRE_SHARED") == "1":
                pytest.fail(message + " (RASD_REQUIRE_SHARED=1)")
            pytest.skip(message)
        return found
    return path


@pytest.fixture(scope="session")
def schema():
    from rasd.inference.schema import Schema

    return Schema.from_yaml(SCHEMA_PATH)


@pytest.fixture(scope="session")
def tiny_docs():
    from rasd.training.convert import read_markup

    docs, problems = read_markup(DATA / "tiny.txt")
    assert not problems, problems
    return docs


@pytest.fixture(scope="session")
def tiny_encoder_dir(tmp_path_factory, tiny_docs):
    """A tokenizer trained on the tiny documents and a random 2-layer BERT saved as an HF directory."""
    import torch
    from transformers import BertConfig, BertModel

    from rasd.training.default_model import train_wordpiece

    out = tmp_path_factory.mktemp("tiny-encoder")
    tokenizer = train_wordpiece([d.text for d in tiny_docs] * 3, vocab_size=300, min_frequency=1)
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(tokenizer), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=37, max_position_embeddings=128, pad_token_id=tokenizer.pad_token_id)
    BertModel(config, add_pooling_layer=False).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


@pytest.fixture
def tiny_model(tiny_encoder_dir, schema):
    import torch

    from rasd.inference.modeling import RasdModel

    torch.manual_seed(0)
    return RasdModel.from_encoder(tiny_encoder_dir, schema, max_length=32, window_stride=8)


@pytest.fixture
def train_steps():
    """``train_steps(model, batch, lr, steps)``: AdamW updates on one batch; the loss of each step
    and the last step's output."""
    import torch

    def run(model, batch: dict, lr: float, steps: int = 15) -> tuple[list[float], object]:
        opt = torch.optim.AdamW(model.parameters(), lr=lr)
        model.train()
        losses = []
        for _ in range(steps):
            out = model(**batch)
            out.loss.backward()
            opt.step()
            opt.zero_grad()
            losses.append(out.loss.item())
        return losses, out

    return run


@pytest.fixture
def tiny_tokenizer(tiny_encoder_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_encoder_dir)


@pytest.fixture
def saved_model_dir(tmp_path, tiny_model, tiny_tokenizer) -> str:
    """The tiny model (random heads) saved with its tokenizer, as a finished run's model/ folder."""
    out = tmp_path / "saved-model"
    tiny_model.save_pretrained(out)
    tiny_tokenizer.save_pretrained(out)
    return str(out)
