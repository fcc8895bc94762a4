"""Command line: ``seqlab train | evaluate | predict | inspect | experiment | sweep | plot | export``. The only module that prints errors and exits.

Each command imports what it needs when it runs, so ``seqlab --help``, ``--version`` and argument
errors answer without importing torch."""
from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Sequence

from seqlab import __version__
from seqlab.errors import SeqlabError

log = logging.getLogger("seqlab")


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """The ``seqlab`` parser and each command's own parser, by name (docs/cli.md is generated from them)."""
    parser = argparse.ArgumentParser(prog="seqlab", description="Sequence labelling with RNN/LSTM/GRU encoders and softmax/CRF heads.")
    parser.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr")
    parser.add_argument("--version", action="version", version=f"seqlab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model from a YAML config", description=(
        "Train a model as the config says and write its directory (config, vocabularies, best weights, per-epoch metrics, a "
        "resumable checkpoint). An existing model is kept unless --overwrite. --resume continues an interrupted run exactly, "
        "with its own config (--set may change e.g. train.epochs); the training file must be the one the run started with."))
    start = train.add_mutually_exclusive_group(required=True)
    start.add_argument("--config", help="YAML config file")
    start.add_argument("--resume", metavar="DIR", help="continue the run whose checkpoint is in DIR (its own config; --set may change e.g. train.epochs)")
    train.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a config key, e.g. model.encoder.cell=gru (repeatable)")
    train.add_argument("--output", help="model directory (overrides output_dir)")
    train.add_argument("--overwrite", action="store_true", help="replace a model already in the output directory")
    train.add_argument("--dry-run", action="store_true", help="print the resolved config and parameter count, then exit")

    evaluate = sub.add_parser("evaluate", help="score a model on a labelled file", description=(
        "Score a model on a labelled file in its data format: span precision/recall/F1 (conlleval's rules) overall and per type, "
        "token accuracy, accuracy on ambiguous and on out-of-vocabulary words, and the calibration of span confidences."))
    evaluate.add_argument("--model", required=True, help="model directory")
    evaluate.add_argument("--data", required=True, help="labelled file in the model's data format")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    evaluate.add_argument("--impl", choices=("fused", "scratch"), help="run the recurrent encoder with this implementation (same weights)")
    evaluate.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch (default: torch's)")

    predict = sub.add_parser("predict", help="tag raw text or a file", description=(
        "Tag raw text or a file. Input is streamed in chunks and the output keeps the input order: conll prints token<TAB>tag "
        "lines and a blank line per sentence, jsonl one object per sentence, text the sentence with entities as [TYPE words]. "
        "Sentences/s on stderr at the end."))
    predict.add_argument("--model", required=True, help="model directory")
    source = predict.add_mutually_exclusive_group(required=True)
    source.add_argument("--text", help="one raw sentence")
    source.add_argument("--input", help="a file, or - for stdin")
    predict.add_argument("--input-format", choices=("text", "conll", "conllu", "jsonl"),
                         help="text: one raw sentence per line; the others are read with the model's data settings. Default: text, "
                              "unless the file is plainly CoNLL, CoNLL-U or JSONL (said on stderr)")
    predict.add_argument("--format", choices=("conll", "jsonl", "text"), default="conll", help="output format")
    predict.add_argument("--probs", action="store_true", help="add each token's tag probability and each entity's confidence")
    predict.add_argument("--nbest", type=int, default=0, metavar="K", help="also give the K best tag sequences with their probabilities")
    predict.add_argument("--impl", choices=("fused", "scratch"), help="run the recurrent encoder with this implementation (same weights)")
    predict.add_argument("--batch-size", default="auto", metavar="N|auto",
                         help="sentences per decode batch; auto (default): sizes 8-512 timed on parts of the input's first 2,048 sentences "
                              "and the fastest kept (inputs under 1,024 sentences: the model's train.eval_batch_size)")
    predict.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (a model trained anywhere runs anywhere)")
    predict.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch (default: torch's)")

    inspect = sub.add_parser("inspect", help="print the encoder's gate values and state norms token by token", description=(
        "Per token: the tag, each gate's mean over units (LSTM forget/input/output, GRU update/reset) and the state norms in each "
        "direction, for a model trained with either impl."))
    inspect.add_argument("--model", required=True, help="model directory (trained with either impl)")
    inspect.add_argument("--text", required=True, action="append", help="one raw sentence (repeatable)")
    inspect.add_argument("--layer", type=int, default=-1, help="encoder layer, 0-based; -1 is the last (default)")
    inspect.add_argument("--plot", metavar="FILE.png", help="also write a heatmap of each gate per unit and token (needs matplotlib)")

    experiment = sub.add_parser("experiment", help="check the notes' claims about RNN/LSTM/GRU on real runs", description=(
        "Run the notes' experiments (docs/experiments.md): each trains what its claim needs, writes OUT/NAME/results.json and "
        "figures, and prints one verdict per claim, decided by a stated rule on the measured means."))
    experiment.add_argument("names", nargs="+", metavar="NAME", help="all, or any of: context future long-range vanishing exploding gates lstm-vs-gru init-and-relu")
    experiment.add_argument("--quick", action="store_true", help="few seeds, short runs: checks the pipeline in minutes, not the claims")
    experiment.add_argument("--out", default="runs/experiments", help="results.json and figures go to OUT/NAME/ (default runs/experiments)")
    experiment.add_argument("--seeds", type=int, help="seeds per variant (overrides the YAML)")
    experiment.add_argument("--configs", help="directory of the experiments' YAML files (default: the ones installed with seqlab)")

    sweep = sub.add_parser("sweep", help="train every combination of config values for several seeds and tabulate", description=(
        "Train every combination of the grid for each seed; print dev/test F1 mean ± std, parameters and training sentences/s "
        "per combination, and write OUT/sweep.json and OUT/sweep.csv."))
    sweep.add_argument("--config", required=True, help="YAML config every run starts from")
    sweep.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2", help="values to sweep for one key (repeatable: the grid is their product)")
    sweep.add_argument("--seeds", type=int, default=1, help="seeds per combination (1..N)")
    sweep.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE", help="override a key for every run")
    sweep.add_argument("--out", default="runs/sweep", help="model directories, sweep.json and sweep.csv (default runs/sweep)")

    export = sub.add_parser("export", help="write the model as one TorchScript or torch.export program (ids in, tag ids out) or an ONNX file", description=(
        "torchscript: one program from word/char/casing ids and lengths to tag ids, Viterbi included. torch-export: the same as a "
        "torch.export program (.pt2, torch.export.load(F).module()), every loop over time a torch.scan, so it takes any batch, "
        "length and word width. onnx: the tag scores and the start/transition/end scores, decoded after onnxruntime by "
        "seqlab.export.onnx.OnnxTagger (pip install -e '.[export]')."))
    export.add_argument("--model", required=True, help="model directory")
    export.add_argument("--format", choices=("torchscript", "onnx", "torch-export"), default="torchscript",
                        help="torchscript / torch-export (.pt2): decode included; onnx: scores + transition scores, decoded by seqlab.export.onnx.OnnxTagger")
    export.add_argument("--out", required=True, help="file to write")
    export.add_argument("--check", action="store_true", help="run the export and the eager model on the dev data (or --data) and fail unless every tag is identical")
    export.add_argument("--data", help="labelled or unlabelled file for --check (default: the model's data.dev)")

    plot = sub.add_parser("plot", help="draw a trained model's loss and dev-F1 curves from its metrics.jsonl", description=(
        "Draw the training-loss and dev-F1 curves of a model from its metrics.jsonl (needs matplotlib)."))
    plot.add_argument("--model", required=True, help="model directory")
    plot.add_argument("--out", help="PNG file (default MODEL/curves.png)")
    return parser, dict(sub.choices)


def _train(args: argparse.Namespace) -> int:
    import dataclasses

    from seqlab.config import dump_config, load_config
    from seqlab.errors import ConfigError
    from seqlab.model import count_parameters
    from seqlab.prepare import prepare_run
    from seqlab.train import resume, train

    if args.resume is not None:
        if args.output or args.overwrite or args.dry_run:
            raise ConfigError(["--resume continues in its own directory: --output, --overwrite and --dry-run do not apply"])
        return _report_training(resume(args.resume, args.overrides))
    config = load_config(args.config, args.overrides)
    if args.output:
        config = dataclasses.replace(config, output_dir=args.output)
    if args.dry_run:
        if config.data.train is None:
            raise ConfigError(["'data.train': required to count parameters"], args.config)
        prepared = prepare_run(config)  # what training would build, on the CPU
        print(dump_config(prepared.config), end="")
        print(f"# parameters: {count_parameters(prepared.optimisation.model)}")
        return 0
    return _report_training(train(config, args.output, overwrite=args.overwrite))


def _report_training(result) -> int:
    from seqlab.distributed import from_environment

    if not from_environment().main:  # under torchrun, rank 0 reports
        return 0
    dev = f"dev F1 {result.dev.f1:.4f}" if result.dev else "no dev file"
    test = f", test F1 {result.test.f1:.4f}" if result.test else ""
    print(f"saved {result.output_dir} (best epoch {result.best_epoch} of {result.epochs_run}, {dev}{test}, {result.seconds:.1f}s)")
    return 0


def _ratio(value: float, tokens: int) -> str:
    """An accuracy over ``tokens`` tokens, or n/a when there are none."""
    return f"{value:.4f} ({tokens} tokens)" if tokens else "n/a (0 tokens)"


def _format_report(rep) -> str:
    lines = [
        f"sentences {rep.sentences}  tokens {rep.tokens}",
        f"precision {rep.precision:.4f}  recall {rep.recall:.4f}  F1 {rep.f1:.4f}  accuracy {rep.accuracy:.4f}",
        f"ambiguous-token accuracy {_ratio(rep.ambiguous_accuracy, rep.ambiguous_tokens)}  "
        f"OOV accuracy {_ratio(rep.oov_accuracy, rep.oov_tokens)}",
        f"span confidence: mean {rep.mean_confidence:.4f}, expected calibration error {rep.calibration_error:.4f}",
        f"{'type':<12}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}",
    ]
    for kind, s in rep.per_type.items():
        lines.append(f"{kind:<12}{s.precision:>10.4f}{s.recall:>10.4f}{s.f1:>10.4f}{s.support:>9}")
    return "\n".join(lines)


def _threads(args: argparse.Namespace) -> None:
    """Apply ``--threads`` (validated) before any work."""
    if args.threads is None:
        return
    from seqlab.errors import ConfigError

    if not 1 <= args.threads <= 1024:
        raise ConfigError([f"--threads: expected a number from 1 to 1024, got {args.threads}"])
    import torch

    torch.set_num_threads(args.threads)


def _evaluate(args: argparse.Namespace) -> int:
    from seqlab.evaluate import evaluate_file
    from seqlab.tagger import Tagger

    _threads(args)
    rep = evaluate_file(Tagger.load(args.model, impl=args.impl), args.data)
    print(json.dumps(rep.to_json()) if args.json else _format_report(rep))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from seqlab.device import resolve_device
    from seqlab.errors import DataError
    from seqlab.predict import format_sentence, read_sentences, tag_stream
    from seqlab.tagger import MAX_NBEST, Tagger
    from seqlab.tokenizer import tokenize

    if args.text is not None:
        tokens = tuple(tokenize(args.text))
        if not tokens:
            raise DataError(None, None, "--text is empty: give a sentence to tag")
        sentences = iter([tokens])
    if not 0 <= args.nbest <= MAX_NBEST:
        raise DataError(None, None, f"--nbest: expected a number from 0 to {MAX_NBEST}, got {args.nbest}")
    _threads(args)
    batch_size: int | str = args.batch_size
    if batch_size != "auto":
        if not str(batch_size).isdigit() or int(batch_size) < 1:
            raise DataError(None, None, f"--batch-size: expected a number >= 1 or auto, got {batch_size}")
        batch_size = int(batch_size)
    tagger = Tagger.load(args.model, device=resolve_device(args.device, "--device"), impl=args.impl)
    if args.text is None:
        sentences = read_sentences(args.input, _input_format(args), tagger.bundle.config.data)
    start, count = time.perf_counter(), 0
    out = sys.stdout
    for tagged in tag_stream(tagger, sentences, with_probs=args.probs, nbest=args.nbest, batch_size=batch_size):
        out.write(format_sentence(tagged, args.format))
        count += 1
    out.flush()
    seconds = time.perf_counter() - start
    rate = f", {count / seconds:.3g} sentences/s" if seconds > 0 and count else ""
    log.info("tagged %d sentence%s in %.2fs%s", count, "" if count == 1 else "s", seconds, rate)
    return 0


def _input_format(args: argparse.Namespace) -> str:
    """``--input-format``, or for a file that is plainly not raw text the format it is in."""
    from seqlab.readers import STDIN, sniff_format

    if args.input_format or args.input == STDIN:
        return args.input_format or "text"
    found = sniff_format(args.input)
    if found is None:
        return "text"
    fmt, why = found
    log.warning("reading %s as %s (%s); pass --input-format text to tag each line as a raw sentence", args.input, fmt, why)
    return fmt


def _inspect(args: argparse.Namespace) -> int:
    from pathlib import Path

    from seqlab.errors import DataError
    from seqlab.tagger import Tagger
    from seqlab.tokenizer import tokenize
    from seqlab.trace import format_trace, plot_trace, trace_sentence

    sentences = [tuple(tokenize(text)) for text in args.text]
    if not all(sentences):
        raise DataError(None, None, "--text is empty: give a sentence to inspect")
    tagger = Tagger.load(args.model)
    for k, tokens in enumerate(sentences):
        trace = trace_sentence(tagger, tokens, args.layer)
        print(("\n" if k else "") + format_trace(trace))
        if args.plot:
            path = Path(args.plot)
            if len(sentences) > 1:
                path = path.with_name(f"{path.stem}-{k + 1}{path.suffix}")
            plot_trace(trace, str(path))
            log.info("wrote %s", path)
    return 0


def _experiment(args: argparse.Namespace) -> int:
    from pathlib import Path

    from seqlab.errors import ConfigError
    from seqlab.experiments import format_verdicts, run_experiments

    if args.seeds is not None and args.seeds < 1:
        raise ConfigError([f"--seeds: expected a number >= 1, got {args.seeds}"])
    configs = Path(args.configs) if args.configs else None
    outcomes = run_experiments(args.names, Path(args.out), configs, quick=args.quick, seeds=args.seeds, echo=not args.quiet)
    print(format_verdicts(outcomes))
    print(f"results and figures: {args.out}/<experiment>/")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from pathlib import Path

    from seqlab.sweep import format_sweep, parse_grid, run_sweep, write_sweep

    grid = parse_grid(args.grid)
    out = Path(args.out)
    rows = run_sweep(args.config, grid, args.seeds, out, tuple(args.overrides), echo=not args.quiet)
    write_sweep(rows, out)
    print(format_sweep(rows))
    print(f"(F1 in %, mean ± std over {args.seeds} seed(s); also {out / 'sweep.json'} and {out / 'sweep.csv'})")
    return 0


def _export(args: argparse.Namespace) -> int:
    from seqlab.errors import ModelError
    from seqlab.export import check, export, load_exported
    from seqlab.readers import iter_sentences
    from seqlab.tagger import Tagger

    tagger = Tagger.load(args.model)
    out = export(tagger, args.format, args.out)
    print(f"wrote {out}")
    if not args.check:
        return 0
    data = tagger.bundle.config.data
    source = args.data or data.dev
    if source is None:
        raise ModelError(f"{args.model}: the model has no data.dev; give --data FILE for --check")
    encoded = tagger.encode_tokens([s.tokens for s in iter_sentences(source, data, require_tags=False)])
    parity = check(load_exported(out, args.format), tagger, encoded)
    if parity.mismatched:
        raise ModelError(f"{out}: tags differ from the eager model on {len(parity.mismatched)} of {parity.sentences} sentences of {source} (first: sentence {parity.mismatched[0] + 1})")
    print(f"check: identical tags on all {parity.sentences} sentences ({parity.tokens} tokens) of {source}")
    return 0


def _plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from seqlab.bundle import read_history
    from seqlab.plots import training_curves

    history = read_history(args.model)
    out = Path(args.out) if args.out else Path(args.model) / "curves.png"
    training_curves(out, str(args.model), history)
    print(f"wrote {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser()[0].parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s", stream=sys.stderr)
    handlers = {"train": _train, "evaluate": _evaluate, "predict": _predict, "inspect": _inspect, "experiment": _experiment, "sweep": _sweep, "plot": _plot, "export": _export}
    try:
        return handlers[args.command](args)
    except SeqlabError as err:
        from seqlab.train import TrainingInterrupted

        if isinstance(err, TrainingInterrupted):
            print(f"seqlab {args.command}: interrupted: {err}", file=sys.stderr)
            return 130
        print(f"seqlab {args.command}: error: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"seqlab {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
