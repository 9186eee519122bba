"""A linear-chain CRF baseline on the conflict corpus: the same features as ``crf_baseline.py``
(ANERcorp), trained on the train split (optionally with dev), predictions written as JSONL for
``rasd evaluate --pred``, so the CRF sits beside the neural models in every table.

    pip install sklearn-crfsuite
    python scripts/crf_conflict.py                      # -> runs/crf-conflict/test.pred.jsonl
    rasd evaluate --pred runs/crf-conflict/test.pred.jsonl --data data/conflict-ar/test.jsonl \\
        --out runs/crf-conflict/eval --schema configs/schema/conflict.yaml

Spans only: a CRF has no relations, so its relation scores are 0 by construction.
"""
from __future__ import annotations

import argparse
import json
import os
import time

import sklearn_crfsuite
from crf_baseline import predict, sentence_features

from rasd.inference.documents import write_documents
from rasd.inference.schema import Schema
from rasd.training.convert import read_corpus, to_bio
from rasd.training.metrics import score_documents


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default="data/conflict-ar/train.jsonl")
    parser.add_argument("--dev", default="data/conflict-ar/dev.jsonl")
    parser.add_argument("--test", default="data/conflict-ar/test.jsonl")
    parser.add_argument("--schema", default="configs/schema/conflict.yaml")
    parser.add_argument("--with-dev", action="store_true", help="train on train + dev (no dev score then)")
    parser.add_argument("--out", default="runs/crf-conflict")
    parser.add_argument("--c1", type=float, default=0.05)
    parser.add_argument("--c2", type=float, default=0.05)
    parser.add_argument("--iterations", type=int, default=150)
    args = parser.parse_args(argv)

    schema = Schema.from_yaml(args.schema)
    train, dev, test = (read_corpus(p, schema) for p in (args.train, args.dev, args.test))
    if args.with_dev:
        train, dev = train + dev, []
    crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=args.c1, c2=args.c2, max_iterations=args.iterations)
    started = time.perf_counter()
    # one CRF sequence per document: its words, sentence ends included
    words_and_tags = [to_bio(d) for d in train]
    crf.fit([sentence_features(words) for words, _ in words_and_tags], [tags for _, tags in words_and_tags])
    result = {"train_documents": len(train), "train_seconds": round(time.perf_counter() - started, 1)}
    os.makedirs(args.out, exist_ok=True)
    for name, gold in (("dev", dev), ("test", test)):
        if not gold:
            continue
        pred = predict(crf, gold)
        write_documents(pred, os.path.join(args.out, f"{name}.pred.jsonl"))
        scores = score_documents(gold, pred, schema)
        result[name] = {"span_f1": scores["spans"]["micro"]["f1"], "entity_f1": scores["entities"]["micro"]["f1"],
                        "trigger_cls_f1": scores["triggers"]["classification"]["f1"]}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
