"""rasd extract --device/--threads: where the model runs and how many CPU threads it takes."""
import json

import pytest
import torch

from rasd.inference.io import load_extractor
from rasd.training.cli import main


@pytest.fixture
def model_dir(tmp_path, tiny_model, tiny_tokenizer):
    out = tmp_path / "model"
    tiny_model.save_pretrained(out)
    tiny_tokenizer.save_pretrained(out)
    return str(out)


def test_extract_on_cpu_with_one_thread(tmp_path, model_dir, capsys):
    src = tmp_path / "in.txt"
    src.write_text("اشتباكات عنيفة في حلب.", encoding="utf-8")
    before = torch.get_num_threads()
    try:
        assert main(["extract", "--model", model_dir, "--device", "cpu", "--threads", "1", "-q", str(src),
                     "-o", str(tmp_path / "out.jsonl")]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert json.loads(capsys.readouterr().err.strip().splitlines()[-1])["documents"] == 1
    assert load_extractor(model_dir, device="cpu").device.type == "cpu"


def test_unknown_or_absent_devices_are_refused_with_the_reason(model_dir):
    with pytest.raises(ValueError, match="use one of cpu, cuda"):
        load_extractor(model_dir, device="tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            load_extractor(model_dir, device="cuda")
    with pytest.raises(SystemExit):
        main(["extract", "--model", model_dir, "--device", "gpu"])
