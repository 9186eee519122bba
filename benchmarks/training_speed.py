"""Training speed: `rasd train`'s trainer against a plain `transformers.Trainer` token-classification run.

Both fine-tune the same encoder (weights and tokenizer) on the same windows of the same documents
with the same batch size, optimizer (AdamW) and learning rate, each in a fresh process of its own:

- rasd: `rasd.training.trainer.Trainer` on a `configs/quickstart.yaml`-style config, tag head and,
  with a schema that has relations, the relation scorer (the job `rasd train` runs);
- hf: `AutoModelForTokenClassification` + `transformers.Trainer` with
  `train_sampling_strategy="group_by_length"` and `DataCollatorForTokenClassification`, the recipe
  of the transformers token-classification example, on the tag labels of the same windows.

Both are timed from optimizer update to optimizer update after a few warm-up updates; samples are
windows, tokens are the non-padding subtokens of the timed batches. Timing stays within the first
epoch (no evaluation in between).

    python benchmarks/training_speed.py                                # quickstart encoder and corpus
    python benchmarks/training_speed.py --encoder DIR --batch-size 16 --steps 30 --threads 2
    python benchmarks/training_speed.py --bert-base                    # a random BERT-base-sized encoder
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

from measure import run_json_worker  # beside this script

DEFAULT_ENCODER = "models/default-encoder"


def timed_rates(stamps: list[float], tokens: list[int], batch_size: int, warmup: int) -> dict:
    """Rates over updates ``warmup+1..``: ``stamps[k]`` ends update k+1, ``tokens[k]`` is its batch's."""
    seconds = stamps[-1] - stamps[warmup - 1]
    updates = len(stamps) - warmup
    return {"updates": updates, "seconds": seconds, "samples_per_s": updates * batch_size / seconds,
            "tokens_per_s": sum(tokens[warmup:len(stamps)]) / seconds, "ms_per_update": 1000 * seconds / updates}


# ---------------------------------------------------------------------------------------- workers
def rasd_worker(args) -> dict:
    from rasd.training.config import TrainConfig
    from rasd.training.configuration import load_config
    from rasd.training.data import length_grouped_order
    from rasd.training.trainer import Trainer

    total = args.warmup + args.steps
    config = load_config(TrainConfig, args.config, [
        f"model.encoder={args.encoder}", f"model.schema={args.schema}", f"model.max_length={args.max_length}",
        f"data.train={args.data}", f"data.dev={os.path.join(os.path.dirname(args.data), 'dev.jsonl')}", "data.test=", f"train.batch_size={args.batch_size}", f"train.lr={args.lr}",
        f"train.max_steps={total}", "train.checkpoint_every=0", "train.progress_bar=false",
        f"train.log_every={total}", f"train.output_dir={args.out}", "train.seed=0"])
    stamps: list[float] = []
    trainer = Trainer(config, on_step=lambda state: stamps.append(time.perf_counter()))
    trainer.train()
    if len(stamps) < total:
        raise SystemExit(f"rasd: only {len(stamps)} updates in the first epoch; lower --steps or --batch-size")
    order = length_grouped_order(trainer.lengths, args.batch_size, config.train.seed)
    tokens = [sum(trainer.lengths[i] for i in batch) for batch in order]
    return {"path": "rasd", "windows": len(trainer.features), "relations": trainer.schema.has_relations,
            **timed_rates(stamps, tokens, args.batch_size, args.warmup)}


def hf_worker(args) -> dict:
    from datasets import Dataset
    from transformers import (AutoModelForTokenClassification, AutoTokenizer, DataCollatorForTokenClassification,
                              Trainer, TrainerCallback, TrainingArguments)

    from rasd.inference.modeling import RasdModel
    from rasd.inference.schema import Schema
    from rasd.training.convert import read_corpus
    from rasd.training.data import build_features

    schema = Schema.from_yaml(args.schema)
    tokenizer = AutoTokenizer.from_pretrained(args.encoder)
    rasd_config = RasdModel.from_encoder(args.encoder, schema, max_length=args.max_length).config
    features, _ = build_features(read_corpus(args.data, schema), tokenizer, rasd_config)
    dataset = Dataset.from_dict({"input_ids": [f.input_ids for f in features], "labels": [f.labels for f in features],
                                 "length": [len(f) for f in features]})
    model = AutoModelForTokenClassification.from_pretrained(
        args.encoder, num_labels=len(rasd_config.label2id), id2label=rasd_config.id2label,
        label2id=rasd_config.label2id)
    padder = DataCollatorForTokenClassification(tokenizer)
    tokens: list[int] = []

    def collate(rows):
        batch = padder([{"input_ids": r["input_ids"], "labels": r["labels"]} for r in rows])
        tokens.append(int(batch["attention_mask"].sum()))
        return batch

    stamps: list[float] = []

    class Stamp(TrainerCallback):
        def on_step_end(self, *_, **__):
            stamps.append(time.perf_counter())

    total = args.warmup + args.steps
    training_args = TrainingArguments(
        output_dir=args.out, per_device_train_batch_size=args.batch_size, learning_rate=args.lr, max_steps=total,
        train_sampling_strategy="group_by_length", logging_strategy="no", save_strategy="no", report_to=[],
        use_cpu=True, dataloader_num_workers=0, seed=0, disable_tqdm=True, remove_unused_columns=False)
    Trainer(model=model, args=training_args, train_dataset=dataset, data_collator=collate,
            callbacks=[Stamp()]).train()
    return {"path": "hf", "windows": len(features), "relations": False,
            **timed_rates(stamps, tokens, args.batch_size, args.warmup)}


# ---------------------------------------------------------------------------------------- parent
def build_bert_base(encoder: str, out: str) -> str:
    """A random BERT-base-sized encoder (12 x 768) with ``encoder``'s tokenizer: throughput needs no weights."""
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(encoder)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id),
              add_pooling_layer=False).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def tags_only(schema: str, data: str, out: str) -> tuple[str, str]:
    """``schema`` without roles and links, and ``data`` without relations: rasd then trains the tag head
    alone, as the hf path does."""
    import dataclasses

    import yaml

    from rasd.inference.documents import read_documents, write_documents

    with open(schema, encoding="utf-8") as f:
        spec = yaml.safe_load(f)
    spec.update(roles={}, links={})
    os.makedirs(out, exist_ok=True)
    schema_out, data_out = os.path.join(out, "schema.yaml"), os.path.join(out, "train.jsonl")
    with open(schema_out, "w", encoding="utf-8") as f:
        yaml.safe_dump(spec, f, allow_unicode=True)
    docs = [dataclasses.replace(d, relations=[]) for d in read_documents(data)]
    write_documents(docs, data_out)
    write_documents(docs[:5], os.path.join(out, "dev.jsonl"))  # the end-of-run evaluation, not timed
    return schema_out, data_out


def run_worker(path: str, args, out: str, schema: str | None = None, data: str | None = None) -> dict:
    cmd = [sys.executable, __file__, "--worker", path, "--encoder", args.encoder, "--config", args.config,
           "--schema", schema or args.schema, "--data", data or args.data, "--batch-size", str(args.batch_size), "--lr", str(args.lr),
           "--steps", str(args.steps), "--warmup", str(args.warmup), "--max-length", str(args.max_length),
           "--out", out]
    threads = {"OMP_NUM_THREADS": str(args.threads)} if args.threads else {}
    return run_json_worker(cmd, f"{path} worker", **threads)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", choices=["rasd", "hf"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    parser.add_argument("--encoder", default=DEFAULT_ENCODER)
    parser.add_argument("--bert-base", action="store_true", help="time a random 12 x 768 encoder instead")
    parser.add_argument("--config", default="configs/quickstart.yaml")
    parser.add_argument("--schema", default="configs/schema/conflict.yaml")
    parser.add_argument("--data", default="data/conflict-ar/train.jsonl",
                        help="training documents; the dev.jsonl beside them is scored once after the timed updates")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--steps", type=int, default=25, help="timed optimizer updates")
    parser.add_argument("--warmup", type=int, default=3, help="untimed updates first")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads per worker (0: torch's default)")
    args = parser.parse_args(argv)
    if args.worker:
        worker = rasd_worker if args.worker == "rasd" else hf_worker
        print(json.dumps(worker(args)))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        if args.bert_base:
            args.encoder = build_bert_base(args.encoder, os.path.join(tmp, "bert-base"))
        schema, data = tags_only(args.schema, args.data, os.path.join(tmp, "tags-only"))
        hf = run_worker("hf", args, os.path.join(tmp, "hf"))
        tags = run_worker("rasd", args, os.path.join(tmp, "rasd-tags"), schema=schema, data=data)
        ours = run_worker("rasd", args, os.path.join(tmp, "rasd"))
    if not hf["windows"] == tags["windows"] == ours["windows"]:
        print(f"the paths trained on different windows: hf {hf['windows']}, rasd {tags['windows']} / {ours['windows']}")
        return 1
    print(f"encoder {'random BERT-base size' if args.bert_base else args.encoder}; {args.data}: {ours['windows']} "
          f"windows; batch {args.batch_size}; {args.steps} timed updates after {args.warmup}; "
          f"{args.threads or 'default'} thread(s); load average {os.getloadavg()[0]:.1f}\n")
    print("| path | heads | samples/s | tokens/s | ms/update |")
    print("|---|---|---:|---:|---:|")
    for r in (hf, tags, ours):
        heads = "tags + relations" if r["relations"] else "tags"
        print(f"| {r['path']} | {heads} | {r['samples_per_s']:.2f} | {r['tokens_per_s']:.0f} | {r['ms_per_update']:.0f} |")
    for name, r in (("tags only", tags), ("tags + relations", ours)):
        print(f"rasd ({name}) / hf: {r['samples_per_s'] / hf['samples_per_s']:.2f}x samples/s, "
              f"{r['tokens_per_s'] / hf['tokens_per_s']:.2f}x tokens/s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
