"""The ``rasd`` command: parse arguments, call the library, print. Subcommands import lazily,
so ``rasd extract`` loads no training dependency.

Errors take one path: a mistake in what the user gave (a missing file, a misspelt config key, a
malformed gold file, an output name it cannot write, a model folder without weights) prints
``rasd COMMAND: error: WHAT AND HOW TO FIX`` without a traceback and exits 2; any other failure
exits 1 with a one-line summary; ``--debug`` shows the traceback instead.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
from typing import Any, Callable

SCHEMA_DEFAULT = "configs/schema/conflict.yaml"  # the packaged schema when there is no such file here
EXIT_OK, EXIT_FAILURE, EXIT_USER_ERROR = 0, 1, 2
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries whose INFO lines (accelerate: five checkpoint lines per epoch; gensim: one a second) show only
# with --verbose.
CHATTY_LOGGERS = ("accelerate", "datasets", "urllib3", "filelock", "httpx", "gensim")
# Error classes that mean "what you gave cannot be used", by module: a module not imported raised none.
USER_ERROR_CLASSES = {
    "rasd.training.configuration": "ConfigError",
    "rasd.inference.schema": "SchemaError",
    "rasd.inference.modeling": "SchemaMismatchError",
    "rasd.inference.documents": "DocumentError",
    "rasd.training.convert": "ConversionError",
    "rasd.training.corpus": "CorpusError",
}


def _schema(path: str):
    from rasd.inference.schema import Schema

    return Schema.from_yaml(path)


def _model(value: str) -> str:
    """argparse type of ``--model``: a saved model folder with weights, or a hub id."""
    from rasd.inference.errors import UserError

    from .hub import check_model_folder

    try:
        return check_model_folder(value)
    except UserError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


# ---------------------------------------------------------------------------------------- commands
def cmd_validate(args: argparse.Namespace) -> int:
    from .validate import validate_files

    n_docs, problems = validate_files(args.files, _schema(args.schema))
    errors = [p for p in problems if p.severity == "error"]
    for p in problems:
        print(p)
    print(f"{n_docs} documents, {len(errors)} errors, {len(problems) - len(errors)} warnings")
    return EXIT_FAILURE if errors else EXIT_OK


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
            return EXIT_FAILURE
    elif args.to == "jsonl":
        docs = read_conll(args.input, schema)
    else:
        docs = read_corpus(args.input, schema) if schema else read_documents(args.input)
    n = write_documents(docs, args.output) if args.to == "jsonl" else write_conll(docs, args.output)
    print(f"{n} documents -> {args.output}")
    return EXIT_OK


def cmd_build_default_model(args: argparse.Namespace) -> int:
    from .default_model import DefaultEncoderSpec, build_default_encoder, build_random_like, corpus_texts
    from .model_card import write_encoder_card

    if args.like:
        out = build_random_like(args.like, args.output, seed=args.seed)
        write_encoder_card(out, random_init=True, description=f"Random weights with the tokenizer and size of "
                                                              f"`{args.like}`: the control of a pretraining comparison.")
        print(f"random weights with the tokenizer and size of {args.like} -> {out}")
        return EXIT_OK
    texts = [text for path in args.corpus for text in corpus_texts(path)]
    spec = DefaultEncoderSpec(vocab_size=args.vocab_size, hidden_size=args.hidden_size,
                              num_hidden_layers=args.layers, min_frequency=args.min_frequency,
                              vector_epochs=args.vector_epochs)
    out = build_default_encoder(texts, args.output, spec, seed=args.seed)
    start = (f"embeddings started from fastText vectors trained on the same documents ({spec.vector_epochs} epochs)"
             if spec.vector_epochs else "random weights (no pretraining)")
    write_encoder_card(out, random_init=not spec.vector_epochs, corpus=args.corpus,
                       description=f"The offline default encoder: a WordPiece tokenizer trained on {len(texts)} "
                                   f"documents and a {spec.num_hidden_layers}-layer, {spec.hidden_size}-wide BERT "
                                   f"with {start}.")
    print(f"default encoder ({len(texts)} documents, vocabulary target {args.vocab_size}) -> {out}")
    return EXIT_OK


def cmd_build_corpus(args: argparse.Namespace) -> int:
    from rasd.inference.errors import UserError

    from .corpus import build_corpus, counts_table

    schema = _schema(args.schema)
    counts = build_corpus(args.markup, args.out, schema)
    if args.card:
        with open(args.card, encoding="utf-8") as f:
            card = f.read()
        start, end = "<!-- counts:start -->", "<!-- counts:end -->"
        if start not in card or end not in card:
            raise UserError(f"{args.card}: no {start} ... {end} block to fill; add one, or pass --card ''")
        head, rest = card.split(start, 1)
        card = head + start + "\n" + counts_table(counts, schema) + "\n" + end + rest.split(end, 1)[1]
        with open(args.card, "w", encoding="utf-8") as f:
            f.write(card)
    print(json.dumps({k: {"documents": v["documents"], "sentences": v["sentences"]} for k, v in counts.items()}))
    return EXIT_OK


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
    return EXIT_OK


def _score_line(name: str, m: dict) -> str:
    return (f"{name}: span F1 {m['spans']['micro']['f1']:.3f}  trigger cls F1 {m['triggers']['classification']['f1']:.3f}  "
            f"argument cls F1 {m['arguments']['classification']['f1']:.3f}  link F1 {m['links']['micro']['f1']:.3f}  "
            f"relation F1 {m['relations']['micro']['f1']:.3f}")


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import evaluate

    metrics, paths = evaluate(args.data, args.out, model=args.model, pred=args.pred, schema=args.schema,
                              batch_size=args.batch_size, events=args.events)
    print(_score_line("eval", metrics))
    if "relations_on_gold_spans" in metrics:
        oracle = metrics["relations_on_gold_spans"]
        print(f"on gold spans: argument cls F1 {oracle['arguments']['classification']['f1']:.3f}  "
              f"link F1 {oracle['links']['micro']['f1']:.3f}  relation F1 {oracle['relations']['micro']['f1']:.3f}")
    if "events" in metrics:
        e, g = metrics["events"], metrics["geocoding"]
        print(f"events: F1 {e['f1']:.3f} (P {e['p']:.3f} R {e['r']:.3f})  fields: "
              + "  ".join(f"{k} {v:.3f}" for k, v in e["fields"].items())
              + f"  fatalities (with a count) {e['fatalities_with_count']:.3f}  geocoding {g['accuracy']:.3f}")
    print(f"report: {paths['html']}")
    return EXIT_OK


def cmd_extract(args: argparse.Namespace) -> int:
    from rasd.inference.io import load_extractor, run_extraction

    extractor = load_extractor(args.model, quantized=args.int8, device=args.device, threads=args.threads)
    stats = run_extraction(extractor, args.inputs, args.output, lines=args.lines, batch_size=args.batch_size,
                           show_progress_bar=not args.quiet, print_records=args.print, merge=args.merge)
    status = _skipped_status("extract", len(stats.get("errors") or []), stats["documents"], args.keep_going)
    # stdout may be the JSONL output itself, so the summary goes to stderr, last
    print(json.dumps(stats, ensure_ascii=False), file=sys.stderr)
    return status


def _skipped_status(command: str, skipped: int, written: int, keep_going: bool) -> int:
    """Say how many inputs were skipped; a failure unless ``--keep-going`` accepts them."""
    if not skipped:
        return EXIT_OK
    what = (f"{skipped} input{'s' if skipped > 1 else ''} skipped (listed above); "
            f"{written} document{'' if written == 1 else 's'} written")
    if keep_going:
        print(f"rasd {command}: {what} (--keep-going)", file=sys.stderr)
        return EXIT_OK
    print(f"rasd {command}: error: {what}; fix the inputs, or pass --keep-going to accept skipped ones",
          file=sys.stderr)
    return EXIT_FAILURE


def cmd_serve(args: argparse.Namespace) -> int:
    from dataclasses import fields

    from rasd.serving.app import serve
    from rasd.serving.config import API_KEY_ENV, ServeConfig

    options = {f.name: getattr(args, f.name) for f in fields(ServeConfig) if f.name != "api_key"}
    config = ServeConfig(**options, api_key=os.environ.get(API_KEY_ENV, ""))
    serve(args.model, host=args.host, port=args.port, config=config, quantized=args.int8, device=args.device,
          threads=args.threads)
    return EXIT_OK


def cmd_batch(args: argparse.Namespace) -> int:
    from rasd.serving.ray_batch import run_batch

    summary = run_batch(args.model, args.inputs, args.output, formats=[f for f in args.format.split(",") if f],
                        events=None if args.events == "none" else args.events, workers=args.workers,
                        threads_per_worker=args.threads_per_worker, gpus_per_worker=args.gpus_per_worker,
                        batch_size=args.batch_size, quantized=False if args.fp32 else None, device=args.device,
                        overwrite=args.overwrite, address=args.address, num_cpus=args.num_cpus,
                        report=lambda line: print(line, file=sys.stderr))
    for problem in summary["problems"]:
        print(problem, file=sys.stderr)
    status = _skipped_status("batch", len(summary["problems"]), summary["documents"], args.keep_going)
    if summary["failed"]:
        print(f"rasd batch: error: {len(summary['failed'])} shard(s) failed and were left unwritten (listed above); "
              f"run the command again to retry them", file=sys.stderr)
        status = EXIT_FAILURE
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}, ensure_ascii=False))
    return status


def cmd_events_merge(args: argparse.Namespace) -> int:
    from rasd.inference.event_merge import merge_events_file

    stats = merge_events_file(args.inputs, args.output)
    print(json.dumps(stats, ensure_ascii=False))
    return EXIT_OK


def cmd_export_onnx(args: argparse.Namespace) -> int:
    from .export_onnx import export_onnx

    written = export_onnx(args.model, args.output, quantize=args.int8)
    print(json.dumps(written, ensure_ascii=False, default=str))
    return EXIT_OK


def cmd_pretrain(args: argparse.Namespace) -> int:
    from .configuration import load_config
    from .pretrain import pretrain
    from .pretrain_config import PretrainConfig

    config = load_config(PretrainConfig, args.config, args.set or [])
    result = pretrain(config, resume=args.resume)
    print(json.dumps(result, ensure_ascii=False))
    return EXIT_OK


def cmd_push(args: argparse.Namespace) -> int:
    from .hub import push_model

    url = push_model(args.model_dir, args.repo_id, private=args.private, token=args.token, commit_message=args.message)
    print(f"{args.model_dir} -> {url}")
    return EXIT_OK


# ---------------------------------------------------------------------------------------- parser
def _add_device_options(s: argparse.ArgumentParser) -> None:
    s.add_argument("--device", choices=["cpu", "cuda"], default=None,
                   help="where the model runs (default: cpu; cuda needs a GPU build of torch or onnxruntime-gpu)")
    s.add_argument("--threads", type=int, default=None,
                   help="CPU threads per model call (default: the library's own choice)")


def _add_serve_options(s: argparse.ArgumentParser) -> None:
    """One flag per ``ServeConfig`` field, with its help and default, so the two never drift apart."""
    from dataclasses import fields

    from rasd.serving.config import ServeConfig

    for f in fields(ServeConfig):
        if f.name != "api_key":  # secrets come from the environment, never from arguments (ps shows those)
            s.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default,
                           help=f.metadata["help"])


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the description's line breaks and shows every option's default (flags excepted)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        default = action.default
        if ("%(default)" in text or default in (None, False, argparse.SUPPRESS) or isinstance(default, bool)
                or not (action.option_strings or action.nargs in ("?", "*"))):
            return text
        shown = " ".join(map(str, default)) if isinstance(default, (list, tuple)) else str(default)
        shown = shown if shown else "''"
        return f"{text} (default: {shown.replace('%', '%%')})"

    def _split_lines(self, text: str, width: int) -> list[str]:
        import textwrap

        # paths and names such as models/default-encoder stay whole, to copy from the help
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def _config_epilog(cls: type) -> str:
    from .configuration import describe_config

    return ("config keys (YAML sections; override any one with --set SECTION.KEY=VALUE):\n"
            + describe_config(cls))


def version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as installed_version

    try:
        return installed_version("rasd")
    except PackageNotFoundError:  # a source tree used without installing
        from rasd.inference import __version__

        return __version__


def build_parser() -> argparse.ArgumentParser:
    from .config import TrainConfig
    from .pretrain_config import PretrainConfig

    # --verbose and --debug work before or after the command; SUPPRESS keeps a subcommand from
    # resetting what was given before it
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="debug logging, and the INFO lines of accelerate and datasets")
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="show the Python traceback of an error")
    p = argparse.ArgumentParser(
        prog="rasd", description="رصد: Arabic news → conflict-event data", formatter_class=HelpFormatter,
        epilog="exit status: 0 done; 1 failed (or, for extract, inputs skipped); 2 a usage or input error")
    p.add_argument("--version", action="version", version=f"rasd {version()}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging, and the INFO lines of accelerate and datasets")
    p.add_argument("--debug", action="store_true", help="show the Python traceback of an error")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, func: Callable[[argparse.Namespace], int], helptext: str,
                epilog: str | None = None) -> argparse.ArgumentParser:
        s = sub.add_parser(name, help=helptext, description=helptext, epilog=epilog, parents=[common],
                           formatter_class=HelpFormatter)
        s.set_defaults(func=func)
        return s

    s = command("validate", cmd_validate, "check JSONL documents against the annotation contract")
    s.add_argument("files", nargs="+", help="JSONL documents")
    s.add_argument("--schema", default=SCHEMA_DEFAULT, help="label schema YAML")

    s = command("convert", cmd_convert, "CoNLL/BIO or inline markup -> JSONL, or JSONL -> CoNLL")
    s.add_argument("input", help=".conll/.txt BIO, .txt/.md inline markup, or .jsonl (with --to conll)")
    s.add_argument("output", help="the file to write")
    s.add_argument("--to", choices=["jsonl", "conll"], default="jsonl", help="output format")
    s.add_argument("--schema", default=None, help="map labels through this schema's aliases")

    s = command("build-default-model", cmd_build_default_model,
                "train a WordPiece tokenizer and write the small offline BERT (random weights)")
    s.add_argument("--corpus", nargs="+", default=["data/conflict-ar/train.jsonl"], help="documents to train the "
                                                                                        "tokenizer on")
    s.add_argument("--output", default="models/default-encoder", help="the encoder folder to write")
    s.add_argument("--vocab-size", type=int, default=8000, help="WordPiece vocabulary target")
    s.add_argument("--layers", type=int, default=0, help="transformer layers (0: the subtoken embeddings only)")
    s.add_argument("--hidden-size", type=int, default=256, help="width of the embeddings and layers")
    s.add_argument("--min-frequency", type=int, default=2, help="a word seen fewer times is left to its pieces")
    s.add_argument("--vector-epochs", type=int, default=0, help="start the embeddings from fastText vectors trained "
                                                               "on the corpus this many epochs (0: random; needs "
                                                               "rasd[vectors])")
    s.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    s.add_argument("--like", default="", help="copy this encoder's tokenizer and size, with random weights "
                                              "(the control of a pretraining comparison); --corpus is then unused")

    s = command("build-corpus", cmd_build_corpus, "compile the markup corpus into validated train/dev/test JSONL")
    s.add_argument("--markup", default="data/conflict-ar/markup", help="folder of markup .txt files")
    s.add_argument("--out", default="data/conflict-ar", help="folder for train/dev/test.jsonl")
    s.add_argument("--card", default="data/README.md", help="data card whose count table is rewritten ('': none)")
    s.add_argument("--schema", default=SCHEMA_DEFAULT, help="label schema YAML")

    for name, func, helptext, cls in (
            ("train", cmd_train, "fine-tune a model from a YAML config", TrainConfig),
            ("pretrain", cmd_pretrain, "masked-LM pretraining from a YAML config", PretrainConfig)):
        s = command(name, func, helptext, epilog=_config_epilog(cls))
        s.add_argument("--config", required=True, help="YAML config (configs/... names work from any folder)")
        s.add_argument("--set", action="append", metavar="SECTION.KEY=VALUE", help="override a config value")
        s.add_argument("--resume", action="store_true", help="continue from the run's last checkpoint")

    s = command("evaluate", cmd_evaluate, "score a model (or predictions) on gold JSONL/CoNLL and write a report")
    source = s.add_mutually_exclusive_group(required=True)
    source.add_argument("--model", type=_model, help="model folder or hub id: predict, then score")
    source.add_argument("--pred", help="saved predictions (JSONL) to score")
    s.add_argument("--data", required=True, help="gold documents, JSONL or CoNLL")
    s.add_argument("--out", required=True, help="folder for metrics.json, report.md and report.html")
    s.add_argument("--schema", default=None, help="gold schema (default: the model's own, or the packaged conflict "
                                                  "schema with --pred)")
    s.add_argument("--batch-size", type=int, default=16, help="windows per forward pass")
    s.add_argument("--events", default=None, help="gold event records (default: events/X.jsonl beside DATA X.jsonl, "
                                                  "if any)")

    s = command("export-onnx", cmd_export_onnx, "export a trained model to ONNX for the torch-free CPU extractor")
    s.add_argument("--model", required=True, type=_model, help="trained model folder or hub id")
    s.add_argument("--output", required=True, help="folder to write the export to")
    s.add_argument("--int8", action="store_true", help="also write a dynamically int8-quantized graph")

    s = command("extract", cmd_extract, "extract spans, relations and event records from text")
    s.add_argument("--model", required=True, type=_model,
                   help="model folder, hub id, or ONNX export (rasd export-onnx: runs without torch)")
    s.add_argument("--int8", action="store_true", help="with an ONNX export: its int8 encoder")
    s.add_argument("inputs", nargs="*", default=["-"], help=".txt, .jsonl or - for standard input")
    s.add_argument("-o", "--output", default="-", help=".jsonl documents, or .csv / .parquet event rows (ACLED's "
                                                       "columns, then rasd's); - : JSONL to stdout")
    s.add_argument("--lines", action="store_true", help="a .txt input holds one document per line")
    s.add_argument("--batch-size", type=int, default=16, help="windows per forward pass")
    s.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    s.add_argument("--print", action="store_true", help="also print the event records, one readable block each")
    s.add_argument("--keep-going", action="store_true",
                   help="exit 0 even when malformed inputs were skipped (they are still listed)")
    s.add_argument("--merge", action="store_true", help="join records of different documents that report one "
                                                        "event (a .csv or .parquet output)")
    _add_device_options(s)

    s = command("serve", cmd_serve, "run the REST service (rasd[serve]); the API key, if any, comes from "
                                    "$RASD_API_KEY")
    s.add_argument("--model", required=True, type=_model, help="model folder, hub id, or ONNX export")
    s.add_argument("--int8", action="store_true", help="with an ONNX export: its int8 encoder")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface)")
    s.add_argument("--port", type=int, default=8000, help="port to listen on")
    _add_device_options(s)
    _add_serve_options(s)

    s = command("batch", cmd_batch, "extract a folder (or URL) of JSONL/Parquet shards on Ray (rasd[ray]); "
                                    "joins the cluster of $RAY_ADDRESS if set")
    s.add_argument("--model", required=True, help="model folder or ONNX export (on a cluster: shared, or a URL)")
    s.add_argument("inputs", help="folder, file or fsspec URL of .jsonl[.gz] / .parquet shards")
    s.add_argument("output", help="folder or fsspec URL; one set of outputs per input shard")
    s.add_argument("--format", default="jsonl", help="documents as jsonl, parquet, or jsonl,parquet")
    s.add_argument("--events", default="csv", help="event rows per shard as NAME.events.csv or .parquet "
                                                   "(none: no rows)")
    s.add_argument("--workers", type=int, default=2, help="extractor actors")
    s.add_argument("--threads-per-worker", type=int, default=1, help="CPUs of each actor")
    s.add_argument("--gpus-per-worker", type=float, default=0.0, help="GPUs of each actor (with --device cuda)")
    s.add_argument("--device", choices=["cpu", "cuda"], default=None, help="where each actor runs the model")
    s.add_argument("--batch-size", type=int, default=16, help="windows per forward pass")
    s.add_argument("--fp32", action="store_true", help="with an ONNX export: its fp32 encoder, not the int8 one")
    s.add_argument("--overwrite", action="store_true", help="redo shards whose outputs exist")
    s.add_argument("--keep-going", action="store_true",
                   help="exit 0 even when malformed records were skipped (they are still listed)")
    s.add_argument("--address", default=None, help="Ray cluster to join (default: $RAY_ADDRESS, else a local Ray)")
    s.add_argument("--num-cpus", type=int, default=None, help="CPUs of a local Ray (default: all)")

    s = sub.add_parser("events", help="work on event records", description="work on event records", parents=[common],
                       formatter_class=HelpFormatter)
    events = s.add_subparsers(dest="events_command", required=True, metavar="EVENTS_COMMAND", help="what to do")
    s = events.add_parser("merge", help="join records of different documents that report one event",
                          description="join records of different documents that report one event", parents=[common],
                          formatter_class=HelpFormatter)
    s.add_argument("inputs", nargs="+", help="JSONL documents with events (rasd extract -o X.jsonl)")
    s.add_argument("-o", "--output", required=True, help=".csv or .parquet event rows")
    s.set_defaults(func=cmd_events_merge)

    s = command("push", cmd_push, "publish a model folder with its model card to the Hugging Face hub")
    s.add_argument("model_dir", help="the model folder (OUTPUT_DIR/model of a finished rasd train)")
    s.add_argument("--repo-id", required=True, help="hub repository OWNER/NAME (created if missing)")
    s.add_argument("--private", action="store_true", help="create the repository private")
    s.add_argument("--token", default=None, help="hub token with write access (default: hf auth login or HF_TOKEN)")
    s.add_argument("--message", default="Upload rasd model", help="commit message")
    return p


# ---------------------------------------------------------------------------------------- running
def configure_logging(verbose: bool) -> None:
    """rasd's INFO lines; third-party INFO lines (accelerate's checkpoints) only when verbose."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(LOG_FORMAT))
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.getLogger("rasd").setLevel(logging.DEBUG if verbose else logging.INFO)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET if verbose else logging.WARNING)


def _extra_providing(module: str) -> str | None:
    """The extra of rasd (``train``, ``onnx``) that installs ``module``, from the installed metadata."""
    from importlib.metadata import PackageNotFoundError, requires

    try:
        requirements = requires("rasd") or []
    except PackageNotFoundError:
        return None
    for requirement in requirements:
        match = re.match(r"\s*([A-Za-z0-9_.-]+).*extra\s*==\s*['\"]([\w-]+)['\"]", requirement)
        if match and match.group(1).lower().replace("-", "_") == module.lower():
            return match.group(2)
    return None


def user_error_message(err: BaseException) -> str | None:
    """The one-line message of an error the user can fix; None for anything else (a failure)."""
    from rasd.inference.errors import UserError

    user_classes: list[Any] = [UserError]
    user_classes += [getattr(sys.modules[module], name) for module, name in USER_ERROR_CLASSES.items()
                     if module in sys.modules and hasattr(sys.modules[module], name)]
    if isinstance(err, tuple(user_classes)):
        return str(err)
    if isinstance(err, FileNotFoundError) and err.filename:
        return f"{err.filename}: no such file or folder (relative paths start at {os.getcwd()})"
    if isinstance(err, OSError) and err.filename:
        return f"{err.filename}: {err.strerror or err}"
    if isinstance(err, OSError):  # what transformers raises for a model or hub id it cannot load
        return str(err)
    if isinstance(err, ModuleNotFoundError) and err.name:
        extra = _extra_providing(err.name.split(".")[0])
        if extra:
            return f"this command needs {err.name}, from the {extra} extra: pip install 'rasd[{extra}]'"
    return None


def main(argv: list[str] | None = None) -> int:
    """Run one ``rasd`` command; returns its exit status (argparse's own, 2, for a usage error)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # --help, --version, or a usage error argparse has printed
        return exit_.code if isinstance(exit_.code, int) else EXIT_USER_ERROR
    configure_logging(args.verbose)
    from tqdm.contrib.logging import logging_redirect_tqdm

    try:
        with logging_redirect_tqdm():  # log lines print above a progress bar, not into it
            return args.func(args)
    except KeyboardInterrupt:
        print(f"rasd {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if args.debug:
            raise
        message = user_error_message(err)
        if message is not None:
            print(f"rasd {args.command}: error: {message}", file=sys.stderr)
            return EXIT_USER_ERROR
        print(f"rasd {args.command}: error: {type(err).__name__}: {err} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
