"""The ``rasd`` command: parse arguments, call the library, print. Subcommands import lazily,
so ``rasd extract`` loads no training dependency."""
from __future__ import annotations

import argparse
import json
import logging
import sys


def _schema(path: str):
    from rasd.inference.schema import Schema

    return Schema.from_yaml(path)


def cmd_validate(args: argparse.Namespace) -> int:
    from .validate import validate_files

    n_docs, problems = validate_files(args.files, _schema(args.schema))
    errors = [p for p in problems if p.severity == "error"]
    for p in problems:
        print(p)
    print(f"{n_docs} documents, {len(errors)} errors, {len(problems) - len(errors)} warnings")
    return 1 if errors else 0


def cmd_convert(args: argparse.Namespace) -> int:
    from rasd.inference.documents import read_documents, write_documents

    from .convert import read_conll, read_corpus, read_markup, write_conll

    schema = _schema(args.schema) if args.schema else None
    if args.input.endswith((".txt", ".md")) and args.to == "jsonl":
        docs, problems = read_markup(args.input)
        for p in problems:
            print(p, file=sys.stderr)
        if problems:
            print(f"{len(problems)} problems; nothing written", file=sys.stderr)
            return 1
    elif args.to == "jsonl":
        docs = read_conll(args.input, schema)
    else:
        docs = read_corpus(args.input, schema) if schema else read_documents(args.input)
    n = write_documents(docs, args.output) if args.to == "jsonl" else write_conll(docs, args.output)
    print(f"{n} documents -> {args.output}")
    return 0


def cmd_build_default_model(args: argparse.Namespace) -> int:
    from .convert import read_corpus
    from .default_model import DefaultEncoderSpec, build_default_encoder, build_random_like

    if args.like:
        out = build_random_like(args.like, args.output, seed=args.seed)
        print(f"random weights with the tokenizer and size of {args.like} -> {out}")
        return 0
    texts = [d.text for path in args.corpus for d in read_corpus(path, _schema(args.schema))]
    spec = DefaultEncoderSpec(vocab_size=args.vocab_size)
    out = build_default_encoder(texts, args.output, spec, seed=args.seed)
    print(f"default encoder ({len(texts)} documents, vocabulary target {args.vocab_size}) -> {out}")
    return 0


def cmd_build_corpus(args: argparse.Namespace) -> int:
    from .corpus import CorpusError, build_corpus, counts_table

    schema = _schema(args.schema)
    try:
        counts = build_corpus(args.markup, args.out, schema)
    except CorpusError as err:
        print(err, file=sys.stderr)
        return 1
    if args.card:
        with open(args.card, encoding="utf-8") as f:
            card = f.read()
        start, end = "<!-- counts:start -->", "<!-- counts:end -->"
        if start not in card or end not in card:
            print(f"{args.card}: no {start} ... {end} block to fill", file=sys.stderr)
            return 1
        head, rest = card.split(start, 1)
        card = head + start + "\n" + counts_table(counts, schema) + "\n" + end + rest.split(end, 1)[1]
        with open(args.card, "w", encoding="utf-8") as f:
            f.write(card)
    print(json.dumps({k: {"documents": v["documents"], "sentences": v["sentences"]} for k, v in counts.items()}))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from .config import TrainConfig
    from .configuration import load_config
    from .trainer import train

    config = load_config(TrainConfig, args.config, args.set or [])
    result = train(config, resume=args.resume)
    if "dev" in result:
        print(_score_line("dev", result["dev"]))
    if "test" in result:
        print(_score_line("test", result["test"]))
    if "dev" in result:
        print(f"model -> {config.train.output_dir}/model")
    return 0


def _score_line(name: str, m: dict) -> str:
    return (f"{name}: span F1 {m['spans']['micro']['f1']:.3f}  trigger cls F1 {m['triggers']['classification']['f1']:.3f}  "
            f"argument cls F1 {m['arguments']['classification']['f1']:.3f}  link F1 {m['links']['micro']['f1']:.3f}  "
            f"relation F1 {m['relations']['micro']['f1']:.3f}")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate

    if bool(args.model) == bool(args.pred):
        print("give exactly one of --model DIR (predict and score) or --pred PRED.jsonl (score predictions)",
              file=sys.stderr)
        return 2
    metrics, paths = evaluate(args.data, args.out, model=args.model, pred=args.pred, schema=args.schema,
                              batch_size=args.batch_size)
    print(_score_line("eval", metrics))
    print(f"report: {paths['html']}")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    from rasd.inference.io import load_extractor, run_extraction

    if args.quiet:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    extractor = load_extractor(args.model, quantized=args.int8, device=args.device, threads=args.threads)
    stats = run_extraction(extractor, args.inputs, args.output, lines=args.lines, batch_size=args.batch_size,
                           show_progress_bar=not args.quiet, print_records=args.print)
    # stdout may be the JSONL output itself, so the summary goes to stderr
    print(json.dumps(stats, ensure_ascii=False), file=sys.stderr)
    return 1 if stats.get("documents", 0) == 0 and stats.get("errors") else 0


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from .export_onnx import export_onnx

    written = export_onnx(args.model, args.output, quantize=args.int8)
    print(json.dumps(written, ensure_ascii=False, default=str))
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    from .configuration import load_config
    from .pretrain import PretrainConfig, pretrain

    config = load_config(PretrainConfig, args.config, args.set or [])
    result = pretrain(config, resume=args.resume)
    print(json.dumps(result, ensure_ascii=False))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import os
    from dataclasses import fields

    from rasd.serving.app import serve
    from rasd.serving.config import API_KEY_ENV, ServeConfig

    options = {f.name: getattr(args, f.name) for f in fields(ServeConfig) if f.name != "api_key"}
    config = ServeConfig(**options, api_key=os.environ.get(API_KEY_ENV, ""))
    serve(args.model, host=args.host, port=args.port, config=config, quantized=args.int8, device=args.device,
          threads=args.threads)
    return 0


def cmd_batch(args: argparse.Namespace) -> int:
    from rasd.serving.ray_batch import run_batch

    formats = [f for f in args.format.split(",") if f]
    summary = run_batch(args.model, args.inputs, args.output, formats=formats,
                        events=None if args.events == "none" else args.events, workers=args.workers,
                        threads_per_worker=args.threads_per_worker, gpus_per_worker=args.gpus_per_worker,
                        batch_size=args.batch_size, quantized=False if args.fp32 else None, device=args.device,
                        overwrite=args.overwrite, address=args.address, num_cpus=args.num_cpus,
                        report=lambda line: print(line, file=sys.stderr))
    for problem in summary["problems"]:
        print(problem, file=sys.stderr)
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}, ensure_ascii=False))
    return 1 if summary["failed"] else 0


def _add_serve_options(s: argparse.ArgumentParser) -> None:
    """One flag per ``ServeConfig`` field (its help and default), so the two never drift apart."""
    from dataclasses import fields

    from rasd.serving.config import ServeConfig

    for f in fields(ServeConfig):
        if f.name != "api_key":  # secrets come from the environment, never from arguments (ps shows those)
            s.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default,
                           help=f"{f.metadata['help']} (default {f.default})")


def _add_device_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--device", choices=["cpu", "cuda"], default=None,
                   help="where the model runs (default: cpu; cuda needs a GPU build of torch or onnxruntime-gpu)")
    s.add_argument("--threads", type=int, default=None,
                   help="CPU threads per model call (default: the library's own choice)")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rasd", description="رصد: Arabic news → conflict-event data")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True)
    schema_default = "configs/schema/conflict.yaml"

    s = sub.add_parser("validate", help="check JSONL documents against the annotation contract")
    s.add_argument("files", nargs="+")
    s.add_argument("--schema", default=schema_default)
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("convert", help="CoNLL/BIO or inline markup -> JSONL, or JSONL -> CoNLL")
    s.add_argument("input")
    s.add_argument("output")
    s.add_argument("--to", choices=["jsonl", "conll"], default="jsonl")
    s.add_argument("--schema", default=None, help="map labels through this schema's aliases")
    s.set_defaults(func=cmd_convert)

    s = sub.add_parser("build-default-model", help="train a WordPiece tokenizer and write the small offline BERT")
    s.add_argument("--corpus", nargs="+", default=["data/conflict-ar/train.jsonl"])
    s.add_argument("--output", default="models/default-encoder")
    s.add_argument("--vocab-size", type=int, default=8000)
    s.add_argument("--schema", default=schema_default)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--like", default="", help="copy this encoder's tokenizer and size, with random weights "
                                              "(the control of a pretraining comparison); --corpus is then unused")
    s.set_defaults(func=cmd_build_default_model)

    s = sub.add_parser("build-corpus", help="compile the markup corpus into validated train/dev/test JSONL")
    s.add_argument("--markup", default="data/conflict-ar/markup")
    s.add_argument("--out", default="data/conflict-ar")
    s.add_argument("--card", default="data/README.md", help="data card whose count table is rewritten ('' : none)")
    s.add_argument("--schema", default=schema_default)
    s.set_defaults(func=cmd_build_corpus)

    for name, func, helptext in (("train", cmd_train, "fine-tune a model from a YAML config"),
                                 ("pretrain", cmd_pretrain, "masked-LM pretraining from a YAML config")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("--config", required=True)
        s.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="override a config value")
        s.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")
        s.set_defaults(func=func)

    s = sub.add_parser("evaluate", help="score a model (or predictions) on gold JSONL/CoNLL and write a report")
    s.add_argument("--model")
    s.add_argument("--pred")
    s.add_argument("--data", required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--schema", default=None, help="gold schema (default: the model's own)")
    s.add_argument("--batch-size", type=int, default=16)
    s.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("export-onnx", help="export a trained model to ONNX for the torch-free CPU extractor")
    s.add_argument("--model", required=True)
    s.add_argument("--output", required=True)
    s.add_argument("--int8", action="store_true", help="also write a dynamically int8-quantized graph")
    s.set_defaults(func=cmd_export_onnx)

    s = sub.add_parser("extract", help="extract spans, relations and event records from text")
    s.add_argument("--model", required=True, help="model directory, hub id, or ONNX export (rasd export-onnx: "
                                                  "runs without torch)")
    s.add_argument("--int8", action="store_true", help="with an ONNX export: its int8 encoder")
    s.add_argument("inputs", nargs="*", default=["-"], help=".txt, .jsonl or - for standard input")
    s.add_argument("-o", "--output", default="-", help=".jsonl documents or .csv event records (- : JSONL to stdout)")
    s.add_argument("--lines", action="store_true", help="a .txt input holds one document per line")
    s.add_argument("--batch-size", type=int, default=16)
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.add_argument("--print", action="store_true", help="also print the event records, one readable block each")
    _add_device_options(s)
    s.set_defaults(func=cmd_extract)

    s = sub.add_parser("serve", help="run the REST service (pip install 'rasd[serve]'); API key from $RASD_API_KEY")
    s.add_argument("--model", required=True, help="model directory, hub id, or ONNX export")
    s.add_argument("--int8", action="store_true", help="with an ONNX export: its int8 encoder")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    s.add_argument("--port", type=int, default=8000)
    _add_device_options(s)
    _add_serve_options(s)
    s.set_defaults(func=cmd_serve)

    s = sub.add_parser("batch", help="extract a directory (or URL) of JSONL/Parquet shards on Ray "
                                     "(pip install 'rasd[ray]'); joins $RAY_ADDRESS's cluster if set")
    s.add_argument("--model", required=True, help="model directory or ONNX export (on a cluster: shared or a URL)")
    s.add_argument("inputs", help="directory, file or fsspec URL of .jsonl[.gz] / .parquet shards")
    s.add_argument("output", help="directory or fsspec URL; one set of outputs per input shard")
    s.add_argument("--format", default="jsonl", help="documents as jsonl, parquet or jsonl,parquet (default jsonl)")
    s.add_argument("--events", default="csv", help="event rows per shard as NAME.events.csv ('none': no rows)")
    s.add_argument("--workers", type=int, default=2, help="extractor actors (default 2)")
    s.add_argument("--threads-per-worker", type=int, default=1, help="CPUs of each actor (default 1)")
    s.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPUs of each actor (default 0; with "
                                                                       "--device cuda)")
    s.add_argument("--device", choices=["cpu", "cuda"], default=None, help="where each actor runs the model")
    s.add_argument("--batch-size", type=int, default=16)
    s.add_argument("--fp32", action="store_true", help="with an ONNX export: its fp32 encoder, not the int8 one")
    s.add_argument("--overwrite", action="store_true", help="redo shards whose outputs exist")
    s.add_argument("--address", default=None, help="Ray cluster to join (default $RAY_ADDRESS, else a local Ray)")
    s.add_argument("--num-cpus", type=int, default=None, help="CPUs of a local Ray (default: all)")
    s.set_defaults(func=cmd_batch)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
