"""``seqlab init config``: a commented config for a corpus, every choice sized from the data.

The training file is read as training reads it; its format and tag scheme are detected, and the
task (spans to find, ``ner``; one label per token, ``pos``) follows from the tags unless given. The
recipe is the BiLSTM-CNN with a CRF for spans or a softmax for labels, trained with Adam at lr 0.002
with gradients clipped at 5; what depends on the corpus:

    hidden (per direction) = 64 below 30k training tokens, 100 below 300k, 200 above
    epochs = clamp(2,000,000 / tokens, 20, 100), stopped early when the dev score stalls for ``patience`` epochs

``speed`` halves the hidden size and the word vectors and shrinks the character CNN; ``accuracy`` waits
20 epochs without a better dev score instead of 10 (the built-in default) before stopping.

The result loads with ``seqlab.config.settings.load_config`` (the tests check that it trains as written).
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from seqlab.config.settings import DataConfig
from seqlab.data.readers import read_corpus, read_lines, sniff_format
from seqlab.data.schemes import SCHEMES, detect_scheme
from seqlab.errors import ConfigError, DataError

Task = Literal["ner", "pos"]
Goal = Literal["balanced", "speed", "accuracy"]


@dataclass(frozen=True)
class Corpus:
    """What the recommendation depends on."""

    format: str
    sentences: int
    tokens: int
    tags: int
    scheme: str
    columns: int
    """Columns of the first token line (CoNLL), 0 for other formats."""


def survey(train: str) -> Corpus:
    """Read the training file and measure it."""
    sniffed = sniff_format(train)
    fmt = sniffed[0] if sniffed is not None and sniffed[0] != "text" else "conll"
    sentences = read_corpus(train, DataConfig(format=fmt))
    tags = {t for s in sentences for t in s.tags or ()}
    columns = 0
    if fmt == "conll":  # the first token line, read lazily (the reader checked every line has as many)
        first = next(text for _, text in read_lines(train) if text.strip() and not text.startswith("-DOCSTART-"))
        columns = len(first.split())
    return Corpus(fmt, len(sentences), sum(len(s.tokens) for s in sentences), len(tags), detect_scheme(s.tags or () for s in sentences), columns)


def hidden_size(tokens: int, goal: Goal) -> int:
    size = 64 if tokens < 30_000 else 100 if tokens < 300_000 else 200
    return size // 2 if goal == "speed" else size


def epochs_for(tokens: int) -> int:
    return max(20, min(100, round(2_000_000 / max(tokens, 1))))


def recommend(train: str, dev: str | None = None, test: str | None = None, task: Task | None = None, goal: Goal = "balanced", out: str = "config.yaml") -> str:
    """The config's YAML text, commented."""
    corpus = survey(train)
    spans_found = corpus.scheme in SCHEMES
    task = task or ("ner" if spans_found else "pos")
    if task == "ner" and not spans_found:
        raise DataError(train, None, "--task ner: no tag has a B-/I-/E-/S- prefix, so there are no spans to find; use --task pos")
    hidden = hidden_size(corpus.tokens, goal)
    epochs = epochs_for(corpus.tokens)
    scheme = corpus.scheme if task == "ner" else "none"
    char = "{kind: cnn, dim: 30, filters: 50, kernel: 3}" if goal != "speed" else "{kind: cnn, dim: 20, filters: 30, kernel: 3}"
    lines = [
        f"# Run: seqlab train --config {out}",
        f"# Written by seqlab init config for {train}: {corpus.format}, {corpus.sentences:,} sentences, {corpus.tokens:,} tokens,",
        f"# {corpus.tags} tags ({'spans in ' + corpus.scheme.upper() if spans_found else 'plain labels'}). Check the data first: seqlab debug data --config {out}",
        "seed: 1",
        f"output_dir: runs/{Path(out).stem}",
        "data:",
        f"  train: {train}",
        f"  dev: {dev}" if dev else "  dev: null              # no dev file: every epoch is trained and the last is kept; give one to select the best epoch",
        f"  test: {test}" if test else "  test: null",
        f"  format: {corpus.format}",
    ]
    if corpus.format == "conll":
        lines += ["  token_column: 0", f"  tag_column: -1          # the last of the {corpus.columns} columns"]
    lines += [
        f"  tag_scheme: {scheme}" + ("          # detected from the training tags" if task == "ner" else "          # every tag a plain label (no spans)"),
        "  normalize_digits: true  # 1996 and 2024 share one vector",
        "model:",
        "  embedding:",
        f"    dim: {100 if goal != 'speed' else 50}",
        "    init: uniform         # U(±sqrt(3/dim)), as Lample et al. 2016 and NCRF++",
        "    dropout: 0.5",
        "    word_dropout: 0.05    # some known words read as unknown in training: the model learns to use context for unseen ones",
        f"    char: {char}   # spelling: unseen words, suffixes, capitals",
        "  encoder:",
        "    cell: lstm",
        f"    hidden: {hidden}             # per direction; sized from the {corpus.tokens:,} training tokens",
        "    bidirectional: true",
        "    dropout: 0.5",
        "  decoder:",
    ]
    if task == "ner":
        lines += ["    kind: crf             # scores whole tag sequences: spans stay well-formed", "    scheme: bioes"]
    else:
        lines += ["    kind: softmax         # labels without spans: a CRF also works, slower"]
    lines += [
        "train:",
        "  optimizer: adam",
        "  lr: 0.002",
        "  lr_decay: 0.05          # lr / (1 + 0.05 · epoch)",
        "  batch_size: 16",
        "  clip_grad_norm: 5.0     # a rare huge gradient cannot throw the weights off",
        "  ema_decay: 0.999        # score and keep a moving average of the weights: steadier on small, noisy data",
        f"  epochs: {epochs}              # more passes for smaller corpora (2M / training tokens, within 20..100)",
        f"  patience: {'null' if not dev else 20 if goal == 'accuracy' else 10}" + ("" if not dev else "             # stop after this many epochs without a better dev score"),
        f"  metric: {'f1' if task == 'ner' else 'accuracy'}" + ("              # span F1 selects the kept epoch" if task == "ner" else "        # token accuracy selects the kept epoch"),
    ]
    return "\n".join(lines) + "\n"


def command(args: argparse.Namespace) -> int:
    """``seqlab init config``: print the config, or write it to ``--out``."""
    goal = "speed" if args.speed else "accuracy" if args.accuracy else "balanced"
    out = Path(args.out) if args.out else None
    if out is not None and out.exists() and not args.force:
        raise ConfigError([f"--out: {out} exists; choose another file or add --force"])
    text = recommend(args.train, args.dev, args.test, args.task, goal, str(out) if out else "config.yaml")
    if out is None:
        print(text, end="")
        return 0
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as err:
        raise ConfigError([f"--out: cannot write {out} ({err.strerror or err})"]) from None
    print(f"wrote {out}; run it with: seqlab train --config {out}")
    return 0
