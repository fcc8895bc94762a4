"""Typed, frozen configuration and the one place where YAML becomes objects: ``load_config``.

Every section is a frozen dataclass; each field has a docstring under it, and bounded numbers carry
their range in ``metadata``. ``load_config`` rejects unknown keys (naming the dotted path and the closest
valid key), wrong types and out-of-range values, and raises a single ``ConfigError`` listing them all
(the checking is ``seqlab.typecheck``; the cross-key rules are here).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from seqlab.device import device_problem
from seqlab.errors import ConfigError
from seqlab.typecheck import KeySpec, apply_overrides, bounded, build, describe, load_yaml, parse_override

__all__ = [
    "CharConfig", "Config", "DataConfig", "DecoderConfig", "EmbeddingConfig", "EncoderConfig", "KeySpec", "ModelConfig", "TrainConfig",
    "config_from_dict", "config_to_dict", "dump_config", "key_specs", "load_config", "parse_override", "replace_in", "with_impl",
]


@dataclass(frozen=True)
class DataConfig:
    train: str | None = None
    """Training file (CoNLL columns or JSONL). Paths are relative to the working directory."""
    dev: str | None = None
    """Development file: early stopping and model selection use its span F1. Optional."""
    test: str | None = None
    """Test file, evaluated once with the best model at the end of training. Optional."""
    format: Literal["conll", "jsonl", "conllu"] = "conll"
    """``conll``: one token per line, columns, blank line between sentences, ``-DOCSTART-`` skipped.
    ``jsonl``: one ``{"tokens": [...], "tags": [...]}`` object per line. ``conllu``: Universal Dependencies
    CoNLL-U (comments, multiword-token ranges and empty nodes handled as the format specifies)."""
    conllu_tag: Literal["upos", "xpos"] = "upos"
    """``format: conllu`` only: the field used as the tag."""
    token_column: int = 0
    """CoNLL column (0-based; negative counts from the end) holding the token."""
    tag_column: int = -1
    """CoNLL column (0-based; negative counts from the end) holding the tag."""
    tag_scheme: Literal["auto", "iob1", "bio", "bioes", "none"] = "auto"
    """Tag scheme of the files; ``auto`` detects it from the training tags (the saved config holds the result).
    Predictions and scores are given back in this scheme. Under a span scheme every tag must be ``O`` or
    ``PREFIX-TYPE`` (a bare ``FRUIT`` is an error naming its line); ``none`` reads every tag as a plain
    label (POS tags), and ``auto`` picks it when no tag has a ``B-/I-/E-/S-`` prefix."""
    separator: Literal["whitespace", "tab"] = "whitespace"
    """How CoNLL columns are separated: any run of spaces/tabs, or exactly one tab (tokens may hold spaces)."""
    min_count: int = bounded(1, lo=1)
    """Training words seen fewer times than this map to the unknown-word id."""
    lowercase: bool = False
    """Lowercase words before looking them up in the word vocabulary (characters keep their case)."""
    normalize_digits: bool = False
    """Replace every digit by 0 before the word lookup (``1995`` and ``2003`` share an embedding)."""


@dataclass(frozen=True)
class CharConfig:
    kind: Literal["none", "cnn", "lstm"] = "none"
    """Character-level word features: ``none``; ``cnn`` (per-word convolution, max-pooled over characters);
    ``lstm`` (per-word character BiLSTM, its two final states concatenated; Lample et al., 2016)."""
    dim: int = bounded(30, lo=1, hi=1024)
    """Character embedding size."""
    filters: int = bounded(50, lo=1, hi=4096)
    """``cnn``: number of filters, the size of the character feature of each word."""
    kernel: int = bounded(3, lo=1, hi=64)
    """``cnn``: window width in characters (odd widths keep the word centred)."""
    hidden: int = bounded(25, lo=1, hi=2048)
    """``lstm``: hidden size per direction; the character feature has ``2 × hidden`` numbers."""


@dataclass(frozen=True)
class EmbeddingConfig:
    dim: int = bounded(100, lo=1, hi=8192)
    """Word embedding size."""
    dropout: float = bounded(0.0, lo=0.0, hi=1.0, hi_open=True)
    """Dropout on the token representation (word + char features) before the encoder."""
    word_dropout: float = bounded(0.0, lo=0.0, hi=1.0, hi_open=True)
    """During training, replace each known word by the unknown-word id with this probability."""
    char: CharConfig = field(default_factory=CharConfig)
    """Character-level word features."""
    init: Literal["normal", "uniform"] = "normal"
    """Initial word, character and casing vectors: ``normal``, torch's N(0, 1) per entry; ``uniform``,
    U(−√(3/dim), √(3/dim)) per entry (Lample et al. 2016, NCRF++), so that each vector has an expected
    squared norm of 1 instead of ``dim``."""
    casing_dim: int = bounded(0, lo=0, hi=1024)
    """Size of a learned embedding of each token's casing class (lower, UPPER, Title, mIxed, numeric,
    has-digit, other), concatenated to the word embedding; pairs with ``data.lowercase``. 0 turns it off."""
    pretrained: str | None = None
    """GloVe/word2vec text file (``.gz`` allowed) whose vectors initialise the word embeddings of the
    training vocabulary (exact form first, then lowercased); its dimension must equal ``dim``."""
    freeze: bool = False
    """Keep the pretrained word vectors fixed during training (needs ``pretrained``)."""


@dataclass(frozen=True)
class EncoderConfig:
    cell: Literal["rnn", "lstm", "gru", "none"] = "lstm"
    """Recurrent cell; ``none`` is the context-free per-token classifier (embedding straight to the tagger)."""
    hidden: int = bounded(100, lo=1, hi=16384)
    """Hidden size per direction; the encoder output has ``hidden × directions`` features."""
    layers: int = bounded(1, lo=1, hi=16)
    """Number of stacked recurrent layers."""
    bidirectional: bool = True
    """Also read the sentence right to left, so each position sees its future context."""
    dropout: float = bounded(0.0, lo=0.0, hi=1.0, hi_open=True)
    """Dropout between stacked layers and on the encoder output."""
    impl: Literal["fused", "scratch"] = "fused"
    """``fused``: torch's ``nn.RNN/LSTM/GRU`` (fast default); ``scratch``: the cells written out from their
    equations in ``seqlab/cells.py`` (same parameters, so weights move between the two; gates can be recorded)."""
    nonlinearity: Literal["tanh", "relu", "hardtanh", "softsign"] = "tanh"
    """The activation ``act``: the ``f`` of ``S_t = f(U·x_t + W·S_{t-1} + b)`` for ``rnn``; the candidate ``C̃_t``
    and the ``act(C_t)`` of ``h_t`` for ``lstm``; the candidate ``n_t`` for ``gru``. Fused cells allow only
    ``tanh`` (and ``relu`` for ``rnn``); the others need ``impl: scratch``."""
    recurrent_init: Literal["default", "orthogonal", "identity"] = "default"
    """Initial recurrent weights ``W``: torch's uniform ``±1/√H``, or each gate's ``H×H`` block orthogonal or the
    identity matrix (Le et al., 2015, pair ``identity`` with ``nonlinearity: relu`` for the vanilla RNN)."""
    recurrent_gain: float = bounded(1.0, lo=0.0)
    """Multiplies the initial recurrent weights ``W`` (after ``recurrent_init``); above 1 the products
    ``∏ ∂S_j/∂S_{j-1}`` can grow with distance, the notes' exploding gradients."""
    forget_bias: float | None = None
    """LSTM only: initial forget-gate bias ``b_f`` (``1.0`` is Jozefowicz et al., 2015's advice), so ``C_t``
    starts by keeping its memory; ``null`` keeps torch's uniform initialisation."""


@dataclass(frozen=True)
class DecoderConfig:
    kind: Literal["softmax", "crf"] = "crf"
    """``softmax``: independent per-token decisions; ``crf``: linear-chain CRF with Viterbi decoding."""
    scheme: Literal["bio", "bioes"] = "bioes"
    """Tag scheme the model is trained and decodes in (the files' tags are converted to it and back)."""
    constrained: bool = True
    """Forbid the transitions the scheme cannot produce (``O → I-X``, ``B-X → I-Y``…) as ``-inf`` in training
    and decoding, so no invalid sequence is ever output (the softmax head decodes with constrained Viterbi)."""


@dataclass(frozen=True)
class ModelConfig:
    embedding: EmbeddingConfig = field(default_factory=EmbeddingConfig)
    """Token representation."""
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    """Context encoder."""
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    """Tagger head."""


@dataclass(frozen=True)
class TrainConfig:
    optimizer: Literal["sgd", "adam", "adamw"] = "sgd"
    """Optimizer."""
    lr: float = bounded(0.015, lo=0.0)
    """Initial learning rate."""
    momentum: float = bounded(0.0, lo=0.0, hi=1.0, hi_open=True)
    """SGD momentum (ignored by Adam/AdamW)."""
    weight_decay: float = bounded(0.0, lo=0.0)
    """L2 penalty (decoupled for AdamW)."""
    lr_decay: float = bounded(0.0, lo=0.0)
    """Learning rate in epoch ``e`` (0-based) is ``lr / (1 + lr_decay · e)``."""
    epochs: int = bounded(50, lo=1, hi=1_000_000)
    """Maximum number of passes over the training data."""
    batch_size: int = bounded(10, lo=1, hi=1_000_000)
    """Sentences per training batch."""
    loss_reduction: Literal["mean", "sum"] = "mean"
    """How a batch's sentence losses combine into the loss minimised: ``mean`` (the step size does not
    depend on the batch size) or ``sum`` (NCRF++'s default and Lample et al.'s per-sentence SGD: with
    ``sum``, lr 0.015 at batch 10 is ten times the step of ``mean``). ``metrics.jsonl`` always logs the
    mean per sentence."""
    eval_batch_size: int = bounded(32, lo=1, hi=1_000_000)
    """Sentences per batch when evaluating or predicting."""
    clip_grad_norm: float | None = bounded(5.0, lo=0.0)
    """Rescale gradients whose global L2 norm exceeds this; ``null`` turns clipping off."""
    patience: int | None = bounded(10, lo=1)
    """Stop after this many epochs without a better dev score; ``null`` trains all epochs."""
    stop_at: float | None = bounded(None, lo=0.0, hi=1.0)
    """Stop once the dev score reaches this value (``1.0``: a task that can be solved exactly, as the
    synthetic experiments); ``null``: train until ``epochs`` or ``patience`` ends it."""
    metric: Literal["f1", "accuracy"] = "f1"
    """Dev score that selects the kept epoch and drives early stopping: span F1 (entities) or token
    accuracy (POS tagging and other tag sets without spans)."""
    bucket_batches: int = bounded(50, lo=1, hi=1_000_000)
    """Length bucketing: shuffle, sort chunks of this many batches by length, cut into batches, shuffle batches."""
    threads: int | None = bounded(1, lo=1, hi=1024)
    """CPU threads for torch; ``null``: torch's default (one per core). One is the default because, measured
    on 2 cores (``scripts/bench_threads.py``, docs/benchmarks.md), it was as fast or faster on an idle
    machine for the apple BiLSTM and within 10% for the CoNLL-2003 one, and 3.5× faster than torch's
    default once another process kept a core busy. Different thread counts round differently: a run
    reproduces bit for bit with the same count."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``."""
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    """Training arithmetic: ``bf16``/``fp16`` run the network under ``torch.autocast`` (the CRF/softmax
    head stays fp32; ``fp16`` adds a gradient scaler). Meant for GPUs; evaluation is always fp32."""
    checkpoint_every: int | None = bounded(None, lo=1)
    """Also write the resumable checkpoint every this many batches (it is always written at each epoch's
    end); ``null``: only at epoch ends."""
    skip_nonfinite: bool = False
    """A batch whose loss or gradient norm is NaN or infinite is skipped and counted (``false``: training
    stops with an error naming the batch, keeping the last checkpoint and the best model)."""


@dataclass(frozen=True)
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    """Data files and how to read them."""
    model: ModelConfig = field(default_factory=ModelConfig)
    """Embedding → encoder → decoder."""
    train: TrainConfig = field(default_factory=TrainConfig)
    """Optimisation."""
    seed: int = 1
    """Seed of every random choice (initialisation, batching, dropout): a seeded CPU run reproduces exactly."""
    output_dir: str = "runs/model"
    """Model directory written by ``seqlab train`` (``--output`` overrides it). A config file that does not
    set it writes to ``runs/<the file's name without .yaml>``."""


# ---------------------------------------------------------------------------------------------- loading


def _check_device(device: str, problems: list[str]) -> None:
    problem = device_problem(device, "'train.device'")
    if problem:
        problems.append(problem)


def _check_embedding(embedding: EmbeddingConfig, problems: list[str]) -> None:
    if embedding.freeze and embedding.pretrained is None:
        problems.append("'model.embedding.freeze': freezing needs pretrained vectors; set model.embedding.pretrained")


def _check_encoder(encoder: EncoderConfig, problems: list[str]) -> None:
    """Cross-key rules the field types cannot express."""
    if encoder.forget_bias is not None and encoder.cell != "lstm":
        problems.append(f"'model.encoder.forget_bias': only the lstm cell has a forget gate, got cell '{encoder.cell}'")
    fused_ok = ("tanh", "relu") if encoder.cell == "rnn" else ("tanh",)
    if encoder.cell != "none" and encoder.impl == "fused" and encoder.nonlinearity not in fused_ok:
        problems.append(
            f"'model.encoder.nonlinearity': the fused {encoder.cell} supports only {' or '.join(fused_ok)}, "
            f"got '{encoder.nonlinearity}'; set model.encoder.impl=scratch"
        )


def config_from_dict(raw: Any, source: str | None = None) -> Config:
    """Build a ``Config`` from plain data, raising one ``ConfigError`` that lists every problem."""
    problems: list[str] = []
    config = build(Config, raw, "", problems)
    _check_device(config.train.device, problems)
    _check_encoder(config.model.encoder, problems)
    _check_embedding(config.model.embedding, problems)
    if config.train.stop_at is not None and not config.data.dev:
        problems.append("'train.stop_at': stopping at a dev score needs a dev file; set data.dev")
    if problems:
        raise ConfigError(problems, source)
    return config


def load_config(path: str | Path | None, overrides: list[str] | tuple[str, ...] = ()) -> Config:
    """Read a YAML file (or start from the defaults when ``path`` is None) and apply ``overrides``."""
    raw: Any = {}
    source = None
    if path is not None:
        source = str(path)
        try:
            text = Path(path).read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(["file not found"], source) from None
        except UnicodeDecodeError:
            raise ConfigError(["not UTF-8 text"], source) from None
        except OSError as err:
            raise ConfigError([f"cannot read ({err.strerror})"], source) from None
        try:
            raw = load_yaml(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError([f"invalid YAML{where}: {getattr(err, 'problem', None) or err}"], source) from None
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError([f"expected a mapping at the top level, got {type(raw).__name__}"], source)
        raw.setdefault("output_dir", f"runs/{Path(path).stem}")
    raw = apply_overrides(raw, list(overrides))
    try:
        return config_from_dict(raw, source)
    except ConfigError as err:
        raise ConfigError([_blame(problem, overrides) for problem in err.problems], source) from None


def _blame(problem: str, overrides: list[str] | tuple[str, ...]) -> str:
    """``problem`` prefixed with the ``--set`` override it is about, when it is about one."""
    for text in reversed(overrides):
        parts = text.partition("=")[0].strip().split(".")
        if any(f"'{'.'.join(parts[:n])}'" in problem for n in range(len(parts), 0, -1)):
            return f"--set {text}: {problem}"
    return problem


def config_to_dict(config: Config) -> dict[str, Any]:
    return dataclasses.asdict(config)


def dump_config(config: Config) -> str:
    """The resolved config as YAML (every key, defaults included); ``load_config`` reads it back equal."""
    return yaml.safe_dump(config_to_dict(config), sort_keys=False, allow_unicode=True)


def replace_in(config: Config, dotted: str, value: Any) -> Config:
    """A copy of ``config`` with one dotted key replaced (validated like an override)."""
    raw = apply_overrides(config_to_dict(config), [])
    node = raw
    parts = dotted.split(".")
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value
    return config_from_dict(raw)


def with_impl(config: Config, impl: str) -> Config:
    """``config`` with the recurrent encoder computed by ``impl`` (``fused`` or ``scratch``): the same
    parameters under the same names. A ``ConfigError`` names the key when the cell's settings have no
    equivalent in ``impl`` (e.g. a ``softsign`` LSTM is scratch only)."""
    if config.model.encoder.cell == "none" or config.model.encoder.impl == impl:
        return config
    return replace_in(config, "model.encoder.impl", impl)


def key_specs() -> Iterator[KeySpec]:
    """Every leaf key of ``Config`` with its default, type, docstring and range (for the reference docs)."""
    return describe(Config)
