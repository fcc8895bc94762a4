"""Training: seeded, length-bucketed mini-batches, clipping, lr decay, early stopping on dev span F1 (or accuracy).

The model directory is written as training goes: config, vocabularies and lexicon first, the weights
each time the dev score (``train.metric``) improves (every epoch when there is no dev file), one JSON line per epoch in
``metrics.jsonl``, ``checkpoint.safetensors`` (everything needed to resume exactly) at each epoch's end and
every ``train.checkpoint_every`` batches, and ``metrics.json`` with the best epoch's dev and test scores at the end.
``train`` starts a run, ``resume`` continues one; both hand it to ``seqlab.loop``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch
from torch import nn

from seqlab import bundle as files
from seqlab.amp import scaler as make_scaler
from seqlab.bundle import Bundle, load_bundle, load_state, save_bundle, write_atomic
from seqlab.checkpoint import CHECKPOINT, Progress, file_fingerprint, read_checkpoint, restore_rng
from seqlab.config import Config, TrainConfig, load_config
from seqlab.data import Sentence, Vocabularies, build_vocabularies, encode, read_corpus, word_key
from seqlab.distributed import Context, any_rank, from_environment, join, leave, wrap
from seqlab.errors import ConfigError, ModelError, SeqlabError
from seqlab.loop import Run, Scorer, TrainingError, TrainingInterrupted, TrainResult, loop
from seqlab.metrics import ambiguous_words
from seqlab.model import TaggerModel, build_model, count_parameters
from seqlab.pretrained import Coverage, load_pretrained
from seqlab.schemes import convert, detect_scheme, is_valid
from seqlab.tagger import Tagger

__all__ = ["TrainResult", "TrainingError", "TrainingInterrupted", "quiet_training", "resume", "train"]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def quiet_training() -> Iterator[None]:
    """Silence training's per-epoch INFO lines (for callers that train many models and report themselves)."""
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)


def resolve_device(name: str, key: str = "'train.device'") -> torch.device:
    """``auto`` → CUDA when available, else CPU; explicit CUDA names must exist (errors name ``key``)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name not in ("cpu", "cuda") and not (name.startswith("cuda:") and name[5:].isdigit()):
        raise ConfigError([f"{key}: expected 'auto', 'cpu', 'cuda' or 'cuda:N', got {name!r}"])
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError([f"{key}: {name!r} requested but CUDA is not available"])
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
        hint = " or continue it with seqlab train --resume" if (directory / CHECKPOINT).exists() else ""
        raise ModelError(f"{directory}: already holds a model; pass --overwrite, choose another --output{hint}")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name in (files.HISTORY, files.METRICS, CHECKPOINT):
            (directory / name).unlink(missing_ok=True)
    except OSError as err:
        raise ModelError(f"{directory}: cannot write ({err.strerror or err})") from None


def _schedule(optimizer: torch.optim.Optimizer, train: TrainConfig) -> torch.optim.lr_scheduler.LambdaLR:
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda epoch: 1.0 / (1.0 + train.lr_decay * epoch))


def _read_splits(config: Config) -> tuple[Config, list[Sentence], list[Sentence], list[Sentence] | None, list[Sentence] | None]:
    """(config with the tag scheme resolved, training sentences as read, in the model's scheme, dev, test)."""
    if config.data.train is None:
        raise ConfigError(["'data.train': required for training (a CoNLL or JSONL file)"])
    train_sents = read_corpus(config.data.train, config.data)
    log.info("read %d training sentences from %s", len(train_sents), config.data.train)
    dev_sents = _read_split(config.data.dev, config)
    test_sents = _read_split(config.data.test, config)
    config, model_sents = _to_model_scheme(config, train_sents)
    return config, train_sents, model_sents, dev_sents, test_sents


def train(config: Config, output_dir: str | Path | None = None, overwrite: bool = False, progress: bool | None = None) -> TrainResult:
    """Train a model as ``config`` says and write it to ``output_dir`` (default ``config.output_dir``).

    ``progress``: show a tqdm bar (None: only when stderr is a terminal). A checkpoint is written at the
    end of every epoch (and every ``train.checkpoint_every`` batches); ``resume`` continues from it.
    Under torchrun every process calls this; see ``seqlab.distributed``.
    """
    began = time.perf_counter()
    directory = Path(output_dir if output_dir is not None else config.output_dir)
    context, device = _start(config)
    try:
        config, train_sents, model_sents, dev_sents, test_sents = _read_splits(config)
        vocabs = build_vocabularies(model_sents, config.data)
        ambiguous = frozenset(ambiguous_words([s.tokens for s in train_sents], [s.tags or () for s in train_sents]))
        bundle = Bundle(config, vocabs, ambiguous)
        encoded = [encode(s, vocabs, config.data, config.data.train) for s in model_sents]
        fingerprint = file_fingerprint(config.data.train)

        torch.manual_seed(config.seed)
        rng = random.Random(config.seed)
        model = build_model(config.model, vocabs)
        coverage = _pretrained(config, model, vocabs, model_sents)
        if context.rank:
            torch.manual_seed(config.seed + 7919 * context.rank)  # other dropout masks on other ranks
        model = model.to(device)
        optimizer = make_optimizer(list(model.parameters()), config.train)
        schedule = _schedule(optimizer, config.train)

        _main_only(context, lambda: (_prepare_output(directory, overwrite), save_bundle(directory, bundle)))
        state = Progress(coverage=coverage.to_json() if coverage else None)
        state.start_epoch(rng)
        run = _make_run(config, directory, device, encoded, model, optimizer, schedule, rng, state, fingerprint, bundle, dev_sents, test_sents, began, context)
        where = f"{device}" + (f" x {context.world} processes" if context.active else "")
        log.info("training %d parameters on %s for up to %d epochs -> %s", run.parameters, where, config.train.epochs, directory)
        return loop(run, progress)
    finally:
        leave(context)


def resume(directory: str | Path, overrides: Sequence[str] = (), progress: bool | None = None) -> TrainResult:
    """Continue the run whose checkpoint is in ``directory`` exactly where it stopped.

    The directory's own config is used (``overrides`` such as ``train.epochs=80`` change it); the
    vocabularies are the saved ones and the training file must be the one the run started with.
    With the same threads on the same CPU the result is bit-identical to an uninterrupted run.
    """
    began = time.perf_counter()
    directory = Path(directory)
    saved = load_bundle(directory)
    checkpoint, rng_tensors, rng_meta = read_checkpoint(directory)
    config = load_config(directory / files.CONFIG, list(overrides))
    context, device = _start(config)
    try:
        config, _, model_sents, dev_sents, test_sents = _read_splits(config)
        fingerprint = file_fingerprint(config.data.train)
        if fingerprint != checkpoint.fingerprint:
            raise ModelError(f"{config.data.train}: not the training file this run started with (its sha256 differs); cannot resume {directory}")
        bundle = Bundle(config, saved.vocabs, saved.ambiguous)
        encoded = [encode(s, bundle.vocabs, config.data, config.data.train) for s in model_sents]

        model = build_model(config.model, bundle.vocabs)
        load_state(model, checkpoint.model, directory / CHECKPOINT)
        if config.model.embedding.pretrained is not None and config.model.embedding.freeze:
            model.embedding.words.weight.requires_grad_(False)
        model = model.to(device)
        optimizer = make_optimizer(list(model.parameters()), config.train)
        schedule = _schedule(optimizer, config.train)
        try:
            optimizer.load_state_dict(checkpoint.optimizer)
            schedule.load_state_dict({**checkpoint.scheduler, "lr_lambdas": [None] * len(optimizer.param_groups)})
        except (ValueError, KeyError, RuntimeError) as err:
            raise ModelError(f"{directory / CHECKPOINT}: optimizer state does not fit train.optimizer={config.train.optimizer} ({err})") from None
        state = checkpoint.progress
        if state.stopped and state.epoch < config.train.epochs and (config.train.patience is None or state.stale < config.train.patience):
            state.stopped = False  # more epochs or patience were granted by the overrides
        rng = random.Random()
        rng.setstate(state.order_rng)
        restore_rng(rng_tensors, rng_meta, context.rank)

        def tidy() -> None:
            _truncate_history(directory / files.HISTORY, state.epoch)
            for torn in directory.glob(".*.tmp"):  # left by a kill inside write_atomic
                torn.unlink(missing_ok=True)
            if config != saved.config:
                save_bundle(directory, bundle)

        _main_only(context, tidy)
        run = _make_run(config, directory, device, encoded, model, optimizer, schedule, rng, state, fingerprint, bundle, dev_sents, test_sents, began, context)
        if run.scaler is not None and checkpoint.scaler is not None:
            run.scaler.load_state_dict(checkpoint.scaler)
        log.info("resuming %s at epoch %d, batch %d", directory, state.epoch + 1, state.step)
        return loop(run, progress)
    finally:
        leave(context)


def _start(config: Config) -> tuple[Context, torch.device]:
    """Threads, device and (under torchrun) the process group."""
    if config.train.threads is not None:
        torch.set_num_threads(config.train.threads)
    context = from_environment()
    device = resolve_device(config.train.device)
    if context.active and device.type == "cuda":
        device = torch.device("cuda", context.local_rank)
        torch.cuda.set_device(device)
    join(context, device)
    if not context.main:
        logging.getLogger("seqlab").setLevel(logging.WARNING)  # one process reports
    return context, device


def _main_only(context: Context, action: Callable[[], object]) -> None:
    """Run ``action`` on rank 0; if it fails every rank stops (rank 0 with its own error)."""
    error: SeqlabError | None = None
    if context.main:
        try:
            action()
        except SeqlabError as err:
            error = err
    if any_rank(error is not None, context):
        raise error or ModelError("rank 0 could not prepare the model directory (its error says why)")


def _make_run(config, directory, device, encoded, model, optimizer, schedule, rng, state, fingerprint, bundle, dev_sents, test_sents, began, context) -> Run:
    tagger = Tagger(model, bundle, device)
    dev_score = Scorer(dev_sents, tagger, config.train.eval_batch_size) if dev_sents and context.main else None
    objective = wrap(model, context, device)
    return Run(
        config, directory, device, encoded, model, objective, optimizer, schedule, rng, state, fingerprint, tagger, dev_score,
        test_sents, count_parameters(model), began, state.seconds, context, make_scaler(device, config.train.precision),
    )


def _truncate_history(path: Path, epochs: int) -> None:
    """Keep the first ``epochs`` lines of ``metrics.jsonl``: a kill after an epoch's line was written but
    before its checkpoint must not leave that epoch twice."""
    if not path.exists():
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if len(lines) != epochs:
        write_atomic(path, "".join(lines[:epochs]).encode("utf-8"))


