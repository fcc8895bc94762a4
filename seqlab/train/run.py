"""Training: seeded, length-bucketed mini-batches, clipping, lr decay, early stopping on dev span F1 (or accuracy).

The model directory is written as training goes: config, vocabularies and lexicon first, the weights
each time the dev score (``train.metric``) improves (every epoch when there is no dev file), one JSON line per epoch in
``metrics.jsonl``, ``checkpoint.safetensors`` (everything needed to resume exactly) at each epoch's end and
every ``train.checkpoint_every`` batches, and ``metrics.json`` with the best epoch's dev and test scores at the end.
``train`` starts a run, ``resume`` continues one: both assemble it with ``seqlab.train.prepare.prepare_run``
and hand it to ``seqlab.train.loop``.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import random
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import torch

from seqlab.config.settings import LATER_KEYS, Config, config_to_dict, load_config
from seqlab.device import resolve_device
from seqlab.distributed import Context, any_rank, from_environment, join, leave, wrap
from seqlab.errors import ConfigError, ModelError, SeqlabError
from seqlab.files import write_atomic, writer_lock
from seqlab.nn.backbone import SUBDIRECTORY as TRANSFORMER_FILES
from seqlab.nn.backbone import save_backbone
from seqlab.nn.model import Objective, count_parameters
from seqlab.tagger import bundle as files
from seqlab.tagger.bundle import load_bundle, read_summary, save_bundle
from seqlab.tagger.evaluate import Evaluator
from seqlab.tagger.inference import Tagger
from seqlab.tagger.metrics import Report
from seqlab.train.checkpoint import CHECKPOINT, Progress, read_checkpoint, restore_rng
from seqlab.train.loop import (
    Clock,
    Place,
    Run,
    TrainingError,
    TrainingInterrupted,
    TrainResult,
    loop,
)
from seqlab.train.prepare import Prepared, WarmStart, prepare_run, sparse_rows

__all__ = ["TrainResult", "TrainingError", "TrainingInterrupted", "quiet_training", "resume", "start_run", "train"]

log = logging.getLogger("seqlab.train")  # the name the loop and the set-up log under: quiet_training silences all three


@contextlib.contextmanager
def quiet_training() -> Iterator[None]:
    """Silence training's per-epoch INFO lines (for callers that train many models and report themselves)."""
    level = log.level
    log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)


def train(
    config: Config, output_dir: str | Path | None = None, overwrite: bool = False, progress: bool | None = None,
    on_epoch: Callable[[dict], object] | None = None, warm: WarmStart | None = None,
) -> TrainResult:
    """Train a model as ``config`` says and write it to ``output_dir`` (default ``config.output_dir``).

    ``progress``: show a tqdm bar (None: only when stderr is a terminal). ``on_epoch`` is called with
    each epoch's record (epoch, loss, lr, dev F1 …, as in ``metrics.jsonl``), e.g. ``on_epoch=print``
    from Python, where the CLI's log lines only show once ``logging`` is configured. A checkpoint is
    written at the end of every epoch (and every ``train.checkpoint_every`` batches); ``resume``
    continues from it. Under torchrun every process calls this; see ``seqlab.distributed``. ``warm``
    starts from given vocabularies (and weights) instead of the training file's (``seqlab.annotate``).
    """
    began = time.perf_counter()
    directory = Path(output_dir if output_dir is not None else config.output_dir)
    config = dataclasses.replace(config, output_dir=str(directory))  # the saved config says where it was written
    context, device = _start(config)
    held = contextlib.ExitStack()
    try:
        _main_only(context, lambda: (_check_output(directory, overwrite), held.enter_context(writer_lock(directory))))  # before reading any data
        prepared = prepare_run(config, device=device, warm=warm)
        if context.rank:
            torch.manual_seed(prepared.config.seed + 7919 * context.rank)  # other dropout masks on other ranks
        _main_only(context, lambda: (_clear_output(directory), save_bundle(directory, prepared.bundle), _save_transformer(directory, prepared)))
        rng = random.Random(prepared.config.seed)
        state = Progress(coverage=prepared.coverage.to_json() if prepared.coverage else None)
        state.start_epoch(rng)
        run = start_run(prepared, Place(directory, device, context), state, rng, Clock(began), on_epoch)
        where = f"{device}" + (f" x {context.world} processes" if context.active else "")
        log.info("training %d parameters on %s for up to %d epochs -> %s", count_parameters(run.optimisation.model), where, run.config.train.epochs, directory)
        return loop(run, progress)
    finally:
        held.close()
        leave(context)


def resume(
    directory: str | Path, overrides: Sequence[str] = (), progress: bool | None = None, on_epoch: Callable[[dict], object] | None = None,
) -> TrainResult:
    """Continue the run whose checkpoint is in ``directory`` exactly where it stopped.

    The directory's own config is used (``overrides`` such as ``train.epochs=80`` change it); the
    vocabularies are the saved ones and the training file must be the one the run started with.
    With the same threads on the same CPU the result is bit-identical to an uninterrupted run.
    """
    began = time.perf_counter()
    directory = Path(directory)
    saved = load_bundle(directory)
    checkpoint = read_checkpoint(directory)
    kept_later = [f"{key}={json.dumps(_leaves(config_to_dict(saved.config))[key])}" for key in LATER_KEYS]  # as the saved bundle read them
    config = load_config(directory / files.CONFIG, [*kept_later, *overrides])
    state = checkpoint.progress
    if state.stopped and state.epoch < config.train.epochs and (config.train.patience is None or state.stale < config.train.patience):
        state.stopped = False  # more epochs or patience were granted by the overrides
    if state.stopped and (directory / files.METRICS).exists():
        return _finished(directory)
    check_resumable(saved.config, config)
    context, device = _start(config)
    held = contextlib.ExitStack()
    try:
        _main_only(context, lambda: held.enter_context(writer_lock(directory)))
        prepared = prepare_run(config, saved, checkpoint, device)
        rng = random.Random()
        rng.setstate(state.order_rng)
        restore_rng(checkpoint, context.rank)

        def tidy() -> None:
            _truncate_history(directory / files.HISTORY, state.epoch)
            for torn in directory.glob(".*.tmp"):  # left by a kill inside write_atomic
                torn.unlink(missing_ok=True)
            if prepared.config != saved.config:
                save_bundle(directory, prepared.bundle)

        _main_only(context, tidy)
        run = start_run(prepared, Place(directory, device, context), state, rng, Clock(began, state.seconds), on_epoch)
        log.info("resuming %s at epoch %d, batch %d", directory, state.epoch + 1, state.step)
        return loop(run, progress)
    finally:
        held.close()
        leave(context)


RESUMABLE = frozenset({
    "data.dev", "data.test", "train.epochs", "train.patience", "train.stop_at", "train.lr", "train.lr_decay", "train.momentum",
    "train.weight_decay", "train.clip_grad_norm", "train.eval_batch_size", "train.threads", "train.device", "train.checkpoint_every",
    "train.skip_nonfinite", "train.transformer_lr", "output_dir",
})
"""Keys a resumed run may change (``--set``); the others fix what the run is (data, model, batches, seed)."""


def check_resumable(saved: Config, config: Config) -> None:
    """Refuse, naming each key, an override a resumed run cannot honour."""
    old, new = _leaves(config_to_dict(saved)), _leaves(config_to_dict(config))
    fixed = sorted(key for key in new if new[key] != old.get(key) and key not in RESUMABLE)
    if fixed:
        raise ConfigError([f"--set {key}: cannot change when resuming (it fixes what the run is); start a new run with --output instead" for key in fixed])


def _leaves(tree: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in tree.items():
        out.update(_leaves(value, f"{prefix}{key}.") if isinstance(value, dict) else {f"{prefix}{key}": value})
    return out


def _finished(directory: Path) -> TrainResult:
    """The result of a run that already ended (its summary), without training or testing again."""
    summary = read_summary(directory)
    log.info("%s: training already finished (best epoch %d of %d); nothing to resume. Grant more with --set train.epochs=N",
             directory, summary["best_epoch"], summary["epochs_run"])
    report = lambda key: Report.from_json(summary[key]) if summary.get(key) else None  # noqa: E731
    return TrainResult(directory, summary["best_epoch"], summary["epochs_run"], report("dev"), report("test"), summary["parameters"], summary["seconds"])


def start_run(
    prepared: Prepared, place: Place, progress: Progress, rng: random.Random, clock: Clock, on_epoch: Callable[[dict], object] | None = None,
) -> Run:
    """The ``Run`` the loop works on: the prepared parts, the objective (DDP-wrapped when distributed),
    and the dev scorer (rank 0)."""
    model = prepared.optimisation.model
    sparse_rows(model, prepared.config.train, place.context.active)
    tagger = Tagger(model, prepared.bundle, place.device)
    corpus = prepared.corpus
    dev = Evaluator(tagger, corpus.dev, confidence=False) if corpus.dev and place.context.main else None
    objective = wrap(Objective(model, prepared.config.train.loss_reduction), place.context, place.device)
    return Run(prepared.config, place, corpus, prepared.optimisation, objective, progress, rng, clock, tagger, dev, on_epoch)


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


def _check_output(directory: Path, overwrite: bool) -> None:
    """Refuse a directory that is a file, or that holds a model unless ``overwrite``."""
    if directory.exists() and not directory.is_dir():
        raise ModelError(f"{directory}: exists and is not a directory")
    holds = (directory / files.WEIGHTS).exists() or (directory / CHECKPOINT).exists()  # config and vocab alone: a start that was killed
    if holds and not overwrite:
        hint = " or continue it with seqlab train --resume" if (directory / CHECKPOINT).exists() else ""
        raise ModelError(f"{directory}: already holds a model; pass --overwrite, choose another --output{hint}")


def _save_transformer(directory: Path, prepared: Prepared) -> None:
    """A transformer embedding's config and tokenizer go beside the model's files (its weights are in them)."""
    transformer = prepared.optimisation.model.embedding.transformer
    if transformer is not None:
        save_backbone(directory, transformer.backbone)


def _clear_output(directory: Path) -> None:
    """Create the directory and remove every file of a model already there, weights first: until the
    new run saves its own weights the directory holds no model, never the old weights beside the new
    vocabularies (which would load and predict wrongly)."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name in (files.WEIGHTS, CHECKPOINT, files.METRICS, files.HISTORY, files.VOCAB, files.LEXICON, files.CONFIG):
            (directory / name).unlink(missing_ok=True)
        if (directory / TRANSFORMER_FILES).is_dir():
            shutil.rmtree(directory / TRANSFORMER_FILES)
    except OSError as err:
        raise ModelError(f"{directory}: cannot write ({err.strerror or err})") from None


def _truncate_history(path: Path, epochs: int) -> None:
    """Keep the first ``epochs`` lines of ``metrics.jsonl``: a kill after an epoch's line was written but
    before its checkpoint must not leave that epoch twice."""
    if not path.exists():
        return
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    if len(lines) != epochs:
        write_atomic(path, "".join(lines[:epochs]).encode("utf-8"))
