"""``rasd train``: fine-tune any BERT-like encoder into a ``RasdModel`` with accelerate.

The same script runs on a laptop CPU, one GPU (mixed precision) or many processes
(``accelerate launch``). A run is resumable: model, optimizer, scheduler, RNG and the position
in the epoch are checkpointed, so ``--resume`` loses only the steps since the last checkpoint.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import time
from dataclasses import asdict, dataclass, field


from rasd.inference.documents import Document
from rasd.inference.errors import UserError
from rasd.inference.extractor import Extractor
from rasd.inference.modeling import RasdModel
from rasd.inference.schema import Schema

from .config import TrainConfig
from .configuration import save_config
from .convert import read_corpus
from .data import WordDropout, build_features, iterate_batches, length_grouped_order
from .model_card import write_run_card
from .averaging import WeightAverage
from .optim import FUSED_ADAMW_DEVICES, adamw, decay_groups
from .runs import AcceleratedRun

logger = logging.getLogger(__name__)

MODEL_DIR = "model"
STATE_FILE = "trainer_state.json"


@dataclass
class TrainerState:
    """Where a run stands; saved with every checkpoint."""

    epoch: int = 0  # current epoch (0-based)
    batch_in_epoch: int = 0  # batches of this epoch already consumed by this process
    global_step: int = 0  # optimizer updates so far
    best_score: float = -1.0
    best_epoch: int = -1
    epochs_without_improvement: int = 0
    history: list = field(default_factory=list)


def split_dev(docs: list[Document], fraction: float) -> tuple[list[Document], list[Document]]:
    """Hold out every k-th contiguous block of documents (sentence blocks for CoNLL) as dev."""
    if not 0 < fraction < 1:
        raise ValueError(f"dev_fraction must be in (0, 1), got {fraction}")
    blocks = 20
    size = max(1, len(docs) // blocks)
    step = max(2, round(1 / fraction))
    train, dev = [], []
    for b, start in enumerate(range(0, len(docs), size)):
        (dev if b % step == step - 1 else train).extend(docs[start:start + size])
    return train, dev


class Trainer(AcceleratedRun):
    """``on_step(state)`` is called after every optimizer update (after any checkpoint of that update)."""

    state_file = STATE_FILE

    def __init__(self, config: TrainConfig, resume: bool = False, on_step=None) -> None:
        super().__init__(config.train)
        self.config = config
        self.resume = resume
        self.on_step = on_step

    # ------------------------------------------------------------------ setup
    def _build(self) -> None:
        from transformers import AutoTokenizer

        m, d, t = self.config.model, self.config.data, self.config.train
        self.schema = Schema.from_yaml(m.schema)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(m.encoder)
        except OSError as err:
            raise UserError(f"model.encoder {m.encoder!r} is neither a local encoder folder nor a hub id that can "
                            "be loaded here (offline, a hub encoder must be in the cache); the offline default is "
                            f"built by: rasd build-default-model --output {m.encoder}") from err
        self.model = RasdModel.from_encoder(m.encoder, self.schema, **m.options().to_dict())
        train_docs = read_corpus(d.train, self.schema)
        if d.dev:
            dev_docs = read_corpus(d.dev, self.schema)
        else:
            train_docs, dev_docs = split_dev(train_docs, d.dev_fraction)
        self.train_docs, self.dev_docs = train_docs, dev_docs
        self.test_docs = read_corpus(d.test, self.schema) if d.test else []
        self.features, stats = build_features(train_docs, self.tokenizer, self.model.config,
                                              d.negatives_per_positive, seed=t.seed)
        if self.accelerator.is_main_process:
            logger.info("train: %d documents -> %d windows; dev %d, test %d documents", len(train_docs),
                        len(self.features), len(dev_docs), len(self.test_docs))
            lost = stats.relations_lost
            if stats.misaligned_spans or lost or stats.relations_outside_candidates:
                logger.warning("gold lost to model limits: %d misaligned spans, %d relations lost with them or to windows, "
                               "%d relations beyond %d sentence(s) apart", stats.misaligned_spans, lost,
                               stats.relations_outside_candidates, m.relation_max_sentences)
            self.feature_stats = asdict(stats)
        self.lengths = [len(f) for f in self.features]
        featurizer = self.model.config.definition.featurizer
        self.word_dropout = WordDropout(t.word_dropout, self.tokenizer.unk_token_id,
                                        0 if featurizer.kinds[:1] == ("word",) else None)
        # every process steps the same number of times, or DDP would wait forever
        world = self.accelerator.num_processes
        self.batches_per_epoch = len(length_grouped_order(self.lengths, t.batch_size, t.seed)) // world
        if self.batches_per_epoch == 0:
            raise ValueError(f"{d.train}: too few training windows ({len(self.features)}) for batch size "
                             f"{t.batch_size} on {world} process(es)")
        updates_per_epoch = math.ceil(self.batches_per_epoch / t.grad_accum)
        total = updates_per_epoch * t.epochs
        if t.max_steps:
            total = min(total, t.max_steps)
        self.total_updates = total

        head_params = [p for n, p in self.model.named_parameters() if not n.startswith("encoder.")]
        groups = decay_groups(self.model.encoder.named_parameters(), t.weight_decay, lr=t.lr)
        groups.append({"params": head_params, "lr": t.head_lr, "weight_decay": 0.0})
        optimizer = adamw(groups, t.lr, fused=self.accelerator.device.type in FUSED_ADAMW_DEVICES)
        from transformers import get_linear_schedule_with_warmup

        scheduler = get_linear_schedule_with_warmup(optimizer, int(t.warmup_ratio * total), total)
        self.model, self.optimizer, self.scheduler = self.accelerator.prepare(self.model, optimizer, scheduler)
        self.average = None
        if t.weight_average:
            self.average = WeightAverage(self.accelerator.unwrap_model(self.model), t.weight_average)
            self.accelerator.register_for_checkpointing(self.average)

    # ------------------------------------------------------------------ checkpoints
    def _save_checkpoint(self, state: TrainerState) -> None:
        self.save_run_state(asdict(state))

    def _load_checkpoint(self) -> TrainerState:
        state = TrainerState(**self.load_run_state())
        logger.info("resumed at epoch %d, batch %d, update %d", state.epoch, state.batch_in_epoch, state.global_step)
        return state

    # ------------------------------------------------------------------ loop
    def train(self) -> dict:
        self._build()
        t = self.config.train
        acc = self.accelerator
        if acc.is_main_process:
            save_config(self.config, os.path.join(self.out, "config.yaml"))
        state = self._load_checkpoint() if self.resume else TrainerState()
        pad_id = self.tokenizer.pad_token_id or 0
        progress = None
        if t.progress_bar and acc.is_main_process:
            from tqdm.auto import tqdm

            progress = tqdm(total=self.total_updates, initial=state.global_step, desc="train", unit="step")
        done = state.global_step >= self.total_updates
        while state.epoch < t.epochs and not done:
            # the batch order depends only on (seed, epoch), so a resumed run sees the same batches
            order = length_grouped_order(self.lengths, t.batch_size, t.seed + state.epoch)
            mine = order[acc.process_index::acc.num_processes][:self.batches_per_epoch]
            self.model.train()
            tokens, started = 0, time.perf_counter()
            for batch in iterate_batches(self.features, mine, pad_id, skip=state.batch_in_epoch,
                                         dropout=self.word_dropout, key=(t.seed, state.epoch)):
                batch = {k: v.to(acc.device) for k, v in batch.items()}
                with acc.accumulate(self.model):
                    out = self.model(**batch)
                    acc.backward(out.loss)
                    if acc.sync_gradients:
                        acc.clip_grad_norm_(self.model.parameters(), t.max_grad_norm)
                    self.optimizer.step()
                    self.scheduler.step()
                    self.optimizer.zero_grad()
                state.batch_in_epoch += 1
                tokens += int(batch["attention_mask"].sum())
                if not acc.sync_gradients:
                    continue
                state.global_step += 1
                if self.average is not None:
                    self.average.update(acc.unwrap_model(self.model))
                rate = tokens * acc.num_processes / max(1e-9, time.perf_counter() - started)
                if progress:
                    progress.update(1)
                    progress.set_postfix(loss=f"{out.loss.item():.3f}", tok_s=f"{rate:.0f}")
                if state.global_step % t.log_every == 0:
                    self.log({"step": state.global_step, "epoch": state.epoch, "loss": out.loss.item(),
                               "tag_loss": out.tag_loss.item(),
                               "relation_loss": out.relation_loss.item() if out.relation_loss is not None else None,
                               "lr": self.scheduler.get_last_lr()[0], "tokens_per_s": round(rate, 1)})
                if t.checkpoint_every and state.global_step % t.checkpoint_every == 0:
                    self._save_checkpoint(state)
                if self.on_step:
                    self.on_step(state)
                if state.global_step >= self.total_updates:
                    done = True
                    break
            if done and state.batch_in_epoch < self.batches_per_epoch:
                break  # max_steps reached mid-epoch: no end-of-epoch evaluation
            state.epoch += 1
            state.batch_in_epoch = 0
            stop = self._end_of_epoch(state)
            self._save_checkpoint(state)
            if stop:
                break
        if progress:
            progress.close()
        acc.wait_for_everyone()
        return self._finish(state)

    def _end_of_epoch(self, state: TrainerState) -> bool:
        """Score dev, keep the best model, decide on early stopping (the same on every process)."""
        with self.scored_weights():
            return self._score_and_keep(state)

    def _score_and_keep(self, state: TrainerState) -> bool:
        from accelerate.utils import broadcast_object_list

        acc = self.accelerator
        decision = [None]
        if acc.is_main_process:
            scores = self.evaluate(self.dev_docs)
            score = scores["combined_f1"]
            improved = score > state.best_score
            record = {"epoch": state.epoch, "step": state.global_step, "dev_combined_f1": score,
                      "dev_span_f1": scores["spans"]["micro"]["f1"], "dev_relation_f1": scores["relations"]["micro"]["f1"]}
            self.log(record)
            logger.info("epoch %d: dev span F1 %.3f, relation F1 %.3f, combined %.3f%s", state.epoch,
                        record["dev_span_f1"], record["dev_relation_f1"], score, " (best)" if improved else "")
            decision = [{"score": score, "improved": improved, "record": record}]
        decision = broadcast_object_list(decision)[0]
        state.history.append(decision["record"])
        if decision["improved"]:
            state.best_score, state.best_epoch = decision["score"], state.epoch
            state.epochs_without_improvement = 0
            self.save_model(os.path.join(self.out, MODEL_DIR))
        else:
            state.epochs_without_improvement += 1
        patience = self.config.train.patience
        return bool(patience and state.epochs_without_improvement >= patience)

    def scored_weights(self):
        """The weights scored and saved: the moving average when ``train.weight_average`` is on."""
        if self.average is None:
            return contextlib.nullcontext()
        return self.average.applied(self.accelerator.unwrap_model(self.model))

    def save_model(self, path: str) -> None:
        acc = self.accelerator
        acc.wait_for_everyone()
        if acc.is_main_process:
            model = acc.unwrap_model(self.model)
            model.save_pretrained(path)
            self.tokenizer.save_pretrained(path)

    def evaluate(self, docs: list[Document], model: RasdModel | None = None, oracle: bool = False) -> dict:
        """End-to-end scores of ``docs``; with ``oracle``, also the relations predicted on their gold
        spans (``relations_on_gold_spans``), which separates span errors from relation errors."""
        from .metrics import relations_on_gold_spans, score_documents

        model = model or self.accelerator.unwrap_model(self.model)
        was_training = model.training
        extractor = Extractor(model, self.tokenizer, device=self.accelerator.device)
        batch_size = self.config.train.eval_batch_size
        scores = score_documents(docs, extractor.predict_documents(docs, batch_size=batch_size), self.schema)
        if oracle and self.schema.has_relations:
            scores["relations_on_gold_spans"] = relations_on_gold_spans(
                docs, extractor.predict_relations(docs, batch_size=batch_size), self.schema)
        if was_training:
            model.train()
        return scores

    def _finish(self, state: TrainerState) -> dict:
        acc = self.accelerator
        result: dict = {"best_epoch": state.best_epoch, "updates": state.global_step}
        path = os.path.join(self.out, MODEL_DIR)
        if not os.path.exists(os.path.join(path, "config.json")):
            with self.scored_weights():
                self.save_model(path)  # no epoch finished (max_steps): keep what we have
        acc.wait_for_everyone()
        if acc.is_main_process:
            best = RasdModel.from_pretrained(path).to(acc.device)
            result["dev"] = self.evaluate(self.dev_docs, best, oracle=True)
            if self.test_docs:
                result["test"] = self.evaluate(self.test_docs, best, oracle=True)
            result["feature_stats"] = getattr(self, "feature_stats", {})
            with open(os.path.join(self.out, "scores.json"), "w", encoding="utf-8") as f:
                json.dump(result, f, indent=2)
            write_run_card(path, self.config, self.schema, result,
                           {"train": len(self.train_docs), "dev": len(self.dev_docs), "test": len(self.test_docs)})
        return result


def train(config: TrainConfig, resume: bool = False, on_step=None) -> dict:
    """Run a training job; returns the best model's dev (and test) scores."""
    from rasd.inference.progress import no_loading_bars

    with no_loading_bars():  # the run's own bar is the one progress bar
        return Trainer(config, resume=resume, on_step=on_step).train()
