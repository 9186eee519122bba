"""Masked-LM training speed: the stock ``BertForMaskedLM`` loss against rasd's masked-positions-only loss.

Both paths train the same randomly initialised BERT (same weights) on the same masked batches, each
in a fresh process so that its peak memory is its own. The masked-only path must compute the same
loss (it is an exact optimisation: positions that are not masked never enter the loss); the script
exits non-zero when the two differ.

    python benchmarks/pretrain_speed.py                   # 4 layers, 256 wide, 24k vocabulary, 64 x 128
    python benchmarks/pretrain_speed.py --threads 2 --steps 5
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time

import torch


def peak_rss_mib() -> float:
    """This process's peak resident memory (VmHWM), in MiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_path(masked_only: bool, path: str, warmup: int, threads: int, seed: int, queue) -> None:
    """Train ``warmup`` + timed steps on the saved batches; report losses, tokens/s and peak memory."""
    from transformers import BertForMaskedLM

    from rasd.training.pretrain import MaskedLM

    if threads:
        torch.set_num_threads(threads)
    saved = torch.load(path, weights_only=False)
    torch.manual_seed(seed)  # the same dropout masks in both paths: the encoder runs the same ops in the same order
    model = BertForMaskedLM(saved["config"])
    model.load_state_dict(saved["weights"])
    mlm = MaskedLM(model, masked_only=masked_only).train()
    optimizer = torch.optim.AdamW(mlm.parameters(), lr=1e-4)
    losses, tokens, seconds = [], 0, 0.0
    for i, (inputs, attention_mask, labels) in enumerate(saved["batches"]):
        started = time.perf_counter()
        loss = mlm(input_ids=inputs, attention_mask=attention_mask, labels=labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        if i >= warmup:
            seconds += time.perf_counter() - started
            tokens += int(attention_mask.sum())
        losses.append(loss.item())
    queue.put({"losses": losses, "tokens_per_s": tokens / seconds, "peak_rss_mib": peak_rss_mib()})


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--intermediate", type=int, default=1024)
    p.add_argument("--vocab-size", type=int, default=24000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seq-length", type=int, default=128)
    p.add_argument("--steps", type=int, default=3, help="timed training steps per path")
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--mlm-probability", type=float, default=0.15)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest allowed loss difference")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    from transformers import BertConfig, BertForMaskedLM

    from rasd.training.pretrain import mask_tokens

    torch.manual_seed(args.seed)
    config = BertConfig(vocab_size=args.vocab_size, hidden_size=args.hidden, num_hidden_layers=args.layers,
                        num_attention_heads=args.heads, intermediate_size=args.intermediate,
                        max_position_embeddings=max(512, args.seq_length))
    weights = BertForMaskedLM(config).state_dict()
    generator = torch.Generator().manual_seed(args.seed)
    shape = (args.batch_size, args.seq_length)
    batches = []
    for _ in range(args.warmup + args.steps):
        input_ids = torch.randint(5, args.vocab_size, shape, generator=generator)
        word_ids = torch.arange(args.seq_length).expand(shape)  # random ids: every token is a word
        inputs, labels = mask_tokens(input_ids, word_ids, mask_token_id=4, vocab_size=args.vocab_size,
                                     probability=args.mlm_probability, generator=generator)
        batches.append((inputs, torch.ones(shape, dtype=torch.long), labels))

    results = {}
    spawn = mp.get_context("spawn")  # a fresh process per path: its peak memory is its own
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.pt")
        torch.save({"config": config, "weights": weights, "batches": batches}, path)
        for name, masked_only in (("stock", False), ("masked-only", True)):
            queue = spawn.Queue()
            proc = spawn.Process(target=run_path, args=(masked_only, path, args.warmup, args.threads, args.seed, queue))
            proc.start()
            results[name] = queue.get()
            proc.join()

    params = sum(t.numel() for name, t in weights.items() if name != "cls.predictions.decoder.weight")
    print(f"BERT {args.layers} layers x {args.hidden}, vocabulary {args.vocab_size}, {params / 1e6:.1f}M parameters; "
          f"batches {args.batch_size} x {args.seq_length}, {args.warmup} warm-up + {args.steps} timed steps, "
          f"threads {args.threads or torch.get_num_threads()}")
    print(f"{'path':<12} {'tokens/s':>10} {'peak RSS MiB':>13}  losses")
    for name, r in results.items():
        print(f"{name:<12} {r['tokens_per_s']:>10.0f} {r['peak_rss_mib']:>13.0f}  "
              + " ".join(f"{x:.6f}" for x in r["losses"]))
    ratio = results["masked-only"]["tokens_per_s"] / results["stock"]["tokens_per_s"]
    gap = max(abs(a - b) for a, b in zip(results["stock"]["losses"], results["masked-only"]["losses"]))
    print(f"speed-up {ratio:.2f}x; largest loss difference {gap:.2e}")
    if gap > args.tolerance:
        print(f"FAIL: the two paths compute different losses (difference {gap:.2e} > {args.tolerance:.0e})")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
