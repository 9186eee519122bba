"""Model folders and the Hugging Face hub: what makes a folder a model, and ``rasd push``.

``push_model`` publishes a saved model folder (weights, tokenizer, config and its model card) to a
hub repository with ``huggingface_hub``. It needs network access and a token with write access
(``hf auth login``, ``HF_TOKEN`` or ``token=``).
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from rasd.inference.errors import UserError

from .model_card import CARD_FILE, UNKNOWN_LICENSE, read_card

__all__ = ["WEIGHT_FILES", "check_model_folder", "push_model"]

# the files that hold a model's weights, in a torch model folder or an ONNX export
WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "model.onnx")
_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]+")


def check_model_folder(model: str) -> str:
    """``model`` if it is a saved model folder with weights, or may be a hub id (``OWNER/NAME``
    that is no local path); else a ``UserError`` that says what is missing."""
    path = Path(model)
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError(f"{model}: no config.json, so not a saved model folder (a finished `rasd train` "
                            "writes one in OUTPUT_DIR/model)")
        if not any((path / name).is_file() for name in WEIGHT_FILES):
            raise UserError(f"{model}: no model weights ({', '.join(WEIGHT_FILES)}); give the model/ folder of a "
                            "finished `rasd train` run, or an export of `rasd export-onnx`")
        return model
    if path.exists():
        raise UserError(f"{model}: a file, not a model folder")
    if not _HUB_ID.fullmatch(model):
        raise UserError(f"{model}: no such model folder (train one with `rasd train`, or give a hub id OWNER/NAME)")
    return model


def push_model(model_dir: str | os.PathLike, repo_id: str, *, private: bool = False, token: str | None = None,
               commit_message: str = "Upload rasd model") -> str:
    """Upload ``model_dir`` with its card to the hub repository ``repo_id`` (created if needed); returns its URL.

    Refuses a folder without a model card, or whose card gives the training data's licence as
    unknown: set ``license:`` in the card's front matter once you have checked it.
    """
    model_dir = os.fspath(model_dir)
    if not Path(model_dir).is_dir():
        raise UserError(f"{model_dir}: no such model folder")
    check_model_folder(model_dir)
    card = Path(model_dir) / CARD_FILE
    if not card.is_file():
        raise UserError(f"{model_dir}: no model card ({CARD_FILE}); `rasd train` writes one when a run finishes")
    meta, _ = read_card(card)
    if str(meta.get("license") or UNKNOWN_LICENSE) == UNKNOWN_LICENSE:
        raise UserError(f"{card}: the licence is unknown (the training data's card does not state it); check the "
                        "data's licence and set `license:` in the card's front matter before publishing")
    from huggingface_hub import HfApi

    api = HfApi(token=token)
    repo = api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    api.upload_folder(folder_path=model_dir, repo_id=repo_id, repo_type="model", commit_message=commit_message)
    return str(getattr(repo, "url", f"https://huggingface.co/{repo_id}"))
