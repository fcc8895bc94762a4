"""Typed, frozen configuration and the one place where YAML becomes objects: ``load_config``.

Every section is a frozen dataclass; each field has a docstring under it, and bounded numbers carry
their range in ``metadata``. ``load_config`` rejects unknown keys (naming the dotted path and the closest
valid key), wrong types and out-of-range values, and raises a single ``ConfigError`` listing them all.
"""
from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from seqlab.errors import ConfigError


def _bounded(default: Any, lo: float | None = None, hi: float | None = None, hi_open: bool = False) -> Any:
    """A dataclass field whose value (when not None) must lie in ``[lo, hi]`` (or ``[lo, hi)``)."""
    return field(default=default, metadata={"lo": lo, "hi": hi, "hi_open": hi_open})


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
    tag_scheme: Literal["auto", "iob1", "bio", "bioes"] = "auto"
    """Tag scheme of the files; ``auto`` detects it from the training tags (the saved config holds the result).
    Predictions and scores are given back in this scheme."""
    separator: Literal["whitespace", "tab"] = "whitespace"
    """How CoNLL columns are separated: any run of spaces/tabs, or exactly one tab (tokens may hold spaces)."""
    min_count: int = _bounded(1, lo=1)
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
    dim: int = _bounded(30, lo=1)
    """Character embedding size."""
    filters: int = _bounded(50, lo=1)
    """``cnn``: number of filters, the size of the character feature of each word."""
    kernel: int = _bounded(3, lo=1)
    """``cnn``: window width in characters (odd widths keep the word centred)."""
    hidden: int = _bounded(25, lo=1)
    """``lstm``: hidden size per direction; the character feature has ``2 × hidden`` numbers."""


@dataclass(frozen=True)
class EmbeddingConfig:
    dim: int = _bounded(100, lo=1)
    """Word embedding size."""
    dropout: float = _bounded(0.0, lo=0.0, hi=1.0, hi_open=True)
    """Dropout on the token representation (word + char features) before the encoder."""
    word_dropout: float = _bounded(0.0, lo=0.0, hi=1.0, hi_open=True)
    """During training, replace each known word by the unknown-word id with this probability."""
    char: CharConfig = field(default_factory=CharConfig)
    """Character-level word features."""
    init: Literal["normal", "uniform"] = "normal"
    """Initial word, character and casing vectors: ``normal``, torch's N(0, 1) per entry; ``uniform``,
    U(−√(3/dim), √(3/dim)) per entry (Lample et al. 2016, NCRF++), so that each vector has an expected
    squared norm of 1 instead of ``dim``."""
    casing_dim: int = _bounded(0, lo=0)
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
    hidden: int = _bounded(100, lo=1)
    """Hidden size per direction; the encoder output has ``hidden × directions`` features."""
    layers: int = _bounded(1, lo=1)
    """Number of stacked recurrent layers."""
    bidirectional: bool = True
    """Also read the sentence right to left, so each position sees its future context."""
    dropout: float = _bounded(0.0, lo=0.0, hi=1.0, hi_open=True)
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
    recurrent_gain: float = _bounded(1.0, lo=0.0)
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
    lr: float = _bounded(0.015, lo=0.0)
    """Initial learning rate."""
    momentum: float = _bounded(0.0, lo=0.0, hi=1.0, hi_open=True)
    """SGD momentum (ignored by Adam/AdamW)."""
    weight_decay: float = _bounded(0.0, lo=0.0)
    """L2 penalty (decoupled for AdamW)."""
    lr_decay: float = _bounded(0.0, lo=0.0)
    """Learning rate in epoch ``e`` (0-based) is ``lr / (1 + lr_decay · e)``."""
    epochs: int = _bounded(50, lo=1)
    """Maximum number of passes over the training data."""
    batch_size: int = _bounded(10, lo=1)
    """Sentences per training batch."""
    loss_reduction: Literal["mean", "sum"] = "mean"
    """How a batch's sentence losses combine into the loss minimised: ``mean`` (the step size does not
    depend on the batch size) or ``sum`` (NCRF++'s default and Lample et al.'s per-sentence SGD: with
    ``sum``, lr 0.015 at batch 10 is ten times the step of ``mean``). ``metrics.jsonl`` always logs the
    mean per sentence."""
    eval_batch_size: int = _bounded(32, lo=1)
    """Sentences per batch when evaluating or predicting."""
    clip_grad_norm: float | None = _bounded(5.0, lo=0.0)
    """Rescale gradients whose global L2 norm exceeds this; ``null`` turns clipping off."""
    patience: int | None = _bounded(10, lo=1)
    """Stop after this many epochs without a better dev score; ``null`` trains all epochs."""
    stop_at: float | None = _bounded(None, lo=0.0, hi=1.0)
    """Stop once the dev score reaches this value (``1.0``: a task that can be solved exactly, as the
    synthetic experiments); ``null``: train until ``epochs`` or ``patience`` ends it."""
    metric: Literal["f1", "accuracy"] = "f1"
    """Dev score that selects the kept epoch and drives early stopping: span F1 (entities) or token
    accuracy (POS tagging and other tag sets without spans)."""
    bucket_batches: int = _bounded(50, lo=1)
    """Length bucketing: shuffle, sort chunks of this many batches by length, cut into batches, shuffle batches."""
    threads: int | None = _bounded(None, lo=1)
    """CPU threads for torch (``null``: torch's default)."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu``, ``cuda`` or ``cuda:N``."""
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    """Training arithmetic: ``bf16``/``fp16`` run the network under ``torch.autocast`` (the CRF/softmax
    head stays fp32; ``fp16`` adds a gradient scaler). Meant for GPUs; evaluation is always fp32."""
    checkpoint_every: int | None = _bounded(None, lo=1)
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
    """Model directory written by ``seqlab train`` (``--output`` overrides it)."""


# ---------------------------------------------------------------------------------------------- loading


def _type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


def _check_scalar(tp: Any, value: Any) -> bool:
    """Whether ``value`` (from YAML) is acceptable for the annotation ``tp``."""
    origin = typing.get_origin(tp)
    if origin is Literal:
        return value in typing.get_args(tp) and not isinstance(value, bool)
    if origin in (typing.Union, types.UnionType):
        return any(_check_scalar(a, value) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    raise AssertionError(f"unsupported config annotation {tp!r}")


def _build(cls: type, raw: Any, prefix: str, problems: list[str]) -> Any:
    """Turn a mapping into ``cls``, appending every problem found (with its dotted key) to ``problems``."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        where = prefix.rstrip(".") or "config"
        problems.append(f"'{where}': expected a mapping, got {type(raw).__name__} {raw!r}")
        return cls()
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.5)
            hint = f"; did you mean '{prefix}{close[0]}'?" if close else f"; valid keys: {', '.join(fields)}"
            problems.append(f"unknown key '{dotted}'{hint}")
            continue
        tp = hints[key]
        if dataclasses.is_dataclass(tp):
            values[key] = _build(tp, value, f"{dotted}.", problems)
            continue
        if isinstance(tp, type) and tp is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not _check_scalar(tp, value):
            problems.append(f"'{dotted}': expected {_type_name(tp)}, got {value!r}")
            continue
        meta = fields[key].metadata
        if value is not None and meta:
            lo, hi, hi_open = meta.get("lo"), meta.get("hi"), meta.get("hi_open", False)
            if (lo is not None and value < lo) or (hi is not None and (value >= hi if hi_open else value > hi)):
                upper = "∞" if hi is None else f"{hi}{')' if hi_open else ']'}"
                problems.append(f"'{dotted}': {value!r} is out of range [{lo}, {upper}")
                continue
        values[key] = value
    return cls(**values)


def _check_device(device: str, problems: list[str]) -> None:
    if device in ("auto", "cpu", "cuda"):
        return
    if device.startswith("cuda:") and device[5:].isdigit():
        return
    problems.append(f"'train.device': expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}")


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


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split ``a.b.c=value`` into its key path and YAML-parsed value (``true``, ``0.1``, ``null``, ``[1, 2]``)."""
    if "=" not in text:
        raise ConfigError([f"override '{text}': expected KEY=VALUE, e.g. model.encoder.cell=gru"])
    key, _, value_text = text.partition("=")
    path = [part for part in key.strip().split(".")]
    if not all(path):
        raise ConfigError([f"override '{text}': empty key component"])
    try:
        value = yaml.safe_load(value_text) if value_text.strip() else ""
    except yaml.YAMLError as err:
        raise ConfigError([f"override '{text}': value is not valid YAML ({err.__class__.__name__})"]) from None
    return path, value


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Return a copy of ``raw`` with each ``a.b=value`` override set (intermediate mappings are created)."""
    result = _deep_copy(raw)
    for text in overrides:
        path, value = parse_override(text)
        node = result
        for depth, part in enumerate(path[:-1]):
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                where = ".".join(path[: depth + 1])
                raise ConfigError([f"override '{text}': '{where}' is a value, not a section"])
            node = child
        node[path[-1]] = value
    return result


def _deep_copy(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: _deep_copy(v) for k, v in raw.items()}
    return raw


def config_from_dict(raw: Any, source: str | None = None) -> Config:
    """Build a ``Config`` from plain data, raising one ``ConfigError`` that lists every problem."""
    problems: list[str] = []
    config = _build(Config, raw, "", problems)
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
            raw = yaml.safe_load(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ConfigError([f"invalid YAML{where}: {getattr(err, 'problem', err)}"], source) from None
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError([f"expected a mapping at the top level, got {type(raw).__name__}"], source)
    raw = apply_overrides(raw, list(overrides))
    return config_from_dict(raw, source)


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


def iter_keys(cls: type = Config, prefix: str = "") -> typing.Iterator[tuple[str, Any, str]]:
    """Every leaf key as ``(dotted name, default, type name)``, in declaration order (for docs and tests)."""
    hints = typing.get_type_hints(cls)
    instance = cls()
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        if dataclasses.is_dataclass(tp):
            yield from iter_keys(tp, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", getattr(instance, f.name), _type_name(tp)
