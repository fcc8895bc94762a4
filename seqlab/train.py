"""Training: seeded, length-bucketed mini-batches, clipping, lr decay, early stopping on dev span F1 (or accuracy).

The model directory is written as training goes: config, vocabularies and lexicon first, the weights
each time the dev score (``train.metric``) improves (every epoch when there is no dev file), one JSON line per epoch in
``metrics.jsonl``, and ``metrics.json`` with the best epoch's dev and test scores at the end.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import random
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from seqlab import bundle as files
from seqlab.bundle import Bundle, load_weights, save_bundle, save_weights, write_json
from seqlab.config import Config, TrainConfig
from seqlab.data import EncodedSentence, Sentence, Vocabularies, build_vocabularies, bucketed_order, encode, make_batches, read_corpus, word_key
from seqlab.errors import ConfigError, ModelError, SeqlabError
from seqlab.metrics import Report, ambiguous_words, report
from seqlab.model import TaggerModel, build_model, count_parameters
from seqlab.pretrained import Coverage, load_pretrained
from seqlab.schemes import convert, detect_scheme, is_valid
from seqlab.tagger import Tagger, decode_encoded

log = logging.getLogger(__name__)


class TrainingError(SeqlabError):
    """Training cannot go on (e.g. the loss became NaN); the best model saved so far is kept."""


@dataclass(frozen=True)
class TrainResult:
    output_dir: Path
    best_epoch: int
    """1-based epoch whose weights were kept."""
    epochs_run: int
    dev: Report | None
    test: Report | None
    parameters: int
    seconds: float


@contextlib.contextmanager
def quiet_training() -> Iterator[None]:
    """Silence training's per-epoch INFO lines (for callers that train many models and report themselves)."""
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)


def resolve_device(name: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; explicit CUDA names must exist."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError([f"'train.device': {name!r} requested but CUDA is not available"])
    return torch.device(name)


def make_optimizer(params: Sequence[nn.Parameter], train: TrainConfig) -> torch.optim.Optimizer:
    if train.optimizer == "sgd":
        return torch.optim.SGD(params, lr=train.lr, momentum=train.momentum, weight_decay=train.weight_decay)
    if train.optimizer == "adam":
        return torch.optim.Adam(params, lr=train.lr, weight_decay=train.weight_decay)
    return torch.optim.AdamW(params, lr=train.lr, weight_decay=train.weight_decay)


def _read_split(path: str | None, config: Config) -> list[Sentence] | None:
    return None if path is None else read_corpus(path, config.data)


def _to_model_scheme(config: Config, sentences: list[Sentence]) -> tuple[Config, list[Sentence]]:
    """Resolve ``data.tag_scheme: auto`` and convert the training tags to ``model.decoder.scheme``.

    Sequences that are invalid in the files' scheme are repaired the conlleval way and counted.
    """
    scheme = config.data.tag_scheme
    if scheme == "auto":
        scheme = detect_scheme(s.tags or () for s in sentences)
        log.info("tag scheme of %s: %s", config.data.train, scheme)
        config = dataclasses.replace(config, data=dataclasses.replace(config.data, tag_scheme=scheme))
    repaired = sum(not is_valid(s.tags or (), scheme) for s in sentences)
    if repaired:
        log.warning("%d training sentence(s) are not valid %s; repaired the conlleval way", repaired, scheme.upper())
    target = config.model.decoder.scheme
    return config, [Sentence(s.tokens, tuple(convert(s.tags or (), target)), s.line) for s in sentences]


def _pretrained(config: Config, model: TaggerModel, vocabs: Vocabularies, sentences: Sequence[Sentence]) -> Coverage | None:
    """Load ``model.embedding.pretrained`` into the word embeddings (and freeze them if asked)."""
    emb, data = config.model.embedding, config.data
    if emb.pretrained is None:
        return None
    counts = Counter(word_key(t, data.lowercase, data.normalize_digits) for s in sentences for t in s.tokens)
    coverage = load_pretrained(emb.pretrained, model.embedding.words.weight, vocabs.words, counts)
    log.info(
        "pretrained vectors %s: %.1f%% of %d training word types (%d by exact form), %.1f%% of training tokens",
        emb.pretrained, 100 * coverage.type_rate, coverage.types, coverage.exact, 100 * coverage.token_rate,
    )
    if emb.freeze:
        model.embedding.words.weight.requires_grad_(False)
    return coverage


def _prepare_output(directory: Path, overwrite: bool) -> None:
    if directory.exists() and not directory.is_dir():
        raise ModelError(f"{directory}: exists and is not a directory")
    if (directory / files.CONFIG).exists() and not overwrite:
        raise ModelError(f"{directory}: already holds a model; pass --overwrite or choose another --output")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / files.HISTORY).unlink(missing_ok=True)
    (directory / files.METRICS).unlink(missing_ok=True)


class Scorer:
    """Evaluates a model on one labelled split, encoded once."""

    def __init__(self, sentences: Sequence[Sentence], tagger: Tagger, batch_size: int) -> None:
        data = tagger.bundle.config.data
        self.sentences = sentences
        self.encoded = [encode(Sentence(s.tokens, None), tagger.bundle.vocabs, data) for s in sentences]
        self.tagger = tagger
        self.batch_size = batch_size

    def __call__(self) -> Report:
        ids = decode_encoded(self.tagger.model, self.encoded, self.batch_size, self.tagger.device)
        names = self.tagger.bundle.vocabs.tags.items
        predicted = [self.tagger.to_output([names[i] for i in row]) for row in ids]
        gold = [s.tags or () for s in self.sentences]
        tokens = [s.tokens for s in self.sentences]
        return report(tokens, gold, predicted, self.tagger.bundle.ambiguous.__contains__, self.tagger.is_oov)


def _train_epoch(
    model: TaggerModel,
    encoded: Sequence[EncodedSentence],
    order: list[list[int]],
    optimizer: torch.optim.Optimizer,
    train: TrainConfig,
    device: torch.device,
    epoch: int,
    progress: bool | None,
) -> tuple[float, float, float]:
    """One pass over the batches; returns (mean loss per sentence, sentences per second, largest gradient norm).

    The gradient norm is the global L2 norm of all parameter gradients before clipping."""
    model.train()
    total_loss, seen, largest = 0.0, 0, 0.0
    max_norm = train.clip_grad_norm if train.clip_grad_norm is not None else math.inf
    start = time.perf_counter()
    disable = None if progress is None else not progress  # None: tqdm shows the bar only on a terminal
    bar = tqdm(total=len(encoded), desc=f"epoch {epoch}", unit="sent", disable=disable, leave=False)
    with bar:
        for step, batch in enumerate(make_batches(encoded, order), start=1):
            batch = batch.to(device)
            optimizer.zero_grad(set_to_none=True)
            loss = model.loss(batch)
            if not torch.isfinite(loss):
                raise TrainingError(f"the loss became {loss.item()} at epoch {epoch}, step {step}; try a lower train.lr or train.clip_grad_norm")
            loss.backward()
            norm = float(nn.utils.clip_grad_norm_(model.parameters(), max_norm))  # scales only when clipping
            largest = max(largest, norm)
            optimizer.step()
            size = len(batch.index)
            total_loss += loss.item() * size
            seen += size
            bar.update(size)
            bar.set_postfix(loss=f"{total_loss / seen:.3f}", refresh=False)
    seconds = time.perf_counter() - start
    return total_loss / max(seen, 1), seen / seconds if seconds > 0 else 0.0, largest


def train(config: Config, output_dir: str | Path | None = None, overwrite: bool = False, progress: bool | None = None) -> TrainResult:
    """Train a model as ``config`` says and write it to ``output_dir`` (default ``config.output_dir``).

    ``progress``: show a tqdm bar (None: only when stderr is a terminal).
    """
    began = time.perf_counter()
    if config.data.train is None:
        raise ConfigError(["'data.train': required for training (a CoNLL or JSONL file)"])
    directory = Path(output_dir if output_dir is not None else config.output_dir)
    if config.train.threads is not None:
        torch.set_num_threads(config.train.threads)
    device = resolve_device(config.train.device)

    train_sents = read_corpus(config.data.train, config.data)
    log.info("read %d training sentences from %s", len(train_sents), config.data.train)
    dev_sents = _read_split(config.data.dev, config)
    test_sents = _read_split(config.data.test, config)
    config, model_sents = _to_model_scheme(config, train_sents)
    vocabs = build_vocabularies(model_sents, config.data)
    ambiguous = frozenset(ambiguous_words([s.tokens for s in train_sents], [s.tags or () for s in train_sents]))
    bundle = Bundle(config, vocabs, ambiguous)
    encoded = [encode(s, vocabs, config.data, config.data.train) for s in model_sents]

    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)
    model = build_model(config.model, vocabs)
    coverage = _pretrained(config, model, vocabs, model_sents)
    model = model.to(device)
    parameters = count_parameters(model)
    optimizer = make_optimizer(list(model.parameters()), config.train)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0 / (1.0 + config.train.lr_decay * epoch))

    _prepare_output(directory, overwrite)
    save_bundle(directory, bundle)
    tagger = Tagger(model, bundle, device)
    dev_score = Scorer(dev_sents, tagger, config.train.eval_batch_size) if dev_sents else None
    log.info("training %d parameters on %s for up to %d epochs -> %s", parameters, device, config.train.epochs, directory)

    best_score, best_epoch, stale, epoch = -math.inf, 0, 0, 0
    best_dev: Report | None = None
    lengths = [e.words.shape[0] for e in encoded]
    for epoch in range(1, config.train.epochs + 1):
        lr = optimizer.param_groups[0]["lr"]
        order = bucketed_order(lengths, config.train.batch_size, config.train.bucket_batches, rng)
        loss, speed, grad_norm = _train_epoch(model, encoded, order, optimizer, config.train, device, epoch, progress)
        schedule.step()
        record = {"epoch": epoch, "lr": lr, "loss": loss, "max_grad_norm": grad_norm, "train_sents_per_s": round(speed, 1)}
        improved = True
        if dev_score is not None:
            dev = dev_score()
            record.update(dev_f1=dev.f1, dev_accuracy=dev.accuracy)
            score = dev.f1 if config.train.metric == "f1" else dev.accuracy
            improved = score > best_score
            if improved:
                best_score, best_dev = score, dev
        record["best"] = improved
        record["seconds"] = round(time.perf_counter() - began, 2)
        if improved:
            best_epoch, stale = epoch, 0
            save_weights(directory, model)
        else:
            stale += 1
        with open(directory / files.HISTORY, "a", encoding="utf-8") as history:
            history.write(json.dumps(record) + "\n")
        log.info("epoch %d: loss %.4f, %.0f sent/s%s", epoch, loss, speed, f", dev F1 {record['dev_f1']:.4f}" if dev_score else "")
        if config.train.patience is not None and stale >= config.train.patience:
            log.info("no dev %s improvement for %d epochs: stopping", config.train.metric, stale)
            break

    load_weights(directory, model)
    test = Scorer(test_sents, tagger, config.train.eval_batch_size)() if test_sents else None
    seconds = time.perf_counter() - began
    summary = {
        "best_epoch": best_epoch,
        "epochs_run": epoch,
        "parameters": parameters,
        "seconds": round(seconds, 2),
        "pretrained": coverage.to_json() if coverage else None,
        "dev": best_dev.to_json() if best_dev else None,
        "test": test.to_json() if test else None,
    }
    write_json(directory / files.METRICS, summary)
    return TrainResult(directory, best_epoch, epoch, best_dev, test, parameters, seconds)
