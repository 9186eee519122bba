"""A linear-chain CRF baseline on the same ANERcorp train/dev split that `rasd train` carves.

Features are the usual ones of a feature-based Arabic NER tagger: the word, its stem without
attached clitics, its prefixes and suffixes of 1-3 characters, its length and digit/Latin shape,
and the same for the words up to two positions away. Scored with rasd's own metrics (strict spans) on the dev split and, cross-domain,
on AQMAR, so its figures sit beside the encoders' in docs/results.md.

    pip install sklearn-crfsuite
    python scripts/crf_baseline.py [--train ../shared/data/anercorp/train.conll] [--aqmar ...]
"""
from __future__ import annotations

import argparse
import json
import time

import sklearn_crfsuite

from rasd.inference.schema import Schema
from rasd.inference.text import fold, stem_guess
from rasd.training.convert import from_bio, read_conll, to_bio
from rasd.training.metrics import score_documents
from rasd.training.trainer import split_dev


def word_features(word: str, prefix: str) -> dict[str, object]:
    features: dict[str, object] = {f"{prefix}w": word, f"{prefix}len": min(len(word), 8),
                                   f"{prefix}stem": stem_guess(fold(word)),
                                   f"{prefix}digit": any(c.isdigit() for c in word),
                                   f"{prefix}latin": any("a" <= c.lower() <= "z" for c in word)}
    for n in (1, 2, 3):
        features[f"{prefix}p{n}"] = word[:n]
        features[f"{prefix}s{n}"] = word[-n:]
    return features


def sentence_features(words: list[str]) -> list[dict[str, object]]:
    rows = []
    for i in range(len(words)):
        row: dict[str, object] = {"bias": 1.0}
        for offset in (-2, -1, 0, 1, 2):
            j = i + offset
            if 0 <= j < len(words):
                row.update(word_features(words[j], f"{offset}:"))
            else:
                row[f"{offset}:pad"] = True
        rows.append(row)
    return rows


def predict(crf, docs):
    tags = crf.predict([sentence_features(to_bio(d)[0]) for d in docs])
    return [from_bio(d.id, d.text, t, d.meta.get("tokenization", "arabic")) for d, t in zip(docs, tags)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default="../shared/data/anercorp/train.conll")
    parser.add_argument("--aqmar", default="../shared/data/aqmar/aqmar.coarse.conll")
    parser.add_argument("--schema", default="configs/schema/anercorp.yaml")
    parser.add_argument("--dev-fraction", type=float, default=0.1, help="as data.dev_fraction of configs/anercorp.yaml")
    parser.add_argument("--c1", type=float, default=0.1)
    parser.add_argument("--c2", type=float, default=0.1)
    parser.add_argument("--iterations", type=int, default=100)
    args = parser.parse_args(argv)

    schema = Schema.from_yaml(args.schema)
    train, dev = split_dev(read_conll(args.train, schema), args.dev_fraction)
    crf = sklearn_crfsuite.CRF(algorithm="lbfgs", c1=args.c1, c2=args.c2, max_iterations=args.iterations)
    t0 = time.perf_counter()
    words_and_tags = [to_bio(d) for d in train]
    crf.fit([sentence_features(words) for words, _ in words_and_tags], [tags for _, tags in words_and_tags])
    seconds = time.perf_counter() - t0
    result = {"train_sentences": len(train), "dev_sentences": len(dev), "train_seconds": round(seconds, 1)}
    for name, gold in (("anercorp_dev", dev), ("aqmar", read_conll(args.aqmar, schema) if args.aqmar else [])):
        if gold:
            scores = score_documents(gold, predict(crf, gold), schema)
            result[name] = {"micro_f1": scores["spans"]["micro"]["f1"],
                            **{label: s["f1"] for label, s in scores["spans"]["per_label"].items()}}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
