"""Everything a training run needs before its first step, assembled in one place: ``prepare_run``.

``seqlab train`` (a fresh run), ``seqlab train --resume`` (from a checkpoint) and ``--dry-run`` (a
parameter count) all call it, so the three can never disagree about the data, the vocabularies, the
network or the optimiser they build.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from seqlab.config.model import MAX_TAGS
from seqlab.config.settings import Config, TrainConfig
from seqlab.data.batches import (
    EncodedSentence,
    Vocabularies,
    build_vocabularies,
    encode_all,
    word_key,
)
from seqlab.data.readers import Sentence, read_corpus
from seqlab.data.schemes import SCHEMES, check_tags, convert, detect_scheme, is_valid
from seqlab.errors import ConfigError, DataError, ModelError
from seqlab.nn.backbone import PREFIX as TRANSFORMER
from seqlab.nn.backbone import saved_backbone
from seqlab.nn.model import TaggerModel, build_model
from seqlab.nn.pretrained import Coverage, load_pretrained
from seqlab.tagger.bundle import Bundle, load_state
from seqlab.tagger.metrics import ambiguous_words
from seqlab.train.amp import scaler as make_scaler
from seqlab.train.averaging import WeightAverage
from seqlab.train.checkpoint import Checkpoint, file_fingerprint

log = logging.getLogger("seqlab.train")


@dataclass(frozen=True)
class Corpus:
    """A run's data: the training sentences in the model's scheme, their ids, and the labelled splits."""

    sentences: list[Sentence]
    encoded: list[EncodedSentence]
    fingerprint: str
    """sha256 of the training file (a checkpoint only resumes on the same file)."""
    dev: list[Sentence] | None
    test: list[Sentence] | None


@dataclass(frozen=True)
class Optimisation:
    """The network and what updates it."""

    model: TaggerModel
    optimizer: torch.optim.Optimizer
    schedule: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler | None
    """fp16's gradient scaler (``train.precision: fp16``), else None."""
    average: WeightAverage | None = None
    """The moving average of the weights that is scored and kept (``train.ema_decay``), else None."""


@dataclass(frozen=True)
class WarmStart:
    """A fresh run that starts from given vocabularies instead of the training file's (e.g. built over a
    whole pool of unlabelled text, so that words labelled later have rows) and, optionally, from an
    earlier model's weights of the same shapes instead of the seed's initialisation."""

    vocabs: Vocabularies
    weights: dict[str, torch.Tensor] | None = None


@dataclass(frozen=True)
class Prepared:
    config: Config
    """The run's config with ``data.tag_scheme`` resolved."""
    bundle: Bundle
    corpus: Corpus
    optimisation: Optimisation
    coverage: Coverage | None
    """Pretrained-vector coverage of a fresh run that loads ``model.embedding.pretrained``."""


def parameter_groups(model: TaggerModel, train: TrainConfig) -> list[dict]:
    """What the optimiser updates: every parameter outside a transformer embedding at ``train.lr``; a
    fine-tuned transformer's as a second group at ``train.transformer_lr`` with its warm-up (a fixed
    transformer's are not handed to the optimiser at all)."""
    named = list(model.named_parameters())
    groups = [{"params": [p for name, p in named if not name.startswith(TRANSFORMER)]}]
    transformer = model.embedding.transformer
    if transformer is not None and transformer.fine_tune:
        mine = [p for name, p in named if name.startswith(TRANSFORMER)]
        groups.append({"params": mine, "lr": train.transformer_lr, "warmup": train.transformer_warmup})
    return groups


def group_lrs(optimizer: torch.optim.Optimizer, train: TrainConfig) -> list[float]:
    """The configured initial learning rate of each of ``parameter_groups``' groups."""
    return [train.lr, train.transformer_lr][: len(optimizer.param_groups)]


def warm_up(optimizer: torch.optim.Optimizer, done: int, total: int) -> None:
    """During the first epoch, a group with ``warmup = w > 0`` steps at ``lr_0 · min(1, done / (w · total))``
    for its ``done``-th of ``total`` updates (a linear warm-up over the fraction ``w`` of the epoch)."""
    for group in optimizer.param_groups:
        fraction = group.get("warmup", 0.0)
        if fraction > 0:
            group["lr"] = group["initial_lr"] * min(1.0, done / (fraction * total))


def make_optimizer(params: Sequence[nn.Parameter] | list[dict], train: TrainConfig) -> torch.optim.Optimizer:
    if train.optimizer == "sgd":
        return torch.optim.SGD(params, lr=train.lr, momentum=train.momentum, weight_decay=train.weight_decay)
    if train.optimizer == "adam":
        return torch.optim.Adam(params, lr=train.lr, weight_decay=train.weight_decay)
    return torch.optim.AdamW(params, lr=train.lr, weight_decay=train.weight_decay)


def sparse_rows(model: TaggerModel, train: TrainConfig, distributed: bool) -> bool:
    """Give the word embedding a sparse gradient (only the rows the batch used) when the optimiser moves a
    row by its own gradient alone: plain SGD (no momentum, no weight decay), in one process. Rows no word
    of the batch used have a zero gradient and ``w − lr·0 = w``, so the step is the dense one restricted to
    the used rows (up to the order in which a repeated word's gradients are summed), and a step no longer
    reads and writes every row of the table (CoNLL-2003: 2.5M weights, docs/benchmarks.md). Returns
    whether it did."""
    words = model.embedding.words
    use = words is not None and words.weight.requires_grad and train.optimizer == "sgd" and train.momentum == 0 and train.weight_decay == 0 and not distributed
    if words is not None:
        words.sparse = use
    return use


def clip_gradients(parameters: Sequence[nn.Parameter], max_norm: float) -> float:
    """``torch.nn.utils.clip_grad_norm_`` (the global L2 norm of the gradients, scaled down to ``max_norm``
    when above it; returns the norm before clipping) for gradients that may be sparse (``sparse_rows``):
    a sparse one is coalesced first (a repeated row's entries summed), so its norm is that of the dense
    gradient. With only dense gradients it is torch's own function, bit for bit."""
    parameters = [p for p in parameters if p.grad is not None]
    if not any(p.grad.is_sparse for p in parameters):
        return float(nn.utils.clip_grad_norm_(parameters, max_norm))
    for p in parameters:
        if p.grad.is_sparse:
            p.grad = p.grad.coalesce()
    # foreach: one call for all the per-tensor norms (the same kernel per tensor as the loop torch uses on the CPU)
    total = nn.utils.get_total_norm([p.grad.values() if p.grad.is_sparse else p.grad for p in parameters], foreach=True)
    if total > max_norm:
        scale = max_norm / (float(total) + 1e-6)  # as torch's clip_grads_with_norm_
        for p in parameters:
            p.grad.mul_(scale)
    return float(total)


def make_schedule(optimizer: torch.optim.Optimizer, train: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    """``lr_e = lr / (1 + lr_decay · e)`` in epoch ``e`` (0-based); stepped once per epoch."""
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0 / (1.0 + train.lr_decay * epoch))


def apply_hyperparameters(optimizer: torch.optim.Optimizer, schedule: torch.optim.lr_scheduler.LambdaLR, train: TrainConfig) -> None:
    """Give a restored optimiser the config's ``lr`` (with its schedule: ``lr / (1 + lr_decay · e)``),
    ``weight_decay`` and SGD ``momentum``, so that a resumed run's ``--set train.lr=…`` takes effect.
    Values the checkpoint already holds are left untouched (bit for bit)."""
    schedule.base_lrs = group_lrs(optimizer, train)
    for group, decay, lr in zip(optimizer.param_groups, schedule.lr_lambdas, schedule.base_lrs):
        current = lr * decay(schedule.last_epoch)
        if group.get("initial_lr") != lr or group["lr"] != current:
            group["initial_lr"], group["lr"] = lr, current
        group["weight_decay"] = train.weight_decay
        if "momentum" in group:
            group["momentum"] = train.momentum


def to_model_scheme(config: Config, sentences: list[Sentence]) -> tuple[Config, list[Sentence]]:
    """Resolve ``data.tag_scheme: auto`` (and ``train.metric: auto`` from it) and convert the training tags
    to ``model.decoder.scheme``.

    Sequences that are invalid in the files' scheme are repaired the conlleval way and counted.
    """
    scheme = config.data.tag_scheme
    if scheme == "auto":
        scheme = detect_scheme(s.tags or () for s in sentences)
        log.info("tag scheme of %s: %s", config.data.train, scheme)
        if scheme == "none":
            log.warning("%s: no B-/I- prefixes: read as one label per token (no spans); set data.tag_scheme to silence this", config.data.train)
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, tag_scheme=scheme))
    check_tags(sentences, scheme, config.data.train)
    if config.train.metric == "auto":
        metric = "f1" if scheme in SCHEMES else "accuracy"
        config = dataclasses.replace(config, train=dataclasses.replace(config.train, metric=metric))
    if scheme not in SCHEMES:
        return config, sentences  # plain labels: nothing to convert
    repaired = sum(not is_valid(s.tags or (), scheme) for s in sentences)
    if repaired:
        log.warning("%d training sentence(s) are not valid %s; repaired the conlleval way", repaired, scheme.upper())
    target = config.model.decoder.scheme
    return config, [Sentence(s.tokens, tuple(convert(s.tags or (), target)), s.line) for s in sentences]


def check_groups(saved: object, fresh: list[dict], path: Path) -> None:
    """A checkpoint's optimiser groups against a freshly built optimiser's (the schema): the same keys, the
    same number of parameters, and each value of the fresh one's kind (a finite number, a flag, a tuple
    of finite numbers), so that no crafted value reaches ``load_state_dict`` or a step."""
    def number(v: object) -> bool:
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    def fits(value: object, like: object) -> bool:
        if isinstance(like, bool) or like is None:
            return value is None or isinstance(value, bool)
        if isinstance(like, (int, float)):
            return number(value)
        if isinstance(like, (tuple, list)):
            return isinstance(value, (tuple, list)) and len(value) == len(like) and all(fits(v, w) for v, w in zip(value, like))
        return type(value) is type(like)

    if not isinstance(saved, list) or len(saved) != len(fresh):
        raise ModelError(f"{path}: the optimiser state has {len(saved) if isinstance(saved, list) else 'no'} parameter groups, expected {len(fresh)}")
    for k, (group, like) in enumerate(zip(saved, fresh)):
        if not isinstance(group, dict) or set(group) - {"initial_lr"} != set(like) - {"initial_lr"}:
            raise ModelError(f"{path}: optimiser group {k} does not have the keys of train.optimizer's groups")
        for key, value in like.items():
            ok = (isinstance(group[key], list) and len(group[key]) == len(value) and all(isinstance(i, int) and not isinstance(i, bool) for i in group[key])
                  if key == "params" else fits(group[key], value))
            if not ok or ("initial_lr" in group and not number(group["initial_lr"])):
                raise ModelError(f"{path}: optimiser group {k}: '{key}' is {str(group[key])[:40]!r}, not what train.optimizer holds there")


def _check_tags_known(sentences: Sequence[Sentence], vocabs: Vocabularies, config: Config) -> None:
    """Every training tag must have an id (given vocabularies can lack one the data holds), and there are
    at most ``MAX_TAGS`` of them."""
    if len(vocabs.tags) > MAX_TAGS:
        raise DataError(config.data.train, None, f"{len(vocabs.tags):,} distinct tags; a seqlab model holds at most {MAX_TAGS:,} (is the tag column right?)")
    unknown = sorted({t for s in sentences for t in (s.tags or ()) if t not in vocabs.tags})
    if unknown:
        raise ConfigError([f"data.train: tags {', '.join(unknown[:5])} are not among the model's {len(vocabs.tags)} tags"])


def _load_pretrained(config: Config, model: TaggerModel, vocabs: Vocabularies, sentences: Sequence[Sentence]) -> Coverage | None:
    """Load ``model.embedding.pretrained`` into the word embeddings."""
    emb, data = config.model.embedding, config.data
    if emb.pretrained is None:
        return None
    counts = Counter(word_key(t, data.lowercase, data.normalize_digits) for s in sentences for t in s.tokens)
    coverage = load_pretrained(emb.pretrained, model.embedding.words.weight, vocabs.words, counts)
    log.info(
        "pretrained vectors %s: %.1f%% of %d training word types (%d by exact form), %.1f%% of training tokens",
        emb.pretrained, 100 * coverage.type_rate, coverage.types, coverage.exact, 100 * coverage.token_rate,
    )
    return coverage


def prepare_run(
    config: Config, saved: Bundle | None = None, checkpoint: Checkpoint | None = None, device: torch.device | None = None,
    warm: WarmStart | None = None,
) -> Prepared:
    """Read the data and build the bundle, the network and its optimiser for ``config``, on ``device``.

    A fresh run (no ``saved``) builds the vocabularies from the training file (or takes ``warm``'s) and
    initialises the network from ``config.seed`` (then loads pretrained vectors, or ``warm``'s weights);
    a resumed run takes the ``saved`` bundle's vocabularies and the ``checkpoint``'s weights and optimiser
    state, and refuses a training file other than the one the run started with.
    """
    if config.data.train is None:
        raise ConfigError(["'data.train': required for training (a CoNLL or JSONL file)"])
    train_sents = read_corpus(config.data.train, config.data)
    log.info("read %d training sentences from %s", len(train_sents), config.data.train)
    dev = None if config.data.dev is None else read_corpus(config.data.dev, config.data)
    test = None if config.data.test is None else read_corpus(config.data.test, config.data)
    config, model_sents = to_model_scheme(config, train_sents)
    for path, split in ((config.data.dev, dev), (config.data.test, test)):
        check_tags(split or (), config.data.tag_scheme, path)
    fingerprint = file_fingerprint(config.data.train)
    if checkpoint is not None and fingerprint != checkpoint.fingerprint:
        raise ModelError(f"{config.data.train}: not the training file this run started with (its sha256 differs); cannot resume {checkpoint.path.parent}")
    if saved is None:
        ambiguous = frozenset(ambiguous_words([s.tokens for s in train_sents], [s.tags or () for s in train_sents]))
        vocabs = warm.vocabs if warm is not None else build_vocabularies(model_sents, config.data)
        _check_tags_known(model_sents, vocabs, config)
        bundle = Bundle(config, vocabs, ambiguous)
    else:
        bundle = Bundle(config, saved.vocabs, saved.ambiguous)
    encoded = encode_all(model_sents, bundle.vocabs, config.data, config.data.train)
    corpus = Corpus(model_sents, encoded, fingerprint, dev, test)

    coverage = None
    if checkpoint is None:
        torch.manual_seed(config.seed)
        model = build_model(config.model, bundle.vocabs)
        coverage = _load_pretrained(config, model, bundle.vocabs, model_sents)
        if warm is not None and warm.weights is not None:
            load_state(model, warm.weights, Path("the warm start's weights"))
    else:
        model = build_model(config.model, bundle.vocabs, saved_backbone(config.model.embedding.transformer, checkpoint.path.parent, {name: tuple(t.shape) for name, t in checkpoint.model.items()}))
        load_state(model, checkpoint.model, checkpoint.path)
    if config.model.embedding.pretrained is not None and config.model.embedding.freeze:
        model.embedding.words.weight.requires_grad_(False)
    if model.embedding.transformer is not None and config.model.embedding.transformer.cache:
        model.embedding.transformer.keep_vectors()
    device = device or torch.device("cpu")
    model = model.to(device)
    optimizer = make_optimizer(parameter_groups(model, config.train), config.train)
    schedule = make_schedule(optimizer, config.train)
    scaler = make_scaler(device, config.train.precision)
    if checkpoint is not None:
        check_groups(checkpoint.optimizer.get("param_groups"), optimizer.state_dict()["param_groups"], checkpoint.path)
        try:
            optimizer.load_state_dict(checkpoint.optimizer)
            schedule.load_state_dict({**checkpoint.scheduler, "lr_lambdas": [None] * len(optimizer.param_groups)})
        except (ValueError, KeyError, RuntimeError) as err:
            raise ModelError(f"{checkpoint.path}: optimizer state does not fit train.optimizer={config.train.optimizer} ({err})") from None
        if scaler is not None and checkpoint.scaler is not None:
            scaler.load_state_dict(checkpoint.scaler)
        apply_hyperparameters(optimizer, schedule, config.train)
    average = None
    if config.train.ema_decay is not None:
        shadow, updates = (checkpoint.average, checkpoint.average_updates) if checkpoint is not None and checkpoint.average else (None, 0)
        try:
            average = WeightAverage(model, config.train.ema_decay, shadow, updates)
        except ValueError as err:
            raise ModelError(f"{checkpoint.path if checkpoint else 'the run'}: {err}") from None
    return Prepared(config, bundle, corpus, Optimisation(model, optimizer, schedule, scaler, average), coverage)
