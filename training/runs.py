"""What ``rasd train`` and ``rasd pretrain`` share: one accelerator, a seeded output folder, a
``metrics.jsonl`` log and a JSON run state saved beside accelerate's checkpoint."""
from __future__ import annotations

import json
import os
from typing import Any

CHECKPOINT_DIR = "checkpoint"


class AcceleratedRun:
    state_file = "state.json"  # subclasses name their own

    def __init__(self, train_section: Any) -> None:
        from accelerate import Accelerator
        from accelerate.utils import set_seed

        t = train_section
        self.accelerator = Accelerator(gradient_accumulation_steps=t.grad_accum, mixed_precision=t.mixed_precision)
        set_seed(t.seed)
        self.out = t.output_dir
        os.makedirs(self.out, exist_ok=True)

    @property
    def checkpoint_dir(self) -> str:
        return os.path.join(self.out, CHECKPOINT_DIR)

    def has_checkpoint(self) -> bool:
        return os.path.exists(os.path.join(self.checkpoint_dir, self.state_file))

    def save_run_state(self, state: dict) -> None:
        """Model, optimizer, scheduler and RNG (accelerate), then ``state`` as JSON (main process)."""
        self.accelerator.save_state(self.checkpoint_dir)
        if self.accelerator.is_main_process:
            with open(os.path.join(self.checkpoint_dir, self.state_file), "w", encoding="utf-8") as f:
                json.dump(state, f)

    def load_run_state(self) -> dict:
        if not self.has_checkpoint():
            raise FileNotFoundError(f"--resume: no checkpoint in {self.checkpoint_dir}; start without --resume")
        self.accelerator.load_state(self.checkpoint_dir)
        with open(os.path.join(self.checkpoint_dir, self.state_file), encoding="utf-8") as f:
            return json.load(f)

    def log(self, record: dict) -> None:
        if self.accelerator.is_main_process:
            with open(os.path.join(self.out, "metrics.jsonl"), "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
