"""Resumable training state: one safetensors file, written atomically, read without unpickling.

``checkpoint.safetensors`` in the model directory holds

    model.<name>          the current parameters (the best ones are ``weights.safetensors``)
    optim.<k>.<slot>      optimizer state tensors (SGD momentum, Adam moments and step)
    average.<name>        the moving average of the weights (``train.ema_decay``; absent without it)
    rng.torch, rng.cuda.<d>, rng.rank.<r>   the torch generators (dropout, word dropout); the batch
                         order's generator is in ``Progress``; nothing else draws random numbers

and, in the file's header metadata, one JSON document: where training stands (``Progress``), the
optimizer's param groups and non-tensor slots, the lr schedule, Python's generator states and a
fingerprint of the training file. Being a single file replaced by ``os.replace``, a kill at any moment
leaves the previous checkpoint or the new one, never a mixture.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as save_safetensors

from seqlab.errors import ModelError
from seqlab.files import write_atomic
from seqlab.tagger.bundle import state_tensors
from seqlab.train.averaging import WeightAverage

CHECKPOINT = "checkpoint.safetensors"
FORMAT = 1


@dataclass
class Progress:
    """Where a run stands; everything the loop needs to continue exactly."""

    epoch: int = 0
    """Epochs completed."""
    step: int = 0
    """Batches completed in the epoch in progress (epoch + 1)."""
    order_rng: Any = None
    """State of the batch-order generator at the start of the epoch in progress (``random.getstate()``)."""
    loss_sum: float = 0.0
    """Running totals of the epoch in progress: summed loss × sentences, sentences, largest gradient
    norm, skipped batches, seconds spent."""
    seen: int = 0
    largest: float = 0.0
    skipped: int = 0
    epoch_seconds: float = 0.0
    best_score: float | None = None
    best_epoch: int = 0
    stale: int = 0
    """Epochs since the dev score last improved."""
    stopped: bool = False
    """Early stopping fired or every epoch ran: only the final evaluation is left."""
    seconds: float = 0.0
    """Wall time of the run so far, over every process that worked on it."""
    best_dev: dict | None = None
    """The best epoch's dev report (``Report.to_json()``)."""
    coverage: dict | None = None
    """Pretrained-vector coverage, logged when the run started."""

    def start_epoch(self, rng: random.Random) -> None:
        self.step, self.loss_sum, self.seen, self.largest, self.skipped, self.epoch_seconds = 0, 0.0, 0, 0.0, 0, 0.0
        self.order_rng = rng.getstate()


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    """The file it was read from (errors about its content name it)."""
    progress: Progress
    model: dict[str, torch.Tensor]
    optimizer: dict
    scheduler: dict
    fingerprint: str
    """sha256 of the training file the run started with."""
    scaler: dict | None
    """fp16's gradient-scaler state."""
    rng: dict[str, torch.Tensor]
    """Generator states: ``rng.torch``, ``rng.cuda.<d>``, ``rng.rank.<r>``."""
    average: dict[str, torch.Tensor] = dataclasses.field(default_factory=dict)
    """The moving average of the weights (``train.ema_decay``), by parameter name; empty without one."""
    average_updates: int = 0
    """Updates folded into ``average``."""
    """Python's and NumPy's non-tensor generator state."""


def file_fingerprint(path: str | Path) -> str:
    """sha256 of a file's bytes (the training data a checkpoint belongs to)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _split_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, plain = {}, {}
    for index, slots in state["state"].items():
        for key, value in slots.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                plain[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "plain": plain}


def _join_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict[str, Any]] = {}
    for name, tensor in tensors.items():
        index, key = name[len("optim.") :].split(".", 1)
        state.setdefault(int(index), {})[key] = tensor
    for name, value in meta["plain"].items():
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    groups = [{k: tuple(v) if k == "betas" else v for k, v in group.items()} for group in meta["param_groups"]]
    return {"state": state, "param_groups": groups}


def _rng_tensors() -> dict[str, torch.Tensor]:
    """The torch generators training draws from (CPU, and CUDA once initialised)."""
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for k, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{k}"] = state
    return tensors


def restore_rng(checkpoint: Checkpoint, rank: int = 0) -> None:
    """Put the torch generators back where the checkpoint found them (for a distributed run's ``rank``,
    that rank's generator when the checkpoint holds it)."""
    tensors = checkpoint.rng
    torch.set_rng_state(tensors.get(f"rng.rank.{rank}", tensors["rng.torch"]))
    cuda = [tensors[f"rng.cuda.{k}"] for k in range(len(tensors)) if f"rng.cuda.{k}" in tensors]
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])


def _jsonable(state: Any) -> Any:
    """``random.getstate()`` → nested lists (JSON has no tuples)."""
    return [_jsonable(x) for x in state] if isinstance(state, (tuple, list)) else state


def python_state(value: Any) -> Any:
    """Nested lists from JSON → the tuples ``random.setstate`` expects."""
    return tuple(python_state(x) for x in value) if isinstance(value, list) else value


def save_checkpoint(
    directory: Path,
    progress: Progress,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    fingerprint: str,
    rank_states: list[torch.Tensor] | None = None,
    scaler: dict | None = None,
    average: WeightAverage | None = None,
) -> None:
    """Write ``directory/checkpoint.safetensors`` atomically (temporary file, fsync, rename).

    ``rank_states``: in a distributed run, every rank's torch generator state (``rng.rank.<r>``)."""
    tensors = {f"model.{name}": t for name, t in state_tensors(model).items()}
    optim_tensors, optim_meta = _split_optimizer(optimizer.state_dict())
    rng_tensors = _rng_tensors()
    for rank, state in enumerate(rank_states or ()):
        rng_tensors[f"rng.rank.{rank}"] = state
    schedule = {k: v for k, v in scheduler.state_dict().items() if k != "lr_lambdas"}
    state = dataclasses.asdict(progress)
    state["order_rng"] = _jsonable(progress.order_rng)
    meta = {"format": FORMAT, "progress": state, "optimizer": optim_meta, "scheduler": schedule, "fingerprint": fingerprint, "scaler": scaler}
    if average is not None:
        tensors.update({f"average.{name}": t.detach().cpu().contiguous() for name, t in average.shadow.items()})
        meta["average_updates"] = average.updates
    payload = save_safetensors({**tensors, **optim_tensors, **rng_tensors}, metadata={"seqlab": json.dumps(meta)})
    write_atomic(directory / CHECKPOINT, payload)


def read_checkpoint(directory: str | Path) -> Checkpoint:
    """The checkpoint of a model directory; a missing, torn or foreign file is a ``ModelError`` naming it."""
    path = Path(directory) / CHECKPOINT
    if not path.is_file():
        raise ModelError(f"{path}: no checkpoint (was this directory written by seqlab train?)")
    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as err:
        raise ModelError(f"{path}: not a valid checkpoint ({str(err).splitlines()[0][:120]})") from None
    try:
        meta = json.loads(header["seqlab"])
        if meta.get("format") != FORMAT:
            raise ModelError(f"{path}: checkpoint format {meta.get('format')!r}, this seqlab reads {FORMAT}")
        progress = _progress(meta["progress"])
        model = {name[len("model.") :]: t for name, t in tensors.items() if name.startswith("model.")}
        optim = _join_optimizer({n: t for n, t in tensors.items() if n.startswith("optim.")}, meta["optimizer"])
        rng = {n: t for n, t in tensors.items() if n.startswith("rng.")}
        if "rng.torch" not in rng:
            raise KeyError("rng.torch")
        scaler = meta.get("scaler")
        if not isinstance(meta["fingerprint"], str) or not (scaler is None or isinstance(scaler, dict)):
            raise ValueError("fingerprint or scaler")
        average = {name[len("average.") :]: t for name, t in tensors.items() if name.startswith("average.")}
        updates = meta.get("average_updates", 0)
        if not isinstance(updates, int) or isinstance(updates, bool) or updates < 0:
            raise ValueError("average_updates")
        checkpoint = Checkpoint(path, progress, model, optim, _scheduler(meta["scheduler"]), meta["fingerprint"], scaler, rng, average, updates)
    except ModelError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as err:
        raise ModelError(f"{path}: not a seqlab checkpoint (missing or malformed {str(err)[:80]})") from None
    return checkpoint


_NUMBER = (int, float)
_PROGRESS_TYPES: dict[str, tuple[type, ...]] = {
    "epoch": (int,), "step": (int,), "seen": (int,), "skipped": (int,), "best_epoch": (int,), "stale": (int,),
    "loss_sum": _NUMBER, "largest": _NUMBER, "epoch_seconds": _NUMBER, "seconds": _NUMBER,
    "best_score": (*_NUMBER, type(None)), "stopped": (bool,), "best_dev": (dict, type(None)), "coverage": (dict, type(None)),
}


def _progress(data: Any) -> Progress:
    """``Progress`` from the checkpoint's JSON, every field of its type (a crafted value is a ``ValueError``)."""
    if not isinstance(data, dict):
        raise TypeError("progress")
    values = {}
    for name, types in _PROGRESS_TYPES.items():
        value = data.get(name, getattr(Progress(), name))
        if not isinstance(value, types) or (isinstance(value, bool) and bool not in types) or (isinstance(value, int) and not isinstance(value, bool) and value < 0):
            raise ValueError(f"progress.{name}")
        values[name] = value
    order = python_state(data.get("order_rng"))
    random.Random().setstate(order)  # a state random accepts, or a ValueError/TypeError
    return Progress(order_rng=order, **values)


def _scheduler(data: Any) -> dict:
    """The lr schedule's state: only the keys ``LambdaLR`` writes, with their types (its ``load_state_dict``
    copies every key onto the scheduler object)."""
    numbers = lambda v: isinstance(v, list) and all(isinstance(x, _NUMBER) and not isinstance(x, bool) for x in v)  # noqa: E731
    rules = {"last_epoch": lambda v: isinstance(v, int) and not isinstance(v, bool), "_step_count": lambda v: isinstance(v, int) and not isinstance(v, bool),
             "base_lrs": numbers, "_last_lr": numbers}
    allowed = {"verbose", "_get_lr_called_within_step", "_is_initial", *rules}
    if not isinstance(data, dict) or not set(data) <= allowed or not all(rule(data[k]) for k, rule in rules.items() if k in data):
        raise ValueError("scheduler")
    return dict(data)
