"""``seqlab export --format torchscript``: one TorchScript program from ids to tag ids.

The embedding → encoder → projection part is traced (it holds no data-dependent Python control flow
once a batch is given: packing is recorded as an op on ``lengths``; a model trained with the scratch
cells is exported through the fused modules, which hold the same parameters); the decode is scripted
(a loop over time that works for any length).
"""
from __future__ import annotations

import warnings
from pathlib import Path

import torch

from seqlab.errors import ModelError
from seqlab.export.program import (
    Decoder,
    Emissions,
    Program,
    example_inputs,
    graph_network,
)
from seqlab.tagger.inference import Tagger


def build(tagger: Tagger) -> torch.jit.ScriptModule:
    """The tagger as one TorchScript module (CPU, eval mode)."""
    model = graph_network(tagger, "fused")
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python values: ``seqlab.export.check`` compares the result
        traced = torch.jit.trace(Emissions(model), example_inputs(tagger), check_trace=False)
    return torch.jit.script(Program(traced, Decoder(model.head, "torch")))


def write(tagger: Tagger, out: Path) -> None:
    build(tagger).save(str(out))


def load(path: Path) -> torch.jit.ScriptModule:
    try:
        return torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError, OSError) as err:
        raise ModelError(f"{path}: not a TorchScript file written by seqlab export ({str(err).splitlines()[0][:120]})") from None
