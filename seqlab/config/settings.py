"""Typed, frozen configuration and the one place where YAML becomes objects: ``load_config``.

Every section is a frozen dataclass; each field has a docstring under it, and bounded numbers carry
their range in ``metadata``. ``load_config`` rejects unknown keys (naming the dotted path and the closest
valid key), wrong types and out-of-range values, and raises a single ``ConfigError`` listing them all
(the checking is ``seqlab.config.typecheck``; the model section and its cross-key rules are ``seqlab.config.model``,
the others' rules are here).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from seqlab.config.model import (
    CharConfig,
    DecoderConfig,
    EmbeddingConfig,
    EncoderConfig,
    ModelConfig,
    TransformerConfig,
    model_problems,
)
from seqlab.config.typecheck import (
    KeySpec,
    apply_overrides,
    bounded,
    build,
    describe,
    load_yaml,
    parse_override,
)
from seqlab.device import device_problem
from seqlab.errors import ConfigError
from seqlab.files import read_limited

__all__ = [
    "CharConfig", "Config", "DataConfig", "DecoderConfig", "EmbeddingConfig", "EncoderConfig", "KeySpec", "ModelConfig", "TrainConfig",
    "TransformerConfig",
    "LATER_KEYS", "config_from_dict", "config_to_dict", "dump_config", "fill_later_keys", "key_specs", "load_config", "missing_keys", "parse_override", "replace_in", "with_impl",
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
    normalize_digits: bool = True
    """Replace every digit by 0 before the word lookup (``1995`` and ``2003`` share an embedding)."""


@dataclass(frozen=True)
class TrainConfig:
    optimizer: Literal["sgd", "adam", "adamw"] = "adam"
    """Optimizer. The defaults of ``train`` and ``model`` are a recipe measured on corpora of different kinds
    (docs/recipes.md): Adam at lr 0.002 decayed by 0.05 per epoch, the mean loss over batches of 16,
    clipping at 5, dropout 0.5, word dropout 0.05, a character CNN, a moving average of the weights, patience 10. The NCRF++-style recipe
    (SGD at lr 0.015 on the summed loss) is ``configs/conll2003_bilstm_crf.yaml``."""
    lr: float = bounded(0.002, lo=0.0, hi=100.0)
    """Initial learning rate."""
    momentum: float = bounded(0.0, lo=0.0, hi=1.0, hi_open=True)
    """SGD momentum (ignored by Adam/AdamW)."""
    weight_decay: float = bounded(0.0, lo=0.0, hi=100.0)
    """L2 penalty (decoupled for AdamW)."""
    lr_decay: float = bounded(0.05, lo=0.0)
    """Learning rate in epoch ``e`` (0-based) is ``lr / (1 + lr_decay · e)``."""
    epochs: int = bounded(50, lo=1, hi=1_000_000)
    """Maximum number of passes over the training data."""
    batch_size: int = bounded(16, lo=1, hi=1_000_000)
    """Sentences per training batch."""
    loss_reduction: Literal["mean", "sum"] = "mean"
    """How a batch's sentence losses combine into the loss minimised: ``mean`` (the step size does not
    depend on the batch size) or ``sum`` (NCRF++'s default and Lample et al.'s per-sentence SGD: with
    ``sum``, lr 0.015 at batch 10 is ten times the step of ``mean``). ``metrics.jsonl`` always logs the
    mean per sentence."""
    eval_batch_size: int = bounded(32, lo=1, hi=1_000_000)
    """At most this many sentences per batch when evaluating or predicting; long sentences come in
    smaller batches (at most this many sentences of twice the mean length in padded positions,
    ``seqlab.data.batches.sorted_order``)."""
    clip_grad_norm: float | None = bounded(5.0, lo=0.0)
    """Rescale gradients whose global L2 norm exceeds this; ``null`` turns clipping off."""
    ema_decay: float | None = bounded(0.999, lo=0.0, hi=1.0, hi_open=True)
    """Score, keep and test an exponential moving average of the weights, θ̄ ← d·θ̄ + (1 − d)·θ after every
    update with d = min(ema_decay, (1 + t)/(10 + t)) (``seqlab.train.averaging``); ``null``: the weights
    themselves. The average keeps the dev score from jumping with the last batches, which on a small,
    noisy dev set decides which epoch is kept (docs/recipes.md)."""
    patience: int | None = bounded(10, lo=1)
    """Stop after this many epochs without a better dev score, counted once the dev score is above 0 (on a
    small corpus a model can tag everything ``O``, span F1 0, for several epochs before it finds its first
    entity); ``null`` trains all epochs. The default leaves room for the moving average of the weights,
    which lags them by about 1/(1 − ema_decay) updates (four epochs of a 4,000-sentence corpus at batch
    16): with 5, a slow learner (the apple BiRNN) was stopped on a plateau it left later (docs/recipes.md)."""
    stop_at: float | None = bounded(None, lo=0.0, hi=1.0)
    """Stop once the dev score reaches this value (``1.0``: a task that can be solved exactly, as the
    synthetic experiments); ``null``: train until ``epochs`` or ``patience`` ends it."""
    metric: Literal["auto", "f1", "accuracy"] = "auto"
    """Dev score that selects the kept epoch and drives early stopping: span F1 (entities) or token
    accuracy (POS tagging and other tag sets without spans); ``auto`` takes span F1 when the tag scheme
    has spans and accuracy otherwise (the saved config holds the result)."""
    bucket_batches: int = bounded(50, lo=1, hi=1_000_000)
    """Length bucketing: shuffle, sort chunks of this many batches by length, cut into batches, shuffle batches."""
    threads: int | None = bounded(1, lo=1, hi=1024)
    """CPU threads for torch; ``null``: torch's default (one per core). One is the default because, measured
    on 2 cores (``scripts/bench/bench_threads.py``, docs/benchmarks.md), it was as fast or faster on an idle
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
    transformer_lr: float = bounded(5e-5, lo=0.0, hi=100.0)
    """Learning rate of a fine-tuned transformer (``model.embedding.transformer.fine_tune``), decayed like ``lr``."""
    transformer_warmup: float = bounded(0.1, lo=0.0, hi=1.0)
    """The fine-tuned transformer's learning rate rises linearly from 0 to ``transformer_lr`` over this
    fraction of the first epoch's updates (0: no warm-up)."""
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


def config_from_dict(raw: Any, source: str | None = None) -> Config:
    """Build a ``Config`` from plain data, raising one ``ConfigError`` that lists every problem."""
    problems: list[str] = []
    config = build(Config, raw, "", problems)
    _check_device(config.train.device, problems)
    problems += model_problems(config.model)
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
            text = read_limited(path, 1 << 20, error=lambda message: ConfigError([message])).decode("utf-8")
        except FileNotFoundError:
            raise ConfigError(["file not found"], source) from None
        except UnicodeDecodeError:
            raise ConfigError(["not UTF-8 text"], source) from None
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
    """Plain data (tuples as lists, as YAML writes them)."""
    return dataclasses.asdict(config, dict_factory=lambda items: {k: list(v) if isinstance(v, tuple) else v for k, v in items})


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


LATER_KEYS: dict[str, Any] = {"train.ema_decay": None}
"""Keys added after models were first saved, with the value that reproduces what a model saved without
them did: a saved config may lack these (and only these)."""


def missing_keys(raw: Any) -> list[str]:
    """The leaf keys of ``Config`` that the mapping ``raw`` does not hold (a saved config holds them all but
    ``LATER_KEYS``)."""
    missing = []
    for spec in key_specs():
        if spec.key in LATER_KEYS:
            continue
        node = raw
        for part in spec.key.split("."):
            node = node.get(part, missing) if isinstance(node, dict) else missing
        if node is missing:
            missing.append(spec.key)
    return missing


def fill_later_keys(raw: dict) -> dict:
    """``raw`` (a saved config's mapping) with each absent ``LATER_KEYS`` key set to its old behaviour."""
    for key, value in LATER_KEYS.items():
        *parents, leaf = key.split(".")
        node = raw
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf not in node:
            node[leaf] = value
    return raw


def key_specs() -> Iterator[KeySpec]:
    """Every leaf key of ``Config`` with its default, type, docstring and range (for the reference docs)."""
    return describe(Config)
