"""``seqlab annotate`` (the page, ``export``, ``stats``) and ``seqlab active simulate``."""
from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import secrets
from pathlib import Path

from seqlab.cli.options import ANNOTATE_RANGES, check_port, check_ranges
from seqlab.config.settings import Config, load_config
from seqlab.errors import ConfigError, ModelError

ANNOTATE_DEFAULTS = ["train.epochs=10", "train.patience=5"]
"""What the retrained models change from the built-in defaults: each retraining starts warm, so ten
epochs (stopping after five without a better score on ``--dev``) bound its time."""


def command(args: argparse.Namespace) -> int:
    if args.command == "active":
        return _simulate(args)
    if args.what == "export":
        return _export(args)
    if args.what == "stats":
        return _stats(args)
    return _serve(args)


def share(text: str, name: str) -> float:
    """``1%`` → 0.01; ``0.01`` → 0.01."""
    try:
        value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ConfigError([f"--{name}: expected a share such as 2% or 0.02, got '{text[:40]}'"]) from None
    return value


def _simulate(args: argparse.Namespace) -> int:
    from seqlab.annotate.simulate import Plan, final_summary, simulate, summary

    config = load_config(args.config, [*args.overrides, *(f"data.{k}={v}" for k, v in (("dev", args.dev), ("test", args.test)) if v)])
    plan = Plan(tuple(s.strip() for s in args.strategy.split(",") if s.strip()), share(args.start, "start"), share(args.step, "step"),
                share(args.until, "until"), tuple(args.seed or range(1, args.seeds + 1)), args.full, args.round_epochs, args.final)
    result = simulate(config, args.pool, plan, Path(args.out), say=print)
    print(f"test {result['metric']} (mean ± std over seed(s) {', '.join(map(str, plan.seeds))}) against the share of the pool's {result['tokens']:,} tokens labelled:")
    for strategy, rows in summary(result).items():
        print(f"  {strategy:17}" + "  ".join(f"{100 * x:4.1f}%: {100 * m:.2f}±{100 * s:.2f}" for x, m, s in rows))
    for strategy, (x, m, s) in final_summary(result).items():
        print(f"  {strategy:17}final model, from scratch on the {100 * x:.1f}% labelled: {100 * m:.2f}±{100 * s:.2f}")
    if result["full"]:
        values = [v for v in result["full"].values() if v is not None]
        print(f"  full pool: {100 * sum(values) / max(1, len(values)):.2f}")
    print(f"wrote {Path(args.out) / 'curve.json'} and curve.png")
    return 0


def _export(args: argparse.Namespace) -> int:
    from seqlab.annotate.export import export

    store = _existing(args.db)
    count = export(store, args.format, Path(args.out))
    print(f"wrote {count} sentences to {args.out}; train on it with: seqlab train --config C.yaml --set data.train={args.out}"
          + (" --set data.format=jsonl" if args.format == "jsonl" else ""))
    return 0


def _stats(args: argparse.Namespace) -> int:
    from seqlab.annotate.export import render, stats

    print(render(stats(_existing(args.db))))
    return 0


def _existing(db: str):
    from seqlab.annotate.store import Store

    if not Path(db).is_file():
        raise ConfigError([f"--db: {db} does not exist"])
    store = Store(db)
    store.meta()  # a file that is not a store is a one-line error here
    return store


def loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _config(args: argparse.Namespace) -> Config:
    config = load_config(args.config, [*ANNOTATE_DEFAULTS, *args.overrides] if args.config is None else list(args.overrides))
    return dataclasses.replace(config, data=dataclasses.replace(config.data, dev=args.dev, test=None))


def _serve(args: argparse.Namespace) -> int:
    from seqlab.annotate.pool import read_pool
    from seqlab.annotate.store import Store
    from seqlab.annotate.strategies import DEFAULT
    from seqlab.data.tokenizer import tokenize
    from seqlab.tagger.bundle import load_bundle
    from seqlab.train.checkpoint import file_fingerprint

    if not args.source or not args.db:
        raise ConfigError(["--source and --db: required to annotate (seqlab annotate export/stats read an existing --db)"])
    check_ranges(args, ANNOTATE_RANGES)
    if args.model is not None:
        tags = load_bundle(args.model).vocabs.tags.items
        labels = sorted({t.split("-", 1)[1] for t in tags if "-" in t})
        if args.labels and sorted(args.labels.split(",")) != labels:
            raise ConfigError([f"--labels: the model tags {','.join(labels)}; leave --labels out or give those"])
    elif args.labels:
        labels = [label.strip() for label in args.labels.split(",") if label.strip()]
    else:
        raise ConfigError(["--labels or --model: required (the entity types to annotate)"])
    if len(set(labels)) != len(labels) or not all(label.replace("-", "_").isidentifier() for label in labels) or not 1 <= len(labels) <= 9:
        raise ConfigError([f"--labels: expected 1 to 9 distinct names of letters, digits, '_' or '-', got {args.labels}"])
    config = _config(args)
    pool = read_pool(args.source, config.data)
    store = Store(args.db)
    store.create(pool, labels, str(args.source), file_fingerprint(args.source))
    first = _seed_order(args.seed_file, pool, tokenize) if args.seed_file else []
    token = args.token
    if token is None and not loopback(args.host):
        token = secrets.token_urlsafe(24)
        print(f"not on loopback: every request needs the token; open http://{args.host}:{args.port}/?token={token}")
    check_port(args.host, args.port)
    try:
        from seqlab.annotate.server import run
    except ImportError as err:
        raise ModelError(f"seqlab annotate needs starlette and uvicorn: pip install -e '.[serve]' ({err.name} is missing)") from None
    run(store, labels, config, args.strategy or DEFAULT, args.retrain_every, args.per_sentence, first, args.model, args.host, args.port, token, quiet=args.quiet)
    return 0


def _seed_order(path: str, pool: list, tokenize) -> list[int]:
    """Pool sentences in the order of the seed file's lines (a line matches a sentence with its tokens)."""
    from seqlab.data.readers import read_lines

    by_tokens: dict[tuple[str, ...], int] = {}
    for sentence in pool:
        by_tokens.setdefault(sentence.tokens, sentence.id)
    order = []
    for _, line in read_lines(path):
        found = by_tokens.get(tuple(tokenize(line)))
        if found is not None and found not in order:
            order.append(found)
    return order
