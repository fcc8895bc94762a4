"""Multi-process training with ``torch.distributed``, started by torchrun.

    torchrun --nproc_per_node=2 -m seqlab train --config X.yaml                    # one machine
    torchrun --nnodes=2 --node_rank=R --master_addr=HOST --master_port=29500 \\
             --nproc_per_node=4 -m seqlab train --config X.yaml                    # several machines

torchrun sets ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK`` and the rendezvous address; seqlab joins the
process group (gloo on CPU, nccl on CUDA) and wraps the model in ``DistributedDataParallel``. A plain
``seqlab train`` (no ``WORLD_SIZE`` above 1) stays single-process and never imports a backend.

Every rank draws the same global length-bucketed batches of ``train.batch_size`` sentences (the same
seeded generator) and takes its share of each: rank r gets sentences r, r+N, r+2N, … of the batch.
Each rank's objective (``seqlab.nn.model.Objective``, which divides by the global batch's sentence count
for ``loss_reduction: mean``) is scaled by ``gradient_weight`` so that DDP's gradient average equals the
single-process gradient of the whole batch: ``train.batch_size`` means the same global batch whatever
the number of processes.
Only rank 0 reads and writes the model directory's files, evaluates on dev/test and decides early
stopping; the decision is broadcast.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world: int = 1
    local_rank: int = 0

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


SINGLE = Context()


def from_environment() -> Context:
    """The torchrun context from the environment (``SINGLE`` when not launched by torchrun)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return SINGLE
    return Context(int(os.environ.get("RANK", "0")), world, int(os.environ.get("LOCAL_RANK", "0")))


def join(context: Context, device: torch.device) -> None:
    """Join the process group torchrun set up (gloo on CPU, nccl on CUDA)."""
    if context.active and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")


def leave(context: Context) -> None:
    if context.active and dist.is_initialized():
        dist.destroy_process_group()


def share(index: list[int], context: Context) -> tuple[list[int], float]:
    """This rank's sentences of a global batch, and the weight of its loss.

    A rank left without a sentence (a batch smaller than the world) runs the batch's first sentence with
    weight 0, so that every rank still takes part in the gradient all-reduce.
    """
    if not context.active:
        return index, 1.0
    mine = index[context.rank :: context.world]
    if not mine:
        return index[:1], 0.0
    return mine, 1.0


def gradient_weight(weight: float, context: Context) -> float:
    """Factor on this rank's objective so that DDP's average of the N ranks' gradients is the gradient of
    the whole batch's objective: ``N`` (``weight`` 0 for a rank that only took part, see ``share``)."""
    return weight * context.world


def wrap(module: nn.Module, context: Context, device: torch.device) -> nn.Module:
    """``module`` (the training objective) wrapped in ``DistributedDataParallel`` when distributed."""
    if not context.active:
        return module
    ids = [device.index] if device.type == "cuda" else None
    # A rank whose share of a batch holds only one-token sentences never touches the CRF's transition
    # scores (CoNLL-2003 has many such sentences): DDP must look for unused parameters every step.
    return nn.parallel.DistributedDataParallel(module, device_ids=ids, find_unused_parameters=True)


def sum_all(values: list[float], context: Context) -> list[float]:
    """Element-wise sum over ranks."""
    if not context.active:
        return values
    tensor = torch.tensor(values, dtype=torch.float64)
    dist.all_reduce(tensor)
    return tensor.tolist()


def any_rank(flag: bool, context: Context) -> bool:
    """True on every rank when it is true on any (e.g. a stop request that reached one process first)."""
    if not context.active:
        return flag
    tensor = torch.tensor([int(flag)])
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


def from_main(values: list[float], context: Context) -> list[float]:
    """Rank 0's ``values`` on every rank (tensor collectives only: nothing is pickled)."""
    if not context.active:
        return values
    tensor = torch.tensor(values, dtype=torch.float64)
    dist.broadcast(tensor, src=0)
    return tensor.tolist()


def gather_rng(context: Context) -> list[torch.Tensor]:
    """Every rank's torch generator state (rank 0 stores them all in the checkpoint)."""
    state = torch.get_rng_state()
    if not context.active:
        return [state]
    states = [torch.empty_like(state) for _ in range(context.world)]
    dist.all_gather(states, state)
    return states
