"""The epoch loop of a training run: batches from any position, non-finite losses, checkpoints every
epoch (and every ``train.checkpoint_every`` batches), Ctrl-C/SIGTERM, dev scoring and early stopping.

``seqlab.train.run`` sets a run up (fresh or from a checkpoint) and hands it to ``loop``.
"""
from __future__ import annotations

import contextlib
import json
import logging
import math
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn
from tqdm import tqdm

from seqlab.config.settings import Config
from seqlab.data.batches import bucketed_order, collate
from seqlab.distributed import (
    SINGLE,
    Context,
    any_rank,
    from_main,
    gather_rng,
    gradient_weight,
    share,
    sum_all,
)
from seqlab.errors import ModelError, SeqlabError
from seqlab.files import write_json
from seqlab.nn.model import count_parameters
from seqlab.tagger import bundle as files
from seqlab.tagger.bundle import load_weights, save_weights
from seqlab.tagger.evaluate import Evaluator
from seqlab.tagger.inference import Tagger
from seqlab.tagger.metrics import Report
from seqlab.train.amp import autocast
from seqlab.train.checkpoint import CHECKPOINT, Progress, save_checkpoint
from seqlab.train.prepare import Corpus, Optimisation, clip_gradients, warm_up

log = logging.getLogger("seqlab.train")


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


class TrainingInterrupted(SeqlabError):
    """Ctrl-C or SIGTERM during training: a checkpoint was written and the run can be resumed."""


@contextlib.contextmanager
def stop_requests() -> Iterator[list[int]]:
    """Turn SIGINT/SIGTERM into a request the loop honours at the next batch boundary (a second one
    interrupts at once). Yields a list that holds the signal numbers received."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def handler(signum: int, frame: object) -> None:
        if received:
            raise KeyboardInterrupt
        received.append(signum)
        log.warning("stopping after this batch (a checkpoint will be written); press Ctrl-C again to abort at once")

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


@dataclass(frozen=True)
class Place:
    """Where a run works: its model directory, device and (under torchrun) process group."""

    directory: Path
    device: torch.device
    context: Context = SINGLE


@dataclass
class Clock:
    """Wall time of a run over every process that worked on it."""

    began: float
    """``perf_counter()`` when this process took the run over."""
    before: float = 0.0
    """Seconds spent by earlier processes (a resumed run)."""

    def elapsed(self) -> float:
        return self.before + time.perf_counter() - self.began


@dataclass
class Run:
    """Everything one training run holds while its loop runs."""

    config: Config
    place: Place
    corpus: Corpus
    optimisation: Optimisation
    objective: nn.Module
    """``forward(batch, sentences)`` → ``(objective, summed loss)`` (``seqlab.nn.model.Objective``), DDP-wrapped
    when distributed (``seqlab.distributed.wrap``)."""
    progress: Progress
    rng: random.Random
    """Draws the batch order (the same on every rank); its state at each epoch's start is in the checkpoint."""
    clock: Clock
    tagger: Tagger
    """The model being trained, for scoring."""
    dev: Evaluator | None
    """Scores the dev split after each epoch (rank 0, when there is a dev file)."""
    on_epoch: Callable[[dict], object] | None = None
    """Called on rank 0 with each epoch's ``metrics.jsonl`` record once it is written."""

    def checkpoint(self) -> None:
        """Write the checkpoint (rank 0), with every rank's generator state (a collective when distributed).
        Weights that are no longer finite are never written: that is a ``TrainingError``."""
        context, optimisation = self.place.context, self.optimisation
        check_finite(self)
        states = gather_rng(context)
        if context.main:
            self.progress.seconds = self.clock.elapsed()
            ranks = states if context.active else None
            scaler = optimisation.scaler.state_dict() if optimisation.scaler is not None else None
            save_checkpoint(
                self.place.directory, self.progress, optimisation.model, optimisation.optimizer, optimisation.schedule, self.corpus.fingerprint, ranks, scaler,
                optimisation.average,
            )


def loop(run: Run, progress_bar: bool | None) -> TrainResult:
    """Train epoch after epoch until the epochs, the patience or ``train.stop_at`` end the run, writing the
    checkpoint after every epoch; then ``finish``."""
    config, state = run.config, run.progress
    lengths = [e.words.shape[0] for e in run.corpus.encoded]
    with stop_requests() as stop:
        while not state.stopped and state.epoch < config.train.epochs:
            epoch = state.epoch + 1
            lr = run.optimisation.optimizer.param_groups[0]["lr"]
            order = bucketed_order(lengths, config.train.batch_size, config.train.bucket_batches, run.rng)
            train_epoch(run, order, epoch, progress_bar, stop)
            if state.seen == 0 and state.skipped:
                raise TrainingError(
                    f"every batch of epoch {epoch} was skipped (a non-finite loss or gradient each time): the model is not learning; "
                    f"{kept(run.place.directory)}. Try a lower train.lr"
                )
            run.optimisation.schedule.step()
            record = {
                "epoch": epoch, "lr": lr, "loss": state.loss_sum / max(state.seen, 1), "max_grad_norm": state.largest,
                "skipped_batches": state.skipped, "train_sents_per_s": round(state.seen / state.epoch_seconds, 1) if state.epoch_seconds > 0 else 0.0,
            }
            end_epoch(run, epoch, record)
            run.checkpoint()
            if any_rank(bool(stop), run.place.context) and not state.stopped:
                raise TrainingInterrupted(f"stopped after epoch {epoch}; checkpoint saved: continue with seqlab train --resume {run.place.directory}")
    return finish(run)


def kept(directory: Path) -> str:
    """What an interrupted run leaves in ``directory``, in words."""
    parts = []
    if (directory / CHECKPOINT).exists():
        parts.append("the last checkpoint (continue with seqlab train --resume)")
    if (directory / files.WEIGHTS).exists():
        parts.append("the best model so far")
    return (" and ".join(parts) + f" in {directory} are kept") if parts else f"nothing was saved in {directory} yet"


def check_finite(run: Run) -> None:
    """Stop with a ``TrainingError`` when a weight is NaN or infinite (e.g. an infinite learning rate with
    ``train.skip_nonfinite``): such weights are never saved."""
    for name, param in run.optimisation.model.named_parameters():
        if not bool(torch.isfinite(param).all()):
            raise TrainingError(
                f"the weights became non-finite ({name}) at epoch {run.progress.epoch + 1}, batch {run.progress.step}; they were not saved; "
                f"{kept(run.place.directory)}. Try a lower train.lr"
            )


def end_epoch(run: Run, epoch: int, record: dict) -> None:
    """Score dev (rank 0), keep the weights when they are the best so far, log ``record``, and decide
    whether to stop (rank 0 decides; every rank takes its decision)."""
    config, state, place = run.config, run.progress, run.place
    check_finite(run)
    main, improved, average = place.context.main, True, run.optimisation.average
    with average.applied() if average is not None else contextlib.nullcontext():  # the average is what is scored and kept
        check_finite(run)
        if run.dev is not None and main:
            dev = run.dev()
            record.update(dev_f1=dev.f1, dev_accuracy=dev.accuracy)
            score = dev.f1 if config.train.metric == "f1" else dev.accuracy
            improved = state.best_score is None or score > state.best_score
            if improved:
                state.best_score, state.best_dev = score, dev.to_json()
        if improved and main:
            save_weights(place.directory, run.optimisation.model)
    record["best"] = improved
    record["seconds"] = round(run.clock.elapsed(), 2)
    if improved:
        state.best_epoch, state.stale = epoch, 0
    elif state.best_score:  # patience starts once the dev score is above 0: a model that finds nothing yet is not stalling
        state.stale += 1
    if main:
        _append_history(place.directory / files.HISTORY, record)
        if run.on_epoch is not None:
            run.on_epoch(dict(record))
        log.info("epoch %d: loss %.4f, %.0f sent/s%s", epoch, record["loss"], record["train_sents_per_s"], f", dev F1 {record['dev_f1']:.4f}" if run.dev else "")
    state.epoch = epoch
    if config.train.patience is not None and state.stale >= config.train.patience:
        log.info("no dev %s improvement for %d epochs: stopping", config.train.metric, state.stale)
        state.stopped = True
    if config.train.stop_at is not None and state.best_score is not None and state.best_score >= config.train.stop_at:
        log.info("dev %s reached %.4f (train.stop_at %s): stopping", config.train.metric, state.best_score, config.train.stop_at)
        state.stopped = True
    state.stopped = state.stopped or epoch >= config.train.epochs
    stale, stopped, best = from_main([state.stale, float(state.stopped), state.best_epoch], place.context)  # rank 0 judged dev
    state.stale, state.stopped, state.best_epoch = int(stale), bool(stopped), int(best)
    state.start_epoch(run.rng)


def _append_history(path: Path, record: dict) -> None:
    try:
        with open(path, "a", encoding="utf-8") as history:
            history.write(json.dumps(record) + "\n")
    except OSError as err:
        raise ModelError(f"{path}: cannot write ({err.strerror or err})") from None


def finish(run: Run) -> TrainResult:
    """Reload the best weights, score the test file, write ``metrics.json`` (rank 0; the others only return)."""
    state, place, model = run.progress, run.place, run.optimisation.model
    parameters = count_parameters(model)
    if not place.context.main:
        return TrainResult(place.directory, state.best_epoch, state.epoch, None, None, parameters, run.clock.elapsed())
    load_weights(place.directory, model)
    test = Evaluator(run.tagger, run.corpus.test, confidence=False)() if run.corpus.test else None
    seconds = run.clock.elapsed()
    summary = {
        "best_epoch": state.best_epoch,
        "epochs_run": state.epoch,
        "parameters": parameters,
        "seconds": round(seconds, 2),
        "pretrained": state.coverage,
        "dev": state.best_dev,
        "test": test.to_json() if test else None,
    }
    if place.context.active:
        summary["processes"] = place.context.world
    write_json(place.directory / files.METRICS, summary)
    dev = Report.from_json(state.best_dev) if state.best_dev else None
    return TrainResult(place.directory, state.best_epoch, state.epoch, dev, test, parameters, seconds)


def train_epoch(run: Run, order: list[list[int]], epoch: int, progress: bool | None, stop: list[int]) -> None:
    """Batches ``state.step`` onwards of ``order``, updating the running totals in ``run.progress``.

    Each batch is this rank's share of a global batch; the totals (loss, sentences, stop requests) are
    summed over ranks every batch, so every rank holds the same progress and takes the same decisions.
    The gradient norm recorded is the global L2 norm of all parameter gradients before clipping."""
    state, train, context, device = run.progress, run.config.train, run.place.context, run.place.device
    model, optimizer, scaler = run.optimisation.model, run.optimisation.optimizer, run.optimisation.scaler
    model.train()
    max_norm = train.clip_grad_norm if train.clip_grad_norm is not None else math.inf
    last = time.perf_counter()
    disable = (None if progress is None else not progress) if context.main else True  # None: a bar only on a terminal
    bar = tqdm(total=len(run.corpus.encoded), initial=state.seen, desc=f"epoch {epoch}", unit="sent", disable=disable, leave=False)
    with bar:
        for index in order[state.step :]:
            mine, weight = share(index, context)
            batch = collate([run.corpus.encoded[k] for k in mine], mine).to(device)
            optimizer.zero_grad(set_to_none=True)
            with autocast(device, train.precision):
                objective, summed = run.objective(batch, len(index))
            local = (summed / len(mine)).item()  # mean over this rank's sentences
            loss_sum, seen, stops = sum_all([local * len(mine) * weight, len(mine) * weight, float(bool(stop))], context)
            value = loss_sum / seen if seen else local
            norm = math.nan
            if math.isfinite(value):
                objective = objective * gradient_weight(weight, context)
                if scaler is not None:
                    scaler.scale(objective).backward()
                    scaler.unscale_(optimizer)
                else:
                    objective.backward()
                norm = clip_gradients(list(model.parameters()), max_norm)  # scales only when clipping
            state.step += 1
            overflow = scaler is not None and math.isfinite(value) and not math.isfinite(norm)
            if math.isfinite(value) and (math.isfinite(norm) or overflow):
                if epoch == 1:
                    warm_up(optimizer, state.step, len(order))
                if scaler is not None:
                    scaler.step(optimizer)  # no update when the scaled gradients overflowed
                    scaler.update()  # and a smaller scale next time
                else:
                    optimizer.step()
                if run.optimisation.average is not None and not overflow:
                    run.optimisation.average.update()
                if overflow:
                    state.skipped += 1
                else:
                    state.largest = max(state.largest, norm)
                state.loss_sum += loss_sum
                state.seen += int(seen)
                bar.update(int(seen))
                bar.set_postfix(loss=f"{state.loss_sum / max(state.seen, 1):.3f}", refresh=False)
            elif train.skip_nonfinite:
                optimizer.zero_grad(set_to_none=True)
                state.skipped += 1
                log.warning("epoch %d, batch %d: %s is %s; batch skipped", epoch, state.step, *(("loss", value) if not math.isfinite(value) else ("gradient norm", norm)))
            else:
                what, bad = ("loss", value) if not math.isfinite(value) else ("gradient norm", norm)
                raise TrainingError(
                    f"the {what} became {bad} at epoch {epoch}, batch {state.step}; {kept(run.place.directory)}. "
                    "Try a lower train.lr or train.clip_grad_norm (seqlab train --resume DIR --set train.lr=...), or train.skip_nonfinite: true"
                )
            now = time.perf_counter()
            state.epoch_seconds += now - last
            last = now
            if not context.active:
                stops = bool(stop)  # one process: honour a request that came during this batch at once
            if stops or (train.checkpoint_every and state.step % train.checkpoint_every == 0):
                run.checkpoint()
                last = time.perf_counter()  # checkpoint writing is not training time
            if stops:
                raise TrainingInterrupted(f"stopped at epoch {epoch}, batch {state.step}; checkpoint saved: continue with seqlab train --resume {run.place.directory}")
