"""Command line: ``seqlab train | evaluate | predict | inspect | experiment | sweep | plot | export | serve`` (and the
commands of ``COMMANDS_ELSEWHERE``). The only package that prints errors and exits.

Each command imports what it needs when it runs, so ``seqlab --help``, ``--version`` and argument
errors answer without importing torch."""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence

from seqlab.cli.options import SERVE_RANGES, check_port, check_ranges
from seqlab.cli.parser import build_parser
from seqlab.errors import SeqlabError

log = logging.getLogger("seqlab")


def _train(args: argparse.Namespace) -> int:
    import dataclasses

    from seqlab.config.settings import dump_config, load_config
    from seqlab.errors import ConfigError
    from seqlab.nn.model import count_parameters
    from seqlab.train.prepare import prepare_run
    from seqlab.train.run import resume, train

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


def _thread_count(args: argparse.Namespace) -> int | None:
    """``--threads``, validated (None when not given)."""
    from seqlab.errors import ConfigError

    if args.threads is not None and not 1 <= args.threads <= 1024:
        raise ConfigError([f"--threads: expected a number from 1 to 1024, got {args.threads}"])
    return args.threads


def _threads(args: argparse.Namespace) -> None:
    """Apply ``--threads`` (validated) before any work."""
    threads = _thread_count(args)
    if threads is None:
        return
    import torch

    torch.set_num_threads(threads)


def _evaluate(args: argparse.Namespace) -> int:
    from seqlab.device import resolve_device
    from seqlab.export.runtime import with_runtime
    from seqlab.tagger.evaluate import evaluate_file
    from seqlab.tagger.inference import Tagger

    _threads(args)
    device = resolve_device(args.device, "--device")
    rep = evaluate_file(with_runtime(Tagger.load(args.model, device=device, impl=args.impl), args.runtime, args.quantize), args.data)
    print(json.dumps(rep.to_json()) if args.json else _format_report(rep))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from pathlib import Path

    import torch

    from seqlab.data.readers import Sentence
    from seqlab.data.tokenizer import sentences_of, tokenize
    from seqlab.device import resolve_device
    from seqlab.distributed import from_environment, join, leave
    from seqlab.errors import DataError
    from seqlab.tagger.inference import MAX_NBEST, Tagger
    from seqlab.tagger.predict import (
        format_sentence,
        read_sentences,
        tag_stream,
        write_texts,
    )
    from seqlab.tagger.shard import stripe, write_sharded

    if args.text is not None:
        if not tokenize(args.text):
            raise DataError(None, None, "--text is empty: give a sentence to tag")
        sentences = iter([Sentence(tokens, None, 0, source) for tokens, source in sentences_of(args.text, args.split_sentences)])
    if not 0 <= args.nbest <= MAX_NBEST:
        raise DataError(None, None, f"--nbest: expected a number from 0 to {MAX_NBEST}, got {args.nbest}")
    _threads(args)
    batch_size: int | str = args.batch_size
    if batch_size != "auto":
        if not str(batch_size).isdigit() or int(batch_size) < 1:
            raise DataError(None, None, f"--batch-size: expected a number >= 1 or auto, got {batch_size}")
        batch_size = int(batch_size)
    context = from_environment()
    if context.active and (args.output is None or args.input in (None, "-")):
        raise DataError(None, None, "under torchrun, predict reads --input FILE and writes --output FILE (each process tags a stripe)")
    device = resolve_device(args.device, "--device")
    if context.active and device.type == "cuda":
        device = torch.device("cuda", context.local_rank)
    from seqlab.export.runtime import with_runtime

    tagger = with_runtime(Tagger.load(args.model, device=device, impl=args.impl), args.runtime, args.quantize)
    if args.text is None:
        sentences = read_sentences(args.input, _input_format(args), tagger.bundle.config.data, args.split_sentences)
    start = time.perf_counter()
    texts = (format_sentence(t, args.format) for t in tag_stream(tagger, stripe(sentences, context), args.probs, args.nbest, batch_size=batch_size))
    if context.active:
        join(context, torch.device("cpu"))  # gloo: the processes only wait for each other
        try:
            count = write_sharded(texts, Path(args.output), context)
        finally:
            leave(context)
    else:
        count = write_texts(texts, args.output)
    seconds = time.perf_counter() - start
    rate = f", {count / seconds:.3g} sentences/s" if seconds > 0 and count else ""
    log.info("tagged %d sentence%s in %.2fs%s", count, "" if count == 1 else "s", seconds, rate)
    return 0


def _input_format(args: argparse.Namespace) -> str:
    """``--input-format``, or for a file that is plainly not raw text the format it is in."""
    from seqlab.data.readers import STDIN, sniff_format

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

    from seqlab.data.tokenizer import tokenize
    from seqlab.errors import DataError
    from seqlab.tagger.inference import Tagger
    from seqlab.tagger.trace import format_trace, plot_trace, trace_sentence

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
    outcomes = run_experiments(args.names, Path(args.out), configs, quick=args.quick, seeds=args.seeds, echo=not args.quiet, cell=args.cell, corpus=args.corpus)
    print(format_verdicts(outcomes))
    print(f"results and figures: {args.out}/<experiment>/")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from pathlib import Path

    from seqlab.train.sweep import format_sweep, parse_grid, run_sweep, write_sweep

    grid = parse_grid(args.grid)
    out = Path(args.out)
    rows = run_sweep(args.config, grid, args.seeds, out, tuple(args.overrides), echo=not args.quiet)
    write_sweep(rows, out)
    print(format_sweep(rows))
    print(f"(F1 in %, mean ± std over {args.seeds} seed(s); also {out / 'sweep.json'} and {out / 'sweep.csv'})")
    return 0


def _export(args: argparse.Namespace) -> int:
    from seqlab.data.readers import iter_sentences
    from seqlab.errors import ModelError
    from seqlab.export import check, export, load_exported
    from seqlab.tagger.inference import Tagger

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


def _serve(args: argparse.Namespace) -> int:
    from seqlab.device import resolve_device
    from seqlab.errors import ModelError

    check_ranges(args, SERVE_RANGES)
    check_port(args.host, args.port)
    try:
        from seqlab.serve.app import serve
        from seqlab.serve.requests import Limits
    except ImportError as err:
        raise ModelError(f"seqlab serve needs starlette and uvicorn: pip install -e '.[serve]' ({err.name} is missing)") from None
    threads = _thread_count(args) or 1  # the decoding process's; the HTTP process needs a core too
    limits = Limits(args.max_request_bytes, args.max_sentences, args.max_tokens)
    device = str(resolve_device(args.device, "--device"))
    serve(args.model, args.host, args.port, limits, args.max_batch, args.max_wait_ms / 1000, device, threads, quiet=args.quiet, body_seconds=args.request_timeout)
    return 0


def _plot(args: argparse.Namespace) -> int:
    from pathlib import Path

    from seqlab.plots import training_curves
    from seqlab.tagger.bundle import read_history

    history = read_history(args.model)
    out = Path(args.out) if args.out else Path(args.model) / "curves.png"
    training_curves(out, str(args.model), history)
    print(f"wrote {out}")
    return 0


COMMANDS_ELSEWHERE = {"debug": "debug_data", "init": "init_config", "annotate": "annotate", "active": "annotate"}
"""Commands whose handler is ``command(args)`` in a module of their own under ``seqlab.cli``."""


def _elsewhere(module: str) -> Callable[[argparse.Namespace], int]:
    """The handler ``command(args)`` of ``module``, imported when the command runs."""
    return lambda args: importlib.import_module(module).command(args)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser()[0].parse_args(argv)
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s", stream=sys.stderr)
    handlers = {"train": _train, "evaluate": _evaluate, "predict": _predict, "inspect": _inspect, "experiment": _experiment, "sweep": _sweep, "plot": _plot, "export": _export, "serve": _serve}
    handlers |= {name: _elsewhere(f"seqlab.cli.{module}") for name, module in COMMANDS_ELSEWHERE.items()}
    try:
        return handlers[args.command](args)
    except SeqlabError as err:
        from seqlab.train.run import TrainingInterrupted

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
