"""``rasd pretrain``: masked-LM pretraining of a BERT-like encoder on raw Arabic text, with accelerate.

Two starts: continue any Hugging Face masked-LM checkpoint (domain adaptation, optionally adding
frequent domain words to its vocabulary), or train a WordPiece tokenizer on the corpus and a new
BERT from scratch. Corpora stream through ``datasets`` (memory stays flat in corpus size), are cut
into the package's words, tokenized, packed into sequences at word boundaries and masked by whole
words. Only what the loss reads is computed (``MaskedLM``): the MLM head and most of the last encoder
layer run at the masked positions alone, for the stock model's loss and gradients. On a CPU that is
most of the speed: ``benchmarks/pretrain_speed.py --threads 2`` (4 layers x 256, 24k vocabulary,
batches 64 x 128) trains 2.6-2.8x the stock ``BertForMaskedLM``'s tokens/s on two idle cores (best
steps; 2.4-2.7x at the median steps), against 2.2-2.3x with the head alone at the masked positions;
on cores busy with other work the ratio falls to about 2x.

The result, ``<output_dir>/model``, is an ordinary ``BertForMaskedLM``-style directory (weights and
tokenizer) that any ``rasd train`` config takes as ``model.encoder``.
"""
from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import asdict, dataclass
from itertools import islice
from typing import Iterator

import torch
from torch import nn

from rasd.inference.text import NormalizationOptions

from .configuration import ConfigError, save_config
# the public names of the parts, importable from here as before the split
from .pretrain_config import PretrainConfig, PretrainDataSection, PretrainModelSection, PretrainTrainSection
from .pretrain_data import collate, packed_sequences, stream_texts
from .pretrain_masking import IGNORE, mask_tokens, whole_word_mask
from .pretrain_model import MaskedLM, SoftmaxCrossEntropy, build_model
from .pretrain_tokenizer import build_tokenizer
from .runs import AcceleratedRun

__all__ = ["MaskedLM", "PretrainConfig", "PretrainDataSection", "PretrainModelSection", "PretrainState",
           "PretrainTrainSection", "Pretrainer", "SoftmaxCrossEntropy", "adamw", "mask_tokens", "perplexity",
           "pretrain", "whole_word_mask"]

logger = logging.getLogger(__name__)

MODEL_DIR = "model"
TOKENIZER_DIR = "tokenizer"
STATE_FILE = "pretrain_state.json"
FINE_TUNING_DROPOUT = 0.1  # BERT's own default, written into a scratch encoder's saved config


@dataclass
class PretrainState:
    """Where a run stands; saved with every checkpoint."""

    global_step: int = 0  # optimizer updates so far
    epoch: int = 0  # passes over the training stream begun
    tokens_seen: int = 0  # non-padding input tokens, all processes
    data_states: list | None = None  # per process, the training stream's position (IterableDataset.state_dict())


FUSED_ADAMW_DEVICES = ("cpu", "cuda")  # where torch >= 2.4 has a fused AdamW kernel


def adamw(model: nn.Module, lr: float, weight_decay: float, fused: bool = True) -> torch.optim.AdamW:
    """AdamW without weight decay on biases and LayerNorm weights.

    ``fused``: one kernel per tensor rather than a dozen element-wise passes, which on a CPU shared
    with other work costs a fraction of the for-loop's time (each pass waits for every thread); an
    older torch without the kernel for the parameters' device gets the for-loop.
    """
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if name.endswith("bias") or "LayerNorm" in name or "layer_norm" in name else decay).append(p)
    groups = [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if fused:
        try:
            return torch.optim.AdamW(groups, lr=lr, fused=True)
        except (RuntimeError, ValueError):  # torch < 2.4 on a CPU
            pass
    return torch.optim.AdamW(groups, lr=lr)


class Pretrainer(AcceleratedRun):
    state_file = STATE_FILE

    def __init__(self, config: PretrainConfig, resume: bool = False) -> None:
        super().__init__(config.train)
        self.config = config
        self.resume = resume

    # ------------------------------------------------------------------ setup
    def _build(self) -> None:
        from datasets.distributed import split_dataset_by_node
        from transformers import AutoTokenizer, get_linear_schedule_with_warmup

        m, d, t = self.config.model, self.config.data, self.config.train
        acc = self.accelerator
        if not d.train:
            raise ConfigError("data.train: give at least one corpus (.txt, .jsonl or .jsonl.gz)")
        if self.resume and not self.has_checkpoint():
            raise FileNotFoundError(f"--resume: no checkpoint in {self.checkpoint_dir}; start without --resume")
        options = NormalizationOptions.from_dict(m.normalization)
        texts = stream_texts(d.train, d.text_field)
        if d.validation:
            validation_texts = stream_texts(d.validation, d.text_field).take(d.validation_docs)
        else:
            validation_texts, texts = texts.take(d.validation_docs), texts.skip(d.validation_docs)

        # The tokenizer is built once, by the main process, and read back from the run directory by
        # every process and by a resumed run, so all of them tokenize alike.
        tokenizer_dir = os.path.join(self.out, TOKENIZER_DIR)
        with acc.main_process_first():
            if acc.is_main_process and not self.resume:
                corpus = islice((ex["text"] or "" for ex in texts), m.tokenizer_docs or None)
                build_tokenizer(m, corpus).save_pretrained(tokenizer_dir)
            self.tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        if self.tokenizer.mask_token_id is None or self.tokenizer.cls_token_id is None:
            raise ValueError(f"{m.init_from or 'the tokenizer'} has no [MASK] or [CLS] token: "
                             "not a BERT-like masked LM")

        model = build_model(m, self.tokenizer)
        positions = getattr(model.config, "max_position_embeddings", d.seq_length)
        if d.seq_length > positions:
            raise ConfigError(f"data.seq_length {d.seq_length} exceeds the encoder's {positions} positions")
        logger.info("masked LM: vocabulary %d, %.1fM parameters", len(self.tokenizer),
                    sum(p.numel() for p in model.parameters()) / 1e6)

        if d.shuffle_buffer:
            texts = texts.shuffle(seed=t.seed, buffer_size=d.shuffle_buffer)
        texts = split_dataset_by_node(texts, rank=acc.process_index, world_size=acc.num_processes)
        stream = packed_sequences(texts, self.tokenizer, d.seq_length, options)
        if d.shuffle_buffer:
            # sequences cut from one document sit side by side; a second buffer spreads them over batches
            stream = stream.shuffle(seed=t.seed + 1, buffer_size=d.shuffle_buffer)
        self.train_stream = stream
        self.validation_batches = self._validation_batches(
            packed_sequences(validation_texts, self.tokenizer, d.seq_length, options))

        optimizer = adamw(model, t.lr, t.weight_decay, fused=acc.device.type in FUSED_ADAMW_DEVICES)
        # accelerate steps a prepared scheduler once per process at every update, so count in those steps
        world = acc.num_processes
        scheduler = get_linear_schedule_with_warmup(optimizer, int(t.warmup_ratio * t.max_steps) * world,
                                                    t.max_steps * world)
        self.model, self.optimizer, self.scheduler = acc.prepare(MaskedLM(model, t.masked_only), optimizer, scheduler)

    def _validation_batches(self, sequences) -> list[dict[str, torch.Tensor]]:
        """Validation sequences, masked once with a fixed seed so every evaluation scores the same predictions."""
        t = self.config.train
        sequences = list(sequences)
        if not sequences:
            raise ValueError("the validation documents hold no text")
        generator = torch.Generator().manual_seed(t.seed)
        batches = []
        for start in range(0, len(sequences), t.batch_size):
            batch = collate(sequences[start:start + t.batch_size], self.tokenizer.pad_token_id)
            batch["input_ids"], batch["labels"] = self._mask(batch, generator)
            batches.append(batch)
        return batches

    def _mask(self, batch: dict[str, torch.Tensor], generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        t = self.config.train
        return mask_tokens(batch["input_ids"], batch["word_ids"], self.tokenizer.mask_token_id, len(self.tokenizer),
                           t.mlm_probability, generator, whole_word=t.whole_word_mask)

    def _sequences(self, state: PretrainState) -> Iterator[dict]:
        """Packed training sequences without end: pass after pass over the corpus (``state.epoch`` counts them)."""
        while True:
            self.train_stream.set_epoch(state.epoch)  # a new shuffle order each pass
            seen = False
            for sequence in self.train_stream:
                seen = True
                yield sequence
            if not seen:
                raise ValueError(f"{self.config.data.train}: no training text")
            state.epoch += 1

    # ------------------------------------------------------------------ checkpoints
    def _save_checkpoint(self, state: PretrainState) -> None:
        from accelerate.utils import gather_object

        state.data_states = gather_object([self.train_stream.state_dict()])
        self.save_run_state(asdict(state))

    def _load_checkpoint(self) -> PretrainState:
        state = PretrainState(**self.load_run_state())
        if len(state.data_states) != self.accelerator.num_processes:
            raise ValueError(f"{self.checkpoint_dir} was written by {len(state.data_states)} process(es); resume with as many")
        self.train_stream.set_epoch(state.epoch)
        self.train_stream.load_state_dict(state.data_states[self.accelerator.process_index])
        logger.info("resumed at update %d (pass %d, %d tokens seen)", state.global_step, state.epoch, state.tokens_seen)
        return state

    # ------------------------------------------------------------------ loop
    def train(self) -> dict:
        self._build()
        t = self.config.train
        acc = self.accelerator
        state = self._load_checkpoint() if self.resume else PretrainState()
        if acc.is_main_process:
            save_config(self.config, os.path.join(self.out, "config.yaml"))
        if not self.resume:
            self._evaluate(state)  # the starting point, to compare the end with
        progress = None
        if t.progress_bar and acc.is_main_process:
            from tqdm.auto import tqdm

            progress = tqdm(total=t.max_steps, initial=state.global_step, desc="pretrain", unit="step")
        generator = torch.Generator()
        micro_step = state.global_step * t.grad_accum
        sequences = self._sequences(state)
        self.model.train()
        # Throughput counts training only: evaluations and checkpoints are timed and left out.
        run_tokens, paused, started = 0, 0.0, time.perf_counter()
        loss_sum, loss_count, train_loss = torch.zeros((), device=acc.device), 0, None
        while state.global_step < t.max_steps:
            batch = collate(list(islice(sequences, t.batch_size)), self.tokenizer.pad_token_id)
            # Masks depend only on (seed, process, micro-batch), so a resumed run masks as the uninterrupted one.
            generator.manual_seed(hash((t.seed, acc.process_index, micro_step)))
            micro_step += 1
            inputs, labels = self._mask(batch, generator)
            with acc.accumulate(self.model):
                loss = self.model(input_ids=inputs.to(acc.device), labels=labels.to(acc.device),
                                  attention_mask=batch["attention_mask"].to(acc.device))
                acc.backward(loss)
                if acc.sync_gradients:
                    acc.clip_grad_norm_(self.model.parameters(), t.max_grad_norm)
                self.optimizer.step()
                self.scheduler.step()
                self.optimizer.zero_grad()
            loss_sum += loss.detach()
            loss_count += 1
            # each process counts its own tokens; their sequences are equally full, so scale by their number
            tokens = int(batch["attention_mask"].sum()) * acc.num_processes
            run_tokens += tokens
            state.tokens_seen += tokens
            if not acc.sync_gradients:
                continue
            state.global_step += 1
            rate = run_tokens / max(1e-9, time.perf_counter() - started - paused)
            if progress is not None:
                progress.update(1)
            if state.global_step % t.log_every == 0 or state.global_step == t.max_steps:
                train_loss = (loss_sum / loss_count).item()  # note: a CPU-GPU sync, only when logging
                loss_sum.zero_()
                loss_count = 0
                self.log({"step": state.global_step, "epoch": state.epoch, "loss": train_loss,
                           "lr": self.scheduler.get_last_lr()[0], "tokens_seen": state.tokens_seen,
                           "tokens_per_s": round(rate, 1)})
                if progress is not None:
                    progress.set_postfix(loss=f"{train_loss:.3f}", tok_s=f"{rate:.0f}")
            if state.global_step == t.max_steps:
                break
            pause = time.perf_counter()
            if t.eval_every and state.global_step % t.eval_every == 0:
                self._evaluate(state)
            if t.checkpoint_every and state.global_step % t.checkpoint_every == 0:
                self._save_checkpoint(state)
            paused += time.perf_counter() - pause
        if progress is not None:
            progress.close()
        rate = run_tokens / max(1e-9, time.perf_counter() - started - paused)
        if run_tokens:  # else nothing changed since the checkpoint this run resumed from
            self._save_checkpoint(state)
        val_loss = self._evaluate(state)
        model_dir = self.save_model(os.path.join(self.out, MODEL_DIR))
        result = {"steps": state.global_step, "tokens_seen": state.tokens_seen, "tokens_per_s": round(rate, 1),
                  "train_loss": train_loss, "val_loss": val_loss, "val_perplexity": perplexity(val_loss),
                  "model_dir": model_dir}
        if acc.is_main_process:
            self._write_card(model_dir, result)
        return result

    def _write_card(self, model_dir: str, result: dict) -> None:
        """The encoder's model card: how it was made, on which corpora, its validation loss."""
        from .model_card import write_encoder_card

        m = self.config.model
        start = f"continued from `{m.init_from}`" if m.init_from else "a new BERT trained from scratch"
        description = (f"A masked-LM encoder made by `rasd pretrain`: {start}, {result['steps']} updates over "
                       f"{result['tokens_seen']} tokens. Fine-tune it with `rasd train` (model.encoder).")
        write_encoder_card(model_dir, random_init=False, description=description, corpus=list(self.config.data.train),
                           metrics={key: result[key] for key in ("val_loss", "val_perplexity", "train_loss")})

    @torch.no_grad()
    def _evaluate(self, state: PretrainState) -> float | None:
        """Masked-LM loss on the validation sequences (main process; mean over predicted tokens)."""
        acc = self.accelerator
        loss = None
        if acc.is_main_process:
            model = acc.unwrap_model(self.model)
            was_training = model.training
            model.eval()
            total, count = 0.0, 0
            for batch in self.validation_batches:
                n = int((batch["labels"] != IGNORE).sum())
                with acc.autocast():
                    batch_loss = model(input_ids=batch["input_ids"].to(acc.device),
                                       attention_mask=batch["attention_mask"].to(acc.device),
                                       labels=batch["labels"].to(acc.device))
                total += batch_loss.item() * n
                count += n
            model.train(was_training)
            loss = total / count
            self.log({"step": state.global_step, "val_loss": loss, "val_perplexity": perplexity(loss)})
            logger.info("update %d: validation loss %.4f, perplexity %.2f", state.global_step, loss, perplexity(loss))
        acc.wait_for_everyone()
        return loss

    def save_model(self, path: str) -> str:
        """Write the masked-LM model and its tokenizer as one ordinary Hugging Face directory."""
        acc = self.accelerator
        acc.wait_for_everyone()
        if acc.is_main_process:
            mlm = acc.unwrap_model(self.model).mlm
            if not self.config.model.init_from:
                # Dropout off is a pretraining speed-up only; fine-tuning on small data wants BERT's regulariser.
                mlm.config.hidden_dropout_prob = mlm.config.attention_probs_dropout_prob = FINE_TUNING_DROPOUT
            mlm.save_pretrained(path)
            self.tokenizer.save_pretrained(path)
        return path


def perplexity(loss: float | None) -> float | None:
    return None if loss is None else math.exp(loss)


def pretrain(config: PretrainConfig, resume: bool = False) -> dict:
    """Run a masked-LM pretraining job; returns the final train/validation loss, perplexity and throughput."""
    from rasd.inference.progress import no_loading_bars

    with no_loading_bars():  # the run's own bar is the one progress bar
        return Pretrainer(config, resume=resume).train()
